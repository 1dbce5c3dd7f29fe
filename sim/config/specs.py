"""Value specs of the configuration schema: what a key may hold, and the message when it does not.

Each spec has `allowed()` (the text of what is allowed) and `check(key, value)` (a list of problems,
each naming the key, the value and what is allowed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

SUM_TOLERANCE = 1e-6


def _fmt(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def _show(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        return (
            f"{what} in {self.interval()}{unit}"
            if self.lo is not None and self.hi is not None
            else f"{what} {self.interval()}{unit}"
        )

    def check(self, key: str, value) -> list[str]:
        unit = f" ({self.unit})" if self.unit else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [
                f"{key} = {_show(value)} is not {'an integer' if self.integer else 'a number'}; "
                f"allowed: {self.allowed()}"
            ]
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
            return [
                f"{key} = {_show(value)} has {len(value)} entries; allowed: {self.allowed()} "
                f"(at least {self.min_length})"
            ]
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
        return (
            "a string"
            + (f" matching {self.pattern}" if self.pattern else "")
            + (f" ({self.unit})" if self.unit else "")
        )

    def check(self, key: str, value) -> list[str]:
        if not isinstance(value, str) or (self.pattern and not re.fullmatch(self.pattern, value)):
            return [f"{key} = {_show(value)} is not allowed; allowed: {self.allowed()}"]
        return []


@dataclass(frozen=True)
class DrawNumber:
    """posterior_draw: auto, or a whole number >= 0 (0 = the fitted point, k = draw k of the posterior)."""

    def allowed(self) -> str:
        return "auto, 0 (the least-squares fit) or a posterior draw number >= 1"

    def check(self, key: str, value) -> list[str]:
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return []
        return [f"{key} = {_show(value)} is not allowed; allowed: {self.allowed()}"]


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
