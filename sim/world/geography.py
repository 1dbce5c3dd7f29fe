"""Shanxi's geography for the model: county-level units, cities, places, distances, metro.

``load_geography()`` reads the validated data (sim/world/inputs.py) and the rules in
``sim/world/data/assumptions_geography.yaml`` and returns a frozen :class:`Geography` of numpy
arrays. Nothing numeric about the rules lives in this file.

Indexing
--------
* unit u = 0..116: the county-level units in the order of shanxi_counties.csv.
* city c = 0..10: the prefecture-level cities in order of first appearance in that file.
* place p = 0..234: p = 2u is the urban part of unit u (the district core or the county
  seat), p = 2u + 1 its rural part, p = OUT_OF_PROVINCE = 234 everywhere outside Shanxi.

Urban shares (census, 1 Nov 2020)
---------------------------------
Every unit's urban population and share are the census county tabulation's (shanxi_counties.csv,
built from census2020/counties_census2020_urban.csv with the 4 statistical zones folded into
their host units); a city's rate is the sum of its units. Nothing is fitted and no later
(2021-2023) observation enters the starting state. The province urban total is the
tabulation's sum, 21,831,492, checked against the bulletin's 21,831,494 within the margin in
the YAML (census_2020.province_urban_tabulation_tolerance; SOURCES.md explains the 2 persons).
The 2010 census counts (unit_pop_2010, unit_urban_pop_2010) are inputs for fitting a
reclassification rate, NaN where the 2010 tabulation has no matching unit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.places import COUNTY_SEAT, N_UNITS, OUTSIDE, PREFECTURE_CORE, TAIYUAN_CORE, VILLAGE, rural_place, urban_place
from sim.world.inputs import (
    GEOGRAPHY_ASSUMPTIONS_FILE,
    UNIT_TYPES,
    DataError,
    load_assumptions,
    load_counties,
    load_province_series,
)

# unit_type codes, in the order of sim.world.inputs.UNIT_TYPES
DISTRICT, COUNTY_LEVEL_CITY, COUNTY = 0, 1, 2
UNIT_TYPE_CODE = {name: code for code, name in enumerate(UNIT_TYPES)}
assert UNIT_TYPE_CODE == {"district": DISTRICT, "county-level city": COUNTY_LEVEL_CITY, "county": COUNTY}


@dataclass(frozen=True)
class Geography:
    """Shanxi's units, cities, places and distances; arrays are read-only.

    Populations in persons (census, 1 Nov 2020 unless named 2010), shares in (0, 1], distances in km,
    coordinates in degrees (GCJ-02).
    """

    # --- county-level units (117, file order)
    unit_name_en: list[str]
    unit_name_zh: list[str]
    unit_city: np.ndarray  # int16 city index
    unit_type: np.ndarray  # int8: 0 district, 1 county-level city, 2 county
    unit_pop_2020: np.ndarray  # int64 persons, census county tabulation (zones folded in)
    unit_urban_pop_2020: np.ndarray  # int64 persons, census county tabulation (zones folded in)
    unit_urban_share_2020: np.ndarray  # float64 unit_urban_pop_2020 / unit_pop_2020
    unit_pop_2010: np.ndarray  # float64 persons, 2010 census tabulation; NaN where it has no matching unit
    unit_urban_pop_2010: np.ndarray  # float64 persons, 2010 census tabulation; NaN likewise
    unit_lat: np.ndarray  # float64 degrees north, seat
    unit_lon: np.ndarray  # float64 degrees east, seat
    unit_cluster: np.ndarray  # int8: -1 none, 0..4 metro cluster
    unit_in_metro: np.ndarray  # bool: in the Taiyuan metropolitan area

    # --- prefecture-level cities (11, order of first appearance)
    city_name_en: list[str]
    city_name_zh: list[str]
    city_pop_2020: np.ndarray  # int64 persons, census (sum of its units)
    city_urban_share_2020: np.ndarray  # float64, urban / total of the sum of its units
    city_core_units: list[np.ndarray]  # int arrays: the city's district units
    city_core_weights: list[np.ndarray]  # float arrays: share of the districts' urban pop, sum 1
    taiyuan_city: int

    # --- places (235)
    place_unit: np.ndarray  # int16, -1 for out of province
    place_is_urban: np.ndarray  # bool; False for out of province (not a Shanxi place)
    place_in_shanxi: np.ndarray  # bool; False only for OUT_OF_PROVINCE
    place_city: np.ndarray  # int16, -1 for out of province

    # --- distances
    unit_distance_km: np.ndarray  # (117, 117) float64 road km between seats
    oop_distance_km: float  # representative road km to any out-of-province place

    # --- Taiyuan metropolitan area
    cluster_names: list[str]  # Chinese names, e.g. '交汾文孝'
    cluster_names_en: list[str]  # English labels
    cluster_units: list[np.ndarray]  # int arrays of unit indices
    nearest_cluster_unit: np.ndarray  # int16 (117,): nearest cluster unit to each origin, -1 beyond the catchment

    @property
    def n_units(self) -> int:
        return len(self.unit_name_en)

    @property
    def n_cities(self) -> int:
        return len(self.city_name_en)

    @property
    def n_places(self) -> int:
        return len(self.place_unit)


@functools.lru_cache(maxsize=1)
def province_geography() -> Geography:
    """The Geography of sim/world/data, built once per process (its arrays are read-only), so that checking a
    config and building its model read the data files once."""
    return load_geography()


def load_geography(data_dir: str | Path | None = None) -> Geography:
    """Build the Geography from the files in data_dir (default sim/world/data)."""
    assumptions = load_assumptions(data_dir)
    counties = load_counties(data_dir)
    province = load_province_series(data_dir)
    if len(counties) != N_UNITS:
        raise DataError(f"{len(counties)} county-level units, geography expects {N_UNITS}")

    city_name_en = list(pd.unique(counties["city_en"]))
    city_name_zh = [counties.loc[counties["city_en"] == c, "city_zh"].iloc[0] for c in city_name_en]
    unit_city = counties["city_en"].map({c: i for i, c in enumerate(city_name_en)}).to_numpy(np.int16)
    unit_type = counties["type"].map(UNIT_TYPE_CODE).to_numpy(np.int8)
    unit_pop = counties["pop_2020_census"].to_numpy(np.int64)
    unit_urban = counties["urban_pop_2020"].to_numpy(np.int64)
    unit_share = unit_urban / unit_pop
    _check_shares(counties["county_en"].tolist(), unit_share)
    n_cities = len(city_name_en)
    city_pop = np.bincount(unit_city, weights=unit_pop, minlength=n_cities).round().astype(np.int64)
    city_urban = np.bincount(unit_city, weights=unit_urban, minlength=n_cities).round().astype(np.int64)
    city_share = city_urban / city_pop

    census = assumptions["census_2020"]
    _check_province_rate(province, census)
    _check_province_urban(int(unit_urban.sum()), census)

    core_units, core_weights = _city_cores(city_name_en, unit_city, unit_type, unit_urban)

    distance = assumptions["distance"]
    lat = counties["lat"].to_numpy(float)
    lon = counties["lon"].to_numpy(float)
    unit_distance = road_distance_km(lat, lon, distance["earth_radius"]["value"], distance["road_circuity"]["value"])

    names_en = counties["county_en"].tolist()
    clusters = assumptions["metro"]["clusters"]
    cluster_units, unit_cluster = _clusters(names_en, clusters)
    in_metro = metro_membership(counties, unit_cluster, assumptions)

    place_unit = np.append(np.repeat(np.arange(N_UNITS), 2), -1).astype(np.int16)
    place_is_urban = np.append(np.tile([True, False], N_UNITS), False)
    place_in_shanxi = place_unit >= 0
    place_city = np.where(place_in_shanxi, unit_city[np.maximum(place_unit, 0)], -1).astype(np.int16)

    return Geography(
        unit_name_en=names_en,
        unit_name_zh=counties["county_zh"].tolist(),
        unit_city=_frozen(unit_city),
        unit_type=_frozen(unit_type),
        unit_pop_2020=_frozen(unit_pop),
        unit_urban_pop_2020=_frozen(unit_urban),
        unit_urban_share_2020=_frozen(unit_share),
        unit_pop_2010=_frozen(counties["pop_2010"].to_numpy(dtype=float, na_value=np.nan)),
        unit_urban_pop_2010=_frozen(counties["urban_pop_2010"].to_numpy(dtype=float, na_value=np.nan)),
        unit_lat=_frozen(lat),
        unit_lon=_frozen(lon),
        unit_cluster=_frozen(unit_cluster),
        unit_in_metro=_frozen(in_metro),
        city_name_en=city_name_en,
        city_name_zh=city_name_zh,
        city_pop_2020=_frozen(city_pop),
        city_urban_share_2020=_frozen(city_share),
        city_core_units=[_frozen(u) for u in core_units],
        city_core_weights=[_frozen(w) for w in core_weights],
        taiyuan_city=city_name_en.index("Taiyuan"),
        place_unit=_frozen(place_unit),
        place_is_urban=_frozen(place_is_urban),
        place_in_shanxi=_frozen(place_in_shanxi),
        place_city=_frozen(place_city),
        unit_distance_km=_frozen(unit_distance),
        oop_distance_km=float(distance["out_of_province"]["value"]),
        cluster_names=[cl["name_zh"] for cl in clusters],
        cluster_names_en=[cl["name_en"] for cl in clusters],
        cluster_units=[_frozen(u) for u in cluster_units],
        nearest_cluster_unit=_frozen(
            nearest_member(
                unit_distance, np.concatenate(cluster_units), assumptions["metro"]["cluster_catchment_km"]["value"]
            )
        ),
    )


def _city_cores(city_name_en, unit_city, unit_type, unit_urban_pop) -> tuple[list, list]:
    """Each city's district units (its urban core) and their weights by urban population."""
    core_units, core_weights = [], []
    for c in range(len(city_name_en)):
        units = np.flatnonzero((unit_city == c) & (unit_type == DISTRICT))
        if len(units) == 0:
            raise DataError(f"city {city_name_en[c]} has no district: no urban core")
        urban = unit_urban_pop[units]
        core_units.append(units)
        core_weights.append(urban / urban.sum())
    return core_units, core_weights


def _clusters(names_en: list[str], clusters: list[dict]) -> tuple[list, np.ndarray]:
    """(units of each metro county cluster, cluster of each unit or -1); a unit in two clusters is an error."""
    cluster_units = [_unit_indices(names_en, cl["units"]["value"], f"cluster {cl['name_zh']}") for cl in clusters]
    unit_cluster = np.full(N_UNITS, -1, dtype=np.int8)
    for k, units in enumerate(cluster_units):
        if (unit_cluster[units] >= 0).any():
            raise DataError(
                f"{GEOGRAPHY_ASSUMPTIONS_FILE}: a unit of cluster {clusters[k]['name_zh']} is in two clusters"
            )
        unit_cluster[units] = k
    return cluster_units, unit_cluster


# --------------------------------------------------------------------------------------
# urban shares


def _check_shares(names_en: list[str], share: np.ndarray) -> None:
    """Every unit needs some urban population (its urban place is where its urban residents live)."""
    bad = np.flatnonzero(~((share > 0.0) & (share <= 1.0)))
    if len(bad):
        raise DataError(f"shanxi_counties.csv: urban share of {names_en[bad[0]]} is {share[bad[0]]:g}, outside (0, 1]")


def _check_province_rate(province: pd.DataFrame, census: dict) -> None:
    """The census counts in the YAML must reproduce the province series' 2020 rate."""
    rate_2020 = province.set_index("year")["urbanization_rate_pct"].get(2020, np.nan)
    implied = 100.0 * census["province_urban_population"]["value"] / census["province_population"]["value"]
    if round(implied, 2) != rate_2020:
        raise DataError(
            f"shanxi_province.csv: 2020 urbanization rate {rate_2020} but the census counts in "
            f"{GEOGRAPHY_ASSUMPTIONS_FILE} give {implied:.4f}%"
        )


def _check_province_urban(total: int, census: dict) -> None:
    """The units' urban counts must add up to the bulletin's province urban population, within the stated margin."""
    target = census["province_urban_population"]["value"]
    tolerance = census["province_urban_tabulation_tolerance"]["value"]
    if abs(total - target) > tolerance:
        raise DataError(
            f"shanxi_counties.csv: the units' urban populations sum to {total:,}, the census bulletin's province "
            f"urban population is {target:,} ({GEOGRAPHY_ASSUMPTIONS_FILE}); more than {tolerance} persons apart"
        )


# --------------------------------------------------------------------------------------
# distances and the metro area


def road_distance_km(lat: np.ndarray, lon: np.ndarray, earth_radius_km: float, circuity: float) -> np.ndarray:
    """Road distance between every pair of points: haversine great-circle km x circuity."""
    phi, lam = np.radians(lat), np.radians(lon)
    d_phi = phi[:, None] - phi[None, :]
    d_lam = lam[:, None] - lam[None, :]
    h = np.sin(d_phi / 2) ** 2 + np.cos(phi)[:, None] * np.cos(phi)[None, :] * np.sin(d_lam / 2) ** 2
    great_circle = 2.0 * earth_radius_km * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return circuity * great_circle


def nearest_member(distance: np.ndarray, members: np.ndarray, catchment_km: float = np.inf) -> np.ndarray:
    """For each origin, the member with the smallest distance, not the origin itself
    unless it is the only member; -1 where that member is farther than `catchment_km`. int16 unit indices."""
    to_members = distance[:, members].copy()
    if len(members) > 1:
        to_members[members, np.arange(len(members))] = np.inf
    nearest = members[np.argmin(to_members, axis=1)]
    return np.where(to_members.min(axis=1) <= catchment_km, nearest, -1).astype(np.int16)


def metro_membership(counties: pd.DataFrame, unit_cluster: np.ndarray, assumptions: dict) -> np.ndarray:
    """Metro area = all units of the metro cities + the extra units + every cluster unit."""
    metro = assumptions["metro"]
    in_metro = counties["city_en"].isin(metro["metro_cities"]["value"]).to_numpy().copy()
    for city in metro["metro_cities"]["value"]:
        if city not in set(counties["city_en"]):
            raise DataError(f"{GEOGRAPHY_ASSUMPTIONS_FILE}: metro city {city!r} has no units")
    extra = _unit_indices(counties["county_en"].tolist(), metro["metro_extra_units"]["value"], "metro_extra_units")
    in_metro[extra] = True
    return in_metro | (unit_cluster >= 0)


def _unit_indices(names_en: list[str], wanted: list[str], what: str) -> np.ndarray:
    missing = [name for name in wanted if name not in names_en]
    if missing:
        raise DataError(f"{GEOGRAPHY_ASSUMPTIONS_FILE}: {what} names {missing}, not found in shanxi_counties.csv")
    return np.array([names_en.index(name) for name in wanted], dtype=np.int64)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def place_tiers(geo: Geography) -> np.ndarray:
    """Tier of every place (sim.places: TAIYUAN_CORE, PREFECTURE_CORE, COUNTY_SEAT, VILLAGE; OUTSIDE for out
    of province): districts are their city's core, counties and county-level cities have a county seat."""
    tier = np.full(geo.n_places, OUTSIDE)
    for u in range(len(geo.unit_name_en)):
        if geo.unit_type[u] == DISTRICT:
            tier[urban_place(u)] = TAIYUAN_CORE if geo.unit_city[u] == geo.taiyuan_city else PREFECTURE_CORE
        else:
            tier[urban_place(u)] = COUNTY_SEAT
        tier[rural_place(u)] = VILLAGE
    return tier
