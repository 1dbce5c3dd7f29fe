"""Every command the README shows still works as written.

Each `.venv/bin/python -m ...` line of the README's shell blocks is checked the way its program reads
it: the projection's overrides are composed and validated exactly as `python -m sim` does (a sweep
with the first value of each swept key); a Hydra tool (validate, sensitivity, seek) composes its
config with `--cfg job`; an argparse tool answers `--help`. The quick ones run for real: the 1% run
and the Python snippet.
"""

import re
import shlex
import subprocess
import sys

import pytest

from sim.__main__ import TOOLS
from sim.config import compose, to_dict
from sim.config.schema import validate_config
from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
HYDRA_TOOLS = {"validate", "sensitivity", "seek"}


def shell_commands() -> list[str]:
    """The `.venv/bin/python -m ...` commands of the README's bash blocks (continuations joined)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.split("  #")[0].strip()
            if cmd.startswith(".venv/bin/python -m "):
                out.append(cmd.removeprefix(".venv/bin/python -m "))
    return out


def python_snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def first_of_sweeps(overrides: list[str]) -> list[str]:
    """A multirun's overrides with each sweep replaced by its first value (Hydra's own parser)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = []
    for o in OverridesParser.create().parse_overrides(overrides):
        value = next(iter(o.sweep_string_iterator())) if o.is_sweep_override() else o.value()
        out.append(f"{o.get_key_element()}={value}" if o.is_sweep_override() else o.input_line)
    return out


def test_the_readme_shows_commands_of_every_kind():
    tools = {shlex.split(c)[1] for c in shell_commands() if len(shlex.split(c)) > 1}
    assert {"compare", "report", "sensitivity", "seek", "sweep", "gather"} <= tools
    assert python_snippets()


@pytest.mark.slow  # about a minute: a Python interpreter per command
@pytest.mark.parametrize("command", shell_commands())
def test_readme_command_works_as_written(command, tmp_path):
    argv = shlex.split(command)
    assert argv[0] == "sim", command
    args = argv[1:]
    if args and args[0] in TOOLS:
        tool, rest = args[0], args[1:]
        check = [*rest, "--cfg", "job"] if tool in HYDRA_TOOLS else [*rest, "--help"]
        proc = subprocess.run(
            [sys.executable, "-m", "sim", tool, *check], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, f"{command}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        return
    overrides = [a for a in args if a != "-m"]
    if "-m" in args:
        overrides = first_of_sweeps(overrides)
    model_overrides = [o for o in overrides if not o.lstrip("+").startswith("hydra")]
    validate_config(to_dict(compose(model_overrides)))


@pytest.mark.slow
def test_the_quick_run_as_written(tmp_path):
    quick = [c for c in shell_commands() if c == "sim population.scale=0.01"]
    assert quick, "the README's quick 1% run"
    run_cli(*shlex.split(quick[0]), f"hydra.run.dir={tmp_path}", "run.progress=none")
    assert (tmp_path / "manifest.json").exists() and (tmp_path / "indicators.parquet").exists()


@pytest.mark.slow
def test_the_python_snippet_runs(tmp_path):
    code = python_snippets()[0]
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
