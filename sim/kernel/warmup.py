"""Compile the kernels of the turn of the year in a second process while a cold first run compiles its
monthly rule.

Numba compiles each kernel at its first call and keeps the machine code in its cache (`cache=True`, the
folder `sim/__init__.py` sets). A run's first month compiles the monthly rule (`step_all`, about 13 s on
one core of a 2-core machine); its first January then compiles the yearly kernels one after the other
(the year's draws, reclassification, the leavers' new households with their first choice, the family
link: about 7 s). On a cold cache, `start()` launches `python -m sim.kernel.warmup`, which builds a tiny
model and runs its first January only, so those kernels are compiled on the spare core, into the same
cache, while the run compiles its monthly rule; the run loads them when its January comes. The machine
code is the same whichever process compiles it, so results do not depend on it.

It starts only for a cold cache (no yearly kernel in it), once per cache folder (a marker file taken
atomically, so concurrent runs of a sweep start one between them), and only with at least 2 CPUs.
`run.compile_ahead: false` turns it off.
"""

import os
import subprocess
import sys
from pathlib import Path

import numba

MARKER = "warmup.started"
PROBE = "formation._form_households-*.nbi"  # a yearly kernel's cache index: present once compiled


def cache_dir() -> Path:
    return Path(numba.config.CACHE_DIR)


def cold(folder: Path | None = None) -> bool:
    """True when the cache folder holds no compiled yearly kernel yet."""
    folder = folder or cache_dir()
    return not any(folder.rglob(PROBE)) if folder.is_dir() else True


def start() -> subprocess.Popen | None:
    """Launch the warm-up process when it can help (cold cache, a spare CPU, not started before for this
    cache folder); returns it (the caller stops it when its own run is done), else None."""
    folder = cache_dir()
    if (os.cpu_count() or 1) < 2 or not cold(folder):
        return None
    root = str(Path(__file__).resolve().parents[2])  # the checkout whose `sim` this is
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    env["NUMBA_NUM_THREADS"] = "1"
    try:  # a cache folder it cannot write, or no process to be had: the run compiles everything itself
        folder.mkdir(parents=True, exist_ok=True)
        os.close(os.open(folder / MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        # fmt: off
        return subprocess.Popen([sys.executable, "-m", "sim.kernel.warmup"], cwd=root, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # fmt: on
    except OSError:  # FileExistsError included: started before for this cache folder
        return None


def stop(proc: subprocess.Popen | None) -> None:
    """End the warm-up process if it still runs (a cache entry it was writing is written whole or not at all:
    numba writes a temporary file and renames it)."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def main() -> None:
    """A tiny model's first January: compiles the set-up and the yearly kernels into the cache."""
    from sim.model import ShanxiModel

    m = ShanxiModel(scale=0.001, rng=1, threads=1)
    year, _ = m.calendar(m.month)
    m._new_year(year + 1)


if __name__ == "__main__":
    main()
