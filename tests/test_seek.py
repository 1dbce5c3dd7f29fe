"""python -m sim seek: the decision variables, the probability rule, and a small search with its
confirmation (reduced scale) written to a run folder."""

import json

import numpy as np
import pytest
import yaml

from sim.analysis import seek as K
from sim.runs import outputs
from tests.conftest import run_cli


def test_quantile_reaching_is_the_probability_rule():
    rates = [69.0, 70.5, 70.1, 71.0, 69.9]
    q = K.quantile_reaching(rates, 0.8)  # 4 of 5 seeds must reach: the 4th highest
    assert q == 69.9
    assert np.mean([r >= q for r in rates]) >= 0.8
    assert K.quantile_reaching(rates, 1.0) == 69.0 and K.quantile_reaching(rates, 0.2) == 71.0
    assert K.quantile_reaching([70.0, 71.0], 0.8) == 70.0


def test_variables_bounds_and_overrides():
    s = K.settings_of(
        {
            "seek": {
                "levers": ["rent_subsidy_yuan_month", "fiscal_transfer_yuan_per_settler", "jobs_growth_pct_year"],
                "lever_regions": {"jobs_growth_pct_year": ["county_seat"]},
                "upper": {"rent_subsidy_yuan_month": 1000},
            }
        }
    )
    v = K.Variables(s)
    assert v.names == ["rent_subsidy_yuan_month", "fiscal_transfer_yuan_per_settler", "jobs_growth_pct_year"]
    assert list(v.lo) == [0.0, 0.0, 0.0] and list(v.hi) == [1000.0, 200000.0, 20.0]  # from the baselines
    o = v.overrides([0.5, 0.25, 0.0])
    assert o["rent_subsidy_yuan_month"] == {"all": {2025: 500.0}}
    assert o["fiscal_transfer_yuan_per_settler"] == {2025: 50000.0}
    assert o["jobs_growth_pct_year"] == {"county_seat": {2025: 0.0}}
    w = K.Variables(K.settings_of({"seek": {"levers": ["wage_arrears_share"]}}))  # spending lowers it
    assert (w.lo[0], w.hi[0]) == (0.0, 0.02) and w.values([0.0])[0] == 0.02 and w.values([1.0])[0] == 0.0
    a = K.Variables(K.settings_of({"seek": {"levers": None, "actions": ["A3"], "exclude": []}}))
    assert a.names and all(n.startswith("metro_") for n in a.names)
    with pytest.raises(ValueError, match="unknown"):
        K.Variables(K.settings_of({"seek": {"levers": ["shock_job_loss_pct"]}}))


def test_default_levers_exist():
    d = yaml.safe_load((K.Path(__file__).resolve().parent.parent / "conf" / "seek" / "default.yaml").read_text())
    v = K.Variables(K.settings_of({"seek": d}))
    assert len(v.names) == len(d["levers"])


@pytest.mark.slow  # end to end; make test runs it, make test-fast does not
def test_small_seek_end_to_end(tmp_path):
    out = tmp_path / "seek"
    run_cli(
        "sim",
        "seek",
        "--quick",
        "target.resident_rate_2029=67",
        "seek.levers=[rent_subsidy_yuan_month,amenity_index]",
        "seek.seeds=[1,2]",
        "seek.scale=0.0005",
        "seek.max_evaluations=3",
        "seek.confirm_scale=0.0005",
        "seek.confirm_seeds=[3]",
        f"hydra.run.dir={out}",
        timeout=900,
    )
    assert outputs.is_complete(out)
    r = json.loads((out / "seek_result.json").read_text(encoding="utf-8"))
    assert [x["lever"] for x in r["schedule"]] == ["rent_subsidy_yuan_month", "amenity_index"]
    for x in r["schedule"]:
        assert x["low"] <= x["value"] <= x["high"]
    assert np.isfinite(r["cost_2025_2029_yuan"]) and r["cost_2025_2029_yuan"] >= 0
    assert r["cost_2025_2029_yi"] == pytest.approx(r["cost_2025_2029_yuan"] / 1e8)
    a = r["achieved"]["resident_rate_2029"]
    assert 50 < a["mean"] < 90 and a["min"] <= a["mean"] <= a["max"] and a["n"] == 1
    assert r["search"]["evaluations"] >= 1 and isinstance(r["confirmation"]["met"], bool)
    assert outputs.is_complete(out / "confirm" / "seek_resident67_seed3")
    md = (out / "seek_result.md").read_text(encoding="utf-8")
    assert "亿 yuan" in md and "Indicative" in md and "rent_subsidy_yuan_month" in md
    sc = yaml.safe_load((out / "seek_scenario.yaml").read_text(encoding="utf-8"))
    assert set(sc["levers"]) == {"rent_subsidy_yuan_month", "amenity_index"}
    assert (out / "seek_history.csv").stat().st_size > 0
    assert not list(out.glob(".*.part"))
