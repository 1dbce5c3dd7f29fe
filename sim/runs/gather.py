"""Gather a sweep into one table, and summarise the ensemble over seeds.

    python -m sim gather outputs/sweeps/my_sweep

writes, atomically, into the sweep folder:
  gathered.parquet          every complete job's indicators (scenario, seed, year, level, region,
                            indicator, value) plus `job` (folder), `job_num` and one column
                            `override.<key>` per Hydra override of the jobs (.hydra/overrides.yaml)
  ensemble_summary.parquet  per scenario, year, level, region, indicator and every override that is
  ensemble_summary.csv      not the seed (nor the scenario, already a column): n_seeds, mean,
                            median, p5, p95 over the seeds (linear interpolation, as sim.analysis.compare)

Incomplete jobs (no complete manifest: failed, killed, still running) are skipped and listed on
stderr; `python -m sim sweep status DIR` tells why. Exit status: 0 if at least one job was gathered
(with --strict: only if every job is complete), 1 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.runs import outputs
from sim.runs.sweep import job_folders, job_overrides, parse_override

log = logging.getLogger("sim.runs.gather")
GATHERED = "gathered.parquet"
SUMMARY = "ensemble_summary"
KEYS = ["scenario", "year", "level", "region", "indicator"]
NOT_GROUPED = {"seed", "scenario"}  # override keys not used as extra summary groups


def _typed(col: pd.Series) -> pd.Series:
    """Override values arrive as strings: make a column numeric when every value is a number."""
    if col.isna().all():
        return col
    num = pd.to_numeric(col, errors="coerce")
    if num[col.notna()].notna().all():
        if (num.dropna() == num.dropna().round()).all() and not col.dropna().str.contains(r"[.eE]").any():
            return num.astype("Int64")
        return num
    return col.astype("string")


def gather(sweep_dir: Path) -> tuple[pd.DataFrame, list[Path], list[Path]]:
    """(table of every complete job, complete folders, incomplete folders)."""
    sweep_dir = Path(sweep_dir)
    complete, incomplete = [], []
    frames, metas = [], []
    for folder in job_folders(sweep_dir):
        if not outputs.is_complete(folder) or not (folder / "indicators.parquet").exists():
            incomplete.append(folder)
            continue
        df = pd.read_parquet(folder / "indicators.parquet")
        ovs = dict(parse_override(o) for o in job_overrides(folder))
        meta = {"job": str(folder.relative_to(sweep_dir))}
        name = folder.name.split("_", 1)[0]
        meta["job_num"] = int(name) if name.isdigit() else None
        meta.update({f"override.{k}": v for k, v in ovs.items()})
        frames.append(df)
        metas.append((len(df), meta))
        complete.append(folder)
    if not frames:
        return pd.DataFrame(columns=outputs.COLUMNS), complete, incomplete
    table = pd.concat(frames, ignore_index=True)
    meta = pd.DataFrame([m for _, m in metas])
    meta["job"] = meta["job"].astype("string")
    meta["job_num"] = pd.to_numeric(meta["job_num"]).astype("Int64")
    for col in meta.columns:
        if col.startswith("override."):
            meta[col] = _typed(meta[col])
    rows = meta.iloc[np.repeat(np.arange(len(metas)), [n for n, _ in metas])].reset_index(drop=True)
    table = pd.concat([table, rows], axis=1)
    return table, complete, incomplete


def group_columns(table: pd.DataFrame) -> list[str]:
    extra = [c for c in table.columns if c.startswith("override.") and c.split(".", 1)[1] not in NOT_GROUPED]
    return ["scenario", *extra, "year", "level", "region", "indicator"]


def ensemble_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Median, P5, P95 (and mean, n_seeds) of `value` over seeds, per scenario/year/level/region/indicator
    and per value of every non-seed override."""
    keys = group_columns(table)
    g = table.groupby(keys, dropna=False, sort=True, observed=True)["value"]
    q = g.quantile([0.05, 0.5, 0.95]).unstack()
    q.columns = ["p5", "median", "p95"]
    out = pd.concat([g.size().rename("n_seeds"), g.mean().rename("mean"), q[["median", "p5", "p95"]]], axis=1)
    return out.reset_index()


def write(table: pd.DataFrame, summary: pd.DataFrame, sweep_dir: Path) -> dict[str, Path]:
    sweep_dir = Path(sweep_dir)
    paths = {
        "gathered": sweep_dir / GATHERED,
        "summary": sweep_dir / f"{SUMMARY}.parquet",
        "summary_csv": sweep_dir / f"{SUMMARY}.csv",
    }
    with outputs.atomic_path(paths["gathered"]) as tmp:
        table.to_parquet(tmp, index=False)
    with outputs.atomic_path(paths["summary"]) as tmp:
        summary.to_parquet(tmp, index=False)
    with outputs.atomic_path(paths["summary_csv"]) as tmp:
        summary.to_csv(tmp, index=False)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sim gather", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--strict", action="store_true", help="exit 1 if any job is incomplete")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not args.sweep_dir.is_dir():
        log.error("no such sweep folder: %s", args.sweep_dir)
        return 1
    table, complete, incomplete = gather(args.sweep_dir)
    for f in incomplete:
        log.warning("skipping incomplete job (no complete manifest): %s", f)
    if not complete:
        log.error(
            "no complete job in %s (%d incomplete); see: python -m sim sweep status %s",
            args.sweep_dir,
            len(incomplete),
            args.sweep_dir,
        )
        return 1
    summary = ensemble_summary(table)
    paths = write(table, summary, args.sweep_dir)
    size = paths["gathered"].stat().st_size / 1e6
    log.info(
        "gathered %d complete jobs (%d incomplete skipped): %d rows, %.2f MB -> %s",
        len(complete),
        len(incomplete),
        len(table),
        size,
        paths["gathered"],
    )
    log.info("ensemble summary: %d rows -> %s (.csv)", len(summary), paths["summary"])
    if incomplete:
        log.warning(
            "%d incomplete job(s) skipped; details: python -m sim sweep status %s", len(incomplete), args.sweep_dir
        )
    return 1 if (args.strict and incomplete) else 0


if __name__ == "__main__":
    sys.exit(main())
