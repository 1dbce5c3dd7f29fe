"""The configuration schema: every key of conf/, its type, its allowed range and its unit.

`validate_config(cfg)` checks a composed configuration (from Hydra or `sim.config.compose`)
before anything is simulated and raises :class:`ConfigError` naming the full dotted key, the
value and what is allowed, e.g.::

    population.scale = 0 is outside (0, 1] (sampling fraction of households)
    population.scal = 0.1 is not a config key; did you mean population.scale?
    population.skill_migrant = [0.5, 0.5] has 2 entries; allowed: a list of 3 ...

What it checks, in this order:

1. No config names code to run (`_target_`, `_partial_`, `_args_`, ... of Hydra's `instantiate`),
   unless the target is an object of the project's own packages (`refuse_code_targets`). The
   project never instantiates from configs; this keeps it that way when configs come from others.
2. Every key is one of the default tree composed from conf/ (all options of every group), with a
   "did you mean" suggestion for a typo; no required key is missing.
3. Every value has its type and lies in its range (`SCHEMA` below: the ONE place of the ranges;
   units as in sim/world/data/parameters.csv where that exists).
4. Rules linking several keys (`RULES`): tenure shares of one kind sum to at most 1, the
   out-of-province assumptions are consistent with the census, numba's thread limit.
5. The scenario's levers: known lever names (with a suggestion), regions, years and values in
   range, through `scenarios.compile.compile_policy` itself, so the messages are those of the
   lever dictionary (scenarios/levers.yaml).

Every problem found is reported at once, one per line.
"""
from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from sim.config import CONF_DIR
PROJECT_PACKAGES = ("sim", "agents", "scenarios")
INSTANTIATE_KEYS = ("_target_", "_partial_", "_args_", "_recursive_", "_convert_")
SUM_TOLERANCE = 1e-6


class ConfigError(ValueError):
    """A configuration key is unknown, missing, of the wrong type or outside its range."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            text = self.problems[0]
        else:
            text = f"{len(self.problems)} problems in the configuration:\n  " + "\n  ".join(self.problems)
        super().__init__(text)


def _fmt(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def _show(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --------------------------------------------------------------------------------------
# value specs


@dataclass(frozen=True)
class Number:
    """A number (or an integer) in [lo, hi]; `lo_open`/`hi_open` exclude the bound."""
    lo: float | None
    hi: float | None
    unit: str = ""
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def interval(self) -> str:
        if self.lo is None and self.hi is None:
            return "any value"
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {_fmt(self.lo)}"
        if self.lo is None:
            return f"{'<' if self.hi_open else '<='} {_fmt(self.hi)}"
        return f"{'(' if self.lo_open else '['}{_fmt(self.lo)}, {_fmt(self.hi)}{')' if self.hi_open else ']'}"

    def allowed(self) -> str:
        what = "an integer" if self.integer else "a number"
        unit = f" ({self.unit})" if self.unit else ""
        return f"{what} in {self.interval()}{unit}" if self.lo is not None and self.hi is not None \
            else f"{what} {self.interval()}{unit}"

    def check(self, key: str, value) -> list[str]:
        unit = f" ({self.unit})" if self.unit else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{key} = {_show(value)} is not {'an integer' if self.integer else 'a number'}; "
                    f"allowed: {self.allowed()}"]
        if self.integer and not isinstance(value, int):
            return [f"{key} = {_show(value)} is not an integer; allowed: {self.allowed()}"]
        if not math.isfinite(value):
            return [f"{key} = {_show(value)} is not a finite number; allowed: {self.allowed()}"]
        below = self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo))
        above = self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi))
        if below or above:
            return [f"{key} = {_show(value)} is outside {self.interval()}{unit}"]
        return []


@dataclass(frozen=True)
class Vector:
    """A list: `length` entries of `item` (or one spec per entry in `items`), optionally summing to `total`."""
    item: Any = None
    length: int | None = None
    total: float | None = None
    labels: str = ""
    items: tuple = ()
    min_length: int = 0

    def allowed(self) -> str:
        n = len(self.items) if self.items else self.length
        count = f"{n} " if n is not None else ""
        labels = f" ({self.labels})" if self.labels else ""
        if self.items:
            parts = "; ".join(f"{i + 1}: {s.allowed()}" for i, s in enumerate(self.items))
            text = f"a list of {count}entries{labels}: {parts}"
        else:
            text = f"a list of {count}entries{labels}, each {self.item.allowed()}"
        if self.total is not None:
            text += f", summing to {_fmt(float(self.total))}"
        return text

    def check(self, key: str, value) -> list[str]:
        if not isinstance(value, (list, tuple)):
            return [f"{key} = {_show(value)} is not a list; allowed: {self.allowed()}"]
        n = len(self.items) if self.items else self.length
        if n is not None and len(value) != n:
            return [f"{key} = {_show(value)} has {len(value)} entries; allowed: {self.allowed()}"]
        if len(value) < self.min_length:
            return [f"{key} = {_show(value)} has {len(value)} entries; allowed: {self.allowed()} "
                    f"(at least {self.min_length})"]
        problems = []
        for i, v in enumerate(value):
            spec = self.items[i] if self.items else self.item
            problems += spec.check(f"{key}[{i}]", v)
        if not problems and self.total is not None:
            s = float(sum(value))
            if abs(s - self.total) > SUM_TOLERANCE:
                problems.append(f"{key} = {_show(value)} sums to {s:g}; allowed: {self.allowed()}")
        return problems


@dataclass(frozen=True)
class Choice:
    choices: tuple
    unit: str = ""

    def allowed(self) -> str:
        return "one of " + " | ".join(map(str, self.choices)) + (f" ({self.unit})" if self.unit else "")

    def check(self, key: str, value) -> list[str]:
        if value not in self.choices or isinstance(value, bool):
            return [f"{key} = {_show(value)} is not allowed; allowed: {self.allowed()}"]
        return []


@dataclass(frozen=True)
class Text:
    pattern: str | None = None
    unit: str = ""

    def allowed(self) -> str:
        return "a string" + (f" matching {self.pattern}" if self.pattern else "") + (f" ({self.unit})" if self.unit else "")

    def check(self, key: str, value) -> list[str]:
        if not isinstance(value, str) or (self.pattern and not re.fullmatch(self.pattern, value)):
            return [f"{key} = {_show(value)} is not allowed; allowed: {self.allowed()}"]
        return []


@dataclass(frozen=True)
class Levers:
    """scenario.levers: a mapping lever -> value, checked against scenarios/levers.yaml (see check_levers)."""

    def allowed(self) -> str:
        return "a mapping of lever name -> value | {region: value} | {year: value} (scenarios/levers.yaml)"

    def check(self, key: str, value) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, dict):
            return [f"{key} = {_show(value)} is not a mapping; allowed: {self.allowed()}"]
        return []


@dataclass(frozen=True)
class Free:
    """Anything (records written by tools, e.g. behaviour.fit by sim.analysis.calibrate)."""
    unit: str = ""

    def allowed(self) -> str:
        return "anything" + (f" ({self.unit})" if self.unit else "")

    def check(self, key: str, value) -> list[str]:
        return []


def share(unit: str = "share") -> Number:
    return Number(0, 1, unit)


def per_month(unit: str = "probability per month") -> Number:
    return Number(0, 1, unit)


def yuan_month(hi: float, unit: str = "yuan/month") -> Number:
    return Number(0, hi, unit)


def utility(lo: float = 0, hi: float = 20, unit: str = "utility units") -> Number:
    return Number(lo, hi, unit)


def integer(lo, hi, unit: str = "") -> Number:
    return Number(lo, hi, unit, integer=True)


SKILLS = "low / middle / high skill"
SHARES3 = Vector(share(), 3, total=1.0, labels=SKILLS)
HEAD_AGE = Vector(items=(Number(0, 120, "years, mean of the head's age"), Number(0, 60, "years, standard deviation")))
YEARS = Vector(integer(2021, 2029, "year"))

# The ranges: ONE place. Every leaf key of conf/ has an entry (tests/test_bad_input.py checks it).
SCHEMA: dict[str, Any] = {
    # top level and run
    "seed": integer(0, 2**63 - 1, "seed of the counter-based random streams"),
    "run.end_year": integer(2021, 2029, "last simulated year; the data start at the 2020 census, the plan ends 2029"),
    "run.threads": integer(0, 4096, "numba threads, 0 = all cores"),
    "run.progress": Choice(("auto", "bar", "log", "none")),
    # population
    "population.scale": Number(0, 1, "sampling fraction of households", lo_open=True),
    "population.max_agents": integer(0, 10**9, "households"),
    "population.shanxi_hukou_out_of_province": Number(0, 10_000_000, "persons"),
    "population.out_of_province_urban_hukou_share": share(),
    "population.other_province_in_urban_share": share(),
    "population.in_migrant_pool_ratio": Number(0, 100, "pool households per in-migrant household"),
    "population.gravity_km": Number(0, 10_000, "km", lo_open=True),
    "population.own_county_bonus": Number(0, 1000, "weight multiplier"),
    "population.taiyuan_pull": Number(0, 100, "relative density", lo_open=True),
    "population.size_rural_local": Number(1, 8, "persons per household", lo_open=True),
    "population.size_urban_local": Number(1, 8, "persons per household", lo_open=True),
    "population.size_migrant": Number(1, 8, "persons per household", lo_open=True),
    "population.size_out_of_province": Number(1, 8, "persons per household", lo_open=True),
    "population.head_age_rural_local": HEAD_AGE,
    "population.head_age_urban_local": HEAD_AGE,
    "population.head_age_migrant": HEAD_AGE,
    "population.head_age_collective": HEAD_AGE,
    "population.member_age_mix": Vector(Vector(share(), 3, total=1.0, labels="ages 0-14 / 15-59 / 60+"), 4,
                                        labels="heads aged <30 / 30-44 / 45-59 / 60+"),
    "population.skill_rural_local": SHARES3,
    "population.skill_migrant": SHARES3,
    "population.skill_urban_local": SHARES3,
    "population.contract_land_rural_hukou": share(),
    "population.homestead_rural_hukou": share(),
    "population.own_home_urban_local": share(),
    "population.public_rental_urban_local": share(),
    "population.own_home_migrant": share(),
    "population.public_rental_migrant": share(),
    "population.insured_urban_local": share(),
    "population.insured_migrant": share(),
    "population.months_here_max_migrant": integer(0, 255, "months, held in one byte"),
    # economy
    "economy.migrant_wage_share_of_city_average": Number(0, 2, "ratio to the city average wage", lo_open=True),
    "economy.county_seat_wage_factor": Number(0, 2, "ratio to the city wage", lo_open=True),
    "economy.rural_wage_yuan_month": yuan_month(100_000),
    "economy.out_of_province_wage_yuan_month": yuan_month(100_000),
    "economy.skill_wage_factor": Vector(Number(0, 10, "wage factor", lo_open=True), 3, labels=SKILLS),
    "economy.rent_taiyuan_yuan_month": yuan_month(20_000),
    "economy.rent_prefecture_yuan_month": yuan_month(20_000),
    "economy.rent_county_seat_yuan_month": yuan_month(20_000),
    "economy.rent_village_yuan_month": yuan_month(20_000),
    "economy.rent_out_of_province_yuan_month": yuan_month(20_000),
    "economy.employment_rate_urban": share("probability"),
    "economy.employment_rate_rural": share("probability"),
    "economy.employment_rate_out_of_province": share("probability"),
    "economy.employment_rate_max": share("probability"),
    "economy.rent_population_elasticity": Number(0, 10, "elasticity"),
    "economy.service_level_taiyuan": share("index 0-1"),
    "economy.service_level_prefecture": share("index 0-1"),
    "economy.service_level_county_seat": share("index 0-1"),
    "economy.within_county_move_km": Number(0, 500, "km"),
    "economy.land_income_yuan_month": yuan_month(100_000),
    "economy.urban_village_rent_elasticity": Number(0, 10, "rent rise per unit share removed"),
    "economy.amenity_per_renovated_share": utility(),
    # behaviour
    "behaviour.review_rate": per_month(),
    "behaviour.beta_income": Number(0, 20, "utility per unit ln(income)", lo_open=True),
    "behaviour.beta_distance": utility(unit="utility per unit ln(1 + km / distance_scale_km)"),
    "behaviour.distance_scale_km": Number(0, 10_000, "km", lo_open=True),
    "behaviour.move_fixed_cost": utility(),
    "behaviour.beta_housing": utility(unit="utility per unit rent burden"),
    "behaviour.beta_school": utility(),
    "behaviour.beta_services": utility(),
    "behaviour.beta_insurance": utility(),
    "behaviour.beta_network": utility(hi=50),
    "behaviour.beta_land": utility(),
    "behaviour.beta_age": utility(unit="utility per decade of age"),
    "behaviour.unemployed_income_factor": share("ratio to the employed income"),
    "behaviour.public_rent_factor": share("ratio to the market rent"),
    "behaviour.own_home_if_local": share(),
    "behaviour.insured_if_local": share(),
    "behaviour.oop_school_access": share(),
    "behaviour.oop_service_access": share(),
    "behaviour.rural_insurance": share(),
    "behaviour.insurance_uptake_month": per_month(),
    "behaviour.job_separation": per_month(),
    "behaviour.death_rate_child": share("per person-year"),
    "behaviour.death_rate_adult": share("per person-year"),
    "behaviour.birth_weights": Vector(Number(0, 100, "relative birth rate"), 3,
                                      labels="heads aged 20-29 / 30-39 / 40-49"),
    "behaviour.child_to_adult_year": share("per person-year"),
    "behaviour.adult_to_old_year": share("per person-year"),
    "behaviour.asc_prefecture_extra": utility(-20, 20),
    "behaviour.asc_taiyuan_extra": utility(-20, 20),
    "behaviour.settle_children": utility(-20, 20, "log-odds"),
    "behaviour.settle_own_home": utility(-20, 20, "log-odds"),
    "behaviour.settle_insured": utility(-20, 20, "log-odds"),
    "behaviour.settle_land": utility(-20, 20, "log-odds"),
    "behaviour.settle_public_rental": utility(-20, 20, "log-odds"),
    "behaviour.buy_rate_year": Vector(share("probability per household-year"), 3, labels=SKILLS),
    "behaviour.fitted.asc_county_seat": utility(-20, 20),
    "behaviour.fitted.asc_out_of_province": utility(-20, 20),
    "behaviour.fitted.settle_intercept": utility(-30, 10, "monthly log-odds"),
    "behaviour.fitted.asc_stay": utility(-20, 20),
    "behaviour.fit": Free("record of the fit, written by sim.analysis.calibrate"),
    # scenario
    "scenario.name": Text(r"[A-Za-z0-9_.-]+", "letters, digits, _ . - (it names the run folder)"),
    "scenario.description": Text(),
    "scenario.levers": Levers(),
    "scenario.delay_years": integer(0, 9, "years"),
    # validation (python -m sim validate)
    "validation.calibration_years": YEARS,
    "validation.validation_years": YEARS,
    "validation.seeds": integer(1, 10_000, "ensemble members"),
    "validation.parameter_draws": integer(0, 100_000, "draws"),
    "validation.band": Vector(Number(0, 100, "percentile"), 2, labels="lower / upper"),
    # a point of a sensitivity design (python -m sim sensitivity; applied by sim.runs.design.apply_design)
    "design": Free("file, point and sha256 of a design point written by python -m sim sensitivity"),
}

# keys (or subtrees) a config may leave out
OPTIONAL = ("validation", "behaviour.fit", "scenario.description", "scenario.levers", "scenario.delay_years",
            "run.threads", "run.progress")


# --------------------------------------------------------------------------------------
# rules linking several keys


def _get(cfg: dict, dotted: str):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _rule_tenure(cfg: dict) -> list[str]:
    out = []
    for kind in ("urban_local", "migrant"):
        a, b = f"population.own_home_{kind}", f"population.public_rental_{kind}"
        va, vb = _get(cfg, a), _get(cfg, b)
        if _number(va) and _number(vb) and va + vb > 1 + SUM_TOLERANCE:
            out.append(f"{a} + {b} = {va} + {vb} = {va + vb:g} is above 1; allowed: tenure shares summing to at most 1")
    return out


def _rule_census(cfg: dict) -> list[str]:
    pop = cfg.get("population")
    keys = ("shanxi_hukou_out_of_province", "out_of_province_urban_hukou_share", "other_province_in_urban_share")
    if not isinstance(pop, dict) or not all(_number(pop.get(k)) for k in keys):
        return []
    from sim.world.population import census_kinds, load_census
    try:
        census_kinds(load_census(), pop)
    except ValueError as e:
        return [f"population.shanxi_hukou_out_of_province = {pop[keys[0]]}, population.{keys[1]} = {pop[keys[1]]}, "
                f"population.{keys[2]} = {pop[keys[2]]}: {e}"]
    return []


def _rule_threads(cfg: dict) -> list[str]:
    n = _get(cfg, "run.threads")
    if not _number(n) or isinstance(n, float):
        return []
    import numba
    limit = int(numba.config.NUMBA_NUM_THREADS)
    if n > limit:
        return [f"run.threads = {n} is outside [0, {limit}] (numba threads on this machine; 0 = all)"]
    return []


def _rule_band(cfg: dict) -> list[str]:
    band = _get(cfg, "validation.band")
    if isinstance(band, (list, tuple)) and len(band) == 2 and all(map(_number, band)) and band[0] >= band[1]:
        return [f"validation.band = {band!r} is not increasing; allowed: [lower, upper] percentiles, lower < upper"]
    return []


RULES: list[Callable[[dict], list[str]]] = [_rule_tenure, _rule_census, _rule_threads, _rule_band]


# --------------------------------------------------------------------------------------
# the default tree composed from conf/


def _read_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return data if isinstance(data, dict) else {}


def _merge(into: dict, other: dict) -> dict:
    for k, v in other.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v
    return into


def _group_tree(group: str, selected: str | None) -> dict:
    """Union of every option of a config group (the selected one last, so its values win)."""
    tree: dict = {}
    folder = CONF_DIR / group
    files = sorted(folder.glob("*.yaml"))
    selected = selected if isinstance(selected, str) else None
    if selected:
        files = [f for f in files if f.stem != selected] + [folder / f"{selected}.yaml"]
    for f in files:
        if f.exists():
            data = _read_yaml(f)
            data.pop("defaults", None)
            _merge(tree, data)
    return tree


def _compose_tree(name: str) -> dict:
    data = _read_yaml(CONF_DIR / f"{name}.yaml")
    defaults = data.pop("defaults", None) or []
    data.pop("hydra", None)
    tree: dict = {}
    if "_self_" not in defaults:
        defaults = [*defaults, "_self_"]
    for entry in defaults:
        if entry == "_self_":
            _merge(tree, data)
        elif isinstance(entry, str):
            _merge(tree, _compose_tree(entry))
        elif isinstance(entry, dict):
            for group, option in entry.items():
                group = str(group)
                if group.startswith(("hydra", "override")) or "/" in group:
                    continue
                _merge(tree, {group: _group_tree(group, option)})
    return tree


@functools.lru_cache(maxsize=1)
def _default_tree_cached(mtimes: tuple) -> dict:
    tree = _compose_tree("config")
    if (CONF_DIR / "validate.yaml").exists():
        _merge(tree, _compose_tree("validate"))
    return tree


def default_tree() -> dict:
    """The tree of every key the configs in conf/ define (all options of every group)."""
    mtimes = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in CONF_DIR.rglob("*.yaml")))
    return _default_tree_cached(mtimes)


def default_leaves(tree: dict | None = None, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> default value of every leaf (stopping at keys the schema treats as a whole)."""
    tree = default_tree() if tree is None else tree
    out = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in SCHEMA:
            out.update(default_leaves(v, key + "."))
        else:
            out[key] = v
    return out


def _fallback_spec(default) -> Any:
    """For a key of conf/ not yet in SCHEMA: at least its default's type."""
    if isinstance(default, bool):
        return Choice((True, False))
    if isinstance(default, int):
        return Number(None, None, integer=True)
    if isinstance(default, float):
        return Number(None, None)
    if isinstance(default, str):
        return Text()
    if isinstance(default, list):
        return Vector(Free(), len(default))
    return Free()


# --------------------------------------------------------------------------------------
# no code from configs


def _is_project_object(target: str) -> bool:
    """True if `target` names a module, class or function defined in the project's own packages."""
    if not isinstance(target, str) or target.split(".")[0] not in PROJECT_PACKAGES:
        return False
    parts = target.split(".")
    obj, i = None, len(parts)
    while i > 0:
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            i -= 1
    if obj is None:
        return False
    for part in parts[i:]:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return False
    if inspect.ismodule(obj):
        home = obj.__name__
    elif inspect.isclass(obj) or inspect.isfunction(obj):
        home = getattr(obj, "__module__", "") or ""
    else:
        return False
    return home.split(".")[0] in PROJECT_PACKAGES


def refuse_code_targets(cfg, path: str = "") -> None:
    """Refuse any Hydra instantiation key (`_target_`, `_args_`, `_partial_`, ...) anywhere in the
    config unless its node's `_target_` is a module, class or function of the project's packages."""
    allowed = "a _target_ naming a module, class or function of the project's own packages (" + \
        ", ".join(p + "." for p in PROJECT_PACKAGES) + ")"
    if isinstance(cfg, dict):
        special = [k for k in cfg if k in INSTANTIATE_KEYS]
        if special:
            target = cfg.get("_target_")
            where = f"{path}." if path else ""
            if "_target_" in cfg and not _is_project_object(target):
                raise ConfigError(f"{where}_target_ = {_show(target)} names code outside the project; configs may "
                                  f"not run code; allowed: {allowed}")
            if "_target_" not in cfg:
                k = special[0]
                raise ConfigError(f"{where}{k} = {_show(cfg[k])} is an instantiation key without a _target_; "
                                  f"configs may not run code; allowed: {allowed}")
        for k, v in cfg.items():
            refuse_code_targets(v, f"{path}.{k}" if path else str(k))
    elif isinstance(cfg, (list, tuple)):
        for i, v in enumerate(cfg):
            refuse_code_targets(v, f"{path}[{i}]")


# --------------------------------------------------------------------------------------
# the scenario's levers


def _geography():
    from sim.world.geography import province_geography
    return province_geography()


def check_levers(scenario: dict, geo=None) -> list[str]:
    """Problems with scenario.levers: unknown lever (with a suggestion), region, year or value out of range."""
    from scenarios.compile import ScenarioError, compile_policy, load_levers
    levers = scenario.get("levers") if isinstance(scenario, dict) else None
    if not levers or not isinstance(levers, dict):
        return []
    known = load_levers()
    problems = []
    for name, value in levers.items():
        if name not in known:
            hint = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
            problems.append(f"scenario.levers.{name} = {_show(value)}: unknown lever"
                            + (f" (did you mean scenario.levers.{hint[0]}?)" if hint else "")
                            + f"; known levers: {', '.join(sorted(known))}")
    if problems:
        return problems
    try:
        compile_policy(geo if geo is not None else _geography(), levers, known)
    except ScenarioError as e:
        return [str(e)]
    return []


# --------------------------------------------------------------------------------------
# the walk


def _optional(key: str) -> bool:
    return any(key == o or key.startswith(o + ".") for o in OPTIONAL)


def _unknown(key: str, value, siblings: list[str], prefix: str, all_keys: list[str]) -> str:
    name = key.rsplit(".", 1)[-1]
    hint = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
    suggestion = f"{prefix}{hint[0]}" if hint else None
    if suggestion is None:
        close = difflib.get_close_matches(key, all_keys, n=1, cutoff=0.75)
        suggestion = close[0] if close else None
        if suggestion is None:
            same_leaf = [k for k in all_keys if k.rsplit(".", 1)[-1] == name]
            suggestion = same_leaf[0] if same_leaf else None
    where = prefix[:-1] if prefix else "the top level"
    text = f"{key} = {_show(value)} is not a config key"
    if suggestion:
        text += f"; did you mean {suggestion}?"
    listed = ", ".join(siblings) if len(siblings) <= 12 else ", ".join(siblings[:12]) + ", ..."
    return text + f" allowed keys under {where}: {listed}"


def _walk(cfg: dict, tree: dict, prefix: str, all_keys: list[str], problems: list[str]) -> None:
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if not prefix and k == "hydra":
            continue  # Hydra's own config, validated by Hydra
        spec = SCHEMA.get(key)
        if k not in tree and spec is None:
            problems.append(_unknown(key, v, [str(s) for s in tree], prefix, all_keys))
            continue
        default = tree.get(k)
        if spec is None and isinstance(default, dict):
            if not isinstance(v, dict):
                problems.append(f"{key} = {_show(v)} is not a mapping; allowed: a mapping with keys "
                                f"{', '.join(map(str, default))}")
                continue
            _walk(v, default, key + ".", all_keys, problems)
            continue
        problems += (spec or _fallback_spec(default)).check(key, v)
    for k in tree:
        key = f"{prefix}{k}"
        if k not in cfg and not _optional(key):
            spec = SCHEMA.get(key)
            allowed = spec.allowed() if spec is not None else "a mapping (see conf/)"
            problems.append(f"{key} is missing; allowed: {allowed}")


def check_cells(cfg: dict, geo=None) -> list[str]:
    """Problems allocating the census population with these assumptions (e.g. population.taiyuan_pull too high)."""
    from sim.world.population import build_cells, load_census
    try:
        build_cells(geo if geo is not None else _geography(), load_census(), cfg["population"])
    except ValueError as e:
        return [f"population.taiyuan_pull = {cfg['population'].get('taiyuan_pull')}: {e}"
                if "taiyuan_pull" in str(e) else f"population: {e}"]
    return []


def validate_config(cfg, *, with_geography: bool = True, geo=None) -> None:
    """Check a composed configuration; raise ConfigError listing every problem (key, value, allowed).

    `with_geography=False` skips the checks that need the geography (the scenario's levers and the
    allocation of the census population): ShanxiModel makes both itself right after loading it,
    with the same messages. `geo` passes an already loaded geography.
    """
    from omegaconf import DictConfig, OmegaConf
    if isinstance(cfg, DictConfig):
        try:
            cfg = OmegaConf.to_container(cfg, resolve=True)
        except Exception as e:  # an interpolation that does not resolve
            raise ConfigError(f"the configuration does not resolve: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"the configuration = {_show(cfg)} is not a mapping; allowed: a mapping of config groups")
    refuse_code_targets(cfg)
    tree = default_tree()
    problems: list[str] = []
    _walk(cfg, tree, "", list(default_leaves(tree)), problems)
    if not problems:
        for rule in RULES:
            problems += rule(cfg)
    if not problems and with_geography:
        problems += check_levers(cfg.get("scenario") or {}, geo)
        problems += check_cells(cfg, geo)
    if problems:
        raise ConfigError(problems)


def schema_table() -> list[tuple[str, str]]:
    """(key, allowed) for every key of the schema, for documentation."""
    return [(k, spec.allowed()) for k, spec in SCHEMA.items()]
