"""`python -m benchmarks.run --quick` writes its results (no timing is asserted: machines differ)."""

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent

TOP_KEYS = {
    "schema",
    "command",
    "date",
    "git_commit",
    "machine",
    "quick",
    "options",
    "load_average",
    "compile",
    "bandwidth",
    "agent_path",
    "scales",
    "full_province",
    "full_province_floor",
    "ensemble",
    "cold_start",
    "memory",
    "scaling",
    "targets",
}
TARGET_KEYS = {
    "kernel_over_floor",
    "kernel_vs_agent_ratio",
    "full_province_over_floor",
    "full_province_peak_rss_mb",
    "two_thread_speedup",
    "cold_first_run_s",
    "bytes_per_household",
    "linearity",
}
HEADINGS = (
    "# Performance benchmark",
    "## Targets",
    "## Full province",
    "## Ensemble throughput",
    "## Cold start of a fresh clone",
    "## Compile time",
    "## Decision kernel",
    "## Mesa agent path vs kernel",
    "## Memory",
    "## Scaling",
)


def _check_kernel_sections(res: dict) -> None:
    """Compile probes, the kernel at each quick scale, the agent path, memory and scaling."""
    for label in ("cold", "warm"):
        assert "kernels" in res["compile"][label], res["compile"][label]
        assert {"aggregate", "step_all", "step_household"} <= set(res["compile"][label]["kernels"])

    assert [s["scale"] for s in res["scales"]] == [0.002, 0.01]
    for s in res["scales"]:
        assert s["households"] > 0
        assert {k["threads"] for k in s["kernel"]} == set(res["options"]["threads"])
        for k in s["kernel"]:
            assert k["household_steps_per_s"] > 0 and k["ns_per_household_step"] > 0
        assert s["aggregate"] and s["markets"]["total_s_per_month"] >= 0
        assert s["step_split"]["months"] >= 1
        assert s["identical_across_threads"] is True

    # the agent path runs the same rule: identical results, and a ratio
    ag = res["agent_path"]
    assert ag["identical_results"] is True
    assert ag["ratio_agent_over_kernel_1thread"] > 0

    assert res["memory"]["bytes_per_household"] > 0
    assert res["memory"]["floor"] and all(f["kernel_over_floor"] > 0 for f in res["memory"]["floor"])
    assert res["bandwidth"]["numpy_copy_gbs"] > 0
    assert res["scaling"]["linearity"]


def _check_ensemble(res: dict) -> None:
    """A real joblib multirun at small scale; no full-scale figure without the full-province run."""
    ens = res["ensemble"]
    assert ens["full_scale"] is None
    sw = ens["sweep"]
    assert "error" not in sw, sw.get("console_tail")
    assert sw["exit_code"] == 0
    assert sw["completed"] == sw["jobs"] == res["options"]["ensemble_seeds"] >= 1
    assert sw["wall_s"] > 0 and sw["runs_per_hour"] > 0
    assert sw["households_per_job"] > 0 and sw["job_peak_rss_mb"] > 0
    assert all(w > 0 for w in sw["job_manifest_wall_s"])
    assert sw["command"].startswith("python -m sim -m seed=") and "hydra/launcher=joblib" in sw["command"]
    assert sw["launcher_log"] and "Joblib" in sw["launcher_log"]


def _check_cold_start(res: dict) -> None:
    """A fresh clone's first run on the clone's own code, with an empty numba cache (quick: scale 0.01)."""
    cs = res["cold_start"]
    assert "error" not in cs, cs["error"]
    assert cs["scale"] == 0.01 == res["options"]["cold_scale"]
    assert cs["clone_source"] == str(ROOT) and cs["clone_commit"]
    clone = cs["clone_path"]
    run = cs["first_run"]
    assert "error" not in run, run.get("console_tail") or run["error"]
    assert run["exit_code"] == 0 and run["wall_s"] > 0
    # the clone's code ran, not this checkout's (installed editable in the venv)
    assert run["sim_file"].startswith(clone + "/") and run["runs_clone_code"] is True
    # compiled from scratch: the cache folder started empty and the run filled it
    assert run["numba_index_files_before"] == 0 < run["numba_index_files_after"]
    assert run["households_simulated"] > 0 and run["months"] > 0
    cp = cs["compile"]
    assert cp["runs_clone_code"] is True and cp["cold"]["sim_file"].startswith(clone + "/")
    assert cp["total_compile_s"] > 0 and cp["run_kernels_compile_s"] > 0


@pytest.mark.slow  # end to end; make test runs it, make test-fast does not
def test_quick_benchmark_writes_results(tmp_path):
    out = tmp_path / "bench"
    run_cli("benchmarks.run", "--quick", "--out", str(out), timeout=1200)
    res = json.loads((out / "results.json").read_text())
    md = (out / "RESULTS.md").read_text()
    assert not list(out.glob("*.part")), "temporary files left behind"

    assert TOP_KEYS <= set(res)
    assert res["quick"] is True and res["full_province"] is None and res["full_province_floor"] is None
    assert "--quick" in res["command"]
    m = res["machine"]
    assert {"cpu_model", "logical_cpus", "ram_gb", "versions", "simd_flags"} <= set(m)
    assert isinstance(m["simd_flags"], list)

    _check_kernel_sections(res)
    _check_ensemble(res)
    _check_cold_start(res)

    assert {t["key"] for t in res["targets"]} == TARGET_KEYS
    by = {t["key"]: t for t in res["targets"]}
    # not measured in quick mode: no full-province run, and the cold start is not at full scale
    for key in ("full_province_over_floor", "full_province_peak_rss_mb", "cold_first_run_s"):
        assert by[key]["met"] is None and by[key]["value"] is None
    assert by["kernel_over_floor"]["value"] > 0 and by["kernel_vs_agent_ratio"]["value"] > 0
    assert all(t["met"] in (True, False) for t in by.values() if t["value"] is not None)

    for heading in HEADINGS:
        assert heading in md
    assert res["git_commit"] is None or res["git_commit"] in md
    assert m["cpu_model"] in md
    assert all(f in md for f in m["simd_flags"])
    assert res["cold_start"]["clone_path"] in md and res["cold_start"]["first_run"]["sim_file"] in md
    assert res["ensemble"]["sweep"]["command"] in md


def test_render_only_recomputes_targets(tmp_path):
    """`--render-only` re-derives the targets from a results.json, also one written before the new sections."""
    from benchmarks.run import main

    shutil.copy(ROOT / "benchmarks" / "results.json", tmp_path / "results.json")
    res = main(["--render-only", "--out", str(tmp_path)])
    assert {t["key"] for t in res["targets"]} == TARGET_KEYS
    for t in res["targets"]:
        assert t["met"] is None or isinstance(t["met"], bool)
        assert t["met"] is None or t["value"] is not None
    md = (tmp_path / "RESULTS.md").read_text()
    for heading in HEADINGS:
        assert heading in md
    if res.get("full_province") and not res["full_province"].get("error"):
        pf = res["full_province_floor"]
        assert pf["floor_run_s"] > 0 and pf["wall_over_floor"] > 0
        assert res["ensemble"]["full_scale"]["runs_per_hour"] > 0
