"""County-level units as Mesa agents: each owns the labour and housing market of its urban and
rural part. The markets are updated for all places at once (sim.economy.markets); these agents are views
that report a unit's state in domain terms."""

import mesa

from sim.places import rural_place, urban_place


class CountyUnit(mesa.Agent):
    def __init__(self, model, unit: int):
        super().__init__(model)
        self.unit = unit
        self.name = model.geo.unit_name_en[unit]
        self.name_zh = model.geo.unit_name_zh[unit]
        self.city = model.geo.city_name_en[model.geo.unit_city[unit]]
        self.urban_place, self.rural_place = urban_place(unit), rural_place(unit)

    def _people(self, place):
        return float(self.model.counts.people_by_home_place[:, place].sum()) * self.model.weight

    @property
    def population(self) -> float:
        return self._people(self.urban_place) + self._people(self.rural_place)

    @property
    def urbanization_rate_pct(self) -> float:
        pop = self.population
        return 100.0 * self._people(self.urban_place) / pop if pop else float("nan")

    @property
    def employment_probability(self) -> float:
        return float(self.model.month_conditions.emp_prob[self.urban_place])

    @property
    def rent_yuan_month(self) -> float:
        return float(self.model.month_conditions.rent[self.urban_place])
