"""The monthly household rule, compiled with numba.

`step_households` is the one rule. It is called by `step_all` for every household (in parallel
over fixed chunks) and, through `step_household`, by `agents.Household.step()` for a single agent,
so the two paths are the same code. A household's update reads only its own row, last month's place
conditions and its own counter-based draws, so the result does not depend on stepping order or
thread count.

The rule also keeps the place totals: a household that had an event takes its old row out of the
counts and puts its new row in, and `step_all` returns the month's change (integers, so exact
whatever the thread count). `aggregate` counts the rows from scratch (at set-up, and in the tests
that check the running counts).

Compile time: only helpers that take arrays (the choice, the counts) are inlined in numba's IR
(`inline="always"`), because an array passed in a call costs a reference-count update. Helpers over
numbers (the draws, places, events' chances, `place_utility`) are ordinary compiled functions, which LLVM
inlines just as well: IR inlining repeats numba's type inference at every call site, and undoing it for
them cut the cold compile of this rule from 15.4 to 9.6 s and of the formation pass from 7.8 to 3.9 s,
with the same speed and bit-identical results. The rule runs fastest called from a compiled caller (the
parallel `_step_all`), whose module LLVM optimizes again with the rule linked in: called straight from
Python it took 30 ns per household-month against 23 (scale 0.1, 1 thread).
"""

import numba as nb
import numpy as np

from sim.kernel.choice import choice_tables, choose_place, family_terms
from sim.kernel.counts import Counts, _sum_chunks, count_flows, count_stocks, n_chunks, zero_counts
from sim.kernel.events import (
    E_ADULT_AGES,
    E_BIRTH,
    E_BUY,
    E_CHILD_AGES,
    E_DEATH,
    E_DISPLACED,
    E_INSURED,
    E_JOB,
    E_REVIEW,
    E_SETTLE,
    E_TRAINED,
    N_EVENTS,
    advance_quiet,
    birth_probability,
    birthday_month,
    event_slack,
    settle_combo,
)
from sim.kernel.types import BLOCK, N_OPTIONS
from sim.places import is_rural_place, rural_place
from sim.rng import S_EMPLOY_AFTER_MOVE, S_INSURED, S_LAND, S_TENURE, draw_key, uniform, unit_float
from sim.state import (
    COLLECTIVE,
    CONTRACT_LAND,
    DORM,
    EMPLOYED,
    EV_BIRTH,
    EV_BOUGHT,
    EV_DEATH,
    EV_DISSOLVED,
    EV_LEFT_AS_MIGRANT,
    EV_MOVED,
    EV_RETURNED,
    EV_SETTLED,
    HOMESTEAD,
    INSURED,
    OWN,
    PUBLIC_RENTAL,
    RENT,
    TRAINED,
)


@nb.njit(inline="always", cache=True)
def arrive(d, hukou, origin, flags, key, bh, public_rental_share, emp_prob, insurance_rate, place_is_urban):
    """A household settling in at place d: its tenure there and its job and insurance flags.

    Home to its own homestead or to a place where it holds hukou, it most likely owns; a collective
    unit lives in a dormitory; others rent, in public rental housing at the place's share. It finds a
    job with the place's employment probability and, in a town, joins employee insurance at the
    place's enrolment rate (locals at `insured_if_local`). Returns (tenure, flags)."""
    if d == rural_place(origin) and (flags & HOMESTEAD or hukou == d):
        tenure = OWN
    elif hukou == d and uniform(key, S_TENURE) < bh.own_home_if_local:
        tenure = OWN
    elif flags & COLLECTIVE:
        tenure = DORM
    elif uniform(key, S_TENURE) < public_rental_share[d]:
        tenure = PUBLIC_RENTAL
    else:
        tenure = RENT
    if uniform(key, S_EMPLOY_AFTER_MOVE) < emp_prob[d]:
        flags |= EMPLOYED
    else:
        flags &= ~EMPLOYED
    insured_rate = bh.insured_if_local if hukou == d else insurance_rate[d]
    if place_is_urban[d] and uniform(key, S_INSURED) < insured_rate:
        flags |= INSURED
    else:
        flags &= ~INSURED
    return tenure, flags


# the hot loop, one pass over each household's events: long and branchy on purpose
@nb.njit(cache=True)
def step_households(start, stop, h, st, bh, c, seed, month, t_home, t_hukou, t_age, t_bexp, t_place):  # noqa: C901
    """Advance households start..stop-1 by one month; add what changed to the counts t_* (stock
    differences and this month's flows).

    Each household-month has one draw u, and at most one event happens: the events' monthly chances are
    laid end to end on [0, 1) and u picks the one it falls in (competing risks; every event keeps its own
    chance). In order: a death, a birth, a child turning 15, an adult turning 60, being displaced by a
    shock, reconsidering where to live, losing or finding a job, training, enrolling in social insurance,
    taking local hukou, buying a home. Most households draw above the sum of their chances (bounded from
    a table by place and type, `event_bounds`; the draw minus the demographic chances comes from
    `event_slack`, a block at a time): they only count another month at their place, and their counts
    stay as they are. The others go through the full rule, their old counts out and their new in.
    What follows an event (where a mover lives, whether a settler keeps land) uses further draws of
    its own, keyed by (seed, household, month, decision).

    The arrays are taken out of their tuples once, before the loop: reading a field of a tuple of
    arrays inside the loop costs a reference-count update per access, which dominated the rule.
    """
    n_child, n_adult, n_old, head_age = h.n_child, h.n_adult, h.n_old, h.head_age
    place_of, hukou_of, origin_of, skill_of = h.place, h.hukou, h.origin, h.skill
    flags_of, tenure_of, months_of, event_of = h.flags, h.tenure, h.months_here, h.event
    kin_place_of, parent_row_of, remittance_of = h.kin_place, h.parent_row, h.remittance_in
    job_find, training_prob, extra_review, event_bound = c.job_find, c.training_prob, c.extra_review, c.event_bound
    public_rental_share, emp_prob, insurance_rate = c.public_rental_share, c.emp_prob, c.insurance_rate
    threshold_months, settle_prob, buy_prob = c.threshold_months, c.settle_prob, c.buy_prob
    place_in_shanxi, place_is_urban, oop = st.place_in_shanxi, st.place_is_urban, st.oop
    death_child, death_adult, death_old = bh.death_child, bh.death_adult, bh.death_old
    child_to_adult, adult_to_old = bh.child_to_adult, bh.adult_to_old
    tables = choice_tables(st, c)  # the arrays of the place choice
    opts = np.empty(N_OPTIONS, dtype=np.int64)  # scratch for the place choice
    prob = np.empty(N_OPTIONS)
    chance = np.empty(N_EVENTS)  # scratch: this household's chance of each event
    slack = np.empty(BLOCK)
    cell = np.empty(BLOCK, dtype=np.int32)
    quiet = np.empty(BLOCK, dtype=np.bool_)
    rest = np.empty(BLOCK, dtype=np.int64)
    bound = event_bound.ravel()
    for block in range(start, stop, BLOCK):
        block_stop = min(stop, block + BLOCK)
        event_slack(block, block_stop, h, bh, seed, month, slack, cell)
        n_rest = 0
        for j in range(block_stop - block):
            q = slack[j] >= bound[cell[j]]
            quiet[j] = q
            rest[n_rest] = block + j  # the households with more than a quiet month, listed
            n_rest += not q  # without a branch (which would often be mispredicted)
        advance_quiet(block, block_stop, h, month, quiet)
        for r in range(n_rest):
            i = rest[r]
            place = np.int64(place_of[i])
            na = np.int64(n_adult[i])
            flags = np.int64(flags_of[i])
            tenure = np.int64(tenure_of[i])
            nc = np.int64(n_child[i])
            no = np.int64(n_old[i])
            if nc + na + no == 0:
                event_of[i] = 0
                continue
            key = draw_key(seed, i, month)
            u = unit_float(key)
            age = np.int64(head_age[i])
            here = min(np.int64(months_of[i]) + 1, 255)
            birthday = birthday_month(i, month) and age < 110
            p_child, p_adult, p_old = nc * death_child, na * death_adult, no * death_old
            p_birth = birth_probability(na, flags, age, bh.birth_20s, bh.birth_30s, bh.birth_40s)
            # --- one event (or none): the chance of each, then the one u falls in
            hukou = np.int64(hukou_of[i])
            origin = np.int64(origin_of[i])
            place0, hukou0, nc0, na0, no0, flags0, tenure0, age0 = place, hukou, nc, na, no, flags, tenure, age
            employed = (flags & EMPLOYED) > 0
            urban_migrant = place_is_urban[place] and hukou != place
            chance[E_DEATH] = p_child + p_adult + p_old
            chance[E_BIRTH] = p_birth
            chance[E_CHILD_AGES] = nc * child_to_adult
            chance[E_ADULT_AGES] = na * adult_to_old
            chance[E_DISPLACED] = extra_review[place] if na > 0 else 0.0
            chance[E_REVIEW] = bh.review_rate if na > 0 else 0.0
            chance[E_JOB] = (bh.job_separation if employed else job_find[place]) if na > 0 else 0.0
            trainable = (
                na > 0 and not flags & TRAINED and place_in_shanxi[place] and is_rural_place(hukou) and hukou != oop
            )
            chance[E_TRAINED] = training_prob[place] if trainable else 0.0
            enrols = urban_migrant and employed and not flags & INSURED
            chance[E_INSURED] = bh.insurance_uptake_month * insurance_rate[place] if enrols else 0.0
            settles = urban_migrant and here >= threshold_months[place]
            chance[E_SETTLE] = settle_prob[place, settle_combo(nc, flags, tenure)] if settles else 0.0
            buys = place_is_urban[place] and tenure == RENT and here >= 12
            chance[E_BUY] = buy_prob[place, skill_of[i]] if buys else 0.0
            e = -1
            for k in range(N_EVENTS):
                if u < chance[k]:
                    e = k
                    break
                u -= chance[k]
            ev = 0
            review = displaced = False
            if e == E_DEATH:  # u is now the position within the death segment
                if u < p_child:
                    nc -= 1
                elif u < p_child + p_adult:
                    na -= 1
                else:
                    no -= 1
                ev |= EV_DEATH
            elif e == E_BIRTH:
                nc = min(nc + 1, 255)
                ev |= EV_BIRTH
            elif e == E_CHILD_AGES:
                nc -= 1
                na += 1
            elif e == E_ADULT_AGES:
                na -= 1
                no += 1
            elif e == E_DISPLACED:  # displaced by a shock: reconsider, without the inertia of staying
                review = displaced = True
            elif e == E_REVIEW:
                review = True
            elif e == E_JOB:  # Harris-Todaro: the place's employment probability sets the finding rate
                if employed:
                    flags &= ~EMPLOYED
                    review = True  # a household that loses its job reconsiders where to live
                else:
                    flags |= EMPLOYED
            elif e == E_TRAINED:  # subsidised vocational training (lever A1.3a)
                flags |= TRAINED
            elif e == E_INSURED:  # social insurance at the place of work (lever A1.5)
                flags |= INSURED
            elif e == E_SETTLE:  # take local hukou: a separate decision with its own hazard
                hukou = place
                hukou_of[i] = place
                ev |= EV_SETTLED
                if flags & (CONTRACT_LAND | HOMESTEAD) and uniform(key, S_LAND) >= bh.land_protection:
                    flags &= ~(CONTRACT_LAND | HOMESTEAD)
            elif e == E_BUY:
                tenure = OWN
                ev |= EV_BOUGHT
            if birthday:
                age += 1
            n_child[i] = nc
            n_adult[i] = na
            n_old[i] = no
            head_age[i] = age
            if nc + na + no == 0:
                event_of[i] = ev | EV_DISSOLVED
                # fmt: off
                count_stocks(-1, place0, hukou0, origin, nc0, na0, no0, flags0, tenure0, age0, oop,
                             t_home, t_hukou, t_age, t_bexp, t_place)
                # fmt: on
                count_flows(ev, place, nc, na, no, t_place)
                continue
            months_of[i] = here
            if review:  # where to live: the 7-way logit
                flags_of[i] = flags
                kin = family_terms(flags, kin_place_of[i], parent_row_of[i], remittance_of[i])
                # the household's values in the order of choice.household_values, from the locals already read
                household = (place, origin, hukou, nc, na, age, np.int64(skill_of[i]), flags, tenure)
                d = choose_place(i, household, tables, bh, seed, key, displaced, kin, opts, prob)
                if d != place:
                    ev |= EV_MOVED
                    if hukou != place and place_in_shanxi[place]:
                        ev |= EV_LEFT_AS_MIGRANT
                    if d == rural_place(origin) or (hukou == oop and d == oop):
                        ev |= EV_RETURNED
                    tenure, flags = arrive(
                        d, hukou, origin, flags, key, bh, public_rental_share, emp_prob, insurance_rate, place_is_urban
                    )
                    place_of[i] = d
                    months_of[i] = 0
                    place = d
            tenure_of[i] = tenure
            flags_of[i] = flags
            event_of[i] = ev
            # the old row out of the counts and the new one in (most who reconsider stay: nothing changed)
            if (
                place != place0
                or hukou != hukou0
                or nc != nc0
                or na != na0
                or no != no0
                or flags != flags0
                or tenure != tenure0
                or age != age0
            ):
                # fmt: off
                count_stocks(-1, place0, hukou0, origin, nc0, na0, no0, flags0, tenure0, age0, oop,
                             t_home, t_hukou, t_age, t_bexp, t_place)
                # fmt: on
                # fmt: off
                count_stocks(1, place, hukou, origin, nc, na, no, flags, tenure, age, oop,
                             t_home, t_hukou, t_age, t_bexp, t_place)
                # fmt: on
            count_flows(ev, place, nc, na, no, t_place)


@nb.njit(cache=True)
def _step_household(i, h, st, bh, c, seed, month, t_home, t_hukou, t_age, t_bexp, t_place):
    step_households(i, i + 1, h, st, bh, c, seed, month, t_home, t_hukou, t_age, t_bexp, t_place)


def step_household(i, h, st, bh, c, seed, month, change: Counts) -> None:
    """Advance one household by one month (the agent path: the same rule as the bulk kernel),
    adding what changed to `change` (see `zero_counts`)."""
    _step_household(i, h, st, bh, c, seed, month, *change)


@nb.njit(parallel=True, cache=True)
def _step_all(h, st, bh, c, seed, month, t_home, t_hukou, t_age, t_bexp, t_place):
    n = h.place.shape[0]
    chunks = t_home.shape[0]
    chunk = (n + chunks - 1) // chunks
    for k in nb.prange(chunks):
        step_households(
            k * chunk,
            min(n, (k + 1) * chunk),
            h,
            st,
            bh,
            c,
            seed,
            month,
            t_home[k],
            t_hukou[k],
            t_age[k],
            t_bexp[k],
            t_place[k],
        )


def step_all(h, st, bh, c, seed, month) -> Counts:
    """Step every household (in parallel over fixed chunks); returns the month's change of the counts
    (integers, so exact whatever the thread count): `counts.advanced_by(change)` are the new counts."""
    n_places = st.place_is_urban.shape[0]
    change = zero_counts(st.unit_city.shape[0], n_places, n_chunks(h.place.shape[0]))
    with nb.parallel_chunksize(1):  # chunks handed to the threads one at a time, as each finishes its last
        _step_all(h, st, bh, c, seed, month, *change)
    return _sum_chunks(change)
