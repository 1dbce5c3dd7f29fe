"""Which action earned what: the Shapley attribution of a combined scenario's effect to its parts.

    python -m sim attribute                                  # the plan's four actions, 5 members at scale 0.01
    python -m sim attribute --scenario plan --members 10 --scale 0.02 --out outputs/attribution

A combined scenario (conf/scenario/plan.yaml) is its defaults list: the actions, merged in order. Every
coalition of them (2^n, the empty one being the baseline) runs with the same members: member k is seed
seed + k - 1 with its posterior draw (sim/config/draws.py), so every coalition of a member sees the same
random numbers and the same behaviour constants. For each member and outcome (the 2027 and 2029 resident
and hukou rates, the 2025-2029 public cost) the Shapley value of action i is

    phi_i = sum over coalitions S without i of |S|! (n - |S| - 1)! / n! x [v(S + i) - v(S)],

the action's average marginal effect over every order in which the actions could be added. The values sum
to the whole effect v(all) - v(none) exactly (efficiency); the interaction is v(all) - v(none) - sum_i
[v({i}) - v(none)], what the actions do together beyond what each does alone. Reported: the median over
members with the P5-P95 band, and a waterfall chart (baseline, then each action's share, then the plan).

Writes attribution.csv (member, outcome, action, Shapley value, alone effect), attribution.md and
attribution_waterfall.png into --out.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from sim.config import CONF_DIR, compose, draws, to_dict  # noqa: E402
from sim.places import PLAN_YEARS  # noqa: E402
from sim.reporting.plots import save_png  # noqa: E402
from sim.reporting.tables import markdown_table  # noqa: E402
from sim.runs import outputs  # noqa: E402
from sim.runs.logs import quiet_libraries  # noqa: E402

log = logging.getLogger("sim.analysis.attribution")
OUTCOMES = {
    "resident_2027_pct": "resident rate 2027, pp",
    "resident_2029_pct": "resident rate 2029, pp",
    "hukou_2027_pct": "hukou rate 2027, pp",
    "hukou_2029_pct": "hukou rate 2029, pp",
    "cost_2025_2029_yuan_1e8": "public cost 2025-2029, 亿 yuan",
}


def shapley(values: dict[frozenset, float], players: list[str]) -> dict[str, float]:
    """Shapley value of every player from the value of every coalition (a frozenset of players)."""
    n = len(players)
    out = {}
    for p in players:
        others = [q for q in players if q != p]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for s in itertools.combinations(others, size):
                total += weight * (values[frozenset(s) | {p}] - values[frozenset(s)])
        out[p] = total
    return out


def actions_of(scenario: str) -> list[str]:
    """The scenarios a combined scenario is made of (its defaults list, in order)."""
    path = CONF_DIR / "scenario" / f"{scenario}.yaml"
    if not path.is_file():
        raise ValueError(f"--scenario {scenario!r}: no conf/scenario/{scenario}.yaml")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parts = [d for d in doc.get("defaults") or [] if isinstance(d, str) and d != "_self_"]
    if len(parts) < 2:
        raise ValueError(f"scenario {scenario!r} has fewer than two parts in its defaults list: nothing to split")
    if doc.get("levers"):
        raise ValueError(f"scenario {scenario!r} has levers of its own besides its parts; attribute its parts only")
    return parts


def coalition_levers(parts: list[str], members: frozenset) -> dict:
    """The levers of the coalition: its scenarios' levers merged in the combined scenario's order (as Hydra
    merges the defaults list)."""
    merged = OmegaConf.create({})
    for part in parts:
        if part in members:
            node = OmegaConf.load(CONF_DIR / "scenario" / f"{part}.yaml").get("levers") or {}
            merged = OmegaConf.merge(merged, node)
    return OmegaConf.to_container(merged)


def outcomes_of(rows) -> dict[str, float]:
    df = pd.DataFrame(rows, columns=["year", "level", "region", "indicator", "value"])
    prov = df[df.level == "province"].pivot_table(index="year", columns="indicator", values="value")
    cost = prov["cost_total_yuan"].reindex(PLAN_YEARS).fillna(0).sum() if "cost_total_yuan" in prov else 0.0
    return {
        "resident_2027_pct": float(prov.loc[2027, "resident_urbanization_rate_pct"]),
        "resident_2029_pct": float(prov.loc[2029, "resident_urbanization_rate_pct"]),
        "hukou_2027_pct": float(prov.loc[2027, "hukou_urbanization_rate_pct"]),
        "hukou_2029_pct": float(prov.loc[2029, "hukou_urbanization_rate_pct"]),
        "cost_2025_2029_yuan_1e8": float(cost) / 1e8,
    }


def _run(cfg: dict) -> dict[str, float]:
    quiet_libraries()
    from sim.model import ShanxiModel

    m = ShanxiModel(config=cfg, threads=1)
    m.run()
    return outcomes_of(m.rows)


def member_configs(scale: float, seed: int, members: int) -> list[dict]:
    """Member k: seed + k with its posterior draw (one member: the fitted point)."""
    out = []
    for sd in range(seed, seed + members):
        cfg = to_dict(compose([f"population.scale={scale}", f"seed={sd}", "run.end_year=2029", "run.progress=none"]))
        out.append(draws.resolve(cfg, multirun=members > 1))
    return out


def attribute(scenario: str, scale: float, seed: int, members: int, n_jobs: int = 2) -> pd.DataFrame:
    """Run every coalition for every member; one row per (member, outcome, action) with the Shapley value and
    the action's effect alone, plus rows 'total' (v(all) - v(none)) and 'interaction'."""
    from joblib import Parallel, delayed

    parts = actions_of(scenario)
    coalitions = [frozenset(c) for size in range(len(parts) + 1) for c in itertools.combinations(parts, size)]
    jobs = []
    for k, base in enumerate(member_configs(scale, seed, members)):
        for c in coalitions:
            cfg = {**base, "scenario": {**base["scenario"], "levers": coalition_levers(parts, c)}}
            cfg["scenario"]["name"] = ".".join(p for p in parts if p in c) or "baseline"
            jobs.append((k, c, cfg))
    log.info("%d coalitions x %d members = %d runs at scale %g", len(coalitions), members, len(jobs), scale)
    results = Parallel(n_jobs=n_jobs, backend="loky")(delayed(_run)(cfg) for _, _, cfg in jobs)
    by_member: dict[int, dict[frozenset, dict]] = {}
    for (k, c, _), res in zip(jobs, results):
        by_member.setdefault(k, {})[c] = res
    rows = []
    for k, values in by_member.items():
        none, full = values[frozenset()], values[frozenset(parts)]
        for outcome in OUTCOMES:
            v = {c: r[outcome] for c, r in values.items()}
            phi = shapley(v, parts)
            alone = {p: v[frozenset({p})] - none[outcome] for p in parts}
            for p in parts:
                rows.append(dict(member=k, outcome=outcome, action=p, shapley=phi[p], alone=alone[p]))
            total = full[outcome] - none[outcome]
            rows.append(dict(member=k, outcome=outcome, action="total", shapley=total, alone=sum(alone.values())))
            rows.append(dict(member=k, outcome=outcome, action="interaction", shapley=total - sum(alone.values()),
                             alone=np.nan))  # fmt: skip
            rows.append(dict(member=k, outcome=outcome, action="baseline", shapley=none[outcome], alone=np.nan))
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    g = table.groupby(["outcome", "action"], sort=False)
    return pd.DataFrame(
        {
            "median": g.shapley.median(),
            "p5": g.shapley.quantile(0.05),
            "p95": g.shapley.quantile(0.95),
            "alone_median": g.alone.median(),
        }
    ).reset_index()


def to_markdown(s: pd.DataFrame, scenario: str, members: int, scale: float) -> str:
    parts = [a for a in s.action.unique() if a not in ("total", "interaction", "baseline")]
    lines = [
        f"# What each part of `{scenario}` adds (Shapley attribution)",
        "",
        f"{2 ** len(parts)} coalitions of {', '.join(parts)}; {members} members (each seed with its posterior draw, "
        f"common random numbers across coalitions) at population scale {scale:g}. Shapley value: the part's "
        "average marginal effect over every order of adding the parts; they sum to the whole effect. Median over "
        "members, P5-P95 in brackets; 'alone': the part's effect on its own over the baseline.",
        "",
    ]
    header = ["part", *OUTCOMES.values()]
    rows = []
    for a in [*parts, "interaction", "total"]:
        cells = [a if a not in ("interaction", "total") else f"**{a}**"]
        for outcome in OUTCOMES:
            r = s[(s.outcome == outcome) & (s.action == a)].iloc[0]
            d = 1 if outcome.startswith("cost") else 2
            text = f"{r['median']:+.{d}f} ({r.p5:+.{d}f} to {r.p95:+.{d}f})"
            if a in parts:
                text += f"; alone {r.alone_median:+.{d}f}"
            cells.append(text)
        rows.append(cells)
    lines.append(markdown_table(header, rows))
    lines += [
        "",
        "interaction: the whole effect less the sum of the parts alone (what they do together beyond each alone); "
        "the Shapley values share it out, so they sum to the total.",
        "",
        "![waterfall](attribution_waterfall.png)",
        "",
    ]
    return "\n".join(lines)


def waterfall(s: pd.DataFrame, outcome: str, path: Path, title: str) -> None:
    d = s[s.outcome == outcome].set_index("action")
    parts = [a for a in d.index if a not in ("total", "interaction", "baseline")]
    base = float(d.loc["baseline", "median"])
    fig, ax = plt.subplots(figsize=(1.5 * len(parts) + 3.5, 3.6))
    level = base
    ax.bar(0, base, color="0.6")
    for i, p in enumerate(parts, start=1):
        v = float(d.loc[p, "median"])
        ax.bar(i, v, bottom=level, color="tab:blue" if v >= 0 else "tab:red")
        ax.errorbar(i, level + v, yerr=[[v - d.loc[p, "p5"]], [d.loc[p, "p95"] - v]], color="k", capsize=3, lw=0.8)
        ax.text(i, level + max(v, 0) + 0.02, f"{v:+.2f}", ha="center", va="bottom", fontsize=8)
        level += v
    ax.bar(len(parts) + 1, level, color="tab:green")
    ax.set_xticks(range(len(parts) + 2), ["baseline", *(p.replace("_", "\n", 1) for p in parts), "all"], fontsize=7)
    ax.set_ylim(base - 1.0, level + 0.6)
    ax.set_ylabel(title)
    ax.set_title("Shapley attribution: baseline, then each part's share, then all parts (median; P5-P95)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=130)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="plan", help="a combined scenario (its defaults list is the parts)")
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--members", type=int, default=5, help="seeds, each with its posterior draw")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once")
    ap.add_argument("--out", type=Path, default=Path("outputs/attribution"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    table = attribute(args.scenario, args.scale, args.seed, args.members, args.jobs)
    s = summary(table)
    args.out.mkdir(parents=True, exist_ok=True)
    outputs.write_text(args.out / "attribution.csv", table.to_csv(index=False))
    waterfall(s, "resident_2029_pct", args.out / "attribution_waterfall.png", "resident urbanization rate 2029, %")
    text = to_markdown(s, args.scenario, args.members, args.scale)
    outputs.write_text(args.out / "attribution.md", text)
    print(text)


if __name__ == "__main__":
    main()
