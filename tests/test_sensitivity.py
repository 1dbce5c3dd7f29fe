"""python -m sim sensitivity: the design hook, the factors, and a quick end-to-end run (reduced scale,
three factors) through the Hydra sweep machinery."""

import json

import numpy as np
import pandas as pd
import pytest

from scenarios.compile import compile_policy, load_levers
from sim.analysis import sensitivity as S
from sim.config import compose, to_dict
from sim.runs import outputs
from sim.runs.design import apply_design
from tests.conftest import run_cli

FACTORS = ["rent_subsidy_yuan_month", "land_protection_share", "fitted.asc_stay"]


@pytest.fixture(scope="module")
def cfg():
    return to_dict(compose(["population.scale=0.001"]))


@pytest.fixture(scope="module")
def geo():
    from sim.world.geography import load_geography

    return load_geography()


def test_every_policy_lever_is_a_factor_and_compiles_at_both_ends(cfg, geo):
    s = S.settings_of({"sensitivity": yaml_default()})
    factors = S.build_factors(s, cfg["behaviour"])
    levers = load_levers()
    policy = {n for n, v in levers.items() if v["clause"] != "stress"}
    assert {f.name for f in factors if f.kind == "lever"} == policy - set(s["exclude_levers"])
    assert set(s["exclude_levers"]) == {"county_investment_multiplier", "urban_renewal_funding_multiplier"}
    assert {"beta_income", "review_rate", "fitted.asc_stay", "fitted.settle_intercept"} <= {f.name for f in factors}
    for end in ("lo", "hi"):
        over = {}
        for f in factors:
            if f.kind == "lever":
                for k, v in f.settings(getattr(f, end), 2025).items():
                    over[k.split(".")[-1]] = v
        compile_policy(geo, json.loads(json.dumps(over)), levers)  # string years, as in a design file


def test_apply_design_sets_levers_and_behaviour(tmp_path, cfg):
    f = S.Factor("rent_subsidy_yuan_month", "lever", 0, 2000, "A1", by="tier", regions=["all"])
    g = S.Factor("beta_income", "behaviour", 0.7, 1.3, "behaviour")
    pts = S.design_points([f, g], np.array([[300.0, 1.2]]), 2025, "morris") + [{"group": "nominal", "set": {}}]
    path = tmp_path / "d.json"
    sha = S.write_design(path, "morris", [f, g], pts, 2025)
    c = apply_design({**cfg, "design": {"file": str(path), "point": 0, "sha256": sha}})
    assert c["scenario"]["levers"]["rent_subsidy_yuan_month"] == {"all": {"2025": 300.0}}
    assert c["behaviour"]["beta_income"] == 1.2 and c["scenario"]["name"] == "baseline_morris0"
    assert cfg["behaviour"]["beta_income"] == 1.0  # the input is not modified
    nominal = apply_design({**cfg, "design": {"file": str(path), "point": 1}})
    assert nominal["scenario"]["levers"] == cfg["scenario"]["levers"]
    with pytest.raises(ValueError, match="outside"):
        apply_design({**cfg, "design": {"file": str(path), "point": 2}})
    with pytest.raises(ValueError, match="has changed"):
        apply_design({**cfg, "design": {"file": str(path), "point": 0, "sha256": "0" * 64}})
    assert apply_design(cfg) is cfg


def test_model_overrides_pass_through_but_not_the_apps():
    ovs = [
        "population.scale=0.01",
        "sensitivity.seeds=[1]",
        "hydra.run.dir=x",
        "seed=3",
        "scenario=plan",
        "+behaviour.x=1",
        "hydra/launcher=joblib",
    ]
    assert S.passthrough_overrides(ovs) == ["population.scale=0.01", "scenario=plan", "+behaviour.x=1"]


def test_plan_levers_merge_the_actions():
    plan = S.plan_levers("plan")
    assert plan["rent_subsidy_yuan_month"] == {"taiyuan": {"2025": 200}, "prefecture": {"2025": 150}}
    assert "metro_travel_time_cut" in plan and "amenity_index" in plan


def yaml_default():
    import yaml

    return yaml.safe_load((S.CONF_DIR / "sensitivity" / "default.yaml").read_text(encoding="utf-8"))


@pytest.mark.slow  # end to end; make test runs it, make test-fast does not
def test_quick_sensitivity_end_to_end(tmp_path):
    out = tmp_path / "sens"
    run_cli(
        "sim",
        "sensitivity",
        "--quick",
        f"sensitivity.factors=[{','.join(FACTORS)}]",
        "sensitivity.sobol.top_k=2",
        "sensitivity.sobol.n=2",
        "sensitivity.noise_seeds=[2]",
        "population.scale=0.0005",
        f"hydra.run.dir={out}",
        timeout=900,
    )
    assert outputs.is_complete(out)
    man = json.loads((out / "manifest.json").read_text())
    for name in man["outputs"]:
        assert (out / name).stat().st_size > 0, name
    t = pd.read_csv(out / "sensitivity_indices.csv", index_col="factor")
    assert sorted(t.index) == sorted(FACTORS)
    for key in S.OUTPUTS:
        for c in ("mu_star", "mu_star_conf", "mu", "sigma"):
            assert np.isfinite(t[f"{key}.{c}"]).all(), (key, c)
    top = man["summary"]["top_sobol"]
    assert len(top) == 2
    for key in ("resident_rate_2029", "hukou_rate_2029"):
        for c in ("S1", "S1_conf", "ST", "ST_conf"):
            assert np.isfinite(t.loc[top, f"{key}.{c}"]).all(), (key, c)
    pts = pd.read_csv(out / "points.csv")
    assert len(pts) == 2 * (len(FACTORS) + 1) + 1 + 2 * (2 + 2) + 1  # Morris + nominal, Sobol, noise
    morris = pts[pts.design == "morris"]
    assert morris.cost_2025_2029_yi.nunique() > 1  # the design's lever values reached the model
    assert morris.resident_rate_2029.nunique() > 1
    ce = pd.read_csv(out / "cost_effectiveness.csv")
    assert set(ce.lever) == {"rent_subsidy_yuan_month", "land_protection_share"}
    assert np.isfinite(ce.set_index("lever").loc["rent_subsidy_yuan_month", "resident_pp_per_billion"])
    md = (out / "sensitivity.md").read_text(encoding="utf-8")
    assert "Small design" in md and "rent_subsidy_yuan_month" in md and "Sobol" in md
    assert (out / "sensitivity_tornado.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(out.glob(".*.part"))
