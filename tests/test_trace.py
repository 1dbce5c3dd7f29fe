"""One household's story (sim/analysis/trace.py): the trace reads the run without changing it, and its last
state is the household's row."""

import re

import numpy as np
import pytest

from sim.analysis import trace
from sim.config import compose, to_dict
from sim.model import ShanxiModel


@pytest.fixture(scope="module")
def traced():
    cfg = to_dict(compose(["population.scale=0.0005", "seed=7", "run.end_year=2022", "run.progress=none"]))
    households = list(range(0, 400, 7))
    table, m = trace.trace(cfg, households)
    return cfg, households, table, m


def test_tracing_does_not_change_the_run(traced):
    cfg, households, table, m = traced
    plain = ShanxiModel(config=cfg)
    plain.run()
    for f in trace.FIELDS:
        assert np.array_equal(getattr(plain.households, f), getattr(m.households, f)), f


def test_every_month_and_decision_is_there(traced):
    _, households, table, m = traced
    assert len(table) == len(households) * m.n_months
    for _, r in table[table.options != ""].iterrows():
        probs = [float(x) for x in re.findall(r" (\d\.\d{3})(?:;|$)", r.options)]
        assert sum(probs) == pytest.approx(1.0, abs=0.01)
    moved = table[table.events.str.contains("moved")]
    assert len(moved) > 0  # some traced household moved in two years
    assert (moved["before.place"] != moved["after.place"]).all()
    assert table.event_draw.between(0, 1).all() and table.choice_draw.between(0, 1).all()
    text = trace.story(table, m)
    assert text.count("## Household") == len(households)


def test_the_utility_terms_give_the_kernels_own_probabilities(traced):
    """The trace's term-by-term utilities (spelled out in Python) sum to the utilities the kernel chooses by:
    their logit probabilities equal sim.kernel.choice.choice_probabilities, for every traced household."""
    _, households, _, m = traced
    checked = 0
    for i in households:
        if m.households.n_adult[i] + m.households.n_old[i] == 0:
            continue
        rows = trace.utility_terms(m, i)
        v = np.array([r["utility"] for r in rows])
        p = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
        kernel = dict(trace.options_of(m, i))
        assert [r["place"] for r in rows] == list(kernel)
        assert p == pytest.approx(list(kernel.values()), abs=1e-9)
        assert all(abs(r["utility"] - sum(r["terms"].values())) < 1e-12 for r in rows)
        checked += 1
    assert checked > 10
