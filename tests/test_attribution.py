"""Shapley attribution of a combined scenario (sim/analysis/attribution.py)."""

import itertools

import pytest

from sim.analysis import attribution

PLAYERS = ["a", "b", "c", "d"]


def coalitions():
    return [frozenset(c) for k in range(5) for c in itertools.combinations(PLAYERS, k)]


def test_an_additive_case_gives_each_part_its_own_effect():
    effect = {"a": 1.5, "b": 0.4, "c": 0.3, "d": 1.1}
    values = {s: 60.0 + sum(effect[p] for p in s) for s in coalitions()}
    phi = attribution.shapley(values, PLAYERS)
    assert phi == pytest.approx(effect)


def test_an_interaction_is_shared_by_the_parts_that_make_it():
    values = {s: 2.0 * ("a" in s) + 1.0 * ("b" in s) + 0.6 * ({"a", "b"} <= s) for s in coalitions()}
    phi = attribution.shapley(values, PLAYERS)
    assert phi["a"] == pytest.approx(2.3) and phi["b"] == pytest.approx(1.3)  # the +0.6 split in two
    assert phi["c"] == phi["d"] == 0
    assert sum(phi.values()) == pytest.approx(values[frozenset(PLAYERS)] - values[frozenset()])  # efficiency


def test_the_plan_is_its_four_actions_and_their_levers_merge_in_order():
    parts = attribution.actions_of("plan")
    assert parts == ["action1_citizenization", "action2_county", "action3_taiyuan_metro", "action4_urban_renewal"]
    from sim.config import compose, to_dict

    plan = to_dict(compose(["scenario=plan"]))["scenario"]["levers"]
    assert attribution.coalition_levers(parts, frozenset(parts)) == plan
    assert attribution.coalition_levers(parts, frozenset()) == {}
    with pytest.raises(ValueError, match="fewer than two parts"):
        attribution.actions_of("baseline")


@pytest.mark.slow
def test_attribution_end_to_end_sums_to_the_whole_effect():
    table = attribution.attribute("plan", 0.0005, 1, members=1, n_jobs=2)
    for _outcome, g in table.groupby("outcome"):
        g = g.set_index("action")
        parts = [a for a in g.index if a.startswith("action")]
        assert g.loc[parts, "shapley"].sum() == pytest.approx(g.loc["total", "shapley"], abs=1e-9)
    cost = table[(table.outcome == "cost_2025_2029_yuan_1e8") & (table.action == "total")].shapley.iloc[0]
    assert cost > 0
