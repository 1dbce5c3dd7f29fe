"""Compile a scenario (a small diff against the lever baseline) into per-year arrays the model reads.

A lever value in a scenario may be
  a number                       - everywhere, every year
  {region: value}                - region is `all`, a tier or a city name
  {year: value} / {region: {year: value}} - from that year on (a step schedule)
Regions apply from general to specific: all < tier < city.
"""

from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

from sim.places import OUTSIDE, TIER_NAMES
from sim.world.geography import place_tiers

YEARS = np.arange(2020, 2030)


def load_levers() -> dict:
    with resources.files("scenarios").joinpath("levers.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


class ScenarioError(ValueError):
    """A scenario names an unknown lever, region or year, or a value outside the lever's range."""


@dataclass
class Policy:
    place: dict[str, np.ndarray]  # lever -> (n_years, n_places)
    province: dict[str, np.ndarray]  # lever -> (n_years,)

    def at(self, year: int):
        i = int(np.clip(year - YEARS[0], 0, len(YEARS) - 1))
        return ({k: v[i] for k, v in self.place.items()}, {k: float(v[i]) for k, v in self.province.items()})


def delay(overrides: dict, years: int) -> dict:
    """The same lever values, every dated value `years` later (values pushed past 2029 drop out)."""
    if not years:
        return overrides

    def shift(v):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if str(k).isdigit():
                    if int(k) + years <= YEARS[-1]:
                        out[int(k) + years] = x
                else:
                    out[k] = shift(x)
            return out
        return v

    return {name: shift(v) for name, v in overrides.items()}


def _check_value(name, spec, value, where):
    lo, hi = spec["range"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(
            f"scenario.levers.{name}{where}: value {value!r} is not a number; "
            f"allowed: a number in [{lo}, {hi}] {spec['unit']}"
        )
    if not lo <= value <= hi:
        raise ScenarioError(f"scenario.levers.{name}{where}: value {value} is outside [{lo}, {hi}] {spec['unit']}")
    return float(value)


def _schedule(name, spec, value, where) -> np.ndarray:
    """A value or {year: value} -> per-year array with NaN where not set."""
    out = np.full(len(YEARS), np.nan)
    if isinstance(value, dict):
        for y, v in sorted(value.items(), key=lambda kv: int(kv[0])):
            try:
                year = int(y)
            except (TypeError, ValueError):
                raise ScenarioError(f"scenario.levers.{name}{where}: {y!r} is not a year; allowed: 2020-2029") from None
            if year not in YEARS:
                raise ScenarioError(f"scenario.levers.{name}{where}: year {year} is outside 2020-2029")
            out[YEARS >= year] = _check_value(name, spec, v, f"{where}.{year}")
    else:
        out[:] = _check_value(name, spec, value, where)
    return out


# Budget levers scale every other lever of their action: value = baseline + multiplier x (value - baseline)
BUDGET_LEVERS = {"A2.": "county_investment_multiplier", "A4.": "urban_renewal_funding_multiplier"}


def compile_policy(geo, overrides: dict | None, levers: dict | None = None) -> Policy:
    """Per-year, per-place lever values of a scenario, with the budget multipliers applied."""
    levers = levers or load_levers()
    raw = _compile(geo, overrides, levers)
    if not overrides:
        return raw
    base = _compile(geo, None, levers)
    for prefix, budget in BUDGET_LEVERS.items():
        mult = raw.province[budget]
        for name, spec in levers.items():
            if name == budget or not str(spec["clause"]).startswith(prefix):
                continue
            table, btable = (raw.place, base.place) if name in raw.place else (raw.province, base.province)
            m = mult[:, None] if table[name].ndim == 2 else mult
            table[name] = btable[name] + m * (table[name] - btable[name])
    return raw


def _compile(geo, overrides: dict | None, levers: dict) -> Policy:
    overrides = dict(overrides or {})
    tier = place_tiers(geo)
    city_of_place = geo.place_city
    cities = list(geo.city_name_en)
    place, province = {}, {}
    for name in overrides:
        if name not in levers:
            raise ScenarioError(f"scenario.levers.{name}: unknown lever; known levers: {', '.join(sorted(levers))}")
    for name, spec in levers.items():
        base = spec["baseline"]
        value = overrides.get(name)
        if spec["by"] == "province":
            arr = _schedule(name, spec, base, " (baseline)")
            if value is not None:
                if isinstance(value, dict) and "all" in value:
                    value = value["all"]
                new = _schedule(name, spec, value, "")
                arr = np.where(np.isnan(new), arr, new)
            province[name] = arr
            continue
        arr = np.zeros((len(YEARS), geo.n_places))
        base_by_tier = base if isinstance(base, dict) else {t: base for t in TIER_NAMES}
        for t_i, t in enumerate(TIER_NAMES):
            arr[:, tier == t_i] = _schedule(name, spec, base_by_tier.get(t, 0.0), f" (baseline {t})")[:, None]
        if value is not None:
            items = (
                value.items()
                if isinstance(value, dict) and not all(str(k).isdigit() for k in value)
                else [("all", value)]
            )
            order = {"all": 0, **{t: 1 for t in TIER_NAMES}, **{c: 2 for c in cities}}
            for region, v in sorted(items, key=lambda kv: order.get(kv[0], 3)):
                if region == "all":
                    mask = tier != OUTSIDE  # every Shanxi place
                elif region in TIER_NAMES:
                    mask = tier == TIER_NAMES.index(region)
                elif region in cities:
                    mask = city_of_place == cities.index(region)
                else:
                    raise ScenarioError(
                        f"scenario.levers.{name}.{region}: unknown region; allowed: all, "
                        f"{', '.join(TIER_NAMES)}, {', '.join(cities)}"
                    )
                new = _schedule(name, spec, v, f".{region}")
                for yi in range(len(YEARS)):
                    if not np.isnan(new[yi]):
                        arr[yi, mask] = new[yi]
        place[name] = arr
    return Policy(place=place, province=province)
