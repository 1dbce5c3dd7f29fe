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
3. Every value has its type and lies in its range (`SCHEMA` below; the population, economy and
   behaviour parameters' ranges and units come from their declarations in conf/parameters.yaml).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sim.config import CONF_DIR
from sim.config.parameters import GROUPS
from sim.config.parameters import defaults as declared_defaults
from sim.config.parameters import specs as parameter_specs
from sim.config.specs import SUM_TOLERANCE, Choice, DrawNumber, Free, Levers, Number, Text, Vector, _show

PROJECT_PACKAGES = ("sim", "agents", "scenarios")
INSTANTIATE_KEYS = ("_target_", "_partial_", "_args_", "_recursive_", "_convert_")


class ConfigError(ValueError):
    """A configuration key is unknown, missing, of the wrong type or outside its range."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            text = self.problems[0]
        else:
            text = f"{len(self.problems)} problems in the configuration:\n  " + "\n  ".join(self.problems)
        super().__init__(text)


class Flag:
    """true or false (a YAML boolean)."""

    def __init__(self, unit: str = ""):
        self.unit = unit

    def allowed(self) -> str:
        return "true | false" + (f" ({self.unit})" if self.unit else "")

    def check(self, key: str, value) -> list[str]:
        return [] if isinstance(value, bool) else [f"{key} = {_show(value)} is not allowed; allowed: {self.allowed()}"]


def integer(lo, hi, unit: str = "") -> Number:
    return Number(lo, hi, unit, integer=True)


YEARS = Vector(integer(2021, 2029, "year"))

# The ranges: ONE place. Every leaf key of conf/ has an entry (tests/test_bad_input.py checks it).
SCHEMA: dict[str, Any] = {
    # top level and run
    "seed": integer(0, 2**63 - 1, "seed of the counter-based random streams"),
    "posterior_draw": DrawNumber(),
    "posterior_file": Text(r"\S+", "path of a posterior.csv (python -m sim posterior), relative to the project"),
    "run.end_year": integer(2021, 2029, "last simulated year; the data start at the 2020 census, the plan ends 2029"),
    "run.start_year": Choice((2020, 2010), "the starting census: 2020, or 2010 for the decade hindcast"),
    "run.threads": integer(0, 4096, "numba threads, 0 = all cores"),
    "run.progress": Choice(("auto", "bar", "log", "none")),
    "run.strict_provenance": Flag("refuse a run whose behaviour fit was made from other code, data or targets"),
    "run.compile_ahead": Flag("on a cold numba cache, compile the yearly kernels in a second process"),
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
    "validation.posterior": Text(r"\S+", "auto, none, or the path of a posterior.csv (python -m sim posterior)"),
    "validation.band": Vector(Number(0, 100, "percentile"), 2, labels="lower / upper"),
    # a point of a sensitivity design (python -m sim sensitivity; applied by sim.runs.design.apply_design)
    "design": Free("file, point and sha256 of a design point written by python -m sim sensitivity"),
    "behaviour.fit": Free("record of the fit, written by sim.analysis.calibrate"),
    # population, economy, behaviour: from their declarations (conf/parameters.yaml)
    **parameter_specs(),
}

# keys (or subtrees) a config may leave out
OPTIONAL = (
    "validation",
    "behaviour.fit",
    "scenario.description",
    "scenario.levers",
    "scenario.delay_years",
    "run.start_year",
    "run.threads",
    "run.progress",
    "run.strict_provenance",
    "run.compile_ahead",
)


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
        return [
            f"population.shanxi_hukou_out_of_province = {pop[keys[0]]}, population.{keys[1]} = {pop[keys[1]]}, "
            f"population.{keys[2]} = {pop[keys[2]]}: {e}"
        ]
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
    tree: dict = declared_defaults(group) if group in GROUPS else {}
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
    allowed = (
        "a _target_ naming a module, class or function of the project's own packages ("
        + ", ".join(p + "." for p in PROJECT_PACKAGES)
        + ")"
    )
    if isinstance(cfg, dict):
        special = [k for k in cfg if k in INSTANTIATE_KEYS]
        if special:
            target = cfg.get("_target_")
            where = f"{path}." if path else ""
            if "_target_" in cfg and not _is_project_object(target):
                raise ConfigError(
                    f"{where}_target_ = {_show(target)} names code outside the project; configs may "
                    f"not run code; allowed: {allowed}"
                )
            if "_target_" not in cfg:
                k = special[0]
                raise ConfigError(
                    f"{where}{k} = {_show(cfg[k])} is an instantiation key without a _target_; "
                    f"configs may not run code; allowed: {allowed}"
                )
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
            problems.append(
                f"scenario.levers.{name} = {_show(value)}: unknown lever"
                + (f" (did you mean scenario.levers.{hint[0]}?)" if hint else "")
                + f"; known levers: {', '.join(sorted(known))}"
            )
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
                problems.append(
                    f"{key} = {_show(v)} is not a mapping; allowed: a mapping with keys {', '.join(map(str, default))}"
                )
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
        return [
            f"population.taiyuan_pull = {cfg['population'].get('taiyuan_pull')}: {e}"
            if "taiyuan_pull" in str(e)
            else f"population: {e}"
        ]
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
