"""Gather a sweep into one table, and summarise the ensemble over seeds.

    python -m sim gather outputs/sweeps/my_sweep
    python -m sim gather outputs/sweeps/my_sweep --allow-mixed     # jobs of several model/data versions

writes, atomically, into the sweep folder:
  gathered.parquet          every complete job's indicators (scenario, seed, year, level, region,
                            indicator, value) plus `job` (folder), `job_num`, `result_key` and
                            `version` (sim/runs/identity.py) and one column `override.<key>` per Hydra
                            override of the jobs (.hydra/overrides.yaml)
  ensemble_summary.parquet  per scenario, year, level, region, indicator and every override that is
  ensemble_summary.csv      not the seed (nor the scenario, already a column): n_seeds, mean,
                            median, p5, p95 over the seeds (linear interpolation, as sim.analysis.compare)
  gathered_versions.json    the version(s) the tables were made from: code, data, behaviour fit,
                            packages, and the jobs of each

Results never mix: the jobs' manifests say which code, data, behaviour fit and numpy/numba made them
(their result key). A sweep whose jobs were made by more than one such version is refused (exit 2,
naming the versions, their jobs and what differs) unless --allow-mixed, which groups the ensemble
summary by `version` too, so no median mixes two models.

Incomplete jobs (no complete manifest: failed, killed, still running) are skipped and listed on
stderr; `python -m sim sweep status DIR` tells why. Exit status: 0 if at least one job was gathered
(with --strict: only if every job is complete), 1 otherwise, 2 when refused (mixed versions).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.runs import identity, outputs
from sim.runs.sweep import job_folders, job_overrides, parse_override

log = logging.getLogger("sim.runs.gather")
GATHERED = "gathered.parquet"
VERSIONS = "gathered_versions.json"
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
        parts = identity.manifest_parts(_manifest(folder))
        meta = {
            "job": str(folder.relative_to(sweep_dir)),
            "result_key": identity.key_of(parts) if parts else "unknown",
            "version": identity.version_of(parts),
        }
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
    for col in ("job", "result_key", "version"):
        meta[col] = meta[col].astype("string")
    meta["job_num"] = pd.to_numeric(meta["job_num"]).astype("Int64")
    for col in meta.columns:
        if col.startswith("override."):
            meta[col] = _typed(meta[col])
    rows = meta.iloc[np.repeat(np.arange(len(metas)), [n for n, _ in metas])].reset_index(drop=True)
    table = pd.concat([table, rows], axis=1)
    return table, complete, incomplete


def _manifest(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / outputs.MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def job_versions(sweep_dir: Path, folders: list[Path]) -> dict[str, dict]:
    """{version: {"parts": parts (None: no result key), "jobs": [job folders]}} of complete jobs."""
    out: dict[str, dict] = {}
    for folder in folders:
        parts = identity.manifest_parts(_manifest(folder))
        bare = None if parts is None else {k: v for k, v in parts.items() if k != "config"}
        entry = out.setdefault(identity.version_of(parts), {"parts": bare, "jobs": []})
        entry["jobs"].append(str(Path(folder).relative_to(sweep_dir)))
    return out


def mixed_message(sweep_dir: Path, versions: dict[str, dict]) -> str:
    """The refusal of a gather over jobs of several versions: each version, its jobs, and what differs."""
    lines = [
        f"the jobs of {sweep_dir} were made by {len(versions)} different model/data versions; "
        "an ensemble of them would mix models:"
    ]
    for e in sorted(versions.values(), key=lambda e: -len(e["jobs"])):
        jobs = ", ".join(e["jobs"][:4]) + (f" and {len(e['jobs']) - 4} more" if len(e["jobs"]) > 4 else "")
        lines.append(f"  {len(e['jobs'])} job(s) ({jobs}): {identity.describe(e['parts'])}")
    parts = [e["parts"] for e in versions.values()]
    differ = sorted({p for a in parts for b in parts for p in identity.differing_parts(a, b)})
    lines.append(f"  they differ in: {', '.join(differ)}")
    lines.append(
        f"rerun the sweep command to recompute the stale jobs (python -m sim sweep status {sweep_dir} lists "
        "them), or pass --allow-mixed to gather them anyway, grouped by a `version` column"
    )
    return "\n".join(lines)


def group_columns(table: pd.DataFrame) -> list[str]:
    extra = [c for c in table.columns if c.startswith("override.") and c.split(".", 1)[1] not in NOT_GROUPED]
    if "version" in table.columns and table["version"].nunique(dropna=False) > 1:
        extra = ["version", *extra]  # (only with --allow-mixed): never a median over two models
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


def write(table: pd.DataFrame, summary: pd.DataFrame, sweep_dir: Path, versions: dict | None = None) -> dict[str, Path]:
    sweep_dir = Path(sweep_dir)
    paths = {
        "gathered": sweep_dir / GATHERED,
        "summary": sweep_dir / f"{SUMMARY}.parquet",
        "summary_csv": sweep_dir / f"{SUMMARY}.csv",
        "versions": sweep_dir / VERSIONS,
    }
    record = {
        v: {"describe": identity.describe(e["parts"]), "parts": e["parts"], "jobs": e["jobs"]}
        for v, e in (versions or {}).items()
    }
    outputs.write_text(paths["versions"], json.dumps({"mixed": len(record) > 1, "versions": record}, indent=2))
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
    ap.add_argument(
        "--allow-mixed",
        action="store_true",
        help="gather jobs made by different model/data versions (code, data, fit, packages); the summary is "
        "then grouped by a `version` column",
    )
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
    versions = job_versions(args.sweep_dir, complete)
    if len(versions) > 1 and not args.allow_mixed:
        log.error("refused: %s", mixed_message(args.sweep_dir, versions))
        return 2
    if len(versions) > 1:
        log.warning(
            "gathering jobs of %d different model/data versions (--allow-mixed): the tables have a `version` "
            "column and the ensemble summary is grouped by it",
            len(versions),
        )
    for e in versions.values():
        log.info("made from %s (%d job(s))", identity.describe(e["parts"]), len(e["jobs"]))
    if "unknown" in versions:
        log.warning(
            "%d job(s) have no result key (made before results recorded their identity): their version cannot be "
            "checked; rerunning the sweep command recomputes them",
            len(versions["unknown"]["jobs"]),
        )
    summary = ensemble_summary(table)
    paths = write(table, summary, args.sweep_dir, versions)
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
