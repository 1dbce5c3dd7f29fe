"""Every clause of the plan is a lever, and every lever moves the decision it targets.

Each mechanism test raises one lever (from 2021, so it has time to act) in a small run and checks
the indicator the lever targets moves in the expected direction against the baseline run with the
same seed (common random numbers, so the difference is the lever's effect, not noise).
"""

import re
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from scenarios.compile import load_levers
from sim.model import ShanxiModel

ROOT = Path(__file__).resolve().parent.parent
SCALE, SEED = 0.004, 21
PLAN = {"A2": "action2_county", "A4": "action4_urban_renewal"}
FLOOD = {"flood_displaced_share": {"Taiyuan": {2022: 0.5}, "Linfen": {2022: 0.5}}}

# lever -> (levers of the test run, indicator, level, region, +1 higher / -1 lower, reference levers)
MECHANISMS = {
    "hukou_threshold_months": (
        {"hukou_threshold_months": {"all": {2021: 120}}},
        "migrants_settled",
        "province",
        "Shanxi",
        -1,
        None,
    ),
    "permit_service_share": (
        {"permit_service_share": {"all": {2021: 1.0}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "school_access_migrant_children": (
        {"school_access_migrant_children": {"all": {2021: 1.0}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "training_rate_per_year": (
        {"training_rate_per_year": {"all": {2021: 0.5}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "training_wage_uplift": (
        {"training_wage_uplift": {2021: 0.5}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "wage_arrears_share": (
        {"wage_arrears_share": {"all": {2021: 0.4}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        -1,
        None,
    ),
    # the lever's first effect: renting in Taiyuan gets cheaper for migrants, so more live there (2029: +4% at
    # this scale). Its settlement channel (settle_public_rental) adds a few hundred settlers over 2021-2029,
    # within the seed noise of the city's settlement count at this scale (docs/settlement.md has its size).
    "public_rental_units_per_year": (
        {"public_rental_units_per_year": {"Taiyuan": {2021: 60000}}},
        "migrants",
        "city",
        "Taiyuan",
        +1,
        None,
    ),
    "public_rental_share": (
        {"public_rental_share": {"all": {2021: 0.8}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "rent_subsidy_yuan_month": (
        {"rent_subsidy_yuan_month": {"all": {2021: 1500}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "insurance_enrolment_migrants": (
        {"insurance_enrolment_migrants": {"all": {2021: 1.0}}},
        "hukou_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "housing_supply_response": (
        {"housing_supply_response": {"all": {2021: 1.0}}},
        "rent_yuan_month",
        "city",
        "Taiyuan",
        -1,
        None,
    ),
    "fiscal_transfer_yuan_per_settler": (
        {"fiscal_transfer_yuan_per_settler": {2021: 200000}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "capacity_cost_yuan_per_migrant": (
        {"fiscal_transfer_yuan_per_settler": {2021: 100000}, "capacity_cost_yuan_per_migrant": {2021: 1000000}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        -1,
        {"fiscal_transfer_yuan_per_settler": {2021: 100000}},
    ),
    "land_protection_share": (
        {"land_protection_share": {2021: 1.0}},
        "hukou_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "jobs_growth_pct_year": (
        {"jobs_growth_pct_year": {"county_seat": {2021: 8}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "specialized_town_jobs_per_year": (
        {"specialized_town_jobs_per_year": {2021: 200000}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "park_wage_premium": (
        {"park_wage_premium": {"county_seat": {2021: 0.3}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "returnee_support_yuan_month": (
        {"returnee_support_yuan_month": {2021: 3000}},
        "out_of_province",
        "province",
        "Shanxi",
        -1,
        None,
    ),
    "county_seat_service_level": (
        {"county_seat_service_level": {2021: 1.0}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "rural_service_level": (
        {"rural_service_level": {2021: 1.0}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        -1,
        None,
    ),
    "standard_land_jobs_pct_year": (
        {"standard_land_jobs_pct_year": {"county_seat": {2021: 8}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "county_investment_multiplier": (
        {"county_investment_multiplier": {2021: 2.0}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        PLAN["A2"],
    ),
    "job_relocation_pct_year": (
        {"job_relocation_pct_year": {2021: 10}},
        "population",
        "county",
        "Pingcheng District",
        -1,
        None,
    ),
    "metro_jobs_growth_pct_year": (  # the cities of Taiyuan's cores and the five cluster towns
        {"metro_jobs_growth_pct_year": {2021: 8}},
        "population",
        "city",
        ("Taiyuan", "Jinzhong", "Xinzhou", "Lüliang"),
        +1,
        None,
    ),
    "metro_travel_time_cut": ({"metro_travel_time_cut": {2021: 0.8}}, "moved_in", "city", "Taiyuan", +1, None),
    "metro_core_job_shift_pct_year": (
        {"metro_core_job_shift_pct_year": {2021: 10}},
        "population",
        "city",
        "Taiyuan",
        -1,
        None,
    ),
    "metro_service_portability": (
        {"metro_service_portability": {2021: 1.0}},
        "population",
        "city",
        "Taiyuan",
        +1,
        None,
    ),
    "metro_wage_convergence_pct_year": (
        {"metro_wage_convergence_pct_year": {2021: 20}},
        "population",
        "county",
        "Xiaoyi",
        +1,
        None,
    ),
    "old_compound_renovated_share": (
        {"old_compound_renovated_share": {"all": {2021: 1.0}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "affordable_sale_units_per_year": (
        {"affordable_sale_units_per_year": {"Taiyuan": {2021: 60000}}},
        "migrants_settled",
        "city",
        "Taiyuan",
        +1,
        None,
    ),
    "urban_village_units_per_year": (
        {"urban_village_units_per_year": {"Taiyuan": {2021: 60000}}},
        "rent_yuan_month",
        "city",
        "Taiyuan",
        +1,
        None,
    ),
    "dual_use_resilience": ({**FLOOD, "dual_use_resilience": {2021: 1.0}}, "population", "city", "Taiyuan", +1, FLOOD),
    "flood_resilience": ({**FLOOD, "flood_resilience": {2021: 1.0}}, "population", "city", "Linfen", +1, FLOOD),
    "smart_city_efficiency": (
        {"smart_city_efficiency": {2021: 0.5}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "amenity_index": (
        {"amenity_index": {"all": {2021: 1.0}}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "urban_renewal_funding_multiplier": (
        {"urban_renewal_funding_multiplier": {2021: 2.0}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        PLAN["A4"],
    ),
    "governance_service_bonus": (
        {"governance_service_bonus": {2021: 0.2}},
        "resident_urbanization_rate_pct",
        "province",
        "Shanxi",
        +1,
        None,
    ),
    "shock_job_loss_pct": ({"shock_job_loss_pct": {"Datong": {2022: 50}}}, "population", "city", "Datong", -1, None),
    "flood_displaced_share": (FLOOD, "moved_in@2022", "province", "Shanxi", +1, None),
}


@cache
def _run(levers_repr: str, scenario: str = "baseline") -> pd.DataFrame:
    m = ShanxiModel(scale=SCALE, rng=SEED, scenario_name=scenario, levers=eval(levers_repr))  # noqa: S307 - test data
    m.run()
    return pd.DataFrame(m.indicator_rows())


def _value(df, indicator, level, region):
    """The 2029 value, or the 2021-2029 sum for flows; `indicator@year` for one year's value."""
    indicator, _, year = indicator.partition("@")
    regions = region if isinstance(region, tuple) else (region,)  # a tuple of regions: their sum
    d = df[(df.indicator == indicator) & (df.level == level) & df.region.isin(regions)]
    if year:
        return d[d.year == int(year)].value.sum()
    if indicator in ("migrants_settled", "moved_in"):
        return d[d.year >= 2021].value.sum()
    return d[d.year == 2029].value.sum()


def test_every_clause_of_the_catalogue_is_a_lever():
    text = (ROOT / "docs" / "POLICY-LEVERS.md").read_text(encoding="utf-8")
    clauses = set(re.findall(r"^\| (A\d\.\d+[a-z]?(?:-\d+)?) \|", text, flags=re.M))
    assert len(clauses) >= 30
    levers = load_levers()
    covered = {v["clause"] for v in levers.values()}
    assert clauses <= covered, f"clauses without a lever: {sorted(clauses - covered)}"
    for name, spec in levers.items():
        for key in ("clause", "clause_zh", "unit", "range", "by", "baseline", "source", "mechanism"):
            assert key in spec, f"{name} lacks {key}"
        lo, hi = spec["range"]
        base = spec["baseline"]
        for v in base.values() if isinstance(base, dict) else [base]:
            assert lo <= v <= hi, f"{name}: baseline {v} outside [{lo}, {hi}]"
        if "cost" in spec:
            assert spec["cost"]["unit_cost_yuan"] > 0 and spec["cost"]["source"]


def test_every_lever_has_a_mechanism_test():
    assert set(MECHANISMS) == set(load_levers())


def test_a_scenario_that_changes_nothing_is_identical_to_the_baseline():
    """Common random numbers: same seed, no change -> exactly zero difference."""
    base = _run("{}")
    same = _run(repr({"rent_subsidy_yuan_month": {"all": {2025: 0}}}))  # set to its baseline value
    pd.testing.assert_frame_equal(base, same)
    late = _run(repr({"rent_subsidy_yuan_month": {"all": {2029: 0}}, "land_protection_share": {2026: 0.5}}))
    pd.testing.assert_frame_equal(base, late)


@pytest.mark.parametrize("lever", sorted(MECHANISMS))
def test_raising_the_lever_moves_its_target(lever):
    levers, indicator, level, region, sign, reference = MECHANISMS[lever]
    if isinstance(reference, str):  # an action's scenario: the lever scales it
        test, ref = _run(repr(levers), reference), _run("{}", reference)
    else:
        test, ref = _run(repr(levers)), _run(repr(reference or {}))
    a, b = _value(test, indicator, level, region), _value(ref, indicator, level, region)
    assert sign * (a - b) > 0, (
        f"{lever}: {indicator} {region} {a:.4f} vs {b:.4f}, expected {'up' if sign > 0 else 'down'}"
    )


def test_lever_docs_page_is_generated_from_the_dictionary():
    from sim.reporting.docs import main

    assert main(["--check"]) == 0, "docs/levers.md or docs/parameters.md is not current: run python -m sim docs"


def test_every_spending_lever_is_costed_by_the_model():
    import numpy as np

    m = ShanxiModel(scale=0.0005, rng=1, scenario_name="plan", end_year=2025)
    m.run()
    df = pd.DataFrame(m.indicator_rows())
    spending = {k for k, v in load_levers().items() if "cost" in v}
    reported = {
        i[len("cost_") : -len("_yuan")]
        for i in df.indicator.unique()
        if i.startswith("cost_") and i != "cost_total_yuan"
    }
    assert spending == reported
    prov = df[(df.level == "province") & (df.year == 2025)].set_index("indicator").value
    parts = sum(prov[f"cost_{k}_yuan"] for k in spending)
    assert np.isclose(prov["cost_total_yuan"], parts)
    assert prov["cost_total_yuan"] > 0
    base = ShanxiModel(scale=0.0005, rng=1, end_year=2025)
    base.run()
    bdf = pd.DataFrame(base.indicator_rows())
    assert (bdf[bdf.indicator.str.startswith("cost_")].value == 0).all(), "the baseline spends nothing extra"


def test_every_cost_says_what_it_multiplies():
    """A costed lever names how much of it is paid for, per what amount, of which quantity, where."""
    from sim.economy.costs import OF, QUANTITIES, WHERE

    for name, spec in load_levers().items():
        assert {"zh", "en"} <= set(spec["label"]), name
        cost = spec.get("cost")
        if cost:
            assert cost["of"] in OF and cost["quantity"] in QUANTITIES and cost["where"] in WHERE, name
            assert float(cost["per"]) > 0 and float(cost["unit_cost_yuan"]) > 0 and cost["source"], name
