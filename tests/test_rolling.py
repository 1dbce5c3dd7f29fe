"""Rolling-origin scoring (sim/analysis/rolling.py): each forecast scored by error, CRPS and band coverage."""

import numpy as np
import pandas as pd
import pytest

from sim.analysis import rolling
from sim.analysis import validate as V


def ensemble_of(values: dict[int, np.ndarray]) -> pd.DataFrame:
    rows = []
    for year, xs in values.items():
        for m, x in enumerate(xs):
            rows.append((m, year, x))
    df = pd.DataFrame(rows, columns=["member", "year", "value"])
    return df.assign(period="year_end", level="province", region=V.PROVINCE, indicator=V.RESIDENT)


def test_a_forecast_is_scored_against_its_observation():
    x = np.linspace(64.5, 65.5, 41)
    e = ensemble_of({2023: x, 2024: x + 1})
    rows = rolling.forecast_scores(e, {2023: 65.0, 2024: 67.5}, [2023, 2024, 2025], origin=2022)
    assert [r["year"] for r in rows] == [2023, 2024]  # 2025: nothing observed, nothing scored
    hit, miss = rows
    assert hit["error_pp"] == pytest.approx(0.0) and hit["in_50"] and hit["in_90"]
    assert miss["error_pp"] == pytest.approx(-1.5) and not miss["in_50"] and not miss["in_90"]
    assert hit["crps_pp"] < miss["crps_pp"]
    assert 0.8 < hit["band90_width_pp"] < 1.0  # the members' spread plus the survey error


def test_benchmarks_are_fitted_to_the_calibration_years_only():
    observed = V.observed_targets(V.load_targets())
    bench = V.fit_benchmarks(observed, [2021, 2022])
    rows = rolling.benchmark_scores(bench, {2023: 64.97}, [2023])
    assert {r["forecaster"] for r in rows} == set(V.BENCHMARKS)
    line = next(r for r in rows if r["forecaster"] == "linear")
    assert line["crps_pp"] == pytest.approx(abs(line["error_pp"]))  # a point forecast: CRPS = |error|
    # refitted with 2023 in the calibration years, the line's 2023 forecast changes: 2023 was not used above
    again = rolling.benchmark_scores(V.fit_benchmarks(observed, [2021, 2022, 2023]), {2023: 64.97}, [2023])
    assert next(r for r in again if r["forecaster"] == "linear")["forecast"] != line["forecast"]


def test_the_discrepancy_widens_the_band_with_the_horizon():
    x = np.linspace(64.5, 65.5, 41)
    e = ensemble_of({2023: x, 2024: x})
    obs = {2023: 65.0, 2024: 65.0}
    plain = rolling.forecast_scores(e, obs, [2023, 2024], origin=2022)
    wide = rolling.forecast_scores(e, obs, [2023, 2024], origin=2022, discrepancy=0.5)
    assert plain[0]["band90_width_pp"] == pytest.approx(plain[1]["band90_width_pp"])
    assert wide[0]["band90_width_pp"] > plain[0]["band90_width_pp"]
    assert wide[1]["band90_width_pp"] > wide[0]["band90_width_pp"]  # two years out: sqrt(2) x the discrepancy
    assert V.forecast_sd(0, 0.5) == pytest.approx(V.OBSERVATION_SD_PP)  # calibrated years: the survey's error only
    assert V.forecast_sd(4, 0.5) == pytest.approx(np.hypot(V.OBSERVATION_SD_PP, 1.0))


def test_the_discrepancy_uses_the_observations_up_to_the_origin_only():
    observed = V.observed_targets(V.load_targets())
    assert V.discrepancy_pp_per_year(observed, 2021) == 0.0  # one gain: nothing to estimate a spread from
    d2022, d2023 = V.discrepancy_pp_per_year(observed, 2022), V.discrepancy_pp_per_year(observed, 2023)
    assert 0.0 < d2022 < d2023 < 0.5
    # a later observation does not change an earlier origin's value
    extra = pd.concat([observed, observed[(observed.year == 2023)].assign(year=2024, value=80.0)])
    assert V.discrepancy_pp_per_year(extra, 2022) == d2022
    assert V.discrepancy_pp_per_year(extra, 2024) > 1.0
