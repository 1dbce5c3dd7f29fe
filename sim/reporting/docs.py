"""The generated reference pages: docs/levers.md (from scenarios/levers.yaml) and docs/parameters.md
(from conf/parameters.yaml). Edit the YAML, then:

    python -m sim docs            # write both pages
    python -m sim docs --check    # exit 1 if a page is not current (the tests check this too)
"""

import sys

from scenarios.compile import load_levers
from sim.config import PROJECT_ROOT
from sim.config.parameters import markdown as parameters_page
from sim.economy.costs import OF, QUANTITIES

DOCS = PROJECT_ROOT / "docs"


def _value(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x:g}" for k, x in v.items())
    return f"{v:g}"


def _cost_text(cost: dict, unit: str) -> str:
    """'1,500 yuan x increase / 1 share x non-hukou resident-year (where: all; source)'."""
    amount = f"{cost['of']} / {cost['per']:g} {unit}"
    if cost["quantity"] == "province":
        return f"{cost['unit_cost_yuan']:,.0f} yuan x {amount}, province lump sum ({cost['source']})"
    return (
        f"{cost['unit_cost_yuan']:,.0f} yuan x {amount} x {QUANTITIES[cost['quantity']]} "
        f"(where: {cost['where']}; {cost['source']})"
    )


def levers_page(levers: dict | None = None) -> str:
    levers = load_levers() if levers is None else levers
    lines = [
        "# Policy levers",
        "",
        "Generated from `scenarios/levers.yaml` by `python -m sim docs`; edit the YAML, not this page.",
        "Baseline = policy as of 2024, held constant. Scenarios in `conf/scenario/` change levers from 2025.",
        "Unit cost: yuan per `per` units of the lever's "
        + "; ".join(f"*{k}* ({v})" for k, v in OF.items())
        + ", times the quantity at the places it applies to (sim/economy/costs.py).",
        "",
        "| clause | lever | 条款 | unit | range | by | baseline | mechanism | unit cost (yuan) | source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in levers.items():
        cost = s.get("cost")
        cost_txt = _cost_text(cost, s["unit"]) if cost else "—"
        lo, hi = s["range"]
        lines.append(
            f"| {s['clause']} | `{name}` | {s['clause_zh']} | {s['unit']} | {lo:g}–{hi:g} | {s['by']} | "
            f"{_value(s['baseline'])} | {s['mechanism']} | {cost_txt} | {s['source']} |"
        )
    return "\n".join(lines) + "\n"


PAGES = {"levers.md": levers_page, "parameters.md": parameters_page}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stale = []
    for name, page in PAGES.items():
        path, text = DOCS / name, page()
        current = path.exists() and path.read_text(encoding="utf-8") == text
        if "--check" in argv:
            print(f"docs/{name}: {'current' if current else 'NOT current'}")
            stale += [] if current else [name]
        elif not current:
            path.write_text(text, encoding="utf-8")
            print(f"wrote docs/{name}")
    if stale:
        print("run: python -m sim docs")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
