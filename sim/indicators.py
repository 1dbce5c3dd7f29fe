"""Indicators by province, city and county from the monthly counts (tidy rows)."""

import numpy as np

from sim.kernel import Counts
from sim.places import OUT_OF_PROVINCE

INDICATORS = (
    "resident_urbanization_rate_pct",
    "hukou_urbanization_rate_pct",
    "population",
    "households",
    "migrants_settled",
    "out_of_province",
    "births",
    "deaths",
    "moved_in",
    "returned_home",
    "employment_rate_pct",
    "rent_yuan_month",
    "migrants",
    "migrant_leaving_rate_pct",
    "urban_population",
    "urban_natural_change",
    "urban_reclassified",
    "households_formed",
    "households_formed_moved",
    "left_behind_households",
    "remittances_received_yuan",
)


class Regions:
    """Place membership of every region: province, 11 cities, 117 county units."""

    def __init__(self, geo):
        n_units = len(geo.unit_name_en)
        oop = OUT_OF_PROVINCE
        self.names, self.levels, masks, unit_masks = [], [], [], []
        place_unit = np.asarray(geo.place_unit)
        unit_city = np.asarray(geo.unit_city)

        def add(level, name, unit_mask):
            place_mask = np.zeros(geo.n_places, bool)
            place_mask[:oop] = unit_mask[place_unit[:oop]]
            self.levels.append(level)
            self.names.append(name)
            masks.append(place_mask)
            unit_masks.append(unit_mask)

        add("province", "Shanxi", np.ones(n_units, bool))
        for c, name in enumerate(geo.city_name_en):
            add("city", name, unit_city == c)
        for u, name in enumerate(geo.unit_name_en):
            m = np.zeros(n_units, bool)
            m[u] = True
            add("county", name, m)
        self.place_mask = np.array(masks)  # (n_regions, n_places)
        self.unit_mask = np.array(unit_masks)  # (n_regions, n_units)
        self.urban = np.asarray(geo.place_is_urban)
        self.oop = oop


def year_end(
    counts: Counts, flows: dict, conditions, regions: Regions, weight: float, months: int = 12
) -> dict[str, np.ndarray]:
    """Indicator values per region (arrays over regions) at a year end.

    `flows` holds people counts summed over the year's months (settled, moved_in, returned, births, deaths).
    Populations are scaled by `weight` (households represented per sampled household).
    """
    people = counts.people_by_home_place.sum(axis=0).astype(float)
    M = regions.place_mask.astype(float)
    U = (regions.place_mask & regions.urban[None, :]).astype(float)
    pop = M @ people
    urban = U @ people
    hukou = counts.people_by_hukou_place.astype(float)
    hukou_all = M @ hukou
    hukou_urban = U @ hukou
    away = counts.people_by_home_place[:-1, regions.oop].astype(float)  # by home unit
    workers = M @ counts.workers
    employed = M @ counts.employed_workers
    renters = counts.renters.astype(float)
    rent = np.divide(
        M @ (renters * conditions.rent), M @ renters, out=np.full(len(pop), np.nan), where=(M @ renters) > 0
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "resident_urbanization_rate_pct": 100.0 * urban / pop,
            "hukou_urbanization_rate_pct": 100.0 * hukou_urban / hukou_all,
            "population": pop * weight,
            "households": (M @ counts.households) * weight,
            "migrants_settled": (M @ flows["settled"]) * weight,
            "out_of_province": (regions.unit_mask.astype(float) @ away) * weight,
            "births": (M @ flows["births"]) * weight,
            "deaths": (M @ flows["deaths"]) * weight,
            "moved_in": (M @ flows["moved_in"]) * weight,
            "returned_home": (M @ flows["returned"]) * weight,
            "employment_rate_pct": 100.0 * employed / workers,
            "rent_yuan_month": rent,
            "migrants": (M @ counts.migrants) * weight,
            # people leaving a place where they had no local hukou, per year (annualised), over the mean migrant stock
            "migrant_leaving_rate_pct": 100.0
            * (M @ flows["left_as_migrant"])
            / np.maximum(M @ flows["migrants"], 1.0)
            * 12.0,
            # the year's urban growth splits into natural change (births less deaths in urban places),
            # in-situ reclassification, and net migration (the rest: the change of urban_population less both)
            "urban_population": urban * weight,
            "urban_natural_change": (U @ (flows["births"] - flows["deaths"])) * weight,
            "urban_reclassified": (U @ flows["reclassified"]) * weight,
            # young adults who left home and formed a household of their own (by where they now live), and
            # those of them who left their parents' place
            "households_formed": (M @ flows["households_formed"]) * weight,
            "households_formed_moved": (M @ flows["left_home_moved"]) * weight,
            # the family link (kernel.family), by the parents' place: their households in a village while a
            # leaver of theirs lives in a town, a city or another province; what leavers send them in a year
            "left_behind_households": (M @ flows["left_behind"]) * weight,
            "remittances_received_yuan": (M @ flows["remittances"]) * 12.0 * weight,
        }
    return out
