"""A household that reconsiders where to live and stays (most of them) is decided without exponentials:
`choice.surely_stays` bounds the other options' logit weights from above (`exp_above`) and certifies the
stay when the draw falls below staying's share even under that bound. That is exact only if a certified
stay is always the option the exact weights pick (`logit_draw`), bit for bit: checked here on random and on
adversarial utilities (draws a hair below and above the exact boundary), and on the choices of a small
province. The bound must also be useful: it certifies most stays."""

import math

import numpy as np
import pytest

from sim import kernel as K
from sim.kernel import choice as C
from sim.rng import S_CHOICE, draw_key, uniform


def test_exp_above_is_an_upper_bound_of_exp():
    """Above exp(x) up to the rounding of its multiplications (a few ulps, which STAY_BOUND_MARGIN covers a
    hundred times over), and close to it where the other options' weights matter."""
    rng = np.random.default_rng(10)
    xs = np.concatenate(
        [-np.geomspace(1e-300, 745.0, 50_000), np.linspace(-20.0, 0.0, 50_001), -20.0 * rng.random(50_000)]
    )
    with np.errstate(over="ignore", divide="ignore"):
        over = np.array([C.exp_above(float(x)) for x in xs]) / np.exp(xs)
    assert (over >= 1.0 - 1e-14).all()
    assert 1e-14 * 100 <= C.STAY_BOUND_MARGIN
    assert over[xs >= -2.0].max() < 1.01


def _exact(opts, utility, vmax, u):
    return C.logit_draw(opts, utility.copy(), vmax, u, opts[0])


def _case(rng, n_missing):
    opts = np.arange(100, 100 + K.N_OPTIONS, dtype=np.int64)
    opts[rng.choice(np.arange(1, K.N_OPTIONS), n_missing, replace=False)] = -1
    utility = np.full(K.N_OPTIONS, np.nan)  # a missing option's utility is never read
    spread = rng.choice([0.5, 3.0, 10.0, 40.0])
    valid = opts >= 0
    utility[valid] = rng.normal(0.0, spread, valid.sum())
    if rng.random() < 0.8:  # most households: staying has the largest utility (inertia)
        utility[0] = np.nanmax(utility[valid]) + rng.exponential(2.0)
    return opts, utility, float(np.nanmax(utility[valid]))


def test_a_certified_stay_is_the_exact_choice_on_random_utilities():
    rng = np.random.default_rng(11)
    certified = stays = 0
    for _ in range(20_000):
        opts, utility, vmax = _case(rng, int(rng.integers(0, 3)))
        u = float(rng.random())
        sure = C.surely_stays(opts, utility, vmax, u)
        exact = _exact(opts, utility, vmax, u)
        assert not sure or exact == opts[0]
        certified += sure
        stays += exact == opts[0]
    assert certified > 0.9 * stays  # useful: most stays need no exponential


def test_a_certified_stay_is_the_exact_choice_at_the_boundary():
    """Draws a few ulps either side of the exact boundary (staying's exact share 1 / total): the bound may
    decline to certify, but never certifies a draw the exact weights send elsewhere."""
    rng = np.random.default_rng(12)
    declined = 0
    for _ in range(3_000):
        opts, utility, vmax = _case(rng, int(rng.integers(0, 3)))
        if utility[0] != vmax:
            continue
        weights = utility.copy()
        total = C.logit_weights(opts, utility, vmax, weights)
        edge = 1.0 / total
        for u in (edge, *np.nextafter(edge, [0.0, 1.0]), edge * (1 - 1e-13), edge * (1 + 1e-13)):
            u = float(min(u, np.nextafter(1.0, 0.0)))
            sure = C.surely_stays(opts, utility, vmax, u)
            assert not sure or _exact(opts, utility, vmax, u) == opts[0]
            declined += not sure
    assert declined > 0


def test_certified_stays_in_a_province_are_the_exact_choice(small_model_factory):
    """The utilities of a small province's households as the month's conditions offer them, with the month's
    own draw and 15 more per household."""
    m = small_model_factory(scale=0.002, rng=5)
    h = m.households
    tables = C.choice_tables(m.static, m.month_conditions)
    opts, utility = np.empty(K.N_OPTIONS, dtype=np.int64), np.empty(K.N_OPTIONS)
    rng = np.random.default_rng(13)
    stays = certified = 0
    for i in np.flatnonzero(h.n_adult > 0)[:3000]:
        kin = C.family_terms(np.int64(h.flags[i]), h.kin_place[i], h.parent_row[i], h.remittance_in[i])
        household = C.household_values(i, h)
        vmax = C.fill_choice_weights(i, household, tables, m.month_behaviour, m.seed, False, kin, opts, utility)
        assert opts[0] == household[0]
        month_draw = uniform(np.uint64(draw_key(m.seed, i, m.month)), S_CHOICE)
        for u in (month_draw, *rng.random(15)):
            sure = C.surely_stays(opts, utility, vmax, float(u))
            exact = C.logit_draw(opts, utility.copy(), vmax, float(u), opts[0])
            assert not sure or exact == opts[0]
            certified += sure
            stays += exact == opts[0]
    assert stays > 0.5 * 16 * 3000
    assert certified > 0.9 * stays


@pytest.mark.parametrize("x", [0.0, -1e-300, -8.0, -16.0, -745.0, -1e6])
def test_exp_above_edges(x):
    assert C.exp_above(x) >= math.exp(x)
