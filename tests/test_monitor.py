"""Monitoring (sim/analysis/monitor.py): a new observation moves the forecast toward it and narrows the band;
without it the answer is the ensemble's own, exactly."""

import numpy as np
import pandas as pd
import pytest

from sim.analysis import monitor

YEARS = list(range(2021, 2030))


def ensemble_rates(n: int = 400) -> pd.DataFrame:
    """Members that agree on 2021-2023 (63.4, 64.0, 65.0) and then gain 0.4-1.4 pp a year."""
    speed = np.linspace(0.4, 1.4, n)
    rows = {y: 65.0 + speed * (y - 2023) if y > 2023 else np.full(n, {2021: 63.4, 2022: 64.0, 2023: 65.0}[y])
            for y in YEARS}  # fmt: skip
    return pd.DataFrame(rows, index=pd.RangeIndex(n, name="member"))


OBS = {2021: 63.42, 2022: 63.96, 2023: 64.97}
CALIBRATED = [2021, 2022, 2023]


def test_without_a_new_observation_every_member_counts_equally():
    r = monitor.monitor(ensemble_rates(), OBS, CALIBRATED)
    assert r["conditioned_on"] == [] and r["now"]["effective_members"] == pytest.approx(400)
    x = ensemble_rates()[2029].to_numpy()
    final = r["now"]["targets"]["final"]
    assert final["probability"] == pytest.approx(np.mean(x >= 70.0 - monitor.CLOSE_PP))  # "close to 70%"
    assert final["probability_at_level"] == pytest.approx(np.mean(x >= 70.0))
    assert r["before_latest"] is None  # 2023 is a calibration year: the posterior already holds it


def test_a_new_observation_moves_the_forecast_toward_it_and_narrows_the_band():
    rates = ensemble_rates()
    old = monitor.monitor(rates, OBS, CALIBRATED)
    new = monitor.monitor(rates, {**OBS, 2024: 66.2}, CALIBRATED)  # a fast year: +1.2
    f_old, f_new = old["now"]["forecast"][2029], new["now"]["forecast"][2029]
    assert f_new["median"] > f_old["median"] + 1.0  # toward the fast members
    assert f_new["p95"] - f_new["p5"] < 0.5 * (f_old["p95"] - f_old["p5"])  # narrower
    assert new["now"]["targets"]["final"]["probability"] > old["now"]["targets"]["final"]["probability"]
    assert new["conditioned_on"] == [2024] and new["latest_observation"]["year"] == 2024
    # what the latest observation changed: before it, the answer is exactly the one without the row
    assert new["before_latest"] == old["now"]


def test_a_thin_update_is_flagged():
    r = monitor.monitor(ensemble_rates(), {**OBS, 2024: 72.0}, CALIBRATED)  # far outside every member
    assert r["thin"] and "thin" in monitor.to_markdown(r)


def test_the_published_series_is_read():
    obs = monitor.province_observations()
    assert obs[2023] == pytest.approx(64.97) and min(obs) == 2021


def test_equal_weights_give_numpys_percentiles():
    x = np.random.default_rng(1).normal(size=41)
    q = [0.05, 0.5, 0.95]
    assert monitor.weighted_quantile(x, np.ones(41), q) == pytest.approx(np.percentile(x, [5, 50, 95]))


def test_the_discrepancy_widens_the_forecast_and_pulls_the_probabilities_toward_even():
    rates = ensemble_rates()
    plain = monitor.monitor(rates, OBS, CALIBRATED)
    wide = monitor.monitor(rates, OBS, CALIBRATED, discrepancy=0.3)
    f_plain, f_wide = plain["now"]["forecast"][2029], wide["now"]["forecast"][2029]
    assert f_wide["p95"] - f_wide["p5"] > f_plain["p95"] - f_plain["p5"] + 0.3
    assert f_wide["discrepancy_sd_pp"] == pytest.approx(0.3 * np.sqrt(6))  # six years after 2023
    p_plain, p_wide = (r["now"]["targets"]["final"]["probability_at_level"] for r in (plain, wide))
    assert abs(p_wide - 0.5) < abs(p_plain - 0.5)
    # a new observation weighs less when the model is allowed to stray: more effective members remain
    fast = {**OBS, 2024: 66.2}
    assert (
        monitor.monitor(rates, fast, CALIBRATED, discrepancy=0.3)["now"]["effective_members"]
        > monitor.monitor(rates, fast, CALIBRATED)["now"]["effective_members"]
    )
