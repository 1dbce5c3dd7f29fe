"""The events of a household-month: their table, the bound that screens quiet households and the
demographic chances."""

import numba as nb
import numpy as np

from sim.kernel.types import Behaviour, Conditions
from sim.rng import draw_key, unit_float
from sim.state import COLLECTIVE, CONTRACT_LAND, EMPLOYED, HOMESTEAD, INSURED, OWN, PUBLIC_RENTAL, RENT, TRAINED


@nb.njit(cache=True)
def settle_combo(n_child, flags, tenure):
    """Index of the household's features in the settlement-probability table."""
    return (
        (n_child > 0) * 1
        + (tenure == OWN) * 2
        + ((flags & INSURED) > 0) * 4
        + ((flags & (CONTRACT_LAND | HOMESTEAD)) > 0) * 8
        + (tenure == PUBLIC_RENTAL) * 16
    )


# --------------------------------------------------------------------------------------- the rule
# events of a household-month: at most one happens (competing risks), chosen by one draw
(E_DEATH, E_BIRTH, E_CHILD_AGES, E_ADULT_AGES, E_DISPLACED, E_REVIEW, E_JOB, E_TRAINED, E_INSURED, E_SETTLE, E_BUY) = (
    range(11)
)
N_EVENTS = 11
# household types of the event-bound table (bits)
T_ADULT, T_EMPLOYED, T_TRAINED, T_INSURED, T_RENT = 1, 2, 4, 8, 16
N_TYPES = 32


def event_bounds(place_is_urban: np.ndarray, bh: Behaviour, c: Conditions) -> np.ndarray:
    """(n_places, N_TYPES): an upper bound, by place and household type, of the monthly chance of every
    event but the demographic ones (which the kernel computes exactly). A household whose draw is above
    its bound has a quiet month without evaluating its events one by one."""
    t = np.arange(N_TYPES)
    adult, employed = (t & T_ADULT) > 0, (t & T_EMPLOYED) > 0
    trained, insured, rent = (t & T_TRAINED) > 0, (t & T_INSURED) > 0, (t & T_RENT) > 0
    job = np.where(employed[None, :], bh.job_separation, c.job_find[:, None])
    adult_part = (
        (c.extra_review + bh.review_rate)[:, None] + job + np.where(trained[None, :], 0.0, c.training_prob[:, None])
    )
    insurance = np.where((employed & ~insured)[None, :], bh.insurance_uptake_month * c.insurance_rate[:, None], 0.0)
    urban_part = (
        insurance + c.settle_prob.max(axis=1)[:, None] + np.where(rent[None, :], c.buy_prob.max(axis=1)[:, None], 0.0)
    )
    bound = np.where(adult[None, :], adult_part, 0.0) + np.where(place_is_urban[:, None], urban_part, 0.0)
    return bound * (1.0 + 1e-9)  # margin for the different order of summation in the kernel


@nb.njit(cache=True)
def household_type(na, flags, tenure):
    return (
        (na > 0) * T_ADULT
        + ((flags & EMPLOYED) > 0) * T_EMPLOYED
        + ((flags & TRAINED) > 0) * T_TRAINED
        + ((flags & INSURED) > 0) * T_INSURED
        + (tenure == RENT) * T_RENT
    )


@nb.njit(cache=True)
def birth_probability(na, flags, age, birth_20s, birth_30s, birth_40s):
    """Monthly chance of a birth: households with an adult, not collective, head aged 20-49."""
    p = birth_20s if age < 30 else (birth_30s if age < 40 else birth_40s)
    return p if (na > 0) & ((flags & COLLECTIVE) == 0) & (age >= 20) & (age < 50) else 0.0


@nb.njit(cache=True)
def birthday_month(i, month):
    """Household i's head has a birthday this month (a twelfth of households each month). In 32 bits:
    a 64-bit % keeps the screening loops from vectorizing."""
    return np.uint32(i) % np.uint32(12) == np.uint32(month % 12)


@nb.njit(cache=True)
def event_slack(start, stop, h, bh, seed, month, slack, cell):
    """For households start..stop-1 (j = i - start): slack[j] = the month's draw minus the household's
    chance of a demographic event, or -1 when the household must go through the full rule anyway (an
    empty row, or a birthday that moves it between birth-exposure age groups at 20, 30, 40, 50); and
    cell[j] = its row of the event-bound table (place x type, flattened).

    Plain arithmetic on the household's own row, without table look-ups or early exits, on slices
    indexed from 0 (an index that could be negative would need a wrap-around check), so that the
    compiler vectorizes it.
    """
    n_child, n_adult, n_old, head_age = (
        h.n_child[start:stop],
        h.n_adult[start:stop],
        h.n_old[start:stop],
        h.head_age[start:stop],
    )
    flags_of, place_of, tenure_of = h.flags[start:stop], h.place[start:stop], h.tenure[start:stop]
    death_child, death_adult, death_old = bh.death_child, bh.death_adult, bh.death_old
    child_to_adult, adult_to_old = bh.child_to_adult, bh.adult_to_old
    birth_20s, birth_30s, birth_40s = bh.birth_20s, bh.birth_30s, bh.birth_40s
    for j in range(stop - start):
        i = start + j
        nc = np.int64(n_child[j])
        na = np.int64(n_adult[j])
        no = np.int64(n_old[j])
        age = np.int64(head_age[j])
        flags = np.int64(flags_of[j])
        u = unit_float(draw_key(seed, i, month))
        demography = (
            nc * death_child
            + na * death_adult
            + no * death_old
            + birth_probability(na, flags, age, birth_20s, birth_30s, birth_40s)
            + nc * child_to_adult
            + na * adult_to_old
        )
        boundary = birthday_month(i, month) & ((age == 19) | (age == 29) | (age == 39) | (age == 49))
        slack[j] = u - demography if (nc + na + no > 0) & (not boundary) else -1.0
        cell[j] = np.int32(place_of[j]) * N_TYPES + household_type(na, flags, np.int64(tenure_of[j]))


@nb.njit(cache=True)
def advance_quiet(start, stop, h, month, quiet):
    """Households start..stop-1 with quiet[i - start]: one more month here, no event, and the head's
    birthday if it is this month (`birthday_month`: every twelfth household, from the first with
    i % 12 == month % 12). Branch-free 8-bit arithmetic on slices indexed from 0, so that the compiler
    vectorizes the first loop; the second visits the birthdays only."""
    months = h.months_here[start:stop]
    event = h.event[start:stop]
    q = quiet[: stop - start].view(np.uint8)
    for j in range(stop - start):
        m = months[j]
        months[j] = m + (q[j] & np.uint8(m < np.uint8(255)))
        event[j] = event[j] & np.uint8(q[j] - np.uint8(1))  # quiet: & 0, otherwise & 255 (unchanged)
    head_age = h.head_age[start:stop]
    for j in range((month - start) % 12, stop - start, 12):
        age = head_age[j]
        head_age[j] = age + (q[j] & np.uint8(age < np.uint8(110)))
