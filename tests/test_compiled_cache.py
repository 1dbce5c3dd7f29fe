"""Numba's cache checks only a compiled function's own file: the hot loop inlines the choice from another
module, so an edit there would run stale machine code. The cache folder is keyed by every compiled module."""

import shutil
from pathlib import Path

import numba

import sim

PACKAGE = Path(sim.__file__).parent


def _copy(tmp_path):
    root = tmp_path / "sim"
    shutil.copytree(PACKAGE / "kernel", root / "kernel", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("places.py", "rng.py", "state.py"):
        shutil.copy(PACKAGE / name, root / name)
    return root


def test_the_cache_folder_is_this_version_of_the_compiled_sources():
    assert Path(numba.config.CACHE_DIR).name == f"numba-{sim._compiled_sources_digest()}"


def test_an_edit_to_an_inlined_module_changes_the_cache_folder(tmp_path):
    root = _copy(tmp_path)
    before = sim._compiled_sources_digest(root)
    assert before == sim._compiled_sources_digest()
    choice = root / "kernel" / "choice.py"
    choice.write_text(choice.read_text() + "\n# an edit\n")
    assert sim._compiled_sources_digest(root) != before
