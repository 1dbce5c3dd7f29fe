"""A household as a Mesa agent: a thin view over one row of the model's household arrays.

`step()` runs the same compiled rule (`sim.kernel.step_household`) the bulk kernel runs, so
stepping the agents and stepping the kernel give identical results.
"""

import mesa

from sim import state as S
from sim.kernel import step_household

TENURES = ("own", "rent", "public rental", "dormitory")


class Household(mesa.Agent):
    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index

    def step(self) -> None:
        """One month of this household, adding what changed to the model's counts of the month
        (`model.change`); `model.step()` calls it for every household and then applies the change."""
        m = self.model
        step_household(
            self.index, m.households, m.static, m.month_behaviour, m.month_conditions, m.seed, m.month, m.change
        )

    # --- read-only views, in domain terms
    @property
    def _h(self):
        return self.model.households

    @property
    def size(self) -> int:
        h, i = self._h, self.index
        return int(h.n_child[i]) + int(h.n_adult[i]) + int(h.n_old[i])

    @property
    def children(self) -> int:
        return int(self._h.n_child[self.index])

    @property
    def head_age(self) -> int:
        return int(self._h.head_age[self.index])

    @property
    def skill(self) -> str:
        return S.SKILLS[self._h.skill[self.index]]

    @property
    def place(self) -> int:
        return int(self._h.place[self.index])

    @property
    def place_name(self) -> str:
        return self.model.place_name(self.place)

    @property
    def hukou_place(self) -> int:
        return int(self._h.hukou[self.index])

    @property
    def home_unit(self) -> str:
        return self.model.geo.unit_name_en[self._h.origin[self.index]]

    @property
    def is_urban_resident(self) -> bool:
        return bool(self.model.static.place_is_urban[self.place])

    @property
    def has_local_hukou(self) -> bool:
        return self.place == self.hukou_place

    @property
    def employed(self) -> bool:
        return bool(self._h.flags[self.index] & S.EMPLOYED)

    @property
    def holds_land(self) -> bool:
        return bool(self._h.flags[self.index] & (S.CONTRACT_LAND | S.HOMESTEAD))

    @property
    def tenure(self) -> str:
        return TENURES[self._h.tenure[self.index]]

    @property
    def alive(self) -> bool:
        return self.size > 0

    # --- the family link (sim.kernel.family)
    @property
    def parents(self) -> "Household | None":
        """The parents' household of one formed by a young adult leaving home (or a census migrant
        linked to parents in its home village), as an agent when the model holds agents; else None."""
        p = int(self._h.parent_row[self.index])
        if p < 0:
            return None
        return self.model.household_agent(p)

    @property
    def kin_place_name(self) -> str | None:
        """Where the linked household (the parents, or the parents' latest leaver) lived at the last turn
        of the year; None without a living link."""
        h, i = self._h, self.index
        if not h.flags[i] & S.KIN or h.kin_place[i] < 0:
            return None
        return self.model.place_name(int(h.kin_place[i]))

    @property
    def remittances_received_yuan_month(self) -> float:
        """What the household's leavers living elsewhere send it, as of the last turn of the year."""
        return float(self._h.remittance_in[self.index])
