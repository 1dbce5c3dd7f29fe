"""The one-node Slurm test cluster and the project's `hydra/launcher=slurm` config.

Each Hydra test writes a tiny app into tmp_path whose search path includes the
project's conf/ directory, so the real conf/hydra/launcher/slurm.yaml is used.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"}


def _sacct_states(job_id: str, expect: int, timeout_s: float = 30.0) -> dict[str, str]:
    """{JobID: State} of the allocations (-X) of a job or job array, once `expect`
    of them are in a terminal state (slurmdbd records them a moment after the end)."""
    deadline = time.monotonic() + timeout_s
    while True:
        out = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-j", job_id, "-o", "JobID,State"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        states = {}
        for line in out.splitlines():
            jid, state = line.split("|")
            states[jid] = state.split()[0]  # "CANCELLED by 0" -> "CANCELLED"
        if sum(s in TERMINAL for s in states.values()) >= expect or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def _write_app(tmp_path: Path, name: str) -> Path:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "smoke.yaml").write_text(
        textwrap.dedent(f"""\
        x: 0
        slow: -1        # the job whose x equals this sleeps 10 minutes
        hydra:
          searchpath:
            - file://{REPO / "conf"}
          sweep:
            dir: {tmp_path / "multirun"}
        """)
    )
    app = tmp_path / f"{name}.py"
    app.write_text(
        textwrap.dedent("""\
        import os, time
        import hydra
        from hydra.core.hydra_config import HydraConfig

        @hydra.main(version_base=None, config_path="conf", config_name="smoke")
        def main(cfg):
            if cfg.x == cfg.slow:
                time.sleep(600)
            out = os.path.join(HydraConfig.get().runtime.output_dir, "result.txt")
            with open(out, "w") as f:
                f.write(f"{cfg.x * 10} {os.environ.get('SLURM_JOB_ID')} {os.environ.get('SLURM_ARRAY_JOB_ID')}")

        if __name__ == "__main__":
            main()
        """)
    )
    return app


def test_sbatch_job_is_accounted(slurm_cluster, tmp_path):
    out = subprocess.run(
        [
            "sbatch",
            "--wait",
            "--parsable",
            "-p",
            slurm_cluster.partition,
            "-o",
            str(tmp_path / "out.txt"),
            "--wrap",
            "echo hello",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip().split(";")[0]
    assert (tmp_path / "out.txt").read_text().strip() == "hello"
    assert _sacct_states(job_id, expect=1) == {job_id: "COMPLETED"}


def test_hydra_multirun_through_slurm(slurm_cluster, tmp_path):
    name = f"smoke_{uuid.uuid4().hex[:8]}"
    app = _write_app(tmp_path, name)
    proc = subprocess.run(
        [sys.executable, str(app), "-m", "x=1,2,3,4", "hydra/launcher=slurm"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = sorted((tmp_path / "multirun").glob("*/result.txt"))
    assert len(results) == 4
    values = sorted(int(r.read_text().split()[0]) for r in results)
    assert values == [10, 20, 30, 40]
    # one job array of 4 tasks, all COMPLETED in the accounting database
    array_ids = {r.read_text().split()[2] for r in results}
    assert len(array_ids) == 1, array_ids
    array_id = array_ids.pop()
    states = _sacct_states(array_id, expect=4)
    assert sorted(states) == [f"{array_id}_{i}" for i in range(4)]
    assert set(states.values()) == {"COMPLETED"}


def test_killed_job_makes_hydra_fail_not_hang(slurm_cluster, launched, tmp_path):
    """A task killed outright (as by the OOM killer) must end the sweep with an
    error. Without job accounting submitit never sees it and Hydra waits forever."""
    name = f"killprobe_{uuid.uuid4().hex[:8]}"
    app = _write_app(tmp_path, name)
    with (tmp_path / "hydra.log").open("w") as log:
        hydra = launched.start(
            [sys.executable, str(app), "-m", "x=1,2", "slow=2", "hydra/launcher=slurm"], cwd=tmp_path, stdout=log
        )
        # wait until the slow task (array index 1) runs
        task = ""
        deadline = time.monotonic() + 120
        while not task and time.monotonic() < deadline:
            assert hydra.poll() is None, (tmp_path / "hydra.log").read_text()
            task = subprocess.run(
                ["squeue", "-h", "-n", name, "-t", "R", "-o", "%i"],
                capture_output=True,
                text=True,
            ).stdout.split()
            task = next((t for t in task if t.endswith("_1")), "")
            time.sleep(0.5)
        assert task, "the slow task never started"
        time.sleep(2)  # let it get into its sleep
        subprocess.run(["scancel", "--signal=KILL", task], check=True)
        rc, seconds = launched.wait_after_kill(hydra, "Hydra")
    output = (tmp_path / "hydra.log").read_text()
    assert rc != 0
    assert "UncompletedJobError" in output, output
    states = _sacct_states(task.split("_")[0], expect=2)
    assert states[task] in {"FAILED", "CANCELLED"}, states
    print(f"Hydra failed {seconds:.1f} s after the kill; sacct: {states}")
