"""Hard to misuse: every bad input is refused before anything runs, with a message naming the key,
the value and what is allowed, and no run folder is left looking complete.

Most inputs go in-process through `sim.runs.run.run_to_folder` (what `python -m sim` calls) with the
model replaced by a trap; a subset goes through the real CLI as a subprocess. The table in
docs/bad-inputs.md is generated from CASES:

    WRITE_BAD_INPUTS_DOC=1 python -m pytest tests/test_bad_input.py -k doc
"""

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sim.config import compose, to_dict
from sim.config.guard import (
    BYTES_PER_HOUSEHOLD,
    MemoryGuardError,
    check_config_memory,
    check_memory,
    estimate_bytes,
    expected_households,
)
from sim.config.schema import SCHEMA, ConfigError, default_leaves, validate_config
from sim.runs import outputs
from tests.conftest import ROOT, run_cli

DOC = ROOT / "docs" / "bad-inputs.md"

# (id, Hydra overrides, substrings the message must contain: key, value, what is allowed)
CASES = [
    ("scale_zero", ["population.scale=0"], ["population.scale = 0 ", "(0, 1]"]),
    ("scale_negative", ["population.scale=-1"], ["population.scale = -1 ", "(0, 1]"]),
    ("scale_above_one", ["population.scale=2"], ["population.scale = 2 ", "(0, 1]"]),
    ("scale_nan", ["population.scale=nan"], ["population.scale = nan", "not a finite number", "(0, 1]"]),
    ("scale_text", ["population.scale=abc"], ["population.scale = 'abc'", "not a number", "(0, 1]"]),
    (
        "scale_typo",
        ["+population.scal=0.1"],
        ["population.scal = 0.1", "not a config key", "did you mean population.scale"],
    ),
    ("key_in_wrong_group", ["+population.end_year=2022"], ["population.end_year = 2022", "did you mean run.end_year"]),
    ("group_typo", ["+behaviour.fited.asc_stay=1"], ["behaviour.fited", "did you mean behaviour.fitted"]),
    ("group_not_mapping", ["run=5"], ["run = 5", "not a mapping", "end_year"]),
    ("seed_negative", ["seed=-3"], ["seed = -3 ", "[0, 9223372036854775807]"]),
    ("seed_text", ["seed=abc"], ["seed = 'abc'", "not an integer", "[0, 9223372036854775807]"]),
    ("seed_fraction", ["seed=1.5"], ["seed = 1.5", "not an integer"]),
    ("end_year_after_plan", ["run.end_year=2035"], ["run.end_year = 2035 ", "[2021, 2029]"]),
    ("end_year_before_census", ["run.end_year=2019"], ["run.end_year = 2019 ", "[2021, 2029]"]),
    ("threads_negative", ["run.threads=-1"], ["run.threads = -1 ", "[0, "]),
    ("progress_unknown", ["run.progress=fast"], ["run.progress = 'fast'", "auto | bar | log | none"]),
    (
        "lever_unknown",
        ["+scenario.levers.no_such_lever=1"],
        ["scenario.levers.no_such_lever = 1", "unknown lever", "known levers: ", "rent_subsidy"],
    ),
    (
        "lever_typo",
        ["+scenario.levers.public_rental_sahre=0.5"],
        ["scenario.levers.public_rental_sahre = 0.5", "did you mean scenario.levers.public_rental_share"],
    ),
    (
        "lever_share_above_one",
        ["+scenario.levers.public_rental_share=1.5"],
        ["scenario.levers.public_rental_share", "1.5", "outside [0, 1] share"],
    ),
    (
        "lever_subsidy_negative",
        ["+scenario.levers.rent_subsidy_yuan_month=-5"],
        ["scenario.levers.rent_subsidy_yuan_month", "-5", "outside [0, 2000] yuan/month"],
    ),
    (
        "lever_subsidy_in_fen",
        ["+scenario.levers.rent_subsidy_yuan_month=50000"],
        ["scenario.levers.rent_subsidy_yuan_month", "50000", "outside [0, 2000] yuan/month"],
    ),
    (
        "lever_unknown_region",
        ["+scenario.levers.rent_subsidy_yuan_month={Beijing:1}"],
        ["scenario.levers.rent_subsidy_yuan_month.Beijing", "unknown region", "allowed: all, taiyuan", "Datong"],
    ),
    (
        "lever_year_after_plan",
        ["+scenario.levers.rent_subsidy_yuan_month={2035:1}"],
        ["scenario.levers.rent_subsidy_yuan_month", "year 2035", "2020-2029"],
    ),
    (
        "lever_value_text",
        ["+scenario.levers.rent_subsidy_yuan_month={taiyuan:{2026:abc}}"],
        ["scenario.levers.rent_subsidy_yuan_month.taiyuan.2026", "'abc'", "not a number", "[0, 2000]"],
    ),
    ("delay_negative", ["scenario.delay_years=-1"], ["scenario.delay_years = -1 ", "[0, 9]"]),
    (
        "rent_negative",
        ["economy.rent_taiyuan_yuan_month=-1"],
        ["economy.rent_taiyuan_yuan_month = -1 ", "[0, 20000] (yuan/month)"],
    ),
    (
        "rent_in_fen",
        ["economy.rent_taiyuan_yuan_month=140000"],
        ["economy.rent_taiyuan_yuan_month = 140000 ", "[0, 20000] (yuan/month)"],
    ),
    ("review_rate_above_one", ["behaviour.review_rate=1.5"], ["behaviour.review_rate = 1.5 ", "[0, 1]", "per month"]),
    ("job_separation_negative", ["behaviour.job_separation=-0.1"], ["behaviour.job_separation = -0.1 ", "[0, 1]"]),
    (
        "fitted_null",
        ["behaviour.fitted.settle_intercept=null"],
        ["behaviour.fitted.settle_intercept = None", "not a number", "[-30, 10]"],
    ),
    (
        "land_share_above_one",
        ["population.contract_land_rural_hukou=1.2"],
        ["population.contract_land_rural_hukou = 1.2 ", "[0, 1] (share)"],
    ),
    (
        "skill_wrong_length",
        ["population.skill_migrant=[0.5,0.5]"],
        ["population.skill_migrant = [0.5, 0.5]", "has 2 entries", "3 entries", "summing to 1"],
    ),
    (
        "skill_not_summing_to_one",
        ["population.skill_migrant=[0.5,0.5,0.5]"],
        ["population.skill_migrant = [0.5, 0.5, 0.5]", "sums to 1.5", "summing to 1"],
    ),
    (
        "wage_factor_text",
        ["economy.skill_wage_factor=[1,2,x]"],
        ["economy.skill_wage_factor[2] = 'x'", "not a number", "(0, 10]"],
    ),
    (
        "age_mix_wrong_shape",
        ["population.member_age_mix=[[1,0,0]]"],
        ["population.member_age_mix = [[1, 0, 0]]", "has 1 entries", "4 entries"],
    ),
    (
        "head_age_sd_negative",
        ["population.head_age_migrant=[38,-1]"],
        ["population.head_age_migrant[1] = -1 ", "[0, 60]"],
    ),
    (
        "tenure_shares_above_one",
        ["population.own_home_migrant=0.99"],
        ["population.own_home_migrant + population.public_rental_migrant", "0.99 + 0.03", "at most 1"],
    ),
    (
        "months_over_one_byte",
        ["population.months_here_max_migrant=300"],
        ["population.months_here_max_migrant = 300 ", "[0, 255]"],
    ),
    ("max_agents_fraction", ["population.max_agents=1.5"], ["population.max_agents = 1.5", "not an integer"]),
    (
        "census_inconsistent",
        ["population.shanxi_hukou_out_of_province=10000000", "population.out_of_province_urban_hukou_share=1"],
        ["population.shanxi_hukou_out_of_province = 10000000", "inconsistent with the census", "must be > 0"],
    ),
    (
        "taiyuan_pull_too_high",
        ["population.taiyuan_pull=10"],
        ["population.taiyuan_pull = 10", "exceeds the urban population", "lower population.taiyuan_pull"],
    ),
    (
        "code_target",
        ["+scenario._target_=os.system"],
        ["scenario._target_ = 'os.system'", "outside the project", "sim., agents., scenarios."],
    ),
    ("two_problems", ["population.scale=0", "seed=-1"], ["2 problems", "population.scale = 0 ", "seed = -1 "]),
]

# refused by Hydra itself while composing (before our code runs): CLI only
HYDRA_CASES = [
    (
        "scenario_unknown",
        ["scenario=nonexistent"],
        ["scenario/nonexistent", "Available options in 'scenario'", "baseline", "plan"],
    ),
    (
        "typo_without_plus",
        ["population.scal=0.1"],
        ["population.scal", "Key 'scal' is not in struct", "+population.scal=0.1"],
    ),
    (
        "new_lever_without_plus",
        ["scenario.levers.public_rental_share=1.5"],
        ["scenario.levers.public_rental_share", "+scenario.levers.public_rental_share=1.5"],
    ),
]

CLI_IDS = ["scale_zero", "seed_text", "scale_typo", "lever_unknown_region", "skill_wrong_length"]
BY_ID = {c[0]: c for c in CASES + HYDRA_CASES}


# --------------------------------------------------------------------------------------
# helpers


class ModelBuilt(AssertionError):
    pass


@pytest.fixture
def model_trap(monkeypatch):
    """Make building a model fail loudly: a refused config must never get that far."""
    import sim.model

    def trap(*a, **k):
        raise ModelBuilt("the model was built although the config is invalid")

    monkeypatch.setattr(sim.model, "ShanxiModel", trap)


def refusal_in_process(overrides: list[str], run_dir: Path) -> str:
    """The message run_to_folder (what `python -m sim` calls) refuses these overrides with."""
    from sim.runs.run import run_to_folder

    cfg = to_dict(compose(overrides))
    with pytest.raises(ConfigError) as err:
        run_to_folder(cfg, run_dir)
    return str(err.value)


def cli_message(stderr: str) -> str:
    """The error as a user sees it at the end of the CLI's output (a logged refusal, the last line of
    a traceback, or Hydra's own message)."""
    m = re.search(r"\]\[ERROR\] - refused: (.*)", stderr, re.S)
    if m:
        return m.group(1).strip()
    m = re.search(r"(?:sim\.schema\.)?ConfigError: (.*?)(?:\n\n|\nSet the environment|\Z)", stderr, re.S)
    if m:
        return m.group(1).strip()
    text = stderr.split("Set the environment variable HYDRA_FULL_ERROR")[0]
    text = text.split("Config search path")[0]
    return text.strip()


def assert_not_complete(run_dir: Path) -> None:
    assert not (run_dir / outputs.MANIFEST).exists()
    assert not outputs.is_complete(run_dir)
    for name in ("indicators.csv", "indicators.parquet", "urbanization.png"):
        assert not (run_dir / name).exists(), name


def _run_one(case, base: Path):
    cid, overrides, _ = case
    run_dir = base / cid
    proc = run_cli("sim", *overrides, f"hydra.run.dir={run_dir}", "run.progress=none", check=False, timeout=300)
    return cid, proc.returncode, proc.stdout, proc.stderr, run_dir


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """All CLI cases, run concurrently (each is a full `python -m sim` start-up)."""
    base = tmp_path_factory.mktemp("cli")
    cases = [BY_ID[i] for i in CLI_IDS] + HYDRA_CASES
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: _run_one(c, base), cases))
    return {r[0]: r[1:] for r in results}


# --------------------------------------------------------------------------------------
# the cases


def test_there_are_enough_cases():
    assert len(CASES) + len(HYDRA_CASES) >= 25
    assert len(CLI_IDS) + len(HYDRA_CASES) >= 8  # + the _target_ case in tests/test_no_code_from_config.py


@pytest.mark.parametrize("cid,overrides,expected", CASES, ids=[c[0] for c in CASES])
def test_refused_in_process(cid, overrides, expected, tmp_path, model_trap):
    message = refusal_in_process(overrides, tmp_path)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert_not_complete(tmp_path)


@pytest.mark.parametrize("cid", CLI_IDS + [c[0] for c in HYDRA_CASES])
def test_refused_by_the_cli(cid, cli_results):
    rc, out, err, run_dir = cli_results[cid]
    assert rc != 0, f"exit status 0 for {BY_ID[cid][1]}"
    message = cli_message(out + err)  # Hydra logs to stdout, Python's tracebacks go to stderr
    for part in BY_ID[cid][2]:
        assert part in message, f"{part!r} not in {message!r}\n--- output:\n{(out + err)[-3000:]}"
    assert "Traceback" not in message
    assert_not_complete(run_dir)


def test_default_and_every_shipped_scenario_are_valid():
    validate_config(to_dict(compose([])))
    for f in sorted((ROOT / "conf" / "scenario").glob("*.yaml")):
        validate_config(to_dict(compose([f"scenario={f.stem}"])))


def test_every_config_key_has_a_range():
    """The schema is the one place of the ranges: every leaf of conf/ has an entry, and its default passes."""
    leaves = default_leaves()
    missing = [k for k in leaves if k not in SCHEMA]
    assert not missing, f"keys of conf/ without a range in sim/config/schema.py SCHEMA: {missing}"
    for key, default in leaves.items():
        assert SCHEMA[key].check(key, default) == [], key


def test_a_model_built_from_python_is_checked_too():
    from sim.model import ShanxiModel

    cfg = to_dict(compose(["population.scale=0.001"]))
    cfg["behaviour"]["review_rate"] = 2.0
    with pytest.raises(ConfigError, match=r"behaviour\.review_rate = 2\.0 is outside \[0, 1\]"):
        ShanxiModel(config=cfg)
    with pytest.raises(ConfigError, match=r"population\.scale = 0 is outside \(0, 1\]"):
        ShanxiModel(scale=0)
    cfg = to_dict(compose(["population.scale=0.001"]))
    del cfg["economy"]["rent_taiyuan_yuan_month"]
    with pytest.raises(ConfigError, match=r"economy\.rent_taiyuan_yuan_month is missing; allowed: a number in"):
        ShanxiModel(config=cfg)


# --------------------------------------------------------------------------------------
# resource guard


def test_memory_estimate_and_refusal():
    need = estimate_bytes(1_000_000)
    assert 1_000_000 * BYTES_PER_HOUSEHOLD < need < 2**30
    assert check_memory(1_000_000, available=2**34) == need
    with pytest.raises(MemoryGuardError) as err:
        check_memory(1_000_000, available=100 * 2**20)
    msg = str(err.value)
    assert "1,000,000 households" in msg and f"{need / 2**30:.2f} GiB" in msg and "0.10 GiB is available" in msg


def test_households_are_estimated_from_the_census_before_sampling():
    from sim.world.geography import load_geography
    from sim.world.population import synthesize

    geo = load_geography()
    pop = to_dict(compose([]))["population"]
    full = expected_households(pop, 1.0, geo)
    assert 15.5e6 < full < 18.5e6  # 12.75M family households + 2.78M collective + out of province + pool
    h, _ = synthesize(geo, pop, to_dict(compose([]))["economy"], 0.002, 1)
    assert h.n == pytest.approx(expected_households(pop, 0.002, geo), rel=0.01)


def test_full_scale_refused_when_memory_is_short(monkeypatch):
    cfg = to_dict(compose([]))
    with pytest.raises(MemoryGuardError) as err:
        check_config_memory(cfg, available=2**30)
    msg = str(err.value)
    assert "population.scale = 1:" in msg and "1.00 GiB is available" in msg and "at most about" in msg
    # the model refuses before any household is allocated
    import sim.config.guard
    import sim.model

    monkeypatch.setattr(sim.config.guard, "available_memory", lambda: 50 * 2**20)
    monkeypatch.setattr(sim.model, "synthesize", lambda *a, **k: (_ for _ in ()).throw(ModelBuilt("synthesized")))
    with pytest.raises(MemoryGuardError, match="0.05 GiB is available"):
        sim.model.ShanxiModel(scale=0.001)


# --------------------------------------------------------------------------------------
# docs/bad-inputs.md


def write_doc(path: Path = DOC) -> None:
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with ThreadPoolExecutor(max_workers=4) as pool:
            cli = {
                r[0]: r for r in pool.map(lambda c: _run_one(c, Path(tmp)), [BY_ID[i] for i in CLI_IDS] + HYDRA_CASES)
            }
        for cid, overrides, _ in CASES + HYDRA_CASES:
            if cid in cli:
                message, via = cli_message(cli[cid][2] + cli[cid][3]), f"CLI (exit {cli[cid][1]})"
            else:
                try:
                    validate_config(to_dict(compose(overrides)))
                    message = "(accepted!)"
                except ConfigError as e:
                    message = str(e)
                via = "run_to_folder"
            if cid in dict((c[0], 1) for c in HYDRA_CASES):
                via = f"CLI, Hydra (exit {cli[cid][1]})"
            cell = message.replace("|", "\\|").replace("\t", "").replace("\n", "<br>")
            args = " ".join(f"`{o}`" for o in overrides)
            rows.append(f"| {cid} | {args} | {via} | {cell} |")
    head = [
        "# Bad inputs and the messages they get",
        "",
        "Generated by `WRITE_BAD_INPUTS_DOC=1 python -m pytest tests/test_bad_input.py -k doc` from the",
        "cases of tests/test_bad_input.py (do not edit by hand). Every input below makes",
        "`python -m sim <overrides>` exit with a non-zero status before any household is built, and",
        "leaves no `manifest.json` (the run folder is not complete). Ranges and units: `SCHEMA` in",
        "sim/config/schema.py; lever ranges: scenarios/levers.yaml.",
        "",
        "Notes:",
        "",
        "- A key that is not in the config needs `+` on the command line (Hydra refuses it otherwise, see",
        "  the last rows); with `+` it reaches sim/config/schema.py, which refuses unknown keys with a suggestion.",
        "- Scenario levers are added with `+scenario.levers.<lever>=...` (the baseline has `levers: {}`).",
        "- `via`: *CLI* rows ran `python -m sim ... hydra.run.dir=<tmp>` as a subprocess; the message is",
        "  the last line the user sees. *run_to_folder* rows ran the function the CLI calls, in-process.",
        "- Resource guard: a scale that does not fit in memory is refused by sim/config/guard.py with",
        "  `MemoryGuardError`, e.g. `population.scale = 1: about 17,222,389 households need an estimated",
        "  4.20 GiB (...) but only 1.00 GiB is available; lower population.scale (at most about 0.175 fits)`.",
        "",
        "| case | overrides | via | message |",
        "|---|---|---|---|",
    ]
    path.write_text("\n".join(head + rows) + "\n", encoding="utf-8")


@pytest.mark.skipif(not os.environ.get("WRITE_BAD_INPUTS_DOC"), reason="set WRITE_BAD_INPUTS_DOC=1 to regenerate")
def test_write_doc():
    write_doc()
    assert DOC.exists()


if __name__ == "__main__":
    write_doc(Path(sys.argv[1]) if len(sys.argv) > 1 else DOC)
