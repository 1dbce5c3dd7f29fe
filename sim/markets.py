"""Places' labour and housing markets, and the monthly conditions households see.

Labour (Harris-Todaro): each place has a stock of jobs; the employment probability is jobs over
working-age residents (capped), so inflows lower it and jobs growth raises it. Housing: the market
rent rises with population at a fixed housing stock (elasticity `rent_population_elasticity`) and
falls as the stock grows. Wages are held in real terms. Out of province is a large outside market
whose conditions do not respond to Shanxi's flows.
"""
from dataclasses import dataclass

import numpy as np

from sim.kernels import N_SETTLE_COMBOS, Behaviour, Conditions, Counts, Static


def build_static(geo, econ: dict, distance_scale_km: float) -> Static:
    n_cities = len(geo.city_name_en)
    max_core = max(len(u) for u in geo.city_core_units)
    core_units = np.full((n_cities, max_core), -1, np.int16)
    core_cum = np.ones((n_cities, max_core))
    for c in range(n_cities):
        units = np.asarray(geo.city_core_units[c])
        core_units[c, :len(units)] = units
        core_units[c, len(units):] = units[-1]
        core_cum[c, :len(units)] = np.cumsum(geo.city_core_weights[c])
        core_cum[c, len(units) - 1:] = 1.0
    n_places = geo.n_places
    oop = n_places - 1
    units = np.asarray(geo.place_unit[:oop])
    km = np.empty((n_places, n_places))
    km[:oop, :oop] = geo.unit_distance_km[units][:, units]
    same_unit = units[:, None] == units[None, :]
    km[:oop, :oop][same_unit] = econ["within_county_move_km"]
    km[:oop, oop] = km[oop, :oop] = geo.oop_distance_km
    np.fill_diagonal(km, 0.0)
    return Static(place_unit=np.asarray(geo.place_unit, np.int16), place_is_urban=np.asarray(geo.place_is_urban),
                  place_in_shanxi=np.asarray(geo.place_in_shanxi), unit_city=np.asarray(geo.unit_city, np.int16),
                  core_units=core_units, core_cum=core_cum, taiyuan_city=int(geo.taiyuan_city),
                  nearest_cluster_unit=np.asarray(geo.nearest_cluster_unit, np.int16),
                  distance_term=np.log1p(km / distance_scale_km),
                  oop=oop)


def place_tier_codes(geo) -> np.ndarray:
    """0 Taiyuan district core, 1 other district core, 2 county seat, 3 village, 4 out of province."""
    from scenarios.compile import place_tiers
    t = place_tiers(geo)
    t[t < 0] = 4
    return t


@dataclass
class PlaceEconomy:
    """Start-of-run place economics (2020) and the market state carried month to month."""
    wage: np.ndarray        # (n_places, 3) yuan/month
    rent0: np.ndarray       # (n_places) yuan/month at the 2020 population
    people0: np.ndarray     # (n_places) persons (sampled) at the census
    jobs: np.ndarray        # (n_places) jobs (sampled units), updated yearly by jobs growth
    housing_stock: np.ndarray  # (n_places) index, 1 = 2020 stock
    service_level: np.ndarray  # (n_places) 0-1 base level of urban public services
    emp0: np.ndarray        # (n_places) employment probability at the start
    tier: np.ndarray


def initial_economy(geo, econ: dict, counts: Counts, wages_2019: dict) -> PlaceEconomy:
    tier = place_tier_codes(geo)
    n = geo.n_places
    oop = n - 1
    skill = np.asarray(econ["skill_wage_factor"], float)
    base = np.empty(n)
    for p in range(oop):
        u = geo.place_unit[p]
        city_wage = wages_2019[geo.city_name_en[geo.unit_city[u]]] / 12.0 * econ["migrant_wage_share_of_city_average"]
        if tier[p] in (0, 1):
            base[p] = city_wage
        elif tier[p] == 2:
            base[p] = city_wage * econ["county_seat_wage_factor"]
        else:
            base[p] = econ["rural_wage_yuan_month"]
    base[oop] = econ["out_of_province_wage_yuan_month"]
    rent0 = np.choose(tier, [econ["rent_taiyuan_yuan_month"], econ["rent_prefecture_yuan_month"],
                             econ["rent_county_seat_yuan_month"], econ["rent_village_yuan_month"],
                             econ["rent_out_of_province_yuan_month"]]).astype(float)
    service = np.choose(tier, [econ["service_level_taiyuan"], econ["service_level_prefecture"],
                               econ["service_level_county_seat"], 0.0, 0.0]).astype(float)
    emp0 = np.choose(tier, [econ["employment_rate_urban"]] * 3 + [econ["employment_rate_rural"],
                                                                 econ["employment_rate_out_of_province"]]).astype(float)
    people0 = counts.people_by_home_place.sum(axis=0).astype(float)
    jobs = counts.workers.astype(float) * emp0
    return PlaceEconomy(wage=base[:, None] * skill[None, :], rent0=rent0, people0=people0, jobs=jobs,
                        housing_stock=np.ones(n), service_level=service, emp0=emp0, tier=tier)


def advance_year(eco: PlaceEconomy, place_levers: dict) -> None:
    """Apply a year's jobs and housing-supply growth (levers, percent per year), in place."""
    eco.jobs *= 1.0 + place_levers["jobs_growth_pct_year"] / 100.0
    eco.housing_stock *= 1.0 + place_levers["housing_supply_growth_pct_year"] / 100.0


def conditions(eco: PlaceEconomy, counts: Counts, bh: Behaviour, beh: dict, econ: dict,
               place_levers: dict, asc_place: np.ndarray) -> Conditions:
    """The conditions households see this month, from last month's counts and this year's policy."""
    n = len(eco.rent0)
    oop = n - 1
    people = counts.people_by_home_place.sum(axis=0).astype(float)
    workers = counts.workers.astype(float)
    # places with no sampled worker at the start have no observed market: they keep the initial rate
    emp = np.where((workers > 0) & (eco.jobs > 0), eco.jobs / np.maximum(workers, 1.0), eco.emp0)
    emp = np.clip(emp, 0.0, econ["employment_rate_max"])
    emp[oop] = eco.emp0[oop]
    sep = bh.job_separation
    job_find = np.clip(sep * emp / np.maximum(1.0 - emp, 1e-9), 0.0, 1.0)
    ratio = np.where(eco.people0 > 0, people / np.maximum(eco.people0, 1.0), 1.0)
    rent = eco.rent0 * ratio ** econ["rent_population_elasticity"] / eco.housing_stock
    rent[oop] = eco.rent0[oop]
    home = counts.people_by_home_place.astype(float)
    network = home / np.maximum(home.sum(axis=1, keepdims=True), 1.0)
    # settlement: monthly log-odds by household features (see kernels.settle_combo)
    combo = np.arange(N_SETTLE_COMBOS)
    school_gain = 1.0 - place_levers["school_access_migrant_children"]
    logit = (beh["fitted"]["settle_intercept"]
             + beh["settle_children"] * (combo & 1 > 0)[None, :] * school_gain[:, None]
             + beh["settle_own_home"] * (combo & 2 > 0)[None, :]
             + beh["settle_insured"] * (combo & 4 > 0)[None, :]
             + beh["settle_land"] * (1.0 - bh.land_protection) * (combo & 8 > 0)[None, :]
             + beh["settle_public_rental"] * (combo & 16 > 0)[None, :])
    settle = 1.0 / (1.0 + np.exp(-logit))
    settle[eco.tier >= 3] = 0.0
    buy_year = np.asarray(beh["buy_rate_year"], float)
    buy = np.where((eco.tier < 3)[:, None], 1.0 - (1.0 - buy_year[None, :]) ** (1.0 / 12.0), 0.0)
    return Conditions(wage=eco.wage, emp_prob=emp, job_find=job_find, rent=rent,
                      rent_subsidy=place_levers["rent_subsidy_yuan_month"],
                      public_rental_share=place_levers["public_rental_share"],
                      school_access=place_levers["school_access_migrant_children"],
                      service_level=eco.service_level,
                      permit_share=place_levers["permit_service_share"],
                      insurance_rate=place_levers["insurance_enrolment_migrants"],
                      threshold_months=place_levers["hukou_threshold_months"],
                      asc_place=asc_place, network=network, settle_prob=settle, buy_prob=buy)


def place_constants(tier: np.ndarray, beh: dict) -> np.ndarray:
    """Utility constant of each place by type (fitted county-seat and out-of-province constants)."""
    f = beh["fitted"]
    seat = f["asc_county_seat"]
    return np.choose(tier, [seat + beh["asc_taiyuan_extra"], seat + beh["asc_prefecture_extra"], seat, 0.0,
                            f["asc_out_of_province"]]).astype(float)
