"""How well the synthetic population matches the census, control by control (as PopulationSim reports):
for each control and unit type, the census total, the synthetic total and the %RMSE over the units
(root mean square of unit errors over the mean census value, in percent).

Controls, per county-level unit (census county tabulation, `data/census2020/`): resident population,
urban population, share aged 0-14 and share aged 60+. The synthesis draws member ages from the
province's age mix, so the age controls show how far each unit's own age structure is from it.
"""

from importlib import resources

import numpy as np
import pandas as pd

from sim.places import rural_place, urban_place

UNIT_TYPES = ("district", "county-level city", "county")


def census_profile(geo) -> pd.DataFrame:
    """Each unit's census age shares (percent), in the geography's unit order (NaN where not published)."""
    with (
        resources.files("sim.world")
        .joinpath("data/census2020/counties_census2020_profile.csv")
        .open(encoding="utf-8") as f
    ):
        prof = pd.read_csv(f)
    prof["city"] = prof["city_zh"].str.removesuffix("市")
    city_of = [geo.city_name_zh[c].removesuffix("市") for c in geo.unit_city]
    key = pd.MultiIndex.from_arrays([geo.unit_name_zh, city_of])
    prof = prof.set_index(["county_zh", "city"])
    prof = prof[~prof.index.duplicated()]
    return prof.reindex(key)[["share_0_14_pct", "share_60plus_pct_DERIVED"]].reset_index(drop=True)


def fit_report(geo, counts, weight: float) -> pd.DataFrame:
    """Rows: control, unit_type, units, census, synthetic (totals or population-weighted means), pct_rmse."""
    units = np.arange(len(geo.unit_name_en))
    people = counts.people_by_home_place.sum(axis=0).astype(float) * weight
    ages = counts.age_groups.astype(float) * weight
    pop = people[urban_place(units)] + people[rural_place(units)]
    age = ages[urban_place(units)] + ages[rural_place(units)]
    profile = census_profile(geo)
    controls = {
        "population": (np.asarray(geo.unit_pop_2020, float), pop, "total"),
        "urban_population": (np.asarray(geo.unit_urban_pop_2020, float), people[urban_place(units)], "total"),
        "share_aged_0_14_pct": (profile["share_0_14_pct"].to_numpy(float), 100 * age[:, 0] / pop, "mean"),
        "share_aged_60plus_pct": (profile["share_60plus_pct_DERIVED"].to_numpy(float), 100 * age[:, 2] / pop, "mean"),
    }
    rows = []
    unit_type = np.asarray(geo.unit_type)
    for control, (census, synthetic, how) in controls.items():
        for t, name in [(None, "all"), *enumerate(UNIT_TYPES)]:
            m = np.isfinite(census) & ((unit_type == t) if t is not None else True)
            if not m.any():
                continue
            c, s = census[m], synthetic[m]
            if how == "total":
                census_value, synthetic_value = c.sum(), s.sum()
            else:
                w = np.asarray(geo.unit_pop_2020, float)[m]
                census_value, synthetic_value = np.average(c, weights=w), np.average(s, weights=w)
            rmse = float(np.sqrt(np.mean((s - c) ** 2)) / np.mean(c) * 100)
            rows.append(
                {
                    "control": control,
                    "unit_type": name,
                    "units": int(m.sum()),
                    "census": round(float(census_value), 3),
                    "synthetic": round(float(synthetic_value), 3),
                    "pct_rmse": round(rmse, 3),
                }
            )
    return pd.DataFrame(rows)
