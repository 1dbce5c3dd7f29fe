"""The decade hindcast: the 2010 census as a starting state, and the run from it to the 2020 census."""

import numpy as np
import pytest

from sim.analysis import hindcast as H
from sim.config import compose, to_dict
from sim.config.schema import ConfigError, validate_config
from sim.economy.markets import census_reclassification_people
from sim.places import month_calendar, months_until
from sim.world.census2010 import city_counts_2010, load_census_2010, unit_counts_2010
from sim.world.geography import load_geography
from sim.world.population import Kind, build_cells, load_census

GEO = load_geography()


def test_2010_units_add_up_to_the_2010_census():
    pop, urban = unit_counts_2010(GEO)
    census = load_census_2010()
    assert np.isfinite(pop).all() and (urban <= pop).all() and (urban > 0).all()
    assert pop.sum() == pytest.approx(census["resident_population"], abs=0.5)
    assert urban.sum() == pytest.approx(census["urban_population"], abs=0.5)
    cities = city_counts_2010()
    for c, name in enumerate(GEO.city_name_en):
        in_city = np.asarray(GEO.unit_city) == c
        assert pop[in_city].sum() == pytest.approx(cities.loc[name, "pop_2010"], abs=0.5)
    tabulated = np.isfinite(np.asarray(GEO.unit_pop_2010, float))
    np.testing.assert_array_equal(pop[tabulated], np.asarray(GEO.unit_pop_2010, float)[tabulated])
    assert 100 * urban.sum() / pop.sum() == pytest.approx(48.05, abs=0.01)  # the 2020 bulletin: 62.53 - 14.48


def test_2010_cells_reproduce_the_2010_census():
    cfg = to_dict(compose([]))
    census = load_census(2010)
    cells = build_cells(GEO, census, cfg["population"], 2010)
    resident = ~np.isin(cells.kind, (Kind.SHANXI_OUT_OF_PROVINCE, Kind.IN_MIGRANT_POOL))
    by_unit = np.bincount(GEO.place_unit[cells.place[resident]], weights=cells.people[resident], minlength=117)
    np.testing.assert_allclose(by_unit, unit_counts_2010(GEO)[0], rtol=1e-9)
    urban = resident & GEO.place_is_urban[cells.place]
    assert cells.people[urban].sum() == pytest.approx(census["urban_population"], rel=1e-9)
    floating = np.isin(cells.kind, (Kind.RURAL_HUKOU_MIGRANT, Kind.URBAN_HUKOU_MIGRANT, Kind.OTHER_PROVINCE_RESIDENT))
    assert cells.people[floating].sum() == pytest.approx(census["floating_population"], rel=1e-9)


def test_hindcast_reclassification_takes_type_rates_not_the_units_own_gain():
    share = 0.31
    own = census_reclassification_people(GEO, share)
    typed = census_reclassification_people(GEO, share, unit_specific=False)
    pop10, urban10 = unit_counts_2010(GEO)
    rural10 = pop10 - urban10
    unit_type = np.asarray(GEO.unit_type)
    known = np.isfinite(np.asarray(GEO.unit_pop_2010, float))
    for t in range(3):
        of_type = unit_type == t
        # one rate per type: the type's total of the known units over their 2010 rural population
        assert (typed[of_type & (rural10 == 0)] == 0).all()  # all-urban units (some districts): none
        rate = typed[of_type & (rural10 > 0)] / rural10[of_type & (rural10 > 0)]
        np.testing.assert_allclose(rate, rate[0], rtol=1e-12)
        assert typed[of_type & known].sum() == pytest.approx(own[of_type & known].sum(), rel=1e-12)
    assert not np.allclose(own, typed)  # units differ from their own gain's


def test_calendar_from_2010():
    assert month_calendar(0, 2010) == (2010, 11)
    assert month_calendar(120, 2010) == (2020, 11)
    assert months_until(2020, 2010) == months_until(2030) == 122
    assert month_calendar(0) == (2020, 11)


def test_start_year_must_be_a_census():
    cfg = to_dict(compose(["run.start_year=2015"]))
    with pytest.raises(ConfigError, match=r"run.start_year = 2015 .*2020 \| 2010"):
        validate_config(cfg, with_geography=False)


@pytest.fixture(scope="module")
def member():
    cfg = to_dict(compose(["population.scale=0.004", "run.progress=none"]))
    return H.run_member(cfg, seed=3)


def test_a_member_starts_at_the_2010_census_and_stops_at_the_2020_census(member):
    year_end = member["year_end"]
    assert list(year_end.index) == list(range(2010, 2020))  # year ends 2010-2019, then the census month
    first = year_end.loc[2010, "resident_urbanization_rate_pct"]
    assert first == pytest.approx(48.05, abs=0.6)  # two months after the 2010 census, sampled at 0.4%
    assert 31.0 < member["hukou_rate"] < 60.0 and 48.0 < member["resident_rate"] < 75.0  # both rose from 2010
    urban, rural = member["unit_urban"], member["unit_rural"]
    assert urban.shape == rural.shape == (117,) and (urban + rural > 0).all()
    # the urban growth splits into its sources; reclassification happened every January
    assert member["reclassified"] > 0 and member["natural"] != 0
    assert member["population"] == pytest.approx((urban + rural).sum(), rel=1e-12)


def test_same_seed_same_hindcast(member):
    cfg = to_dict(compose(["population.scale=0.004", "run.progress=none"]))
    again = H.run_member(cfg, seed=3)
    np.testing.assert_array_equal(again["unit_urban"], member["unit_urban"])
    assert again["resident_rate"] == member["resident_rate"]


def test_tables_score_every_unit_against_the_2020_census(member):
    obs = H.observed(GEO)
    units = H.unit_table(GEO, [member], obs)
    assert len(units) == 117 and units.error_pp.notna().all()
    s20 = 100 * np.asarray(GEO.unit_urban_pop_2020, float) / np.asarray(GEO.unit_pop_2020, float)
    np.testing.assert_allclose(units.error_pp, units.model_2020_pct - s20)
    share = 100 * member["unit_urban"] / (member["unit_urban"] + member["unit_rural"])
    np.testing.assert_allclose(units.model_2020_pct, share)
    types = H.by_type(units)
    assert list(types["units"]) == [26, 11, 80, 117]
    province = H.province_table([member], obs)
    census = province[province.when.str.contains("census")].iloc[0]
    assert census["observed resident %"] == pytest.approx(62.53, abs=0.005)
    assert census["error pp"] == pytest.approx(member["resident_rate"] - census["observed resident %"])
    scored = province.dropna(subset=["observed resident %"])
    assert list(scored.when) == ["2014-12", "2017-12", "2018-12", "2019-12", "2020-11 (census)"]
