"""Ensemble explorer: the results a sweep produced, without running the model.

    SHANXI_SWEEP=outputs/sweeps/full solara run sim/explorer.py        # then open http://localhost:8765
    make explorer SWEEP=outputs/sweeps/full

Opens a sweep folder (any number of scenarios and members, at any scale: e.g. a full-province posterior
ensemble run on the cluster) or a folder of run folders, reading `gathered.parquet` when `python -m sim
gather` has made it and every complete run folder otherwise. It shows, for the scenarios ticked:

* the comparison table (2027 and 2029 rates, differences from the baseline member by member, costs, and
  yuan per extra urban resident where the effect is clear), as `python -m sim compare` prints it;
* fan charts of the province's resident and hukou rates (median, P5-P95 over the members);
* the 11 cities' resident rates;
* maps of the 2029 resident rate by city and by county-level unit (median over the members) for one scenario;
* the attribution of the plan's effect to its actions, when the folder holds `attribution.md`
  (`python -m sim attribute --out <folder>`).

The folder can also be typed into the page. Needs the `dashboard` extra (solara), like the live dashboard.
"""

from __future__ import annotations

import base64
import functools
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import solara  # noqa: E402

from sim.analysis import compare  # noqa: E402
from sim.reporting.fonts import font_face_css, use_cjk_font  # noqa: E402
from sim.runs.logs import quiet_libraries  # noqa: E402

quiet_libraries()
use_cjk_font()  # the charts' Chinese (亿, city names) in matplotlib
FOLDER = os.environ.get("SHANXI_SWEEP", "")
# the page's own Chinese (the table's 亿) with an embedded subset font: machines without CJK fonts render it
CSS = font_face_css("亿元") + font_face_css(
    "亿元", family="Roboto", unicode_range="U+2E80-9FFF, U+3000-30FF, U+FF00-FFEF"
)
RESIDENT = "resident_urbanization_rate_pct"
FINAL_YEAR = 2029


@functools.lru_cache(maxsize=4)
def load(folder: str) -> pd.DataFrame:
    """Every complete member of the folder: gathered.parquet if present, else the complete run folders."""
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"{folder!r} is not a folder")
    gathered = path / "gathered.parquet"
    if gathered.is_file():
        return pd.read_parquet(gathered)
    complete, _ = compare.find_runs([path])
    if not complete:
        raise FileNotFoundError(f"{folder}: no complete run (a folder with a complete manifest.json)")
    return compare.load_runs(complete)


def _png_of(plot, table: pd.DataFrame) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "figure.png"
        plot(table, out, f"ensemble explorer | {table.seed.nunique()} members")
        return out.read_bytes()


def province_png(table: pd.DataFrame) -> bytes:
    return _png_of(compare.plot_province, table)


def cities_png(table: pd.DataFrame) -> bytes:
    return _png_of(compare.plot_cities, table)


def maps_png(table: pd.DataFrame, scenario: str) -> bytes:
    """The report's choropleths of the 2029 resident rate (median over the members) for one scenario."""
    from sim.reporting import report

    t = table[(table.scenario == scenario) & (table.year == FINAL_YEAR) & (table.indicator == RESIDENT)]
    units = t[t.level == "county"].groupby("region").value.median()
    cities = t[t.level == "city"].groupby("region").value.median()
    png, _real = report.fig_maps(units, cities, report._geography(), "en", report.TEXT["en"])
    return base64.b64decode(png)


@solara.component
def Page():
    folder, set_folder = solara.use_state(FOLDER)
    solara.Title("Shanxi urbanization: ensemble explorer")
    solara.Style(CSS)
    with solara.Sidebar():
        solara.Markdown("## Ensemble explorer")
        solara.InputText("Sweep or runs folder", value=folder, on_value=set_folder, continuous_update=False)
    if not folder:
        solara.Info("Type a sweep folder (or start with SHANXI_SWEEP=<folder>).")
        return
    try:
        table = load(folder)
    except (FileNotFoundError, OSError, ValueError) as e:
        solara.Error(str(e))
        return
    scenarios = sorted(table.scenario.unique())
    chosen, set_chosen = solara.use_state(scenarios)
    mapped, set_mapped = solara.use_state("plan" if "plan" in scenarios else scenarios[-1])
    with solara.Sidebar():
        solara.SelectMultiple("Scenarios", values=[s for s in chosen if s in scenarios], all_values=scenarios,
                              on_value=set_chosen)  # fmt: skip
        solara.Select("Scenario on the maps", value=mapped if mapped in scenarios else scenarios[0],
                      values=scenarios, on_value=set_mapped)  # fmt: skip
    sub = table[table.scenario.isin(chosen or scenarios)]
    members = sub.groupby("scenario").seed.nunique()
    solara.Markdown(
        f"**{folder}**: {len(members)} scenarios, "
        + ", ".join(f"{s} ({n} members)" for s, n in members.items())
        + ". Bands: P5-P95 over the members."
    )
    solara.Markdown(compare.to_markdown(compare.summary_table(sub)))
    solara.Image(province_png(sub))
    solara.Image(cities_png(sub))
    solara.Image(maps_png(table, mapped if mapped in scenarios else scenarios[0]))
    attribution = Path(folder) / "attribution.md"
    if attribution.is_file():
        solara.Markdown(attribution.read_text(encoding="utf-8").replace("](attribution_waterfall.png)", "]()"))
        waterfall = Path(folder) / "attribution_waterfall.png"
        if waterfall.is_file():
            solara.Image(waterfall.read_bytes())
