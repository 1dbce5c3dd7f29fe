"""No code from configs: a config cannot make the model run code (Hydra `_target_` and friends).

The project never calls hydra.utils.instantiate; sim/config/schema.py still refuses any instantiation
key anywhere in a config unless it names a module, class or function of the project's own
packages, before anything runs.
"""

import re

import pytest

from sim.config import compose, to_dict
from sim.config.schema import ConfigError, refuse_code_targets, validate_config
from sim.runs import outputs
from tests.conftest import ROOT, run_cli

MESSAGE = "names code outside the project"


@pytest.mark.parametrize(
    "cfg,where",
    [
        ({"scenario": {"_target_": "os.system", "_args_": ["true"]}}, "scenario._target_ = 'os.system'"),
        ({"a": [{"b": {"_target_": "subprocess.run"}}]}, "a[0].b._target_ = 'subprocess.run'"),
        ({"_target_": "builtins.eval"}, "_target_ = 'builtins.eval'"),
        # inside a project package but resolving to foreign code
        ({"x": {"_target_": "sim.runs.outputs.subprocess.run"}}, "x._target_ = 'sim.runs.outputs.subprocess.run'"),
        ({"x": {"_target_": "sim.runs.outputs.os.system"}}, "x._target_ = 'sim.runs.outputs.os.system'"),
        ({"x": {"_target_": "simulator.evil"}}, "x._target_ = 'simulator.evil'"),
        ({"x": {"_target_": "sim.no_such_module.f"}}, "x._target_ = 'sim.no_such_module.f'"),
        ({"x": {"_target_": 42}}, "x._target_ = 42"),
    ],
)
def test_foreign_targets_are_refused(cfg, where):
    with pytest.raises(ConfigError) as err:
        refuse_code_targets(cfg)
    assert where in str(err.value) and MESSAGE in str(err.value)
    assert "sim., agents., scenarios." in str(err.value)


@pytest.mark.parametrize("key", ["_args_", "_partial_", "_recursive_", "_convert_"])
def test_instantiation_keys_without_a_target_are_refused(key):
    with pytest.raises(ConfigError, match=rf"behaviour\.{key} = .* instantiation key without a _target_"):
        refuse_code_targets({"behaviour": {key: True}})


def test_project_targets_pass_the_guard():
    refuse_code_targets({"a": {"_target_": "sim.model.ShanxiModel", "_partial_": True}})
    refuse_code_targets({"a": {"_target_": "scenarios.compile.compile_policy"}})
    refuse_code_targets({"a": [{"_target_": "agents.Household"}]})


def test_a_target_in_a_composed_config_is_refused_before_anything_runs(tmp_path, monkeypatch):
    import sim.model
    from sim.runs.run import run_to_folder

    built = []
    monkeypatch.setattr(sim.model, "ShanxiModel", lambda *a, **k: built.append(1))
    cfg = to_dict(compose(["+scenario._target_=os.system", f"+scenario._args_=[touch {tmp_path / 'pwned'}]"]))
    with pytest.raises(ConfigError, match=r"scenario\._target_ = 'os\.system' names code outside the project"):
        run_to_folder(cfg, tmp_path / "run")
    with pytest.raises(ConfigError, match="names code outside the project"):
        validate_config(cfg, with_geography=False)  # what ShanxiModel checks first
    assert not built and not (tmp_path / "pwned").exists() and not (tmp_path / "run").exists()


def test_the_cli_refuses_a_target(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(
        "sim",
        "+scenario._target_=os.system",
        f"+scenario._args_=[touch {tmp_path / 'pwned'}]",
        "population.scale=0.001",
        f"hydra.run.dir={run_dir}",
        check=False,
    )
    assert proc.returncode != 0
    assert "scenario._target_ = 'os.system' names code outside the project" in proc.stdout + proc.stderr
    assert not (tmp_path / "pwned").exists()
    assert not (run_dir / outputs.MANIFEST).exists() and not outputs.is_complete(run_dir)
    assert not (run_dir / "indicators.csv").exists()


def test_the_project_never_instantiates_from_configs():
    pattern = re.compile(r"\binstantiate\s*\(|hydra\.utils\b|call\(\s*cfg")
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in ("sim", "agents", "scenarios")
        for p in (ROOT / pkg).rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders, (
        f"instantiation from configs in {offenders}: extend sim/config/schema.py refuse_code_targets first"
    )
