"""Hindcast validation, naive benchmarks and uncertainty bands: `python -m sim validate`.

    python -m sim validate                                    # 40 posterior draws, seeds 42-46, scale 0.02
    python -m sim validate population.scale=0.05 seed=3 validation.seeds=10
    python -m sim validate validation.parameter_draws=0       # seeds only, at the fitted point
    python -m sim validate validation.posterior=outputs/posterior_2022/posterior.csv   # an origin's posterior

Runs an ensemble of the baseline from the 2020 census to the end of 2029 (by default 40 members, each a
draw of the shipped posterior with the seeds seed .. seed+4 in turn, at population scale 0.02), scores it
against what was observed after the census (sim/world/data/observed_targets.yaml says where every target
comes from), sets it against naive benchmarks fitted to the same observations (sim.analysis.naive: a
straight line, UN URGD, a logistic S-curve and the national gap), checks qualitative patterns, and writes
into the run folder:

    validation.md, validation.html   the report (the HTML is self-contained: plots embedded)
    validation_metrics.csv           metric, window, target, value
    ensemble.parquet                 every member's indicators (tidy rows)
    validation_*.png                 the plots
    manifest.json                    written last: a folder without it is an incomplete validation

Settings (conf/validation/default.yaml): calibration_years, validation_years, seeds,
parameter_draws, band. Time is in fractional years (sim.analysis.naive): census = 2020 + 10/12,
end of year Y = Y + 1.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import hydra
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from sim.analysis import naive
from sim.config import CONF_DIR, to_dict  # noqa: E402
from sim.places import TARGET_RESIDENT_RATE_PCT
from sim.reporting.tables import html_table, markdown_table, number
from sim.runs import identity, outputs  # noqa: E402
from sim.runs.logs import quiet_libraries
from sim.world.inputs import DATA_DIR, data_file_hashes, load_city_series, load_province_series  # noqa: E402

log = logging.getLogger("sim.analysis.validate")

TARGETS_FILE = "observed_targets.yaml"
PROVINCE = "Shanxi"
RESIDENT = "resident_urbanization_rate_pct"
HUKOU = "hukou_urbanization_rate_pct"
POPULATION = "population"
TEN_THOUSAND = 1e4  # 万 persons
PARAMETER_STREAM = 0x7A1D  # seeds the parameter draws apart from the model's streams
# error of an observed province rate (a 1 per mille sample survey): the calibration's tolerance for it
# (sim.analysis.calibrate.RESIDENT_TOL_PP, pp); the predictive bands and CRPS add it to the members
OBSERVATION_SD_PP = 0.1
DEFAULT_SETTINGS = {
    "calibration_years": [2021, 2022],
    "validation_years": [2023],
    "seeds": 5,
    "parameter_draws": 40,  # as conf/validation/default.yaml: every member a posterior draw
    "posterior": "auto",
    "band": [5, 95],
}
ENSEMBLE_COLUMNS = ["member", "seed", "draw", "scenario", "period", "year", "level", "region", "indicator", "value"]
KEY = ["period", "year", "level", "region", "indicator"]
METRIC_COLUMNS = ["metric", "window", "target", "value"]

# Province indicators computed from the household rows at the census and every year end (persons).
HOUSEHOLD_INDICATORS = {
    "shanxi_hukou_migrants_in_shanxi": "Shanxi-hukou people living in Shanxi away from their hukou place",
    "shanxi_hukou_out_of_province": "Shanxi-hukou people living in another province",
    "other_province_hukou_in_shanxi": "people with another province's hukou living in Shanxi",
    "rural_hukou_working_age_away": (
        "rural-hukou people aged 15-59 living away from their hukou place (any destination)"
    ),
    "rural_hukou_working_age_away_out_of_province": "rural-hukou people aged 15-59 living in another province",
    "rural_hukou_working_age_at_home": "rural-hukou people aged 15-59 living at their hukou place",
}


# --------------------------------------------------------------------------------------
# configuration


def compose_validation(overrides: list[str] | None = None) -> DictConfig:
    """The config `python -m sim validate` would run with these overrides (without Hydra's run dir)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="validate", overrides=list(overrides or []))


def settings_of(cfg: dict) -> dict:
    """Validation settings of a config, defaults filled in (a config without the group works too)."""
    s = dict(DEFAULT_SETTINGS)
    s.update({k: v for k, v in (cfg.get("validation") or {}).items() if v is not None})
    s["calibration_years"] = sorted(int(y) for y in s["calibration_years"])
    s["validation_years"] = sorted(int(y) for y in s["validation_years"])
    s["seeds"] = int(s["seeds"])
    s["parameter_draws"] = int(s["parameter_draws"])
    s["band"] = [float(b) for b in s["band"]]
    if s["seeds"] < 1:
        raise ValueError("validation.seeds must be at least 1")
    if set(s["calibration_years"]) & set(s["validation_years"]):
        raise ValueError("validation.calibration_years and validation.validation_years overlap")
    if not 0 <= s["band"][0] < 50 < s["band"][1] <= 100:
        raise ValueError(f"validation.band {s['band']} must be two percentiles around 50")
    return s


def load_targets(data_dir: str | Path | None = None) -> dict:
    """sim/world/data/observed_targets.yaml: where every observed target comes from."""
    path = Path(data_dir or DATA_DIR) / TARGETS_FILE
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _value(entry):
    return entry["value"] if isinstance(entry, dict) and "value" in entry else entry


# --------------------------------------------------------------------------------------
# the ensemble


@dataclass(frozen=True)
class Member:
    """One ensemble member: a seed, and for parameter draws the drawn behaviour values."""

    index: int
    seed: int
    draw: int = 0  # 0 = the fitted parameters; k > 0 = the k-th parameter draw
    parameters: tuple = ()  # ((path inside cfg.behaviour, value), ...)

    @property
    def label(self) -> str:
        return f"seed {self.seed}" + (f", parameter draw {self.draw}" if self.draw else "")


def _parameter_path(behaviour: dict, name: str) -> tuple[str, ...]:
    """Where a fitted parameter lives in cfg.behaviour: 'a.b' as given, a bare name under fitted: first."""
    if "." in name:
        path = tuple(name.split("."))
    elif name in (behaviour.get("fitted") or {}):
        path = ("fitted", name)
    else:
        path = (name,)
    node = behaviour
    for part in path:
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"behaviour parameter {name!r} not found")
        node = node[part]
    if not isinstance(node, (int, float)):
        raise KeyError(f"behaviour parameter {name!r} is not a number")
    return path


def draw_parameters(behaviour: dict, n: int, seed: int) -> tuple[list[tuple], str]:
    """n draws of the fitted parameters from N(fitted values, behaviour.fit.covariance).

    Returns the draws (each a tuple of (path, value)) and a note for the report; no draws (and a
    note saying why) when the behaviour config has no usable fit.covariance and fit.names.
    """
    if n <= 0:
        return [], ""
    fit = behaviour.get("fit") or {}
    names, cov = fit.get("names"), fit.get("covariance")
    skip = f"validation.parameter_draws={n} was asked for, but "
    tail = "; parameter draws skipped: the band shows seed (stochastic) uncertainty only."
    if names is None or cov is None:
        return [], skip + "cfg.behaviour has no fit.covariance and fit.names" + tail
    names = [str(x) for x in names]
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (len(names), len(names)) or not np.all(np.isfinite(cov)):
        return [], skip + f"fit.covariance is not a finite {len(names)}x{len(names)} matrix" + tail
    cov = (cov + cov.T) / 2
    if np.linalg.eigvalsh(cov).min() < -1e-9 * max(1.0, float(np.abs(cov).max())):
        return [], skip + "fit.covariance is not positive semi-definite" + tail
    try:
        paths = [_parameter_path(behaviour, name) for name in names]
    except KeyError as error:
        return [], skip + str(error) + tail
    mean = []
    for path in paths:
        node = behaviour
        for part in path:
            node = node[part]
        mean.append(float(node))
    rng = np.random.default_rng([int(seed), PARAMETER_STREAM])
    x = rng.multivariate_normal(mean, cov, size=n, method="eigh")
    draws = [tuple((".".join(p), float(v)) for p, v in zip(paths, row)) for row in x]
    sd = np.sqrt(np.diag(cov))
    note = (
        f"{n} parameter draws from N(fitted, fit.covariance) of "
        + ", ".join(f"{nm} = {m:.4g} (sd {s:.3g})" for nm, m, s in zip(names, mean, sd))
        + "."
    )
    return draws, note


def posterior_of(cfg: dict) -> dict | None:
    """The posterior sample the ensemble draws from (validation.posterior: 'auto' = conf/behaviour/posterior.csv
    if it exists, 'none', or a path to a posterior.csv with its posterior.json beside it): {path, draws (a
    DataFrame), record (posterior.json)}; None for none."""
    from sim.analysis.posterior import POSTERIOR_CSV

    choice = str((cfg.get("validation") or {}).get("posterior", "auto"))
    if choice == "none":
        return None
    path = POSTERIOR_CSV if choice == "auto" else Path(choice)
    if not path.is_file():
        if choice == "auto":
            return None
        raise ValueError(
            f"validation.posterior = {choice!r}: no such file (a posterior.csv of python -m sim posterior)"
        )
    meta = path.with_suffix(".json")
    record = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
    return {"path": path, "draws": pd.read_csv(path), "record": record}


def posterior_draws(behaviour: dict, posterior: dict, n: int) -> tuple[list[tuple], str]:
    """The first n draws of a posterior sample (its rows are already a random resample), as parameter tuples."""
    table = posterior["draws"]
    names = [c for c in table.columns if c != "draw"]
    if n > len(table):
        raise ValueError(
            f"validation.parameter_draws = {n}: the posterior {posterior['path']} holds {len(table)} draws"
        )
    paths = [".".join(_parameter_path(behaviour, name)) for name in names]
    draws = [tuple(zip(paths, map(float, row))) for row in table[names].to_numpy()[:n]]
    rec = posterior["record"]
    note = (
        f"{n} members, each a draw of the posterior {posterior['path'].name} ({rec.get('method', 'posterior sample')}; "
        f"calibration years {rec.get('years')}, effective sample size {rec.get('effective_sample_size')}) "
        "with the seeds in turn: the band holds parameter and seed uncertainty."
    )
    return draws, note


def plan_members(cfg: dict, seeds: list[int], parameter_draws: int = 0) -> tuple[list[Member], list[str]]:
    """The ensemble: one member per seed at the fitted parameters, then one per parameter draw
    (draw k runs with seed seeds[(k - 1) % len(seeds)]). With a posterior sample (posterior_of) and
    parameter draws, every member is a posterior draw, the seeds taken in turn."""
    posterior = posterior_of(cfg) if parameter_draws > 0 else None
    if posterior is not None:
        draws, note = posterior_draws(cfg.get("behaviour") or {}, posterior, parameter_draws)
        members = [Member(k, int(seeds[k % len(seeds)]), k + 1, params) for k, params in enumerate(draws)]
        return members, [note]
    members = [Member(i, int(s)) for i, s in enumerate(seeds)]
    draws, note = draw_parameters(cfg.get("behaviour") or {}, parameter_draws, int(seeds[0]))
    for k, params in enumerate(draws, start=1):
        members.append(Member(len(members), int(seeds[(k - 1) % len(seeds)]), k, params))
    return members, [note] if note else []


def household_indicators(model) -> dict[str, float]:
    """Province counts of the household rows that the indicator table does not hold (persons)."""
    h, st, w = model.households, model.static, model.weight
    oop = int(st.oop)
    place = np.asarray(h.place, dtype=np.int64)
    hukou = np.asarray(h.hukou, dtype=np.int64)
    size = h.n_child.astype(np.int64) + h.n_adult + h.n_old
    adults = h.n_adult.astype(np.int64)
    in_shanxi = np.asarray(st.place_in_shanxi)[place]
    shanxi_hukou = hukou != oop
    rural_hukou = shanxi_hukou & ~np.asarray(st.place_is_urban)[hukou]
    away = place != hukou
    out = place == oop
    return {
        "shanxi_hukou_migrants_in_shanxi": float(size[shanxi_hukou & away & in_shanxi].sum()) * w,
        "shanxi_hukou_out_of_province": float(size[shanxi_hukou & out].sum()) * w,
        "other_province_hukou_in_shanxi": float(size[~shanxi_hukou & in_shanxi].sum()) * w,
        "rural_hukou_working_age_away": float(adults[rural_hukou & away].sum()) * w,
        "rural_hukou_working_age_away_out_of_province": float(adults[rural_hukou & out].sum()) * w,
        "rural_hukou_working_age_at_home": float(adults[rural_hukou & ~away].sum()) * w,
    }


def with_parameters(cfg: dict, parameters) -> dict:
    """A copy of `cfg` with behaviour parameters set: (path under behaviour, value) pairs, as a posterior
    draw gives them (posterior_draws)."""
    mcfg = copy.deepcopy(cfg)
    for path, value in parameters:
        node = mcfg["behaviour"]
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return mcfg


def run_member(cfg: dict, member: Member, n_members: int = 1, progress: str | None = None) -> pd.DataFrame:
    """Run one member from the census to cfg.run.end_year; tidy rows (ENSEMBLE_COLUMNS)."""
    from sim.model import ShanxiModel
    from sim.places import month_calendar
    from sim.runs.run import progress_reporter

    mcfg = with_parameters(cfg, member.parameters)
    mcfg["seed"] = member.seed
    model = ShanxiModel(config=mcfg, threads=mcfg["run"].get("threads") or None)
    regions = list(zip(model.regions.levels, model.regions.names))
    rows = [
        ("census", naive.CENSUS_YEAR, level, region, name, float(arr[r]))
        for name, arr in model.census_values.items()
        for r, (level, region) in enumerate(regions)
    ]
    rows += [("census", naive.CENSUS_YEAR, "province", PROVINCE, k, v) for k, v in household_indicators(model).items()]
    mode = str(progress or mcfg["run"].get("progress", "auto"))
    report = progress_reporter(mode, f"validation member {member.index + 1}/{n_members} ({member.label})")
    while model.running and model.month < model.n_months:
        model.step()
        year, month_of_year = month_calendar(model.month - 1)
        if month_of_year == 12:
            rows += [("year_end", year, "province", PROVINCE, k, v) for k, v in household_indicators(model).items()]
        if report:
            report(model.month, model.n_months)
    rows += [("year_end", y, lv, r, k, v) for (y, lv, r, k, v) in model.rows]
    table = pd.DataFrame(rows, columns=["period", "year", "level", "region", "indicator", "value"])
    table.insert(0, "scenario", model.scenario_name)
    table.insert(0, "draw", member.draw)
    table.insert(0, "seed", member.seed)
    table.insert(0, "member", member.index)
    table["year"] = table["year"].astype(int)
    return table[ENSEMBLE_COLUMNS]


def run_ensemble(cfg, seeds, parameter_draws: int = 0, progress: str | None = None) -> pd.DataFrame:
    """Every member's indicators from the census to cfg.run.end_year (tidy rows, ENSEMBLE_COLUMNS).

    Members: one per seed at the fitted parameters, plus `parameter_draws` draws of the fitted
    parameters (when cfg.behaviour.fit has a covariance). Notes on the ensemble are in `.attrs["notes"]`.
    """
    cfg = to_dict(cfg)
    members, notes = plan_members(cfg, [int(s) for s in seeds], parameter_draws)
    drawn = any(m.draw for m in members)
    for note in notes:
        (log.info if drawn else log.warning)(note)
    tables = []
    for m in members:
        t0 = time.perf_counter()
        tables.append(run_member(cfg, m, len(members), progress))
        log.info("member %d/%d (%s) done in %.1f s", m.index + 1, len(members), m.label, time.perf_counter() - t0)
    ensemble = pd.concat(tables, ignore_index=True)
    ensemble.attrs["notes"] = notes
    ensemble.attrs["members"] = [
        {"member": m.index, "seed": m.seed, "draw": m.draw, "parameters": dict(m.parameters)} for m in members
    ]
    return ensemble


def summarise(ensemble: pd.DataFrame, band=(5, 95)) -> pd.DataFrame:
    """Median, band percentiles (lo, hi) and member count of every indicator, indexed by KEY."""
    lo, hi = band[0] / 100, band[1] / 100
    g = ensemble.groupby(KEY, sort=True)["value"]
    out = g.quantile([0.5, lo, hi]).unstack()
    out.columns = ["median", "lo", "hi"]
    out["n"] = g.size()
    return out


class _View:
    """Values of one member, or of the ensemble median, looked up by (level, region, indicator, year, period)."""

    def __init__(self, values: pd.Series):
        self.values = values

    def __call__(self, level, region, indicator, year, period="year_end") -> float:
        try:
            return float(self.values.loc[(period, int(year), level, region, indicator)])
        except KeyError:
            return float("nan")


def _views(ensemble: pd.DataFrame) -> tuple[_View, list[_View]]:
    keep = ensemble[ensemble["level"] != "county"]
    median = _View(keep.groupby(KEY, sort=True)["value"].median())
    members = [_View(t.set_index(KEY)["value"].sort_index()) for _, t in keep.groupby("member", sort=True)]
    return median, members


# --------------------------------------------------------------------------------------
# observations


def observed_targets(targets: dict | None = None, data_dir: str | Path | None = None) -> pd.DataFrame:
    """Observed values the validation scores: level, region, indicator, period, year, value, source.

    Populations in persons, rates in percent. The series come from the CSVs named in
    observed_targets.yaml, so adding a row to a CSV adds an observation.
    """
    targets = targets or load_targets(data_dir)
    rows = []
    prov_spec = targets["series"]["province"]
    prov = load_province_series(data_dir)
    for column, indicator, first, factor in (
        (prov_spec["resident_rate_column"], RESIDENT, prov_spec["first_resident_rate_year"], 1.0),
        (prov_spec["hukou_rate_column"], HUKOU, prov_spec["first_hukou_rate_year"], 1.0),
        (prov_spec["population_column"], POPULATION, naive.CENSUS_YEAR, TEN_THOUSAND),
    ):
        for _, r in prov[(prov["year"] >= first) & prov[column].notna()].iterrows():
            year = int(r["year"])
            # the file's 2020 rates are the census; its 2020 population is the year-end estimate
            period = "census" if year == naive.CENSUS_YEAR and indicator != POPULATION else "year_end"
            rows.append(
                (
                    "province",
                    PROVINCE,
                    indicator,
                    period,
                    year,
                    float(r[column]) * factor,
                    f"{prov_spec['file']} {year}: {r['source']}",
                )
            )
    census = targets["census_2020"]
    rows.append(
        (
            "province",
            PROVINCE,
            POPULATION,
            "census",
            naive.CENSUS_YEAR,
            float(_value(census["population"])),
            census["population"]["source"],
        )
    )
    city_spec = targets["series"]["cities"]
    cities = load_city_series(data_dir)
    raw = pd.read_csv(Path(data_dir or DATA_DIR) / city_spec["file"], dtype=str, keep_default_na=False)
    for _, r in cities[cities["year"] >= naive.CENSUS_YEAR].iterrows():
        period = "census" if r["kind"] == "census" else "year_end"
        source_rows = [int(x) for x in str(r["source_rows"]).split(";")]
        for column, indicator, factor in (
            (city_spec["population_column"], POPULATION, TEN_THOUSAND),
            (city_spec["rate_column"], RESIDENT, 1.0),
        ):
            if pd.isna(r[column]):
                continue
            sources = [raw.iloc[i - 1]["source"] for i in source_rows if raw.iloc[i - 1][column].strip()]
            rows.append(
                (
                    "city",
                    r["city_en"],
                    indicator,
                    period,
                    int(r["year"]),
                    float(r[column]) * factor,
                    f"{city_spec['file']} data row {';'.join(map(str, source_rows))}: " + " | ".join(sources),
                )
            )
    return pd.DataFrame(rows, columns=["level", "region", "indicator", "period", "year", "value", "source"])


def windows_of(settings: dict, observed: pd.DataFrame) -> dict[str, list[int]]:
    """Scoring windows: calibration, validation, new (observed years after both), all."""
    cal, val = list(settings["calibration_years"]), list(settings["validation_years"])
    prov = observed[(observed.level == "province") & (observed.indicator == RESIDENT) & (observed.period == "year_end")]
    new = sorted(int(y) for y in prov["year"] if y > max(cal + val))
    windows = {"calibration": cal, "validation": val}
    if new:
        windows["new"] = new
    windows["all"] = sorted(set(cal + val + new))
    return windows


# --------------------------------------------------------------------------------------
# metrics


def _rows(metric, window, target, value):
    return {"metric": metric, "window": str(window), "target": target, "value": float(value)}


def _pairs(
    summary: pd.DataFrame, observed: pd.DataFrame, level: str, indicator: str, first_year: int, factor: float = 1.0
) -> pd.DataFrame:
    """Year-end observations of one indicator next to the ensemble median and band (divided by factor)."""
    obs = observed[
        (observed.level == level)
        & (observed.indicator == indicator)
        & (observed.period == "year_end")
        & (observed.year >= first_year)
    ]
    out = []
    for _, o in obs.iterrows():
        key = ("year_end", int(o.year), level, o.region, indicator)
        if key not in summary.index:
            continue
        s = summary.loc[key]
        out.append(
            {
                "region": o.region,
                "year": int(o.year),
                "observed": o.value / factor,
                "median": s["median"] / factor,
                "lo": s["lo"] / factor,
                "hi": s["hi"] / factor,
                "source": o.source,
            }
        )
    table = pd.DataFrame(out, columns=["region", "year", "observed", "median", "lo", "hi", "source"])
    table["error"] = table["median"] - table["observed"]
    return table


def _window_scores(
    pairs: pd.DataFrame, windows: dict, target: str, prefix: str = "model", prediction: str = "median"
) -> list[dict]:
    rows = []
    for name, years in windows.items():
        p = pairs[pairs.year.isin(years)]
        if p.empty:
            continue
        err = p[prediction] - p["observed"]
        rows += [
            _rows(f"{prefix}.mae", name, target, err.abs().mean()),
            _rows(f"{prefix}.ard_pct", name, target, 100 * (err.abs() / p["observed"]).mean()),
            _rows(f"{prefix}.bias", name, target, err.mean()),
            _rows(f"{prefix}.n", name, target, len(p)),
        ]
        if prefix == "model":
            inside = (p["observed"] >= p["lo"]) & (p["observed"] <= p["hi"])
            rows.append(_rows("model.coverage_pct", name, target, 100 * inside.mean()))
    return rows


# the naive benchmarks fitted to the census and the calibration years, scored beside the model
BENCHMARKS = {"linear": "straight line", "urgd": "URGD", "logistic": "logistic", "national_gap": "national gap"}


@dataclass
class Benchmarks:
    """The naive benchmarks fitted to the census and the calibration years, and to all observations."""

    series: pd.DataFrame  # the clean series (year, period, time, pct)
    fit_years: list[int]  # year-end years of the calibration fits (besides the census)
    urgd: naive.URGDFit | None
    logistic: naive.LogisticFit | None
    urgd_all: naive.URGDFit | None
    logistic_all: naive.LogisticFit | None
    notes: list[str]
    linear: naive.LinearFit | None = None
    national_gap: naive.NationalGapFit | None = None

    def predictors(self) -> dict:
        return {
            k: v
            for k, v in (
                ("linear", self.linear),
                ("urgd", self.urgd),
                ("logistic", self.logistic),
                ("national_gap", self.national_gap),
                ("urgd_all", self.urgd_all),
                ("logistic_all", self.logistic_all),
            )
            if v is not None
        }


def fit_benchmarks(observed: pd.DataFrame, calibration_years) -> Benchmarks:
    """Fit the benchmarks to the census + calibration years (URGD and the logistic also to every observation)."""
    obs = observed[(observed.level == "province") & (observed.indicator == RESIDENT)]
    series = pd.DataFrame({"year": obs.year.astype(int), "period": obs.period, "pct": obs.value})
    series = series[series.year >= naive.CENSUS_YEAR].copy()
    series["time"] = [naive.observation_time(y, p) for y, p in zip(series.year, series.period)]
    series = series.sort_values("time").reset_index(drop=True)[["year", "period", "time", "pct"]]
    cal = series[(series.period == "census") | series.year.isin(calibration_years)]
    notes, fits = [], {}
    for key, data in (("", cal), ("_all", series)):
        for name, fitter in (("urgd", naive.fit_urgd), ("logistic", naive.fit_logistic)):
            try:
                fits[name + key] = fitter(data.time, data.pct)
            except (ValueError, RuntimeError) as error:
                fits[name + key] = None
                notes.append(f"{name}{key} fit to {len(data)} points failed: {error}")
    for key in ("logistic", "logistic_all"):
        f = fits.get(key)
        if f is not None and f.n_obs == 3:
            notes.append(
                f"{key}: 3 parameters fitted to 3 points, so the curve passes through them exactly; "
                "its projection rests on the curvature of three points."
            )
        if f is not None and f.at_bound:
            notes.append(
                f"{key}: an estimate ended on a bound of the fit (saturation {f.saturation_pct:.1f}%): "
                "the observations do not pin the saturation level down."
            )
    try:
        linear = naive.fit_linear(cal.time, cal.pct)
    except ValueError as error:
        linear = None
        notes.append(f"linear fit to {len(cal)} points failed: {error}")
    try:
        from sim.world.inputs import load_province_series

        last = max(list(calibration_years) or [naive.CENSUS_YEAR])
        national_gap = naive.fit_national_gap(load_province_series(), last)
    except ValueError as error:
        national_gap = None
        notes.append(f"national-gap benchmark failed: {error}")
    return Benchmarks(
        series,
        list(calibration_years),
        fits["urgd"],
        fits["logistic"],
        fits["urgd_all"],
        fits["logistic_all"],
        notes,
        linear,
        national_gap,
    )


def _observation_rows(pairs: pd.DataFrame, target_of, lo_name: str, hi_name: str) -> list[dict]:
    """Per observation: the observation, the ensemble median, its band and the median's error."""
    out: list[dict] = []
    for _, p in pairs.iterrows():
        t = target_of(p)
        out.extend(
            [
                _rows("observed", p.year, t, p.observed),
                _rows("model.median", p.year, t, p["median"]),
                _rows(lo_name, p.year, t, p.lo),
                _rows(hi_name, p.year, t, p.hi),
                _rows("model.error", p.year, t, p.error),
            ]
        )
    return out


def crps_ensemble(values, observed: float) -> float:
    """Continuous ranked probability score of an ensemble forecast (the members as equally likely values):
    E|X - y| - E|X - X'| / 2, in the unit of the values; a point forecast's CRPS is its absolute error."""
    x = np.sort(np.asarray(values, float))
    n = len(x)
    spread = np.sum(x * (2 * np.arange(1, n + 1) - n - 1)) / n**2  # E|X - X'| / 2, from the sorted values
    return float(np.mean(np.abs(x - observed)) - spread)


def discrepancy_pp_per_year(observed: pd.DataFrame, through: int) -> float:
    """How far Shanxi's yearly gain of the resident rate strays from year to year, which a smooth model
    cannot follow: the standard deviation of the yearly gains of the observed series from the census
    (its first gain, November 2020 to the end of 2021, scaled to a year) through the year `through`;
    0 with fewer than two gains. Computed only from observations up to `through`, so a forecast made at
    an origin uses no later data. The forecast bands take it as a random walk in the level (a gain that
    strays is not made up later: the cautious reading of so few years), so a year h years after the
    last one the model was calibrated to scatters by sqrt(h) times it (`forecast_sd`)."""
    obs = observed[(observed.level == "province") & (observed.indicator == RESIDENT)]
    obs = obs[(obs.year >= naive.CENSUS_YEAR) & (obs.year <= through)]
    points = sorted((naive.observation_time(y, p), float(v)) for y, p, v in zip(obs.year, obs.period, obs.value))
    gains = [(b - a) / (tb - ta) for (ta, a), (tb, b) in zip(points, points[1:])]
    return float(np.std(gains, ddof=1)) if len(gains) >= 2 else 0.0


def forecast_sd(horizon_years: float, discrepancy: float) -> float:
    """Standard deviation of what the survey will publish about a member's value, h years after the last
    calibration year: the survey's own error (OBSERVATION_SD_PP) and, beyond the calibration years, the
    model's discrepancy as a random walk (`discrepancy_pp_per_year`)."""
    return float(np.sqrt(OBSERVATION_SD_PP**2 + max(horizon_years, 0.0) * discrepancy**2))


def predictive(values, observation_sd: float, draws: int = 200, seed: int = 0) -> np.ndarray:
    """What the members predict an observation to be: each member's value plus the observation's own error
    (normal, sd `observation_sd`; `draws` per member, a fixed stream): a sample survey's estimate scatters
    around the true rate even when the model is right."""
    x = np.asarray(values, float)
    if observation_sd <= 0:
        return x
    noise = np.random.default_rng([seed, PARAMETER_STREAM]).normal(0.0, observation_sd, (len(x), draws))
    return (x[:, None] + noise).ravel()


def _probabilistic_scores(
    ensemble: pd.DataFrame, pairs: pd.DataFrame, target: str, last_calibrated: int, windows: dict, discrepancy: float
) -> list[dict]:
    """The members' CRPS and the coverage of their central 50% and 90% predictive bands (with the observation
    error, OBSERVATION_SD_PP, and after the last calibrated year the discrepancy, `forecast_sd`), per
    observation and window."""
    level, region, indicator = target.split(":")
    e = ensemble[
        (ensemble.period == "year_end")
        & (ensemble.level == level)
        & (ensemble.region == region)
        & (ensemble.indicator == indicator)
    ]
    by_year = {int(y): g["value"].to_numpy(float) for y, g in e.groupby("year")}
    rows, scored = [], []
    for _, p in pairs.iterrows():
        x = by_year.get(int(p.year))
        if x is None or not len(x):
            continue
        y = predictive(x, forecast_sd(int(p.year) - last_calibrated, discrepancy))
        crps = crps_ensemble(y, p.observed)
        q5, q25, q75, q95 = np.percentile(y, [5, 25, 75, 95])
        scored.append((int(p.year), crps, q25 <= p.observed <= q75, q5 <= p.observed <= q95))
        rows.append(_rows("model.crps", p.year, target, crps))
    for name, years in windows.items():
        sel = [t for t in scored if t[0] in years]
        if sel:
            rows.append(_rows("model.crps", name, target, np.mean([t[1] for t in sel])))
            rows.append(_rows("model.coverage50_pct", name, target, 100 * np.mean([t[2] for t in sel])))
            rows.append(_rows("model.coverage90_pct", name, target, 100 * np.mean([t[3] for t in sel])))
    return rows


def _benchmark_rows(rate: pd.DataFrame, bench: Benchmarks, windows: dict) -> list[dict]:
    """Errors and window scores of the naive benchmarks on the observed province resident rates."""
    out: list[dict] = []
    for name in BENCHMARKS:
        fit = bench.predictors().get(name)
        if fit is None or rate.empty:
            continue
        scored = rate.assign(median=fit.predict_year_end(rate.year.to_numpy()))
        for _, p in scored.iterrows():
            out.append(_rows(f"{name}.error", p.year, f"province:{PROVINCE}:{RESIDENT}", p["median"] - p.observed))
        out += _window_scores(scored, windows, f"province:{PROVINCE}:{RESIDENT}", prefix=name)
    return out


def _projection_rows(summary: pd.DataFrame, bench: Benchmarks, lo_name: str, hi_name: str) -> list[dict]:
    """The model's median and band and the benchmarks, every year after the last observation."""
    out: list[dict] = []
    last_obs = int(bench.series.year.max()) if not bench.series.empty else naive.CENSUS_YEAR
    years = sorted(
        {
            int(y)
            for y in summary.xs(
                ("year_end", "province", PROVINCE, RESIDENT), level=["period", "level", "region", "indicator"]
            ).index
        }
    )
    for year in (y for y in years if y > last_obs):
        for indicator, factor, t in (
            (RESIDENT, 1.0, f"province:{PROVINCE}:{RESIDENT}"),
            (POPULATION, TEN_THOUSAND, f"province:{PROVINCE}:population_10k"),
        ):
            s = summary.loc[("year_end", year, "province", PROVINCE, indicator)]
            out += [
                _rows("model.median", year, t, s["median"] / factor),
                _rows(lo_name, year, t, s["lo"] / factor),
                _rows(hi_name, year, t, s["hi"] / factor),
            ]
        for name, fit in bench.predictors().items():
            out.append(
                _rows(f"{name}.projection", year, f"province:{PROVINCE}:{RESIDENT}", float(fit.predict_year_end(year)))
            )
    return out


def _hukou_rows(summary: pd.DataFrame, observed: pd.DataFrame, targets: dict) -> list[dict]:
    """The hukou rate: the 2020 level, and the 2020-2023 trend against 2017-2020."""
    out: list[dict] = []
    hukou_obs = observed[(observed.level == "province") & (observed.indicator == HUKOU)]
    census_obs = hukou_obs[hukou_obs.period == "census"]
    t = f"province:{PROVINCE}:{HUKOU}"
    for period, label in (("census", "2020 census"), ("year_end", "2020 year-end")):
        key = (period, naive.CENSUS_YEAR, "province", PROVINCE, HUKOU)
        if key in summary.index and not census_obs.empty:
            obs_2020 = float(census_obs.value.iloc[0])
            out += [
                _rows("observed", label, t, obs_2020),
                _rows("model.median", label, t, summary.loc[key, "median"]),
                _rows("model.error", label, t, summary.loc[key, "median"] - obs_2020),
            ]
    trend = hukou_trend(summary)
    if trend is not None:
        obs_trend = float(_value(targets["hukou_trend"]["observed_2017_2020_pp_per_year"]))
        out += [
            _rows("observed.trend_pp_per_year", "2017-2020", t, obs_trend),
            _rows("model.trend_pp_per_year", trend["window"], t, trend["slope"]),
            _rows("model.trend_difference_pp_per_year", trend["window"], t, trend["slope"] - obs_trend),
        ]
    return out


def _gap_rows(summary: pd.DataFrame) -> list[dict]:
    """The modelled resident - hukou gap at the census and the year ends."""
    out: list[dict] = []
    for period, year in _gap_points(summary):
        g = (
            summary.loc[(period, year, "province", PROVINCE, RESIDENT), "median"]
            - summary.loc[(period, year, "province", PROVINCE, HUKOU), "median"]
        )
        out.append(
            _rows(
                "model.gap_pp",
                f"{year} census" if period == "census" else year,
                f"province:{PROVINCE}:resident_minus_hukou",
                g,
            )
        )
    return out


def metrics(
    ensemble: pd.DataFrame,
    observed: pd.DataFrame,
    windows: dict,
    band=(5, 95),
    targets: dict | None = None,
    summary: pd.DataFrame | None = None,
    last_calibrated: int | None = None,
) -> pd.DataFrame:
    """Scores of the ensemble median (and the naive benchmarks) against the observations.

    `last_calibrated`: the last year the members' constants were calibrated to (`calibrated_years`);
    the predictive bands widen after it by the discrepancy. Default: the last calibration-window year.

    Tidy rows metric, window, target, value. Rates in percentage points (pp), populations in 万
    (10,000 persons), ARD in percent. Window is a scoring window (calibration, validation, new, all),
    a single year, or a span. Metrics prefixed `model.` score the ensemble median; `linear.`, `urgd.`,
    `logistic.` and `national_gap.` the naive benchmarks fitted to the census and calibration years (`*_all.projection`:
    refitted to every observation); `observed` rows hold the observation itself; `model.p5` and
    `model.p95` (or the configured band) the ensemble band.
    """
    targets = targets or load_targets()
    summary = summary if summary is not None else summarise(ensemble, band)
    first = int(targets["series"]["cities"]["first_scored_year"])
    lo_name, hi_name = f"model.p{band[0]:g}", f"model.p{band[1]:g}"
    out: list[dict] = []

    # province resident rate and population
    rate = _pairs(summary, observed, "province", RESIDENT, first)
    out += _observation_rows(rate, lambda p: f"province:{PROVINCE}:{RESIDENT}", lo_name, hi_name)
    out += _window_scores(rate, windows, f"province:{PROVINCE}:{RESIDENT}")
    if last_calibrated is None:
        last_calibrated = max(windows.get("calibration") or [naive.CENSUS_YEAR])
    discrepancy = discrepancy_pp_per_year(observed, last_calibrated)
    target = f"province:{PROVINCE}:{RESIDENT}"
    out.append(_rows("model.discrepancy_pp_per_year", last_calibrated, target, discrepancy))
    out += _probabilistic_scores(ensemble, rate, target, last_calibrated, windows, discrepancy)
    pop = _pairs(summary, observed, "province", POPULATION, first, TEN_THOUSAND)
    out += _observation_rows(pop, lambda p: f"province:{PROVINCE}:population_10k", lo_name, hi_name)
    out += _window_scores(pop, windows, f"province:{PROVINCE}:population_10k")

    # naive benchmarks on the same windows, fitted to the census and the calibration years
    # (with no calibration window: fitted to the census only, so only URGD fits)
    bench = fit_benchmarks(observed, windows.get("calibration", []))
    out += _benchmark_rows(rate, bench, windows)
    out += _projection_rows(summary, bench, lo_name, hi_name)

    # cities
    city_pop = _pairs(summary, observed, "city", POPULATION, first, TEN_THOUSAND)
    out += _observation_rows(city_pop, lambda p: f"city:{p.region}:population_10k", lo_name, hi_name)
    out += _window_scores(city_pop, windows, "city:*:population_10k")
    city_rate = _pairs(summary, observed, "city", RESIDENT, first)
    out += _observation_rows(city_rate, lambda p: f"city:{p.region}:{RESIDENT}", lo_name, hi_name)
    out += _window_scores(city_rate, windows, f"city:*:{RESIDENT}")

    out += _hukou_rows(summary, observed, targets)
    out += _gap_rows(summary)
    # migrant workers, 2023
    out += [_rows(m, w, t_, v) for m, w, t_, v in migrant_worker_rows(summary, targets, band)]
    return pd.DataFrame(out, columns=METRIC_COLUMNS)


def hukou_trend(summary: pd.DataFrame, last_year: int = 2023) -> dict | None:
    """Least-squares slope (pp/yr) of the median hukou rate at the census and the year ends 2020..last_year."""
    points = []
    when = [("census", naive.CENSUS_YEAR)] + [("year_end", y) for y in range(naive.CENSUS_YEAR, last_year + 1)]
    for period, year in when:
        key = (period, year, "province", PROVINCE, HUKOU)
        if key in summary.index:
            points.append((naive.observation_time(year, period), summary.loc[key, "median"]))
    if len(points) < 2:
        return None
    t, v = np.array(points).T
    return {"slope": float(np.polyfit(t, v, 1)[0]), "window": f"2020-{last_year}"}


def _gap_points(summary, last_year: int = 2023):
    points = [("census", naive.CENSUS_YEAR)] + [("year_end", y) for y in range(naive.CENSUS_YEAR, last_year + 1)]
    return [
        (p, y)
        for p, y in points
        if (p, y, "province", PROVINCE, RESIDENT) in summary.index
        and (p, y, "province", PROVINCE, HUKOU) in summary.index
    ]


def migrant_worker_rows(summary: pd.DataFrame, targets: dict, band=(5, 95), year: int = 2023) -> list[tuple]:
    """(metric, window, target, value) rows comparing the model with the 2023 migrant-worker counts (万)."""
    mw = targets["migrant_workers_2023"]
    rows = [
        ("observed", year, "province:Shanxi:migrant_workers_total_10k", _value(mw["total_10k"])),
        ("observed", year, "province:Shanxi:migrant_workers_away_10k", _value(mw["away_from_home_10k"])),
        ("observed", year, "province:Shanxi:migrant_workers_local_10k", _value(mw["local_10k"])),
        (
            "observed",
            year,
            "province:Shanxi:migrant_workers_away_out_of_province_10k",
            _value(mw["away_from_home_10k"]) * _value(mw["away_out_of_province_share_2013"]),
        ),
    ]
    for name in (
        "rural_hukou_working_age_away",
        "rural_hukou_working_age_away_out_of_province",
        "rural_hukou_working_age_at_home",
        "shanxi_hukou_migrants_in_shanxi",
        "shanxi_hukou_out_of_province",
    ):
        key = ("year_end", year, "province", PROVINCE, name)
        if key in summary.index:
            s = summary.loc[key]
            rows += [
                ("model.median", year, f"province:Shanxi:{name}_10k", s["median"] / TEN_THOUSAND),
                (f"model.p{band[0]:g}", year, f"province:Shanxi:{name}_10k", s["lo"] / TEN_THOUSAND),
                (f"model.p{band[1]:g}", year, f"province:Shanxi:{name}_10k", s["hi"] / TEN_THOUSAND),
            ]
    return rows


# --------------------------------------------------------------------------------------
# pattern-oriented checks


@dataclass
class Pattern:
    key: str  # a, b, c, ...
    title: str
    status: str  # PASS | FAIL | NOT CHECKABLE
    detail: str
    members_passing: int | None = None
    n_members: int | None = None

    def line(self) -> str:
        share = f" ({self.members_passing}/{self.n_members} members pass)" if self.members_passing is not None else ""
        return f"({self.key}) {self.status}: {self.title}. {self.detail}{share}"


YEARS_2020_2023 = [("census", 2020)] + [("year_end", y) for y in range(2020, 2024)]


def _check_city_growth(v: _View, spec: dict, cities: list[str]) -> tuple[bool, str]:
    grow = spec["growing_city"]
    others = [c for c in cities if c not in spec["excluded"]]
    change = {c: v("city", c, POPULATION, 2022) - v("city", c, POPULATION, 2020, "census") for c in cities}
    shrinking = [c for c in others if change[c] < 0]
    ok = change[grow] > 0 and len(shrinking) >= int(spec["min_shrinking_of_others"])
    return ok, f"{grow} {change[grow] / TEN_THOUSAND:+.2f}万, {len(shrinking)} of {len(others)} other cities shrink"


def _check_taiyuan_share(v: _View) -> tuple[bool, str]:
    s0 = 100 * v("city", "Taiyuan", POPULATION, 2020, "census") / v("province", PROVINCE, POPULATION, 2020, "census")
    s1 = 100 * v("city", "Taiyuan", POPULATION, 2022) / v("province", PROVINCE, POPULATION, 2022)
    return s1 > s0, f"{s0:.2f}% (census 2020) -> {s1:.2f}% (2022)"


def _check_gap(v: _View, band_pp) -> tuple[bool, str]:
    lo, hi = band_pp
    gaps = [
        (
            f"{y}{' census' if p == 'census' else ''}",
            v("province", PROVINCE, RESIDENT, y, p) - v("province", PROVINCE, HUKOU, y, p),
        )
        for p, y in YEARS_2020_2023
    ]
    return all(lo <= g <= hi for _, g in gaps), ", ".join(f"{label} {g:.1f}" for label, g in gaps) + " pp"


def _check_migrants_inside(v: _View) -> tuple[bool, str]:
    inside = [v("province", PROVINCE, "shanxi_hukou_migrants_in_shanxi", y, p) for p, y in YEARS_2020_2023]
    outside = [v("province", PROVINCE, "shanxi_hukou_out_of_province", y, p) for p, y in YEARS_2020_2023]
    return (
        all(i > o for i, o in zip(inside, outside)),
        f"2023: {inside[-1] / TEN_THOUSAND:.0f}万 Shanxi-hukou migrants inside Shanxi vs "
        f"{outside[-1] / TEN_THOUSAND:.0f}万 out of province (every year 2020-2023 checked)",
    )


UNIT_TYPE_LABELS = ("districts", "county-level cities", "counties")


def unit_gains_by_type(rows: pd.DataFrame, first: int = 2020, last: int = 2023) -> pd.DataFrame:
    """Yearly gain (pp) of every unit's urban share from year end `first` to `last` (the median over the
    members of `rows`, a tidy frame of county rows) beside the 2010-2020 census yearly gain: median, P10 and
    P90 over the units of each type."""
    from sim.world.geography import province_geography

    geo = province_geography()
    c = rows[(rows.level == "county") & rows.indicator.isin(["population", "urban_population"])]
    if "period" in c:
        c = c[c.period == "year_end"]
    v = c.groupby(["year", "region", "indicator"])["value"].median().unstack("indicator")
    share = 100 * v["urban_population"] / v["population"]
    model = (share.xs(last) - share.xs(first)) / (last - first)
    p10, u10 = np.asarray(geo.unit_pop_2010, float), np.asarray(geo.unit_urban_pop_2010, float)
    p20, u20 = np.asarray(geo.unit_pop_2020, float), np.asarray(geo.unit_urban_pop_2020, float)
    census = pd.Series(100 * (u20 / p20 - u10 / p10) / 10, index=geo.unit_name_en)
    unit_type = pd.Series(np.asarray(geo.unit_type), index=geo.unit_name_en)
    out = []
    for t, label in enumerate(UNIT_TYPE_LABELS):
        units = unit_type.index[unit_type == t]
        for source, gains in ((f"model {first}-{last}", model.reindex(units)), ("census 2010-2020", census[units])):
            g = gains.dropna()
            out.append(
                {
                    "unit_type": label,
                    "source": source,
                    "units": len(g),
                    "median_pp_per_year": float(g.median()),
                    "p10": float(g.quantile(0.1)),
                    "p90": float(g.quantile(0.9)),
                }
            )
    return pd.DataFrame(out)


def _check_unit_gains(ensemble: pd.DataFrame) -> tuple[bool, str]:
    if not (ensemble.level == "county").any():
        return False, "no county rows"
    t = unit_gains_by_type(ensemble)
    model = t[t.source.str.startswith("model")]
    text = "; ".join(
        f"{r.unit_type} {r.source}: median {r.median_pp_per_year:+.2f} pp/yr (P10 {r.p10:+.2f}, P90 {r.p90:+.2f})"
        for r in t.itertuples()
    )
    return bool((model.median_pp_per_year > 0).all()), text


def patterns(
    ensemble: pd.DataFrame, targets: dict | None = None, observed: pd.DataFrame | None = None
) -> list[Pattern]:
    """Pattern-oriented checks (a)-(e) on the ensemble median, with the number of members passing each.

    Where the observations allow it, the same check is run on them and reported next to the model.
    """
    targets = targets or load_targets()
    observed = observed if observed is not None else observed_targets(targets)
    seen = _View(observed.set_index(KEY)["value"].sort_index())
    median, members = _views(ensemble)
    cities = sorted(ensemble.loc[ensemble.level == "city", "region"].unique())
    growth = targets["city_growth_2020_2022"]
    gap = targets["resident_hukou_gap"]
    band_pp = _value(gap["band_pp"])
    census_flow = _value(targets["census_2020"]["floating_within_province"]) / TEN_THOUSAND
    checks = [
        (
            "a",
            "2020->2022 Taiyuan grows while most other cities (besides Taiyuan and Jinzhong) shrink",
            lambda v: _check_city_growth(v, growth, cities),
            f"need >= {growth['min_shrinking_of_others']} shrinking; observed: "
            + _check_city_growth(seen, growth, cities)[1],
        ),
        (
            "b",
            "Taiyuan's share of the province population rises 2020->2022",
            _check_taiyuan_share,
            "observed: " + _check_taiyuan_share(seen)[1],
        ),
        (
            "c",
            f"the resident-hukou gap stays within {band_pp[0]}-{band_pp[1]} points in 2020-2023",
            lambda v: _check_gap(v, band_pp),
            "observed: " + ", ".join(f"{y} {g}" for y, g in gap["observed_pp"].items()) + " pp; none after 2020",
        ),
        (
            "d",
            "most migrants stay inside Shanxi (Shanxi-hukou migrants living in Shanxi away from their hukou "
            "place outnumber those out of province)",
            _check_migrants_inside,
            f"observed: census 2020 省内流动 {census_flow:.0f}万; 2013: "
            f"{1 - _value(targets['migrant_workers_2023']['away_out_of_province_share_2013']):.0%} of 外出农民工 "
            "worked inside Shanxi; Shanxi-hukou people in other provinces NOT FOUND",
        ),
    ]
    out = []
    for key, title, check, observed_text in checks:
        ok, model_text = check(median)
        passing = sum(bool(check(m)[0]) for m in members)
        out.append(
            Pattern(
                key, title, "PASS" if ok else "FAIL", f"Model: {model_text}; {observed_text}", passing, len(members)
            )
        )
    ok, text = _check_unit_gains(ensemble)
    out.append(
        Pattern(
            "e",
            "every kind of unit keeps urbanizing after 2020 (median yearly gain of the units' urban shares "
            "2020-2023 above zero for districts, county-level cities and counties), as every county did 2010-2020",
            "PASS" if ok else "FAIL",
            text,
        )
    )
    p2010 = targets["pattern_2010_2020"]
    out.append(
        Pattern(
            "f",
            "the 2010-2020 pattern (" + p2010["observation"] + ")",
            "NOT CHECKABLE",
            "The model starts at the 2020 census, so it cannot reproduce a decade that ends where it "
            f"begins; source: {p2010['source']}.",
        )
    )
    return out


# --------------------------------------------------------------------------------------
# plots


def _time_axis(ax, first=2017, last=2029):
    """x in fractional years; ticks at the year ends labelled by year."""
    ticks = np.arange(first + 1, last + 2)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t - 1) for t in ticks], fontsize=8)
    ax.set_xlabel("end of year (census point: 1 Nov 2020)")
    ax.grid(alpha=0.3)


def _series(summary, indicator, level="province", region=PROVINCE, factor=1.0) -> pd.DataFrame:
    s = summary.xs((level, region, indicator), level=["level", "region", "indicator"]).reset_index()
    s["time"] = [naive.observation_time(y, p) for y, p in zip(s.year, s.period)]
    s = s.sort_values("time")
    for c in ("median", "lo", "hi"):
        s[c] = s[c] / factor
    return s


def _save(fig, path: Path, footer_text: str) -> None:
    from sim.reporting.plots import footer

    footer(fig, footer_text)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    with outputs.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_resident_rate(summary, bench: Benchmarks, windows, band, path, footer_text, forecast=None) -> None:
    """`forecast`: {year: (p5, p95)} of the forecast band (members, survey error and discrepancy), drawn lighter."""
    s = _series(summary, RESIDENT)
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=130)
    if forecast:
        years = sorted(forecast)
        ax.fill_between(
            [naive.year_end_time(y) for y in years],
            [forecast[y][0] for y in years],
            [forecast[y][1] for y in years],
            color="tab:blue",
            alpha=0.08,
            label="forecast 90% band (with the survey's error and the model's discrepancy)",
        )
    ax.fill_between(
        s.time,
        s.lo,
        s.hi,
        color="tab:blue",
        alpha=0.2,
        label=f"model P{band[0]:g}-P{band[1]:g} ({int(s.n.max())} members)",
    )
    ax.plot(s.time, s["median"], "-", color="tab:blue", lw=2, label="model median")
    t = np.linspace(naive.CENSUS_TIME, 2030.0, 200)
    for name, style in zip(BENCHMARKS, ("-.", "--", ":", (0, (1, 3)))):
        label = BENCHMARKS[name]
        fit = bench.predictors().get(name)
        if fit is not None:
            ax.plot(
                t,
                fit.predict(t),
                linestyle=style,
                color="0.3",
                lw=1.3,
                label=f"{label} (fitted to census + calibration years)",
            )
    obs = bench.series
    groups = (
        ("calibration", obs.period.eq("census") | obs.year.isin(windows["calibration"]), "o", "tab:blue"),
        ("validation", obs.year.isin(windows["validation"]), "D", "tab:red"),
        ("new", obs.year.isin(windows.get("new", [])), "s", "tab:green"),
    )
    for label, mask, marker, color in groups:
        if mask.any():
            ax.plot(
                obs.time[mask],
                obs.pct[mask],
                marker,
                color=color,
                mfc="white",
                mew=1.5,
                ls="none",
                label=f"observed ({label})",
                zorder=5,
            )
    ax.axvline(max(windows["calibration"]) + 1.0, color="0.5", ls=":", lw=1)
    ax.axhline(TARGET_RESIDENT_RATE_PCT, color="tab:red", ls="--", lw=0.8)
    ax.text(
        2030.0, TARGET_RESIDENT_RATE_PCT + 0.15, "2029 target: close to 70%", color="tab:red", fontsize=7, ha="right"
    )
    _time_axis(ax, 2019, 2029)
    ax.set_xlim(naive.CENSUS_TIME - 0.3, 2030.2)
    ax.set_ylabel("resident urbanization rate, %")
    ax.set_title("Shanxi resident urbanization: hindcast, projection and naive benchmarks", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    _save(fig, path, footer_text)


def plot_hukou_rate(summary, observed, trend_pp, band, path, footer_text) -> None:
    s = _series(summary, HUKOU)
    s = s[s.time <= 2024.0 + 1e-9]
    fig, ax = plt.subplots(figsize=(7.5, 4.4), dpi=130)
    ax.fill_between(s.time, s.lo, s.hi, color="tab:orange", alpha=0.25, label=f"model P{band[0]:g}-P{band[1]:g}")
    ax.plot(s.time, s["median"], "-", color="tab:orange", lw=2, label="model median")
    obs = observed[(observed.level == "province") & (observed.indicator == HUKOU)].copy()
    obs["time"] = [naive.observation_time(y, p) for y, p in zip(obs.year, obs.period)]
    ax.plot(obs.time, obs.value, "s", color="tab:orange", mfc="white", mew=1.5, label="observed 2017-2020")
    census = obs[obs.period == "census"]
    if not census.empty:
        t0, v0 = float(census.time.iloc[0]), float(census.value.iloc[0])
        t = np.array([t0, 2024.0])
        ax.plot(
            t,
            v0 + trend_pp * (t - t0),
            "--",
            color="0.4",
            lw=1,
            label=f"2017-2020 trend continued ({trend_pp:.2f} pp/yr)",
        )
    _time_axis(ax, 2017, 2023)
    ax.set_ylabel("hukou urbanization rate, %")
    ax.set_title("Shanxi hukou urbanization (no observation published after 2020)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    _save(fig, path, footer_text)


MARKERS = {2021: "o", 2022: "s", 2023: "D"}


def _scatter(
    pairs: pd.DataFrame,
    unit: str,
    title: str,
    path: Path,
    footer_text: str,
    label_points: bool,
    relative_panel: bool = False,
) -> None:
    """Model median (bars: band) against observed, with the 1:1 line; optionally the % error by city beside it."""
    if relative_panel:
        fig, (ax, ax_rel) = plt.subplots(1, 2, figsize=(11, 5.4), dpi=130, gridspec_kw={"width_ratios": [1, 1.1]})
    else:
        fig, ax = plt.subplots(figsize=(6.2, 5.6), dpi=130)
        ax_rel = None
    if pairs.empty:
        ax.text(0.5, 0.5, "no observations", ha="center", va="center", transform=ax.transAxes)
    else:
        for year, p in pairs.groupby("year"):
            ax.errorbar(
                p.observed,
                p["median"],
                yerr=[p["median"] - p.lo, p.hi - p["median"]],
                fmt=MARKERS.get(year, "^"),
                ms=5,
                mfc="white",
                capsize=2,
                lw=0.8,
                label=str(year),
            )
            if label_points:
                for _, r in p.iterrows():
                    ax.annotate(
                        f"{r.region} {year}",
                        (r.observed, r["median"]),
                        fontsize=6,
                        xytext=(3, 3),
                        textcoords="offset points",
                    )
        lo = min(pairs.observed.min(), pairs.lo.min())
        hi = max(pairs.observed.max(), pairs.hi.max())
        pad = 0.05 * (hi - lo or 1)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "-", color="0.5", lw=0.8, label="1:1")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.legend(fontsize=7, loc="upper left")
        if ax_rel is not None:
            regions = sorted(pairs.region.unique())
            y_of = {c: i for i, c in enumerate(regions)}
            years = sorted(pairs.year.unique())
            for k, (year, p) in enumerate(pairs.groupby("year")):
                offset = (k - (len(years) - 1) / 2) * 0.2
                y = np.array([y_of[c] for c in p.region]) + offset
                rel = 100 * (p["median"] - p.observed) / p.observed
                err = [100 * (p["median"] - p.lo) / p.observed, 100 * (p.hi - p["median"]) / p.observed]
                ax_rel.errorbar(
                    rel, y, xerr=err, fmt=MARKERS.get(year, "^"), ms=5, mfc="white", capsize=2, lw=0.8, label=str(year)
                )
            ax_rel.axvline(0, color="0.5", lw=0.8)
            ax_rel.set_yticks(range(len(regions)))
            ax_rel.set_yticklabels(regions, fontsize=8)
            ax_rel.set_xlabel("model median - observed, % of observed")
            ax_rel.grid(alpha=0.3)
            ax_rel.legend(fontsize=7)
    ax.set_xlabel(f"observed, {unit}")
    ax.set_ylabel(f"model median (bar: band), {unit}")
    fig.suptitle(title, fontsize=10)
    ax.grid(alpha=0.3)
    _save(fig, path, footer_text)


# --------------------------------------------------------------------------------------
# the report


class Report:
    """Blocks rendered to Markdown and to self-contained HTML."""

    def __init__(self):
        self.blocks: list[tuple] = []

    def heading(self, text, level=2):
        self.blocks.append(("h", level, text))

    def para(self, text):
        self.blocks.append(("p", text))

    def bullets(self, items):
        self.blocks.append(("ul", list(items)))

    def table(self, header, rows):
        self.blocks.append(("table", list(header), [list(r) for r in rows]))

    def image(self, file, caption):
        self.blocks.append(("img", file, caption))

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append("#" * b[1] + " " + b[2])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "ul":
                out.append("\n".join(f"- {x}" for x in b[1]))
            elif b[0] == "table":
                out.append(markdown_table(b[1], b[2]).rstrip("\n"))
            elif b[0] == "img":
                out.append(f"![{b[2]}]({b[1]})\n\n*{b[2]}*")
        return "\n\n".join(out) + "\n"

    def html(self, folder: Path, title: str) -> str:
        esc = html.escape
        body = []
        for b in self.blocks:
            if b[0] == "h":
                body.append(f"<h{b[1]}>{esc(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                body.append(f"<p>{esc(b[1])}</p>")
            elif b[0] == "ul":
                body.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in b[1]) + "</ul>")
            elif b[0] == "table":
                body.append(html_table(b[1], b[2]))
            elif b[0] == "img":
                data = base64.b64encode((folder / b[1]).read_bytes()).decode("ascii")
                body.append(
                    f'<figure><img alt="{esc(b[2])}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{esc(b[2])}</figcaption></figure>"
                )
        style = (
            "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4;color:#222}"
            "table{border-collapse:collapse;margin:0.8em 0;font-size:0.85em}"
            "td,th{border:1px solid #ccc;padding:0.2em 0.5em;text-align:right}"
            "th{background:#f0f0f0}td:first-child{text-align:left}img{max-width:100%}"
            "figcaption{font-size:0.85em;color:#555}"
        )
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
        )


def _param(v) -> str:
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 100 else f"{v:.4g}"
    return str(v)


def _band(lo, hi, digits=2) -> str:
    return f"{number(lo, digits)}-{number(hi, digits)}"


def _metric(table: pd.DataFrame, metric: str, window, target: str) -> float:
    m = table[(table.metric == metric) & (table.window == str(window)) & (table.target == target)]
    return float(m.value.iloc[0]) if len(m) else float("nan")


def _window_label(name: str, years: list[int]) -> str:
    return f"{name} ({', '.join(map(str, years))})"


def _fit_years(cfg: dict) -> list[int] | None:
    """Years the behaviour fit used: behaviour.fit.years, else the years of fit.resident_rate_error_pp."""
    fit = (cfg.get("behaviour") or {}).get("fit") or {}
    years = fit.get("years") or fit.get("resident_rate_error_pp")
    if isinstance(years, dict):
        years = list(years)
    return sorted(int(y) for y in years) if years else None


def _short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def calibrated_years(cfg: dict) -> list[int] | None:
    """The years the members' behaviour constants were calibrated to: the posterior's (when the members are
    its draws), else behaviour.fit's; None when neither says."""
    posterior = posterior_of(cfg) if settings_of(cfg)["parameter_draws"] > 0 else None
    if posterior is not None:
        return sorted(int(y) for y in posterior["record"].get("years") or []) or None
    return _fit_years(cfg)


def out_of_sample_statement(cfg: dict, windows: dict) -> str:
    """Whether the validation window is out of sample, from the years behaviour.fit (or the posterior the
    ensemble draws from) says the calibration used."""
    posterior = posterior_of(cfg) if settings_of(cfg)["parameter_draws"] > 0 else None
    val = windows["validation"]
    if posterior is not None:
        years = sorted(int(y) for y in posterior["record"].get("years") or [])
        command = posterior["record"].get("command", "python -m sim posterior")
        if not years:
            return (
                f"the posterior {posterior['path']} names no calibration years: out of sample or not cannot be stated."
            )
        seen = "NOT out of sample" if set(years) & set(val) else "Out of sample"
        return (
            f"{seen}: every member is a draw of a posterior calibrated to {', '.join(map(str, years))} ({command}); "
            f"validation year(s) {', '.join(map(str, val))}."
        )
    fit_years = _fit_years(cfg)
    if fit_years is None:
        return (
            "conf/behaviour has no fit block naming the years the behaviour constants were fitted to, so "
            "whether the validation window is out of sample cannot be stated."
        )
    command = (cfg["behaviour"].get("fit") or {}).get("command") or "sim.analysis.calibrate"
    if set(fit_years) & set(val):
        return (
            f"NOT out of sample: the behaviour constants were fitted to {', '.join(map(str, fit_years))} "
            f"(behaviour.fit, {command}), which includes the validation year(s) {', '.join(map(str, val))}. "
            "The validation-window error is an in-sample fit error; an honest out-of-sample score needs a fit "
            "restricted to the calibration years."
        )
    return (
        f"Out of sample: the behaviour constants were fitted to {', '.join(map(str, fit_years))} only "
        f"(behaviour.fit, {command}), so the validation year(s) {', '.join(map(str, val))} were not seen by "
        "the fit."
    )


@dataclass
class _Context:
    """What the report sections share."""

    cfg: dict
    summary: pd.DataFrame
    observed: pd.DataFrame
    windows: dict
    metric_table: pd.DataFrame
    targets: dict
    bench: Benchmarks
    members: pd.DataFrame
    band: str  # e.g. 'P5-P95'
    files: dict
    rates: dict | None = None  # year -> the members' province resident rates (year ends)

    def metric(self, metric: str, window, target: str) -> float:
        return _metric(self.metric_table, metric, window, target)

    def label(self, name: str) -> str:
        return _window_label(name, self.windows[name])

    def pairs(self, level: str, indicator: str, factor: float = 1.0) -> pd.DataFrame:
        first = int(self.targets["series"]["cities"]["first_scored_year"])
        return _pairs(self.summary, self.observed, level, indicator, first, factor)

    def discrepancy(self) -> tuple[int, float]:
        """(the last calibrated year, the model's discrepancy in pp a year) as the metrics recorded them."""
        row = self.metric_table[self.metric_table.metric == "model.discrepancy_pp_per_year"]
        return (int(row.window.iloc[0]), float(row.value.iloc[0])) if len(row) else (naive.CENSUS_YEAR, 0.0)

    def forecast_band(self, year: int, q=(5, 95)) -> tuple[float, ...] | None:
        """Percentiles of what the survey will publish for `year`: each member plus the survey's error and,
        after the last calibrated year, the discrepancy (`forecast_sd`)."""
        x = (self.rates or {}).get(year)
        if x is None or not len(x):
            return None
        last_calibrated, discrepancy = self.discrepancy()
        return tuple(np.percentile(predictive(x, forecast_sd(year - last_calibrated, discrepancy)), q))

    def window_of(self, year: int) -> str:
        return next((n for n in ("calibration", "validation", "new") if year in self.windows.get(n, [])), "-")

    def sim(
        self, year: int, indicator: str, period: str = "year_end", region: str = PROVINCE, level: str = "province"
    ) -> pd.Series | None:
        key = (period, year, level, region, indicator)
        return self.summary.loc[key] if key in self.summary.index else None


T_RATE = f"province:{PROVINCE}:{RESIDENT}"
T_HUKOU = f"province:{PROVINCE}:{HUKOU}"
T_CITY_POP = "city:*:population_10k"
T_CITY_RATE = f"city:*:{RESIDENT}"


def _section_summary(r: Report, c: _Context, pattern_list: list[Pattern]) -> None:
    seeds = sorted(c.members.seed.unique().tolist())
    n_draws = int((c.members.draw > 0).sum())
    r.heading("Hindcast validation of the Shanxi household model", 1)
    r.para(
        f"Scenario {c.cfg['scenario']['name']}, population scale {float(c.cfg['population']['scale']):g}, "
        f"{len(c.members)} ensemble members (seeds {', '.join(map(str, seeds))}"
        f"{f'; {n_draws} parameter draws' if n_draws else ''}), simulated from the census (1 Nov 2020) to the "
        f"end of {int(c.cfg['run']['end_year'])}. Band = {c.band} across members. Observed targets and their "
        f"sources: sim/world/data/{TARGETS_FILE}. Windows: "
        + "; ".join(c.label(n) for n in c.windows if n != "all")
        + "."
    )
    headline = [
        f"Province resident rate, mean absolute error: {number(c.metric('model.mae', 'calibration', T_RATE))} pp "
        f"on {c.label('calibration')}, {number(c.metric('model.mae', 'validation', T_RATE))} pp on "
        f"{c.label('validation')}."
    ]
    for name, label in BENCHMARKS.items():
        headline.append(
            f"{label} benchmark (fitted to the census + calibration years) on {c.label('validation')}: "
            f"{number(c.metric(f'{name}.mae', 'validation', T_RATE))} pp."
        )
    headline.append("Pattern checks: " + ", ".join(f"({p.key}) {p.status}" for p in pattern_list) + ".")
    headline.append(out_of_sample_statement(c.cfg, c.windows))
    r.heading("Summary")
    r.bullets(headline)


def _section_province(r: Report, c: _Context) -> None:
    r.heading("Province resident urbanization rate")
    rows = []
    census = c.sim(naive.CENSUS_YEAR, RESIDENT, "census")
    census_obs = c.observed[
        (c.observed.level == "province") & (c.observed.indicator == RESIDENT) & (c.observed.period == "census")
    ]
    if census is not None and not census_obs.empty:
        o = float(census_obs.value.iloc[0])
        rows.append(
            [
                "2020 census (initial state)",
                number(o, 2),
                number(census["median"], 2),
                _band(census.lo, census.hi),
                number(census["median"] - o, 2),
                number(100 * abs(census["median"] - o) / o, 2),
                "initial state",
            ]
        )
    for _, p in c.pairs("province", RESIDENT).iterrows():
        rows.append(
            [
                str(p.year),
                number(p.observed, 2),
                number(p["median"], 2),
                _band(p.lo, p.hi),
                number(p.error, 2),
                number(100 * abs(p.error) / p.observed, 2),
                c.window_of(p.year),
            ]
        )
    r.table(
        ["year end", "observed %", "model median %", f"model {c.band}", "error pp", "abs error / obs %", "window"], rows
    )
    r.para(
        "Errors by window (model = ensemble median; MAE in pp; ARD = mean |sim - obs| / obs, in %; coverage = "
        f"share of observations inside the {c.band} band):"
    )
    rows = [
        [c.label(name)]
        + [
            number(c.metric(f"model.{m}", name, T_RATE), d)
            for m, d in (
                ("mae", 3),
                ("ard_pct", 3),
                ("bias", 3),
                ("crps", 3),
                ("coverage50_pct", 0),
                ("coverage90_pct", 0),
                ("coverage_pct", 0),
            )
        ]
        + [number(c.metric(f"{k}.mae", name, T_RATE), 3) for k in BENCHMARKS]
        for name in c.windows
    ]
    r.para(
        "CRPS: the continuous ranked probability score of the members' prediction of the observation (pp; for a "
        "point forecast, such as the benchmarks', it equals the absolute error, so the columns compare); the "
        f"prediction adds the observation's own error (sd {OBSERVATION_SD_PP} pp, a sample survey) to each member "
        "and, for a year after the last calibrated one, the model's discrepancy as a random walk (see the forecast); "
        "predictive 50% and 90%: share of observations inside its P25-P75 and P5-P95; the last coverage is of "
        "the members' band alone."
    )
    r.table(
        [
            "window",
            "model MAE pp",
            "model ARD %",
            "model bias pp",
            "model CRPS pp",
            "predictive 50% %",
            "predictive 90% %",
            f"members {c.band} %",
            *(f"{label} MAE pp" for label in BENCHMARKS.values()),
        ],
        rows,
    )
    r.image(
        c.files["rate"], f"Province resident rate: model median and {c.band} band, observations and naive benchmarks"
    )

    r.heading("Out-of-sample result")
    scores = [
        f"{c.label(w)}: MAE {number(c.metric('model.mae', w, T_RATE), 3)} pp, ARD "
        f"{number(c.metric('model.ard_pct', w, T_RATE), 3)}%"
        for w in ("calibration", "validation")
    ]
    r.para("Province resident rate, " + "; ".join(scores) + ". " + out_of_sample_statement(c.cfg, c.windows))
    r.para("Province resident population (万, year end):")
    r.table(
        ["year end", "observed", "model median", f"model {c.band}", "error", "window"],
        [
            [
                str(p.year),
                number(p.observed, 2),
                number(p["median"], 2),
                _band(p.lo, p.hi),
                number(p.error, 2),
                c.window_of(p.year),
            ]
            for _, p in c.pairs("province", POPULATION, TEN_THOUSAND).iterrows()
        ],
    )


def _section_benchmarks(r: Report, c: _Context, forecast_year: int) -> None:
    r.heading("Naive benchmarks")
    r.para(
        "Straight line: least squares through the census and the calibration years. National gap: the national "
        "rate continues at its speed since the census, and Shanxi's gap to it changes at its average speed over "
        "every year both were published (2017 on). "
        "URGD: the UN World Urbanization Prospects method with a constant urban-rural growth difference d "
        "(PU_t = e^(s0+dt)/(1+e^(s0+dt)), s0 = ln(U/R) at the census, d by least squares). Logistic: an S-curve "
        "K/(1+e^(-r(t-t_mid))) with the saturation K fitted (scipy curve_fit). Each is fitted to the census and the "
        "calibration years, and scored on the same windows as the model; '(all)' = refitted to every observation. "
        "Time: census = 2020.83, end of year Y = Y+1. docs/BEHAVIOUR-EVIDENCE.md 4.1-4.2."
    )
    r.table(
        ["benchmark", "points", "parameters"],
        [
            [name, fit.n_obs, ", ".join(f"{k} {_param(v)}" for k, v in fit.params().items())]
            for name, fit in c.bench.predictors().items()
        ],
    )
    if c.bench.notes:
        r.bullets(c.bench.notes)
    rows = []
    for year in sorted({forecast_year, int(c.cfg["run"]["end_year"])}):
        s = c.sim(year, RESIDENT)
        if s is not None:
            f = c.forecast_band(year)
            rows.append(
                [str(year), number(s["median"], 2), _band(s.lo, s.hi), _band(*f) if f else "-"]
                + [
                    number(float(f.predict_year_end(year))) if (f := c.bench.predictors().get(k)) else "-"
                    for k in (*BENCHMARKS, "urgd_all", "logistic_all")
                ]
            )
    last_calibrated, discrepancy = c.discrepancy()
    r.para(
        f"Projections of the resident rate (%), model median and {c.band} next to the benchmarks "
        f"(target for 2029: close to {TARGET_RESIDENT_RATE_PCT:g}%). The members' band holds the parameters' "
        "uncertainty and chance; the forecast band adds what the model cannot follow: the survey's error and the "
        f"model's discrepancy, {discrepancy:.2f} pp a year as a random walk from {last_calibrated} (the spread of "
        "the observed yearly gains; `discrepancy_pp_per_year`). Read the forecast band as the range of what "
        "will be published:"
    )
    r.table(
        ["year end", "model median", f"members {c.band}", "forecast 90% band", *BENCHMARKS.values(), "URGD (all)",
         "logistic (all)"],
        rows,
    )  # fmt: skip


def _section_forecast(r: Report, c: _Context, last_obs: int) -> None:
    year = last_obs + 1
    r.heading(f"Forecast for {year}")
    parts = []
    for indicator, factor, unit, name in (
        (RESIDENT, 1.0, "%", "resident urbanization rate"),
        (POPULATION, TEN_THOUSAND, "万 persons", "resident population"),
    ):
        s = c.sim(year, indicator)
        if s is not None:
            parts.append(
                f"{name} at the end of {year}: {number(s['median'] / factor, 2)} {unit} (model median; {c.band} "
                f"{_band(s.lo / factor, s.hi / factor)})"
            )
    band = c.forecast_band(year, (5, 25, 75, 95))
    if band is not None:
        last_calibrated, discrepancy = c.discrepancy()
        sd = forecast_sd(year - last_calibrated, discrepancy)
        q5, q25, q75, q95 = band
        parts.append(
            f"the value the survey will publish (each member plus the survey's own error, sd {OBSERVATION_SD_PP} pp, "
            f"and the model's discrepancy, {discrepancy:.2f} pp a year as a random walk from {last_calibrated}, "
            f"the last calibrated year: together sd {sd:.2f} pp): "
            f"50% band {q25:.2f}-{q75:.2f}%, 90% band {q5:.2f}-{q95:.2f}% ({q95 - q5:.2f} points wide)"
        )
    if parts:
        naive_text = ", ".join(
            f"{k} {number(float(f.predict_year_end(year)))}%" for k, f in c.bench.predictors().items()
        )
        r.para(
            f"The last observation is for {last_obs}. The model forecasts, for the first year after it: "
            + "; ".join(parts)
            + f". Naive benchmarks: {naive_text}."
        )
    else:
        r.para(f"The model was not run to {year} (run.end_year = {c.cfg['run']['end_year']}).")
    r.para(
        "A new observation can be scored by adding one row to sim/world/data/shanxi_province.csv (year, "
        "resident_pop_10k, urbanization_rate_pct, source) and re-running `python -m sim validate` with the same "
        "settings: years after the validation window are scored in the window 'new' (error, CRPS, and whether it "
        f"fell inside the 50% and 90% bands). One line: `python -m sim validate seed={c.cfg['seed']} "
        f"population.scale={float(c.cfg['population']['scale']):g}` after the row is added."
    )


def _section_hukou(r: Report, c: _Context) -> None:
    r.heading("Hukou urbanization rate")
    obs_trend = float(_value(c.targets["hukou_trend"]["observed_2017_2020_pp_per_year"]))
    trend = c.metric("model.trend_pp_per_year", "2020-2023", T_HUKOU)
    gaps = c.metric_table[c.metric_table.metric == "model.gap_pp"][["window", "value"]]
    observed_gaps = c.targets["resident_hukou_gap"]["observed_pp"]
    r.bullets(
        [
            f"2020 level: observed {number(c.metric('observed', '2020 census', T_HUKOU))}% (census); model "
            f"{number(c.metric('model.median', '2020 census', T_HUKOU))}% at the census (error "
            f"{number(c.metric('model.error', '2020 census', T_HUKOU))} pp) and "
            f"{number(c.metric('model.median', '2020 year-end', T_HUKOU))}% at the end of 2020 (error "
            f"{number(c.metric('model.error', '2020 year-end', T_HUKOU))} pp).",
            f"Trend: model {number(trend, 2)} pp/yr over 2020-2023 (least squares, census and year ends) "
            f"against the observed {obs_trend:.2f} pp/yr of 2017-2020 (difference {number(trend - obs_trend, 2)} "
            "pp/yr). No hukou rate was published "
            "after 2020, so the 2017-2020 trend is the only yardstick.",
            "Resident-hukou gap (model median): "
            + ", ".join(f"{w} {number(v, 1)}" for w, v in gaps.itertuples(index=False))
            + " pp; observed "
            + ", ".join(f"{g} ({y})" for y, g in observed_gaps.items())
            + ".",
        ]
    )
    r.image(c.files["hukou"], f"Hukou rate: model median and {c.band} band, observations 2017-2020 and their trend")


def _window_rows(c: _Context, target: str, columns) -> list[list]:
    rows = []
    for name in c.windows:
        if np.isfinite(c.metric("model.mae", name, target)):
            rows.append(
                [c.label(name), int(c.metric("model.n", name, target))]
                + [number(c.metric(f"model.{m}", name, target), d) for m, d in columns]
            )
    return rows


def _section_cities(r: Report, c: _Context) -> None:
    r.heading("Cities")
    r.para(
        "City resident populations (万, year end; 2021-2022 from the provincial sampling bulletins, 2023 only "
        "where a city value was found):"
    )
    r.table(
        ["window", "city-years", "MAE 万", "ARD %", "bias 万"],
        _window_rows(c, T_CITY_POP, (("mae", 2), ("ard_pct", 3), ("bias", 2))),
    )
    pop = c.pairs("city", POPULATION, TEN_THOUSAND).sort_values(["year", "region"])
    r.table(
        ["city", "year", "observed 万", "model median 万", f"model {c.band}", "error 万", "error %"],
        [[*_pair_cells(p), number(100 * p.error / p.observed, 2)] for _, p in pop.iterrows()],
    )
    r.image(c.files["city_pop"], "City populations, model median vs observed, with the 1:1 line")
    r.para(
        "City resident urbanization rates: every city and year with an observed rate (2021 on). Several are "
        "secondary or derived; the source column says which."
    )
    rates = c.pairs("city", RESIDENT).sort_values(["region", "year"])
    r.table(
        ["city", "year", "observed %", "model median %", f"model {c.band}", "error pp", "source"],
        [[*_pair_cells(p), _short(p.source)] for _, p in rates.iterrows()],
    )
    r.table(["window", "city-years", "MAE pp", "ARD %"], _window_rows(c, T_CITY_RATE, (("mae", 2), ("ard_pct", 3))))
    r.image(c.files["city_rate"], "City urbanization rates where observed, model median vs observed")


def _pair_cells(p) -> list:
    """City, year, observed, model median, band and error of one observed-vs-model pair."""
    return [p.region, p.year, number(p.observed, 2), number(p["median"], 2), _band(p.lo, p.hi), number(p.error, 2)]


def _section_migrant_workers(r: Report, c: _Context) -> None:
    r.heading("Migrant workers, 2023")
    mw = c.targets["migrant_workers_2023"]

    def model_10k(name):
        s = c.sim(2023, name)
        if s is None:
            return ["-", "-"]
        return [number(s["median"] / TEN_THOUSAND, 1), _band(s.lo / TEN_THOUSAND, s.hi / TEN_THOUSAND, 1)]

    away = _value(mw["away_from_home_10k"])
    share = _value(mw["away_out_of_province_share_2013"])
    r.table(
        ["observed (2023)", "万", "model counterpart (end of 2023)", "model median 万", f"model {c.band}"],
        [
            [
                "外出农民工 (working away from home township)",
                number(away, 1),
                HOUSEHOLD_INDICATORS["rural_hukou_working_age_away"],
                *model_10k("rural_hukou_working_age_away"),
            ],
            [
                f"of which out of province (2013 share {share:.0%})",
                number(away * share, 1),
                HOUSEHOLD_INDICATORS["rural_hukou_working_age_away_out_of_province"],
                *model_10k("rural_hukou_working_age_away_out_of_province"),
            ],
            [
                "本地农民工 (non-farm work in the home township)",
                number(_value(mw["local_10k"]), 1),
                "no counterpart; upper bound: " + HOUSEHOLD_INDICATORS["rural_hukou_working_age_at_home"],
                *model_10k("rural_hukou_working_age_at_home"),
            ],
            ["农民工 total", number(_value(mw["total_10k"]), 1), "no counterpart (see below)", "-", "-"],
        ],
    )
    r.para(
        "The definitions differ, plainly: 农民工 are rural-hukou WORKERS in non-farm work for 6+ months; the model "
        "counts PEOPLE aged 15-59 in rural-hukou households (workers or not) and has no farm/non-farm split. Its "
        "'home village' is the rural part of the hukou county unit, so moves between townships of one county are "
        "invisible, and a household moves together. The model has no counterpart of 本地农民工 (non-farm work "
        f"without leaving the township), so the total {_value(mw['total_10k'])}万 cannot be compared; 外出农民工 "
        f"({away}万) is the comparable count, and only roughly. Sources: {mw['away_from_home_10k']['source']}; "
        f"{mw['away_out_of_province_share_2013']['source']}."
    )


def _section_notes(r: Report, c: _Context, pattern_list: list[Pattern], notes) -> None:
    r.heading("Pattern-oriented checks")
    r.bullets(p.line() for p in pattern_list)
    r.heading("Notes")
    drawn = bool((c.members.draw > 0).any())
    r.bullets(
        list(notes)
        + [
            f"Band: the {c.band} percentiles of {len(c.members)} members (seed noise"
            + (" and parameter draws" if drawn else " only; parameter uncertainty not included")
            + "). With few members the band is close to the members' range.",
            f"Sampling: population.scale = {float(c.cfg['population']['scale']):g}; the model's noise at this scale is "
            "part of the band.",
            "Scored values are year-end; the 2020 census point is the initial state the model is built to match, not a "
            "test.",
            "The 2015-2019 published rates precede the census re-basing (series break) and are not scored.",
        ]
    )
    r.heading("Files")
    r.bullets(
        [
            "validation_metrics.csv: metric, window, target, value (every number in this report)",
            "ensemble.parquet: every member's indicators (member, seed, draw, period, year, level, region, "
            "indicator, value)",
            *c.files.values(),
            "manifest.json: written last",
        ]
    )


REPORT_TITLE = "Hindcast validation of the Shanxi household model"
PLOT_FILES = {
    "rate": "validation_resident_rate.png",
    "hukou": "validation_hukou_rate.png",
    "city_pop": "validation_city_population.png",
    "city_rate": "validation_city_rates.png",
}


def write_report(
    run_dir: Path,
    cfg: dict,
    settings: dict,
    ensemble: pd.DataFrame,
    observed: pd.DataFrame,
    windows: dict,
    metric_table: pd.DataFrame,
    pattern_list: list[Pattern],
    targets: dict,
    footer_text: str,
    notes: list[str] = (),
) -> list[str]:
    """Write the plots, validation.md and validation.html into run_dir; returns the file names written."""
    run_dir = Path(run_dir)
    band = settings["band"]
    c = _Context(
        cfg=cfg,
        summary=summarise(ensemble, band),
        observed=observed,
        windows=windows,
        metric_table=metric_table,
        targets=targets,
        bench=fit_benchmarks(observed, windows["calibration"]),
        members=ensemble[["member", "seed", "draw"]].drop_duplicates(),
        band=f"P{band[0]:g}-P{band[1]:g}",
        files=dict(PLOT_FILES),
        rates={
            int(y): g["value"].to_numpy(float)
            for y, g in ensemble[
                (ensemble.period == "year_end")
                & (ensemble.level == "province")
                & (ensemble.region == PROVINCE)
                & (ensemble.indicator == RESIDENT)
            ].groupby("year")
        },
    )
    obs_trend = float(_value(targets["hukou_trend"]["observed_2017_2020_pp_per_year"]))
    last_calibrated, _ = c.discrepancy()
    forecast = {y: c.forecast_band(y) for y in (c.rates or {}) if y >= last_calibrated}
    plot_resident_rate(c.summary, c.bench, windows, band, run_dir / c.files["rate"], footer_text, forecast)
    plot_hukou_rate(c.summary, observed, obs_trend, band, run_dir / c.files["hukou"], footer_text)
    _scatter(
        c.pairs("city", POPULATION, TEN_THOUSAND),
        "10,000 persons",
        "City populations: model vs observed (year end)",
        run_dir / c.files["city_pop"],
        footer_text,
        label_points=False,
        relative_panel=True,
    )
    _scatter(
        c.pairs("city", RESIDENT),
        "%",
        "City resident urbanization rates where observed",
        run_dir / c.files["city_rate"],
        footer_text,
        label_points=True,
    )

    last_obs = int(c.bench.series.year.max())
    r = Report()
    _section_summary(r, c, pattern_list)
    _section_province(r, c)
    _section_benchmarks(r, c, last_obs + 1)
    _section_forecast(r, c, last_obs)
    _section_hukou(r, c)
    _section_cities(r, c)
    _section_migrant_workers(r, c)
    _section_notes(r, c, pattern_list, notes)
    outputs.write_text(run_dir / "validation.md", r.markdown())
    outputs.write_text(run_dir / "validation.html", r.html(run_dir, REPORT_TITLE))
    return ["validation.md", "validation.html", *c.files.values()]


# --------------------------------------------------------------------------------------
# the whole validation


def validate_to_folder(cfg, run_dir: Path, progress: str | None = None) -> dict:
    """Run the ensemble, score it, write every output and (last) the manifest. Returns the manifest."""
    from sim.config.schema import validate_config
    from sim.runs.run import peak_rss_mb

    cfg = to_dict(cfg)
    validate_config(cfg)  # ConfigError (key, value, what is allowed) before any member runs
    run_dir = outputs.begin_run(run_dir)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    settings = settings_of(cfg)
    targets = load_targets()
    observed = observed_targets(targets)
    windows = windows_of(settings, observed)
    end_year = int(cfg["run"]["end_year"])
    if end_year < max(windows["all"]):
        raise ValueError(f"run.end_year = {end_year} ends before the last scored year {max(windows['all'])}")
    seeds = [int(cfg["seed"]) + i for i in range(settings["seeds"])]
    ensemble = run_ensemble(cfg, seeds, settings["parameter_draws"], progress)
    t_run = time.perf_counter() - t0
    notes = list(ensemble.attrs.get("notes", []))
    members = ensemble.attrs.get("members", [])
    ensemble.attrs.clear()
    with outputs.atomic_path(run_dir / "ensemble.parquet") as tmp:
        ensemble.to_parquet(tmp, index=False)
    summary = summarise(ensemble, settings["band"])
    calibrated = calibrated_years(cfg)
    last_calibrated = max(calibrated) if calibrated else None
    metric_table = metrics(ensemble, observed, windows, settings["band"], targets, summary, last_calibrated)
    with outputs.atomic_path(run_dir / "validation_metrics.csv") as tmp:
        metric_table.to_csv(tmp, index=False)
    pattern_list = patterns(ensemble, targets, observed)
    for p in pattern_list:
        log.info("pattern %s", p.line())
    foot = (
        f"validation | scenario {cfg['scenario']['name']} | seeds {seeds[0]}..{seeds[-1]} | "
        f"scale {float(cfg['population']['scale']):g} | "
        f"model {outputs.package_versions().get('shanxi-urbanization')} "
        f"{identity.brief(identity.parts(cfg))} | {started:%Y-%m-%d}"
    )
    log.info("made from %s", identity.describe(identity.parts(cfg)))
    report_files = write_report(
        run_dir, cfg, settings, ensemble, observed, windows, metric_table, pattern_list, targets, foot, notes
    )
    t_out = time.perf_counter() - t0 - t_run
    man = outputs.manifest(
        cfg,
        int(cfg["seed"]),
        started,
        time.perf_counter() - t0,
        peak_rss_mb(),
        data_file_hashes(),
        {"ensemble": t_run, "scoring_and_report": t_out},
        ["ensemble.parquet", "validation_metrics.csv", *report_files],
        extra={
            "kind": "validation",
            "validation": settings,
            "windows": windows,
            "members": members,
            "notes": notes,
            "patterns": {p.key: p.status for p in pattern_list},
        },
    )
    outputs.write_manifest(run_dir, man)
    return man


@hydra.main(config_path=str(CONF_DIR), config_name="validate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    quiet_libraries()
    run_dir = HydraConfig.get().runtime.output_dir
    man = validate_to_folder(to_dict(cfg), run_dir)
    log.info("validation complete: %s (wall %.1f s, peak %.0f MB)", run_dir, man["wall_time_s"], man["peak_rss_mb"])


if __name__ == "__main__":
    main()
