"""Places' labour and housing markets, public services, and the monthly conditions households see.

Labour (Harris-Todaro): each place has a stock of jobs; the employment probability is jobs over
working-age residents (capped), so inflows lower it and jobs growth raises it. Housing: the market
rent rises with population at a fixed housing stock (elasticity `rent_population_elasticity`),
less the share of growth matched by new housing (lever A1.6a); urban-village renovation removes
cheap dwellings and raises rents (A4.2b). Wages are held in real terms. Out of province is a large
outside market whose conditions do not respond to Shanxi's flows.

Policy levers (scenarios/levers.yaml) enter here as place arrays, except the few that act on a
household's own income or services inside the kernel (training, arrears, returnee support,
metro portability, shocks' forced reconsideration).
"""

from dataclasses import dataclass, field

import numpy as np

from sim.kernel import (
    N_MOVER_TYPES,
    N_SETTLE_COMBOS,
    N_TYPES,
    Behaviour,
    Conditions,
    Counts,
    Static,
    event_bounds,
    mover_utilities,
)
from sim.places import COUNTY_SEAT, OUT_OF_PROVINCE, OUTSIDE, PREFECTURE_CORE, TAIYUAN_CORE, VILLAGE, urban_place
from sim.world.geography import place_tiers


def place_km(geo, econ: dict, metro_cut: float = 0.0) -> np.ndarray:
    """Road km between places; moves inside the metro area shortened by `metro_cut` (lever A3.2)."""
    n_places = geo.n_places
    oop = OUT_OF_PROVINCE
    units = np.asarray(geo.place_unit[:oop])
    km = np.empty((n_places, n_places))
    inner = geo.unit_distance_km[units][:, units].copy()
    inner[units[:, None] == units[None, :]] = econ["within_county_move_km"]
    if metro_cut:
        metro = np.asarray(geo.unit_in_metro)[units]
        inner[metro[:, None] & metro[None, :]] *= 1.0 - metro_cut
    km[:oop, :oop] = inner
    km[:oop, oop] = km[oop, :oop] = geo.oop_distance_km
    np.fill_diagonal(km, 0.0)
    return km


def build_static(geo, econ: dict, distance_scale_km: float, metro_cut: float = 0.0) -> Static:
    n_cities = len(geo.city_name_en)
    max_core = max(len(u) for u in geo.city_core_units)
    core_units = np.full((n_cities, max_core), -1, np.int16)
    core_cum = np.ones((n_cities, max_core))
    for c in range(n_cities):
        units = np.asarray(geo.city_core_units[c])
        core_units[c, : len(units)] = units
        core_units[c, len(units) :] = units[-1]
        core_cum[c, : len(units)] = np.cumsum(geo.city_core_weights[c])
        core_cum[c, len(units) - 1 :] = 1.0
    oop = OUT_OF_PROVINCE
    in_metro = np.zeros(geo.n_places, bool)
    in_metro[:oop] = np.asarray(geo.unit_in_metro)[np.asarray(geo.place_unit[:oop])]
    return Static(
        place_unit=np.asarray(geo.place_unit, np.int16),
        place_is_urban=np.asarray(geo.place_is_urban),
        place_in_shanxi=np.asarray(geo.place_in_shanxi),
        unit_city=np.asarray(geo.unit_city, np.int16),
        core_units=core_units,
        core_cum=core_cum,
        taiyuan_city=int(geo.taiyuan_city),
        nearest_cluster_unit=np.asarray(geo.nearest_cluster_unit, np.int16),
        distance_term=np.log1p(place_km(geo, econ, metro_cut) / distance_scale_km),
        oop=oop,
        place_in_metro=in_metro,
    )


@dataclass
class PlaceEconomy:
    """Start-of-run place economics (2020) and the market and policy stocks carried year to year."""

    wage: np.ndarray  # (n_places, 3) yuan/month
    rent0: np.ndarray  # (n_places) yuan/month at the 2020 population
    people0: np.ndarray  # (n_places) persons (sampled) at the census
    renters0: np.ndarray  # (n_places) migrant households renting on the market at the census (sampled)
    jobs: np.ndarray  # (n_places) jobs (sampled units)
    emp0: np.ndarray  # (n_places) employment probability at the start
    tier: np.ndarray
    city: np.ndarray  # (n_places) city index, -1 out of province
    cluster_seat: np.ndarray  # (n_places) bool: seat of a metro cluster unit
    dual_use_city: np.ndarray  # (n_places) bool: in Taiyuan or Datong (lever A4.2c)
    scale: float  # sampling fraction: converts lever counts (jobs, units) into sampled units
    public_rental_units: np.ndarray = field(default=None)  # (n_places) new units since 2020 (sampled units)
    affordable_units: np.ndarray = field(default=None)  # (n_places) affordable-sale units offered this year
    urban_village_units: np.ndarray = field(default=None)  # (n_places) cheap dwellings removed since 2020
    capacity_boost: np.ndarray = field(default=None)  # (n_places) school/service access bought by transfers
    shock_jobs: np.ndarray = field(default=None)  # (n_places) share of jobs lost to this year's shock
    shock_review: np.ndarray = field(default=None)  # (n_places) monthly forced reconsideration this year
    jobs_added: dict = field(default_factory=dict)  # lever -> jobs added this year (sampled units)
    village_wage0: np.ndarray = field(default=None)  # (3) yuan/month by skill in villages at the rural wage's year


def rural_wage_factor(econ: dict, year: int) -> float:
    """Village wages in `year` relative to the level of `rural_wage_yuan_month` (its reference year), when
    rural incomes follow the urban-rural income gap (`rural_income_convergence` of the way): the ratio of
    urban to rural income is log-linear between its two published points, and urban wages are held in real
    terms, so village wages grow as the ratio falls (the default, 1). 1.0 exactly at convergence 0."""
    k = float(econ["rural_income_convergence"])
    (y0, r0), (y1, r1) = econ["urban_rural_income_ratio"]
    ref = int(econ["rural_wage_reference_year"])

    def ratio(y):
        return r0 * (r1 / r0) ** ((y - y0) / (y1 - y0))

    return 1.0 if k == 0.0 else float((ratio(ref) / ratio(year)) ** k)


def set_rural_incomes(eco: PlaceEconomy, econ: dict, year: int) -> None:
    """Village wages for `year` (rural_wage_factor); called at the start and every January."""
    eco.wage[eco.tier == VILLAGE] = eco.village_wage0[None, :] * rural_wage_factor(econ, year)


def initial_economy(geo, econ: dict, counts: Counts, wages_2019: dict, scale: float) -> PlaceEconomy:
    tier = place_tiers(geo)
    n = geo.n_places
    oop = n - 1
    skill = np.asarray(econ["skill_wage_factor"], float)
    base = np.empty(n)
    for p in range(oop):
        u = geo.place_unit[p]
        city_wage = wages_2019[geo.city_name_en[geo.unit_city[u]]] / 12.0 * econ["migrant_wage_share_of_city_average"]
        if tier[p] in (TAIYUAN_CORE, PREFECTURE_CORE):
            base[p] = city_wage
        elif tier[p] == COUNTY_SEAT:
            base[p] = city_wage * econ["county_seat_wage_factor"]
        else:
            base[p] = econ["rural_wage_yuan_month"]
    base[oop] = econ["out_of_province_wage_yuan_month"]
    rent0 = np.choose(
        tier,
        [
            econ["rent_taiyuan_yuan_month"],
            econ["rent_prefecture_yuan_month"],
            econ["rent_county_seat_yuan_month"],
            econ["rent_village_yuan_month"],
            econ["rent_out_of_province_yuan_month"],
        ],
    ).astype(float)
    emp0 = np.choose(
        tier,
        [econ["employment_rate_urban"]] * 3 + [econ["employment_rate_rural"], econ["employment_rate_out_of_province"]],
    ).astype(float)
    city = np.full(n, -1)
    city[:oop] = np.asarray(geo.unit_city)[np.asarray(geo.place_unit[:oop])]
    cluster_seat = np.zeros(n, bool)
    cluster_seat[:oop] = (np.asarray(geo.unit_cluster)[np.asarray(geo.place_unit[:oop])] >= 0) & (tier[:oop] != VILLAGE)
    z = np.zeros(n)
    dual = np.isin(city, [geo.city_name_en.index(c) for c in ("Taiyuan", "Datong")])
    return PlaceEconomy(
        dual_use_city=dual,
        village_wage0=econ["rural_wage_yuan_month"] * skill,
        wage=base[:, None] * skill[None, :],
        rent0=rent0,
        people0=counts.people_by_home_place.sum(axis=0).astype(float),
        renters0=counts.migrant_renters.astype(float),
        jobs=counts.workers.astype(float) * emp0,
        emp0=emp0,
        tier=tier,
        city=city,
        cluster_seat=cluster_seat,
        scale=scale,
        public_rental_units=z.copy(),
        affordable_units=z.copy(),
        urban_village_units=z.copy(),
        capacity_boost=z.copy(),
        shock_jobs=z.copy(),
        shock_review=z.copy(),
    )


def _by_population(mask: np.ndarray, people: np.ndarray) -> np.ndarray:
    w = np.where(mask, people, 0.0)
    return w / w.sum() if w.sum() > 0 else w


def _city_spread(per_city_value: np.ndarray, eco: PlaceEconomy, people: np.ndarray) -> np.ndarray:
    """A per-place lever given by city (same value at each urban place of a city) spread over the
    city's urban places in proportion to their population."""
    out = np.zeros_like(people)
    urban = eco.tier < VILLAGE
    for c in np.unique(eco.city[urban]):
        m = urban & (eco.city == c)
        total = per_city_value[m].max() if m.any() else 0.0
        out[m] = total * _by_population(m, people)[m]
    return out


def advance_year(eco: PlaceEconomy, place: dict, prov: dict, counts: Counts, settled_last_year: np.ndarray) -> None:
    """Apply one year's levers to the market stocks (in place). Called every January."""
    people = counts.people_by_home_place.sum(axis=0).astype(float)
    urban = eco.tier < VILLAGE
    metro_places = eco.cluster_seat | (eco.tier == TAIYUAN_CORE)
    before = eco.jobs.copy()
    growth = place["jobs_growth_pct_year"] + place["standard_land_jobs_pct_year"]
    growth = growth + np.where(metro_places, prov["metro_jobs_growth_pct_year"], 0.0)
    eco.jobs *= 1.0 + growth / 100.0
    seats = eco.tier == COUNTY_SEAT
    eco.jobs += prov["specialized_town_jobs_per_year"] * eco.scale * _by_population(seats, people)
    # relocation of prefecture-core jobs to the same city's county seats (A2.9)
    moved = np.where(eco.tier == PREFECTURE_CORE, eco.jobs * prov["job_relocation_pct_year"] / 100.0, 0.0)
    eco.jobs -= moved
    for c in np.unique(eco.city[seats]):
        m = seats & (eco.city == c)
        eco.jobs += moved[(eco.city == c)].sum() * _by_population(m, people)
    # headquarters in Taiyuan, plants in the clusters (A3.3)
    shifted = np.where(eco.tier == TAIYUAN_CORE, eco.jobs * prov["metro_core_job_shift_pct_year"] / 100.0, 0.0)
    eco.jobs += shifted.sum() * _by_population(eco.cluster_seat, people) - shifted
    eco.jobs_added = {"jobs": np.maximum(eco.jobs - before, 0.0)}
    # wages of the metro clusters converge towards Taiyuan's (A3.5-7)
    ty = eco.wage[eco.tier == TAIYUAN_CORE].mean(axis=0)
    eco.wage[eco.cluster_seat] += (
        (ty[None, :] - eco.wage[eco.cluster_seat]) * prov["metro_wage_convergence_pct_year"] / 100.0
    )
    # housing and capacity stocks
    eco.public_rental_units += _city_spread(place["public_rental_units_per_year"], eco, people) * eco.scale
    eco.affordable_units = _city_spread(place["affordable_sale_units_per_year"], eco, people) * eco.scale
    eco.urban_village_units += _city_spread(place["urban_village_units_per_year"], eco, people) * eco.scale
    migrants = np.maximum(counts.migrants.astype(float), 1.0)
    eco.capacity_boost += np.where(
        urban,
        prov["fiscal_transfer_yuan_per_settler"]
        * settled_last_year
        / (prov["capacity_cost_yuan_per_migrant"] * migrants),
        0.0,
    )
    # shocks of the year (stress cases), softened by resilience (A4.2c in Taiyuan and Datong, A4.3-5 everywhere)
    resilience = np.full(len(people), prov["flood_resilience"])
    resilience = np.maximum(resilience, np.where(eco.dual_use_city, prov["dual_use_resilience"], 0.0))
    loss = (place["shock_job_loss_pct"] / 100.0 + place["flood_displaced_share"]) * (1.0 - resilience)
    eco.shock_jobs = np.clip(loss, 0.0, 1.0)
    displaced = np.clip(place["flood_displaced_share"] * (1.0 - resilience), 0.0, 1.0)
    eco.shock_review = 1.0 - (1.0 - displaced) ** (1.0 / 12.0)  # monthly chance of being displaced


def _labour_market(eco: PlaceEconomy, counts: Counts, econ: dict, bh: Behaviour) -> tuple[np.ndarray, np.ndarray]:
    """(employment probability, monthly job-finding chance) by place: jobs / workers (Harris-Todaro)."""
    oop = len(eco.rent0) - 1
    workers = counts.workers.astype(float)
    jobs = eco.jobs * (1.0 - eco.shock_jobs)
    # places with no sampled worker at the start have no observed market: they keep the initial rate
    emp = np.where((workers > 0) & (eco.jobs > 0), jobs / np.maximum(workers, 1.0), eco.emp0 * (1.0 - eco.shock_jobs))
    emp = np.clip(emp, 0.0, econ["employment_rate_max"])
    emp[oop] = eco.emp0[oop]
    sep = bh.job_separation
    job_find = np.clip(sep * emp / np.maximum(1.0 - emp, 1e-9), 0.0, 1.0)
    return emp, job_find


def _housing_market(eco: PlaceEconomy, counts: Counts, econ: dict, place: dict) -> tuple[np.ndarray, np.ndarray]:
    """(market rent of a migrant dwelling, chance a newcomer renter gets public rental housing) by place."""
    oop = len(eco.rent0) - 1
    people = counts.people_by_home_place.sum(axis=0).astype(float)
    ratio = np.where(eco.people0 > 0, people / np.maximum(eco.people0, 1.0), 1.0)
    elasticity = econ["rent_population_elasticity"] * (1.0 - place["housing_supply_response"])
    # urban-village renovation removes cheap rental dwellings: rents rise with the share of the place's
    # census-time rental stock removed (a fixed stock, so households leaving the rental market, e.g. to
    # buy an affordable home, do not raise the rent of those who stay)
    stock = np.maximum(eco.renters0, 1.0)
    village_factor = 1.0 + econ["urban_village_rent_elasticity"] * np.minimum(eco.urban_village_units / stock, 1.0)
    rent = eco.rent0 * ratio**elasticity * village_factor
    rent[oop] = eco.rent0[oop]
    mig_hh = np.maximum(counts.migrant_households.astype(float), 1.0)
    public_share = np.clip(place["public_rental_share"] + eco.public_rental_units / mig_hh, 0.0, 1.0)
    return rent, public_share


def _public_services(eco: PlaceEconomy, econ: dict, place: dict, prov: dict) -> tuple[np.ndarray, np.ndarray]:
    """(public-service level, school access of non-hukou children) by place, 0-1."""
    urban = eco.tier < VILLAGE
    service = np.choose(
        eco.tier,
        [econ["service_level_taiyuan"], econ["service_level_prefecture"], prov["county_seat_service_level"], 0.0, 0.0],
    ).astype(float)
    service = service * (1.0 + prov["smart_city_efficiency"]) + prov["governance_service_bonus"] + eco.capacity_boost
    service = np.where(urban, np.clip(service, 0.0, 1.0), 0.0)
    school = np.clip(place["school_access_migrant_children"] + eco.capacity_boost, 0.0, 1.0)
    return service, school


def _settlement(beh: dict, bh: Behaviour, school: np.ndarray, urban: np.ndarray) -> np.ndarray:
    """(n_places, N_SETTLE_COMBOS): monthly chance of taking local hukou by household features (see
    kernel.events.settle_combo): a logit of the intercept and each feature's term."""
    combo = np.arange(N_SETTLE_COMBOS)
    logit = (
        beh["fitted"]["settle_intercept"]
        + beh["settle_children"] * (combo & 1 > 0)[None, :] * (1.0 - school)[:, None]
        + beh["settle_own_home"] * (combo & 2 > 0)[None, :]
        + beh["settle_insured"] * (combo & 4 > 0)[None, :]
        + beh["settle_land"] * (1.0 - bh.land_protection) * (combo & 8 > 0)[None, :]
        + beh["settle_public_rental"] * (combo & 16 > 0)[None, :]
    )
    settle = 1.0 / (1.0 + np.exp(-logit))
    settle[~urban] = 0.0
    return settle


def conditions(
    eco: PlaceEconomy,
    counts: Counts,
    st: Static,
    bh: Behaviour,
    beh: dict,
    econ: dict,
    place: dict,
    prov: dict,
    asc_place: np.ndarray,
) -> Conditions:
    """The conditions households see this month, from last month's counts and this year's policy."""
    n = len(eco.rent0)
    urban = eco.tier < VILLAGE
    emp, job_find = _labour_market(eco, counts, econ, bh)
    rent, public_share = _housing_market(eco, counts, econ, place)
    service, school = _public_services(eco, econ, place, prov)
    asc = asc_place + np.where(
        urban, place["amenity_index"] + econ["amenity_per_renovated_share"] * place["old_compound_renovated_share"], 0.0
    )
    home = counts.people_by_home_place.astype(float)
    network = home / np.maximum(home.sum(axis=1, keepdims=True), 1.0)
    renters = np.maximum(counts.migrant_renters.astype(float), 1.0)
    buy_year = np.asarray(beh["buy_rate_year"], float)[None, :] + (eco.affordable_units / renters)[:, None]
    buy = np.where(urban[:, None], 1.0 - (1.0 - np.clip(buy_year, 0.0, 1.0)) ** (1.0 / 12.0), 0.0)
    wage = eco.wage * (1.0 + place["park_wage_premium"])[:, None]
    training = np.where(eco.tier < OUTSIDE, 1.0 - (1.0 - place["training_rate_per_year"]) ** (1.0 / 12.0), 0.0)
    c = Conditions(
        wage=wage,
        emp_prob=emp,
        job_find=job_find,
        rent=rent,
        rent_subsidy=place["rent_subsidy_yuan_month"],
        public_rental_share=public_share,
        school_access=school,
        service_level=service,
        permit_share=place["permit_service_share"],
        insurance_rate=place["insurance_enrolment_migrants"],
        threshold_months=place["hukou_threshold_months"],
        asc_place=asc,
        network=network,
        settle_prob=_settlement(beh, bh, school, urban),
        buy_prob=buy,
        wage_arrears=place["wage_arrears_share"],
        training_prob=training,
        extra_review=eco.shock_review,
        event_bound=np.zeros((n, N_TYPES)),
        mover_utility=np.zeros((n, N_MOVER_TYPES)),
    )
    return c._replace(event_bound=event_bounds(urban, bh, c), mover_utility=mover_utilities(st, bh, c))


def place_constants(tier: np.ndarray, beh: dict, district_village: np.ndarray, county_town: np.ndarray) -> np.ndarray:
    """Utility constant of each place by type (fitted county-seat, Taiyuan and out-of-province constants), of the
    seats of counties (`county_town`, 县城, fitted) over the seats of county-level cities, and of the villages
    inside city districts (`district_village`, fitted) over the county villages."""
    f = beh["fitted"]
    seat = f["asc_county_seat"]
    asc = np.choose(
        tier, [seat + f["asc_taiyuan_extra"], seat + beh["asc_prefecture_extra"], seat, 0.0, f["asc_out_of_province"]]
    ).astype(float)
    asc += f["asc_county_town_extra"] * np.asarray(county_town, bool)
    return asc + f["asc_district_village"] * np.asarray(district_village, bool)


def census_reclassification_people(geo, share: float, unit_specific: bool = True) -> np.ndarray:
    """People a year whom each unit's built-up growth reclassifies urban in situ: `share` of the unit's
    2010-2020 census urban gain (at most its rural loss), spread over 10 years. Reclassification follows
    the land the seat takes, so it is a number of people (of the province) a year, not a share of the
    villagers left;
    units without 2010 values take their unit type's rate of their 2020 rural population.

    `unit_specific=False` (the decade hindcast, which starts in 2010, when each unit's gain of the decade is
    still the future it is scored on): every unit takes its type's rate of its 2010 rural population, so
    only the unit type's total comes from the decade."""
    pop10, urban10 = np.asarray(geo.unit_pop_2010, float), np.asarray(geo.unit_urban_pop_2010, float)
    pop20, urban20 = np.asarray(geo.unit_pop_2020, float), np.asarray(geo.unit_urban_pop_2020, float)
    rural20 = pop20 - urban20
    # a reclassified village leaves the rural count: reclassification is at most the unit's rural loss, so in
    # units whose villages held their people while the town grew (Taiyuan's), the town grew by migration
    gain = np.maximum(np.minimum(urban20 - urban10, (pop10 - urban10) - rural20), 0.0)
    known = np.isfinite(gain)
    people = np.zeros(len(pop20))
    people[known] = share * gain[known] / 10.0
    unit_type = np.asarray(geo.unit_type)
    if not unit_specific:
        from sim.world.census2010 import unit_counts_2010

        pop_10, urban_10 = unit_counts_2010(geo)
        rural10 = pop_10 - urban_10
        out = np.zeros(len(pop20))
        for t in np.unique(unit_type):
            of_type = unit_type == t
            out[of_type] = people[known & of_type].sum() / rural10[known & of_type].sum() * rural10[of_type]
        return out
    for t in np.unique(unit_type):
        of_type = known & (unit_type == t)
        typical = people[of_type].sum() / max(rural20[of_type].sum(), 1.0)
        people[~known & (unit_type == t)] = typical * rural20[~known & (unit_type == t)]
    return people


def reclassification_rates(
    geo, econ: dict, place: dict, prov: dict, base_prov: dict, rural_people: np.ndarray, unit_specific: bool = True
) -> np.ndarray:
    """This year's in-situ reclassification rate of every unit's rural residents: its census number of
    people a year (raised by the levers that build county seats, A2.5, in counties and county-level
    cities, and renew cities, A4.1, in districts) over the people living in its villages now
    (`rural_people`, province scale)."""
    people = census_reclassification_people(geo, econ["reclassification_share_of_urban_growth"], unit_specific)
    response = econ["reclassification_policy_response"]
    district = np.asarray(geo.unit_type) == 0
    seats = prov["county_seat_service_level"] - base_prov["county_seat_service_level"]
    seat_push = response * max(seats, 0.0) / max(base_prov["county_seat_service_level"], 1e-9)
    renewal = response * np.asarray(place["old_compound_renovated_share"])[urban_place(np.arange(len(people)))]
    people = people * (1.0 + np.where(district, renewal, seat_push))
    return np.clip(people / np.maximum(rural_people, 1.0), 0.0, 1.0)
