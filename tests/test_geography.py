"""The Geography built from sim/world/data: counts, census totals, urban shares, distances, metro."""

import shutil

import numpy as np
import pytest

from sim.places import N_PLACES, OUT_OF_PROVINCE
from sim.world import geography
from sim.world.geography import load_geography
from sim.world.inputs import DATA_DIR, load_assumptions, load_counties, load_province_series

PROVINCE_POP = 34_915_616
PROVINCE_URBAN = 21_831_494


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
    assert geo.unit_urban_pop_2020.sum() == pytest.approx(PROVINCE_URBAN, abs=1e-3)
    assert abs(np.round(geo.unit_urban_pop_2020).sum() - PROVINCE_URBAN) <= 0.5 * geo.n_units
    assert round(100 * geo.unit_urban_pop_2020.sum() / geo.unit_pop_2020.sum(), 2) == 62.53


def test_shares_in_unit_interval(geo):
    assert ((geo.unit_urban_share_2020 > 0) & (geo.unit_urban_share_2020 <= 1)).all()
    assert ((geo.city_urban_share_2020 > 0) & (geo.city_urban_share_2020 <= 1)).all()


def test_observed_unit_shares_preserved(geo):
    counties = load_counties()
    observed = counties["urban_pop_2020"].notna().to_numpy()
    assert observed.sum() == 7
    assert np.array_equal(geo.unit_is_observed_urban, observed)
    expected = counties["urban_pop_2020"].to_numpy(dtype=float, na_value=np.nan)[observed] / geo.unit_pop_2020[observed]
    assert np.array_equal(geo.unit_urban_share_2020[observed], expected)
    assert geo.unit_urban_share_2020[unit(geo, "Chengqu (Jincheng)")] == 1.0


def test_city_rates(geo):
    share = dict(zip(geo.city_name_en, geo.city_urban_share_2020))
    assert share["Datong"] == pytest.approx(0.7269)
    assert share["Xinzhou"] == pytest.approx(0.5378)
    assert share["Jincheng"] == pytest.approx(0.6272)
    assert share["Linfen"] == share["Shuozhou"]
    pace = (64.97 - 62.53) / (2024.0 - 2020.8333)
    assert share["Taiyuan"] == pytest.approx((89.23 - pace * (2022.0 - 2020.8333)) / 100)
    assert share["Jinzhong"] == pytest.approx((62.52 - pace * (2024.0 - 2020.8333)) / 100)
    assert geography.province_pace_pp_per_year(load_province_series(), load_assumptions()) == pytest.approx(pace)


def test_units_reproduce_city_rates(geo):
    city_urban = np.bincount(geo.unit_city, weights=geo.unit_urban_pop_2020)
    assert city_urban == pytest.approx(geo.city_urban_share_2020 * geo.city_pop_2020, rel=1e-12)


def test_rule_orders_types_within_city(geo):
    free = ~geo.unit_is_observed_urban
    for c in range(geo.n_cities):
        by_type = [geo.unit_urban_share_2020[free & (geo.unit_city == c) & (geo.unit_type == t)] for t in range(3)]
        present = [s for s in by_type if len(s)]
        assert all(len(set(s)) == 1 for s in present)  # one share per type within a city
        assert [s[0] for s in present] == sorted((s[0] for s in present), reverse=True)


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
    for path in DATA_DIR.iterdir():
        if path.is_file():
            shutil.copyfile(path, tmp_path / path.name)
    yaml_path = tmp_path / "assumptions_geography.yaml"
    text = yaml_path.read_text(encoding="utf-8")
    yaml_path.write_text(text.replace("value: 1.3\n", "value: 2.6\n"), encoding="utf-8")
    assert load_geography(tmp_path).unit_distance_km == pytest.approx(2 * geo.unit_distance_km)


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
    assert np.isin(nearest, members).all()
    assert (nearest != np.arange(117)).all()  # never the origin itself
    d = geo.unit_distance_km
    for u in range(117):
        others = members[members != u]
        assert d[u, nearest[u]] == d[u, others].min()
    assert geo.unit_name_en[nearest[unit(geo, "Xiaoyi")]] == "Fenyang"
