"""Interactive dashboard: move the plan's main levers and watch Shanxi urbanize, month by month.

    solara run sim/app.py                       # then open http://localhost:8765
    SHANXI_DASHBOARD_SCALE=0.005 solara run sim/app.py --port 8800

A Mesa SolaraViz app over a reduced-scale model (default 0.2% of households, `SHANXI_DASHBOARD_SCALE`;
seed 42, `SHANXI_DASHBOARD_SEED`). In the sidebar: choose a scenario and move the lever sliders,
then press **Reset** to build the model with them; **Step** advances one month, ▶ plays, and the
buttons of the summary card run a year or straight to December 2029. The charts (aggregates only)
set the run against the baseline scenario, computed once at start-up at the same scale and seed
(common random numbers, so the difference is the levers' effect, not noise):

* province resident and hukou urbanization rates, monthly, with the 2029 target (close to 70%);
* the 11 cities' resident rates, year ends;
* migrants who took local hukou, per year, and the public cost of the levers above the baseline.

A slider left at its starting position (the lever's 2024 baseline value) keeps the scenario's own
schedule for that lever; moved anywhere else, it sets the lever from 2025 on (replacing the
scenario's schedule of that lever). The card lists the levers in force.

Needs the `dashboard` extra (mesa[rec], ipyvuetify<3) and, offline, Solara's asset cache filled by
`python -m sim.reporting.dashboard_assets` (`make dashboard` does both).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import solara  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mesa.visualization import SolaraViz, solara_viz  # noqa: E402
from mesa.visualization.utils import force_update, update_counter  # noqa: E402

from scenarios.compile import load_levers  # noqa: E402
from sim.config import compose, to_dict  # noqa: E402
from sim.model import ShanxiModel  # noqa: E402
from sim.places import FINAL_YEAR, PLAN_YEARS, TARGET_RESIDENT_RATE_PCT, month_calendar  # noqa: E402
from sim.reporting.fonts import CSS_FAMILY, font_face_css, use_cjk_font  # noqa: E402
from sim.reporting.tables import number  # noqa: E402
from sim.runs.logs import quiet_libraries  # noqa: E402
from sim.world.geography import province_geography  # noqa: E402

log = logging.getLogger("sim.app")
quiet_libraries()

SCALE = float(os.environ.get("SHANXI_DASHBOARD_SCALE", "0.002"))
SEED = int(os.environ.get("SHANXI_DASHBOARD_SEED", "42"))
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "conf" / "scenario"
SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml") if not p.stem.startswith("action")) + sorted(
    p.stem for p in SCENARIO_DIR.glob("action*.yaml")
)
LEVERS = load_levers()


def _baseline_value(lever: str) -> float:
    b = LEVERS[lever]["baseline"]
    return float(b if not isinstance(b, dict) else b.get("county_seat", next(iter(b.values()))))


# (keyword, lever, region or None for a province-wide lever, slider maximum, step); a slider moved off
# the lever's baseline sets the lever in that region from the plan's first year on
SLIDERS = [
    ("rent_subsidy", "rent_subsidy_yuan_month", "all", 1000, 50),
    ("taiyuan_public_rental", "public_rental_units_per_year", "Taiyuan", 50000, 2500),
    ("land_protection", "land_protection_share", None, 1.0, 0.05),
    ("school_access", "school_access_migrant_children", "all", 1.0, 0.05),
    ("county_seat_service", "county_seat_service_level", None, 1.0, 0.05),
    ("rural_service", "rural_service_level", None, 1.0, 0.05),
]
SLIDER_DEFAULTS = {kw: _baseline_value(lever) for kw, lever, *_ in SLIDERS}

CITY_ZH = dict(zip(province_geography().city_name_en, province_geography().city_name_zh))  # city names, zh


def slider_label(lever: str, region: str | None) -> str:
    """The lever's own label (scenarios/levers.yaml), zh and en, with its region and unit."""
    label, unit = LEVERS[lever]["label"], LEVERS[lever]["unit"]
    if region in (None, "all"):
        return f"{label['zh']} {label['en']} ({unit})"
    return f"{CITY_ZH[region]}{label['zh']} {region} {label['en']} ({unit})"


def lever_overrides(**sliders) -> dict:
    """Lever overrides (the model's `levers=` format) of the sliders moved off their baseline value."""
    out = {}
    for kw, lever, region, hi, _step in SLIDERS:
        v = sliders.get(kw)
        if v is None or abs(float(v) - SLIDER_DEFAULTS[kw]) < 1e-9:
            continue
        v = float(min(max(float(v), LEVERS[lever]["range"][0]), hi))
        v = int(v) if v.is_integer() and hi > 1 else v
        out[lever] = {PLAN_YEARS[0]: v} if region is None else {region: {PLAN_YEARS[0]: v}}
    return out


class DashboardModel(ShanxiModel):
    """ShanxiModel with the dashboard's slider values as keyword arguments (SolaraViz passes them)."""

    def __init__(
        self,
        scenario_name: str = "baseline",
        rent_subsidy: float = SLIDER_DEFAULTS["rent_subsidy"],
        taiyuan_public_rental: float = SLIDER_DEFAULTS["taiyuan_public_rental"],
        land_protection: float = SLIDER_DEFAULTS["land_protection"],
        school_access: float = SLIDER_DEFAULTS["school_access"],
        county_seat_service: float = SLIDER_DEFAULTS["county_seat_service"],
        rural_service: float = SLIDER_DEFAULTS["rural_service"],
        scale: float = SCALE,
        seed: int = SEED,
        rng=None,
    ):
        self.slider_values = dict(
            rent_subsidy=rent_subsidy,
            taiyuan_public_rental=taiyuan_public_rental,
            land_protection=land_protection,
            school_access=school_access,
            county_seat_service=county_seat_service,
            rural_service=rural_service,
        )
        self.overrides = lever_overrides(**self.slider_values)
        seed = int(seed if rng is None else rng)
        super().__init__(config=_config(scale, seed, scenario_name), levers=self.overrides or None)

    def run_months(self, n: int) -> None:
        for _ in range(n):
            if not self.running:
                break
            self.step()


# ----------------------------------------------------------------------------- the baseline, once

_COMPOSE_LOCK = threading.Lock()


def _config(scale: float, seed: int, scenario_name: str) -> dict:
    """The model's config; Hydra's compose is not thread-safe (the baseline builds in a thread)."""
    with _COMPOSE_LOCK:
        return to_dict(
            compose(
                [
                    f"population.scale={scale}",
                    f"seed={seed}",
                    f"scenario={scenario_name}",
                    f"run.end_year={FINAL_YEAR}",
                    "run.progress=none",
                ]
            )
        )


class _Baseline:
    """The baseline run at the dashboard's scale and seed, computed once in a background thread."""

    def __init__(self, scale: float, seed: int):
        self.scale, self.seed = scale, seed
        self._done = threading.Event()
        self.monthly: pd.DataFrame | None = None
        self.rows: pd.DataFrame | None = None
        self.error: str | None = None
        threading.Thread(target=self._run, name="baseline", daemon=True).start()

    def _run(self):
        try:
            m = ShanxiModel(config=_config(self.scale, self.seed, "baseline"))
            m.run()
            self.monthly = m.datacollector.get_model_vars_dataframe().reset_index(drop=True)
            self.rows = pd.DataFrame(m.indicator_rows())
        except Exception as e:  # shown on the page, not swallowed
            log.exception("baseline run failed")
            self.error = repr(e)
        finally:
            self._done.set()

    def get(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


_BASELINES: dict[tuple, _Baseline] = {}
_LOCK = threading.Lock()


def baseline(scale: float = SCALE, seed: int = SEED) -> _Baseline:
    with _LOCK:
        if (scale, seed) not in _BASELINES:
            _BASELINES[(scale, seed)] = _Baseline(scale, seed)
        return _BASELINES[(scale, seed)]


# ----------------------------------------------------------------------------- numbers of a run

ROW_COLUMNS = ["year", "level", "region", "indicator", "value"]  # model.rows are tuples of these


def _frame(rows: list | pd.DataFrame | None) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        return rows
    return pd.DataFrame(list(rows or []), columns=ROW_COLUMNS)


def province_table(rows: list | pd.DataFrame) -> pd.DataFrame:
    df = _frame(rows)
    if df.empty:
        return pd.DataFrame()
    prov = df[df.level == "province"]
    return prov.pivot_table(index="year", columns="indicator", values="value")


def city_table(rows: list | pd.DataFrame) -> pd.DataFrame:
    df = _frame(rows)
    if df.empty:
        return pd.DataFrame()
    c = df[(df.level == "city") & (df.indicator == "resident_urbanization_rate_pct")]
    return c.pivot_table(index="year", columns="region", values="value")


def summary(model: DashboardModel) -> dict:
    """The numbers of the summary card: now, baseline at the same month, difference."""
    y, moy = month_calendar(max(model.month - 1, 0))
    base = baseline(model.scale, model.seed)
    out = {
        "month": f"{y}-{moy:02d}",
        "months": model.month,
        "n_months": model.n_months,
        "resident": model.province_rate("resident"),
        "hukou": model.province_rate("hukou"),
    }
    prov = province_table(model.rows)
    since = [yr for yr in range(PLAN_YEARS[0], FINAL_YEAR + 1) if yr in prov.index]
    out["settled"] = float(prov.loc[since, "migrants_settled"].sum()) if since else 0.0
    out["cost_yi"] = float(prov.loc[since, "cost_total_yuan"].sum()) / 1e8 if since else 0.0
    out["base_resident"] = out["base_hukou"] = out["base_settled"] = np.nan
    if base.get(0) and base.monthly is not None and model.month > 0:
        row = base.monthly.iloc[min(model.month, len(base.monthly)) - 1]
        out["base_resident"] = float(row["resident_urbanization_rate_pct"])
        out["base_hukou"] = float(row["hukou_urbanization_rate_pct"])
        bprov = province_table(base.rows)
        out["base_settled"] = float(bprov.loc[since, "migrants_settled"].sum()) if since else 0.0
    elif model.month == 0:
        out["base_resident"], out["base_hukou"], out["base_settled"] = out["resident"], out["hukou"], 0.0
    return out


# ----------------------------------------------------------------------------- charts


def _fig(w=6.4, h=3.6) -> Figure:
    use_cjk_font()
    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def province_figure(model: DashboardModel) -> Figure:
    fig = _fig()
    ax = fig.add_subplot()
    base = baseline(model.scale, model.seed)
    if base.get(0) and base.monthly is not None:
        b = base.monthly
        ax.plot(b.year, b.resident_urbanization_rate_pct, "--", color="0.55", lw=1.2, label="基线 baseline 常住")
        ax.plot(b.year, b.hukou_urbanization_rate_pct, ":", color="0.55", lw=1.2, label="基线 baseline 户籍")
    m = model.datacollector.get_model_vars_dataframe()
    if len(m):
        ax.plot(m.year, m.resident_urbanization_rate_pct, color="tab:blue", lw=2, label="常住人口城镇化率 resident")
        ax.plot(m.year, m.hukou_urbanization_rate_pct, color="tab:orange", lw=2, label="户籍人口城镇化率 hukou")
    ax.axhline(TARGET_RESIDENT_RATE_PCT, color="tab:red", ls="--", lw=1)
    ax.text(2020.9, TARGET_RESIDENT_RATE_PCT + 0.5, "2029目标 接近70% target", color="tab:red", fontsize=8)
    ax.set_xlim(2020.8, 2030.05)
    ax.set_ylim(40, 74)
    ax.set_ylabel("%")
    moved = " + 杠杆 sliders" if model.overrides else ""
    ax.set_title(f"全省城镇化率 Shanxi urbanization rate — {model.scenario_name}{moved}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    return fig


def cities_figure(model: DashboardModel) -> Figure:
    fig = _fig(6.4, 4.6)
    axes = fig.subplots(3, 4, sharex=True, sharey=True)
    cur = city_table(model.rows)
    base = baseline(model.scale, model.seed)
    btab = city_table(base.rows) if base.get(0) and base.rows is not None else pd.DataFrame()
    for ax, (c, en) in zip(axes.flat, enumerate(model.geo.city_name_en)):
        start = 100 * model.geo.city_urban_share_2020[c]
        if en in btab:
            ax.plot(btab.index, btab[en], "--", color="0.55", lw=1)
        if en in cur:
            ax.plot(cur.index, cur[en], color="tab:blue", lw=1.6)
        ax.plot([2020.83], [start], "k.", ms=3)
        ax.set_title(f"{CITY_ZH.get(en, en)} {en}", fontsize=7, pad=2)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
        ax.set_xlim(2020.5, 2029.5)
    ax = axes.flat[-1]
    ax.axis("off")
    ax.text(0.0, 0.6, "— 本次 this run\n-- 基线 baseline", fontsize=7, transform=ax.transAxes)
    fig.suptitle("各市常住人口城镇化率 % (年末) city resident rates", fontsize=9)
    return fig


def settled_cost_figure(model: DashboardModel) -> Figure:
    fig = _fig(6.4, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    cur = province_table(model.rows)
    base = baseline(model.scale, model.seed)
    bp = province_table(base.rows) if base.get(0) and base.rows is not None else pd.DataFrame()
    years = np.arange(2021, FINAL_YEAR + 1)
    if "migrants_settled" in bp:
        ax1.bar(
            years - 0.2,
            [bp["migrants_settled"].get(y, np.nan) / 1e4 for y in years],
            0.4,
            color="0.7",
            label="基线 baseline",
        )
    if "migrants_settled" in cur:
        ax1.bar(
            years + 0.2,
            [cur["migrants_settled"].get(y, np.nan) / 1e4 for y in years],
            0.4,
            color="tab:green",
            label="本次 this run",
        )
    ax1.set_title("落户人数 migrants settled, 万/年", fontsize=9)
    ax1.legend(fontsize=7)
    ax1.tick_params(labelsize=7)
    ax1.grid(alpha=0.3, axis="y")
    cost_cols = [c for c in cur.columns if c.startswith("cost_") and c != "cost_total_yuan"] if len(cur) else []
    plan_years = [y for y in range(PLAN_YEARS[0], FINAL_YEAR + 1)]
    if cost_cols:
        costs = cur.reindex(plan_years)[cost_cols].fillna(0.0) / 1e8
        costs = costs.loc[:, costs.sum() > 0]
        bottom = np.zeros(len(plan_years))
        for col in costs.columns:
            lever = col[5:-5]
            ax2.bar(
                plan_years,
                costs[col].to_numpy(),
                bottom=bottom,
                label=LEVERS[lever]["label"]["zh"] if lever in LEVERS else lever,
                width=0.6,
            )
            bottom += costs[col].to_numpy()
        if len(costs.columns):
            ax2.legend(fontsize=5.5, loc="upper left")
    ax2.set_title("新增财政成本 extra cost, 亿元/年", fontsize=9)
    ax2.set_xlim(PLAN_YEARS[0] - 0.6, FINAL_YEAR + 0.6)
    ax2.tick_params(labelsize=7)
    ax2.grid(alpha=0.3, axis="y")
    return fig


# ----------------------------------------------------------------------------- components


def _ui_text() -> str:
    """Every CJK character of this file (labels, buttons, titles): the glyphs the page needs."""
    try:
        src = Path(__file__).read_text(encoding="utf-8")
    except (NameError, OSError):
        src = ""
    return (
        "".join(sorted(set(re.findall(r"[\u2e80-\u9fff\u3000-\u30ff\uff00-\uffef]", src))))
        + "".join(CITY_ZH.values())
        + "".join(v["label"]["zh"] for v in LEVERS.values())
    )


UI_TEXT = _ui_text()
# The page's Chinese needs a CJK font in the browser; many machines (CI's too) have none. The
# @font-face rules embed the glyphs of the page's own Chinese text: once as a family of its own and
# once as the CJK range of 'Roboto' (Vuetify's font), so every Vuetify text picks them up.
CSS = (
    font_face_css(UI_TEXT)
    + font_face_css(UI_TEXT, family="Roboto", unicode_range="U+2E80-9FFF, U+3000-30FF, U+FF00-FFEF")
    + f"""
.v-application {{ font-family: Roboto, '{CSS_FAMILY}', 'Noto Sans CJK SC', sans-serif !important; }}
.kpi-head {{ font-size: 14px; }}
.kpi-levers {{ font-size: 12px; color: #555; }}
.kpi td, .kpi th {{ padding: 2px 8px; text-align: right; font-variant-numeric: tabular-nums; }}
.kpi td:first-child, .kpi th:first-child {{ text-align: left; }}
"""
)


@solara.component
def SummaryCard(model: DashboardModel):
    update_counter.get()
    busy, set_busy = solara.use_state(False)
    s = summary(model)

    def run(n):
        set_busy(True)
        try:
            model.run_months(n)
        finally:
            set_busy(False)
            force_update()

    base = baseline(model.scale, model.seed)

    def refresh_when_baseline_done():
        if base.get(900):  # the charts and the card show the baseline as soon as it is there
            force_update()

    solara.use_thread(refresh_when_baseline_done, dependencies=[id(base), base.get(0)])

    solara.Style(CSS)
    with solara.Column(gap="6px"):
        with solara.v.Html(tag="div", class_="kpi-head"):
            solara.v.Html(tag="b", class_="kpi-month", children=[s["month"]])
            solara.v.Html(tag="span", children=[f" · 月份 month {s['months']}/{s['n_months']} · 情景 scenario "])
            solara.v.Html(tag="b", class_="kpi-scenario", children=[model.scenario_name])
            solara.v.Html(tag="span", children=[f" · scale {model.scale:g} · seed {model.seed}"])
        rows = [
            ("常住人口城镇化率 resident rate, %", s["resident"], s["base_resident"], 2, "resident"),
            ("户籍人口城镇化率 hukou rate, %", s["hukou"], s["base_hukou"], 2, "hukou"),
            (
                f"落户人数 settled since {PLAN_YEARS[0]}, 万",
                s["settled"] / 1e4,
                s["base_settled"] / 1e4 if np.isfinite(s["base_settled"]) else np.nan,
                1,
                "settled",
            ),
        ]
        with solara.v.Html(tag="table", class_="kpi"):
            with solara.v.Html(tag="tr"):
                for h in ("", "本次 this run", "基线 baseline", "差值 Δ"):
                    solara.v.Html(tag="th", children=[h])
            for label, v, b, d, key in rows:
                with solara.v.Html(tag="tr"):
                    solara.v.Html(tag="td", children=[label])
                    solara.v.Html(tag="td", class_=f"kpi-{key}", children=[number(v, d)])
                    solara.v.Html(tag="td", class_=f"kpi-{key}-baseline", children=[number(b, d)])
                    solara.v.Html(tag="td", class_=f"kpi-{key}-delta", children=[number(v - b, d, sign=True)])
            with solara.v.Html(tag="tr"):
                solara.v.Html(tag="td", children=[f"新增财政成本 extra cost since {PLAN_YEARS[0]}, 亿元"])
                solara.v.Html(tag="td", class_="kpi-cost", children=[number(s["cost_yi"], 1)])
                solara.v.Html(tag="td", children=["0.0"])
                solara.v.Html(tag="td", children=[number(s["cost_yi"], 1, sign=True)])
        moved = ", ".join(f"{k}={v}" for k, v in model.overrides.items()) or "无 none (scenario as defined)"
        solara.v.Html(
            tag="div", class_="kpi-levers", children=[f"已生效杠杆 sliders in force (from {PLAN_YEARS[0]}): {moved}"]
        )
        if base.error:
            solara.Error(f"baseline run failed: {base.error}")
        elif not base.get(0):
            solara.Info("基线计算中 computing the baseline once (about 15 s)…")
        with solara.Row():
            solara.Button(
                "运行一年 run 1 year",
                color="primary",
                disabled=busy or not model.running,
                on_click=lambda: run(12),
                classes=["run-year"],
            )
            solara.Button(
                "运行到2029 run to 2029",
                color="primary",
                disabled=busy or not model.running,
                on_click=lambda: run(model.n_months),
                classes=["run-to-end"],
            )


@solara.component
def ProvinceChart(model: DashboardModel):
    update_counter.get()
    solara.FigureMatplotlib(province_figure(model), format="png")


@solara.component
def CitiesChart(model: DashboardModel):
    update_counter.get()
    solara.FigureMatplotlib(cities_figure(model), format="png")


@solara.component
def SettledCostChart(model: DashboardModel):
    update_counter.get()
    solara.FigureMatplotlib(settled_cost_figure(model), format="png")


def dashboard_layout(n: int) -> list[dict]:
    """Grid cells (12 columns, rows of 40 px) that fit the card and the three charts."""
    if n != 4:
        return _mesa_layout(n)
    cells = [(0, 0, 6, 11), (6, 0, 6, 11), (0, 11, 6, 10), (6, 11, 6, 10)]
    return [{"i": i, "x": x, "y": y, "w": w, "h": h, "moved": False} for i, (x, y, w, h) in enumerate(cells)]


def model_params() -> dict:
    params = {"scenario_name": {"type": "Select", "value": "baseline", "values": SCENARIOS, "label": "情景 scenario"}}
    for kw, lever, region, hi, step in SLIDERS:
        lo = LEVERS[lever]["range"][0]
        is_int = all(float(x).is_integer() for x in (lo, hi, step))
        params[kw] = {
            "type": "SliderInt" if is_int else "SliderFloat",
            "value": SLIDER_DEFAULTS[kw],
            "min": lo,
            "max": hi,
            "step": step,
            "label": slider_label(lever, region),
        }
        if is_int:
            params[kw]["value"] = int(SLIDER_DEFAULTS[kw])
    params["scale"] = SCALE
    params["seed"] = SEED
    return params


_mesa_layout = solara_viz.make_initial_grid_layout
solara_viz.make_initial_grid_layout = dashboard_layout  # Mesa's default cells (all 6 x 10) cut the charts
baseline(SCALE, SEED)  # start the baseline now, while the first page loads
use_cjk_font()
model = DashboardModel()
page = SolaraViz(
    model,
    components=[SummaryCard, ProvinceChart, CitiesChart, SettledCostChart],
    model_params=model_params(),
    name="山西新型城镇化政策仪表盘 Shanxi urbanization 2025-2029",
    play_interval=50,
)
