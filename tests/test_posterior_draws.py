"""Which fitted constants a run uses (sim/config/draws.py): the fitted point in a single run, a posterior draw
paired with the seed in a sweep, and clear errors for a draw that does not exist."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.config import compose, draws, to_dict
from sim.config.schema import ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = pd.read_csv(ROOT / "conf" / "behaviour" / "posterior.csv")
NAMES = [c for c in SHIPPED.columns if c != "draw"]


def test_a_single_run_uses_the_fitted_point():
    cfg = to_dict(compose([]))
    assert cfg["posterior_draw"] == "auto"
    out = draws.resolve(cfg)
    assert out["posterior_draw"] == 0 and out["behaviour"]["fitted"] == cfg["behaviour"]["fitted"]


def test_a_draw_replaces_the_fitted_constants_and_nothing_else():
    cfg = to_dict(compose(["posterior_draw=3"]))
    out = draws.resolve(cfg)
    row = SHIPPED[SHIPPED.draw == 3].iloc[0]
    assert out["posterior_draw"] == 3
    assert {k: out["behaviour"]["fitted"][k] for k in NAMES} == {k: float(row[k]) for k in NAMES}
    rest = {k: v for k, v in out["behaviour"].items() if k != "fitted"}
    assert rest == {k: v for k, v in cfg["behaviour"].items() if k != "fitted"}
    assert cfg["posterior_draw"] == 3 and cfg["behaviour"]["fitted"] != out["behaviour"]["fitted"]  # a copy


def test_in_a_sweep_each_seed_takes_its_draw():
    n = len(SHIPPED)
    got = [draws.resolve(to_dict(compose([f"seed={s}"])), multirun=True)["posterior_draw"] for s in (1, 2, n, n + 1)]
    assert got == [1, 2, n, 1]
    assert draws.resolve(to_dict(compose(["seed=5", "posterior_draw=0"])), multirun=True)["posterior_draw"] == 0


def test_a_draw_that_does_not_exist_is_refused_naming_the_key():
    with pytest.raises(draws.PosteriorDrawError, match=r"posterior_draw = 100000: posterior.csv holds draws 1-"):
        draws.resolve(to_dict(compose(["posterior_draw=100000"])))
    with pytest.raises(draws.PosteriorDrawError, match="posterior_file = 'nowhere.csv': no such file"):
        draws.resolve(to_dict(compose(["posterior_draw=1", "posterior_file=nowhere.csv"])))
    with pytest.raises(ConfigError, match="posterior_draw = 'some' is not allowed"):
        validate_config(to_dict(compose(["posterior_draw=some"])), with_geography=False)


@pytest.mark.slow
def test_a_sweep_over_seeds_is_a_posterior_ensemble(tmp_path):
    """python -m sim -m seed=1,2: each job runs with the draw of its seed, and says so in its manifest."""
    cmd = [sys.executable, "-m", "sim", "-m", "seed=1,2", "population.scale=0.0005", "run.end_year=2021",
           "run.progress=none", f"hydra.sweep.dir={tmp_path}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    manifests = sorted(tmp_path.glob("*/manifest.json"))
    assert len(manifests) == 2
    for path in manifests:
        cfg = json.loads(path.read_text())["config"]
        k = cfg["posterior_draw"]
        assert k == cfg["seed"]
        row = SHIPPED[SHIPPED.draw == k].iloc[0]
        assert all(cfg["behaviour"]["fitted"][n] == pytest.approx(float(row[n])) for n in NAMES)
