"""The yearly kernels compiled ahead on a cold cache (sim.kernel.warmup): started only when it can help,
once per cache folder, and what it compiles lands in the cache a run then loads."""

import os
import subprocess
import sys
from pathlib import Path

from sim.kernel import warmup

ROOT = Path(__file__).resolve().parents[1]


def test_cold_until_a_yearly_kernel_is_cached(tmp_path):
    assert warmup.cold(tmp_path / "missing")
    assert warmup.cold(tmp_path)
    (tmp_path / "kernel_x").mkdir()
    (tmp_path / "kernel_x" / "formation._form_households-68.py312.nbi").write_bytes(b"")
    assert not warmup.cold(tmp_path)


def test_started_once_per_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(warmup, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(warmup.os, "cpu_count", lambda: 2)
    launched = []

    class FakePopen:  # records the launch instead of compiling (the real launch is tested below)
        def __init__(self, args, **kw):
            launched.append((args, kw))

        def poll(self):
            return 0

    monkeypatch.setattr(warmup.subprocess, "Popen", FakePopen)
    first = warmup.start()
    assert first is not None and (tmp_path / warmup.MARKER).exists()
    args, kw = launched[0]
    assert args[1:] == ["-m", "sim.kernel.warmup"]
    assert kw["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)  # this checkout's sim, not another
    assert warmup.start() is None  # the marker: one warm-up per cache folder, also across concurrent runs
    assert len(launched) == 1
    warmup.stop(first)  # a finished process: nothing to do


def test_not_started_without_a_spare_cpu_or_when_warm(tmp_path, monkeypatch):
    monkeypatch.setattr(warmup, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(warmup.os, "cpu_count", lambda: 1)
    assert warmup.start() is None
    monkeypatch.setattr(warmup.os, "cpu_count", lambda: 2)
    (tmp_path / "formation._form_households-1.py312.nbi").write_bytes(b"")
    assert warmup.start() is None
    assert not (tmp_path / warmup.MARKER).exists()


def test_an_unwritable_cache_folder_leaves_the_run_alone(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")  # a file where the cache folder would be: mkdir fails
    monkeypatch.setattr(warmup, "cache_dir", lambda: blocker / "cache")
    monkeypatch.setattr(warmup.os, "cpu_count", lambda: 2)
    assert warmup.start() is None


def test_the_warm_up_compiles_the_yearly_kernels_into_the_cache(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "sim.kernel.warmup"], cwd=ROOT, env=env, check=True, timeout=600)
    names = {p.name.split("-")[0] for p in tmp_path.rglob("*.nbi")}
    yearly = {"formation._form_households", "yearly._year_rows", "yearly._year_draws", "family.refresh"}
    assert yearly <= names, yearly - names
    assert not warmup.cold(next(tmp_path.iterdir()))
