"""Where a household reconsidering its place goes: the options, their utility and the logit choice."""

import math

import numba as nb
import numpy as np

from sim.kernel.types import N_OPTIONS, Behaviour, Conditions, Static
from sim.places import rural_place, urban_place
from sim.rng import S_CHOICE, S_LOT, draw_key, uniform
from sim.state import CONTRACT_LAND, DORM, EMPLOYED, HOMESTEAD, KIN, OWN, PUBLIC_RENTAL, TRAINED


@nb.njit(cache=True)
def n_earners(n_adult):
    """Earners a household's income counts: two for two adults or more, else one."""
    return 2.0 if n_adult >= 2 else 1.0


@nb.njit(inline="always", cache=True)
def option_places(i, origin, hukou, place, geography, seed, opts):
    """Fill `opts` with the 7 places a household can choose among (index 0 = stay); duplicates are -1.
    `geography`: (unit_city, core_cum, core_units, nearest_cluster_unit, taiyuan_city, oop) of `Static`."""
    unit_city, core_cum, core_units, nearest_cluster_unit, taiyuan_city, oop = geography
    lot = uniform(draw_key(seed, i, -1), S_LOT)
    city = unit_city[origin]
    opts[0] = place
    opts[1] = oop if hukou == oop else rural_place(origin)
    opts[2] = urban_place(origin)
    j = 0
    while j < core_cum.shape[1] - 1 and lot >= core_cum[city, j]:
        j += 1
    opts[3] = urban_place(core_units[city, j])
    j = 0
    while j < core_cum.shape[1] - 1 and lot >= core_cum[taiyuan_city, j]:
        j += 1
    opts[4] = urban_place(core_units[taiyuan_city, j])
    cluster = nearest_cluster_unit[origin]  # -1: no cluster town within the catchment
    opts[5] = urban_place(cluster) if cluster >= 0 else -1
    opts[6] = oop
    for a in range(1, N_OPTIONS):
        for b in range(a):
            if opts[a] == opts[b]:
                opts[a] = -1
                break


@nb.njit(cache=True)
def earned_at(wage_skill, arrears, urban, local, is_oop, trained, earners, training_wage_uplift):
    """Monthly earnings of a household's earners at a place when employed: the wage at its skill less
    expected arrears (migrants in towns), every earner, and the one trained member's premium (training pays
    in towns and cities)."""
    wage = wage_skill * (1.0 - arrears * (urban and not local))
    premium = training_wage_uplift * (trained and (urban or is_oop))
    return wage * (earners + premium)


@nb.njit(cache=True)
def place_utility(here, local, at_home, at_home_seat, kept, at, hh, bh):
    """The part of a household's utility of living at a place that the place gives: income, housing
    cost burden, school access (households with children), public services and social insurance.

    `kept`: the share of its earnings the household keeps there (1 - remittance_share for a household
    formed by a leaver living away from its parents, 1 otherwise).

    `at`: the place's values (wage at the household's skill, employment probability, rent, public
    rental share, rent subsidy, permit service share, school access, service level, insurance rate,
    wage arrears, urban?, in the metro area?, out of province?); `hh`: the household's (see
    fill_choice_weights). Tuples of numbers, not arrays: arrays passed to a function cost a
    reference-count update each per call, which doubled the time of the choice; over numbers it is an
    ordinary compiled call (LLVM inlines it), not inlined in numba's IR, which cost compile time at every
    call site."""
    (
        wage_skill,
        emp,
        rent,
        public,
        subsidy,
        permit,
        school_access,
        service,
        insurance_rate,
        arrears,
        urban,
        metro,
        is_oop,
    ) = at
    # fmt: off
    (trained, earners, stay_income, stay_cost, keeps_homestead, contract_land, has_children, metro_member, oop_hukou,
     received) = hh
    # fmt: on
    employed_earnings = earned_at(wage_skill, arrears, urban, local, is_oop, trained, earners, bh.training_wage_uplift)
    earned = employed_earnings * (stay_income if here else emp) * kept
    mover_cost = (
        0.0 if at_home and (keeps_homestead or local) else rent * (1.0 - public * (1.0 - bh.public_rent_factor))
    )
    cost = max((rent * stay_cost if here else mover_cost) - subsidy * (not local), 0.0)
    # farm income, returnee support and remittances received are the household's, counted once
    other = (
        bh.land_income_yuan_month * (at_home and contract_land)
        + bh.returnee_support * (at_home_seat and not local and not oop_hukou)
        + received
    )
    household_income = max(earned + other, 1.0)  # guard: log and burden need income > 0
    v = bh.beta_income * math.log(household_income) - bh.beta_housing * cost / household_income
    access = permit
    if metro_member and metro:
        access = max(access, bh.metro_portability)
    if urban:
        school = 1.0 if local else school_access
        services = service * (1.0 if local else access)
        insurance = 1.0 if local else insurance_rate
    elif is_oop:
        school, services, insurance = bh.oop_school_access, bh.oop_service_access, insurance_rate
    else:
        school, services, insurance = bh.rural_service_level, bh.rural_service_level, bh.rural_insurance
    v += bh.beta_school * school * has_children
    v += bh.beta_services * services + bh.beta_insurance * insurance
    return v


# columns of Conditions.mover_utility: a household type of the choice, x 2 for local hukou at the place
N_MOVER_TYPES = 192  # skill 3 x trained 2 x two earners 2 x children 2 x metro hukou 2 x remits 2, x local hukou 2


@nb.njit(cache=True)
def mover_column(skill, trained, two_earners, has_children, metro_member, remits):
    """Column of `Conditions.mover_utility` for a household moving to a place where it has no local
    hukou (the next column: where it has); `remits`: a leaver's household living away from its parents
    there, which keeps 1 - remittance_share of its earnings."""
    return (((((skill * 2 + trained) * 2 + two_earners) * 2 + has_children) * 2 + metro_member) * 2 + remits) * 2


@nb.njit(cache=True)
def _mover_utilities(st, bh, c, out):
    wage_of, emp_of, rent_of, public_of = c.wage, c.emp_prob, c.rent, c.public_rental_share
    subsidy_of, school_of, service_of, permit_of = c.rent_subsidy, c.school_access, c.service_level, c.permit_share
    insurance_of, arrears_of, is_urban, in_metro = (
        c.insurance_rate,
        c.wage_arrears,
        st.place_is_urban,
        st.place_in_metro,
    )
    for d in range(out.shape[0]):
        for skill in range(3):
            # fmt: off
            at = (wage_of[d, skill], emp_of[d], rent_of[d], public_of[d], subsidy_of[d],
                  permit_of[d], school_of[d], service_of[d], insurance_of[d], arrears_of[d],
                  is_urban[d], in_metro[d], d == st.oop)
            # fmt: on
            for trained in (False, True):
                for two in (False, True):
                    for children in (False, True):
                        for metro in (False, True):
                            hh = (trained, 2.0 if two else 1.0, 0.0, 0.0, False, False, children, metro, False, 0.0)
                            for remits in (False, True):
                                col = mover_column(skill, trained, two, children, metro, remits)
                                kept = 1.0 - bh.remittance_share * remits
                                for local in (False, True):
                                    out[d, col + local] = place_utility(False, local, False, False, kept, at, hh, bh)


def mover_utilities(st: Static, bh: Behaviour, c: Conditions) -> np.ndarray:
    """(n_places, N_MOVER_TYPES): `place_utility` of moving to each place, by household type, for a
    move that is not home (no land income, no homestead, no returnee support, no remittances received).
    The options past the home county seat (the prefecture city, Taiyuan, the metro-area town, out of
    province) are always such moves, so the choice looks their utility up here, tabulated once a month with the same
    arithmetic: the same value, without its logarithm, for most of the options."""
    out = np.empty((len(c.rent), N_MOVER_TYPES))
    _mover_utilities(st, bh, c, out)
    return out


@nb.njit(cache=True)
def choice_tables(st, c):
    """The arrays the choice reads, in one tuple for `fill_choice_weights`. The caller takes it once, before
    its loop over households. The choice used to take its arrays out of the records (`st`, `c`, the
    household arrays) itself, for every household: a reference-count update per array and household, more
    than half the time of a choice (237 against 111 ns, choices alone; the monthly rule 22.7 against 19.0
    ns per household-month; scale 0.1, 1 thread; the same results)."""
    # fmt: off
    return (c.wage, c.emp_prob, c.rent, c.public_rental_share, c.rent_subsidy, c.school_access, c.service_level,
            c.permit_share, c.insurance_rate, c.network, c.asc_place, c.wage_arrears, c.mover_utility,
            st.place_is_urban, st.place_in_metro, st.distance_term,
            (st.unit_city, st.core_cum, st.core_units, st.nearest_cluster_unit, st.taiyuan_city, st.oop))
    # fmt: on


# part of the hot loop (inlined into step_households): one pass over the options, long on purpose
@nb.njit(inline="always", cache=True)
def fill_choice_weights(i, household, tables, bh, seed, displaced, kin, opts, prob):
    """Fill `opts` with the option places (index 0 = stay; -1 = not an option) and `prob` with their
    utilities v (not read where there is no option); returns max v, from which `logit_weights` makes the
    weights exp(v - max v). `opts` and `prob` are scratch arrays allocated once per chunk.

    Utility of living at place d (plus inertia for staying, minus moving cost otherwise):
      beta_income ln(expected household income) - beta_housing rent burden
      + beta_school school access (households with children) + beta_services services
      + beta_insurance insurance + beta_network (home county's people at d) + place constant
      + beta_land (land rights held, at the home village) - beta_age (decades over 45, elsewhere)
      + stay_home_county_town (staying in a town of the household's home county)
      + beta_family (the place where the linked household lives: a leaver's parents, the parents' leaver).
    A household formed by a leaver keeps 1 - remittance_share of its earnings away from its parents; the
    parents' household counts the remittances it receives at every place.
    The first line and the next (`place_utility`) are computed for staying, and for the home village
    and the home county seat where the household's own homestead, local hukou, land or returnee support
    count there, and at every place for a household that receives remittances; otherwise they are looked
    up in `Conditions.mover_utility`, which holds the same arithmetic on the same numbers for a move. A
    household displaced by a shock has no inertia bonus for staying. The caller passes the household's values
    (`household`: place, origin, hukou, children, adults, head's age, skill, flags, tenure; `household_values`),
    the arrays (`tables`: `choice_tables`, taken once before its loop) and the family link's values (`kin`:
    `family_terms`).
    """
    place, origin, hukou, n_child, n_adult, age, skill, flags, tenure = household
    # fmt: off
    (wage_of, emp_of, rent_of, public_of, subsidy_of, school_of, service_of, permit_of, insurance_of, network, asc_of,
     arrears_of, mover_utility, is_urban, in_metro, distance, geography) = tables
    # fmt: on
    oop = geography[-1]
    oop_hukou = hukou == oop
    net_row = network.shape[0] - 1 if oop_hukou else origin  # the network's last row: out-of-province hukou
    earners = n_earners(n_adult)
    land_rights = ((flags & CONTRACT_LAND) > 0) + ((flags & HOMESTEAD) > 0)
    trained, contract_land = (flags & TRAINED) > 0, (flags & CONTRACT_LAND) > 0
    keeps_homestead = (flags & HOMESTEAD) > 0
    # the household's own income and housing cost factors at the place it lives now
    stay_income = 1.0 if flags & EMPLOYED else emp_of[place] * bh.unemployed_income_factor
    stay_cost = 0.0 if tenure == OWN or tenure == DORM else (bh.public_rent_factor if tenure == PUBLIC_RENTAL else 1.0)
    age_cost = bh.beta_age * (age - 45) / 10.0 if age > 45 else 0.0
    home_village = -1 if oop_hukou else rural_place(origin)
    home_seat = urban_place(origin)
    has_children = n_child > 0
    metro_member = not oop_hukou and in_metro[hukou]
    kin_place, remits, received = kin  # the family link (sim.kernel.family)
    column = mover_column(skill, trained, n_adult >= 2, has_children, metro_member, False)
    remit_column = mover_column(skill, trained, n_adult >= 2, has_children, metro_member, remits)
    own_terms_everywhere = received > 0.0  # remittances received: not in the table
    hh = (
        trained,
        earners,
        stay_income,
        stay_cost,
        keeps_homestead,
        contract_land,
        has_children,
        metro_member,
        oop_hukou,
        received,
    )
    option_places(i, origin, hukou, place, geography, seed, opts)
    vmax = -1e300
    # stay, home village, home county seat: the household's own tenure, land and support count
    for k in range(3):
        d = opts[k]
        if d < 0:
            continue
        local = hukou == d
        at_home = d == home_village
        at_home_seat = d == home_seat
        with_kin = d == kin_place
        # Moving home is a mover's move (the tabulated value: the same arithmetic on the same numbers) unless
        # the household's homestead, local hukou or land counts at its village, or returnee support at its seat
        if (
            k > 0
            and not own_terms_everywhere
            and not (at_home and (keeps_homestead or local or contract_land))
            and (bh.returnee_support == 0.0 or not (at_home_seat and not local and not oop_hukou))
        ):
            v = mover_utility[d, (column if with_kin else remit_column) + local]
        else:
            # fmt: off
            at = (wage_of[d, skill], emp_of[d], rent_of[d], public_of[d], subsidy_of[d],
                  permit_of[d], school_of[d], service_of[d], insurance_of[d], arrears_of[d],
                  is_urban[d], in_metro[d], d == oop)
            # fmt: on
            kept = 1.0 - bh.remittance_share * (remits and not with_kin)
            v = place_utility(k == 0, local, at_home, at_home_seat, kept, at, hh, bh)
        v += bh.beta_network * network[net_row, d] + asc_of[d] + bh.beta_family * with_kin
        v += bh.beta_land * land_rights if at_home else -age_cost
        v += bh.asc_stay * (not displaced) if k == 0 else -(bh.move_fixed_cost + bh.beta_distance * distance[place, d])
        v -= bh.return_cost * (k == 1)  # moving back to the home village (option 1 is never the place itself)
        # households in a town of their home county move least: its own urban hukou holders, and the county's rural
        # hukou holders living in its seat (moved within the county, most into a home of their own)
        v += bh.stay_home_county_town * (k == 0 and is_urban[d] and not oop_hukou and hukou // 2 == d // 2)
        prob[k] = v
        vmax = max(vmax, v)
    # the prefecture city, Taiyuan, the metro-area town, out of province: never here nor home (see
    # option_places), so their place part is tabulated
    for k in range(3, N_OPTIONS):
        d = opts[k]
        if d < 0:
            continue
        with_kin = d == kin_place
        if own_terms_everywhere:
            # fmt: off
            at = (wage_of[d, skill], emp_of[d], rent_of[d], public_of[d], subsidy_of[d],
                  permit_of[d], school_of[d], service_of[d], insurance_of[d], arrears_of[d],
                  is_urban[d], in_metro[d], d == oop)
            # fmt: on
            kept = 1.0 - bh.remittance_share * (remits and not with_kin)
            v = place_utility(False, hukou == d, False, False, kept, at, hh, bh)
        else:
            v = mover_utility[d, (column if with_kin else remit_column) + (hukou == d)]
        v += bh.beta_network * network[net_row, d] + asc_of[d] + bh.beta_family * with_kin
        v += -age_cost
        v += -(bh.move_fixed_cost + bh.beta_distance * distance[place, d])
        prob[k] = v
        vmax = max(vmax, v)
    return vmax


@nb.njit(cache=True)
def logit_weights(opts, utility, vmax, weight):
    """`weight` = exp(utility - vmax) of the options (0 where `opts` is -1); returns their sum."""
    total = 0.0
    for k in range(N_OPTIONS):
        w = math.exp(utility[k] - vmax) if opts[k] >= 0 else 0.0
        weight[k] = w
        total += w
    return total


STAY_BOUND_MARGIN = 1e-12  # relative; covers the rounding of surely_stays' bound and of the exact weights' sum


@nb.njit(cache=True)
def exp_above(x):
    """An upper bound of exp(x) for x <= 0 from multiplications only: (1 + t + t^2/2)^16 with t = x/16
    (exp(t) <= 1 + t + t^2/2 for t <= 0: the Taylor remainder t^3/6 exp(s) is negative), within 1% of exp(x)
    for x >= -2 and 11% at -5. Below -16 it returns the bound at -16 (still above exp(x), and below 1e-4)."""
    t = max(x, -16.0) * 0.0625
    b = 1.0 + t * (1.0 + 0.5 * t)
    b *= b
    b *= b
    b *= b
    return b * b


@nb.njit(cache=True)
def surely_stays(opts, utility, vmax, u):
    """True when the logit draw u picks staying (option 0) whatever the other options' exact weights: staying
    has the largest utility (its weight is exp(0) = 1) and u times an upper bound of the weights' sum is below
    1 (exp_above, with a margin for rounding). Most households that reconsider stay; for them the choice then
    needs no exponential."""
    if utility[0] != vmax:
        return False
    bound = 1.0
    for k in range(1, N_OPTIONS):
        bound += exp_above(utility[k] - vmax) if opts[k] >= 0 else 0.0
    return u * bound * (1.0 + STAY_BOUND_MARGIN) < 1.0


NO_KIN = (np.int64(-1), False, 0.0)  # `family_terms` of a household without a family link


@nb.njit(cache=True)
def family_terms(flags, kin_place, parent_row, remittance_in):
    """(kin place, remits, remittances received) of a household from its family-link fields: where the linked
    household lives (-1: none), whether it is a leaver whose parents live (it sends money home), and what its
    leavers send it (yuan/month). Read only where `flags` has KIN (sim.kernel.family); the monthly rule
    takes the fields' arrays out of the household tuple once, before its loop (reading them through the tuple
    inside the inlined choice made the whole rule half again as slow)."""
    if not flags & KIN:
        return NO_KIN
    kp = np.int64(kin_place)
    return kp, parent_row >= 0 and kp >= 0, np.float64(remittance_in)


@nb.njit(cache=True)
def household_values(i, h):
    """Household i's values the choice reads, from its row (see fill_choice_weights)."""
    # fmt: off
    return (np.int64(h.place[i]), np.int64(h.origin[i]), np.int64(h.hukou[i]), np.int64(h.n_child[i]),
            np.int64(h.n_adult[i]), np.int64(h.head_age[i]), np.int64(h.skill[i]), np.int64(h.flags[i]),
            np.int64(h.tenure[i]))
    # fmt: on


@nb.njit(cache=True)
def choice_probabilities(i, h, st, bh, c, seed, displaced=False):
    """The option places and their choice probabilities for household i (for tests and inspection)."""
    opts = np.empty(N_OPTIONS, dtype=np.int64)
    prob = np.empty(N_OPTIONS)
    kin = family_terms(np.int64(h.flags[i]), h.kin_place[i], h.parent_row[i], h.remittance_in[i])
    tables = choice_tables(st, c)
    vmax = fill_choice_weights(i, household_values(i, h), tables, bh, seed, displaced, kin, opts, prob)
    total = logit_weights(opts, prob, vmax, prob)
    return opts, prob / total


@nb.njit(inline="always", cache=True)
def logit_draw(opts, utility, vmax, u, stay_place):
    """The option the uniform draw u picks with the exact logit weights (overwrites `utility` with them)."""
    target = u * logit_weights(opts, utility, vmax, utility)
    acc = 0.0
    for k in range(N_OPTIONS):
        acc += utility[k]
        if target < acc:
            return opts[k]
    return stay_place


@nb.njit(inline="always", cache=True)
def choose_place(i, household, tables, bh, seed, key, displaced, kin, opts, weight):
    """Discrete choice among the option places (multinomial logit). Returns the chosen place. A stay the bound
    certifies (surely_stays) skips the exponentials; the result is the same option the exact weights pick."""
    vmax = fill_choice_weights(i, household, tables, bh, seed, displaced, kin, opts, weight)
    u = uniform(key, S_CHOICE)
    if surely_stays(opts, weight, vmax, u):
        return household[0]
    return logit_draw(opts, weight, vmax, u, household[0])
