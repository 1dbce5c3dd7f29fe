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
    rows = rolling.forecast_scores(e, {2023: 65.0, 2024: 67.5}, [2023, 2024, 2025])
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
