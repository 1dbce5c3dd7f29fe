"""The records the kernel reads: geography (Static), coefficients (Behaviour) and a month's place
conditions (Conditions), and the sizes of its tables."""

from typing import NamedTuple

import numpy as np

from sim.config.parameters import kernel_fields

N_OPTIONS = 7  # stay, home village, home county seat, prefecture city, Taiyuan, metro cluster town, out of province
N_SETTLE_COMBOS = 32
N_CHUNKS = 64  # work split of a large population; counts are integers, so the split never changes a result
MIN_CHUNK = 8192  # households per chunk at least: a small population gets fewer chunks (less to zero and sum)
BLOCK = 1024  # households screened for a quiet month at a time (event_slack)


class Static(NamedTuple):
    """Geography the kernel needs (see sim.world.geography)."""

    place_unit: np.ndarray  # int16 (n_places)
    place_is_urban: np.ndarray  # bool: urban part of a Shanxi unit
    place_in_shanxi: np.ndarray  # bool
    unit_city: np.ndarray  # int16 (n_units)
    core_units: np.ndarray  # int16 (n_cities, max_core): district units of each city, -1 padded
    core_cum: np.ndarray  # float64 (n_cities, max_core): cumulative weights, 1.0 padded
    taiyuan_city: int
    nearest_cluster_unit: np.ndarray  # int16 (n_units): -1 where no cluster town is within the catchment
    distance_term: np.ndarray  # float64 (n_places, n_places): ln(1 + road km / distance scale) between places
    oop: int  # index of the out-of-province place
    place_in_metro: np.ndarray  # bool (n_places): in the Taiyuan metropolitan area


# Coefficients of the household rule for one month. The first fields are the parameters declared
# `kernel: true` in conf/parameters.yaml (value, unit and source there; docs/parameters.md), in that
# order and by the last part of their key (behaviour.fitted.asc_stay -> asc_stay); ShanxiModel._behaviour
# computes the rest each month from the vital rates, the demographic parameters and the levers:
MONTHLY_FIELDS = (
    "death_child",  # monthly death probability per person aged 0-14
    "death_adult",  # ... aged 15-59
    "death_old",  # ... aged 60+ (scaled so deaths meet the observed crude death rate)
    "birth_20s",  # monthly birth probability of a household whose head is 20-29
    "birth_30s",  # ... 30-39
    "birth_40s",  # ... 40-49 (scaled so births meet the observed crude birth rate)
    "child_to_adult",  # monthly chance that one child turns 15, per child
    "adult_to_old",  # monthly chance that one adult turns 60, per adult
    "land_protection",  # chance a settling household keeps its land rights (lever A1.7)
    "rural_service_level",  # public-service and school level in villages, 0-1 (lever A2.6)
    "training_wage_uplift",  # wage premium of trained workers (lever A1.3a)
    "returnee_support",  # yuan/month for rural-hukou households at their home county seat (lever A2.4)
    "metro_portability",  # services share portable within the metro for metro-hukou residents (lever A3.4)
)
Behaviour = NamedTuple("Behaviour", [(name, float) for name in (*kernel_fields(), *MONTHLY_FIELDS)])


class Conditions(NamedTuple):
    """Place conditions for one month (from markets and policy)."""

    wage: np.ndarray  # float64 (n_places, 3): monthly wage of an employed worker by skill, yuan
    emp_prob: np.ndarray  # float64 (n_places): employment probability (Harris-Todaro)
    job_find: np.ndarray  # float64 (n_places): monthly job-finding chance of the unemployed
    rent: np.ndarray  # float64 (n_places): market rent of a migrant dwelling, yuan/month
    rent_subsidy: np.ndarray  # float64 (n_places): rent subsidy for non-hukou renters, yuan/month
    public_rental_share: np.ndarray  # float64: chance a newcomer renter gets public rental housing
    school_access: np.ndarray  # float64: access of non-hukou children to public schools, 0-1
    service_level: np.ndarray  # float64: public-service level, 0-1
    permit_share: np.ndarray  # float64: share of services open to residence-permit holders
    insurance_rate: np.ndarray  # float64: social-insurance enrolment of migrants, 0-1
    threshold_months: np.ndarray  # float64: residence months required to take local hukou
    asc_place: np.ndarray  # float64: place-type constant (county seat, city, Taiyuan, out of province)
    network: np.ndarray  # float64 (n_units + 1, n_places): share of a home unit's people living at a place
    settle_prob: np.ndarray  # float64 (n_places, 32): monthly chance of taking local hukou by household features
    buy_prob: np.ndarray  # float64 (n_places, 3): monthly chance a renting migrant buys a home, by skill
    wage_arrears: np.ndarray  # float64: expected share of migrant wages lost to arrears (lever A1.3b)
    training_prob: np.ndarray  # float64: monthly chance an untrained rural-hukou worker household is trained (A1.3a)
    extra_review: (
        np.ndarray
    )  # float64: monthly chance a household is displaced by a shock: it reconsiders, without inertia
    event_bound: np.ndarray  # float64 (n_places, N_TYPES): bound of the non-demographic event chances (event_bounds)
    mover_utility: np.ndarray  # float64 (n_places, N_MOVER_TYPES): the place part of a move's utility (mover_utilities)
