"""Shanxi's households, 2020 census to 2029: a Mesa model (`sim.model.ShanxiModel`) stepped by numba kernels.

The core: `model`, `state`, `rng`, `places`, `indicators`, and the packages `kernel` (the household rule),
`world` (geography, census population, data) and `economy` (markets, costs). Around it: `config`
(composition, parameters, schema), `runs` (run folders, sweeps), `analysis` (calibration, validation,
comparison, sensitivity, goal seeking) and `reporting` (report, plots, docs). `python -m sim` runs a
projection; `python -m sim <tool>` the tools (`python -m sim --tools`).
"""

import hashlib as _hashlib
import os as _os
from pathlib import Path as _Path

import numba as _numba


def _compiled_sources_digest(here: _Path = _Path(__file__).parent) -> str:
    """Digest of every module with numba-compiled code. Numba's own cache checks only the compiled
    function's file, so a change in a function it inlines from another module (the choice inlined into the
    hot loop) would silently run the old machine code; keying the cache folder by all of them cannot."""
    files = [here / "places.py", here / "rng.py", here / "state.py", *sorted((here / "kernel").glob("*.py"))]
    digest = _hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:16]


# set before any compiled function is defined: the cache folder of this version of the kernel sources
_numba.config.CACHE_DIR = str(
    _Path(_os.environ.get("NUMBA_CACHE_DIR") or _Path(__file__).parent / "__pycache__")
    / f"numba-{_compiled_sources_digest()}"
)
