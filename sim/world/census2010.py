"""The sixth census (1 November 2010) as a starting state, for the decade hindcast (sim.analysis.hindcast).

Province totals: `data/census_2010.yaml` (each value's source or the word ASSUMPTION there). Units: the
2010 county tabulation (`Geography.unit_pop_2010`, `unit_urban_pop_2010`); the units it has no match for
(Datong's districts, redrawn in 2018) share what their city's 2010 census total leaves over the matched
units, in proportion to their 2020 population (urban population likewise). The cities' 2010 totals
(data/census2020/cities_census2020.csv) sum to the province's 35,712,101 residents.
"""

from importlib import resources

import numpy as np
import pandas as pd
import yaml

from sim.world.geography import Geography

CENSUS_YEARS = (2020, 2010)  # the starting states a run can take (run.start_year)


def load_census_2010() -> dict:
    with resources.files("sim.world").joinpath("data/census_2010.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def city_counts_2010() -> pd.DataFrame:
    """The cities' 2010 census population and urban population (persons), by English name."""
    with resources.files("sim.world").joinpath("data/census2020/cities_census2020.csv").open(encoding="utf-8") as f:
        return pd.read_csv(f).set_index("city_en")[["pop_2010", "urban_pop_2010"]]


def unit_counts_2010(geo: Geography) -> tuple[np.ndarray, np.ndarray]:
    """Population and urban population of every unit at the 2010 census (persons, float64)."""
    pop = np.asarray(geo.unit_pop_2010, float).copy()
    urban = np.asarray(geo.unit_urban_pop_2010, float).copy()
    cities = city_counts_2010()
    for c, name in enumerate(geo.city_name_en):
        in_city = np.asarray(geo.unit_city) == c
        missing = in_city & ~np.isfinite(pop)
        if not missing.any():
            continue
        left_pop = cities.loc[name, "pop_2010"] - pop[in_city & ~missing].sum()
        left_urban = cities.loc[name, "urban_pop_2010"] - urban[in_city & ~missing].sum()
        if left_pop <= 0 or left_urban < 0 or left_urban > left_pop:
            raise ValueError(
                f"2010 census: {name}'s units without 2010 values get {left_pop:.0f} people, {left_urban:.0f} "
                "urban (the city total less its matched units); expected 0 <= urban <= people, people > 0"
            )
        w_pop = np.asarray(geo.unit_pop_2020, float)[missing]
        w_urban = np.asarray(geo.unit_urban_pop_2020, float)[missing]
        pop[missing] = left_pop * w_pop / w_pop.sum()
        urban[missing] = left_urban * w_urban / w_urban.sum()
    return pop, urban
