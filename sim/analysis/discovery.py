"""Scenario discovery: under which conditions does the plan miss its 2029 target?

    python -m sim discover                                      # 128 runs of the plan at scale 0.01
    python -m sim discover --runs 256 --scale 0.02 --threshold 70 --out outputs/discovery

The runs span what is uncertain: the behaviour constants (run i takes posterior draw i, with seed i) and
whether each action of the plan is delivered (each action on or off with chance 1/2, independently, from a
fixed stream; an action off keeps the baseline's levers). A run misses when its 2029 resident rate is below
--threshold. PRIM (the patient rule induction method; Friedman & Fisher 1999, as in the EMA workbench and
Bryant & Lempert 2010) then finds a box of the inputs where misses concentrate: it peels off, one at a time,
the 5% slice of one input whose removal raises the share of misses inside most, and of the boxes it passes
through keeps the one with the highest density (share of misses inside) among those still holding at least
--min-coverage of all misses; a restriction is then kept only if misses are significantly more common in
the runs it keeps than in those it cuts off (one-sided Fisher exact test, p < 0.05): with few misses,
peeling picks up restrictions that chip off a few runs by chance. The box is said in one sentence.

Writes discovery.csv (the runs: inputs and 2029 rate), discovery.md (the box, its density and coverage, the
sentence, and the peeling trajectory) into --out.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import attribution
from sim.config import compose, draws, to_dict
from sim.places import TARGET_RESIDENT_RATE_PCT
from sim.runs import outputs
from sim.runs.logs import quiet_libraries

log = logging.getLogger("sim.analysis.discovery")
DELIVERY_STREAM = 20251207  # the fixed stream of which actions are delivered
PRUNE_P = 0.05  # a restriction is kept only if it separates misses at this significance (Fisher exact test)


@dataclass
class Box:
    limits: dict  # input -> (low, high): the restricted inputs only
    density: float  # share of misses inside the box
    coverage: float  # share of all misses the box holds
    support: float  # share of all runs inside
    trajectory: list  # (support, density, coverage) of every box peeled through


def prim(x: pd.DataFrame, y: np.ndarray, alpha: float = 0.05, min_support: float = 0.05, min_coverage: float = 0.5):
    """PRIM peeling on inputs x (numeric; 0/1 for switches) and a 0/1 outcome y; returns the chosen Box."""
    y = np.asarray(y, bool)
    if not y.any():
        raise ValueError("no run misses: nothing to discover")
    inside = np.ones(len(y), bool)
    limits = {c: (float(x[c].min()), float(x[c].max())) for c in x.columns}
    boxes = [(dict(limits), inside.copy())]
    while inside.mean() > min_support:
        best = None
        for c in x.columns:
            v = x.loc[inside, c].to_numpy(float)
            if np.ptp(v) == 0:
                continue
            for side in ("low", "high"):
                cut = np.quantile(v, alpha) if side == "low" else np.quantile(v, 1 - alpha)
                keep = x[c].to_numpy(float) > cut if side == "low" else x[c].to_numpy(float) < cut
                if np.unique(v).size == 2:  # a switch: peel one value off
                    lo, hi = v.min(), v.max()
                    keep = x[c].to_numpy(float) != (lo if side == "low" else hi)
                new = inside & keep
                if not new.any() or new.sum() == inside.sum() or new.mean() < min_support:
                    continue
                density = y[new].mean()
                if best is None or density > best[0]:
                    lim = (cut, limits[c][1]) if side == "low" else (limits[c][0], cut)
                    if np.unique(v).size == 2:
                        kept = v.max() if side == "low" else v.min()
                        lim = (kept, kept)
                    best = (density, new, c, lim)
        if best is None:
            break
        _, inside, c, lim = best
        limits[c] = lim
        boxes.append((dict(limits), inside.copy()))
    trajectory = [(float(b.mean()), float(y[b].mean()), float(y[b].sum() / y.sum())) for _, b in boxes]
    ok = [i for i, (_, _, cov) in enumerate(trajectory) if cov >= min_coverage]
    pick = max(ok, key=lambda i: (trajectory[i][1], trajectory[i][0]))
    full = {c: (float(x[c].min()), float(x[c].max())) for c in x.columns}
    restricted = {c: v for c, v in boxes[pick][0].items() if v != full[c]}
    restricted = prune(x, y, restricted)
    b = in_box(x, restricted)
    return Box(restricted, float(y[b].mean()), float(y[b].sum() / y.sum()), float(b.mean()), trajectory)


def in_box(x: pd.DataFrame, limits: dict) -> np.ndarray:
    inside = np.ones(len(x), bool)
    for c, (lo, hi) in limits.items():
        inside &= (x[c].to_numpy(float) >= lo) & (x[c].to_numpy(float) <= hi)
    return inside


def prune(x: pd.DataFrame, y: np.ndarray, limits: dict, alpha: float = PRUNE_P) -> dict:
    """Drop every restriction that does not separate misses significantly: for restriction c, the runs the
    other restrictions keep split into those c keeps and those it cuts off, and c stays only if misses are
    more common among the kept (one-sided Fisher exact test, p < alpha). Peeling picks up restrictions that
    chip off a few runs by chance, most of all when misses are few."""
    from scipy.stats import fisher_exact

    limits = dict(limits)
    while limits:
        p_of = {}
        for c in limits:
            others = in_box(x, {k: v for k, v in limits.items() if k != c})
            kept = others & in_box(x, {c: limits[c]})
            cut = others & ~kept
            table = [[int(y[kept].sum()), int((~y[kept]).sum())], [int(y[cut].sum()), int((~y[cut]).sum())]]
            p_of[c] = fisher_exact(table, alternative="greater").pvalue if cut.any() else 1.0
        c = max(p_of, key=p_of.get)
        if p_of[c] < alpha:
            break
        del limits[c]
    return limits


def sentence(box: Box, outcome: str, switches: list[str], labels: dict | None = None) -> str:
    labels = labels or {}
    parts = []
    for c, (lo, hi) in box.limits.items():
        name = labels.get(c, c)
        if c in switches:
            parts.append(f"{name} is {'delivered' if lo >= 1 else 'not delivered'}")
        else:
            parts.append(f"{name} is between {lo:.3g} and {hi:.3g}")
    if not parts:
        return f"{outcome}: no condition concentrates the misses (they are spread over every input)."
    return (
        f"{outcome} when " + " and ".join(parts) + f" ({box.density:.0%} of such runs miss; they hold "
        f"{box.coverage:.0%} of all misses and are {box.support:.0%} of the runs)."
    )


def sample_runs(scenario: str, n: int, scale: float, seed: int) -> tuple[list[dict], pd.DataFrame]:
    """n run configs and their inputs: run i has seed seed + i with its posterior draw, and each action of
    the scenario delivered or not (a fixed stream)."""
    parts = attribution.actions_of(scenario)
    rng = np.random.default_rng([seed, DELIVERY_STREAM])
    delivered = rng.random((n, len(parts))) < 0.5
    table = draws.posterior_table({})
    names = [c for c in table.columns if c != "draw"]
    configs, rows = [], []
    for i in range(n):
        cfg = to_dict(compose([f"population.scale={scale}", f"seed={seed + i}", "run.progress=none"]))
        cfg = draws.resolve(cfg, multirun=True)
        on = frozenset(p for p, d in zip(parts, delivered[i]) if d)
        cfg["scenario"] = {**cfg["scenario"], "levers": attribution.coalition_levers(parts, on), "name": scenario}
        configs.append(cfg)
        row = {p: int(d) for p, d in zip(parts, delivered[i])}
        row.update({k: float(cfg["behaviour"]["fitted"][k]) for k in names})
        row["posterior_draw"] = cfg["posterior_draw"]
        rows.append(row)
    return configs, pd.DataFrame(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="plan", help="a combined scenario: its parts are switched on and off")
    ap.add_argument("--runs", type=int, default=128)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=TARGET_RESIDENT_RATE_PCT, help="2029 resident rate, %%")
    ap.add_argument("--min-coverage", type=float, default=0.5, help="the box holds at least this share of misses")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs-csv", type=Path, help="discovery.csv of an earlier run: rerun PRIM only")
    ap.add_argument("--out", type=Path, default=Path("outputs/discovery"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    from joblib import Parallel, delayed

    if args.runs_csv:  # the runs of an earlier discovery: PRIM again, nothing simulated
        inputs = pd.read_csv(args.runs_csv)
    else:
        configs, inputs = sample_runs(args.scenario, args.runs, args.scale, args.seed)
        log.info("%d runs of %s at scale %g", len(configs), args.scenario, args.scale)
        results = Parallel(n_jobs=args.jobs, backend="loky")(delayed(attribution._run)(c) for c in configs)
        inputs["resident_2029_pct"] = [r["resident_2029_pct"] for r in results]
    miss = inputs["resident_2029_pct"].to_numpy() < args.threshold
    switches = attribution.actions_of(args.scenario)
    x = inputs[[c for c in inputs.columns if c not in ("resident_2029_pct", "posterior_draw")]]
    args.out.mkdir(parents=True, exist_ok=True)
    outputs.write_text(args.out / "discovery.csv", inputs.to_csv(index=False))
    outcome = f"The {args.scenario} misses {args.threshold:g}% by 2029"
    lines = [
        f"# Scenario discovery: when does `{args.scenario}` miss {args.threshold:g}% in 2029?",
        "",
        f"{len(inputs)} runs at scale {args.scale:g} (run i: seed {args.seed}+i with its posterior draw; each action "
        f"delivered or not with chance 1/2). Misses: {int(miss.sum())} of {len(miss)} "
        f"({miss.mean():.0%}).",
        "",
    ]
    if miss.any() and not miss.all():
        box = prim(x, miss, min_coverage=args.min_coverage)
        lines += [
            "**" + sentence(box, outcome, switches) + "**",
            "",
            "| support | density | coverage |",
            "|---|---|---|",
        ]
        lines += [f"| {s:.2f} | {d:.2f} | {c:.2f} |" for s, d, c in box.trajectory]
    else:
        lines.append("Every run misses." if miss.all() else "No run misses: nothing to discover.")
    text = "\n".join(lines) + "\n"
    outputs.write_text(args.out / "discovery.md", text)
    print(text)


if __name__ == "__main__":
    main()
