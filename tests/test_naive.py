"""The naive benchmarks in sim/analysis/naive.py: URGD and logistic fits on exact and real series."""

import numpy as np
import pytest

from sim.analysis import naive


def exact_urgd_series(s0=-0.4, d=0.045, t0=2000.0, times=None):
    times = np.arange(2000.0, 2011.0) if times is None else np.asarray(times, float)
    pct = 100.0 * np.exp(s0 + d * (times - t0)) / (1.0 + np.exp(s0 + d * (times - t0)))
    return times, pct


# --- time ----------------------------------------------------------------------------


def test_observation_times():
    assert naive.observation_time(2020, "census") == pytest.approx(2020 + 10 / 12)
    assert naive.observation_time(2021, "year_end") == 2022.0
    assert naive.year_end_time([2023, 2029]).tolist() == [2024.0, 2030.0]
    with pytest.raises(ValueError):
        naive.observation_time(2021, "census")
    with pytest.raises(ValueError):
        naive.observation_time(2021, "mid_year")


# --- URGD ----------------------------------------------------------------------------


@pytest.mark.parametrize("anchor", [True, False])
def test_urgd_reproduces_an_exactly_logistic_series(anchor):
    times, pct = exact_urgd_series()
    fit = naive.fit_urgd(times, pct, anchor=anchor)
    assert fit.d == pytest.approx(0.045, abs=1e-12)
    assert fit.s0 == pytest.approx(-0.4, abs=1e-12)
    assert fit.t0 == 2000.0
    np.testing.assert_allclose(fit.predict(times), pct, atol=1e-10)


def test_urgd_is_the_urban_rural_growth_difference():
    """d equals ln(U1/U0) - ln(R1/R0) per year, whatever the total population does."""
    times, pct = exact_urgd_series()
    total = 1e6 * np.exp(0.01 * (times - times[0]))  # growing population
    urban, rural = total * pct / 100, total * (1 - pct / 100)
    for i in range(len(times) - 1):
        assert naive.growth_difference(urban[i], rural[i], urban[i + 1], rural[i + 1]) == pytest.approx(0.045)
    assert naive.growth_difference(urban[0], rural[0], urban[-1], rural[-1], years=10) == pytest.approx(0.045)


def test_urgd_fitted_on_a_window_predicts_later_years():
    times, pct = exact_urgd_series(times=np.arange(2000.0, 2031.0))
    window = times <= 2005
    fit = naive.fit_urgd(times[window], pct[window])
    np.testing.assert_allclose(fit.predict(times[~window]), pct[~window], atol=1e-9)
    # year-end convention: the end of 2029 is t = 2030
    assert fit.predict_year_end(2029) == pytest.approx(pct[times == 2030.0][0], abs=1e-9)


def test_urgd_order_of_observations_does_not_matter():
    times, pct = exact_urgd_series()
    rng = np.random.default_rng(0)
    noisy = pct + rng.normal(0, 0.1, len(times))
    order = rng.permutation(len(times))
    a = naive.fit_urgd(times, noisy)
    b = naive.fit_urgd(times[order], noisy[order])
    assert (a.t0, a.s0) == (b.t0, b.s0) == (2000.0, a.s0)
    assert a.d == pytest.approx(b.d, abs=1e-14)


def test_urgd_rejects_bad_input():
    with pytest.raises(ValueError):
        naive.fit_urgd([2020.0], [60.0])
    with pytest.raises(ValueError):
        naive.fit_urgd([2020.0, 2020.0], [60.0, 61.0])
    with pytest.raises(ValueError):
        naive.fit_urgd([2020.0, 2021.0], [60.0, 100.0])
    with pytest.raises(ValueError):
        naive.fit_urgd([2020.0, 2021.0], [60.0])


# --- logistic ------------------------------------------------------------------------


def test_logistic_recovers_its_parameters_and_predicts_after_the_window():
    times = np.arange(1995.0, 2031.0, 1.0)
    pct = naive.logistic_curve(times, 80.0, 0.12, 2010.0)
    window = times <= 2015
    fit = naive.fit_logistic(times[window], pct[window])
    assert fit.saturation_pct == pytest.approx(80.0, rel=1e-4)
    assert fit.rate == pytest.approx(0.12, rel=1e-4)
    assert fit.midpoint == pytest.approx(2010.0, abs=1e-3)
    assert fit.saturation_fitted and not fit.at_bound
    np.testing.assert_allclose(fit.predict(times[~window]), pct[~window], atol=1e-3)


def test_logistic_with_a_fixed_saturation():
    times = np.arange(2000.0, 2012.0)
    pct = naive.logistic_curve(times, 75.0, 0.08, 2005.0)
    fit = naive.fit_logistic(times, pct, saturation_pct=75.0)
    assert not fit.saturation_fitted
    assert fit.saturation_pct == 75.0
    assert fit.rate == pytest.approx(0.08, rel=1e-5)
    assert fit.midpoint == pytest.approx(2005.0, abs=1e-3)
    with pytest.raises(ValueError):
        naive.fit_logistic(times, pct, saturation_pct=float(pct.max()) - 1)


def test_logistic_through_three_points():
    times = np.array([2020 + 10 / 12, 2022.0, 2023.0])
    pct = np.array([62.53, 63.42, 63.96])
    fit = naive.fit_logistic(times, pct)
    np.testing.assert_allclose(fit.predict(times), pct, atol=1e-6)
    assert pct.max() < fit.saturation_pct <= 100.0
    with pytest.raises(ValueError):
        naive.fit_logistic(times[:2], pct[:2])  # K, r and t_mid need three points


# --- the real series ------------------------------------------------------------------


def test_clean_series_starts_at_the_census():
    s = naive.clean_series()
    first = s.iloc[0]
    assert (first.year, first.period, first.pct) == (2020, "census", 62.53)
    assert first.time == pytest.approx(naive.CENSUS_TIME)
    assert s.year.min() == 2020 and s.time.is_monotonic_increasing
    assert (s.period.iloc[1:] == "year_end").all()
    by_year = dict(zip(s.year, s.pct))
    assert by_year[2021] == 63.42 and by_year[2022] == 63.96 and by_year[2023] == 64.97
    assert len(naive.clean_series(last_year=2022)) == 3


def test_benchmarks_fitted_to_the_calibration_years_run_on_the_real_series():
    s = naive.clean_series(last_year=2022)
    urgd = naive.fit_urgd(s.time, s.pct)
    logistic = naive.fit_logistic(s.time, s.pct)
    for fit in (urgd, logistic):
        p2023 = float(fit.predict_year_end(2023))
        assert 63.96 < p2023 < 70
        assert float(fit.predict_year_end(2029)) >= p2023
    assert 0 < urgd.d < 0.1


# --- straight line and the national gap ------------------------------------------------


def test_a_straight_line_through_a_straight_line():
    f = naive.fit_linear([2020.0, 2021.0, 2023.0], [60.0, 61.0, 63.0])
    assert f.slope == pytest.approx(1.0) and f.predict_year_end(2024)[()] == pytest.approx(65.0)


def test_the_national_gap_closes_at_its_past_speed():
    import pandas as pd

    province = pd.DataFrame(
        {
            "year": [2017, 2018, 2019, 2020, 2021, 2022],
            "urbanization_rate_pct": [50.0, 51.0, 52.0, 53.0, 54.0, 55.0],
            # the nation gains 0.5 a year; the gap 3.0, 2.5, ... closes 0.5 a year
            "national_urbanization_rate_pct": [53.0, 53.5, 54.0, 54.5, 55.0, 55.5],
        }
    )
    f = naive.fit_national_gap(province, last_year=2021)
    national_speed = 0.5 / (14 / 12)  # census (1 Nov 2020) to the end of 2021
    assert f.gap_last == pytest.approx(1.0) and f.national.slope == pytest.approx(national_speed)
    assert f.gap_speed == pytest.approx(-0.5)  # the end of 2017 to the end of 2021
    assert f.predict_year_end(2022)[()] == pytest.approx(55.0 + national_speed - 0.5)  # the nation, less the gap
    with pytest.raises(ValueError, match="fewer than 2 years"):
        naive.fit_national_gap(province, last_year=2017)
