"""The choice looks up the place part of moving home (option 1, the home village; option 2, the home
county seat) in Conditions.mover_utility when neither the household's homestead, local hukou or land
(at its village) nor returnee support (at its seat) counts. That is exact only if the table's value is,
bit for bit, `place_utility` computed for the household itself: checked here for every household of a
small province, with returnee support off and on."""

import numpy as np
import pytest

from sim import kernel as K
from sim import state as S
from tests.conftest import place_terms


@pytest.mark.parametrize("returnee_support", [0.0, 300.0])
def test_tabulated_moves_home_equal_the_full_utility(small_model_factory, returnee_support):
    m = small_model_factory(scale=0.002, rng=5)
    h, st = m.households, m.static
    bh = m.month_behaviour._replace(metro_portability=0.9, training_wage_uplift=0.2, returnee_support=returnee_support)
    c = m.month_conditions._replace(wage_arrears=np.full(len(st.place_is_urban), 0.05))
    c = c._replace(mover_utility=K.mover_utilities(st, bh, c))
    checked = full = 0
    for i in np.flatnonzero(h.n_adult > 0):
        opts, _ = K.choice_probabilities(i, h, st, bh, c, m.seed)
        origin, hukou = int(h.origin[i]), int(h.hukou[i])
        flags, skill = int(h.flags[i]), int(h.skill[i])
        trained, children = bool(flags & S.TRAINED), bool(h.n_child[i] > 0)
        homestead, land = bool(flags & S.HOMESTEAD), bool(flags & S.CONTRACT_LAND)
        oop_hukou = hukou == st.oop
        metro = not oop_hukou and bool(st.place_in_metro[hukou])
        column = K.mover_column(skill, trained, bool(h.n_adult[i] >= 2), children, metro, False)
        home_village = -1 if oop_hukou else 2 * origin + 1
        for d in opts[1:3]:
            if d < 0:
                continue
            d = int(d)
            local, at_home, at_seat = hukou == d, d == home_village, d == 2 * origin
            if (at_home and (homestead or local or land)) or (
                returnee_support != 0.0 and at_seat and not local and not oop_hukou
            ):
                full += 1
                continue
            at = place_terms(c, st, d, skill)
            # the household's own numbers where the table has its placeholders (unused by a move)
            earners = 2.0 if h.n_adult[i] >= 2 else 1.0
            hh = (trained, earners, 0.7, 0.5, homestead, land, children, metro, oop_hukou, 0.0)
            full_utility = K.place_utility(False, local, at_home, at_seat, 1.0, at, hh, bh)
            assert c.mover_utility[d, column + local] == full_utility
            checked += 1
    assert checked > 5_000 and full > 1_000
