"""`python -m benchmarks.run --quick` writes its results (no timing is asserted: machines differ)."""

import json

import pytest

from tests.conftest import run_cli

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
    "memory",
    "scaling",
    "targets",
}
TARGET_KEYS = {
    "full_province_wall_s",
    "full_province_peak_rss_mb",
    "kernel_vs_agent_ratio",
    "bytes_per_household",
    "linearity",
    "two_thread_speedup",
}


@pytest.mark.slow  # end to end; make test runs it, make test-fast does not
def test_quick_benchmark_writes_results(tmp_path):
    out = tmp_path / "bench"
    run_cli("benchmarks.run", "--quick", "--out", str(out), timeout=300)
    res = json.loads((out / "results.json").read_text())
    md = (out / "RESULTS.md").read_text()
    assert not list(out.glob("*.part")), "temporary files left behind"

    assert TOP_KEYS <= set(res)
    assert res["quick"] is True and res["full_province"] is None
    assert "--quick" in res["command"]
    m = res["machine"]
    assert {"cpu_model", "logical_cpus", "ram_gb", "versions"} <= set(m)

    # compile: cold and warm probes, per kernel
    for label in ("cold", "warm"):
        assert "kernels" in res["compile"][label], res["compile"][label]
        assert {"aggregate", "step_all", "step_household"} <= set(res["compile"][label]["kernels"])

    # the kernel at each quick scale and thread count
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

    # memory and scaling
    assert res["memory"]["bytes_per_household"] > 0
    assert res["memory"]["floor"]
    assert res["bandwidth"]["numpy_copy_gbs"] > 0
    assert res["scaling"]["linearity"]

    assert {t["key"] for t in res["targets"]} == TARGET_KEYS
    assert next(t for t in res["targets"] if t["key"] == "full_province_wall_s")["met"] is None

    for heading in (
        "# Performance benchmark",
        "## Targets",
        "## Compile time",
        "## Decision kernel",
        "## Mesa agent path vs kernel",
        "## Memory",
        "## Scaling",
    ):
        assert heading in md
    assert res["git_commit"] is None or res["git_commit"] in md
    assert m["cpu_model"] in md
