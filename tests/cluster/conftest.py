"""Fixtures for tests that need a real (one-node) Slurm cluster with accounting.

`slurm_cluster` runs ``slurm_up.sh`` once per test session and yields a
:class:`SlurmCluster`.  Bring-up needs root and apt-get; when it is impossible
the tests are skipped - except under CI (``CI=true``), where that is a failure,
so a broken cluster can never make CI green by skipping.

At the end of the session ``slurm_down.sh`` stops the daemons that ``slurm_up.sh``
started (a daemon that was running before is left alone); set SLURM_TEST_KEEP=1 to keep
the cluster up between sessions of the edit loop.  Every test
collected from this folder gets the ``cluster`` marker, so ``-m "not cluster"``
deselects them.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
UP_SCRIPT = HERE / "slurm_up.sh"
# Generous: a fresh machine installs six Debian packages first (about 15 s here).
UP_TIMEOUT_S = 900


@dataclasses.dataclass(frozen=True)
class SlurmCluster:
    state_dir: Path  # configs, logs (state_dir / "log"), recorded PIDs
    partition: str  # the single partition, also the default one
    cluster_name: str  # as registered in slurmdbd (sacctmgr list cluster)
    up_seconds: float  # how long slurm_up.sh took in this session


def _state_dir() -> Path:
    return Path(os.environ.get("SLURM_TEST_DIR", "/var/tmp/shanxi-slurm"))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"Slurm test cluster unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"Slurm test cluster unavailable: {reason}")


def _run_up_script() -> tuple[bool, str, float]:
    """Run slurm_up.sh; return (ok, output, seconds).

    Output goes to a temporary file, not a pipe: a daemon that kept an inherited
    pipe open would make reading it block until the daemon exits.  A lock file
    serialises concurrent sessions (e.g. pytest-xdist workers) on this machine.
    """
    state_dir = _state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    lock_path = state_dir / "up.lock"
    t0 = time.monotonic()
    with open(lock_path, "a") as lock, tempfile.TemporaryFile(mode="w+") as out:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            proc = subprocess.run(
                ["bash", str(UP_SCRIPT)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=UP_TIMEOUT_S,
                check=False,
            )
            ok = proc.returncode == 0
            status = f"exit status {proc.returncode}"
        except subprocess.TimeoutExpired:
            ok, status = False, f"no result within {UP_TIMEOUT_S} s"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        out.seek(0)
        output = out.read()
    seconds = time.monotonic() - t0
    return ok, (output if ok else f"slurm_up.sh failed ({status}):\n{output}"), seconds


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        _unavailable("needs root (installs packages, starts system daemons)")
    if shutil.which("apt-get") is None:
        _unavailable("needs apt-get (Debian/Ubuntu)")
    ok, output, seconds = _run_up_script()
    if not ok:
        _unavailable(output.strip()[-4000:])
    yield SlurmCluster(
        state_dir=_state_dir(),
        partition="debug",
        cluster_name=os.environ.get("SLURM_TEST_CLUSTER", "shanxi"),
        up_seconds=seconds,
    )
    if os.environ.get("SLURM_TEST_KEEP", "").strip() not in ("1", "true"):
        subprocess.run(
            ["bash", str(HERE / "slurm_down.sh")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            check=False,
        )


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml registers the marker; register it here only if it does not.
    if not any(str(m).split(":")[0].strip() == "cluster" for m in config.getini("markers")):
        config.addinivalue_line("markers", "cluster: needs the real one-node Slurm test cluster (tests/cluster)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item of the session, not only this folder's.
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.cluster)
            # one worker (make test runs 2 with --dist loadgroup): each worker's session would bring the
            # cluster up and, at its end, down under the other's jobs
            item.add_marker(pytest.mark.xdist_group("slurm"))


class Launched:
    """Launcher processes a test starts (Hydra, a sweep): any still running at teardown are killed."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT, **kw)
        self.procs.append(proc)
        return proc

    @staticmethod
    def wait_after_kill(proc: subprocess.Popen, what: str, timeout_s: float = 120) -> tuple[int, float]:
        """(return code, seconds) of `proc` ending after one of its tasks was killed; a hang (still
        running after timeout_s) fails the test."""
        t0 = time.monotonic()
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{what} still waits {timeout_s:.0f} s after the task was killed") from None
        return rc, time.monotonic() - t0

    def kill_running(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def launched() -> Iterator[Launched]:
    procs = Launched()
    yield procs
    procs.kill_running()
