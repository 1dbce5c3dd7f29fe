"""ShanxiModel: every household of Shanxi, stepped month by month from the 2020 census to 2029.

Household state lives in arrays (sim.state) stepped by numba kernels (sim.kernel). With a small
sample (`population.max_agents`), the households are also real Mesa agents (agents.Household)
in `model.agents`, each a view over its row; `agent_stepping=True` steps them through
`Household.step()`, which runs the same compiled rule as the kernel.
"""

import copy
import csv
import logging
from importlib import resources

import mesa
import numba
import numpy as np

from agents import CountyUnit, Household
from scenarios.compile import compile_policy, delay, load_levers
from sim import indicators as ind
from sim import kernel as K
from sim.config import compose, draws, to_dict
from sim.config.guard import check_config_memory
from sim.config.parameters import kernel_values
from sim.config.schema import validate_config
from sim.economy import costs, markets
from sim.places import CENSUS_MONTH, month_calendar, months_until, rural_place, urban_place
from sim.world.geography import COUNTY, DISTRICT, province_geography
from sim.world.population import synthesize

logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO

# flows counted once a year, at the turn of the year, by the model itself (not by the monthly rule), and the
# family link's year-end values (kernel.family)
YEARLY_FLOWS = ("reclassified", "households_formed", "left_home_moved", "left_behind", "remittances")


def _read_csv(name):
    with resources.files("sim.world").joinpath(f"data/{name}").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


class ShanxiModel(mesa.Model):
    """The household model of Shanxi.

    Args:
        scale: sampling fraction of households (1.0 = the whole province, about 15.5 million units).
        rng: integer seed of the counter-based random streams (and of Mesa's own generators).
        scenario_name: name of a scenario in conf/scenario (levers as small diffs against the baseline).
        levers: lever overrides on top of the scenario, e.g. {"rent_subsidy_yuan_month": {"taiyuan": {2026: 300}}}.
        end_year: last simulated year.
        agent_stepping: step households through `Household.step()` instead of the bulk kernel.
        config: a full config (from Hydra); when given, the arguments above override nothing but `rng`.
    """

    def __init__(
        self,
        scale: float = 0.001,
        rng: int = 42,
        scenario_name: str = "baseline",
        levers: dict | None = None,
        end_year: int = 2029,
        agent_stepping: bool = False,
        config=None,
        threads: int | None = None,
    ):
        if config is None:
            config = compose(
                [f"population.scale={scale}", f"seed={rng}", f"scenario={scenario_name}", f"run.end_year={end_year}"]
            )
        cfg = draws.resolve(to_dict(config))  # posterior_draw k: draw k's constants in behaviour.fitted
        validate_config(cfg, with_geography=False)  # levers and census allocation: checked below
        seed = int(cfg["seed"])
        super().__init__(rng=seed)
        self.cfg = cfg
        self.seed = seed
        self.scale = float(cfg["population"]["scale"])
        self.weight = 1.0 / self.scale
        self.end_year = int(cfg["run"]["end_year"])
        # the starting census: 2020, or 2010 for the decade hindcast (sim.analysis.hindcast)
        self.start_year = int(cfg["run"].get("start_year", CENSUS_MONTH[0]))
        if self.end_year <= self.start_year:
            raise ValueError(
                f"run.end_year = {self.end_year} must be after run.start_year = {self.start_year} (the starting census)"
            )
        self.n_months = months_until(self.end_year, self.start_year)
        self.scenario_name = cfg["scenario"]["name"]
        self.agent_stepping = agent_stepping
        if threads:
            numba.set_num_threads(int(threads))
        self.geo = province_geography()
        check_config_memory(cfg, self.geo)  # MemoryGuardError before the households are allocated
        self.beh = cfg["behaviour"]
        self.kernel_parameters = kernel_values(cfg)  # the declared `kernel: true` parameters, read once
        self.econ = cfg["economy"]
        lever_values = copy.deepcopy(cfg["scenario"].get("levers") or {})
        lever_values = delay(lever_values, int(cfg["scenario"].get("delay_years") or 0))
        for k, v in (levers or {}).items():
            lever_values[k] = v
        self.levers = load_levers()
        self.policy = compile_policy(self.geo, lever_values, self.levers)
        self.base_policy = compile_policy(self.geo, None, self.levers)
        self.households, self.kind = synthesize(
            self.geo, cfg["population"], self.econ, self.scale, seed, numba.get_num_threads(), self.start_year
        )
        b = self.beh
        # the census's migrants from villages and their parents at home (kernel.family)
        # fmt: off
        K.link_census_migrants(self.households, float(b["census_migrants_with_parents_share"]),
                               int(b["leave_home_parent_min_age"]), int(b["census_migrant_max_head_age"]), seed,
                               len(self.geo.unit_name_en))
        # fmt: on
        self.static = markets.build_static(self.geo, self.econ, self.beh["distance_scale_km"])
        self.counts = K.aggregate(self.households, len(self.geo.unit_name_en), self.geo.n_places, self.static.oop)
        self.change = K.zero_counts(len(self.geo.unit_name_en), self.geo.n_places)  # last month's change of the counts
        wages = {r["city_en"]: float(r["avg_wage_non_private_yuan_year"]) for r in _read_csv("wages_2019.csv")}
        self.economy = markets.initial_economy(self.geo, self.econ, self.counts, wages, self.scale)
        markets.set_rural_incomes(self.economy, self.econ, self.start_year)
        self._metro_cut = 0.0
        self._settled_last_year = np.zeros(self.geo.n_places)
        district_village = np.zeros(self.geo.n_places, bool)
        district_village[rural_place(np.flatnonzero(np.asarray(self.geo.unit_type) == DISTRICT))] = True
        county_town = np.zeros(self.geo.n_places, bool)
        county_town[urban_place(np.flatnonzero(np.asarray(self.geo.unit_type) == COUNTY))] = True
        self.asc_place = markets.place_constants(self.economy.tier, self.beh, district_village, county_town)
        self.vital = {
            int(r["year"]): (float(r["crude_birth_rate_per_mille"]), float(r["crude_death_rate_per_mille"]))
            for r in _read_csv("vital_rates.csv")
        }
        self.regions = ind.Regions(self.geo)
        self.month = 0
        self.rows: list[tuple] = []  # (year, level, region, indicator, value)
        self._flows = self._zero_flows()
        self.month_behaviour = self._behaviour(self.start_year)
        self.month_conditions = self._conditions(self.start_year)
        # fmt: off
        K.refresh_family(self.households, self.month_behaviour, self.month_conditions, self.static.place_is_urban,
                         self.static.oop)
        # fmt: on
        self.census_values = ind.year_end(self.counts, self._flows, self.month_conditions, self.regions, self.weight)
        self._household_agents = self.households.n <= int(cfg["population"]["max_agents"])
        self._agent_of_row: list[Household] = []  # with agents: row i's Household agent
        if self._household_agents:
            self._agent_of_row = [Household(self, i) for i in range(self.households.n)]
        for u in range(len(self.geo.unit_name_en)):
            CountyUnit(self, u)
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "year": lambda m: m.calendar(m.month - 1)[0] + (m.calendar(m.month - 1)[1] - 1) / 12.0,
                "resident_urbanization_rate_pct": lambda m: m.province_rate("resident"),
                "hukou_urbanization_rate_pct": lambda m: m.province_rate("hukou"),
                "population": lambda m: m.province_population(),
            }
        )

    # --- the monthly step
    def step(self) -> None:
        if self.month >= self.n_months:
            self.running = False
            return
        year, moy = self.calendar(self.month)
        if moy == 1:
            self._new_year(year)
        self.month_behaviour = self._behaviour(year)
        self.month_conditions = self._conditions(year)
        if self.agent_stepping:
            self.change = K.zero_counts(len(self.geo.unit_name_en), self.geo.n_places)
            self.agents_by_type[Household].do("step")  # each agent adds what changed to self.change
        else:
            self.change = K.step_all(
                self.households, self.static, self.month_behaviour, self.month_conditions, self.seed, self.month
            )
        self.counts = self.counts.advanced_by(self.change)
        for k in self._flows:
            if k not in YEARLY_FLOWS:
                self._flows[k] += getattr(self.counts, k)
        self.month += 1
        if moy == 12:
            self._settled_last_year = self._flows["settled"].astype(float)
            self._record(year)
            self._flows = self._zero_flows()
        self.datacollector.collect(self)
        if self.month >= self.n_months:
            self.running = False

    def calendar(self, month: int) -> tuple[int, int]:
        """(year, month of year) of model month `month` (0 = the census month, November of run.start_year)."""
        return month_calendar(month, self.start_year)

    def run(self, progress=None) -> None:
        """Step to the end of `end_year`. `progress(month, n_months)` is called after each month."""
        while self.running and self.month < self.n_months:
            self.step()
            if progress:
                progress(self.month, self.n_months)

    def _new_year(self, year: int) -> None:
        place, prov = self.policy.at(year)
        markets.advance_year(self.economy, place, prov, self.counts, self._settled_last_year)
        markets.set_rural_incomes(self.economy, self.econ, year)
        # the year's draws first (kernel.yearly), then the changes; the counts follow the rows that changed
        # (integers: the same as a count from scratch; last month's flows stay as they were counted)
        towns, hukou_too, parents, rows = self._year_draws(year, place, prov)
        n_units, n_places, oop = len(self.geo.unit_name_en), self.geo.n_places, self.static.oop
        before = K.count_rows(self.households, rows, n_units, n_places, oop)
        self._reclassify(towns, hukou_too)
        n = self.households.n
        self._leave_home(parents)
        st = self.static
        # where every linked household lives now, and what each leaver sends home (kernel.family)
        # fmt: off
        K.refresh_family(self.households, self.month_behaviour, self.month_conditions, st.place_is_urban, st.oop)
        # fmt: on
        after = K.count_rows(self.households, rows, n_units, n_places, oop)
        new = K.count_rows(self.households, slice(n, None), n_units, n_places, oop)  # the new households
        self.counts = K.with_rows_changed(self.counts, before, after, new)
        if prov["metro_travel_time_cut"] != self._metro_cut:
            self._metro_cut = prov["metro_travel_time_cut"]
            self.static = markets.build_static(self.geo, self.econ, self.beh["distance_scale_km"], self._metro_cut)

    def _year_draws(self, year: int, place: dict, prov: dict) -> tuple[np.ndarray, ...]:
        """This year's draws (kernel.yearly): the rows reclassified (in-situ urbanization, kernel.reclassify)
        and whether their hukou goes along, the rows whose household sends a young adult out
        (kernel.formation.leavers), and the rows in either."""
        units = np.arange(len(self.geo.unit_name_en))
        rural = self.counts.people_by_home_place.sum(axis=0)[rural_place(units)] * self.weight
        # from the 2010 census (the decade hindcast) each unit's gain of the decade is the future: type rates only
        unit_specific = self.start_year >= CENSUS_MONTH[0]
        base = self.base_policy.at(year)[1]
        rates = markets.reclassification_rates(self.geo, self.econ, place, prov, base, rural, unit_specific)
        b = self.beh
        # fmt: off
        return K.year_rows(self.households, rates, float(self.econ["reclassification_hukou_share"]),
                           float(b["leave_home_rate_year"]), int(b["leave_home_parent_min_age"]), self.seed, self.month)
        # fmt: on

    def _reclassify(self, rows: np.ndarray, hukou_too: np.ndarray) -> None:
        """In-situ urbanization of the year: the village households `rows` (`_year_draws`) become urban."""
        people = np.zeros(self.geo.n_places, np.int64)
        K.reclassify_rows(self.households, rows, hukou_too, people)
        self._flows["reclassified"] += people

    def _leave_home(self, parents: np.ndarray) -> None:
        """Young adults who leave home this year (kernel.formation), from the households `parents`
        (`_year_draws`): the arrays grow by one row per new household, which chooses where to live under
        last month's conditions; with agents, each new row is a new Household agent."""
        if len(parents) == 0:
            return
        b = self.beh
        h = self.households
        n = h.n
        self.households = h.grown(len(parents))
        age_min, age_max = (int(a) for a in b["leave_home_age"])
        formed, moved = np.zeros(self.geo.n_places, np.int64), np.zeros(self.geo.n_places, np.int64)
        # fmt: off
        K.form_households(self.households, parents, n, age_min, age_max, self.static, self.month_behaviour,
                          self.month_conditions, self.seed, self.month, formed, moved)
        # fmt: on
        self._flows["households_formed"] += formed
        self._flows["left_home_moved"] += moved
        if self._household_agents:
            self._agent_of_row += [Household(self, j) for j in range(n, self.households.n)]

    # --- inputs of a month
    def _behaviour(self, year: int) -> K.Behaviour:
        b = self.beh
        _, prov = self.policy.at(year)
        cbr, cdr = self.vital[min(year, max(self.vital))]
        # The crude rates are Shanxi residents' (the sample survey counts residents): scale the age
        # pattern so that residents' deaths and births meet them; people outside Shanxi (Shanxi people
        # in other provinces, the in-migrant pool) get the same age-specific chances.
        c = self.counts
        residents = c.age_groups[self.static.place_in_shanxi].sum(axis=0).astype(float)
        d_child, d_adult = b["death_rate_child"] / 12, b["death_rate_adult"] / 12
        deaths = cdr / 1000 / 12 * residents.sum()
        d_old = max(0.0, (deaths - residents[0] * d_child - residents[1] * d_adult) / max(residents[2], 1.0))
        w = np.asarray(b["birth_weights"], float)
        births = cbr / 1000 / 12 * residents.sum()
        f = births / max(float((c.birth_exposure[0] * w).sum()), 1.0)
        return K.Behaviour(
            **self.kernel_parameters,
            death_child=d_child,
            death_adult=d_adult,
            death_old=d_old,
            birth_20s=min(1.0, w[0] * f),
            birth_30s=min(1.0, w[1] * f),
            birth_40s=min(1.0, w[2] * f),
            child_to_adult=b["child_to_adult_year"] / 12,
            adult_to_old=b["adult_to_old_year"] / 12,
            land_protection=prov["land_protection_share"],
            rural_service_level=prov["rural_service_level"],
            training_wage_uplift=prov["training_wage_uplift"],
            returnee_support=prov["returnee_support_yuan_month"],
            metro_portability=prov["metro_service_portability"],
        )

    def _conditions(self, year: int) -> K.Conditions:
        place, prov = self.policy.at(year)
        return markets.conditions(
            self.economy,
            self.counts,
            self.static,
            self.month_behaviour,
            self.beh,
            self.econ,
            place,
            prov,
            self.asc_place,
        )

    # --- outputs
    def _zero_flows(self):
        n = self.geo.n_places
        return {
            k: np.zeros(n, np.int64)
            for k in (
                "settled",
                "moved_in",
                "returned",
                "births",
                "deaths",
                "left_as_migrant",
                "migrants",
                *YEARLY_FLOWS,
            )
        }

    def _record(self, year: int) -> None:
        months = 12 if year > self.start_year else 12 - CENSUS_MONTH[1] + 1
        left_behind, remittances = np.zeros(self.geo.n_places, np.int64), np.zeros(self.geo.n_places)
        K.family_by_place(self.households, left_behind, remittances)
        self._flows["left_behind"], self._flows["remittances"] = left_behind, remittances
        values = ind.year_end(self.counts, self._flows, self.month_conditions, self.regions, self.weight, months)
        for name, arr in values.items():
            for r, (level, region) in enumerate(zip(self.regions.levels, self.regions.names)):
                self.rows.append((year, level, region, name, float(arr[r])))
        self._record_costs(year)

    def _record_costs(self, year: int) -> None:
        """Spending above the baseline policy, per lever, for the province and the cities."""
        now, base = self.policy.at(year), self.base_policy.at(year)
        last = self.policy.at(year - 1) if year > self.start_year else base
        masks = costs.place_masks(self.economy.tier, self.static.place_in_metro, self.economy.cluster_seat)
        per_place, lump = costs.yearly_costs(
            self.levers, now, base, last, self.counts, self._flows, self.economy, masks, self.weight
        )
        n_city = 1 + len(self.geo.city_name_en)
        masks = self.regions.place_mask[:n_city].astype(float)
        total = np.zeros(n_city)
        for name in self.levers:
            if name in per_place:
                values = masks @ per_place[name]
            elif name in lump:
                values = np.zeros(n_city)
                values[0] = lump[name]
            else:
                continue
            total += values
            for r in range(n_city):
                self.rows.append(
                    (year, self.regions.levels[r], self.regions.names[r], f"cost_{name}_yuan", float(values[r]))
                )
        for r in range(n_city):
            self.rows.append((year, self.regions.levels[r], self.regions.names[r], "cost_total_yuan", float(total[r])))

    def synthesis_fit(self):
        """How the current households match the census controls by unit type (sim.world.synthesis_fit); at
        the start of a run, the fit of the synthetic population."""
        from sim.world.synthesis_fit import fit_report

        return fit_report(self.geo, self.counts, self.weight)

    def province_rate(self, which: str) -> float:
        c = self.counts
        if which == "resident":
            people = c.people_by_home_place.sum(axis=0)
            inside = self.static.place_in_shanxi
            return 100.0 * people[self.static.place_is_urban].sum() / people[inside].sum()
        hukou = c.people_by_hukou_place
        return 100.0 * hukou[self.static.place_is_urban].sum() / hukou[self.static.place_in_shanxi].sum()

    def province_population(self) -> float:
        people = self.counts.people_by_home_place.sum(axis=0)
        return float(people[self.static.place_in_shanxi].sum()) * self.weight

    def household_agent(self, row: int) -> Household | None:
        """The Mesa agent of household row `row` (None when the model holds no household agents)."""
        return self._agent_of_row[row] if self._agent_of_row else None

    def place_name(self, p: int) -> str:
        if p == self.static.oop:
            return "out of province"
        u = self.geo.place_unit[p]
        return f"{self.geo.unit_name_en[u]} ({'urban' if self.static.place_is_urban[p] else 'rural'})"

    def indicator_rows(self) -> list[dict]:
        return [
            dict(scenario=self.scenario_name, seed=self.seed, year=y, level=lv, region=r, indicator=k, value=v)
            for (y, lv, r, k, v) in self.rows
        ]
