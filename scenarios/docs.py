"""Write docs/levers.md, the lever dictionary as a table, from scenarios/levers.yaml (the single source).

    python -m scenarios.docs
"""
from pathlib import Path

from scenarios.compile import load_levers

OUT = Path(__file__).resolve().parent.parent / "docs" / "levers.md"


def _fmt(v):
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x:g}" for k, x in v.items())
    return f"{v:g}"


def render(levers: dict) -> str:
    lines = ["# Policy levers", "",
             "Generated from `scenarios/levers.yaml` by `python -m scenarios.docs`; edit the YAML, not this page.",
             "Baseline = policy as of 2024, held constant. Scenarios in `conf/scenario/` change levers from 2025.", "",
             "| clause | lever | 条款 | unit | range | by | baseline | mechanism | unit cost (yuan) | source |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in levers.items():
        cost = s.get("cost")
        cost_txt = f"{cost['unit_cost_yuan']:,.0f} per {cost['per']} ({cost['source']})" if cost else "—"
        lo, hi = s["range"]
        lines.append(f"| {s['clause']} | `{name}` | {s['clause_zh']} | {s['unit']} | {lo:g}–{hi:g} | {s['by']} | "
                     f"{_fmt(s['baseline'])} | {s['mechanism']} | {cost_txt} | {s['source']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.write_text(render(load_levers()), encoding="utf-8")


if __name__ == "__main__":
    main()
