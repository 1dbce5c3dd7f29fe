"""Yearly public spending of each lever above the baseline policy, in yuan.

Unit costs (yuan, with source or "assumption") live in scenarios/levers.yaml under `cost`; this
module only says what each unit cost multiplies: the extra amount of the lever over its baseline
value times the quantity it applies to (people, households, jobs or units in that year). Costs are
computed per place and summed to cities and the province; levers set province-wide with a lump
cost (rail, resilience) are charged to the province only.
"""
import numpy as np

from sim.kernel import Counts
from sim.places import COUNTY_SEAT, PREFECTURE_CORE, TAIYUAN_CORE, VILLAGE


def _delta(v, b):
    return np.maximum(np.asarray(v, float) - np.asarray(b, float), 0.0)


def yearly_costs(levers: dict, place: dict, prov: dict, base_place: dict, base_prov: dict, last_place: dict,
                 last_prov: dict,
                 counts: Counts, flows: dict, eco, tier: np.ndarray, in_metro: np.ndarray, weight: float
                 ) -> tuple[dict, dict]:
    """(per-place costs {lever: array}, province lump costs {lever: yuan}) for one year."""
    c = counts
    people = c.people_by_home_place.sum(axis=0).astype(float) * weight
    migrants = c.migrants * weight
    urban = tier < VILLAGE
    seat = tier == COUNTY_SEAT
    village = tier == VILLAGE
    jobs = eco.jobs * weight
    unit = {k: float(v["cost"]["unit_cost_yuan"]) for k, v in levers.items() if "cost" in v}
    P, B = place, base_place
    per_place = {
        "permit_service_share": _delta(P["permit_service_share"], B["permit_service_share"]) * migrants,
        "school_access_migrant_children": _delta(P["school_access_migrant_children"], B["school_access_migrant_children"])
        * c.migrant_children * weight,
        "training_rate_per_year": _delta(P["training_rate_per_year"], B["training_rate_per_year"]) * c.trainable * weight,
        "wage_arrears_share": _delta(B["wage_arrears_share"], P["wage_arrears_share"]) * 100 * c.migrant_workers * weight,
        "public_rental_units_per_year": _city_total(P["public_rental_units_per_year"], eco.city, urban),
        "rent_subsidy_yuan_month": P["rent_subsidy_yuan_month"] * c.migrant_renters * weight,
        "insurance_enrolment_migrants": _delta(P["insurance_enrolment_migrants"], B["insurance_enrolment_migrants"])
        * c.migrant_workers * weight,
        "fiscal_transfer_yuan_per_settler": np.where(urban, prov["fiscal_transfer_yuan_per_settler"], 0.0)
        * flows["settled"] * weight,
        "jobs_growth_pct_year": _delta(P["jobs_growth_pct_year"], B["jobs_growth_pct_year"]) / 100 * jobs,
        "specialized_town_jobs_per_year": np.where(seat, prov["specialized_town_jobs_per_year"], 0.0)
        * people / max(people[seat].sum(), 1.0),
        "park_wage_premium": P["park_wage_premium"] * 100 * c.workers * weight,
        "returnee_support_yuan_month": np.where(seat, prov["returnee_support_yuan_month"], 0.0)
        * c.returnee_households * weight,
        "county_seat_service_level": np.where(seat, _delta(prov["county_seat_service_level"],
                                                           base_prov["county_seat_service_level"]), 0.0) * people,
        "rural_service_level": np.where(village, _delta(prov["rural_service_level"], base_prov["rural_service_level"]),
                                        0.0) * people,
        "standard_land_jobs_pct_year": P["standard_land_jobs_pct_year"] / 100 * jobs,
        "job_relocation_pct_year": np.where(tier == PREFECTURE_CORE, prov["job_relocation_pct_year"], 0.0) / 100 * jobs,
        "metro_jobs_growth_pct_year": np.where(eco.cluster_seat | (tier == TAIYUAN_CORE), prov["metro_jobs_growth_pct_year"], 0.0)
        / 100 * jobs,
        "metro_service_portability": np.where(in_metro, prov["metro_service_portability"], 0.0) * migrants,
        "metro_wage_convergence_pct_year": np.where(eco.cluster_seat, prov["metro_wage_convergence_pct_year"], 0.0)
        * c.workers * weight,
        "old_compound_renovated_share": np.where(urban, _delta(P["old_compound_renovated_share"],
                                                               last_place["old_compound_renovated_share"]), 0.0)
        * c.households * weight,
        "affordable_sale_units_per_year": _city_total(P["affordable_sale_units_per_year"], eco.city, urban),
        "urban_village_units_per_year": _city_total(P["urban_village_units_per_year"], eco.city, urban),
        "amenity_index": P["amenity_index"] / 0.1 * np.where(urban, people, 0.0),
        "governance_service_bonus": np.where(urban, prov["governance_service_bonus"], 0.0) / 0.1 * people,
    }
    per_place = {k: v * unit[k] for k, v in per_place.items()}
    lump = {
        "metro_travel_time_cut": _delta(prov["metro_travel_time_cut"], last_prov["metro_travel_time_cut"]),
        "dual_use_resilience": _delta(prov["dual_use_resilience"], last_prov["dual_use_resilience"]),
        "flood_resilience": _delta(prov["flood_resilience"], max(last_prov["flood_resilience"],
                                                                 base_prov["flood_resilience"])),
        "smart_city_efficiency": _delta(prov["smart_city_efficiency"], last_prov["smart_city_efficiency"]) / 0.1,
    }
    lump = {k: float(v) * unit[k] for k, v in lump.items()}
    return per_place, lump


def _city_total(per_city: np.ndarray, city: np.ndarray, urban: np.ndarray) -> np.ndarray:
    """A count given per city (same value at each of its urban places) charged once per city."""
    out = np.zeros(len(per_city))
    for c in np.unique(city[urban]):
        m = urban & (city == c)
        first = np.flatnonzero(m)[0]
        out[first] = per_city[m].max()
    return out
