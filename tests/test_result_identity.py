"""Results that never mix: every result knows the code, data and parameters that made it.

Real runs at scale 0.0005 to 2021 (a few seconds each) of `python -m sim`, `python -m sim -m` (a
2-job sweep), `python -m sim sweep status` and `python -m sim gather`:

1. a job made by another version (its manifest given another commit and model version, as the issue
   did) is stale: `sweep status` says so and what differs, the rerun recomputes it and only it;
2. `gather` refuses a sweep of two versions, and `--allow-mixed` groups by a `version` column;
3. a second run into a folder in use is refused, naming the process, and leaves the folder untouched;
4. SIGKILL releases the lock: the next run takes it over and completes;
5. a changed data file makes earlier runs stale, and the rerun recomputes them;
6. the behaviour fit's provenance: recorded by the calibration, checked by every run (warned, or
   refused with run.strict_provenance=true, naming the command that recalibrates).
(sim/runs/identity.py, sim/runs/lock.py, sim/runs/provenance.py; the messages: docs/results.md)
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest
import yaml

from sim.config import CONF_DIR, compose, to_dict
from sim.runs import identity, lock, outputs, provenance
from sim.runs import sweep as S
from sim.world import inputs
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow  # runs and sweeps through the command line: make test, not make test-fast

TINY = ["population.scale=0.0005", "run.end_year=2021", "run.progress=log"]
SWEEP = ["seed=0,1", *TINY]
JOBS = ["0_baseline_seed0", "1_baseline_seed1"]
OLD_COMMIT = "0" * 40


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("identity") / "s"
    run_cli("sim", "-m", *SWEEP, f"hydra.sweep.dir={d}", timeout=300)
    return d


def _copy(sweep_dir, tmp_path) -> Path:
    dst = tmp_path / "s"
    shutil.copytree(sweep_dir, dst)
    return dst


def _manifest(folder: Path) -> dict:
    return json.loads((folder / outputs.MANIFEST).read_text())


def _as_made_by_older_code(folder: Path) -> None:
    """What the issue did: give a job's manifest another git commit and model version."""
    man = _manifest(folder)
    man["git"]["commit"], man["model_version"] = OLD_COMMIT, "0.0.1"
    (folder / outputs.MANIFEST).write_text(json.dumps(man, indent=2))


def _log(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.glob("*.log"))


# --------------------------------------------------------------------------------------
# 1. the key; a stale job is recomputed


def test_every_manifest_carries_its_result_key(sweep_dir):
    mans = [_manifest(sweep_dir / j) for j in JOBS]
    for man in mans:
        rk = man["result_key"]
        assert re.fullmatch(r"[0-9a-f]{16}", rk["key"]) and re.fullmatch(r"[0-9a-f]{16}", rk["version"])
        p = rk["parts"]
        assert set(p) == {"config", "code", "data", "posterior", "packages"}
        assert p["code"]["commit"] == man["git"]["commit"] and p["code"]["model_version"] == man["model_version"]
        assert p["code"]["sources"] is None or re.fullmatch(r"[0-9a-f]{16}", p["code"]["sources"])
        if p["code"]["sources"]:  # then every model source file's hash, to say which one changed
            assert "sim/model.py" in rk["sources_sha256"] and "conf/config.yaml" in rk["sources_sha256"]
        assert p["data"] == identity.data_version(man["data_sha256"]) == identity.data_version()
        assert p["posterior"].startswith("fit:") and p["packages"] == {
            "numpy": np.__version__,
            "numba": numba.__version__,
        }
        assert identity.key_of(identity.manifest_parts(man)) == rk["key"]  # the key is its own fields' key
    assert mans[0]["result_key"]["key"] != mans[1]["result_key"]["key"]  # another seed, another result
    assert mans[0]["result_key"]["version"] == mans[1]["result_key"]["version"]  # same code, data, fit


def test_stale_job_is_recomputed(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    _as_made_by_older_code(d / JOBS[1])
    kept = (d / JOBS[0] / outputs.MANIFEST).stat().st_mtime_ns
    st = run_cli("sim", "sweep", "status", str(d), "--no-sacct", check=False)
    assert st.returncode == 1
    assert re.search(rf"1 stale +{JOBS[1]} +differs: code", st.stdout), st.stdout
    assert re.search(rf"0 complete +{JOBS[0]}", st.stdout), st.stdout
    assert f"--- {JOBS[1]}: stale" in st.stdout and "code: model version 0.0.1 -> " in st.stdout
    assert "commit 0000000000 -> " in st.stdout
    rows = json.loads(run_cli("sim", "sweep", "status", str(d), "--no-sacct", "--json", check=False).stdout)
    assert [r["state"] for r in rows] == ["complete", "stale"] and rows[1]["why"][0].startswith("code: ")

    run_cli("sim", "-m", *SWEEP, f"hydra.sweep.dir={d}", timeout=300)  # the same sweep command, again
    log1 = _log(d / JOBS[1])
    assert "stale: " in log1 and "recomputing it. What differs: code: model version 0.0.1 -> " in log1
    man = _manifest(d / JOBS[1])
    assert man["git"]["commit"] != OLD_COMMIT and man["model_version"] != "0.0.1"
    assert man["result_key"]["version"] == _manifest(d / JOBS[0])["result_key"]["version"]
    assert (d / JOBS[0] / outputs.MANIFEST).stat().st_mtime_ns == kept, "the up-to-date job was recomputed"
    assert "already complete, skipping" in _log(d / JOBS[0])
    st = run_cli("sim", "sweep", "status", str(d), "--no-sacct")
    assert "2 jobs: 2 complete" in st.stdout


def test_a_manifest_without_a_key_is_stale(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    man = _manifest(d / JOBS[0])
    del man["result_key"]  # made before results recorded their identity
    (d / JOBS[0] / outputs.MANIFEST).write_text(json.dumps(man))
    state, _, why = S.completion(d / JOBS[0], man["config"])
    assert state == "stale" and why == [identity.NO_KEY]
    assert S.already_complete(d / JOBS[1], _manifest(d / JOBS[1])["config"]) is not None


# --------------------------------------------------------------------------------------
# 2. gather refuses to mix


def test_mixed_gather_is_refused(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    _as_made_by_older_code(d / JOBS[1])
    proc = run_cli("sim", "gather", str(d), check=False)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert f"refused: the jobs of {d} were made by 2 different model/data versions" in err
    assert f"1 job(s) ({JOBS[1]}): version " in err and "(model 0.0.1)" in err and "code 00000000" in err
    assert "they differ in: code" in err and "--allow-mixed" in err and f"python -m sim sweep status {d}" in err
    assert not (d / "gathered.parquet").exists() and not (d / "ensemble_summary.csv").exists()

    proc = run_cli("sim", "gather", str(d), "--allow-mixed")
    assert "gathering jobs of 2 different model/data versions (--allow-mixed)" in proc.stderr
    t = pd.read_parquet(d / "gathered.parquet")
    assert t.version.nunique() == 2 and (t.groupby("job").version.nunique() == 1).all()
    s = pd.read_parquet(d / "ensemble_summary.parquet")
    assert "version" in s.columns and set(s.n_seeds) == {1}  # no median over the two versions
    rec = json.loads((d / "gathered_versions.json").read_text())
    assert rec["mixed"] is True and sorted(len(v["jobs"]) for v in rec["versions"].values()) == [1, 1]


def test_gather_of_one_version_records_it(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    proc = run_cli("sim", "gather", str(d))
    man = _manifest(d / JOBS[0])
    assert f"made from {identity.describe(identity.manifest_parts(man))} (2 job(s))" in proc.stderr
    t = pd.read_parquet(d / "gathered.parquet")
    assert dict(t.groupby("job").result_key.first()) == {j: _manifest(d / j)["result_key"]["key"] for j in JOBS}
    s = pd.read_parquet(d / "ensemble_summary.parquet")
    assert "version" not in s.columns and set(s.n_seeds) == {2}
    rec = json.loads((d / "gathered_versions.json").read_text())
    assert rec["mixed"] is False and [v["jobs"] for v in rec["versions"].values()] == [JOBS]


# --------------------------------------------------------------------------------------
# 3, 4. one writer per folder


def _start(run_dir: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *overrides, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_lock(run_dir: Path, proc: subprocess.Popen, timeout: float = 120) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        info = lock.read_holder(run_dir)
        if info and info.get("pid") == proc.pid:
            return info
        assert proc.poll() is None, f"the run ended before it took its lock: {proc.stderr.read()[-2000:]}"
        time.sleep(0.05)
    raise AssertionError("the run did not take its lock")


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_concurrent_writers_are_refused(tmp_path):
    run_dir = tmp_path / "run"
    first = _start(run_dir, "seed=1", *TINY)
    try:
        _wait_for_lock(run_dir, first)
        os.kill(first.pid, signal.SIGSTOP)  # keep it mid-run while the second one tries
        before = _snapshot(run_dir)
        second = run_cli("sim", "seed=2", *TINY, f"hydra.run.dir={run_dir}", check=False)
        assert second.returncode == 2, second.stderr
        last = (second.stdout + second.stderr).strip().splitlines()[-1]
        assert f"refused: run folder {run_dir} is in use by process {first.pid} on {socket.gethostname()}" in last
        assert "seed=1" in last and "give this run its own folder" in last
        assert _snapshot(run_dir) == before  # nothing written, not even .hydra/ or a log line
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    man = _manifest(run_dir)
    assert man["seed"] == 1 and outputs.is_complete(run_dir)
    assert "seed=1" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert "seed=2" not in (run_dir / ".hydra" / "overrides.yaml").read_text() + _log(run_dir)
    assert lock.read_holder(run_dir) is None  # released: the lock file is emptied


def test_sigkill_releases_the_lock(tmp_path):
    run_dir = tmp_path / "run"
    first = _start(run_dir, "seed=1", "population.scale=0.002", "run.progress=log")
    _wait_for_lock(run_dir, first)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert lock.read_holder(run_dir)["pid"] == first.pid  # the dead holder's details stay in the file
    assert not outputs.is_complete(run_dir)
    second = run_cli("sim", "seed=2", *TINY, f"hydra.run.dir={run_dir}")
    said = second.stdout + second.stderr  # Hydra logs to stdout
    assert f"took over a stale lock of {run_dir}: its holder, process {first.pid} on " in said
    assert "ended without releasing it (killed?)" in said
    assert _manifest(run_dir)["seed"] == 2 and lock.read_holder(run_dir) is None


def test_lock_in_process(tmp_path):
    hold = (
        "import sys, time; from sim.runs import lock; lock.acquire(sys.argv[1]); "
        "print('locked', flush=True); time.sleep(300)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(lock.RunFolderBusy, match=f"is in use by process {holder.pid} on "):
            lock.acquire(tmp_path)
    finally:
        holder.kill()
        holder.communicate(timeout=60)
    held = lock.acquire(tmp_path)
    try:
        assert held.stale["pid"] == holder.pid and "ended without releasing it" in lock.stale_message(held)
        assert lock.acquire(tmp_path) is held and lock.held(tmp_path) is held  # this process's own lock, again
        lock.release(held)
        assert lock.held(tmp_path) is held and lock.read_holder(tmp_path)["pid"] == os.getpid()
    finally:
        lock.release(held)
    assert lock.held(tmp_path) is None and lock.read_holder(tmp_path) is None


# --------------------------------------------------------------------------------------
# 5. a changed data file marks earlier runs stale

# python -m sim, with the data folder at argv[1] (a copy with one file changed)
WITH_DATA = (
    "import sys; from pathlib import Path; import sim.world.inputs as I; I.DATA_DIR = Path(sys.argv[1]); "
    "from sim.__main__ import dispatch; args = sys.argv[2:]; sys.argv = [sys.argv[0], *args]; "
    "sys.exit(dispatch(args))"
)


def test_changed_data_file_marks_earlier_runs_stale(sweep_dir, tmp_path, monkeypatch):
    d = _copy(sweep_dir, tmp_path)
    data = tmp_path / "data"
    shutil.copytree(inputs.DATA_DIR, data)
    changed = data / "SOURCES.md"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nA correction.\n", encoding="utf-8")

    monkeypatch.setattr(inputs, "DATA_DIR", data)
    jobs = S.sweep_status(d, use_sacct=False)
    assert [j.state for j in jobs] == ["stale", "stale"]
    assert all(w.startswith("data: ") and "(SOURCES.md changed)" in w for j in jobs for w in j.why), jobs[0].why
    assert "differs: data" in S.format_status(jobs, d)

    proc = subprocess.run(
        [sys.executable, "-c", WITH_DATA, str(data), "-m", *SWEEP, f"hydra.sweep.dir={d}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    new_hash = hashlib.sha256(changed.read_bytes()).hexdigest()
    for j in JOBS:
        assert "What differs: data: " in _log(d / j) and "(SOURCES.md changed)" in _log(d / j)
        assert _manifest(d / j)["data_sha256"]["SOURCES.md"] == new_hash
    assert [j.state for j in S.sweep_status(d, use_sacct=False)] == ["complete", "complete"]
    monkeypatch.undo()  # the data of the checkout: now these runs are the stale ones
    assert [j.state for j in S.sweep_status(d, use_sacct=False)] == ["stale", "stale"]


# --------------------------------------------------------------------------------------
# 6. the behaviour fit's provenance


def _fake_fit_result(years=(2021, 2022, 2023)) -> dict:
    from sim.analysis.calibrate import FITTED, targets

    idx = [min(years) - 1, *years]
    sim = pd.DataFrame(
        {
            "resident_urbanization_rate_pct": 63.0,
            "hukou_urbanization_rate_pct": 44.0,
            "population": 3.48e7,
            "migrant_leaving_rate_pct": 10.0,
            "returned_home": 1e4,
            "migrants": 5e5,
            "out_of_province": 1e5,
            "county_rate_pct": [45.0, 45.5, 46.0, 46.5],
            "county_city_rate_pct": [55.0, 55.5, 56.0, 56.5],
            "district_rural_people": [2.30e6, 2.29e6, 2.27e6, 2.25e6],
        },
        index=idx,
    )
    cities = {c for by_city in targets(years)["city_population"].values() for c in by_city}
    for c in sorted(cities):
        sim[f"population:{c}"] = 3.0e6
    for c in sorted({c for by_city in targets(years)["city_rate"].values() for c in by_city}):
        sim[f"rate:{c}"] = 60.0
    n = len(FITTED)
    return {
        "x": np.zeros(n),
        "cov": np.eye(n),
        "errors_pp": dict.fromkeys(years, 0.0),
        "sim": sim,
        "targets": targets(years),
        "evaluations": 1,
    }


@pytest.fixture
def fitted_copy(tmp_path):
    """A copy of conf/behaviour/fitted.yaml rewritten by the calibration's writer (the shipped file is untouched)."""
    from sim.analysis.calibrate import write_fitted

    path = tmp_path / "fitted.yaml"
    shutil.copy(CONF_DIR / "behaviour" / "fitted.yaml", path)
    write_fitted(
        path, _fake_fit_result(), 0.001, 7, "python -m sim calibrate --scale 0.001 --seed 7 --years 2021,2022,2023"
    )
    return path


def _cfg_with_fit(path: Path, strict: bool = False) -> dict:
    cfg = to_dict(compose([]))
    cfg["behaviour"]["fit"] = yaml.safe_load(path.read_text(encoding="utf-8"))["fit"]
    cfg["run"]["strict_provenance"] = strict
    return cfg


def test_calibration_records_its_provenance(fitted_copy):
    made = yaml.safe_load(fitted_copy.read_text(encoding="utf-8"))["fit"]["made_from"]
    assert made["code"]["sources"] == identity.sources_digest(provenance.FIT_SOURCES_EXCLUDE)
    assert made["code"]["commit"] == identity.code_version()["commit"]
    assert made["data"] == identity.data_version() and made["packages"] == identity.package_key()
    assert made["targets"] == provenance.targets_version((2021, 2022, 2023))
    assert provenance.check_fit(_cfg_with_fit(fitted_copy)) == ("matches", [])


def test_fit_made_from_other_inputs_warns_and_strict_refuses(fitted_copy, monkeypatch, caplog):
    import sim.analysis.calibrate as C

    monkeypatch.setattr(C, "RETURN_RATE_PCT", 3.0)  # another target
    monkeypatch.setattr(provenance, "fit_code", lambda: {"sources": "0123456789abcdef"})  # other model code
    status, problems = provenance.check_fit(_cfg_with_fit(fitted_copy))
    assert status == "differs" and len(problems) == 2
    assert problems[0].startswith("the model code changed since (sources ")
    assert problems[1].startswith("the calibration targets changed since (targets ")
    with caplog.at_level("WARNING", logger="sim.runs.provenance"):
        assert provenance.enforce(_cfg_with_fit(fitted_copy))["status"] == "differs"
    assert "was made from other inputs than this run's" in caplog.text
    assert "to refit them: `python -m sim calibrate --scale 0.001 --seed 7 --years 2021,2022,2023`" in caplog.text
    with pytest.raises(provenance.ProvenanceError, match=r"refused: run.strict_provenance=true"):
        provenance.enforce(_cfg_with_fit(fitted_copy, strict=True))


def test_changed_data_makes_the_fit_stale(fitted_copy, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(inputs.DATA_DIR, data)
    (data / "facts.md").write_text("changed\n", encoding="utf-8")
    monkeypatch.setattr(inputs, "DATA_DIR", data)
    status, problems = provenance.check_fit(_cfg_with_fit(fitted_copy))
    assert status == "differs" and problems[0].startswith("the data files changed since (data ")


def test_fit_without_provenance_is_unknown():
    cfg = to_dict(compose([]))
    cfg["behaviour"]["fit"].pop("made_from", None)
    status, problems = provenance.check_fit(cfg)
    assert status == "unknown" and "records no code, data or targets version" in problems[0]
    cfg["behaviour"].pop("fit")
    assert provenance.check_fit(cfg) == ("none", [])


def test_strict_provenance_refuses_a_run_from_the_command_line(tmp_path):
    run_dir = tmp_path / "run"
    other = "++behaviour.fit.made_from={code:{sources:'0000'},data:'0000',targets:'0000'}"
    proc = run_cli("sim", "run.strict_provenance=true", other, *TINY, f"hydra.run.dir={run_dir}", check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = (proc.stdout + proc.stderr).strip().splitlines()[-1]
    assert "refused: the behaviour fit" in last and "was made from other inputs than this run's" in last
    for what in ("the model code changed since", "the data files changed since", "the calibration targets changed"):
        assert what in last, what
    assert (
        "to refit them: `python -m sim calibrate --scale " in last and "(refused: run.strict_provenance=true)" in last
    )
    assert not outputs.is_complete(run_dir)


# --------------------------------------------------------------------------------------
# the documentation


def test_docs_list_the_cases_and_messages():
    doc = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    for text in (
        "already complete, skipping",
        "stale: ",
        "What differs: ",
        "differs: code",
        "refused: the jobs of",
        "--allow-mixed",
        "refused: run folder",
        "took over a stale lock of",
        "(SOURCES.md changed)",
        "has unknown provenance",
        "was made from other inputs than this run's",
        "run.strict_provenance=true",
        identity.NO_KEY,
    ):
        assert text in doc, text
