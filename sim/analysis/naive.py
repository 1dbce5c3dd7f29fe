"""Naive benchmarks for the province's resident urbanization rate: a straight line, the UN URGD method, a
logistic S-curve, and the national rate with Shanxi closing its gap at the past speed.

A household model earns trust only if it forecasts better than a curve through the same points.
Both benchmarks here are fitted to the clean post-census series (62.53% at the census, 1 Nov 2020;
63.42, 63.96, 64.97 at the ends of 2021-2023; sim/world/data/shanxi_province.csv) and are pure functions.

Time is in fractional years: the census (1 Nov 2020) is 2020 + 10/12, the end of year Y is Y + 1.

URGD (UN World Urbanization Prospects; National Research Council 2003, Appendix D, see
docs/BEHAVIOUR-EVIDENCE.md 4.1): with a constant urban-rural growth difference d,
U_t/R_t = (U_0/R_0) e^{d t}, so the urban share is PU_t = e^{s0 + d t} / (1 + e^{s0 + d t}),
s0 = ln(U_0/R_0) at the base time. It is a logistic path that saturates at 100%.

Logistic S-curve (Northam; 王建军 & 吴志强 2009, docs/BEHAVIOUR-EVIDENCE.md 4.2):
PU_t = K / (1 + e^{-r (t - t_mid)}), with a saturation level K below 100% fitted (or fixed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit

CENSUS_YEAR = 2020
CENSUS_TIME = CENSUS_YEAR + 10 / 12  # 1 November 2020, the census reference date
MAX_LOGISTIC_RATE = 2.0  # per year: bound of the logistic rate in the fit


def year_end_time(year) -> np.ndarray:
    """Fractional time of 31 December of `year` (scalar or array)."""
    return np.asarray(year, dtype=float) + 1.0


def observation_time(year: int, period: str) -> float:
    """Fractional time of an observation: 'census' (1 Nov 2020) or 'year_end'."""
    if period == "census":
        if int(year) != CENSUS_YEAR:
            raise ValueError(f"census observations exist for {CENSUS_YEAR} only, not {year}")
        return CENSUS_TIME
    if period == "year_end":
        return float(year_end_time(year))
    raise ValueError(f"unknown period {period!r} (census | year_end)")


def logit_pct(pct) -> np.ndarray:
    """ln(U/R) of an urban share given in percent."""
    p = np.asarray(pct, dtype=float) / 100.0
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("urban shares must lie strictly between 0 and 100%")
    return np.log(p / (1.0 - p))


def expit_pct(x) -> np.ndarray:
    """Urban share in percent from ln(U/R)."""
    return 100.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def growth_difference(urban_0, rural_0, urban_1, rural_1, years: float = 1.0) -> float:
    """The urban-rural growth difference per year: [ln(U1/U0) - ln(R1/R0)] / years."""
    return float((np.log(urban_1 / urban_0) - np.log(rural_1 / rural_0)) / years)


# --------------------------------------------------------------------------------------
# URGD


@dataclass(frozen=True)
class URGDFit:
    """A constant urban-rural growth difference fitted to observations."""

    s0: float  # ln(U/R) at the base time t0
    d: float  # urban-rural growth difference, per year
    t0: float  # base time (fractional year)
    anchored: bool  # s0 taken from the base observation (UN practice) rather than fitted
    n_obs: int

    def predict(self, times) -> np.ndarray:
        """Urban share (%) at fractional times."""
        return expit_pct(self.s0 + self.d * (np.asarray(times, dtype=float) - self.t0))

    def predict_year_end(self, years) -> np.ndarray:
        return self.predict(year_end_time(years))

    def params(self) -> dict:
        return {"s0": self.s0, "d_per_year": self.d, "t0": self.t0, "anchored": self.anchored}


def fit_urgd(times, pct, anchor: bool = True) -> URGDFit:
    """Fit PU_t = e^{s0 + d (t - t0)} / (1 + e^{s0 + d (t - t0)}) to urban shares (%).

    t0 is the earliest time. With `anchor` (the UN practice), s0 = ln(U/R) of the base observation
    and d is the least-squares slope of ln(U/R) through it; otherwise s0 and d are both fitted
    (ordinary least squares on ln(U/R)).
    """
    t, y = _check_series(times, pct, minimum=2)
    order = np.argsort(t)
    t, y = t[order], logit_pct(y[order])
    t0 = float(t[0])
    tau = t - t0
    if anchor:
        s0 = float(y[0])
        d = float(np.sum((y - s0) * tau) / np.sum(tau**2))
    else:
        d, s0 = (float(v) for v in np.polyfit(tau, y, 1))
    return URGDFit(s0=s0, d=d, t0=t0, anchored=anchor, n_obs=len(t))


# --------------------------------------------------------------------------------------
# straight line, and closing the gap to the national rate


@dataclass(frozen=True)
class LinearFit:
    """A straight line through the observations (least squares): the trend continues at its past speed."""

    level: float  # share (%) at t0
    slope: float  # pp per year
    t0: float
    n_obs: int

    def predict(self, times) -> np.ndarray:
        return self.level + self.slope * (np.asarray(times, dtype=float) - self.t0)

    def predict_year_end(self, years) -> np.ndarray:
        return self.predict(year_end_time(years))

    def params(self) -> dict:
        return {"level_pct": self.level, "slope_pp_per_year": self.slope, "t0": self.t0}


def fit_linear(times, pct) -> LinearFit:
    t, y = _check_series(times, pct, minimum=2)
    t0 = float(t.min())
    slope, level = (float(v) for v in np.polyfit(t - t0, y, 1))
    return LinearFit(level, slope, t0, len(t))


@dataclass(frozen=True)
class NationalGapFit:
    """Shanxi follows the national rate, closing its gap to it at the gap's past speed: the national rate
    continues at its speed since the census, and the gap (national - Shanxi) changes at its average speed
    over every year both were published up to the last fitted year (2017 on, across the census rebasing,
    which moved both series)."""

    national: LinearFit  # the national rate, census to the last fitted year
    gap_last: float  # national - Shanxi at the last fitted observation, pp
    gap_speed: float  # change of the gap per year, pp (negative: closing)
    t_last: float
    n_obs: int

    def predict(self, times) -> np.ndarray:
        t = np.asarray(times, dtype=float)
        return self.national.predict(t) - (self.gap_last + self.gap_speed * (t - self.t_last))

    def predict_year_end(self, years) -> np.ndarray:
        return self.predict(year_end_time(years))

    def params(self) -> dict:
        return {
            "national_slope_pp_per_year": self.national.slope,
            "gap_last_pp": self.gap_last,
            "gap_speed_pp_per_year": self.gap_speed,
        }


def fit_national_gap(province: pd.DataFrame, last_year: int) -> NationalGapFit:
    """From the province table (year, urbanization_rate_pct, national_urbanization_rate_pct; the 2020 values
    are the censuses'), using the years up to `last_year`."""
    rows = province[(province["year"] <= last_year)].dropna(
        subset=["urbanization_rate_pct", "national_urbanization_rate_pct"]
    )
    if len(rows) < 2:
        raise ValueError(f"fewer than 2 years with both the Shanxi and the national rate up to {last_year}")
    times = np.array([observation_time(int(y), "census" if y == CENSUS_YEAR else "year_end") for y in rows["year"]])
    gap = rows["national_urbanization_rate_pct"].to_numpy(float) - rows["urbanization_rate_pct"].to_numpy(float)
    since = rows["year"].to_numpy() >= CENSUS_YEAR
    national = fit_linear(times[since], rows["national_urbanization_rate_pct"].to_numpy(float)[since])
    gap_speed = float((gap[-1] - gap[0]) / (times[-1] - times[0]))
    return NationalGapFit(national, float(gap[-1]), gap_speed, float(times[-1]), len(rows))


# --------------------------------------------------------------------------------------
# logistic S-curve


def logistic_curve(t, saturation_pct, rate, midpoint):
    """K / (1 + e^{-r (t - t_mid)}), in percent."""
    return saturation_pct / (1.0 + np.exp(-rate * (np.asarray(t, dtype=float) - midpoint)))


@dataclass(frozen=True)
class LogisticFit:
    """A logistic S-curve fitted to urban shares."""

    saturation_pct: float  # K: the level the share approaches
    rate: float  # r, per year
    midpoint: float  # t_mid: time of the inflexion (share = K / 2)
    saturation_fitted: bool  # K estimated (True) or fixed by the caller (False)
    at_bound: bool  # an estimate ended on a bound of the fit (the data do not pin it down)
    n_obs: int

    def predict(self, times) -> np.ndarray:
        return logistic_curve(times, self.saturation_pct, self.rate, self.midpoint)

    def predict_year_end(self, years) -> np.ndarray:
        return self.predict(year_end_time(years))

    def params(self) -> dict:
        return {
            "saturation_pct": self.saturation_pct,
            "rate_per_year": self.rate,
            "midpoint": self.midpoint,
            "saturation_fitted": self.saturation_fitted,
            "at_bound": self.at_bound,
        }


def fit_logistic(
    times, pct, saturation_pct: float | None = None, saturation_bounds: tuple[float, float] | None = None
) -> LogisticFit:
    """Fit a logistic S-curve to urban shares (%) with scipy.optimize.curve_fit.

    saturation_pct: fix K (then r and t_mid are fitted, 2 or more points); None: fit K too
    (3 or more points; with exactly 3 the curve passes through them). saturation_bounds: range of K,
    default (highest observation + 0.1, 100).
    """
    t, y = _check_series(times, pct, minimum=2 if saturation_pct is not None else 3)
    t_span = (float(t.min()) - 300.0, float(t.max()) + 300.0)
    if saturation_pct is not None:
        k = float(saturation_pct)
        if k <= y.max():
            raise ValueError(f"saturation {k:g}% must exceed the highest observation {y.max():g}%")
        r0, m0 = _start_values(t, y, k)
        lower, upper = [1e-6, t_span[0]], [MAX_LOGISTIC_RATE, t_span[1]]
        p, _ = _curve_fit(lambda tt, r, m: logistic_curve(tt, k, r, m), t, y, [r0, m0], lower, upper)
        at_bound = _on_bound(p, lower, upper)
        return LogisticFit(k, float(p[0]), float(p[1]), False, at_bound, len(t))
    k_lo, k_hi = saturation_bounds or (float(y.max()) + 0.1, 100.0)
    if not k_lo < k_hi:
        raise ValueError(f"empty saturation range {k_lo:g}-{k_hi:g}%")
    lower, upper = [k_lo, 1e-6, t_span[0]], [k_hi, MAX_LOGISTIC_RATE, t_span[1]]
    best = None
    for k0 in np.linspace(k_lo, k_hi, 7)[1:-1]:  # several starts: the surface is flat along K
        r0, m0 = _start_values(t, y, k0)
        try:
            p, _ = _curve_fit(logistic_curve, t, y, [k0, r0, m0], lower, upper)
        except RuntimeError:
            continue
        sse = float(np.sum((logistic_curve(t, *p) - y) ** 2))
        if best is None or sse < best[0] - 1e-12:
            best = (sse, p)
    if best is None:
        raise RuntimeError("the logistic fit did not converge from any start")
    p = best[1]
    return LogisticFit(float(p[0]), float(p[1]), float(p[2]), True, _on_bound(p, lower, upper), len(t))


def _start_values(t, y, k) -> tuple[float, float]:
    """r and t_mid of a straight line through logit(y / K)."""
    z = np.log(y / (k - y))
    if len(t) >= 2 and np.ptp(t) > 0:
        r, c = np.polyfit(t, z, 1)
    else:
        r, c = 0.05, -0.05 * t[0]
    r = float(np.clip(r, 1e-4, MAX_LOGISTIC_RATE * 0.99))
    return r, float(-c / r) if r else float(t.mean())


def _curve_fit(f, t, y, p0, lower, upper):
    p0 = np.clip(p0, np.asarray(lower) + 1e-9, np.asarray(upper) - 1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)  # covariance undefined with as many parameters as points
        return curve_fit(
            f,
            t,
            y,
            p0=p0,
            bounds=(lower, upper),
            method="trf",
            maxfev=20000,
            x_scale="jac",
            ftol=1e-12,
            xtol=1e-12,
            gtol=1e-12,
        )


def _on_bound(p, lower, upper, tol: float = 1e-3) -> bool:
    p, lower, upper = (np.asarray(a, float) for a in (p, lower, upper))
    span = upper - lower
    return bool(np.any((p - lower < tol * span) | (upper - p < tol * span)))


def _check_series(times, pct, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float).ravel()
    y = np.asarray(pct, dtype=float).ravel()
    if t.shape != y.shape:
        raise ValueError(f"{len(t)} times but {len(y)} shares")
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    if len(t) < minimum:
        raise ValueError(f"need at least {minimum} observations, got {len(t)}")
    if len(np.unique(t)) != len(t):
        raise ValueError("observation times must be distinct")
    if np.any((y <= 0) | (y >= 100)):
        raise ValueError("urban shares must lie strictly between 0 and 100%")
    return t, y


# --------------------------------------------------------------------------------------
# the observations


def clean_series(province: pd.DataFrame | None = None, last_year: int | None = None) -> pd.DataFrame:
    """The clean post-census resident-rate series: year, period, time, pct.

    From sim/world/data/shanxi_province.csv (or a table like `load_province_series()`): the 2020 value
    is the census (1 Nov 2020), later years are year-end sample-survey values. Earlier years are
    left out: the census re-based them (series break, sim/world/data/SOURCES.md).
    """
    if province is None:
        from sim.world.inputs import load_province_series

        province = load_province_series()
    rows = province[(province["year"] >= CENSUS_YEAR) & province["urbanization_rate_pct"].notna()]
    if last_year is not None:
        rows = rows[rows["year"] <= last_year]
    out = pd.DataFrame(
        {"year": rows["year"].astype(int).to_numpy(), "pct": rows["urbanization_rate_pct"].astype(float).to_numpy()}
    )
    out["period"] = np.where(out["year"] == CENSUS_YEAR, "census", "year_end")
    out["time"] = [observation_time(y, p) for y, p in zip(out["year"], out["period"])]
    return out[["year", "period", "time", "pct"]]
