"""Single-household cases written as data, checked against a hand computation of the logit rule."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim import kernel as K
from sim import state as S
from tests.conftest import place_terms

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "household_choice.yaml").read_text(encoding="utf-8"))
SKILL = {"low": 0, "middle": 1, "high": 2}
TENURE = {"own": S.OWN, "rent": S.RENT, "public_rental": S.PUBLIC_RENTAL, "dorm": S.DORM}


def toy_static():
    g = CASES["geography"]
    km = np.asarray(g["km"], float)
    return K.Static(
        place_unit=np.array([0, 0, 1, 1, -1], np.int16),
        place_is_urban=np.array(g["place_is_urban"]),
        place_in_shanxi=np.array([True, True, True, True, False]),
        unit_city=np.array([0, 0], np.int16),
        core_units=np.array([[0]], np.int16),
        core_cum=np.array([[1.0]]),
        taiyuan_city=0,
        nearest_cluster_unit=np.array([1, 1], np.int16),
        distance_term=np.log1p(km / 100.0),
        oop=4,
        place_in_metro=np.zeros(5, bool),
    )


def toy_behaviour():
    b = dict(CASES["behaviour"])
    fields = {f: 0.0 for f in K.Behaviour._fields}
    fields.update(b)
    fields["review_rate"] = 1.0
    return K.Behaviour(**fields)


def toy_conditions():
    c = CASES["conditions"]
    n = 5
    wage = np.outer(np.asarray(c["wage_middle_skill"], float), [0.8, 1.0, 1.4])
    network = np.zeros((3, n))
    network[1] = c["network_from_unit_1"]
    arr = lambda k: np.asarray(c[k], float)  # noqa: E731
    c = K.Conditions(
        wage=wage,
        emp_prob=arr("emp_prob"),
        job_find=np.zeros(n),
        rent=arr("rent"),
        rent_subsidy=arr("rent_subsidy"),
        public_rental_share=arr("public_rental_share"),
        school_access=arr("school_access"),
        service_level=arr("service_level"),
        permit_share=arr("permit_share"),
        insurance_rate=arr("insurance_rate"),
        threshold_months=np.zeros(n),
        asc_place=arr("asc_place"),
        network=network,
        settle_prob=np.zeros((n, K.N_SETTLE_COMBOS)),
        buy_prob=np.zeros((n, 3)),
        wage_arrears=np.zeros(n),
        training_prob=np.zeros(n),
        extra_review=np.zeros(n),
        event_bound=np.zeros((n, K.N_TYPES)),
        mover_utility=np.zeros((n, K.N_MOVER_TYPES)),
    )
    return c._replace(mover_utility=K.mover_utilities(toy_static(), toy_behaviour(), c))


def one_household(spec):
    h = S.empty(1)
    for k in ("origin", "place", "hukou", "n_child", "n_adult", "n_old", "head_age"):
        getattr(h, k)[0] = spec[k]
    h.skill[0] = SKILL[spec["skill"]]
    h.tenure[0] = TENURE[spec["tenure"]]
    h.flags[0] = (
        S.EMPLOYED * spec["employed"] | S.CONTRACT_LAND * spec["contract_land"] | S.HOMESTEAD * spec["homestead"]
    )
    return h


def hand_utility(d, hh, b, c, g):
    """The README's utility, written out plainly."""
    urban = g["place_is_urban"][d]
    local = hh["hukou"] == d
    home_village = d == 2 * hh["origin"] + 1
    skill_factor = [0.8, 1.0, 1.4][SKILL[hh["skill"]]]
    wage = c["wage_middle_skill"][d] * skill_factor
    if d == hh["place"]:
        income = wage if hh["employed"] else wage * c["emp_prob"][d] * b["unemployed_income_factor"]
        cost = {"own": 0.0, "dorm": 0.0, "public_rental": c["rent"][d] * b["public_rent_factor"], "rent": c["rent"][d]}[
            hh["tenure"]
        ]
    else:
        income = wage * c["emp_prob"][d]
        cost = (
            0.0
            if home_village and (hh["homestead"] or local)
            else c["rent"][d] * (1 - c["public_rental_share"][d] * (1 - b["public_rent_factor"]))
        )
    if not local:
        cost = max(0.0, cost - c["rent_subsidy"][d])
    y = income * (2.0 if hh["n_adult"] >= 2 else 1.0)  # every earner's wage
    if home_village and hh["contract_land"]:
        y += b["land_income_yuan_month"]  # farm income is the household's, counted once
    v = b["beta_income"] * math.log(y) - b["beta_housing"] * cost / y
    if urban:
        school, services = (
            (1.0 if local else c["school_access"][d]),
            c["service_level"][d] * (1 if local else c["permit_share"][d]),
        )
        insurance = 1.0 if local else c["insurance_rate"][d]
    elif d == 4:
        school, services, insurance = b["oop_school_access"], b["oop_service_access"], c["insurance_rate"][d]
    else:
        school = services = b["rural_service_level"]
        insurance = b["rural_insurance"]
    v += (
        (b["beta_school"] * school if hh["n_child"] > 0 else 0.0)
        + b["beta_services"] * services
        + b["beta_insurance"] * insurance
        + b["beta_network"] * c["network_from_unit_1"][d]
        + c["asc_place"][d]
    )
    if home_village:
        v += b["beta_land"] * (hh["contract_land"] + hh["homestead"])
    elif hh["head_age"] > 45:
        v -= b["beta_age"] * (hh["head_age"] - 45) / 10
    if d == hh["place"]:
        return v + b["asc_stay"]
    return v - b["move_fixed_cost"] - b["beta_distance"] * math.log1p(g["km"][hh["place"]][d] / 100.0)


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_choice_probabilities(case):
    h = one_household(case["household"])
    opts, prob = K.choice_probabilities(0, h, toy_static(), toy_behaviour(), toy_conditions(), 7)
    valid = opts >= 0
    assert list(opts[valid]) == case["options"]
    # the kernel agrees with the case's hand-computed numbers ...
    np.testing.assert_allclose(prob[valid], case["expected"], atol=5e-5)
    # ... and with the formula written out plainly
    v = np.array(
        [
            hand_utility(d, case["household"], CASES["behaviour"], CASES["conditions"], CASES["geography"])
            for d in case["options"]
        ]
    )
    p = np.exp(v - v.max())
    np.testing.assert_allclose(prob[valid], p / p.sum(), rtol=1e-10)


def test_settlement_hazard_table():
    """The monthly chance of taking local hukou is the logistic of the stated log-odds."""
    from sim.model import ShanxiModel

    m = ShanxiModel(scale=0.0005, rng=1)
    b = m.beh
    c = m.month_conditions
    p = 0  # Taiyuan's first district core
    school = float(c.school_access[p])
    land_protection = m.month_behaviour.land_protection
    # a family with children, renting, insured, holding land
    combo = K.settle_combo(1, S.INSURED | S.HOMESTEAD, S.RENT)
    logit = (
        b["fitted"]["settle_intercept"]
        + b["settle_children"] * (1 - school)
        + b["settle_insured"]
        + b["settle_land"] * (1 - land_protection)
    )
    assert c.settle_prob[p, combo] == pytest.approx(1 / (1 + math.exp(-logit)), rel=1e-12)
    # nobody settles in a village
    assert (c.settle_prob[1] == 0).all()


def test_tabulated_moves_equal_the_full_utility(small_model_factory):
    """The choice looks up the place part of the utility of options 3-6 (prefecture city, Taiyuan,
    metro-area town, out of province) in Conditions.mover_utility. That is exact only if those options
    are never the place the household lives in, its home village or its home county seat, and if the
    table's column is the household's type: both checked here for every household of a small province,
    against `place_utility` computed for the household itself."""
    m = small_model_factory(scale=0.002, rng=5)
    h, st = m.households, m.static
    # levers on, so that every column of the table differs from its neighbours
    bh = m.month_behaviour._replace(metro_portability=0.9, training_wage_uplift=0.2, returnee_support=300.0)
    c = m.month_conditions._replace(wage_arrears=np.full(len(st.place_is_urban), 0.05))
    c = c._replace(mover_utility=K.mover_utilities(st, bh, c))
    checked = 0
    for i in np.flatnonzero(h.n_adult > 0):
        opts, _ = K.choice_probabilities(i, h, st, bh, c, m.seed)
        place, origin, hukou = int(h.place[i]), int(h.origin[i]), int(h.hukou[i])
        flags, skill = int(h.flags[i]), int(h.skill[i])
        trained, children = bool(flags & S.TRAINED), bool(h.n_child[i] > 0)
        metro = hukou != st.oop and bool(st.place_in_metro[hukou])
        column = K.mover_column(skill, trained, bool(h.n_adult[i] >= 2), children, metro, False)
        for d in opts[3:]:
            if d < 0:
                continue
            d = int(d)
            assert d not in (place, 2 * origin, 2 * origin + 1), (i, d)
            local = hukou == d
            at = place_terms(c, st, d, skill)
            hh = (
                trained,
                2.0 if h.n_adult[i] >= 2 else 1.0,
                0.0,
                0.0,
                bool(flags & S.HOMESTEAD),
                bool(flags & S.CONTRACT_LAND),
                children,
                metro,
                hukou == st.oop,
                0.0,
            )
            assert c.mover_utility[d, column + local] == K.place_utility(False, local, False, False, 1.0, at, hh, bh)
            checked += 1
    assert checked > 10_000
