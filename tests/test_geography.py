"""The Geography built from sim/world/data: counts, census totals, urban shares, distances, metro."""

import shutil

import numpy as np
import pandas as pd
import pytest

from sim.places import N_PLACES, OUT_OF_PROVINCE
from sim.world import geography
from sim.world.geography import COUNTY, COUNTY_LEVEL_CITY, DISTRICT, load_geography
from sim.world.inputs import DATA_DIR, DataError, load_assumptions

PROVINCE_POP = 34_915_616
PROVINCE_URBAN = 21_831_494  # 山西省第七次全国人口普查公报
TABULATION_URBAN = 21_831_492  # sum of the county tabulation's units (SOURCES.md: the 2 persons are in Shuozhou)
CENSUS_DIR = DATA_DIR / "census2020"


@pytest.fixture(scope="module")
def geo():
    return load_geography()


def unit(geo, name_en):
    return geo.unit_name_en.index(name_en)


def test_counts(geo):
    assert geo.n_units == 117 and len(geo.unit_name_zh) == 117
    assert geo.n_cities == 11
    assert geo.n_places == N_PLACES == 235 and OUT_OF_PROVINCE == 234
    assert np.bincount(geo.unit_type).tolist() == [26, 11, 80]  # district, county-level city, county
    assert geo.city_name_en[geo.taiyuan_city] == "Taiyuan"
    assert geo.city_name_en[:3] == ["Taiyuan", "Datong", "Yangquan"]


def test_dtypes(geo):
    assert geo.unit_city.dtype == np.int16 and geo.unit_type.dtype == np.int8
    assert geo.unit_pop_2020.dtype == np.int64 and geo.city_pop_2020.dtype == np.int64
    assert geo.unit_cluster.dtype == np.int8 and geo.nearest_cluster_unit.dtype == np.int16
    assert geo.place_unit.dtype == np.int16 and geo.place_city.dtype == np.int16
    assert geo.unit_in_metro.dtype == bool and geo.place_is_urban.dtype == bool
    assert geo.unit_distance_km.shape == (117, 117)


def test_arrays_are_read_only(geo):
    with pytest.raises(ValueError):
        geo.unit_pop_2020[0] = 1
    with pytest.raises(AttributeError):
        geo.oop_distance_km = 1.0


def test_populations_sum_to_census(geo):
    city_sums = np.bincount(geo.unit_city, weights=geo.unit_pop_2020)
    assert np.array_equal(city_sums, geo.city_pop_2020)
    assert geo.unit_pop_2020.sum() == PROVINCE_POP


def test_province_urban_total(geo):
    assert geo.unit_urban_pop_2020.dtype == np.int64
    assert geo.unit_urban_pop_2020.sum() == TABULATION_URBAN
    assert abs(geo.unit_urban_pop_2020.sum() - PROVINCE_URBAN) <= 5  # census_2020.province_urban_tabulation_tolerance
    assert round(100 * geo.unit_urban_pop_2020.sum() / geo.unit_pop_2020.sum(), 2) == 62.53


def test_shares_in_unit_interval(geo):
    assert ((geo.unit_urban_share_2020 > 0) & (geo.unit_urban_share_2020 <= 1)).all()
    assert ((geo.city_urban_share_2020 > 0) & (geo.city_urban_share_2020 <= 1)).all()


# --- the starting state is the census county tabulation, read here independently of the loaders


@pytest.fixture(scope="module")
def tabulation():
    """census2020/counties_census2020_urban.csv: the 117 units with the 4 statistical zones folded into their
    host units (the *_incl_zone columns where present), keyed by (county_zh, city_zh without 市)."""
    table = pd.read_csv(CENSUS_DIR / "counties_census2020_urban.csv")
    table["city"] = table["city_zh"].str.removesuffix("市")
    zones = table["county_type"].str.startswith("statistical zone")
    assert zones.sum() == 4
    units = table[~zones].copy()
    units["pop"] = units["pop_2020_incl_zone"].fillna(units["pop_2020"]).astype(np.int64)
    units["urban"] = units["urban_pop_2020_incl_zone"].fillna(units["urban_pop_2020"]).astype(np.int64)
    units["zone_pop"] = units["pop"] - units["pop_2020"]
    units["zone_urban"] = units["urban"] - units["urban_pop_2020"]
    # what is folded in is exactly the 4 zones, city by city
    assert units.groupby("city")["zone_pop"].sum()[lambda x: x > 0].to_dict() == (
        table[zones].groupby("city")["pop_2020"].sum().to_dict()
    )
    assert units["zone_urban"].sum() == table.loc[zones, "urban_pop_2020"].sum()
    return units.set_index(["county_zh", "city"])


def in_geo_order(geo, tabulation, column):
    keys = [(zh, geo.city_name_zh[c]) for zh, c in zip(geo.unit_name_zh, geo.unit_city)]
    assert len(set(keys)) == 117  # 城区 is in both Yangquan and Jincheng: the city tells them apart
    return tabulation.loc[keys, column].to_numpy()


def test_every_unit_is_the_census_tabulation(geo, tabulation):
    assert len(tabulation) == 117
    pop = in_geo_order(geo, tabulation, "pop")
    urban = in_geo_order(geo, tabulation, "urban")
    assert np.array_equal(geo.unit_pop_2020, pop)
    assert np.array_equal(geo.unit_urban_pop_2020, urban)
    assert np.array_equal(geo.unit_urban_share_2020, urban / pop)
    lin = geo.unit_name_zh.index("临县")  # the corrected count (not 126,895)
    assert geo.unit_urban_pop_2020[lin] == 133_412
    assert geo.unit_urban_share_2020[unit(geo, "Chengqu (Jincheng)")] == 1.0


def test_city_rates_are_the_sum_of_their_units(geo):
    city_urban = np.bincount(geo.unit_city, weights=geo.unit_urban_pop_2020)
    assert np.array_equal(city_urban / geo.city_pop_2020, geo.city_urban_share_2020)


def test_cities_match_the_census_city_rows(geo):
    cities = pd.read_csv(CENSUS_DIR / "cities_census2020.csv").set_index("city_en").loc[geo.city_name_en]
    assert np.array_equal(geo.city_pop_2020, cities["pop_2020"].to_numpy())
    gap = np.bincount(geo.unit_city, weights=geo.unit_urban_pop_2020) - cities["urban_pop_2020"].to_numpy()
    assert dict(zip(geo.city_name_en, gap)) == {c: (-2 if c == "Shuozhou" else 0) for c in geo.city_name_en}
    assert cities["urban_pop_2020"].sum() == PROVINCE_URBAN
    rate = dict(zip(geo.city_name_en, 100 * geo.city_urban_share_2020))
    assert rate["Datong"] == pytest.approx(72.69, abs=0.005) and rate["Xinzhou"] == pytest.approx(53.78, abs=0.005)


def type_rates(geo, pop, urban):
    return [100 * urban[geo.unit_type == t].sum() / pop[geo.unit_type == t].sum() for t in range(3)]


def test_rates_by_unit_type(geo, tabulation):
    # demography.md section 2 (zones excluded): districts 82.9, county-level cities 61.1, counties 44.7
    pop = geo.unit_pop_2020 - in_geo_order(geo, tabulation, "zone_pop")
    urban = geo.unit_urban_pop_2020 - in_geo_order(geo, tabulation, "zone_urban")
    assert type_rates(geo, pop, urban) == pytest.approx([82.9, 61.1, 44.7], abs=0.1)
    # with the zones folded in (the geography): the 100% urban Taiyuan zone raises the districts
    folded = type_rates(geo, geo.unit_pop_2020, geo.unit_urban_pop_2020)
    assert folded == pytest.approx([83.17, 61.09, 44.78], abs=0.01)
    assert (DISTRICT, COUNTY_LEVEL_CITY, COUNTY) == (0, 1, 2)


def test_2010_census_counts(geo, tabulation):
    pop = in_geo_order(geo, tabulation, "pop_2010")
    urban = in_geo_order(geo, tabulation, "urban_pop_2010")
    assert geo.unit_pop_2010.dtype == np.float64 and geo.unit_urban_pop_2010.dtype == np.float64
    np.testing.assert_array_equal(geo.unit_pop_2010, pop)
    np.testing.assert_array_equal(geo.unit_urban_pop_2010, urban)
    missing = {geo.unit_name_zh[u] for u in np.flatnonzero(np.isnan(geo.unit_pop_2010))}
    assert missing == {"平城区", "云冈区", "云州区"}  # Datong's districts redrawn in 2018
    assert np.array_equal(np.isnan(geo.unit_urban_pop_2010), np.isnan(geo.unit_pop_2010))
    known = ~np.isnan(geo.unit_pop_2010)
    assert (geo.unit_urban_pop_2010[known] <= geo.unit_pop_2010[known]).all()


def copy_data(tmp_path):
    """A writable copy of sim/world/data, census2020/ included."""
    folder = tmp_path / "data"
    shutil.copytree(DATA_DIR, folder)
    return folder


def after_census(table):
    """Rows of shanxi_cities.csv observed after the census: 2021-2023 and the 2020 year-end rows."""
    year = table["year"].str.slice(0, 4).astype(int)
    return (year > 2020) | ((year == 2020) & ~table["year"].str.contains("census"))


@pytest.mark.parametrize("change", ["remove", "alter"])
def test_no_later_observation_enters_the_starting_state(tmp_path, geo, change):
    folder = copy_data(tmp_path)
    cities = pd.read_csv(folder / "shanxi_cities.csv", dtype=str, keep_default_na=False)
    later = after_census(cities)
    assert later.sum() >= 30 and (cities.loc[later, "urbanization_rate_pct"] != "").sum() >= 8
    province = pd.read_csv(folder / "shanxi_province.csv", dtype=str, keep_default_na=False)
    province_later = province["year"].astype(int) > 2020
    if change == "remove":
        cities = cities[~later]
        province = province[~province_later]
    else:
        cities.loc[later & (cities["urbanization_rate_pct"] != ""), "urbanization_rate_pct"] = "99.5"
        cities.loc[later, "resident_pop_10k"] = "100.00"
        province.loc[province_later, "urbanization_rate_pct"] = "20.00"
    cities.to_csv(folder / "shanxi_cities.csv", index=False)
    province.to_csv(folder / "shanxi_province.csv", index=False)
    other = load_geography(folder)
    assert np.array_equal(other.unit_urban_share_2020, geo.unit_urban_share_2020)
    assert np.array_equal(other.city_urban_share_2020, geo.city_urban_share_2020)
    assert np.array_equal(other.unit_pop_2020, geo.unit_pop_2020)
    assert np.array_equal(other.unit_urban_pop_2020, geo.unit_urban_pop_2020)


def test_province_urban_checked_against_the_bulletin(tmp_path):
    folder = copy_data(tmp_path)
    path = folder / "assumptions_geography.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("value: 21831494\n", "value: 21831500\n"), encoding="utf-8")
    with pytest.raises(DataError, match=r"sum to 21,831,492.*21,831,500"):
        load_geography(folder)


def test_city_cores(geo):
    for c in range(geo.n_cities):
        units, weights = geo.city_core_units[c], geo.city_core_weights[c]
        assert len(units) >= 1
        assert (geo.unit_city[units] == c).all() and (geo.unit_type[units] == geography.DISTRICT).all()
        assert weights.sum() == pytest.approx(1.0) and (weights > 0).all()
    assert len(geo.city_core_units[geo.taiyuan_city]) == 6


def test_places(geo):
    assert geo.place_unit[OUT_OF_PROVINCE] == -1 and geo.place_city[OUT_OF_PROVINCE] == -1
    assert not geo.place_in_shanxi[OUT_OF_PROVINCE] and geo.place_in_shanxi[:-1].all()
    u = unit(geo, "Lishi District")
    assert geo.place_unit[2 * u] == u and geo.place_is_urban[2 * u]
    assert geo.place_unit[2 * u + 1] == u and not geo.place_is_urban[2 * u + 1]
    assert np.array_equal(geo.place_city[:-1], np.repeat(geo.unit_city, 2))


def test_distances(geo):
    d = geo.unit_distance_km
    assert np.array_equal(d, d.T)
    assert (np.diag(d) == 0).all() and (d[~np.eye(117, dtype=bool)] > 0).all()
    taiyuan_datong = d[unit(geo, "Yingze District"), unit(geo, "Pingcheng District")]
    assert 250 <= taiyuan_datong <= 400
    assert geo.oop_distance_km == 800.0


def test_distance_uses_circuity_from_yaml(tmp_path, geo):
    folder = copy_data(tmp_path)
    yaml_path = folder / "assumptions_geography.yaml"
    text = yaml_path.read_text(encoding="utf-8")
    yaml_path.write_text(text.replace("value: 1.3\n", "value: 2.6\n"), encoding="utf-8")
    assert load_geography(folder).unit_distance_km == pytest.approx(2 * geo.unit_distance_km)


def test_clusters_and_metro(geo):
    assert geo.cluster_names == ["交汾文孝", "忻定原", "平介祁灵", "盂平寿昔", "离柳中方"]
    assert len(geo.cluster_names_en) == 5
    assert [len(u) for u in geo.cluster_units] == [4, 3, 4, 4, 4]
    for k, units in enumerate(geo.cluster_units):
        assert (geo.unit_cluster[units] == k).all()
    assert (geo.unit_cluster >= 0).sum() == 19
    assert geo.unit_cluster[unit(geo, "Qi County (Qixian)")] == 2
    metro = {geo.unit_name_en[u] for u in np.flatnonzero(geo.unit_in_metro)}
    assert len(metro) == 10 + 2 + 19
    assert {"Yuci District", "Taigu District", "Gujiao", "Lishi District"} <= metro
    assert "Pingcheng District" not in metro


def test_nearest_cluster_unit(geo):
    members = np.concatenate(geo.cluster_units)
    nearest = geo.nearest_cluster_unit
    catchment = load_assumptions()["metro"]["cluster_catchment_km"]["value"]
    assert np.isin(nearest[nearest >= 0], members).all()
    assert (nearest != np.arange(117)).all()  # never the origin itself
    d = geo.unit_distance_km
    for u in range(117):
        others = members[members != u]
        if nearest[u] >= 0:
            assert d[u, nearest[u]] == d[u, others].min() <= catchment
        else:  # no cluster town within the catchment
            assert d[u, others].min() > catchment
    assert 0.3 < (nearest >= 0).mean() < 0.8
    assert geo.unit_name_en[nearest[unit(geo, "Xiaoyi")]] == "Fenyang"
