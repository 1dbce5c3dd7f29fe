"""Settlement answers policy as its evidence says (docs/settlement.md): each Action 1 lever that acts on the
hukou hazard moves the hukou rate the way its source says, and land rights, the main reason migrants keep
their rural hukou (Chen & Fan 2016; Zhu 2017), move it most."""

import pytest

from sim.analysis.lever_effects import lever_effects, markdown

SETTLEMENT_LEVERS = ["land_protection_share", "insurance_enrolment_migrants", "hukou_threshold_months"]


@pytest.fixture(scope="module")
def effects():
    """At 1% and two seeds: the insurance lever's effect (+0.1 pp) is within seed noise at smaller scales."""
    return lever_effects("action1_citizenization", scale=0.01, seeds=[1, 2], only=SETTLEMENT_LEVERS).set_index("lever")


@pytest.mark.parametrize(
    "lever",
    [
        "land_protection_share",  # settlers keep land: +37% willing to transfer (Zhu 2017)
        "insurance_enrolment_migrants",  # insured settle more: +23.2% (Li et al. 2021)
        "hukou_threshold_months",  # Taiyuan's 12 months to none: small, thresholds matter when high
    ],
)
def test_the_lever_raises_the_hukou_rate(effects, lever):
    assert effects.loc[lever, "hukou_2029_pp"] > 0, effects.loc[lever]


def test_land_rights_move_the_hukou_rate_most(effects):
    levers = effects.drop(index="action1_citizenization")
    assert levers["hukou_2029_pp"].idxmax() == "land_protection_share", levers["hukou_2029_pp"].round(3)
    assert effects.loc["action1_citizenization", "hukou_2029_pp"] > 0.3


def test_a_lever_the_scenario_does_not_set_is_refused():
    with pytest.raises(ValueError, match="not set by scenario"):
        lever_effects("hukou_only", scale=0.001, seeds=[1], only=["land_protection_share"])


def test_the_table_names_every_lever(effects):
    text = markdown(effects.reset_index(), "action1_citizenization", 0.005, [1])
    for lever in effects.index:
        assert f"`{lever}`" in text
