"""The family link (sim.kernel.family): census migrants and leavers linked to their parents' household,
remittances counted once, the family pull in the choice, and the year-end indicators, each checked
against a count made here from the rows."""

import numpy as np
import pytest

from sim import kernel as K
from sim import state as S
from sim.config import compose
from sim.model import ShanxiModel
from tests.conftest import place_terms


def _alive(h, rows):
    return h.size()[rows] > 0


def _earnings(m, rows):
    """What `family.earnings` computes, in numpy: earners' wages less arrears for migrants in towns, with
    the trained member's premium; nothing while unemployed."""
    h, st, bh, c = m.households, m.static, m.month_behaviour, m.month_conditions
    place, hukou = h.place[rows].astype(int), h.hukou[rows].astype(int)
    urban = st.place_is_urban[place]
    wage = c.wage[place, h.skill[rows]] * (1.0 - c.wage_arrears[place] * (urban & (hukou != place)))
    trained = (h.flags[rows] & S.TRAINED) > 0
    premium = bh.training_wage_uplift * (trained & (urban | (place == st.oop)))
    earners = np.where(h.n_adult[rows] >= 2, 2.0, 1.0)
    employed = ((h.flags[rows] & S.EMPLOYED) > 0) & (h.n_adult[rows] > 0)
    return np.where(employed, wage * (earners + premium), 0.0)


@pytest.fixture(scope="module")
def run_2022():
    m = ShanxiModel(scale=0.003, rng=5, end_year=2022)
    census = m.households.copy()
    m.run()
    return m, census


def test_census_migrants_are_linked_to_parents_in_their_home_village(run_2022):
    _, h = run_2022
    cfg = compose([])
    b = cfg.behaviour
    linked = np.flatnonzero(h.parent_row >= 0)
    parents = h.parent_row[linked]
    assert len(linked) > 1000
    village = 2 * h.origin[linked].astype(int) + 1
    # the migrant: the village's rural hukou, living elsewhere, head under the age limit, a family household
    assert (h.hukou[linked] == village).all() and (h.place[linked] != village).all()
    assert (h.head_age[linked] < b.census_migrant_max_head_age).all()
    assert not (h.flags[linked] & (S.COLLECTIVE | S.POOL)).any()
    # the parents: the same village, living there with its hukou, head of the parents' generation
    assert (h.place[parents] == village).all() and (h.hukou[parents] == village).all()
    assert (h.head_age[parents] >= b.leave_home_parent_min_age).all()
    assert (h.flags[linked] & S.KIN).all() and (h.flags[parents] & S.KIN).all()
    # about the stated share of the eligible migrants (those whose village has candidate parents)
    size = h.size()
    eligible_village = np.zeros(256, bool)
    cand = (size > 0) & (h.place == 2 * h.origin.astype(int) + 1) & (h.hukou == h.place)
    cand &= (h.head_age >= b.leave_home_parent_min_age) & ((h.flags & (S.COLLECTIVE | S.POOL)) == 0)
    eligible_village[h.origin[cand]] = True
    migrant = (size > 0) & (h.hukou == 2 * h.origin.astype(int) + 1) & (h.place != h.hukou)
    migrant &= (h.head_age < b.census_migrant_max_head_age) & ((h.flags & (S.COLLECTIVE | S.POOL)) == 0)
    migrant &= eligible_village[h.origin]
    share = len(linked) / migrant.sum()
    assert abs(share - b.census_migrants_with_parents_share) < 0.03, share


def test_leavers_are_linked_and_every_pair_knows_where_the_other_lives(run_2022):
    m, census = run_2022
    h = m.households
    new = np.arange(census.n, h.n)
    assert len(new) > 500
    assert (h.parent_row[new] >= 0).all() and (h.parent_row[new] < census.n).all()
    assert (h.flags[new] & S.KIN).all() and (h.flags[h.parent_row[new]] & S.KIN).all()
    # after a refresh, each linked household holds its kin's place (-1 when the other has died out);
    # a parents' household with several leavers holds the latest one's (the highest row)
    K.refresh_family(h, m.month_behaviour, m.month_conditions, m.static.place_is_urban, m.static.oop)
    children = np.flatnonzero(h.parent_row >= 0)
    parents = h.parent_row[children]
    both = _alive(h, children) & _alive(h, parents)
    assert (h.kin_place[children[both]] == h.place[parents[both]]).all()
    assert (h.kin_place[children[~both]] == -1).all()
    latest = {}
    for j, p in zip(children[both], parents[both]):
        if h.parent_row[p] < 0:  # a household with parents of its own linked holds their place
            latest[p] = j  # rows ascend: the last one wins
    ps = np.fromiter(latest, int)
    assert (h.kin_place[ps] == h.place[np.fromiter(latest.values(), int)]).all()


def test_remittances_are_counted_once(run_2022):
    """What the leavers away from their parents send (their share of their earnings) is what the parents'
    households receive; leavers at their parents' place and pairs with a member's household gone send nothing."""
    m, _ = run_2022
    h = m.households
    K.refresh_family(h, m.month_behaviour, m.month_conditions, m.static.place_is_urban, m.static.oop)
    children = np.flatnonzero(h.parent_row >= 0)
    parents = h.parent_row[children]
    sends = _alive(h, children) & _alive(h, parents) & (h.place[children] != h.place[parents])
    sent = m.month_behaviour.remittance_share * _earnings(m, children) * sends
    received = np.zeros(h.n)
    np.add.at(received, parents, sent)
    assert np.allclose(h.remittance_in, received, rtol=1e-5, atol=1e-2)
    assert h.remittance_in.sum(dtype=float) == pytest.approx(sent.sum(), rel=1e-5) and sent.sum() > 0


def test_year_end_indicators_count_the_left_behind_and_the_remittances(run_2022):
    m, _ = run_2022
    h = m.households
    children = np.flatnonzero(h.parent_row >= 0)
    parents = h.parent_row[children]
    away = _alive(h, children) & _alive(h, parents) & (h.place[children] != h.place[parents])
    in_village = (h.place[parents] % 2 == 1) & (h.place[parents] != m.static.oop)
    left_behind = len(np.unique(parents[away & in_village]))
    rows = {(r[3]): r[4] for r in m.rows if r[0] == 2022 and r[1] == "province"}
    assert rows["left_behind_households"] == pytest.approx(left_behind * m.weight)
    assert rows["left_behind_households"] > 0 and rows["remittances_received_yuan"] > 0


def test_the_family_pull_and_the_remittance_move_the_choice(run_2022):
    """A linked household's choice probability of the place where its kin lives rises with beta_family;
    the table's remitting columns are `place_utility` at the kept share of earnings."""
    m, _ = run_2022
    h, st, c = m.households, m.static, m.month_conditions
    bh = m.month_behaviour
    K.refresh_family(h, bh, c, st.place_is_urban, st.oop)
    no_pull = bh._replace(beta_family=0.0)
    c0 = c._replace(mover_utility=K.mover_utilities(st, no_pull, c))
    rose = checked = 0
    for i in np.flatnonzero(((h.flags & S.KIN) > 0) & (h.kin_place >= 0) & (h.n_adult > 0))[:3000]:
        opts, p = K.choice_probabilities(i, h, st, bh, c, m.seed)
        opts0, p0 = K.choice_probabilities(i, h, st, no_pull, c0, m.seed)
        k = np.flatnonzero(opts == h.kin_place[i])
        if len(k):
            checked += 1
            rose += p[k[0]] > p0[k[0]]
    assert checked > 200 and rose == checked
    # the remitting columns of the monthly table
    for d in range(0, st.oop + 1, 7):
        for skill in range(3):
            at = place_terms(c, st, d, skill)
            for local in (False, True):
                col = K.mover_column(skill, True, False, True, False, True)
                hh = (True, 1.0, 0.0, 0.0, False, False, True, False, False, 0.0)
                kept = 1.0 - bh.remittance_share
                assert c.mover_utility[d, col + local] == K.place_utility(False, local, False, False, kept, at, hh, bh)


def test_without_links_nobody_is_linked_and_no_money_moves():
    cfg = compose(
        [
            "population.scale=0.002",
            "seed=7",
            "run.end_year=2021",
            "behaviour.leave_home_rate_year=0",
            "behaviour.census_migrants_with_parents_share=0",
        ]
    )
    m = ShanxiModel(config=cfg)
    m.run()
    h = m.households
    assert not (h.flags & S.KIN).any() and (h.parent_row == -1).all() and (h.remittance_in == 0).all()
    rows = {(r[3]): r[4] for r in m.rows if r[0] == 2021 and r[1] == "province"}
    assert rows["left_behind_households"] == 0 and rows["remittances_received_yuan"] == 0


def test_a_household_agent_knows_its_parents():
    m = ShanxiModel(scale=0.001, rng=3, end_year=2021)
    m.run()
    h = m.households
    j = int(np.flatnonzero(h.parent_row >= 0)[-1])
    agent = m.household_agent(j)
    assert agent.index == j and agent.parents is m.household_agent(int(h.parent_row[j]))
    assert agent.parents.parents is None or agent.parents.parents.index == h.parent_row[h.parent_row[j]]
    assert agent.kin_place_name in (None, m.place_name(int(h.kin_place[j])))
    assert m.household_agent(0).remittances_received_yuan_month >= 0.0
