"""The scenario comparison table (sim/analysis/compare.py): cost-effectiveness only where the effect is clear."""

import re

import numpy as np
import pandas as pd

from sim.analysis import compare


def province_rows(scenario: str, seed: int, rate_2029: float, cost_per_year: float) -> list[dict]:
    rows = []
    for year in range(2025, 2030):
        rate = rate_2029 - (2029 - year) * 0.8
        for indicator, value in (
            ("resident_urbanization_rate_pct", rate),
            ("hukou_urbanization_rate_pct", rate - 18),
            ("population", 34_000_000.0),
            ("migrants_settled", 100_000.0),
            ("cost_total_yuan", cost_per_year),
        ):
            rows.append(dict(scenario=scenario, seed=seed, year=year, level="province", region="Shanxi",
                             indicator=indicator, value=value))  # fmt: skip
    return rows


def test_yuan_per_resident_only_where_the_effect_is_clear():
    rng = np.random.default_rng(3)
    rows = []
    for seed in range(1, 9):
        base = 70 + rng.normal(0, 0.05)
        rows += province_rows("baseline", seed, base, 0.0)
        rows += province_rows("clear", seed, base + 0.5 + rng.normal(0, 0.02), 1e9)  # +0.5 pp: 170,000 people
        rows += province_rows("noise", seed, base + rng.normal(0, 0.05), 1e9)  # no effect, only noise
    summary = compare.summary_table(pd.DataFrame(rows))
    clear, noise = summary.loc["clear"], summary.loc["noise"]
    extra = 0.005 * 34_000_000
    assert abs(clear.yuan_per_extra_urban_resident - 5e9 / extra) / (5e9 / extra) < 0.05
    assert (
        clear.yuan_per_extra_urban_resident_p5
        < clear.yuan_per_extra_urban_resident
        < (clear.yuan_per_extra_urban_resident_p95)
    )
    assert np.isnan(noise.yuan_per_extra_urban_resident)  # the effect's band holds zero: no ratio
    text = compare.to_markdown(summary)
    line = next(r for r in text.splitlines() if r.startswith("| clear"))
    assert re.search(r"\| [23]\d,000 \([23]\d,000-[23]\d,000\) \|", line)  # two significant digits, its band
    assert next(r for r in text.splitlines() if r.startswith("| noise")).rstrip(" |").endswith("-")


def test_one_member_gives_no_ratio():
    rows = province_rows("baseline", 1, 70.0, 0.0) + province_rows("x", 1, 70.01, 1e9)
    assert np.isnan(compare.summary_table(pd.DataFrame(rows)).loc["x"].yuan_per_extra_urban_resident)


def test_significant_digits():
    assert compare.significant(6_805_444) == "6,800,000"
    assert compare.significant(29_411.7) == "29,000"
    assert compare.significant(3.14159) == "3.1"
