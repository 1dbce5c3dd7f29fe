"""Scenario discovery (sim/analysis/discovery.py): PRIM finds a cause of failure built into the data."""

import numpy as np
import pandas as pd
import pytest

from sim.analysis import discovery


def built_case(n=2000, seed=4):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, 5)), columns=["a", "b", "c", "d", "e"])
    x["action"] = (rng.random(n) < 0.5).astype(int)  # a switch
    # misses: action off and a > 0.6 (plus a little noise elsewhere)
    y = ((x.action == 0) & (x.a > 0.6)) | (rng.random(n) < 0.03)
    return x, y.to_numpy()


def test_prim_finds_the_built_cause():
    x, y = built_case()
    box = discovery.prim(x, y, min_coverage=0.7)
    assert set(box.limits) == {"a", "action"}, box.limits
    assert box.limits["action"] == (0.0, 0.0)
    assert 0.55 <= box.limits["a"][0] <= 0.65 and box.limits["a"][1] == pytest.approx(x.a.max())
    assert box.density > 0.9 and box.coverage >= 0.7
    text = discovery.sentence(box, "The plan misses 70%", ["action"])
    assert "action is not delivered" in text and "a is between 0.6" in text


def test_no_miss_is_an_error_and_no_cause_is_said():
    x, _ = built_case(200)
    with pytest.raises(ValueError, match="no run misses"):
        discovery.prim(x, np.zeros(200, bool))
    box = discovery.Box({}, 0.3, 1.0, 1.0, [])
    assert "no condition" in discovery.sentence(box, "The plan misses 70%", [])


def test_the_runs_switch_the_plans_actions_and_take_posterior_draws():
    configs, inputs = discovery.sample_runs("plan", 6, 0.001, seed=1)
    assert list(inputs.posterior_draw) == [1, 2, 3, 4, 5, 6]
    parts = [c for c in inputs.columns if c.startswith("action")]
    assert len(parts) == 4 and set(inputs[parts].to_numpy().ravel()) <= {0, 1}
    for cfg, (_, row) in zip(configs, inputs.iterrows()):
        if row[parts].sum() == 0:
            assert cfg["scenario"]["levers"] == {}
        assert cfg["behaviour"]["fitted"]["asc_stay"] == row.asc_stay
    again, _ = discovery.sample_runs("plan", 6, 0.001, seed=1)
    assert [c["scenario"]["levers"] for c in again] == [c["scenario"]["levers"] for c in configs]  # a fixed stream
