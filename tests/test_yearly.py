"""The turn of the year in one pass (sim.kernel.yearly) decides what the two serial passes it replaces
decide (kernel.reclassify, then kernel.formation.leavers), and the counts kept through the year's
changes are a count from scratch."""

import numpy as np
import pytest

from sim import kernel as K
from sim.economy import markets
from sim.model import ShanxiModel


@pytest.fixture(scope="module")
def december():
    m = ShanxiModel(scale=0.002, rng=7, end_year=2021)
    while m.month < 2:  # to the end of December 2020
        m.step()
    return m


def _rates(m, kind):
    n_units = len(m.geo.unit_name_en)
    if kind == "model":
        place, prov = m.policy.at(2021)
        rural = m.counts.people_by_home_place.sum(axis=0)[2 * np.arange(n_units) + 1] * m.weight
        return markets.reclassification_rates(m.geo, m.econ, place, prov, m.base_policy.at(2021)[1], rural)
    rates = np.random.default_rng(1).uniform(0.0, 0.3, n_units)
    if kind == "uneven":
        rates[::3] = 0.0
        rates[1] = 1.0
        rates[4] = np.nan
    return rates


@pytest.mark.parametrize("kind", ["model", "uneven"])
def test_one_pass_decides_what_the_two_serial_passes_decide(december, kind):
    m = december
    rates = _rates(m, kind)
    rate, min_age = float(m.beh["leave_home_rate_year"]), int(m.beh["leave_home_parent_min_age"])
    serial = m.households.copy()
    people_serial = np.zeros(m.geo.n_places, np.int64)
    K.reclassify(serial, rates, 0.4, m.seed, m.month, people_serial)
    parents_serial = K.leavers(serial, rate, min_age, m.seed, m.month)

    h = m.households.copy()
    towns, hukou_too, parents, changed = K.year_rows(h, rates, 0.4, rate, min_age, m.seed, m.month)
    for name, a, b in zip(h._fields, h, m.households):
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: the draws change nothing")
    people = np.zeros(m.geo.n_places, np.int64)
    K.reclassify_rows(h, towns, hukou_too, people)
    for name, a, b in zip(h._fields, h, serial):
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(people, people_serial)
    np.testing.assert_array_equal(parents, parents_serial)
    np.testing.assert_array_equal(changed, np.union1d(towns, parents))
    assert len(towns) > 0 and hukou_too.any() and len(parents) > 0


def test_the_counts_through_the_year_are_a_count_from_scratch():
    m = ShanxiModel(scale=0.002, rng=5, end_year=2022)
    while m.month < 2:
        m.step()
    m._new_year(2021)
    fresh = K.aggregate(m.households, len(m.geo.unit_name_en), m.geo.n_places, m.static.oop)
    for name, a, b in zip(K.Counts._fields, m.counts, fresh):
        if name != "place":
            np.testing.assert_array_equal(a, b, err_msg=name)
    stocks = np.setdiff1d(np.arange(len(K.PLACE_COUNTERS)), K.counts.FLOW_ROWS)
    np.testing.assert_array_equal(m.counts.place[stocks], fresh.place[stocks])
    assert m._flows["reclassified"].sum() > 0 and m._flows["households_formed"].sum() > 0


def test_the_split_into_threads_changes_nothing(monkeypatch):
    """The yearly passes run in threads over parts of their rows (kernel.threads): one part or many,
    the same households, counts and flows."""
    from sim.kernel import formation, threads, yearly

    def new_year(n_parts):
        def split(n, min_rows):
            bounds = [n * j // n_parts for j in range(n_parts + 1)]
            return list(zip(bounds[:-1], bounds[1:]))

        for module in (formation, yearly):
            monkeypatch.setattr(module, "parts", split if n_parts > 1 else threads.parts)
        m = ShanxiModel(scale=0.002, rng=9, end_year=2021)
        while m.month < 2:
            m.step()
        m._new_year(2021)
        return m

    one, many = new_year(1), new_year(7)
    for name, a, b in zip(one.households._fields, one.households, many.households):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for name, a, b in zip(K.Counts._fields, one.counts, many.counts):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for name in one._flows:
        np.testing.assert_array_equal(one._flows[name], many._flows[name], err_msg=name)
    assert many._flows["households_formed"].sum() > 0 and many._flows["reclassified"].sum() > 0
