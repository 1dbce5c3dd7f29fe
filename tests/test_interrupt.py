"""Atomic, complete outputs: an interrupted run never looks complete; a complete run says what made it.

Three real runs of `python -m sim population.scale=0.01` are stopped while they step, by SIGINT
(Ctrl-C), SIGTERM and SIGKILL. None may leave a manifest.json, `sim.runs.outputs.is_complete` must be
False, and every visible output file must be either absent or whole (outputs are written to a
hidden `.<name>.<random>.part` file and renamed into place; the manifest is written last).

SIGTERM needs no handler: Python's default action ends the process at once without cleanup,
which is safe because nothing is renamed into place until it is whole and the manifest comes last;
at worst a hidden `.part` file is left behind, and it does not count (tested below).
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sim.runs import outputs
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # runs and sweeps through the command line: make test, not make test-fast

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def _default_signals():
    """In the child: Ctrl-C as at a terminal. A shell running the tests in the background (or a CI
    runner) may start them with SIGINT ignored, which the child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(run_dir: Path, *overrides: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *overrides, "run.progress=log", f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )


def _log_text(run_dir: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in run_dir.glob("*.log")) if run_dir.exists() else ""


SYNTHESIS_FIT_COLUMNS = ["control", "unit_type", "units", "census", "synthetic", "pct_rmse"]


def visible_outputs_are_whole(run_dir: Path) -> list[str]:
    """Every visible file in the run folder is whole; returns their names. Hidden files (.hydra,
    temporary .part files) are not outputs."""
    names = []
    for p in sorted(run_dir.iterdir()):
        if p.name.startswith(".") or p.suffix == ".log":
            continue
        names.append(p.name)
        if p.name == "synthesis_fit.csv":
            assert list(pd.read_csv(p).columns) == SYNTHESIS_FIT_COLUMNS, p.name
        elif p.suffix == ".csv":
            assert list(pd.read_csv(p).columns) == outputs.COLUMNS, p.name
        elif p.suffix == ".parquet":
            assert list(pd.read_parquet(p).columns) == outputs.COLUMNS, p.name
        elif p.suffix == ".png":
            data = p.read_bytes()
            assert data.startswith(PNG_MAGIC) and data[-12:-4] == b"\x00\x00\x00\x00IEND", p.name
        elif p.suffix == ".json":
            json.loads(p.read_text())
    return names


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three interrupted runs (one per signal) and one complete tiny run, started together."""
    base = tmp_path_factory.mktemp("interrupt")
    procs = {name: (_start(base / name, "population.scale=0.01"), base / name) for name in SIGNALS}
    complete_dir = base / "complete"
    complete = _start(complete_dir, "population.scale=0.002", "run.end_year=2021", "seed=5")
    # signal each run as soon as it is stepping
    pending, t0, signalled = dict(procs), time.monotonic(), {}
    while pending:
        assert time.monotonic() - t0 < 300, f"runs did not start stepping: {list(pending)}"
        for name, (proc, run_dir) in list(pending.items()):
            if proc.poll() is not None:
                raise AssertionError(
                    f"{name}: run ended before it was signalled (exit {proc.returncode}): {proc.stderr.read()[-2000:]}"
                )
            if re.search(r"simulated \d{4}-\d\d", _log_text(run_dir)):
                proc.send_signal(SIGNALS[name])
                signalled[name] = time.monotonic()
                del pending[name]
        time.sleep(0.2)
    result = {}
    for name, (proc, run_dir) in procs.items():
        out, err = proc.communicate(timeout=120)
        result[name] = dict(
            rc=proc.returncode,
            run_dir=run_dir,
            stderr=err,
            log=_log_text(run_dir),
            stop_s=time.monotonic() - signalled[name],
        )
        print(
            f"{name}: exit {proc.returncode} {time.monotonic() - signalled[name]:.1f} s after the signal; "
            f"left: {sorted(p.name for p in run_dir.iterdir())}"
        )
    out, err = complete.communicate(timeout=600)
    assert complete.returncode == 0, err[-3000:]
    result["complete"] = dict(rc=0, run_dir=complete_dir, stderr=err)
    return result


@pytest.mark.parametrize("name", list(SIGNALS))
def test_an_interrupted_run_is_not_complete(runs, name):
    r = runs[name]
    run_dir = r["run_dir"]
    assert r["rc"] != 0, f"{name}: exit status 0"
    if name != "SIGINT":
        assert r["rc"] == -SIGNALS[name], f"{name}: exit status {r['rc']} (expected killed by the signal)"
    assert "simulated" in r["log"] and "run complete" not in r["log"]
    assert not (run_dir / outputs.MANIFEST).exists()
    assert not outputs.is_complete(run_dir)
    assert outputs.MANIFEST not in visible_outputs_are_whole(run_dir)


def test_a_complete_run_has_whole_outputs_and_no_leftovers(runs):
    run_dir = runs["complete"]["run_dir"]
    assert outputs.is_complete(run_dir)
    names = visible_outputs_are_whole(run_dir)
    files = {"indicators.csv", "indicators.parquet", "urbanization.png", "synthesis_fit.csv", outputs.MANIFEST}
    assert set(names) == files
    assert not list(run_dir.glob(".*.part"))


def test_provenance_in_the_manifest(runs):
    run_dir = runs["complete"]["run_dir"]
    man = json.loads((run_dir / outputs.MANIFEST).read_text())
    assert man["complete"] is True and man["model"] == "shanxi-urbanization"
    assert isinstance(man["model_version"], str)
    assert man["seed"] == 5 and man["scenario"] == "baseline"
    # the resolved config, complete enough to rerun: it passes the schema and names the overrides
    cfg = man["config"]
    assert cfg["seed"] == 5 and cfg["population"]["scale"] == 0.002 and cfg["run"]["end_year"] == 2021
    from sim.config.schema import validate_config

    validate_config(cfg, with_geography=False)
    # code: git commit and dirty flag (None outside a git checkout)
    git = man["git"]
    assert set(git) >= {"commit", "dirty"}
    if (ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", git["commit"]) and isinstance(git["dirty"], bool)
    else:
        assert git["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", git["commit"])
    pk = man["packages"]
    for p in ("python", "numpy", "numba", "mesa", "pandas", "hydra-core"):
        assert isinstance(pk[p], str) and re.match(r"\d+\.\d+", pk[p]), p
    # data: a sha256 of every data file, matching the files
    data = man["data_sha256"]
    assert {"shanxi_counties.csv", "shanxi_province.csv"} <= set(data)
    for name, digest in data.items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest), name
        path = ROOT / "sim" / "world" / "data" / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
    # host and time
    host = man["host"]
    assert isinstance(host["name"], str) and host["name"] and isinstance(host["platform"], str)
    assert isinstance(host["cpus"], int) and host["cpus"] >= 1
    started, finished = datetime.fromisoformat(man["started"]), datetime.fromisoformat(man["finished"])
    assert started.tzinfo is not None and started <= finished
    assert isinstance(man["wall_time_s"], float) and 0 < man["wall_time_s"] < 3600
    assert (finished - started).total_seconds() <= man["wall_time_s"] + 2
    assert isinstance(man["peak_rss_mb"], float) and 50 < man["peak_rss_mb"] < 100_000
    assert set(man["timings_s"]) >= {"setup", "stepping", "output"}
    assert all(isinstance(v, (int, float)) and v >= 0 for v in man["timings_s"].values())
    assert abs(sum(man["timings_s"].values()) - man["wall_time_s"]) < 1.0
    # outputs: each listed with the sha256 of the file as written
    for name, digest in man["outputs"].items():
        assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest, name
    assert isinstance(man["households_simulated"], int) and man["households_simulated"] > 1000
    assert man["months"] == 14


# --------------------------------------------------------------------------------------
# temporary files and failures while writing (in-process)


def test_a_leftover_part_file_does_not_count(tmp_path):
    # what SIGKILL while writing leaves: hidden temporary files, one even holding a "complete" manifest
    (tmp_path / ".indicators.csv.k3j2h1.part").write_text("scenario,seed,ye")
    (tmp_path / f".{outputs.MANIFEST}.x8y7z6.part").write_text(json.dumps({"complete": True}))
    assert not outputs.is_complete(tmp_path)
    assert visible_outputs_are_whole(tmp_path) == []
    # a leftover next to a complete manifest changes nothing either
    outputs.write_text(tmp_path / outputs.MANIFEST, json.dumps({"complete": True, "outputs": {}}))
    assert outputs.is_complete(tmp_path)
    assert visible_outputs_are_whole(tmp_path) == [outputs.MANIFEST]


def test_a_write_that_fails_half_way_leaves_nothing(tmp_path):
    target = tmp_path / "indicators.csv"
    with pytest.raises(RuntimeError):
        with outputs.atomic_path(target) as tmp:
            tmp.write_text("scenario,seed,year,le")
            raise RuntimeError("disk full")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with outputs.atomic_path(target) as tmp:
            tmp.write_text("new, half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"  # the previous version stays whole


def test_a_run_that_fails_after_its_tables_is_not_complete(tmp_path, monkeypatch):
    from sim.config import compose, to_dict
    from sim.reporting import plots
    from sim.runs.run import run_to_folder

    def broken(*a, **k):
        raise OSError("no space left on device")

    monkeypatch.setattr(plots, "urbanization_figure", broken)
    (tmp_path / outputs.MANIFEST).write_text(json.dumps({"complete": True}))  # a stale manifest
    cfg = to_dict(compose(["population.scale=0.0005", "run.end_year=2021", "run.progress=none"]))
    with pytest.raises(OSError, match="no space left"):
        run_to_folder(cfg, tmp_path)
    assert not outputs.is_complete(tmp_path)
    assert set(visible_outputs_are_whole(tmp_path)) == {"indicators.csv", "indicators.parquet", "synthesis_fit.csv"}
    assert not list(tmp_path.glob(".*.part"))
