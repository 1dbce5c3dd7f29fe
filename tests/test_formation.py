"""Young adults leaving home (sim.kernel.formation): people are conserved, the new households are what
the rule says, and family households shrink at the pace the leaving rate was set to."""

import numpy as np

from agents import Household
from sim.config import compose
from sim.model import ShanxiModel
from sim.state import COLLECTIVE, CONTRACT_LAND, HOMESTEAD, POOL


def _family_size(m):
    h = m.households
    size = h.size()
    family = ((h.flags & (COLLECTIVE | POOL)) == 0) & m.static.place_in_shanxi[h.place] & (size > 0)
    return size[family].sum() / family.sum()


def _to_january(m):
    """Step to the end of December 2020 (the month before the first new year)."""
    while m.month < 2:
        m.step()


def test_leavers_form_one_adult_households_and_nobody_is_lost():
    m = ShanxiModel(scale=0.002, rng=7, end_year=2021)
    _to_january(m)
    before = m.households.copy()
    people = m.counts.people_by_home_place.sum()
    m._new_year(2021)
    h, n = m.households, before.n
    formed = h.n - n
    assert formed > 100
    # the arrays grew by one row per new household; the people are the same
    assert m.counts.people_by_home_place.sum() == people
    assert h.size().sum() == before.size().sum()
    new = slice(n, h.n)
    assert (h.n_adult[new] == 1).all() and (h.n_child[new] == 0).all() and (h.n_old[new] == 0).all()
    assert (h.head_age[new] >= 20).all() and (h.head_age[new] <= 29).all()
    # the parents: one adult fewer, heads of 45 and older, never a collective or pool unit
    parents = np.flatnonzero(h.n_adult[:n] != before.n_adult[:n])
    assert len(parents) == formed
    assert (before.n_adult[parents] - h.n_adult[parents] == 1).all()
    assert (before.head_age[parents] >= 45).all()
    assert not (before.flags[parents] & (COLLECTIVE | POOL)).any()
    # the new household keeps the parents' home county, hukou (after this year's reclassification) and
    # skill, and never gains land rights
    assert (h.origin[new] == before.origin[parents]).all()
    assert (h.hukou[new] == h.hukou[parents]).all()
    assert (h.skill[new] == before.skill[parents]).all()
    land = CONTRACT_LAND | HOMESTEAD
    assert not (h.flags[new] & land & ~before.flags[parents]).any()
    # most set up home where the parents live; some leave (members who move alone)
    moved = (h.place[new] != h.place[parents]).mean()
    assert 0.01 < moved < 0.5
    assert m._flows["households_formed"].sum() == formed
    assert m._flows["left_home_moved"].sum() == (h.place[new] != h.place[parents]).sum()


def test_no_leavers_at_rate_zero_and_the_run_is_the_old_one():
    cfg = compose(["population.scale=0.002", "seed=7", "run.end_year=2021", "behaviour.leave_home_rate_year=0"])
    m = ShanxiModel(config=cfg)
    n = m.households.n
    m.run()
    assert m.households.n == n
    assert m._flows["households_formed"].sum() == 0


def test_family_households_shrink_at_the_set_pace():
    """The rate was set so that family household size falls about 2%/yr (census 2.52 in 2020, sample
    2.47 in 2021); without leavers it would hardly fall (births replace deaths in the counts)."""
    m = ShanxiModel(scale=0.005, rng=3, end_year=2022)
    start = _family_size(m)
    m.run()
    yearly = (_family_size(m) / start) ** (1 / 2) - 1
    assert 2.45 < start < 2.6
    assert -0.03 < yearly < -0.012
    cfg = compose(["population.scale=0.005", "seed=3", "run.end_year=2022", "behaviour.leave_home_rate_year=0"])
    still = ShanxiModel(config=cfg)
    still.run()
    assert (_family_size(still) / start) ** (1 / 2) - 1 > -0.008


def test_new_households_are_mesa_agents():
    m = ShanxiModel(scale=0.0005, rng=3, end_year=2021)
    n = m.households.n
    m.run()
    households = m.agents_by_type[Household]
    assert m.households.n > n
    assert len(households) == m.households.n
    assert sorted(households.get("index")) == list(range(m.households.n))


def test_growing_the_arrays_keeps_the_rows_and_copies_only_when_out_of_room():
    from sim.state import empty

    h = empty(10)
    h.place[:] = np.arange(10)
    g = h.grown(3)  # no room: reallocated with a quarter to spare
    assert g.n == 13 and (g.place[:10] == np.arange(10)).all() and (g.place[10:] == 0).all()
    g.place[10:] = 7
    again = g.grown(2)  # room left: the same buffer, nothing copied
    assert again.n == 15 and np.shares_memory(again.place, g.place)
    assert (again.place[:13] == g.place).all() and (again.place[13:] == 0).all()
    big = again.grown(100)  # out of room again
    assert big.n == 115 and not np.shares_memory(big.place, again.place)
    assert (big.place[:15] == again.place).all() and (big.place[15:] == 0).all()
