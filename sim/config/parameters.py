"""The parameter declarations (conf/parameters.yaml): one entry per population, economy and behaviour
parameter with its value, unit, range, source and description. From them come:

- the Hydra config groups `population/default`, `economy/default` and `behaviour/default`
  (`register_defaults`, called when `sim.config` is imported);
- the schema's value specs of those keys (`specs`, used by sim.config.schema);
- the fields of the kernel's coefficient record and their values (`kernel_fields`, `kernel_values`);
- docs/parameters.md (`markdown`; `python -m sim docs` writes it, a test checks it is current).
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from sim.config import CONF_DIR
from sim.config.specs import Number, Vector

DECLARATIONS = CONF_DIR / "parameters.yaml"
GROUPS = ("population", "economy", "behaviour")
REQUIRED = ("unit", "source", "description")
FIELDS = {
    "value",
    "fitted",
    "unit",
    "range",
    "open",
    "integer",
    "length",
    "labels",
    "total",
    "rows",
    "row_labels",
    "items",
    "source",
    "description",
    "kernel",
}


class DeclarationError(ValueError):
    """conf/parameters.yaml declares a parameter incompletely or inconsistently."""


@functools.lru_cache(maxsize=1)
def declarations() -> dict[str, dict]:
    """Dotted key (e.g. behaviour.beta_income) -> its declaration, in file order."""
    with open(DECLARATIONS, encoding="utf-8") as f:
        raw = yaml.safe_load(f) or {}
    out = {}
    for group, entries in raw.items():
        if group not in GROUPS:
            raise DeclarationError(f"{DECLARATIONS}: group {group!r}; allowed: {', '.join(GROUPS)}")
        for name, d in entries.items():
            key = f"{group}.{name}"
            missing = [f for f in REQUIRED if not str(d.get(f, "")).strip()]
            unknown = sorted(set(d) - FIELDS)
            if missing or unknown:
                raise DeclarationError(
                    f"{DECLARATIONS}: {key}: "
                    + "; ".join(
                        ([f"missing {', '.join(missing)}"] if missing else [])
                        + ([f"unknown {unknown}"] if unknown else [])
                    )
                )
            if ("value" in d) == bool(d.get("fitted")):
                raise DeclarationError(f"{DECLARATIONS}: {key}: give a value, or `fitted: true` (not both)")
            out[key] = d
    return out


def _number(d: dict, unit: str) -> Number:
    lo, hi = d.get("range", (None, None))
    opened = d.get("open", ())
    return Number(lo, hi, unit, lo_open="lo" in opened, hi_open="hi" in opened, integer=bool(d.get("integer")))


def spec(d: dict):
    """The schema's value spec of one declaration."""
    if "items" in d:
        return Vector(items=tuple(_number(i, i.get("unit", d["unit"])) for i in d["items"]), labels=d.get("labels", ""))
    item = _number(d, d["unit"])
    if "length" in d:
        item = Vector(item, d["length"], total=d.get("total"), labels=d.get("labels", ""))
    if "rows" in d:
        item = Vector(item, d["rows"], labels=d.get("row_labels", ""))
    return item


def specs() -> dict[str, Any]:
    return {key: spec(d) for key, d in declarations().items()}


def defaults(group: str) -> dict:
    """The declared values of one group, nested as the config holds them (fitted constants left out)."""
    out: dict = {}
    for key, d in declarations().items():
        g, _, name = key.partition(".")
        if g == group and "value" in d:
            node = out
            *parents, leaf = name.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = d["value"]
    return out


def register_defaults() -> None:
    """Make the declared values the Hydra config options population/default, economy/default and
    behaviour/default (the defaults list of conf/config.yaml and conf/behaviour/fitted.yaml names them)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for group in GROUPS:
        cs.store(group=group, name="default", node=defaults(group), provider="conf/parameters.yaml")


def _get(cfg: dict, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def kernel_fields() -> tuple[str, ...]:
    """Names of the declared parameters that the kernel reads (`kernel: true`): the last part of the key."""
    return tuple(key.rsplit(".", 1)[-1] for key, d in declarations().items() if d.get("kernel"))


def kernel_values(cfg: dict) -> dict[str, float]:
    """{kernel field: value in cfg} of every `kernel: true` parameter."""
    return {key.rsplit(".", 1)[-1]: float(_get(cfg, key)) for key, d in declarations().items() if d.get("kernel")}


def _value_text(key: str, d: dict, fitted: dict) -> str:
    if d.get("fitted"):
        v = fitted.get(key.rsplit(".", 1)[-1])
        return f"{v} (fitted)" if v is not None else "(fitted)"
    v = d["value"]
    return ", ".join(map(str, v)) if isinstance(v, list) and not any(isinstance(x, list) for x in v) else str(v)


def markdown() -> str:
    """docs/parameters.md: one table per group (key, value, unit, range, source, description)."""
    fitted_file = CONF_DIR / "behaviour" / "fitted.yaml"
    fitted = (
        (yaml.safe_load(fitted_file.read_text(encoding="utf-8")) or {}).get("fitted", {})
        if fitted_file.exists()
        else {}
    )
    lines = [
        "# Parameters",
        "",
        "Generated from `conf/parameters.yaml` by `python -m sim docs`; edit the YAML, not this page.",
        "Every population, economy and behaviour parameter: its value (fitted constants: from",
        "`conf/behaviour/fitted.yaml`, written by `python -m sim calibrate`), unit, allowed values, source and",
        "meaning. Policy levers are in [levers.md](levers.md). *kernel*: read by the household rule each month.",
        "",
    ]
    for group in GROUPS:
        lines += [f"## {group}", "", "| key | value | allowed (unit) | source | description |", "|---|---|---|---|---|"]
        for key, d in declarations().items():
            if not key.startswith(group + "."):
                continue
            cells = [
                f"`{key}`",
                _value_text(key, d, fitted),
                spec(d).allowed(),
                d["source"],
                d["description"] + (" *(kernel)*" if d.get("kernel") else ""),
            ]
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
