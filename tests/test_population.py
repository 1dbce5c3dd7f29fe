"""The synthetic population matches the 2020 census marginals."""

import numpy as np
import pytest

from sim import state as S
from sim.config import compose, to_dict
from sim.world.geography import load_geography
from sim.world.population import Kind, build_cells, load_census, synthesize

CENSUS = load_census()


@pytest.fixture(scope="module")
def pop():
    cfg = to_dict(compose([]))
    geo = load_geography()
    h, kind = synthesize(geo, cfg["population"], cfg["economy"], 0.05, seed=5)
    return geo, h, kind, 1 / 0.05


def test_cells_reproduce_every_county_total_exactly():
    cfg = to_dict(compose([]))
    geo = load_geography()
    cells = build_cells(geo, CENSUS, cfg["population"])
    resident = ~np.isin(cells.kind, (Kind.SHANXI_OUT_OF_PROVINCE, Kind.IN_MIGRANT_POOL))
    by_unit = np.bincount(geo.place_unit[cells.place[resident]], weights=cells.people[resident], minlength=117)
    np.testing.assert_allclose(by_unit, geo.unit_pop_2020, rtol=1e-9)
    urban = resident & geo.place_is_urban[cells.place]
    assert cells.people[urban].sum() == pytest.approx(CENSUS["urban_population"], rel=1e-9)
    floating = np.isin(cells.kind, (Kind.RURAL_HUKOU_MIGRANT, Kind.URBAN_HUKOU_MIGRANT, Kind.OTHER_PROVINCE_RESIDENT))
    assert cells.people[floating].sum() == pytest.approx(CENSUS["floating_population"], rel=1e-9)
    assert cells.people[cells.kind == Kind.OTHER_PROVINCE_RESIDENT].sum() == pytest.approx(
        CENSUS["from_other_provinces"], rel=1e-9
    )


def test_sample_matches_census_marginals(pop):
    geo, h, kind, w = pop
    size = h.size()
    inside = geo.place_in_shanxi[h.place]
    people = size[inside].sum() * w
    assert people == pytest.approx(CENSUS["resident_population"], rel=0.005)
    urban = size[inside & geo.place_is_urban[h.place]].sum() * w
    assert 100 * urban / people == pytest.approx(62.53, abs=0.2)
    shanxi_hukou = h.hukou != geo.n_places - 1
    hukou_urban = size[shanxi_hukou & geo.place_is_urban[h.hukou]].sum()
    assert 100 * hukou_urban / size[shanxi_hukou].sum() == pytest.approx(42.90, abs=0.2)
    family = inside & ~(h.flags & S.COLLECTIVE).astype(bool)
    assert family.sum() * w == pytest.approx(CENSUS["family_households"], rel=0.01)
    assert size[family].mean() == pytest.approx(CENSUS["family_household_size"], abs=0.02)
    collective = inside & (h.flags & S.COLLECTIVE).astype(bool)
    assert collective.sum() * w == pytest.approx(CENSUS["collective_population"], rel=0.02)
    floating = inside & (h.hukou != h.place)
    assert size[floating].sum() * w == pytest.approx(CENSUS["floating_population"], rel=0.02)
    other = inside & (h.hukou == geo.n_places - 1)
    assert size[other].sum() * w == pytest.approx(CENSUS["from_other_provinces"], rel=0.03)
    ages = np.array([h.n_child[inside].sum(), h.n_adult[inside].sum(), h.n_old[inside].sum()]) / size[inside].sum()
    np.testing.assert_allclose(
        ages, [CENSUS["age_share_0_14"], CENSUS["age_share_15_59"], CENSUS["age_share_60_plus"]], atol=0.005
    )


def test_county_populations_within_sampling_error(pop):
    geo, h, kind, w = pop
    inside = geo.place_in_shanxi[h.place]
    by_unit = np.bincount(geo.place_unit[h.place[inside]], weights=h.size()[inside], minlength=117) * w
    rel = np.abs(by_unit / geo.unit_pop_2020 - 1)
    assert rel.max() < 0.06  # the smallest unit has ~2,500 sampled people at 5%
    assert np.average(rel, weights=geo.unit_pop_2020) < 0.01


def test_households_have_consistent_attributes(pop):
    geo, h, kind, w = pop
    assert (h.size() >= 1).all() and (h.size() <= 8).all()
    assert ((h.head_age >= 18) & (h.head_age <= 95)).all()
    urban_hukou = geo.place_is_urban[h.hukou]
    assert not (urban_hukou & ((h.flags & (S.CONTRACT_LAND | S.HOMESTEAD)) > 0)).any(), "land rights need rural hukou"
    assert (h.place[kind == Kind.IN_MIGRANT_POOL] == geo.n_places - 1).all()


def test_same_seed_same_population():
    cfg = to_dict(compose([]))
    geo = load_geography()
    a, _ = synthesize(geo, cfg["population"], cfg["economy"], 0.002, seed=9)
    b, _ = synthesize(geo, cfg["population"], cfg["economy"], 0.002, seed=9)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_same_population_whatever_the_number_of_threads(monkeypatch):
    """Blocks of households are generated on threads; each block has its own random stream, so one
    or three workers give the same households."""
    import sim.world.population as P

    monkeypatch.setattr(P, "BLOCK", 4096)  # many small blocks at a small scale
    cfg = to_dict(compose([]))
    geo = load_geography()
    a, _ = synthesize(geo, cfg["population"], cfg["economy"], 0.002, seed=9, workers=1)
    b, _ = synthesize(geo, cfg["population"], cfg["economy"], 0.002, seed=9, workers=3)
    assert a.n > 5 * 4096
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_synthesis_fit_report_by_control_and_unit_type():
    """Every run writes how its starting population matches the census, control by control (synthesis_fit.csv):
    populations and urban populations per unit close to the tabulation; the age controls are reported
    (the synthesis uses the province's age mix, so units' own age structures differ)."""
    from sim.model import ShanxiModel

    m = ShanxiModel(scale=0.01, rng=3, end_year=2021)
    fit = m.synthesis_fit().set_index(["control", "unit_type"])
    for control in ("population", "urban_population"):
        row = fit.loc[(control, "all")]
        assert row.units == 117 and abs(row.synthetic / row.census - 1) < 0.005, row
        assert (fit.loc[control].pct_rmse < 5).all(), fit.loc[control]
    for control in ("share_aged_0_14_pct", "share_aged_60plus_pct"):
        assert np.isfinite(fit.loc[control].pct_rmse).all() and (fit.loc[control].units > 0).all()
    assert set(fit.index.get_level_values("unit_type")) == {"all", "district", "county-level city", "county"}
