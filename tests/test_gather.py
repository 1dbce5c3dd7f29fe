"""Sweeps without Slurm: a tiny joblib sweep, gathered; incomplete jobs skipped and reported; a rerun
of the same sweep computes only what is missing (sim/runs/gather.py, sim/runs/sweep.py, python -m sim)."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from sim.runs import gather as G
from sim.runs import sweep as S
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # runs and sweeps through the command line: make test, not make test-fast

SWEEP = ["scenario=baseline,plan", "seed=0,1", "population.scale=0.002", "run.end_year=2021", "run.progress=log"]
JOBS = ["0_baseline_seed0", "1_baseline_seed1", "2_plan_seed0", "3_plan_seed1"]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep") / "s"
    run_cli("sim", "-m", *SWEEP, "hydra/launcher=joblib", f"hydra.sweep.dir={d}", timeout=600)
    return d


def _copy(sweep_dir, tmp_path):
    dst = tmp_path / "s"
    shutil.copytree(sweep_dir, dst)
    return dst


def test_sweep_writes_one_folder_per_job(sweep_dir):
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) == JOBS
    for j in JOBS:
        man = json.loads((sweep_dir / j / "manifest.json").read_text())
        assert man["complete"] and man["config"]["population"]["scale"] == 0.002
        assert S.job_overrides(sweep_dir / j)[:2] == [f"scenario={j.split('_')[1]}", f"seed={j[-1]}"]


def test_gather_table_and_ensemble_summary(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    proc = run_cli("sim", "gather", str(d))
    assert "gathered 4 complete jobs (0 incomplete skipped)" in proc.stderr
    t = pd.read_parquet(d / "gathered.parquet")
    for col in [
        "scenario",
        "seed",
        "year",
        "level",
        "region",
        "indicator",
        "value",
        "job",
        "job_num",
        "override.scenario",
        "override.seed",
        "override.population.scale",
        "override.run.end_year",
    ]:
        assert col in t.columns, col
    assert sorted(t.job.unique()) == JOBS
    assert (t["override.seed"] == t["seed"]).all() and (t["override.scenario"] == t["scenario"]).all()
    assert set(t["override.population.scale"]) == {0.002} and set(t.year) == {2020, 2021}
    per_job = t.groupby("job").size()
    assert per_job.nunique() == 1  # every job has the same rows
    s = pd.read_parquet(d / "ensemble_summary.parquet")
    for col in ["scenario", "year", "level", "region", "indicator", "n_seeds", "median", "p5", "p95"]:
        assert col in s.columns, col
    assert "override.seed" not in s.columns and "seed" not in s.columns
    assert "override.population.scale" in s.columns  # a non-seed override is a group
    assert set(s.n_seeds) == {2} and len(s) == len(t) // 2
    assert (s.p5 <= s["median"]).all() and (s["median"] <= s.p95).all()
    csv = pd.read_csv(d / "ensemble_summary.csv")
    assert len(csv) == len(s)
    # the summary is the quantiles of the gathered values
    row = s[
        (s.level == "province")
        & (s.indicator == "resident_urbanization_rate_pct")
        & (s.scenario == "plan")
        & (s.year == 2021)
    ].iloc[0]
    v = t[
        (t.level == "province")
        & (t.indicator == "resident_urbanization_rate_pct")
        & (t.scenario == "plan")
        & (t.year == 2021)
    ].value
    assert row["median"] == pytest.approx(np.median(v)) and row.p95 == pytest.approx(np.quantile(v, 0.95))


def test_incomplete_job_is_skipped_and_reported(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    (d / JOBS[2] / "manifest.json").unlink()
    proc = run_cli("sim", "gather", str(d))
    assert "skipping incomplete job" in proc.stderr and JOBS[2] in proc.stderr
    assert "gathered 3 complete jobs (1 incomplete skipped)" in proc.stderr
    t = pd.read_parquet(d / "gathered.parquet")
    assert sorted(t.job.unique()) == [JOBS[0], JOBS[1], JOBS[3]]
    assert run_cli("sim", "gather", str(d), "--strict", check=False).returncode == 1
    st = run_cli("sim", "sweep", "status", str(d), check=False)
    assert st.returncode == 1
    assert f" incomplete {JOBS[2]}" in st.stdout and st.stdout.count(" complete ") == 3, st.stdout
    assert f"--- {JOBS[2]}: incomplete" in st.stdout and "__main__.log" in st.stdout
    # a job that never started (no folder) is listed as missing, from multirun.yaml
    shutil.rmtree(d / JOBS[3])
    st = run_cli("sim", "sweep", "status", str(d), check=False)
    assert "missing" in st.stdout and "scenario=plan seed=1" in st.stdout, st.stdout


def test_gather_fails_when_nothing_is_complete(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    for j in JOBS:
        (d / j / "manifest.json").unlink()
    proc = run_cli("sim", "gather", str(d), check=False)
    assert proc.returncode != 0 and "no complete job" in proc.stderr
    assert not (d / "gathered.parquet").exists()


def test_rerun_runs_only_missing_jobs(sweep_dir, tmp_path):
    d = _copy(sweep_dir, tmp_path)
    (d / JOBS[1] / "manifest.json").unlink()
    before = {j: (d / j / "manifest.json").stat().st_mtime_ns for j in JOBS if j != JOBS[1]}
    run_cli("sim", "-m", *SWEEP, "hydra/launcher=joblib", f"hydra.sweep.dir={d}", timeout=600)
    for j, mtime in before.items():
        assert (d / j / "manifest.json").stat().st_mtime_ns == mtime, f"{j} was recomputed"
        assert "already complete, skipping" in (d / j / "__main__.log").read_text()
    assert S.already_complete(d / JOBS[1], json.loads((d / JOBS[1] / "manifest.json").read_text())["config"])


def test_already_complete_compares_config(sweep_dir):
    j = sweep_dir / JOBS[0]
    cfg = json.loads((j / "manifest.json").read_text())["config"]
    assert S.already_complete(j, cfg) is not None
    other = json.loads(json.dumps(cfg))
    other["run"]["progress"] = "none"  # does not change results: still the same job
    other["run"]["threads"] = 7
    assert S.already_complete(j, other) is not None
    other["seed"] = 99  # another job: not complete
    assert S.already_complete(j, other) is None
    other = json.loads(json.dumps(cfg))
    other["population"]["scale"] = 0.003
    assert S.already_complete(j, other) is None
    assert S.already_complete(sweep_dir / "nowhere", cfg) is None


def test_ensemble_summary_groups_by_non_seed_overrides():
    rows = []
    for scale in (0.1, 0.2):
        for seed in range(21):
            rows.append(
                {
                    "scenario": "baseline",
                    "seed": seed,
                    "year": 2025,
                    "level": "province",
                    "region": "Shanxi",
                    "indicator": "x",
                    "value": float(seed) * (10 if scale == 0.2 else 1),
                    "override.seed": seed,
                    "override.population.scale": scale,
                }
            )
    s = G.ensemble_summary(pd.DataFrame(rows)).set_index("override.population.scale")
    assert s.loc[0.1, "median"] == 10 and s.loc[0.1, "p5"] == 1 and s.loc[0.1, "p95"] == 19
    assert s.loc[0.2, "median"] == 100 and s.loc[0.2, "n_seeds"] == 21
