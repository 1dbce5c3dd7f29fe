"""The evaluation report (sim/reporting/report.py) and the CJK font (sim/reporting/fonts.py), without a browser."""

import json
import re
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from sim.reporting import report
from sim.reporting.fonts import cjk_font_path, font_face_css, use_cjk_font

# ----------------------------------------------------------------------------- the font


def test_a_cjk_font_file_is_found():
    path = cjk_font_path()
    assert path is not None and path.is_file(), "no CJK font: pip install mplfonts (the report extra)"
    assert path.stat().st_size > 1_000_000


def test_chinese_labels_render_without_missing_glyphs():
    """matplotlib warns 'Glyph ... missing from font(s)' for each character it draws as a box."""
    from matplotlib.figure import Figure

    name = use_cjk_font(required=True)
    assert name
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([2020, 2029], [62.5, 70.0], label="常住人口城镇化率")
    ax.set_title("山西省新型城镇化 太原都市圈 县城 −1.5 百分点")
    ax.set_xlabel("年末")
    ax.legend()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(__import__("io").BytesIO(), format="png")
    missing = [str(w.message) for w in caught if "missing" in str(w.message).lower()]
    assert not missing, missing


def test_font_face_subset_is_small_and_embedded():
    css = font_face_css("山西省城镇化")
    assert css.startswith("@font-face") and "base64," in css
    assert len(css) < 60_000  # a subset, not the 16 MB font


# ----------------------------------------------------------------------------- the rules


def _series(**cols):
    return {k: pd.Series(v) for k, v in cols.items()}


def test_resident_rate_light_follows_the_path_to_70():
    nat = {2027: 69.0, 2029: 70.5}
    s = _series(resident={2024: 65.0, 2027: 68.0, 2029: 69.6})
    assert report.judge("resident_rate", s, 2027, nat) == "green"  # path 68.0
    assert report.judge("resident_rate", s, 2029, nat) == "green"  # 69.6 >= 69.5
    s = _series(resident={2024: 65.0, 2027: 67.0, 2029: 68.6})
    assert report.judge("resident_rate", s, 2027, nat) == "amber"  # 1.0 below the path
    assert report.judge("resident_rate", s, 2029, nat) == "amber"
    s = _series(resident={2024: 65.0, 2027: 65.5, 2029: 66.0})
    assert report.judge("resident_rate", s, 2029, nat) == "red"
    assert report.judge("resident_rate", _series(resident={2027: 66.0}), 2027, nat) == "na"


def test_gap_county_metro_and_national_lights():
    nat = {2027: 69.0, 2029: 70.5}
    assert report.judge("national", _series(resident={2029: 70.6}), 2029, nat) == "green"
    assert report.judge("national", _series(resident={2029: 69.0}), 2029, nat) == "amber"
    assert report.judge("national", _series(resident={2029: 66.0}), 2029, nat) == "red"
    assert report.judge("gap", _series(gap={2024: 18.0, 2029: 16.9}), 2029, nat) == "green"
    assert report.judge("gap", _series(gap={2024: 18.0, 2029: 17.5}), 2029, nat) == "amber"
    assert report.judge("gap", _series(gap={2024: 18.0, 2029: 18.2}), 2029, nat) == "red"
    assert report.judge("county", _series(county_rate={2024: 45.0, 2027: 46.6}), 2027, nat) == "green"
    assert report.judge("county", _series(county_rate={2024: 45.0, 2027: 45.2}), 2027, nat) == "amber"
    assert report.judge("county", _series(county_rate={2024: 45.0, 2027: 44.9}), 2027, nat) == "red"
    metro = dict(metro_share={2024: 36.0, 2029: 36.5}, metro_pop={2024: 12.5e6, 2029: 12.6e6})
    assert report.judge("metro", _series(**metro), 2029, nat) == "green"
    metro["metro_pop"] = {2024: 12.5e6, 2029: 12.4e6}
    assert report.judge("metro", _series(**metro), 2029, nat) == "amber"
    metro["metro_share"] = {2024: 36.0, 2029: 35.9}
    assert report.judge("metro", _series(**metro), 2029, nat) == "red"


def test_national_projection_extends_the_observed_series():
    from sim.world.inputs import load_province_series

    values, slope = report.national_projection(load_province_series())
    assert 0 < slope < 2
    assert values[2027] < values[2029]
    assert 2027 in values and 2029 in values


def test_command_line_parsing():
    o = report.parse_args(["some/dir", "lang=en", "--scenario", "plan", "--out=/tmp/x.html"])
    assert o == {"folder": "some/dir", "lang": "en", "scenario": "plan", "out": "/tmp/x.html", "pdf": False}
    assert report.parse_args(["d", "pdf=true"])["pdf"] is True
    assert report.parse_args(["d"])["lang"] == "zh"
    with pytest.raises(SystemExit):
        report.parse_args(["d", "lang=fr"])
    with pytest.raises(SystemExit):
        report.parse_args(["d", "colour=red"])


# ----------------------------------------------------------------------------- a tiny run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One complete run folder of the plan at scale 0.002 (about 15 s)."""
    from sim.config import compose, to_dict
    from sim.runs.run import run_to_folder

    root = tmp_path_factory.mktemp("report")
    cfg = to_dict(compose(["population.scale=0.002", "seed=42", "scenario=plan", "run.progress=none"]))
    run_to_folder(cfg, root / "sweep" / "plan_seed42")
    return root / "sweep" / "plan_seed42"


def _other_seed(run, dest, seed, shift):
    """A copy of `run` as if made with another seed: every rate moved by `shift` pp."""
    shutil.copytree(run, dest)
    t = pd.read_parquet(dest / "indicators.parquet")
    t["seed"] = seed
    rates = t.indicator.str.endswith("_pct")
    t.loc[rates, "value"] += shift
    t.to_parquet(dest / "indicators.parquet", index=False)
    man = json.loads((dest / "manifest.json").read_text())
    man["seed"] = seed
    (dest / "manifest.json").write_text(json.dumps(man))


def _html_text(html):
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", " ", html, flags=re.S))


def test_report_of_one_run_is_self_contained_and_chinese(tiny_run):
    res = report.build(tiny_run)  # the default language is Chinese
    html = res.path.read_text(encoding="utf-8")
    assert res.path == tiny_run / "report.html"
    assert res.glyph_warnings == [], res.glyph_warnings
    assert '<html lang="zh-CN">' in html
    text = _html_text(html)
    for words in (
        "中期与总结评估",
        "常住人口城镇化率接近70%",
        "太原都市圈",
        "县域城镇化率",
        "政策成本",
        "单一随机种子",
        "未找到验证运行",
        "python -m sim validate",
        "数据来源与可追溯信息",
    ):
        assert words in text, words
    # self-contained: no external resource, every image embedded, the CJK glyphs embedded
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "<link" not in html and "<script" not in html
    imgs = re.findall(r"<img [^>]*src='([^']+)'", html)
    assert len(imgs) >= 6 and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert "@font-face" in html and "font/otf;base64," in html
    # the lights and the provenance footer
    assert {s for lt in res.lights for s in lt.status.values()} <= {"green", "amber", "red", "na"}
    assert len(res.lights) == 5
    man = json.loads((tiny_run / "manifest.json").read_text())
    assert (man["git"]["commit"] or "?")[:12] in html
    assert "scenario=plan seed=42 population.scale=0.002" in html


@pytest.mark.slow
def test_report_in_english_with_seeds_scenarios_and_validation(tiny_run, tmp_path):
    folder = tmp_path / "sweep"
    shutil.copytree(tiny_run, folder / "plan_seed42")
    _other_seed(tiny_run, folder / "plan_seed43", 43, 0.3)
    base = folder / "baseline_seed42"
    _other_seed(tiny_run, base, 42, -0.5)
    t = pd.read_parquet(base / "indicators.parquet")
    t["scenario"] = "baseline"
    t.loc[t.indicator.str.startswith("cost_"), "value"] = 0.0
    t.to_parquet(base / "indicators.parquet", index=False)
    man = json.loads((base / "manifest.json").read_text())
    man["scenario"] = "baseline"
    (base / "manifest.json").write_text(json.dumps(man))
    (folder / "broken_run").mkdir()  # incomplete: no manifest
    (folder / "broken_run" / "indicators.csv").write_text("x\n")
    val = folder / "validation"  # a validation run's outputs
    val.mkdir()
    pd.DataFrame(
        [
            ("model.mae", "calibration", f"province:Shanxi:{report.RESIDENT}", 0.35),
            ("model.mae", "validation", f"province:Shanxi:{report.RESIDENT}", 0.25),
            ("urgd.mae", "validation", f"province:Shanxi:{report.RESIDENT}", 0.29),
        ],
        columns=["metric", "window", "target", "value"],
    ).to_csv(val / "validation_metrics.csv", index=False)
    (val / "manifest.json").write_text(
        json.dumps(
            {
                "complete": True,
                "kind": "validation",
                "windows": {"calibration": [2021, 2022], "validation": [2023]},
                "patterns": {"a": "PASS"},
            }
        )
    )
    res = report.build(folder, lang="en")
    assert res.scenario == "plan" and res.seeds == [42, 43]
    html = res.path.read_text(encoding="utf-8")
    text = _html_text(html)
    for words in (
        "mid-term and final evaluation",
        "Scenarios compared",
        "green share",
        "P5-P95",
        "calibration (2021, 2022) 0.35 pp",
        "URGD 0.29",
        "(a) PASS",
        "Skipped 1 incomplete run",
    ):
        assert words in text, words
    assert res.glyph_warnings == []
    assert all(0.0 <= lt.green_share[2029] <= 1.0 for lt in res.lights)
    # the same folder, the reference scenario chosen explicitly
    res_b = report.build(folder, lang="zh", scenario="baseline", out=tmp_path / "b.html")
    assert res_b.scenario == "baseline" and (tmp_path / "b.html").exists()


@pytest.mark.slow
def test_command_line_writes_report_html(tiny_run, tmp_path):
    from tests.conftest import run_cli

    out = tmp_path / "r.html"
    proc = run_cli("sim", "report", str(tiny_run), "lang=en", f"out={out}", timeout=300)
    assert out.exists() and "Shanxi new-type urbanization plan" in out.read_text(encoding="utf-8")
    assert "2027/2029" in proc.stdout
    bad = run_cli("sim", "report", str(tmp_path / "nothing_here"), check=False, timeout=120)
    assert bad.returncode != 0 and "not a folder" in bad.stderr


def test_derived_county_and_metro_indicators(tiny_run):
    from sim.world.geography import load_geography

    geo = load_geography()
    t = pd.read_parquet(tiny_run / "indicators.parquet")
    d = report.derived(t, geo).xs("plan", level="scenario").xs(42, level="seed")
    assert ((d.county_rate > 10) & (d.county_rate < 90)).all()
    assert ((d.metro_share > 20) & (d.metro_share < 60)).all()
    assert np.allclose(d.seat_share, 100 * d.seat_pop / d.population)
    # the county-level urban population adds up (within rounding) to the province's
    county = t[(t.level == "county") & (t.year == 2029)].pivot_table(
        index="region", columns="indicator", values="value"
    )
    urban = (county[report.RESIDENT] / 100 * county.population).sum()
    assert urban / d.loc[2029, "population"] * 100 == pytest.approx(d.loc[2029, "resident"], abs=0.05)


def test_cost_section_splits_the_plan_by_action_when_attributed(tiny_run, tmp_path):
    """With attribution.csv (python -m sim attribute --out <folder>) the cost section gives yuan per extra
    urban resident by action, only where the action's share clears zero."""
    folder = tmp_path / "attributed"
    shutil.copytree(tiny_run, folder / "plan_seed42")
    rows = []
    for member, noise in enumerate((0.0, 0.02, -0.02)):
        for action, pp, cost in (("action1_citizenization", 1.5, 1100.0), ("action3_taiyuan_metro", 0.0, 800.0)):
            rows += [
                dict(member=member, outcome="resident_2029_pct", action=action, shapley=pp + noise, alone=pp),
                dict(member=member, outcome="cost_2025_2029_yuan_1e8", action=action, shapley=cost, alone=cost),
            ]
        for name, pp, cost in (("interaction", 0.1, 50.0), ("total", 1.6 + noise, 1950.0)):
            rows += [
                dict(member=member, outcome="resident_2029_pct", action=name, shapley=pp, alone=None),
                dict(member=member, outcome="cost_2025_2029_yuan_1e8", action=name, shapley=cost, alone=None),
            ]
    pd.DataFrame(rows).to_csv(folder / "plan_seed42" / "attribution.csv", index=False)
    res = report.build(folder / "plan_seed42", lang="en")
    text = _html_text(res.path.read_text(encoding="utf-8"))
    assert "yuan per extra urban resident" in text and "median over 3 members" in text
    line = re.search(r"action1_citizenization\s+\+1\.50\s+\S+ – \S+\s+110\.0\s+([\d,]+)", text)
    assert line, text[text.find("By action") : text.find("By action") + 600]
    assert 150_000 < int(line.group(1).replace(",", "")) < 300_000  # 1,100 亿 over 1.5% of ~34 M people
    assert re.search(r"action3_taiyuan_metro\s+[+-]0\.0\d\s+\S+ – \S+\s+80\.0\s+-", text)  # no clear effect: no ratio


def test_an_ensembles_light_is_that_of_its_members():
    assert report.ensemble_light(["green", "green", "red"]) == "green"  # P(on track) = 2/3
    assert report.ensemble_light(["green", "amber", "red", "red"]) == "amber"  # half green or amber
    assert report.ensemble_light(["green", "red", "red"]) == "red"
    assert report.ensemble_light(["na", "na"]) == "na" and report.ensemble_light(["na", "green"]) == "green"


def test_the_summary_says_when_the_plan_misses(tiny_run, tmp_path):
    """With discovery.md (python -m sim discover --out <folder>) the summary gives its sentence."""
    folder = tmp_path / "discovered" / "plan_seed42"
    shutil.copytree(tiny_run, folder)
    sentence = "The plan misses 70% by 2029 when action1_citizenization is not delivered (90% of such runs miss)."
    (folder / "discovery.md").write_text(f"# Scenario discovery\n\n**{sentence}**\n", encoding="utf-8")
    assert report.discovery_sentence(folder) == sentence
    text = _html_text(report.build(folder, lang="en").path.read_text(encoding="utf-8"))
    assert "Scenario discovery (python -m sim discover, PRIM): " + sentence in text
    assert report.discovery_sentence(tiny_run) is None
