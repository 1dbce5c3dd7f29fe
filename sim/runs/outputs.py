"""Run outputs: written atomically, manifest last.

Every file is written to a temporary name in the run folder and renamed into place, so a reader
never sees a half-written file. `manifest.json` is written last and marks the run complete: a
folder without it is an incomplete run (killed, failed or still running). The manifest's `result_key`
says what made the result (sim/runs/identity.py).
"""

import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from sim.config import PROJECT_ROOT

MANIFEST = "manifest.json"
COLUMNS = ["scenario", "seed", "year", "level", "region", "indicator", "value"]
PACKAGES = ("mesa", "numpy", "numba", "scipy", "matplotlib", "pandas", "pyarrow", "hydra-core", "shanxi-urbanization")


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path next to `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_table(run_dir: Path, rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["year"] = df["year"].astype(int)
    with atomic_path(run_dir / "indicators.csv") as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(run_dir / "indicators.parquet") as tmp:
        df.to_parquet(tmp, index=False)
    return df


def begin_run(run_dir) -> Path:
    """Create the run folder and remove any old manifest: it must not vouch for new outputs."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / MANIFEST).unlink(missing_ok=True)
    return run_dir


def is_complete(run_dir: Path) -> bool:
    """A run is complete when its manifest exists and says so."""
    try:
        return json.loads((Path(run_dir) / MANIFEST).read_text()).get("complete") is True
    except (OSError, ValueError):
        return False


def git_state() -> dict:
    root = PROJECT_ROOT

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", None
    return {"commit": commit or None, "dirty": dirty}


def package_versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest(
    config: dict,
    seed: int,
    started: datetime,
    wall_s: float,
    peak_rss_mb: float,
    data_hashes: dict,
    timings: dict,
    outputs: list[str],
    extra: dict | None = None,
) -> dict:
    """The manifest of a result. `result_key` (sim.runs.identity) is the identity of the result: its
    config, code, data, behaviour fit and packages; the commit in `git` is the one the key was made with
    (read when this process first asked, before it ran)."""
    from sim.runs import identity

    key = identity.record(config, data_hashes)
    return {
        "complete": True,
        "model": "shanxi-urbanization",
        "model_version": key["parts"]["code"]["model_version"],
        "seed": seed,
        "scenario": config.get("scenario", {}).get("name"),
        "config": config,
        "result_key": key,
        "git": {**git_state(), "commit": key["parts"]["code"]["commit"]},
        "packages": package_versions(),
        "data_sha256": data_hashes,
        "host": {"name": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(wall_s, 3),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "outputs": {name: None for name in outputs},
        **(extra or {}),
    }


def write_manifest(run_dir: Path, man: dict) -> None:
    for name in man["outputs"]:
        man["outputs"][name] = file_sha256(run_dir / name)
    write_text(run_dir / MANIFEST, json.dumps(man, indent=2, ensure_ascii=False, default=_json_default))


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)
