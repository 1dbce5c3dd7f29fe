"""Model sweeps (`python -m sim -m ...`) on the real one-node Slurm cluster, with faults.

1. A 4-job sweep (2 scenarios x 2 seeds, 0.2% of households, to 2022) through `hydra/launcher=slurm`:
   every job folder complete with its indicators, every array task COMPLETED in sacct.
2. The same sweep with one task killed mid-run (`scancel --signal=KILL <task>.0`, SIGKILL to its job
   step, once its log shows the model stepping): the launcher fails within a bounded time instead of
   hanging, the killed job has no manifest, `python -m sim sweep status` reports it incomplete with its
   Slurm state; the same sweep command again reruns only that job ("already complete, skipping" for the
   others, their manifests untouched), and `python -m sim gather` then gathers all four jobs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"}
SWEEP = ["scenario=baseline,plan", "seed=0,1", "population.scale=0.002", "run.end_year=2022", "run.progress=log"]
JOBS = ["0_baseline_seed0", "1_baseline_seed1", "2_plan_seed0", "3_plan_seed1"]


def _sweep_cmd(sweep_dir: Path, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sim",
        "-m",
        *SWEEP,
        "hydra/launcher=slurm",
        f"hydra.sweep.dir={sweep_dir}",
        f"hydra.launcher.name={name}",
    ]


def _run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _sacct(job_id: str, expect: int, timeout_s: float = 30.0) -> dict[str, tuple[str, str]]:
    """{JobID: (State, ExitCode)} of the allocations of a job (array) once `expect` are terminal."""
    deadline = time.monotonic() + timeout_s
    while True:
        out = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-j", job_id, "-o", "JobID,State,ExitCode"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        states = {}
        for line in out.splitlines():
            jid, state, code = line.split("|")
            states[jid] = (state.split()[0], code)
        if sum(s in TERMINAL for s, _ in states.values()) >= expect or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def _slurm_id(job_dir: Path) -> str:
    """The Slurm id (array task, e.g. '42_3') that ran a job: Hydra's job id under submitit."""
    import yaml

    return str(yaml.safe_load((job_dir / ".hydra" / "hydra.yaml").read_text())["hydra"]["job"]["id"])


def _check_job(job_dir: Path) -> dict:
    man = json.loads((job_dir / "manifest.json").read_text())
    assert man["complete"] is True
    scen, seed = job_dir.name.split("_")[1], int(job_dir.name.rsplit("seed", 1)[1])
    assert man["scenario"] == scen and man["seed"] == seed
    t = pd.read_parquet(job_dir / "indicators.parquet")
    assert set(t.scenario) == {scen} and set(t.seed) == {seed}
    assert t.year.max() == 2022 and len(t) > 0
    return man


def test_sweep_on_slurm_all_jobs_complete(slurm_cluster, tmp_path):
    sweep = tmp_path / "sweep"
    t0 = time.monotonic()
    proc = _run(_sweep_cmd(sweep, f"shx_{uuid.uuid4().hex[:8]}"))
    wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".") and p.is_dir()) == JOBS
    mans = [_check_job(sweep / j) for j in JOBS]
    ids = [_slurm_id(sweep / j) for j in JOBS]
    array = ids[0].split("_")[0]
    assert sorted(ids) == [f"{array}_{i}" for i in range(4)]  # one job array, one task per job
    states = _sacct(array, expect=4)
    assert {jid: s for jid, (s, _) in states.items()} == {i: "COMPLETED" for i in ids}, states
    status = _run([sys.executable, "-m", "sim", "sweep", "status", str(sweep)], timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(" complete ") == 4 and status.stdout.count("COMPLETED") == 4, status.stdout
    print(
        f"\n4-job Slurm sweep: {wall:.1f} s wall (launcher incl. Python start); "
        f"job wall {', '.join(f'{m["wall_time_s"]:.1f}' for m in mans)} s; sacct {states}"
    )


def _wait_drained(name: str, timeout_s: float = 180) -> None:
    """Wait until no task of the job name is pending or running any more."""
    deadline = time.monotonic() + timeout_s
    while subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, f"tasks of {name} still queued after {timeout_s} s"
        time.sleep(0.5)


def test_killed_job_is_reported_and_rerun_alone(slurm_cluster, launched, tmp_path):
    sweep = tmp_path / "sweep"
    name = f"shx_{uuid.uuid4().hex[:8]}"
    victim = sweep / JOBS[1]  # runs in the first pair of tasks (2 cores), killed early
    log_path = tmp_path / "launcher.log"
    t_start = time.monotonic()
    with log_path.open("w") as log:
        launcher = launched.start(
            _sweep_cmd(sweep, name), cwd=REPO, stdout=log, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        # kill the task once its model is stepping (its log shows a progress line), before its manifest
        task, deadline = "", time.monotonic() + 150
        while time.monotonic() < deadline:
            assert launcher.poll() is None, log_path.read_text()
            job_log = victim / "__main__.log"
            if job_log.exists() and "simulated" in job_log.read_text():
                task = _slurm_id(victim)
                # SIGKILL its job step at once, as the OOM killer would. (`scancel --signal=KILL
                # <task>` cancels the whole task instead: SIGTERM, which submitit ignores, then
                # SIGKILL only KillWait = 10 s later - a small job can finish in that time.)
                subprocess.run(["scancel", "--signal=KILL", f"{task}.0"], check=True, timeout=30)
                break
            time.sleep(0.1)
        assert task, "the victim job never started stepping"
        rc, t_fail = launched.wait_after_kill(launcher, "the launcher")
    out = log_path.read_text()
    assert rc != 0, out
    assert "UncompletedJobError" in out, out[-3000:]
    # The launcher gives up at the first failed task (in order); later tasks of the array go on
    # running. A rerun must wait for them, or it would start them a second time.
    _wait_drained(name)
    first_wall = time.monotonic() - t_start
    assert not (victim / "manifest.json").exists(), "the killed job finished before the kill (race)"
    array = task.split("_")[0]
    states = _sacct(array, expect=4)
    assert states[task][0] in {"CANCELLED", "FAILED"}, states
    others = [f"{array}_{i}" for i in (0, 2, 3)]
    assert all(states[t][0] == "COMPLETED" for t in others), states
    done_before = {j: (sweep / j / "manifest.json").stat().st_mtime_ns for j in JOBS if j != victim.name}

    # status: the killed job is incomplete, with its Slurm state and the tail of its logs
    status = _run([sys.executable, "-m", "sim", "sweep", "status", str(sweep)], timeout=120)
    assert status.returncode == 1, status.stdout + status.stderr
    line = next(s for s in status.stdout.splitlines() if victim.name in s and task in s)
    assert " incomplete " in line and states[task][0] in line, status.stdout
    assert f"--- {victim.name}: incomplete" in status.stdout and "_log.err" in status.stdout, status.stdout
    assert status.stdout.count(" complete ") == 3, status.stdout

    # the same sweep command again: only the killed job runs
    t0 = time.monotonic()
    again = _run(_sweep_cmd(sweep, name))
    rerun_wall = time.monotonic() - t0
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for j, mtime in done_before.items():
        assert (sweep / j / "manifest.json").stat().st_mtime_ns == mtime, f"{j} was recomputed"
        assert "already complete, skipping" in (sweep / j / "__main__.log").read_text(), j
    assert "already complete, skipping" not in (victim / "__main__.log").read_text()
    man = _check_job(victim)
    new_task = _slurm_id(victim)
    assert new_task.split("_")[0] != array
    assert _sacct(new_task.split("_")[0], expect=4).get(new_task, ("?",))[0] == "COMPLETED"

    g = _run([sys.executable, "-m", "sim", "gather", str(sweep)], timeout=120)
    assert g.returncode == 0, g.stdout + g.stderr
    assert "0 incomplete skipped" in g.stderr, g.stderr
    table = pd.read_parquet(sweep / "gathered.parquet")
    assert sorted(table.job.unique()) == JOBS
    assert set(zip(table["override.scenario"], table["override.seed"])) == {
        ("baseline", 0),
        ("baseline", 1),
        ("plan", 0),
        ("plan", 1),
    }
    summary = pd.read_parquet(sweep / "ensemble_summary.parquet")
    assert set(summary.n_seeds) == {2}
    print(
        f"\nkill test: first sweep {first_wall:.1f} s until drained, launcher failed {t_fail:.1f} s after "
        f"the kill; killed {task} -> {states[task]}; rerun {rerun_wall:.1f} s (only {victim.name} "
        f"recomputed, its run {man['wall_time_s']:.1f} s); gathered {len(table)} rows; "
        f"test {time.monotonic() - t_start:.1f} s"
    )
