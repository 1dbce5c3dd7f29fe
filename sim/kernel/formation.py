"""Leaving home: young adults who leave their parents' household and form one of their own.

Once a year, a family household whose head is of the parents' generation (at least
`leave_home_parent_min_age`) and that has two adults or more sends one adult out with the yearly
chance `leave_home_rate_year`. The leaver heads a new one-adult household (age drawn uniformly in
`leave_home_age`), with the parents' home county, hukou and skill and, for rural hukou, their share
of the family's land rights. The new household then chooses where to live like a household that
reconsiders, without the inertia of staying (young people leave for study and first jobs): staying
means setting up home at the parents' place. So both family migration (whole households moving, in
the monthly rule) and members who move alone (here) are in the model, and left-behind households
are the parents' rows that stay. The new household is linked to its parents' (kernel.family:
remittances, returns, reunion).

Two passes, so the result does not depend on threads: `leavers` lists the parents in household order
(the model takes the same list from `yearly.year_rows`, in one pass with the year's reclassification);
the caller grows the arrays by that many rows; `form_households` fills the new rows (row n + r for the
r-th parent) and makes their choice, in threads over parts of the parents (each new row reads only its
parent's row and its own). Draws are keyed by the parent's row and the month, with streams of their own.
"""

import numba as nb
import numpy as np

from sim.kernel.choice import NO_KIN, choice_tables, choose_place, household_values
from sim.kernel.family import link
from sim.kernel.rule import arrive
from sim.kernel.threads import map_parts, parts
from sim.kernel.types import N_OPTIONS
from sim.rng import S_LEAVE_HOME, S_LEAVE_HOME_AGE, S_LEAVE_HOME_EMPLOYED, draw_key, mix64, uniform
from sim.state import COLLECTIVE, CONTRACT_LAND, EMPLOYED, HOMESTEAD, OWN, POOL

_CHOICE_KEY = np.uint64(0x8CB92BA72F3D8DD7)  # separates the new row's choice draws from its monthly ones


@nb.njit(cache=True)
def leavers(h, rate, parent_min_age, seed, month):
    """The rows (in order) whose household sends a young adult out this year."""
    n = h.place.shape[0]
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if h.n_adult[i] < 2 or h.head_age[i] < parent_min_age or h.flags[i] & (COLLECTIVE | POOL):
            continue
        if uniform(draw_key(seed, i, month), S_LEAVE_HOME) < rate:
            out[k] = i
            k += 1
    return out[:k].copy()  # a copy, so the buffer of one slot per household is freed


def form_households(h, parents, first_row, age_min, age_max, st, bh, c, seed, month, formed, moved):
    """Fill rows first_row + r with the household formed by a young adult leaving parents[r], and
    let it choose where to live. Adds the people who formed households to `formed` and those who
    left the parents' place to `moved`, both by the place they now live.

    In threads over parts of the parents (kernel.threads): a new row reads only its parent's row and its
    own, and what is added up is integers, so the result does not depend on the split."""

    def part(start, stop):
        f, m = np.zeros_like(formed), np.zeros_like(moved)
        _form_households(start, stop, h, parents, first_row, age_min, age_max, st, bh, c, seed, month, f, m)
        return f, m

    for f, m in map_parts(part, parts(parents.shape[0], 4096)):
        formed += f
        moved += m


@nb.njit(cache=True, nogil=True)
def _form_households(start, stop, h, parents, first_row, age_min, age_max, st, bh, c, seed, month, formed, moved):
    """`form_households` for parents[start:stop]."""
    tables = choice_tables(st, c)
    opts = np.empty(N_OPTIONS, dtype=np.int64)
    prob = np.empty(N_OPTIONS)
    for r in range(start, stop):
        i = parents[r]
        j = first_row + r
        key = draw_key(seed, i, month)
        h.n_adult[i] -= 1
        place = np.int64(h.place[i])
        hukou = np.int64(h.hukou[i])
        origin = np.int64(h.origin[i])
        h.origin[j] = h.origin[i]
        h.place[j] = h.place[i]
        h.hukou[j] = h.hukou[i]
        h.n_child[j] = 0
        h.n_adult[j] = 1
        h.n_old[j] = 0
        h.head_age[j] = age_min + np.int64(uniform(key, S_LEAVE_HOME_AGE) * (age_max - age_min + 1))
        h.skill[j] = h.skill[i]
        flags = np.int64(h.flags[i]) & (CONTRACT_LAND | HOMESTEAD)
        if uniform(key, S_LEAVE_HOME_EMPLOYED) < c.emp_prob[place]:  # working where the parents live, or not
            flags |= EMPLOYED
        h.flags[j] = flags
        h.tenure[j] = OWN
        h.months_here[j] = 0
        h.event[j] = 0
        choice_key = mix64(key ^ _CHOICE_KEY)
        household = household_values(j, h)
        d = choose_place(j, household, tables, bh, seed, choice_key, True, NO_KIN, opts, prob)  # linked after it
        tenure, flags = arrive(
            d,
            hukou,
            origin,
            flags,
            choice_key,
            bh,
            c.public_rental_share,
            c.emp_prob,
            c.insurance_rate,
            st.place_is_urban,
        )
        h.place[j] = d
        h.tenure[j] = tenure
        h.flags[j] = flags
        link(i, j, h)  # after the choice: the first one is made on the leaver's own (see family)
        formed[d] += 1
        if d != place:
            moved[d] += 1
