"""Fit the behaviour constants to what was observed after the 2020 census.

    python -m sim calibrate                       # fit at scale 0.05, seed 42, write conf/behaviour/fitted.yaml
    python -m sim calibrate --scale 0.02 --dry-run

Fitted (`FITTED`, `behaviour.fitted`): the utility constants of county seats (and of a county's seat over
a county-level city's), Taiyuan's districts, out of province and the villages inside city districts, the
inertia of staying and its extra in a town of the home county, the cost of returning home and the
intercept of the monthly hukou-settlement hazard.
Targets (`residuals`, each over its tolerance; sim/world/data/): year-end resident urbanization rates of
the calibration years (2021-2023: 63.42, 63.96, 64.97), the resident population, the hukou rate continuing
its 2017-2020 trend (no hukou rate was published after 2020, so that target is an extrapolation, weighted
lower), migrants leaving their place at about 20% a year (average residence duration about 5 years),
returns home at about 2% of migrants a year, the counties', the county-level cities' and the district
villages' census-decade pace, and the cities' populations and resident rates where published. Least
squares (scipy) with common random numbers, so the objective is a smooth function of the parameters at a
fixed seed.

The `fit:` record written with the fitted values says what the fit was made from (`made_from`: code,
data, targets, packages; sim/runs/provenance.py): runs with a fit made from other inputs are warned,
or refused with run.strict_provenance=true.
"""

import argparse
import logging
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import least_squares

from sim.config import CONF_DIR, compose, to_dict
from sim.config.parameters import declarations
from sim.world.geography import COUNTY, COUNTY_LEVEL_CITY, DISTRICT, province_geography
from sim.world.inputs import load_city_series, load_province_series

log = logging.getLogger("sim.analysis.calibrate")
FITTED = (
    "asc_county_seat",
    "asc_out_of_province",
    "settle_intercept",
    "asc_stay",
    "return_cost",
    "stay_home_county_town",
    "asc_district_village",
    "asc_taiyuan_extra",
    "asc_county_town_extra",
)
YEARS = (2021, 2022, 2023)
DIFF_STEP = 0.02  # finite-difference step of the fit, relative to max(1, |constant|)
RESIDENT_TOL_PP = 0.1  # residual scale: 0.1 pp of resident rate
HUKOU_TOL_PP = 0.5  # 0.5 pp of the extrapolated hukou rate
POPULATION_TOL = 50_000  # persons
LEAVING_TOL_PCT = 5.0  # percent per year of the migrant leaving rate (weak evidence: a stock's mean duration)
# average residence duration of migrants in their current city is about 5 years (刘涛, 彭荣熙 & 曹广忠 2021,
# docs/BEHAVIOUR-EVIDENCE.md 1.5): about 20% of migrants leave their place each year
MIGRANT_LEAVING_RATE_PCT = 20.0
# returns home: 22.3% of migrants returned over 1998-2015 (Bai, Wang & Zhang 2018), about 1.5% a year; the
# evidence table of docs/BEHAVIOUR-EVIDENCE.md gives 1-4% a year: people moving back to their home village
# (or province) per year, over the migrants living away from their hukou place (in Shanxi and out of it)
RETURN_RATE_PCT = 2.0
RETURN_TOL_PCT = 1.0
# The census decade's spatial pattern at the pace of the calibration years (an assumption): the counties and
# the county-level cities urbanize at their decade's speeds relative to the province (every county gained
# urban share 2010-2020), and the villages inside city districts lose people at the decade's speed, each
# scaled by the same pace (the province's gain in the calibration years over its decade average)
COUNTY_GAIN_TOL_PP = 0.3  # pp a year
DISTRICT_VILLAGE_TOL_PCT = 1.0  # percent a year
# the cities' resident populations (the province's sampling-survey lists): one residual a year, the root mean
# square of the cities' errors where published
CITY_POPULATION_TOL = 30_000  # persons: about 1% of a middle city (a 1 per mille sample survey)
# the cities' resident urbanization rates where published (city bulletins): one residual a year, the root
# mean square of the cities' errors; a city's sample is about an eleventh of the province's, so its error is
# about sqrt(11) times the province's (RESIDENT_TOL_PP): 0.33 pp
CITY_RATE_TOL_PP = 0.33


def _census_decade() -> dict:
    """2010-2020 census yearly changes over the units with 2010 values: the urban share of the province and of
    the county areas (pp a year), and the rural residents of the city districts (percent a year, log)."""
    geo = province_geography()
    pop10, urban10 = np.asarray(geo.unit_pop_2010, float), np.asarray(geo.unit_urban_pop_2010, float)
    pop20, urban20 = np.asarray(geo.unit_pop_2020, float), np.asarray(geo.unit_urban_pop_2020, float)
    known = np.isfinite(pop10)
    district = np.asarray(geo.unit_type) == DISTRICT
    county = np.asarray(geo.unit_type) == COUNTY

    def gain(units):
        return 100 * (urban20[units].sum() / pop20[units].sum() - urban10[units].sum() / pop10[units].sum()) / 10

    rural_d = [(p - u)[known & district].sum() for p, u in ((pop10, urban10), (pop20, urban20))]
    return {
        "province_gain_pp_per_year": float(gain(known)),
        "county_area_gain_pp_per_year": float(gain(known & ~district)),
        "county_gain_pp_per_year": float(gain(known & county)),
        "county_city_gain_pp_per_year": float(gain(known & ~district & ~county)),
        "district_village_change_pct_per_year": float(100 * np.log(rural_d[1] / rural_d[0]) / 10),
    }


def targets(years=YEARS) -> dict:
    prov = load_province_series().set_index("year")
    hukou = prov["hukou_urbanization_rate_pct"].dropna()
    hukou = hukou[hukou.index >= 2017]
    slope, intercept = np.polyfit(hukou.index.values.astype(float), hukou.values, 1)
    decade = _census_decade()
    rate = prov["urbanization_rate_pct"]
    pace = (rate.loc[max(years)] - rate.loc[min(years) - 1]) / len(years) / decade["province_gain_pp_per_year"]
    return {
        "census_decade": decade,
        "pace_of_the_decade": float(pace),
        "county_gain_pp_per_year": float(pace * decade["county_gain_pp_per_year"]),
        "county_city_gain_pp_per_year": float(pace * decade["county_city_gain_pp_per_year"]),
        "district_village_change_pct_per_year": float(pace * decade["district_village_change_pct_per_year"]),
        "years": tuple(years),
        "resident_rate": {y: float(prov.loc[y, "urbanization_rate_pct"]) for y in years},
        "population": {y: float(prov.loc[y, "resident_pop_10k"]) * 1e4 for y in years},
        "hukou_rate_trend": {y: float(intercept + slope * y) for y in years},
        "hukou_trend_pp_per_year": float(slope),
        "city_population": _city_populations(years),
        "city_rate": _city_rates(years),
    }


def _city_rates(years) -> dict:
    """Published year-end resident urbanization rates of the cities in `years`, %: {year: {city: rate}}."""
    cities = load_city_series()
    cities = cities[(cities.kind == "year_end") & cities.year.isin(years) & cities.urbanization_rate_pct.notna()]
    return {
        int(y): {c: float(v) for c, v in zip(g.city_en, g.urbanization_rate_pct)} for y, g in cities.groupby("year")
    }


def _city_populations(years) -> dict:
    """Published year-end resident populations of the cities in `years`, persons: {year: {city: people}}."""
    cities = load_city_series()
    cities = cities[(cities.kind == "year_end") & cities.year.isin(years) & cities.resident_pop_10k.notna()]
    return {
        int(y): {c: float(v) * 1e4 for c, v in zip(g.city_en, g.resident_pop_10k)} for y, g in cities.groupby("year")
    }


def target_record(years=YEARS) -> dict:
    """What the fit is made to match: the targets of `years` and the evidence targets with the tolerances
    (its hash is the `targets` version of a fit's provenance, sim.runs.provenance)."""
    return {
        "targets": targets(years),
        "migrant_leaving_rate_pct": MIGRANT_LEAVING_RATE_PCT,
        "return_rate_pct": RETURN_RATE_PCT,
        "tolerances": {
            "resident_pp": RESIDENT_TOL_PP,
            "hukou_pp": HUKOU_TOL_PP,
            "population": POPULATION_TOL,
            "leaving_pct": LEAVING_TOL_PCT,
            "return_pct": RETURN_TOL_PCT,
            "county_gain_pp": COUNTY_GAIN_TOL_PP,
            "city_rate_pp": CITY_RATE_TOL_PP,
            "district_village_pct": DISTRICT_VILLAGE_TOL_PCT,
        },
    }


def simulate(params: np.ndarray, scale: float, seed: int, overrides=(), end_year: int = max(YEARS)) -> pd.DataFrame:
    from sim.model import ShanxiModel

    ov = [f"population.scale={scale}", f"seed={seed}", f"run.end_year={end_year}", *overrides]
    ov += [f"behaviour.fitted.{k}={float(v)!r}" for k, v in zip(FITTED, params)]
    m = ShanxiModel(config=to_dict(compose(ov)))
    m.run()
    df = pd.DataFrame(m.indicator_rows())
    out = df[df.level == "province"].pivot(index="year", columns="indicator", values="value")
    cities = df[(df.level == "city") & (df.indicator == "population")].pivot(index="year", columns="region")["value"]
    out = out.join(cities.add_prefix("population:"))
    rates = df[(df.level == "city") & (df.indicator == "resident_urbanization_rate_pct")]
    out = out.join(rates.pivot(index="year", columns="region")["value"].add_prefix("rate:"))
    for name, types in (("county", (COUNTY,)), ("county_city", (COUNTY_LEVEL_CITY,)), ("district", (DISTRICT,))):
        units = [n for n, t in zip(m.geo.unit_name_en, m.geo.unit_type) if t in types]
        c = df[(df.level == "county") & df.region.isin(units)].groupby(["year", "indicator"]).value.sum().unstack()
        out[f"{name}_rate_pct"] = 100 * c["urban_population"] / c["population"]
        out[f"{name}_rural_people"] = c["population"] - c["urban_population"]
    return out


def district_village_change_pct(sim: pd.DataFrame, year: int) -> float:
    """Yearly change of the people living in the villages of city districts, percent (log)."""
    return 100.0 * float(np.log(sim.loc[year, "district_rural_people"] / sim.loc[year - 1, "district_rural_people"]))


def return_rate_pct(sim: pd.DataFrame, year: int) -> float:
    """People moving back home in the year per 100 migrants (in Shanxi away from their hukou place, or out
    of province)."""
    return 100.0 * sim.loc[year, "returned_home"] / (sim.loc[year, "migrants"] + sim.loc[year, "out_of_province"])


def residuals(sim: pd.DataFrame, tg: dict) -> np.ndarray:
    years = tg["years"]
    r = [(sim.loc[y, "resident_urbanization_rate_pct"] - tg["resident_rate"][y]) / RESIDENT_TOL_PP for y in years]
    r += [(sim.loc[y, "hukou_urbanization_rate_pct"] - tg["hukou_rate_trend"][y]) / HUKOU_TOL_PP for y in years]
    r += [(sim.loc[y, "population"] - tg["population"][y]) / POPULATION_TOL for y in years]
    r += [(sim.loc[y, "migrant_leaving_rate_pct"] - MIGRANT_LEAVING_RATE_PCT) / LEAVING_TOL_PCT for y in years]
    r += [(return_rate_pct(sim, y) - RETURN_RATE_PCT) / RETURN_TOL_PCT for y in years]
    for kind in ("county", "county_city"):
        rate, target = sim[f"{kind}_rate_pct"], tg[f"{kind}_gain_pp_per_year"]
        r += [((rate.loc[y] - rate.loc[y - 1]) - target) / COUNTY_GAIN_TOL_PP for y in years]
    villages = tg["district_village_change_pct_per_year"]
    r += [(district_village_change_pct(sim, y) - villages) / DISTRICT_VILLAGE_TOL_PCT for y in years]
    r += [city_population_rms(sim, tg, y) / CITY_POPULATION_TOL for y in years if y in tg["city_population"]]
    r += [city_rate_rms(sim, tg, y) / CITY_RATE_TOL_PP for y in years if y in tg.get("city_rate", {})]
    return np.asarray(r)


def residual_names(tg: dict) -> list[str]:
    """What each entry of `residuals` measures, in its order (e.g. 'resident rate 2021')."""
    years = tg["years"]
    names = []
    for what in (
        "resident rate",
        "hukou rate",
        "population",
        "migrants leaving",
        "returns",
        "county gain",
        "county-level-city gain",
        "district villages",
    ):
        names += [f"{what} {y}" for y in years]
    names += [f"city populations {y}" for y in years if y in tg["city_population"]]
    return names + [f"city rates {y}" for y in years if y in tg.get("city_rate", {})]


def city_rate_rms(sim: pd.DataFrame, tg: dict, year: int) -> float:
    """Root mean square of the cities' resident-rate errors in `year` where published, pp."""
    errors = [sim.loc[year, f"rate:{c}"] - v for c, v in tg["city_rate"][year].items()]
    return float(np.sqrt(np.mean(np.square(errors))))


def city_population_rms(sim: pd.DataFrame, tg: dict, year: int) -> float:
    """Root mean square of the cities' resident-population errors in `year` where published, persons."""
    errors = [sim.loc[year, f"population:{c}"] - v for c, v in tg["city_population"][year].items()]
    return float(np.sqrt(np.mean(np.square(errors))))


def fit(scale: float, seed: int, x0: np.ndarray, years=YEARS, max_evaluations: int = 25) -> dict:
    """Least-squares fit of `FITTED` to the targets of `years` (a calibration window)."""
    tg = targets(years)
    end = max(years)
    cache = {}

    def fun(x):
        key = tuple(np.round(x, 10))
        if key not in cache:
            t = time.perf_counter()
            cache[key] = residuals(simulate(x, scale, seed, end_year=end), tg)
            log.info("x=%s  |r|=%.3f  (%.1f s)", np.round(x, 4), np.linalg.norm(cache[key]), time.perf_counter() - t)
        return cache[key]

    def jac(x):
        # forward differences with a step of 2% of the constant, at least 0.02 utility units: scipy's relative
        # step is zero for a constant at 0, and a tiny step moves no household's choice at a fixed seed
        f0 = fun(x)
        columns = []
        for i in range(len(x)):
            h = DIFF_STEP * max(1.0, abs(float(x[i])))
            xi = np.array(x, float)
            xi[i] += h
            columns.append((fun(xi) - f0) / h)
        return np.column_stack(columns)

    res = least_squares(fun, x0, jac=jac, xtol=1e-3, ftol=1e-3, max_nfev=max_evaluations)
    sim = simulate(res.x, scale, seed, end_year=end)
    resid = residuals(sim, tg)
    dof = max(1, len(resid) - len(res.x))
    s2 = float(resid @ resid) / dof
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((len(res.x), len(res.x)), np.nan)
    errors = {y: round(float(sim.loc[y, "resident_urbanization_rate_pct"] - tg["resident_rate"][y]), 3) for y in years}
    return {"x": res.x, "cov": cov, "errors_pp": errors, "sim": sim, "targets": tg, "evaluations": len(cache)}


def write_fitted(path: Path, result: dict, scale: float, seed: int, command: str) -> None:
    """Replace the `fitted:` block (and `fit:`) at the end of the behaviour config, keeping the rest.

    `fit.made_from` records the code, data, targets and packages the fit was made from
    (sim.runs.provenance): a run with a fit whose record does not match them is warned (or refused)."""
    from sim.runs.provenance import made_from

    text = path.read_text(encoding="utf-8")
    head = re.split(r"^fitted:\s*$", text, flags=re.M)[0]
    sim, tg = result["sim"], result["targets"]
    years = tg["years"]
    fitted = {k: round(float(v), 4) for k, v in zip(FITTED, result["x"])}
    fit_block = {
        "command": command,
        "scale": scale,
        "seed": seed,
        "date": time.strftime("%Y-%m-%d"),
        "evaluations": result["evaluations"],
        "years": [int(y) for y in years],
        "resident_rate_error_pp": {int(y): e for y, e in result["errors_pp"].items()},
        "resident_rate_mae_pp": round(float(np.mean(np.abs(list(result["errors_pp"].values())))), 3),
        "hukou_rate_sim_pct": {int(y): round(float(sim.loc[y, "hukou_urbanization_rate_pct"]), 2) for y in years},
        "hukou_rate_trend_target_pct": {int(y): round(v, 2) for y, v in tg["hukou_rate_trend"].items()},
        "population_error": {int(y): round(float(sim.loc[y, "population"] - tg["population"][y])) for y in years},
        "migrant_leaving_rate_pct": {int(y): round(float(sim.loc[y, "migrant_leaving_rate_pct"]), 2) for y in years},
        "return_rate_pct": {int(y): round(float(return_rate_pct(sim, y)), 2) for y in years},
        **{
            f"{kind}_gain_pp": {
                int(y): round(float(sim.loc[y, f"{kind}_rate_pct"] - sim.loc[y - 1, f"{kind}_rate_pct"]), 2)
                for y in years
            }
            for kind in ("county", "county_city")
        },
        "county_gain_target_pp": round(tg["county_gain_pp_per_year"], 2),
        "county_city_gain_target_pp": round(tg["county_city_gain_pp_per_year"], 2),
        "district_village_change_pct": {int(y): round(district_village_change_pct(sim, y), 2) for y in years},
        "district_village_change_target_pct": round(tg["district_village_change_pct_per_year"], 2),
        "city_population_rms_error": {int(y): round(city_population_rms(sim, tg, y)) for y in tg["city_population"]},
        "city_rate_rms_error_pp": {int(y): round(city_rate_rms(sim, tg, y), 2) for y in tg["city_rate"]},
        "names": list(FITTED),
        "covariance": [[round(float(c), 6) for c in row] for row in result["cov"]],
        "made_from": made_from(years),
    }
    declared = declarations()
    notes = {k: declared[f"behaviour.fitted.{k}"]["description"] + " (fitted)" for k in fitted}
    body = "fitted:\n" + "".join(f"  {k}: {v}   # {notes[k]}\n" for k, v in fitted.items())
    body += (
        "# written by sim.analysis.calibrate: the fit's error, its command, the parameters' covariance and\n"
        "# made_from: the code (model sources without this file), data, targets and packages it was made from\n"
    )
    body += yaml.safe_dump({"fit": fit_block}, sort_keys=False, allow_unicode=True, default_flow_style=None)
    path.write_text(head + body, encoding="utf-8")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--years", default=",".join(map(str, YEARS)), help="calibration window, e.g. 2021,2022")
    ap.add_argument("--dry-run", action="store_true", help="report the fit without writing conf/behaviour/fitted.yaml")
    ap.add_argument(
        "--record-only",
        action="store_true",
        help="no search: keep the current values and record their errors, covariance and provenance",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = to_dict(compose([]))
    x0 = np.array([cfg["behaviour"]["fitted"][k] for k in FITTED], float)
    years = tuple(int(y) for y in args.years.split(","))
    # least_squares stops after its first evaluation (and the Jacobian there) when allowed just one
    result = fit(args.scale, args.seed, x0, years, max_evaluations=1 if args.record_only else 25)
    if args.record_only:
        assert np.array_equal(result["x"], x0), "--record-only must not move the values"
    log.info("fitted %s", dict(zip(FITTED, np.round(result["x"], 4))))
    log.info("resident-rate errors (pp): %s", result["errors_pp"])
    if not args.dry_run:
        command = f"python -m sim calibrate --scale {args.scale} --seed {args.seed} --years {args.years}"
        if args.record_only:  # the values come from the last search: keep its command and evaluation count
            last = yaml.safe_load((CONF_DIR / "behaviour" / "fitted.yaml").read_text(encoding="utf-8"))["fit"]
            command, result["evaluations"] = last["command"], last["evaluations"]
        write_fitted(CONF_DIR / "behaviour" / "fitted.yaml", result, args.scale, args.seed, command)
        made = yaml.safe_load((CONF_DIR / "behaviour" / "fitted.yaml").read_text(encoding="utf-8"))["fit"]["made_from"]
        log.info("wrote %s (made from %s)", CONF_DIR / "behaviour" / "fitted.yaml", made)


if __name__ == "__main__":
    main()
