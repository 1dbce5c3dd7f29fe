"""The hindcast validation (sim/analysis/validate.py): the Hydra app end to end at a tiny scale, its pieces,
and the CI guard on the province resident rate (issue "Earned trust")."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import validate
from sim.config import compose, to_dict
from sim.runs import outputs
from sim.world.inputs import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
REPORT_FILES = [
    "validation.md",
    "validation.html",
    "validation_metrics.csv",
    "ensemble.parquet",
    "validation_resident_rate.png",
    "validation_hukou_rate.png",
    "validation_city_population.png",
    "validation_city_rates.png",
    outputs.MANIFEST,
]
PATTERN_LINE = re.compile(r"^- \(([a-f])\) (PASS|FAIL|NOT CHECKABLE): ", re.M)
GUARD_MAE_PP = 0.3


@pytest.fixture(scope="module")
def validation_dir(tmp_path_factory):
    """`python -m sim validate` at scale 0.002 with 2 members (posterior draws, seeds in turn), into a temporary
    folder."""
    run_dir = tmp_path_factory.mktemp("validation")
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "validate",
        "population.scale=0.002",
        "validation.seeds=2",
        "validation.parameter_draws=2",  # two members, each a posterior draw (the default's kind, fewer)
        "run.progress=none",
        f"hydra.run.dir={run_dir}",
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="module")
def ensemble(validation_dir):
    return pd.read_parquet(validation_dir / "ensemble.parquet")


# --- the app end to end ---------------------------------------------------------------


@pytest.mark.slow
def test_app_writes_every_file_and_the_manifest_last(validation_dir):
    for name in REPORT_FILES:
        assert (validation_dir / name).is_file(), name
    assert outputs.is_complete(validation_dir)
    man = json.loads((validation_dir / outputs.MANIFEST).read_text())
    assert man["kind"] == "validation"
    assert man["validation"]["seeds"] == 2
    assert set(man["outputs"]) == set(REPORT_FILES) - {outputs.MANIFEST}
    for name, digest in man["outputs"].items():
        assert outputs.file_sha256(validation_dir / name) == digest
    newest_output = max((validation_dir / n).stat().st_mtime for n in man["outputs"])
    assert (validation_dir / outputs.MANIFEST).stat().st_mtime >= newest_output


def test_metric_table(validation_dir):
    table = pd.read_csv(validation_dir / "validation_metrics.csv")
    assert list(table.columns) == ["metric", "window", "target", "value"]
    rate = "province:Shanxi:resident_urbanization_rate_pct"
    for metric in ("model.mae", "model.ard_pct", "urgd.mae", "logistic.mae"):
        for window in ("calibration", "validation"):
            rows = table[(table.metric == metric) & (table.window == window) & (table.target == rate)]
            assert len(rows) == 1 and np.isfinite(rows.value.iloc[0]), (metric, window)
    observed = table[(table.metric == "observed") & (table.target == rate)].set_index("window").value
    assert observed["2021"] == 63.42 and observed["2023"] == 64.97
    assert ((table.metric == "model.mae") & (table.target == "city:*:population_10k")).any()
    assert ((table.metric == "model.trend_pp_per_year") & (table.window == "2020-2023")).any()
    assert ((table.metric == "urgd.projection") & (table.window == "2029")).any()


def test_report_has_the_tables_patterns_and_forecast(validation_dir):
    md = (validation_dir / "validation.md").read_text(encoding="utf-8")
    assert "| window | model MAE pp | model ARD % |" in md
    assert "## Out-of-sample result" in md and "## Naive benchmarks" in md
    assert "## Forecast for 2024" in md
    assert "adding one row to sim/world/data/shanxi_province.csv" in md
    assert "Migrant workers, 2023" in md and "293.2" in md
    found = dict(PATTERN_LINE.findall(md))
    assert sorted(found) == ["a", "b", "c", "d", "e", "f"]
    assert found["f"] == "NOT CHECKABLE"
    assert all(found[k] in ("PASS", "FAIL") for k in "abcde")
    html = (validation_dir / "validation.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4
    assert "<table>" in html and 'src="validation_' not in html  # self-contained


def test_ensemble_table(ensemble):
    assert list(ensemble.columns) == validate.ENSEMBLE_COLUMNS
    assert sorted(ensemble.seed.unique()) == [42, 43]
    assert set(ensemble.period) == {"census", "year_end"}
    years = ensemble[ensemble.period == "year_end"].year
    assert years.min() == 2020 and years.max() == 2029
    for name in validate.HOUSEHOLD_INDICATORS:
        assert ((ensemble.indicator == name) & (ensemble.year == 2023)).sum() == 2


# --- the pieces -----------------------------------------------------------------------


def test_patterns_on_the_ensemble(ensemble):
    result = validate.patterns(ensemble)
    assert [p.key for p in result] == ["a", "b", "c", "d", "e", "f"]
    assert all(p.status in ("PASS", "FAIL") and p.n_members == 2 for p in result[:4])
    assert result[4].status in ("PASS", "FAIL") and "counties model 2020-2023" in result[4].detail
    assert result[5].status == "NOT CHECKABLE"
    assert all(p.line().startswith(f"({p.key}) ") for p in result)


def test_observed_targets_come_from_the_data():
    obs = validate.observed_targets()
    prov = obs[(obs.level == "province") & (obs.indicator == validate.RESIDENT)].set_index(["period", "year"]).value
    assert prov[("census", 2020)] == 62.53 and prov[("year_end", 2023)] == 64.97
    assert not any(y < 2020 for _, y in prov.index)  # the pre-census series is not scored
    hukou = obs[(obs.level == "province") & (obs.indicator == validate.HUKOU)]
    assert sorted(hukou.year) == [2017, 2018, 2019, 2020]
    taiyuan = obs[(obs.region == "Taiyuan") & (obs.indicator == validate.POPULATION) & (obs.year == 2022)]
    assert taiyuan.value.iloc[0] == pytest.approx(5_435_000)
    assert obs.source.str.len().min() > 0
    targets = validate.load_targets()
    assert validate._value(targets["migrant_workers_2023"]["away_from_home_10k"]) == 293.2
    assert validate._value(targets["hukou_trend"]["observed_2017_2020_pp_per_year"]) == 0.95


def test_a_new_observation_is_scored(ensemble, tmp_path):
    for path in DATA_DIR.iterdir():
        if path.is_file():
            shutil.copyfile(path, tmp_path / path.name)
    with open(tmp_path / "shanxi_province.csv", "a", encoding="utf-8") as f:
        f.write("2024,3450.00,65.50,,,,,test row\n")
    observed = validate.observed_targets(data_dir=tmp_path)
    settings = validate.settings_of({})
    windows = validate.windows_of(settings, observed)
    assert windows["new"] == [2024] and windows["all"] == [2021, 2022, 2023, 2024]
    table = validate.metrics(ensemble, observed, windows)
    rate = "province:Shanxi:resident_urbanization_rate_pct"
    new = table[(table.window == "new") & (table.target == rate)].set_index("metric").value
    assert {"model.mae", "urgd.mae", "logistic.mae"} <= set(new.index)
    median = table[(table.metric == "model.median") & (table.window == "2024") & (table.target == rate)].value
    assert new["model.mae"] == pytest.approx(abs(median.iloc[0] - 65.5))


def test_metrics_agree_with_the_ensemble(ensemble):
    observed = validate.observed_targets()
    windows = {"calibration": [2021, 2022], "validation": [2023]}
    table = validate.metrics(ensemble, observed, windows)
    rate = ensemble[
        (ensemble.level == "province") & (ensemble.indicator == validate.RESIDENT) & (ensemble.period == "year_end")
    ]
    median = rate.groupby("year").value.median()
    obs = {2021: 63.42, 2022: 63.96, 2023: 64.97}
    mae = np.mean([abs(median[y] - obs[y]) for y in (2021, 2022)])
    got = table[
        (table.metric == "model.mae")
        & (table.window == "calibration")
        & (table.target == "province:Shanxi:resident_urbanization_rate_pct")
    ].value.iloc[0]
    assert got == pytest.approx(mae)


def test_parameter_draws():
    behaviour = {
        "beta_income": 1.0,
        "fitted": {"asc_stay": 3.0, "settle_intercept": -6.0},
        "fit": {"names": ["asc_stay", "settle_intercept"], "covariance": [[0.04, 0.0], [0.0, 0.01]]},
    }
    draws, note = validate.draw_parameters(behaviour, 400, seed=1)
    assert len(draws) == 400 and "parameter draws" in note
    x = np.array([[v for _, v in d] for d in draws])
    assert [p for p, _ in draws[0]] == ["fitted.asc_stay", "fitted.settle_intercept"]
    assert x.mean(axis=0) == pytest.approx([3.0, -6.0], abs=0.05)
    assert x.std(axis=0) == pytest.approx([0.2, 0.1], rel=0.15)
    assert validate.draw_parameters(behaviour, 3, seed=1)[0] == validate.draw_parameters(behaviour, 3, seed=1)[0]
    # no covariance, or an unusable one: skipped with a note
    for fit in (
        {},
        {"names": ["asc_stay"], "covariance": [[np.nan]]},
        {"names": ["nope"], "covariance": [[1.0]]},
        {"names": ["asc_stay", "settle_intercept"], "covariance": [[1.0, 2.0], [2.0, 1.0]]},
    ):
        draws, note = validate.draw_parameters({**behaviour, "fit": fit}, 5, seed=1)
        assert draws == [] and "skipped" in note
    cfg = {"behaviour": behaviour, "validation": {"posterior": "none"}}  # the covariance, not a shipped posterior
    members, notes = validate.plan_members(cfg, [7, 8], 3)
    assert [(m.seed, m.draw) for m in members] == [(7, 0), (8, 0), (7, 1), (8, 2), (7, 3)]
    assert notes and not members[0].parameters and members[2].parameters


def test_settings_defaults_and_checks():
    s = validate.settings_of({})
    assert s["calibration_years"] == [2021, 2022] and s["validation_years"] == [2023] and s["seeds"] == 5
    assert s["parameter_draws"] == 40 == to_dict(validate.compose_validation([]))["validation"]["parameter_draws"]
    assert to_dict(validate.compose_validation(["validation.seeds=3"]))["validation"]["seeds"] == 3
    with pytest.raises(ValueError):
        validate.settings_of({"validation": {"calibration_years": [2021, 2023], "validation_years": [2023]}})
    with pytest.raises(ValueError):
        validate.settings_of({"validation": {"seeds": 0}})


def test_an_interrupted_validation_leaves_no_manifest(tmp_path):
    (tmp_path / outputs.MANIFEST).write_text(json.dumps({"complete": True}))
    cfg = to_dict(compose(["population.scale=0.002", "run.end_year=2022"]))
    with pytest.raises(ValueError, match="end_year"):
        validate.validate_to_folder(cfg, tmp_path)
    assert not outputs.is_complete(tmp_path)


# --- the CI guard of the issue ------------------------------------------------------------


def test_hindcast_guard():
    """Province resident-rate MAE over 2021-2023 <= 0.3 pp at scale 0.02, seed 42, one member."""
    cfg = compose(["population.scale=0.02", "seed=42", "run.progress=none"])
    ensemble = validate.run_ensemble(cfg, [42])
    table = validate.metrics(ensemble, validate.observed_targets(), {"hindcast": [2021, 2022, 2023]})
    mae = table[
        (table.metric == "model.mae")
        & (table.window == "hindcast")
        & (table.target == "province:Shanxi:resident_urbanization_rate_pct")
    ].value.iloc[0]
    assert mae <= GUARD_MAE_PP, f"province resident-rate MAE 2021-2023 = {mae:.3f} pp > {GUARD_MAE_PP} pp"


def test_out_of_sample_statement():
    windows = {"calibration": [2021, 2022], "validation": [2023]}
    # by default the members are draws of the shipped posterior, calibrated to 2021-2023
    shipped = validate.out_of_sample_statement({"behaviour": {}}, windows)
    assert shipped.startswith("NOT out of sample: every member is a draw of a posterior calibrated to 2021")
    seeds_only = {"validation": {"parameter_draws": 0}}  # members at the fitted point: its fit record decides
    assert "cannot be stated" in validate.out_of_sample_statement({"behaviour": {}, **seeds_only}, windows)
    used_2023 = {"behaviour": {"fit": {"resident_rate_error_pp": {2021: 0.1, 2022: -0.1, 2023: 0.0}}}, **seeds_only}
    assert validate.out_of_sample_statement(used_2023, windows).startswith("NOT out of sample")
    calibration_only = {"behaviour": {"fit": {"years": [2021, 2022], "command": "python -m sim calibrate"}}}
    assert validate.out_of_sample_statement({**calibration_only, **seeds_only}, windows).startswith("Out of sample")
