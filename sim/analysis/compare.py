"""Compare scenarios side by side: curves, city small multiples, a 2027/2029 table with costs.

    python -m sim compare outputs/runs/baseline/... outputs/runs/plan/... --out outputs/compare
    python -m sim compare --scenarios baseline,plan,hukou_only --scale 0.05 --seed 42 --out outputs/compare
    python -m sim compare --scenarios baseline,plan --scale 0.01 --seed 1 --members 10   # a posterior ensemble
    python -m sim compare outputs/sweeps/2026-11-29_07-00-00      # a sweep folder: fan charts over seeds

Inputs are run folders (a folder holding indicators.parquet and a complete manifest.json) or folders
containing them (a sweep). Incomplete runs are skipped and reported. With several seeds per
scenario the curves are medians with P5-P95 bands. Differences are taken against the scenario named
`baseline` (or --reference) seed by seed (common random numbers), then summarised.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.places import PLAN_YEARS, TARGET_RESIDENT_RATE_PCT  # noqa: E402
from sim.reporting.plots import footer, save_png  # noqa: E402
from sim.reporting.tables import markdown_table, number  # noqa: E402
from sim.runs import identity, outputs  # noqa: E402
from sim.runs.logs import quiet_libraries  # noqa: E402
from sim.world.inputs import load_province_series  # noqa: E402

log = logging.getLogger("sim.analysis.compare")
RATES = ("resident_urbanization_rate_pct", "hukou_urbanization_rate_pct")


def find_runs(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Complete and incomplete run folders under the given paths."""
    complete, incomplete = [], []
    for p in map(Path, paths):
        candidates = (
            [p]
            if (p / "indicators.csv").exists() or (p / outputs.MANIFEST).exists()
            else sorted({q.parent for pat in ("indicators.csv", "manifest.json", ".hydra") for q in p.rglob(pat)})
        )
        for run in candidates:
            if (run / ".hydra").exists() and run.name == ".hydra":
                continue
            (complete if outputs.is_complete(run) else incomplete).append(run)
    return sorted(set(complete)), sorted(set(incomplete) - set(complete))


def load_runs(runs: list[Path]) -> pd.DataFrame:
    frames = [pd.read_parquet(r / "indicators.parquet") for r in runs]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=outputs.COLUMNS)


def _band(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby("year")["value"]
    return pd.DataFrame({"median": g.median(), "p5": g.quantile(0.05), "p95": g.quantile(0.95)})


def summary_table(table: pd.DataFrame, reference: str = "baseline") -> pd.DataFrame:
    """One row per scenario: 2027 and 2029 rates, differences from the reference, costs."""
    prov = table[table.level == "province"]
    wide = prov.pivot_table(index=["scenario", "seed", "year"], columns="indicator", values="value").reset_index()
    per_seed = []
    for (scen, seed), g in wide.groupby(["scenario", "seed"]):
        g = g.set_index("year")
        row = {"scenario": scen, "seed": seed}
        for y in (2027, 2029):  # NaN when the runs end earlier (run.end_year < 2029)
            row[f"resident_{y}_pct"] = g["resident_urbanization_rate_pct"].get(y, np.nan)
            row[f"hukou_{y}_pct"] = g["hukou_urbanization_rate_pct"].get(y, np.nan)
        row["gap_2029_pp"] = row["resident_2029_pct"] - row["hukou_2029_pct"]
        row["urban_residents_2029"] = row["resident_2029_pct"] / 100 * g["population"].get(2029, np.nan)
        plan_years = [y for y in PLAN_YEARS if y in g.index]
        row["settled_2025_2029"] = g.loc[plan_years, "migrants_settled"].sum()
        row["cost_2025_2029_yuan"] = g.loc[plan_years, "cost_total_yuan"].sum() if "cost_total_yuan" in g else 0.0
        per_seed.append(row)
    per_seed = pd.DataFrame(per_seed)
    if per_seed.empty:
        return per_seed
    ref = per_seed[per_seed.scenario == reference].set_index("seed")
    if not ref.empty:
        for col in ("resident_2027_pct", "resident_2029_pct", "hukou_2027_pct", "hukou_2029_pct"):
            per_seed[f"d_{col.replace('_pct', '_pp')}"] = per_seed[col] - per_seed.seed.map(ref[col])
        extra_urban = per_seed.urban_residents_2029 - per_seed.seed.map(ref.urban_residents_2029)
        extra_settled = per_seed.settled_2025_2029 - per_seed.seed.map(ref.settled_2025_2029)
        extra_cost = per_seed.cost_2025_2029_yuan - per_seed.seed.map(ref.cost_2025_2029_yuan)
        per_seed["extra_urban_residents_2029"] = extra_urban
        per_seed["extra_settled_2025_2029"] = extra_settled
        per_seed["yuan_per_extra_urban_resident"] = np.where(extra_urban > 0, extra_cost / extra_urban, np.nan)
        per_seed["yuan_per_extra_settled_migrant"] = np.where(extra_settled > 0, extra_cost / extra_settled, np.nan)
    agg = per_seed.drop(columns="seed").groupby("scenario")
    out = agg.median()
    out.insert(0, "seeds", agg.size())
    if agg.size().max() > 1:
        for col in ("resident_2029_pct", "hukou_2029_pct"):
            out[f"{col}_p5"] = agg[col].quantile(0.05)
            out[f"{col}_p95"] = agg[col].quantile(0.95)
    if "extra_urban_residents_2029" in per_seed:
        for ratio, effect in COST_EFFECTIVENESS.items():
            lo = agg[effect].quantile(0.05)
            clear = (agg.size() >= MIN_MEMBERS_FOR_RATIO) & (lo > 0)  # the effect's band excludes zero
            cost = agg["cost_2025_2029_yuan"].median() - ref.cost_2025_2029_yuan.median()
            out[ratio] = np.where(clear, cost / agg[effect].median(), np.nan)
            out[f"{ratio}_p5"] = np.where(clear, agg[ratio].quantile(0.05), np.nan)
            out[f"{ratio}_p95"] = np.where(clear, agg[ratio].quantile(0.95), np.nan)
    order = [reference] + sorted(s for s in out.index if s != reference)
    return out.reindex([s for s in order if s in out.index])


# cost-effectiveness: ratio column -> the effect it divides by. A ratio is shown only where the effect's
# P5-P95 over the members lies above zero (so at least MIN_MEMBERS_FOR_RATIO members): the median cost over
# the median effect, with the P5-P95 of the members' own ratios, to two significant digits
COST_EFFECTIVENESS = {
    "yuan_per_extra_urban_resident": "extra_urban_residents_2029",
    "yuan_per_extra_settled_migrant": "extra_settled_2025_2029",
}
MIN_MEMBERS_FOR_RATIO = 3


# columns of the comparison table: summary column -> header
COLUMNS = {
    "seeds": "seeds",
    "resident_2027_pct": "resident 2027 %",
    "resident_2029_pct": "resident 2029 %",
    "d_resident_2029_pp": "Δ resident 2029 pp",
    "hukou_2027_pct": "hukou 2027 %",
    "hukou_2029_pct": "hukou 2029 %",
    "d_hukou_2029_pp": "Δ hukou 2029 pp",
    "gap_2029_pp": "gap 2029 pp",
    "cost_2025_2029_yuan": "cost 2025-29 (亿 yuan)",
    "yuan_per_extra_urban_resident": "yuan per extra urban resident",
    "yuan_per_extra_settled_migrant": "yuan per extra settled migrant",
}


def significant(v: float, digits: int = 2) -> str:
    """v to `digits` significant digits with thousands separators: 6805444 -> '6,800,000'."""
    if not np.isfinite(v) or v == 0:
        return number(v, 0)
    return f"{float(f'{v:.{digits}g}'):,.0f}" if abs(v) >= 10 ** (digits - 1) else f"{v:.{digits}g}"


def _cell(column: str, v, row=None) -> str:
    if column == "seeds":
        return f"{int(v)}"
    if column == "cost_2025_2029_yuan":
        return number(v / 1e8, 1)
    if column.startswith("yuan_per"):
        if not np.isfinite(v):
            return "-"
        lo, hi = (row.get(f"{column}_{q}", np.nan) for q in ("p5", "p95")) if row is not None else (np.nan, np.nan)
        band = f" ({significant(lo)}-{significant(hi)})" if np.isfinite(lo) and np.isfinite(hi) else ""
        return significant(v) + band
    return number(v, 2, sign=column.startswith("d_"))


def to_markdown(summary: pd.DataFrame) -> str:
    cols = [c for c in COLUMNS if c in summary]
    table = markdown_table(
        ["scenario", *(COLUMNS[c] for c in cols)],
        [[scen, *(_cell(c, row[c], row) for c in cols)] for scen, row in summary.iterrows()],
    )
    if any(c.startswith("yuan_per") for c in cols):
        table += (
            f"\nYuan per extra urban resident (2029) or settled migrant (2025-2029): the median extra cost over the "
            f"median effect, with the P5-P95 of the members' ratios; shown only where the effect's P5-P95 over at "
            f"least {MIN_MEMBERS_FOR_RATIO} members lies above zero ('-' otherwise), to two significant digits.\n"
        )
    return table


def plot_province(table: pd.DataFrame, path: Path, foot: str) -> None:
    prov = table[table.level == "province"]
    obs = load_province_series()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), dpi=120, sharey=False)
    scenarios = list(dict.fromkeys(prov.scenario))
    colors = plt.cm.tab20(np.arange(20) % 20)
    for ax, ind, title in zip(axes, RATES, ("resident urbanization rate", "hukou urbanization rate")):
        for i, scen in enumerate(scenarios):
            b = _band(prov[(prov.scenario == scen) & (prov.indicator == ind)])
            ax.plot(
                b.index,
                b["median"],
                color="black" if scen == "baseline" else colors[i % 20],
                lw=2.2 if scen == "baseline" else 1.4,
                label=scen,
            )
            if (b.p95 - b.p5).max() > 0:
                ax.fill_between(b.index, b.p5, b.p95, color=colors[i % 20], alpha=0.15)
        col = "urbanization_rate_pct" if ind == RATES[0] else "hukou_urbanization_rate_pct"
        o = obs.dropna(subset=[col])
        o = o[o.year >= 2017]
        ax.plot(o.year, o[col], "ko", mfc="white", ms=4, label="observed")
        if ind == RATES[0]:
            nat = obs.dropna(subset=["national_urbanization_rate_pct"])
            ax.plot(nat.year, nat.national_urbanization_rate_pct, "^", color="0.5", ms=4, label="national average")
            ax.axhline(TARGET_RESIDENT_RATE_PCT, color="tab:red", ls="--", lw=1)
            ax.text(2024.2, TARGET_RESIDENT_RATE_PCT + 0.3, "target 2029: close to 70%", color="tab:red", fontsize=8)
        ax.set_title(f"Shanxi {title}")
        ax.set_xlabel("year end")
        ax.set_ylabel("%")
        ax.grid(alpha=0.3)
    axes[1].legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="upper left")
    footer(fig, foot)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save_png(fig, path)


def plot_cities(table: pd.DataFrame, path: Path, foot: str) -> None:
    city = table[(table.level == "city") & (table.indicator == RATES[0])]
    names = list(dict.fromkeys(city.region))
    scenarios = list(dict.fromkeys(city.scenario))
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    fig, axes = plt.subplots(3, 4, figsize=(13, 8.5), dpi=110, sharex=True)
    for ax, name in zip(axes.flat, names):
        for i, scen in enumerate(scenarios):
            b = _band(city[(city.region == name) & (city.scenario == scen)])
            ax.plot(b.index, b["median"], color=colors[i % 10], lw=1.3, label=scen)
            if (b.p95 - b.p5).max() > 0:
                ax.fill_between(b.index, b.p5, b.p95, color=colors[i % 10], alpha=0.15)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes.flat[-1].axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[-1].legend(handles, labels, fontsize=8, loc="center")
    fig.suptitle("Resident urbanization rate by city, % (median; band P5-P95 over seeds)", fontsize=10)
    footer(fig, foot)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    save_png(fig, path)


def compare(runs: list[Path], out: Path, reference: str = "baseline") -> pd.DataFrame:
    table = load_runs(runs)
    if table.empty:
        raise SystemExit("no complete runs to compare")
    out.mkdir(parents=True, exist_ok=True)
    seeds = sorted(table.seed.unique())
    mans = [json.loads((r / outputs.MANIFEST).read_text()) for r in runs]
    log.info("made from %s", identity.describe_versions(mans))
    if len(identity.versions_of(mans)) > 1:
        log.warning("the runs compared were made by different model/data versions (see the footer of the plots)")
    foot = (
        f"scenarios: {', '.join(dict.fromkeys(table.scenario))} | seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}) | "
        f"model {mans[0].get('model_version')} {identity.brief_versions(mans)}"
    )
    summary = summary_table(table, reference)
    with outputs.atomic_path(out / "comparison.csv") as tmp:
        summary.to_csv(tmp)
    outputs.write_text(out / "comparison.md", to_markdown(summary))
    plot_province(table, out / "compare_province.png", foot)
    plot_cities(table, out / "compare_cities.png", foot)
    return summary


def run_scenarios(names: list[str], scale: float, seed: int, root: Path, members: int = 1) -> list[Path]:
    """Run every scenario with the seeds seed .. seed + members - 1 (common random numbers across scenarios).
    One member runs the fitted point; several form a posterior ensemble: each seed with its posterior draw
    (posterior_draw auto, sim/config/draws.py), the same draw in every scenario."""
    from sim.config import compose, draws, to_dict
    from sim.runs.run import run_to_folder
    from sim.runs.sweep import completion

    runs = []
    for sd in range(seed, seed + members):
        for name in names:
            run_dir = root / f"{name}_seed{sd}"
            cfg = to_dict(compose([f"scenario={name}", f"population.scale={scale}", f"seed={sd}", "run.progress=log"]))
            cfg = draws.resolve(cfg, multirun=members > 1)
            if completion(run_dir, cfg)[0] != "complete":
                run_to_folder(cfg, run_dir)
            runs.append(run_dir)
    return runs


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", type=Path, help="run folders or sweep folders")
    ap.add_argument("--scenarios", help="comma-separated scenario names to run first (in --out/runs)")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--members", type=int, default=1, help="seeds per scenario; above 1 each seed runs with its posterior draw"
    )
    ap.add_argument("--reference", default="baseline")
    ap.add_argument("--out", type=Path, default=Path("outputs/compare"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    paths = list(args.runs)
    if args.scenarios:
        paths += run_scenarios(args.scenarios.split(","), args.scale, args.seed, args.out / "runs", args.members)
    complete, incomplete = find_runs(paths)
    for r in incomplete:
        log.warning("skipping incomplete run (no complete manifest): %s", r)
    summary = compare(complete, args.out, args.reference)
    sys.stdout.write(to_markdown(summary))
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
