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
"""
import math
from typing import NamedTuple

import numba as nb
import numpy as np

from sim.rng import S_CHOICE, S_EMPLOY_AFTER_MOVE, S_INSURED, S_LAND, S_LOT, S_TENURE, draw_key, uniform, unit_float
from sim.state import (COLLECTIVE, CONTRACT_LAND, DORM, EMPLOYED, EV_BIRTH, EV_BOUGHT, EV_DEATH,
                       EV_DISSOLVED, EV_LEFT_AS_MIGRANT, EV_MOVED, EV_RETURNED, EV_SETTLED, HOMESTEAD, INSURED, OWN,
                       PUBLIC_RENTAL, RENT, TRAINED)

N_OPTIONS = 7  # stay, home village, home county seat, prefecture city, Taiyuan, metro cluster town, out of province
N_SETTLE_COMBOS = 32
N_CHUNKS = 64   # work split of a large population; counts are integers, so the split never changes a result
MIN_CHUNK = 8192  # households per chunk at least: a small population gets fewer chunks (less to zero and sum)
BLOCK = 1024    # households screened for a quiet month at a time (event_slack)


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
    event_bound: np.ndarray     # float64 (n_places, N_TYPES): bound of the non-demographic event chances (event_bounds)
    mover_utility: np.ndarray   # float64 (n_places, N_MOVER_TYPES): the place part of a move's utility (mover_utilities)


@nb.njit(inline="always", cache=True)
def _earners(n_adult):
    return 2.0 if n_adult >= 2 else 1.0


@nb.njit(inline="always", cache=True)
def option_places(i, origin, hukou, place, st, seed, opts):
    """Fill `opts` with the 7 places a household can choose among (index 0 = stay); duplicates are -1."""
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


@nb.njit(inline="always", cache=True)
def place_utility(here, local, at_home, at_home_seat, at, hh, bh):
    """The part of a household's utility of living at a place that the place gives: income, housing
    cost burden, school access (households with children), public services and social insurance.

    `at`: the place's values (wage at the household's skill, employment probability, rent, public
    rental share, rent subsidy, permit service share, school access, service level, insurance rate,
    wage arrears, urban?, in the metro area?, out of province?); `hh`: the household's (see
    fill_choice_weights). Tuples of numbers, not arrays: arrays passed to an inlined function cost a
    reference-count update each per call, which doubled the time of the choice."""
    wage_skill, emp, rent, public, subsidy, permit, school_access, service, insurance_rate, arrears, urban, metro, is_oop = at
    trained, earners, stay_income, stay_cost, keeps_homestead, contract_land, has_children, metro_member, oop_hukou = hh
    wage = (wage_skill * (1.0 + bh.training_wage_uplift * (trained and (urban or is_oop)))
            * (1.0 - arrears * (urban and not local)))   # training pays in towns and cities
    income = wage * (stay_income if here else emp)
    mover_cost = 0.0 if at_home and (keeps_homestead or local) else rent * (1.0 - public * (1.0 - bh.public_rent_factor))
    cost = max((rent * stay_cost if here else mover_cost) - subsidy * (not local), 0.0)
    income += (bh.land_income_yuan_month * (at_home and contract_land)
               + bh.returnee_support * (at_home_seat and not local and not oop_hukou))
    household_income = max(income * earners, 1.0)  # guard: log and burden need income > 0
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
N_MOVER_TYPES = 96   # skill 3 x trained 2 x two earners 2 x children 2 x metro hukou 2, x local hukou 2


@nb.njit(inline="always", cache=True)
def mover_column(skill, trained, two_earners, has_children, metro_member):
    """Column of `Conditions.mover_utility` for a household moving to a place where it has no local
    hukou (the next column: where it has)."""
    return ((((skill * 2 + trained) * 2 + two_earners) * 2 + has_children) * 2 + metro_member) * 2


@nb.njit(cache=True)
def _mover_utilities(st, bh, c, out):
    wage_of, emp_of, rent_of, public_of = c.wage, c.emp_prob, c.rent, c.public_rental_share
    subsidy_of, school_of, service_of, permit_of = c.rent_subsidy, c.school_access, c.service_level, c.permit_share
    insurance_of, arrears_of, is_urban, in_metro = c.insurance_rate, c.wage_arrears, st.place_is_urban, st.place_in_metro
    for d in range(out.shape[0]):
        for skill in range(3):
            at = (wage_of[d, skill], emp_of[d], rent_of[d], public_of[d], subsidy_of[d], permit_of[d], school_of[d],
                  service_of[d], insurance_of[d], arrears_of[d], is_urban[d], in_metro[d], d == st.oop)
            for trained in (False, True):
                for two in (False, True):
                    for children in (False, True):
                        for metro in (False, True):
                            col = mover_column(skill, trained, two, children, metro)
                            hh = (trained, 2.0 if two else 1.0, 0.0, 0.0, False, False, children, metro, False)
                            for local in (False, True):
                                out[d, col + local] = place_utility(False, local, False, False, at, hh, bh)


def mover_utilities(st: Static, bh: Behaviour, c: Conditions) -> np.ndarray:
    """(n_places, N_MOVER_TYPES): `place_utility` of moving to each place, by household type, for a
    move that is not home (no land income, no homestead, no returnee support). The options past the
    home county seat (the prefecture city, Taiyuan, the metro-area town, out of province) are always
    such moves, so the choice looks their utility up here, tabulated once a month with the same
    arithmetic: the same value, without its logarithm, for most of the options."""
    out = np.empty((len(c.rent), N_MOVER_TYPES))
    _mover_utilities(st, bh, c, out)
    return out


@nb.njit(inline="always", cache=True)
def fill_choice_weights(i, h, st, bh, c, seed, displaced, opts, prob):
    """Fill `opts` with the option places (index 0 = stay; -1 = not an option) and `prob` with their
    logit weights exp(v - max v) (0 for no option); returns the weights' sum, by which they divide into
    choice probabilities. `opts` and `prob` are scratch arrays allocated once per chunk.

    Utility of living at place d (plus inertia for staying, minus moving cost otherwise):
      beta_income ln(expected household income) - beta_housing rent burden
      + beta_school school access (households with children) + beta_services services
      + beta_insurance insurance + beta_network (home county's people at d) + place constant
      + beta_land (land rights held, at the home village) - beta_age (decades over 45, elsewhere).
    The first line and the next (`place_utility`) are computed for staying, the home village and the
    home county seat, where the household's own tenure, land and returnee support count; for the
    other options they are looked up in `Conditions.mover_utility`. A household displaced by a shock
    has no inertia bonus for staying. The arrays are taken out of their tuples once per call (see
    step_households).
    """
    place = np.int64(h.place[i])
    origin = np.int64(h.origin[i])
    hukou = np.int64(h.hukou[i])
    n_child, n_adult, age = h.n_child[i], h.n_adult[i], np.int64(h.head_age[i])
    skill, flags, tenure = np.int64(h.skill[i]), np.int64(h.flags[i]), h.tenure[i]
    wage_of, emp_of, rent_of, public_of = c.wage, c.emp_prob, c.rent, c.public_rental_share
    subsidy_of, school_of, service_of, permit_of = c.rent_subsidy, c.school_access, c.service_level, c.permit_share
    insurance_of, network, asc_of, arrears_of = c.insurance_rate, c.network, c.asc_place, c.wage_arrears
    mover_utility = c.mover_utility
    is_urban, in_metro, distance, oop = st.place_is_urban, st.place_in_metro, st.distance_term, st.oop
    oop_hukou = hukou == oop
    net_row = st.place_unit.shape[0] // 2 if oop_hukou else origin
    earners = _earners(n_adult)
    land_rights = ((flags & CONTRACT_LAND) > 0) + ((flags & HOMESTEAD) > 0)
    trained, contract_land = (flags & TRAINED) > 0, (flags & CONTRACT_LAND) > 0
    keeps_homestead = (flags & HOMESTEAD) > 0
    # the household's own income and housing cost factors at the place it lives now
    stay_income = 1.0 if flags & EMPLOYED else emp_of[place] * bh.unemployed_income_factor
    stay_cost = 0.0 if tenure == OWN or tenure == DORM else (bh.public_rent_factor if tenure == PUBLIC_RENTAL else 1.0)
    age_cost = bh.beta_age * (age - 45) / 10.0 if age > 45 else 0.0
    home_village = -1 if oop_hukou else 2 * origin + 1
    home_seat = 2 * origin
    has_children = n_child > 0
    metro_member = not oop_hukou and in_metro[hukou]
    column = mover_column(skill, trained, n_adult >= 2, has_children, metro_member)
    hh = (trained, earners, stay_income, stay_cost, keeps_homestead, contract_land, has_children, metro_member, oop_hukou)
    option_places(i, origin, hukou, place, st, seed, opts)
    vmax = -1e300
    # stay, home village, home county seat: the household's own tenure, land and support count
    for k in range(3):
        d = opts[k]
        if d < 0:
            continue
        local = hukou == d
        at_home = d == home_village
        at = (wage_of[d, skill], emp_of[d], rent_of[d], public_of[d], subsidy_of[d], permit_of[d], school_of[d],
              service_of[d], insurance_of[d], arrears_of[d], is_urban[d], in_metro[d], d == oop)
        v = place_utility(k == 0, local, at_home, d == home_seat, at, hh, bh)
        v += bh.beta_network * network[net_row, d] + asc_of[d]
        v += bh.beta_land * land_rights if at_home else -age_cost
        v += bh.asc_stay * (not displaced) if k == 0 else -(bh.move_fixed_cost + bh.beta_distance * distance[place, d])
        prob[k] = v
        vmax = max(vmax, v)
    # the prefecture city, Taiyuan, the metro-area town, out of province: never here nor home (see
    # option_places), so their place part is tabulated
    for k in range(3, N_OPTIONS):
        d = opts[k]
        if d < 0:
            continue
        v = mover_utility[d, column + (hukou == d)]
        v += bh.beta_network * network[net_row, d] + asc_of[d]
        v += -age_cost
        v += -(bh.move_fixed_cost + bh.beta_distance * distance[place, d])
        prob[k] = v
        vmax = max(vmax, v)
    total = 0.0
    for k in range(N_OPTIONS):
        weight = math.exp(prob[k] - vmax) if opts[k] >= 0 else 0.0
        prob[k] = weight
        total += weight
    return total


@nb.njit(cache=True)
def choice_probabilities(i, h, st, bh, c, seed, displaced=False):
    """The option places and their choice probabilities for household i (for tests and inspection)."""
    opts = np.empty(N_OPTIONS, dtype=np.int64)
    prob = np.empty(N_OPTIONS)
    total = fill_choice_weights(i, h, st, bh, c, seed, displaced, opts, prob)
    return opts, prob / total


@nb.njit(inline="always", cache=True)
def choose_place(i, h, st, bh, c, seed, key, displaced, opts, weight):
    """Discrete choice among the option places (multinomial logit). Returns the chosen place."""
    u = uniform(key, S_CHOICE) * fill_choice_weights(i, h, st, bh, c, seed, displaced, opts, weight)
    acc = 0.0
    for k in range(N_OPTIONS):
        acc += weight[k]
        if u < acc:
            return opts[k]
    return h.place[i]


@nb.njit(inline="always", cache=True)
def settle_combo(n_child, flags, tenure):
    """Index of the household's features in the settlement-probability table."""
    return ((n_child > 0) * 1 + (tenure == OWN) * 2 + ((flags & INSURED) > 0) * 4
            + ((flags & (CONTRACT_LAND | HOMESTEAD)) > 0) * 8 + (tenure == PUBLIC_RENTAL) * 16)


# --------------------------------------------------------------------------------------- counting
# per-place counters (rows of one integer array); stocks describe the households as they are,
# flows what happened to them this month
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
FLOW_ROWS = np.array([F_SETTLED, F_MOVED, F_RETURNED, F_BIRTHS, F_DEATHS, F_LEFT])


class Counts(NamedTuple):
    """Integer counts of the (sampled) households. People unless said otherwise.

    The same shape holds a month's change (`step_all`'s result): stocks as differences, flows as they are.
    """
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

    def advanced_by(self, change: "Counts") -> "Counts":
        """The counts after a month whose change (stock differences and flows) is `change`."""
        place = self.place + change.place
        place[FLOW_ROWS] = change.place[FLOW_ROWS]
        return Counts(self.people_by_home_place + change.people_by_home_place,
                      self.people_by_hukou_place + change.people_by_hukou_place,
                      self.age_groups + change.age_groups, self.birth_exposure + change.birth_exposure, place)


def zero_counts(n_units: int, n_places: int, n_chunks: int = 0) -> Counts:
    """All-zero counts; with n_chunks > 0, one set per chunk (leading axis) for the parallel kernels,
    held as int32 (a chunk holds at most a 64th of the province, or 2 x MIN_CHUNK households) to halve
    what the kernels keep in cache."""
    lead, t = ((n_chunks,), np.int32) if n_chunks else ((), np.int64)
    return Counts(np.zeros(lead + (n_units + 1, n_places), t), np.zeros(lead + (n_places,), t),
                  np.zeros(lead + (n_places, 3), t), np.zeros(lead + (3,), t),
                  np.zeros(lead + (len(PLACE_COUNTERS), n_places), t))


def n_chunks(n: int) -> int:
    """Chunks of the parallel kernels for n households: N_CHUNKS, fewer for small populations."""
    return int(max(1, min(N_CHUNKS, n // MIN_CHUNK)))


def _sum_chunks(t: Counts) -> Counts:
    return Counts(*(a.sum(0, dtype=np.int64) for a in t))


@nb.njit(inline="always", cache=True)
def count_stocks(sign, p, hukou, origin, nc, na, no, flags, tenure, age, oop, t_home, t_hukou, t_age, t_bexp, t_place):
    """Add (sign +1) or remove (sign -1) one living household's contribution to the stock counts."""
    size = nc + na + no
    row = t_home.shape[0] - 1 if hukou == oop else origin
    t_home[row, p] += sign * size
    t_hukou[hukou] += sign * size
    t_age[p, 0] += sign * nc
    t_age[p, 1] += sign * na
    t_age[p, 2] += sign * no
    t_place[F_HH, p] += sign
    t_place[F_WORKERS, p] += sign * na
    if flags & EMPLOYED:
        t_place[F_EMPLOYED, p] += sign * na
    if tenure == RENT:
        t_place[F_RENT, p] += sign
    elif tenure == OWN:
        t_place[F_OWN, p] += sign
    if hukou != p and p != oop:
        t_place[F_MIGRANTS, p] += sign * size
        t_place[F_MIG_HH, p] += sign
        t_place[F_MIG_CHILD, p] += sign * nc
        t_place[F_MIG_WORK, p] += sign * na
        if tenure == RENT:
            t_place[F_MIG_RENT, p] += sign
    rural_hukou = hukou != oop and hukou % 2 == 1
    if flags & TRAINED:
        t_place[F_TRAINED, p] += sign
    elif rural_hukou and na > 0:
        t_place[F_TRAINABLE, p] += sign
    if rural_hukou and p == 2 * origin:
        t_place[F_RETURNEE, p] += sign
    if na > 0 and not flags & COLLECTIVE and 20 <= age < 50:
        t_bexp[(age - 20) // 10] += sign


@nb.njit(inline="always", cache=True)
def count_flows(ev, p, nc, na, no, t_place):
    """Add one household's events of this month to the flow counts (at the place it lives now)."""
    size = nc + na + no
    if ev & EV_DEATH:
        t_place[F_DEATHS, p] += 1
    if ev & EV_BIRTH:
        t_place[F_BIRTHS, p] += 1
    if ev & EV_SETTLED:
        t_place[F_SETTLED, p] += size
    if ev & EV_MOVED:
        t_place[F_MOVED, p] += size
    if ev & EV_RETURNED:
        t_place[F_RETURNED, p] += size
    if ev & EV_LEFT_AS_MIGRANT:
        t_place[F_LEFT, p] += size


# --------------------------------------------------------------------------------------- the rule
# events of a household-month: at most one happens (competing risks), chosen by one draw
(E_DEATH, E_BIRTH, E_CHILD_AGES, E_ADULT_AGES, E_DISPLACED, E_REVIEW, E_JOB, E_TRAINED, E_INSURED, E_SETTLE,
 E_BUY) = range(11)
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
    adult_part = (c.extra_review + bh.review_rate)[:, None] + job + np.where(trained[None, :], 0.0, c.training_prob[:, None])
    insurance = np.where((employed & ~insured)[None, :], bh.insurance_uptake_month * c.insurance_rate[:, None], 0.0)
    urban_part = (insurance + c.settle_prob.max(axis=1)[:, None]
                  + np.where(rent[None, :], c.buy_prob.max(axis=1)[:, None], 0.0))
    bound = np.where(adult[None, :], adult_part, 0.0) + np.where(place_is_urban[:, None], urban_part, 0.0)
    return bound * (1.0 + 1e-9)   # margin for the different order of summation in the kernel


@nb.njit(inline="always", cache=True)
def household_type(na, flags, tenure):
    return ((na > 0) * T_ADULT + ((flags & EMPLOYED) > 0) * T_EMPLOYED + ((flags & TRAINED) > 0) * T_TRAINED
            + ((flags & INSURED) > 0) * T_INSURED + (tenure == RENT) * T_RENT)


@nb.njit(inline="always", cache=True)
def birth_probability(na, flags, age, birth_20s, birth_30s, birth_40s):
    """Monthly chance of a birth: households with an adult, not collective, head aged 20-49."""
    p = birth_20s if age < 30 else (birth_30s if age < 40 else birth_40s)
    return p if (na > 0) & ((flags & COLLECTIVE) == 0) & (age >= 20) & (age < 50) else 0.0


@nb.njit(inline="always", cache=True)
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
    n_child, n_adult, n_old, head_age = h.n_child[start:stop], h.n_adult[start:stop], h.n_old[start:stop], h.head_age[start:stop]
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
        demography = (nc * death_child + na * death_adult + no * death_old
                      + birth_probability(na, flags, age, birth_20s, birth_30s, birth_40s)
                      + nc * child_to_adult + na * adult_to_old)
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
    q = quiet[:stop - start].view(np.uint8)
    for j in range(stop - start):
        m = months[j]
        months[j] = m + (q[j] & np.uint8(m < np.uint8(255)))
        event[j] = event[j] & np.uint8(q[j] - np.uint8(1))   # quiet: & 0, otherwise & 255 (unchanged)
    head_age = h.head_age[start:stop]
    for j in range((month - start) % 12, stop - start, 12):
        age = head_age[j]
        head_age[j] = age + (q[j] & np.uint8(age < np.uint8(110)))


@nb.njit(cache=True)
def step_households(start, stop, h, st, bh, c, seed, month, t_home, t_hukou, t_age, t_bexp, t_place):
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
    job_find, training_prob, extra_review, event_bound = c.job_find, c.training_prob, c.extra_review, c.event_bound
    public_rental_share, emp_prob, insurance_rate = c.public_rental_share, c.emp_prob, c.insurance_rate
    threshold_months, settle_prob, buy_prob = c.threshold_months, c.settle_prob, c.buy_prob
    place_in_shanxi, place_is_urban, oop = st.place_in_shanxi, st.place_is_urban, st.oop
    death_child, death_adult, death_old = bh.death_child, bh.death_adult, bh.death_old
    child_to_adult, adult_to_old = bh.child_to_adult, bh.adult_to_old
    opts = np.empty(N_OPTIONS, dtype=np.int64)   # scratch for the place choice
    prob = np.empty(N_OPTIONS)
    chance = np.empty(N_EVENTS)                  # scratch: this household's chance of each event
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
            rest[n_rest] = block + j      # the households with more than a quiet month, listed
            n_rest += not q               # without a branch (which would often be mispredicted)
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
            trainable = na > 0 and not flags & TRAINED and place_in_shanxi[place] and hukou % 2 == 1 and hukou != oop
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
            if e == E_DEATH:                  # u is now the position within the death segment
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
            elif e == E_DISPLACED:            # displaced by a shock: reconsider, without the inertia of staying
                review = displaced = True
            elif e == E_REVIEW:
                review = True
            elif e == E_JOB:                  # Harris-Todaro: the place's employment probability sets the finding rate
                if employed:
                    flags &= ~EMPLOYED
                    review = True             # a household that loses its job reconsiders where to live
                else:
                    flags |= EMPLOYED
            elif e == E_TRAINED:              # subsidised vocational training (lever A1.3a)
                flags |= TRAINED
            elif e == E_INSURED:              # social insurance at the place of work (lever A1.5)
                flags |= INSURED
            elif e == E_SETTLE:               # take local hukou: a separate decision with its own hazard
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
                count_stocks(-1, place0, hukou0, origin, nc0, na0, no0, flags0, tenure0, age0, oop,
                             t_home, t_hukou, t_age, t_bexp, t_place)
                count_flows(ev, place, nc, na, no, t_place)
                continue
            months_of[i] = here
            if review:                        # where to live: the 7-way logit
                flags_of[i] = flags
                d = choose_place(i, h, st, bh, c, seed, key, displaced, opts, prob)
                if d != place:
                    ev |= EV_MOVED
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
            tenure_of[i] = tenure
            flags_of[i] = flags
            event_of[i] = ev
            # the old row out of the counts and the new one in (most who reconsider stay: nothing changed)
            if (place != place0 or hukou != hukou0 or nc != nc0 or na != na0 or no != no0 or flags != flags0
                    or tenure != tenure0 or age != age0):
                count_stocks(-1, place0, hukou0, origin, nc0, na0, no0, flags0, tenure0, age0, oop,
                             t_home, t_hukou, t_age, t_bexp, t_place)
                count_stocks(1, place, hukou, origin, nc, na, no, flags, tenure, age, oop,
                             t_home, t_hukou, t_age, t_bexp, t_place)
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
        step_households(k * chunk, min(n, (k + 1) * chunk), h, st, bh, c, seed, month,
                        t_home[k], t_hukou[k], t_age[k], t_bexp[k], t_place[k])


def step_all(h, st, bh, c, seed, month) -> Counts:
    """Step every household (in parallel over fixed chunks); returns the month's change of the counts
    (integers, so exact whatever the thread count): `counts.advanced_by(change)` are the new counts."""
    n_places = st.place_is_urban.shape[0]
    change = zero_counts(st.unit_city.shape[0], n_places, n_chunks(h.place.shape[0]))
    _step_all(h, st, bh, c, seed, month, *change)
    return _sum_chunks(change)


@nb.njit(parallel=True, cache=True)
def _aggregate(h, oop, t_home, t_hukou, t_age, t_bexp, t_place):
    n = h.place.shape[0]
    chunks = t_home.shape[0]
    chunk = (n + chunks - 1) // chunks
    for k in nb.prange(chunks):
        for i in range(k * chunk, min(n, (k + 1) * chunk)):
            nc = np.int64(h.n_child[i])
            na = np.int64(h.n_adult[i])
            no = np.int64(h.n_old[i])
            p = np.int64(h.place[i])
            if nc + na + no > 0:
                count_stocks(1, p, np.int64(h.hukou[i]), np.int64(h.origin[i]), nc, na, no, np.int64(h.flags[i]),
                             np.int64(h.tenure[i]), np.int64(h.head_age[i]), oop,
                             t_home[k], t_hukou[k], t_age[k], t_bexp[k], t_place[k])
            count_flows(h.event[i], p, nc, na, no, t_place[k])


def aggregate(h, n_units: int, n_places: int, oop: int) -> Counts:
    """Count the household rows from scratch (at set-up, and to check the kernel's running counts)."""
    out = zero_counts(n_units, n_places, n_chunks(h.place.shape[0]))
    _aggregate(h, oop, *out)
    return _sum_chunks(out)
