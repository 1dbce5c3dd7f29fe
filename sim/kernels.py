"""The monthly household rule, compiled with numba.

`step_households` is the one rule. It is called by `step_all` for every household (in parallel
over fixed chunks) and, through `step_household`, by `agents.Household.step()` for a single agent,
so the two paths are the same code. A household's update reads only its own row, last month's place conditions and
its own counter-based draws, so the result does not depend on stepping order or thread count.

`aggregate` sums the household rows into integer counts by place (exact, so also independent
of thread count); the model turns those counts into market conditions and indicators.
"""
import math
from typing import NamedTuple

import numba as nb
import numpy as np

from sim.rng import (S_AGE_ADULT, S_AGE_CHILD, S_BIRTH, S_BUY, S_CHOICE, S_DEATH, S_EMPLOY_AFTER_MOVE,
                     S_INSURED, S_JOB, S_LAND, S_LOT, S_REVIEW, S_SETTLE, S_TENURE, S_TRAIN, draw_key, uniform)
from sim.state import (COLLECTIVE, CONTRACT_LAND, DORM, EMPLOYED, EV_BIRTH, EV_BOUGHT, EV_DEATH,
                       EV_DISSOLVED, EV_LEFT_AS_MIGRANT, EV_MOVED, EV_RETURNED, EV_SETTLED, HOMESTEAD, INSURED, OWN,
                       PUBLIC_RENTAL, RENT, TRAINED)

N_OPTIONS = 7  # stay, home village, home county seat, prefecture city, Taiyuan, metro cluster town, out of province
N_SETTLE_COMBOS = 32
N_CHUNKS = 64   # fixed work split; counts are integers, so the split never changes a result


class Static(NamedTuple):
    """Geography the kernel needs (see sim.geography)."""
    place_unit: np.ndarray       # int16 (n_places)
    place_is_urban: np.ndarray   # bool: urban part of a Shanxi unit
    place_in_shanxi: np.ndarray  # bool
    unit_city: np.ndarray        # int16 (n_units)
    core_units: np.ndarray       # int16 (n_cities, max_core): district units of each city, -1 padded
    core_cum: np.ndarray         # float64 (n_cities, max_core): cumulative weights, 1.0 padded
    taiyuan_city: int
    nearest_cluster_unit: np.ndarray  # int16 (n_units)
    distance_term: np.ndarray    # float64 (n_places, n_places): ln(1 + road km / distance scale) between places
    oop: int                     # index of the out-of-province place
    place_in_metro: np.ndarray   # bool (n_places): in the Taiyuan metropolitan area


class Behaviour(NamedTuple):
    """Coefficients of the household rule (values and sources: conf/behaviour, sim/data/parameters.csv)."""
    review_rate: float          # per month: chance a household reconsiders where to live
    beta_income: float          # utility per unit of ln(expected household income, yuan/month)
    beta_distance: float        # utility cost per unit of ln(1 + km moved)
    move_fixed_cost: float      # utility cost of any move
    asc_stay: float             # utility bonus of staying put (inertia)
    beta_housing: float         # utility cost per unit of rent burden (rent / income)
    beta_school: float          # utility per unit of school access, households with children
    beta_services: float        # utility per unit of public-service access
    beta_insurance: float       # utility per unit of social-insurance coverage
    beta_network: float         # utility per unit share of the home county's people living there
    beta_land: float            # utility of the home village per rural land right held
    beta_age: float             # utility cost of leaving home per decade of head's age above 45
    unemployed_income_factor: float  # expected income of the unemployed relative to employed
    public_rent_factor: float   # rent paid in public rental housing relative to market rent
    land_income_yuan_month: float    # farm income of a household holding contract land
    own_home_if_local: float    # share of returning hukou holders who move into an owned home
    insured_if_local: float     # employee-insurance enrolment of local-hukou urban workers
    oop_school_access: float    # school access of Shanxi children out of province
    oop_service_access: float   # public-service access of Shanxi migrants out of province
    rural_insurance: float      # insurance coverage value in villages
    insurance_uptake_month: float  # monthly enrolment chance of an uninsured urban worker, x enrolment rate
    job_separation: float       # monthly chance an employed head loses the job
    death_child: float          # monthly death probability per person aged 0-14
    death_adult: float          # ... aged 15-59
    death_old: float            # ... aged 60+
    birth_20s: float            # monthly birth probability of a household whose head is 20-29
    birth_30s: float
    birth_40s: float
    child_to_adult: float       # monthly chance that one child turns 15, per child
    adult_to_old: float         # monthly chance that one adult turns 60, per adult
    land_protection: float      # chance a settling household keeps its land rights (lever A1.7)
    rural_service_level: float  # public-service and school level in villages, 0-1 (lever A2.6)
    training_wage_uplift: float  # wage premium of trained workers (lever A1.3a)
    returnee_support: float     # yuan/month for rural-hukou households at their home county seat (lever A2.4)
    metro_portability: float    # services share portable within the metro for metro-hukou residents (lever A3.4)


class Conditions(NamedTuple):
    """Place conditions for one month (from markets and policy)."""
    wage: np.ndarray            # float64 (n_places, 3): monthly wage of an employed worker by skill, yuan
    emp_prob: np.ndarray        # float64 (n_places): employment probability (Harris-Todaro)
    job_find: np.ndarray        # float64 (n_places): monthly job-finding chance of the unemployed
    rent: np.ndarray            # float64 (n_places): market rent of a migrant dwelling, yuan/month
    rent_subsidy: np.ndarray    # float64 (n_places): rent subsidy for non-hukou renters, yuan/month
    public_rental_share: np.ndarray  # float64: chance a newcomer renter gets public rental housing
    school_access: np.ndarray   # float64: access of non-hukou children to public schools, 0-1
    service_level: np.ndarray   # float64: public-service level, 0-1
    permit_share: np.ndarray    # float64: share of services open to residence-permit holders
    insurance_rate: np.ndarray  # float64: social-insurance enrolment of migrants, 0-1
    threshold_months: np.ndarray  # float64: residence months required to take local hukou
    asc_place: np.ndarray       # float64: place-type constant (county seat, city, Taiyuan, out of province)
    network: np.ndarray         # float64 (n_units + 1, n_places): share of a home unit's people living at a place
    settle_prob: np.ndarray     # float64 (n_places, 32): monthly chance of taking local hukou by household features
    buy_prob: np.ndarray        # float64 (n_places, 3): monthly chance a renting migrant buys a home, by skill
    wage_arrears: np.ndarray    # float64: expected share of migrant wages lost to arrears (lever A1.3b)
    training_prob: np.ndarray   # float64: monthly chance an untrained rural-hukou worker household is trained (A1.3a)
    extra_review: np.ndarray    # float64: monthly chance a household is displaced by a shock: it reconsiders, without inertia


@nb.njit(inline="always", cache=True)
def _earners(n_adult):
    return 2.0 if n_adult >= 2 else 1.0


@nb.njit(inline="always", cache=True)
def option_places(i, origin, hukou, place, st, seed):
    """The 7 places a household can choose among (index 0 = stay). Duplicates are marked -1."""
    opts = np.empty(N_OPTIONS, dtype=np.int64)
    lot = uniform(draw_key(seed, i, -1), S_LOT)
    city = st.unit_city[origin]
    opts[0] = place
    opts[1] = st.oop if hukou == st.oop else 2 * origin + 1
    opts[2] = 2 * origin
    j = 0
    while j < st.core_cum.shape[1] - 1 and lot >= st.core_cum[city, j]:
        j += 1
    opts[3] = 2 * st.core_units[city, j]
    j = 0
    while j < st.core_cum.shape[1] - 1 and lot >= st.core_cum[st.taiyuan_city, j]:
        j += 1
    opts[4] = 2 * st.core_units[st.taiyuan_city, j]
    opts[5] = 2 * st.nearest_cluster_unit[origin]
    opts[6] = st.oop
    for a in range(1, N_OPTIONS):
        for b in range(a):
            if opts[a] == opts[b]:
                opts[a] = -1
                break
    return opts


@nb.njit(inline="always", cache=True)
def choice_probabilities(i, h, st, bh, c, seed, displaced=False):
    """The option places (index 0 = stay; -1 = not an option) and their logit choice probabilities.

    Utility of living at place d (plus inertia for staying, minus moving cost otherwise):
      beta_income ln(expected household income) - beta_housing rent burden
      + beta_school school access (households with children) + beta_services services
      + beta_insurance insurance + beta_network (home county's people at d) + place constant
      + beta_land (land rights held, at the home village) - beta_age (decades over 45, elsewhere).
    A household displaced by a shock has no inertia bonus for staying. The arrays are taken out of
    their tuples once per call (see step_households).
    """
    place = np.int64(h.place[i])
    origin = np.int64(h.origin[i])
    hukou = np.int64(h.hukou[i])
    n_child, n_adult, age = h.n_child[i], h.n_adult[i], np.int64(h.head_age[i])
    skill, flags, tenure = h.skill[i], np.int64(h.flags[i]), h.tenure[i]
    wage_of, emp_of, rent_of, public_of = c.wage, c.emp_prob, c.rent, c.public_rental_share
    subsidy_of, school_of, service_of, permit_of = c.rent_subsidy, c.school_access, c.service_level, c.permit_share
    insurance_of, network, asc_of, arrears_of = c.insurance_rate, c.network, c.asc_place, c.wage_arrears
    is_urban, in_metro, distance, oop = st.place_is_urban, st.place_in_metro, st.distance_term, st.oop
    net_row = st.place_unit.shape[0] // 2 if hukou == oop else origin
    earners = _earners(n_adult)
    land_rights = ((flags & CONTRACT_LAND) > 0) + ((flags & HOMESTEAD) > 0)
    opts = option_places(i, origin, hukou, place, st, seed)
    prob = np.zeros(N_OPTIONS)
    vmax = -1e300
    for k in range(N_OPTIONS):
        d = opts[k]
        if d < 0:
            continue
        local = hukou == d
        urban = is_urban[d]
        home_village = d == 2 * origin + 1 and hukou != oop
        wage = wage_of[d, skill]
        if flags & TRAINED and (urban or d == oop):
            wage *= 1.0 + bh.training_wage_uplift   # training pays in non-farm jobs in towns and cities
        if urban and not local:
            wage *= 1.0 - arrears_of[d]
        if d == place:
            if flags & EMPLOYED:
                income = wage
            else:
                income = wage * emp_of[d] * bh.unemployed_income_factor
            if tenure == OWN or tenure == DORM:
                cost = 0.0
            elif tenure == PUBLIC_RENTAL:
                cost = rent_of[d] * bh.public_rent_factor
            else:
                cost = rent_of[d]
        else:
            income = wage * emp_of[d]
            if home_village and (flags & HOMESTEAD or local):
                cost = 0.0
            else:
                cost = rent_of[d] * (1.0 - public_of[d] * (1.0 - bh.public_rent_factor))
        if not local:
            cost -= subsidy_of[d]
        if cost < 0.0:
            cost = 0.0
        if home_village and flags & CONTRACT_LAND:
            income += bh.land_income_yuan_month
        if d == 2 * origin and not local and hukou != oop:
            income += bh.returnee_support
        household_income = max(income * earners, 1.0)  # guard: log and burden need income > 0
        v = bh.beta_income * math.log(household_income) - bh.beta_housing * cost / household_income
        if urban:
            school = 1.0 if local else school_of[d]
            access = permit_of[d]
            if in_metro[d] and hukou != oop and in_metro[hukou] and bh.metro_portability > access:
                access = bh.metro_portability
            services = service_of[d] * (1.0 if local else access)
            insurance = 1.0 if local else insurance_of[d]
        elif d == oop:
            school = bh.oop_school_access
            services = bh.oop_service_access
            insurance = insurance_of[d]
        else:
            school = bh.rural_service_level
            services = bh.rural_service_level
            insurance = bh.rural_insurance
        if n_child > 0:
            v += bh.beta_school * school
        v += bh.beta_services * services + bh.beta_insurance * insurance
        v += bh.beta_network * network[net_row, d] + asc_of[d]
        if home_village:
            v += bh.beta_land * land_rights
        elif age > 45:
            v -= bh.beta_age * (age - 45) / 10.0
        if k == 0:
            if not displaced:
                v += bh.asc_stay
        else:
            v -= bh.move_fixed_cost + bh.beta_distance * distance[place, d]
        prob[k] = v
        if v > vmax:
            vmax = v
    total = 0.0
    for k in range(N_OPTIONS):
        if opts[k] >= 0:
            prob[k] = math.exp(prob[k] - vmax)
            total += prob[k]
    for k in range(N_OPTIONS):
        prob[k] /= total
    return opts, prob


@nb.njit(inline="always", cache=True)
def choose_place(i, h, st, bh, c, seed, key, displaced=False):
    """Discrete choice among the option places (multinomial logit). Returns the chosen place."""
    opts, prob = choice_probabilities(i, h, st, bh, c, seed, displaced)
    u = uniform(key, S_CHOICE)
    acc = 0.0
    for k in range(N_OPTIONS):
        if opts[k] >= 0:
            acc += prob[k]
            if u < acc:
                return opts[k]
    return h.place[i]


@nb.njit(inline="always", cache=True)
def settle_combo(n_child, flags, tenure):
    """Index of the household's features in the settlement-probability table."""
    return ((n_child > 0) * 1 + (tenure == OWN) * 2 + ((flags & INSURED) > 0) * 4
            + ((flags & (CONTRACT_LAND | HOMESTEAD)) > 0) * 8 + (tenure == PUBLIC_RENTAL) * 16)


@nb.njit(cache=True)
def step_households(start, stop, h, st, bh, c, seed, month):
    """Advance households start..stop-1 by one month: demography, job, where to live, hukou, housing.

    The arrays are taken out of their tuples once, before the loop: reading a field of a tuple of
    arrays inside the loop costs a reference-count update per access, which dominated the rule.
    """
    n_child, n_adult, n_old, head_age = h.n_child, h.n_adult, h.n_old, h.head_age
    place_of, hukou_of, origin_of, skill_of = h.place, h.hukou, h.origin, h.skill
    flags_of, tenure_of, months_of, event_of = h.flags, h.tenure, h.months_here, h.event
    job_find, training_prob, extra_review = c.job_find, c.training_prob, c.extra_review
    public_rental_share, emp_prob, insurance_rate = c.public_rental_share, c.emp_prob, c.insurance_rate
    threshold_months, settle_prob, buy_prob = c.threshold_months, c.settle_prob, c.buy_prob
    place_in_shanxi, place_is_urban, oop = st.place_in_shanxi, st.place_is_urban, st.oop
    for i in range(start, stop):
        nc = np.int64(n_child[i])
        na = np.int64(n_adult[i])
        no = np.int64(n_old[i])
        if nc + na + no == 0:
            event_of[i] = 0
            continue
        key = draw_key(seed, i, month)
        flags = np.int64(flags_of[i])
        ev = 0
        # --- demography
        u = uniform(key, S_DEATH)
        p_child = nc * bh.death_child
        p_adult = na * bh.death_adult
        if u < p_child + p_adult + no * bh.death_old:
            if u < p_child:
                nc -= 1
            elif u < p_child + p_adult:
                na -= 1
            else:
                no -= 1
            ev |= EV_DEATH
        age = np.int64(head_age[i])
        if na > 0 and not flags & COLLECTIVE and 20 <= age < 50:
            pb = bh.birth_20s if age < 30 else (bh.birth_30s if age < 40 else bh.birth_40s)
            if uniform(key, S_BIRTH) < pb:
                nc += 1
                ev |= EV_BIRTH
        if nc > 0 and uniform(key, S_AGE_CHILD) < nc * bh.child_to_adult:
            nc -= 1
            na += 1
        if na > 0 and uniform(key, S_AGE_ADULT) < na * bh.adult_to_old:
            na -= 1
            no += 1
        if month % 12 == i % 12 and age < 110:
            age += 1
        n_child[i] = min(nc, 255)
        n_adult[i] = min(na, 255)
        n_old[i] = min(no, 255)
        head_age[i] = age
        if nc + na + no == 0:
            event_of[i] = ev | EV_DISSOLVED
            continue
        # --- job (Harris-Todaro: the place's employment probability sets the finding rate)
        place = np.int64(place_of[i])
        hukou = np.int64(hukou_of[i])
        lost_job = False
        if na > 0:
            if flags & EMPLOYED:
                if uniform(key, S_JOB) < bh.job_separation:
                    flags &= ~EMPLOYED
                    lost_job = True
            elif uniform(key, S_JOB) < job_find[place]:
                flags |= EMPLOYED
        # --- subsidised vocational training (rural-hukou households with a worker)
        if na > 0 and not flags & TRAINED and place_in_shanxi[place] and hukou % 2 == 1 and hukou != oop:
            if uniform(key, S_TRAIN) < training_prob[place]:
                flags |= TRAINED
        # --- where to live: households with a working-age member reconsider now and then, on job
        #     loss, or when a shock displaces them (then without the inertia of staying)
        moved = False
        u_review = uniform(key, S_REVIEW) if na > 0 else 1.0
        displaced = u_review < extra_review[place]
        if na > 0 and (lost_job or u_review < extra_review[place] + bh.review_rate):
            flags_of[i] = flags
            d = choose_place(i, h, st, bh, c, seed, key, displaced)
            if d != place:
                moved = True
                ev |= EV_MOVED
                origin = np.int64(origin_of[i])
                if hukou != place and place_in_shanxi[place]:
                    ev |= EV_LEFT_AS_MIGRANT
                if d == 2 * origin + 1 or (hukou == oop and d == oop):
                    ev |= EV_RETURNED
                if d == 2 * origin + 1 and (flags & HOMESTEAD or hukou == d):
                    tenure = OWN
                elif hukou == d and uniform(key, S_TENURE) < bh.own_home_if_local:
                    tenure = OWN
                elif flags & COLLECTIVE:
                    tenure = DORM
                elif uniform(key, S_TENURE) < public_rental_share[d]:
                    tenure = PUBLIC_RENTAL
                else:
                    tenure = RENT
                tenure_of[i] = tenure
                if uniform(key, S_EMPLOY_AFTER_MOVE) < emp_prob[d]:
                    flags |= EMPLOYED
                else:
                    flags &= ~EMPLOYED
                insured_rate = bh.insured_if_local if hukou == d else insurance_rate[d]
                if place_is_urban[d] and uniform(key, S_INSURED) < insured_rate:
                    flags |= INSURED
                else:
                    flags &= ~INSURED
                place_of[i] = d
                months_of[i] = 0
                place = d
        if not moved:
            if months_of[i] < 255:
                months_of[i] += 1
            tenure = np.int64(tenure_of[i])
            if place_is_urban[place]:
                # social insurance at the place of work (lever A1.5)
                if not flags & INSURED and flags & EMPLOYED and hukou != place:
                    if uniform(key, S_INSURED) < bh.insurance_uptake_month * insurance_rate[place]:
                        flags |= INSURED
                # take local hukou (settle): a separate decision with its own hazard
                if hukou != place and months_of[i] >= threshold_months[place]:
                    combo = settle_combo(nc, flags, tenure)
                    if uniform(key, S_SETTLE) < settle_prob[place, combo]:
                        hukou_of[i] = place
                        ev |= EV_SETTLED
                        if flags & (CONTRACT_LAND | HOMESTEAD) and uniform(key, S_LAND) >= bh.land_protection:
                            flags &= ~(CONTRACT_LAND | HOMESTEAD)
                # buy a home
                if tenure == RENT and months_of[i] >= 12 and uniform(key, S_BUY) < buy_prob[place, skill_of[i]]:
                    tenure_of[i] = OWN
                    ev |= EV_BOUGHT
        flags_of[i] = flags
        event_of[i] = ev


@nb.njit(cache=True)
def step_household(i, h, st, bh, c, seed, month):
    """Advance one household by one month (the agent path: the same rule as the bulk kernel)."""
    step_households(i, i + 1, h, st, bh, c, seed, month)


@nb.njit(parallel=True, cache=True)
def step_all(h, st, bh, c, seed, month):
    """Step every household (parallel over fixed chunks of the household arrays)."""
    n = h.place.shape[0]
    chunk = (n + N_CHUNKS - 1) // N_CHUNKS
    for k in nb.prange(N_CHUNKS):
        step_households(k * chunk, min(n, (k + 1) * chunk), h, st, bh, c, seed, month)


# per-place counters filled by `aggregate` (rows of one integer array)
PLACE_COUNTERS = (
    "households",          # households
    "workers",             # members aged 15-59
    "employed_workers",    # members aged 15-59 of households whose head is employed
    "settled",             # people of households that took local hukou this month
    "moved_in",            # people who moved in this month
    "returned",            # people who moved back home this month (at home)
    "births",              # births this month
    "deaths",              # deaths this month
    "left_as_migrant",     # people who moved away this month from a place where they had no local hukou (at the new place)
    "migrants",            # people living in Shanxi at a place other than their hukou place
    "migrant_households",  # households living in Shanxi away from their hukou place
    "migrant_children",    # children 0-14 of those households
    "migrant_workers",     # members 15-59 of those households
    "migrant_renters",     # those households renting on the market
    "renters",             # households renting on the market
    "owners",              # households owning their home
    "trainable",           # rural-hukou households with a worker, not yet trained
    "trained",             # households with a trained worker
    "returnee_households",  # rural-hukou households living at their home county seat
)
_F = {name: i for i, name in enumerate(PLACE_COUNTERS)}
F_HH, F_WORKERS, F_EMPLOYED, F_SETTLED, F_MOVED, F_RETURNED, F_BIRTHS, F_DEATHS = range(8)
(F_LEFT, F_MIGRANTS, F_MIG_HH, F_MIG_CHILD, F_MIG_WORK, F_MIG_RENT, F_RENT, F_OWN, F_TRAINABLE, F_TRAINED,
 F_RETURNEE) = range(8, 19)


class Counts(NamedTuple):
    """Integer counts of the (sampled) households. People unless said otherwise."""
    people_by_home_place: np.ndarray   # (n_units + 1, n_places): by home unit (last row: other-province hukou)
    people_by_hukou_place: np.ndarray  # (n_places)
    age_groups: np.ndarray             # (n_places, 3): people aged 0-14, 15-59, 60+
    birth_exposure: np.ndarray         # (3,): households with an adult and a head aged 20-29 / 30-39 / 40-49 (not collective)
    place: np.ndarray                  # (len(PLACE_COUNTERS), n_places): see PLACE_COUNTERS

    def __getattr__(self, name):       # counts.households, counts.settled, ... are rows of `place`
        try:
            return self.place[_F[name]]
        except KeyError:
            raise AttributeError(name) from None


@nb.njit(parallel=True, cache=True)
def _aggregate(h, n_rows, oop, out_home, out_hukou, out_age, out_bexp, out):
    n = h.place.shape[0]
    chunk = (n + N_CHUNKS - 1) // N_CHUNKS
    for k in nb.prange(N_CHUNKS):
        for i in range(k * chunk, min(n, (k + 1) * chunk)):
            nc = np.int64(h.n_child[i])
            na = np.int64(h.n_adult[i])
            no = np.int64(h.n_old[i])
            size = nc + na + no
            p = h.place[i]
            ev = h.event[i]
            if ev & EV_DEATH:
                out[k, F_DEATHS, p] += 1
            if size == 0:
                continue
            hukou = h.hukou[i]
            flags = h.flags[i]
            row = n_rows - 1 if hukou == oop else h.origin[i]
            out_home[k, row, p] += size
            out_hukou[k, hukou] += size
            out_age[k, p, 0] += nc
            out_age[k, p, 1] += na
            out_age[k, p, 2] += no
            out[k, F_HH, p] += 1
            out[k, F_WORKERS, p] += na
            if flags & EMPLOYED:
                out[k, F_EMPLOYED, p] += na
            if ev & EV_SETTLED:
                out[k, F_SETTLED, p] += size
            if ev & EV_MOVED:
                out[k, F_MOVED, p] += size
            if ev & EV_RETURNED:
                out[k, F_RETURNED, p] += size
            if ev & EV_BIRTH:
                out[k, F_BIRTHS, p] += 1
            if ev & EV_LEFT_AS_MIGRANT:
                out[k, F_LEFT, p] += size
            tenure = h.tenure[i]
            if tenure == RENT:
                out[k, F_RENT, p] += 1
            elif tenure == OWN:
                out[k, F_OWN, p] += 1
            if hukou != p and p != oop:
                out[k, F_MIGRANTS, p] += size
                out[k, F_MIG_HH, p] += 1
                out[k, F_MIG_CHILD, p] += nc
                out[k, F_MIG_WORK, p] += na
                if tenure == RENT:
                    out[k, F_MIG_RENT, p] += 1
            rural_hukou = hukou != oop and hukou % 2 == 1
            if flags & TRAINED:
                out[k, F_TRAINED, p] += 1
            elif rural_hukou and na > 0:
                out[k, F_TRAINABLE, p] += 1
            if rural_hukou and p == 2 * h.origin[i]:
                out[k, F_RETURNEE, p] += 1
            if na > 0 and not flags & COLLECTIVE:
                a = h.head_age[i]
                if 20 <= a < 30:
                    out_bexp[k, 0] += 1
                elif 30 <= a < 40:
                    out_bexp[k, 1] += 1
                elif 40 <= a < 50:
                    out_bexp[k, 2] += 1


def aggregate(h, n_units: int, n_places: int, oop: int) -> Counts:
    """Sum the household rows into `Counts` (integers, so exact whatever the thread count)."""
    rows = n_units + 1
    home = np.zeros((N_CHUNKS, rows, n_places), np.int64)
    hukou = np.zeros((N_CHUNKS, n_places), np.int64)
    age = np.zeros((N_CHUNKS, n_places, 3), np.int64)
    bexp = np.zeros((N_CHUNKS, 3), np.int64)
    out = np.zeros((N_CHUNKS, len(PLACE_COUNTERS), n_places), np.int64)
    _aggregate(h, rows, oop, home, hukou, age, bexp, out)
    return Counts(people_by_home_place=home.sum(0), people_by_hukou_place=hukou.sum(0), age_groups=age.sum(0),
                  birth_exposure=bexp.sum(0), place=out.sum(0))
