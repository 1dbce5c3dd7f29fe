"""The decade hindcast: the model started at the 2010 census and run to the 2020 census, unit by unit.

    python -m sim hindcast                                 # 10 posterior members at scale 0.01
    python -m sim hindcast --members 20 --scale 0.02 --out outputs/hindcast
    python -m sim hindcast --members 0 behaviour.beta_network=0     # a what-if: config overrides at the end

Each member is a draw of the shipped posterior (conf/behaviour/posterior.csv, calibrated to 2021-2023), the
seeds 1..--seeds taken in turn. It starts from the sixth census (1 November 2010: sim.world.census2010,
`run.start_year=2010`) and steps 120 months to 1 November 2020, the seventh census, under the baseline
policy of 2020 and the economy of the census 2020 run (wages of 2019, no real wage growth), with the
crude birth and death rates of 2010-2019 (sim/world/data/vital_rates.csv).

What comes from the scored decade, and what does not:
  - each unit's 2010 population and urban share (the start), the province's 2010 totals (census_2010.yaml);
  - in-situ reclassification: 31% of each unit TYPE's 2010-2020 urban gain, at the type's rate of every
    unit's rural population (not the unit's own gain: markets.census_reclassification_people,
    unit_specific=False). Everything else - natural change, every move, every unit's difference from its
    type - is the model's, with constants fitted to 2021-2023 only.
  - The calibration holds the county-area gains of 2021-2023 to the census decade's pace x 0.568 (two
    targets of conf/calibration/priors.yaml's fit); the hindcast is therefore out of sample in its years,
    not in every number that shaped the constants.

Scored against: the 2020 census, unit by unit (urban share, population); the province's year-end resident
rate 2014 and 2017-2019 and hukou rate 2017-2019 (shanxi_province.csv; the pre-census series, which the
2020 census revised upwards by about 3 points: 59.55% at the end of 2019, 62.53% at the census).

Writes hindcast_units.csv (one row per unit: census 2010 and 2020, model median and P5-P95), hindcast_province.csv
(members' year-end rates and the observations), hindcast.md (the tables) and hindcast.png (a map of the unit
errors and the province path).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.analysis import validate as V  # noqa: E402
from sim.reporting.plots import save_png  # noqa: E402
from sim.reporting.tables import markdown_table, number  # noqa: E402
from sim.runs import outputs  # noqa: E402
from sim.runs.logs import quiet_libraries  # noqa: E402

log = logging.getLogger("sim.analysis.hindcast")
START_YEAR = 2010  # the sixth census, 1 November 2010
MONTHS = 120  # to 1 November 2020, the seventh census
UNIT_TYPES = ("district", "county-level city", "county")


def run_member(cfg: dict, seed: int, parameters=()) -> dict:
    """One member from the 2010 census to the 2020 census: year-end province rates, the state at the census
    (unit urban shares and populations), and the decade's urban growth by source (persons)."""
    from sim.model import ShanxiModel
    from sim.places import rural_place, urban_place

    mcfg = V.with_parameters(cfg, parameters)
    mcfg["seed"] = seed
    mcfg["run"]["start_year"] = START_YEAR
    mcfg["run"]["end_year"] = START_YEAR + 11  # past the census; the member stops at month MONTHS
    model = ShanxiModel(config=mcfg, threads=mcfg["run"].get("threads") or None)
    urban0 = model.province_rate("resident") / 100 * model.province_population()
    while model.month < MONTHS:
        model.step()
    units = np.arange(model.geo.n_units)
    people = model.counts.people_by_home_place.sum(axis=0).astype(float) * model.weight
    rows = pd.DataFrame(model.indicator_rows())
    prov = rows[rows.level == "province"].pivot_table(index="year", columns="indicator", values="value")
    natural = float(prov["urban_natural_change"].sum())
    reclassified = float(prov["urban_reclassified"].sum())
    urban1 = model.province_rate("resident") / 100 * model.province_population()
    return {
        "seed": seed,
        "year_end": prov[["resident_urbanization_rate_pct", "hukou_urbanization_rate_pct"]],
        "resident_rate": model.province_rate("resident"),
        "hukou_rate": model.province_rate("hukou"),
        "population": model.province_population(),
        "unit_urban": people[urban_place(units)],
        "unit_rural": people[rural_place(units)],
        "urban_growth": urban1 - urban0,
        "natural": natural,
        "reclassified": reclassified,
    }


def observed(geo) -> dict:
    """The scoring data: the 2020 census by unit and the province's pre-census series."""
    from sim.world.census2010 import unit_counts_2010
    from sim.world.inputs import load_province_series

    pop10, urban10 = unit_counts_2010(geo)
    series = load_province_series().set_index("year")
    resident = series["urbanization_rate_pct"].dropna()
    hukou = series["hukou_urbanization_rate_pct"].dropna()
    return {
        "pop10": pop10,
        "urban10": urban10,
        "pop20": np.asarray(geo.unit_pop_2020, float),
        "urban20": np.asarray(geo.unit_urban_pop_2020, float),
        "resident": {int(y): float(v) for y, v in resident.items() if START_YEAR < y < 2020},
        "hukou": {int(y): float(v) for y, v in hukou.items() if START_YEAR < y < 2020},
        "census_rate": 100 * float(np.asarray(geo.unit_urban_pop_2020).sum() / np.asarray(geo.unit_pop_2020).sum()),
        "census_hukou": float(series.loc[2020, "hukou_urbanization_rate_pct"]),
        "census_population": float(np.asarray(geo.unit_pop_2020).sum()),
    }


def unit_table(geo, members: list[dict], obs: dict) -> pd.DataFrame:
    share = np.array([100 * m["unit_urban"] / (m["unit_urban"] + m["unit_rural"]) for m in members])
    pop = np.array([m["unit_urban"] + m["unit_rural"] for m in members])
    s10 = 100 * obs["urban10"] / obs["pop10"]
    s20 = 100 * obs["urban20"] / obs["pop20"]
    med = np.median(share, axis=0)
    return pd.DataFrame(
        {
            "unit": geo.unit_name_en,
            "unit_zh": geo.unit_name_zh,
            "city": [geo.city_name_en[c] for c in geo.unit_city],
            "unit_type": [UNIT_TYPES[t] for t in geo.unit_type],
            "lon": np.asarray(geo.unit_lon),
            "lat": np.asarray(geo.unit_lat),
            "census_2010_pct": s10,
            "census_2020_pct": s20,
            "model_2020_pct": med,
            "model_2020_p5": np.percentile(share, 5, axis=0),
            "model_2020_p95": np.percentile(share, 95, axis=0),
            "error_pp": med - s20,
            "census_gain_pp": s20 - s10,
            "model_gain_pp": med - s10,
            "census_population_2020": obs["pop20"],
            "model_population_2020": np.median(pop, axis=0),
            "has_2010_unit": np.isfinite(np.asarray(geo.unit_pop_2010, float)),
        }
    )


def by_type(units: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for t in (*UNIT_TYPES, "all"):
        u = units if t == "all" else units[units.unit_type == t]
        rows.append(
            {
                "unit type": t,
                "units": len(u),
                "census gain pp (median)": u.census_gain_pp.median(),
                "model gain pp (median)": u.model_gain_pp.median(),
                "units gaining, census": int((u.census_gain_pp > 0).sum()),
                "units gaining, model": int((u.model_gain_pp > 0).sum()),
                "mean error pp": u.error_pp.mean(),
                "mean absolute error pp": u.error_pp.abs().mean(),
                "rank correlation of gains": u.census_gain_pp.corr(u.model_gain_pp, method="spearman"),
                "population error % (median)": 100
                * ((u.model_population_2020 - u.census_population_2020) / u.census_population_2020).median(),
            }
        )
    return pd.DataFrame(rows)


def province_table(members: list[dict], obs: dict) -> pd.DataFrame:
    rows = []
    for m in members:
        for year, r in m["year_end"].iterrows():
            if year >= 2020:
                continue
            rows.append(
                dict(seed=m["seed"], when=f"{year}-12", resident_pct=r.resident_urbanization_rate_pct,
                     hukou_pct=r.hukou_urbanization_rate_pct)
            )  # fmt: skip
        rows.append(dict(seed=m["seed"], when="2020-11 (census)", resident_pct=m["resident_rate"],
                         hukou_pct=m["hukou_rate"]))  # fmt: skip
    table = pd.DataFrame(rows)
    out = []
    for when, g in table.groupby("when", sort=True):
        year = int(when[:4])
        census = when.endswith("(census)")
        o_res = obs["census_rate"] if census else obs["resident"].get(year, np.nan)
        o_huk = obs["census_hukou"] if census else obs["hukou"].get(year, np.nan)
        out.append(
            {
                "when": when,
                "model resident % (median)": g.resident_pct.median(),
                "P5": g.resident_pct.quantile(0.05),
                "P95": g.resident_pct.quantile(0.95),
                "observed resident %": o_res,
                "error pp": g.resident_pct.median() - o_res,
                "model hukou % (median)": g.hukou_pct.median(),
                "observed hukou %": o_huk,
                "hukou error pp": g.hukou_pct.median() - o_huk,
            }
        )
    return pd.DataFrame(out)


def plot(units: pd.DataFrame, province: pd.DataFrame, path: Path) -> None:
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 6.2), gridspec_kw={"width_ratios": [1.1, 1]})
    lim = max(5.0, float(np.ceil(units.error_pp.abs().quantile(0.95))))
    markers = {"district": "s", "county-level city": "D", "county": "o"}
    for t, mk in markers.items():
        u = units[units.unit_type == t]
        sc = ax.scatter(u.lon, u.lat, c=u.error_pp, cmap="RdBu", vmin=-lim, vmax=lim, marker=mk,
                        s=12 + u.census_population_2020 / 2e4, edgecolors="k", linewidths=0.3, label=t)  # fmt: skip
    fig.colorbar(sc, ax=ax, shrink=0.8, label="model - census 2020, urban share (pp)")
    ax.set_title("Hindcast 2010 -> 2020: each unit's error (size: 2020 population)")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_aspect(1.2)
    years = [int(w[:4]) + (10.0 / 12 if "census" in w else 1.0) for w in province["when"]]
    bx.fill_between(years, province["P5"], province["P95"], alpha=0.25, label="model, members P5-P95")
    bx.plot(years, province["model resident % (median)"], "-o", ms=3, label="model median")
    obs = province.dropna(subset=["observed resident %"])
    oyears = [int(w[:4]) + (10.0 / 12 if "census" in w else 1.0) for w in obs["when"]]
    bx.plot(oyears, obs["observed resident %"], "ks", ms=5, label="observed (year-end series; 2020: census)")
    bx.plot([2010 + 10.0 / 12], [48.05], "k^", ms=6, label="2010 census (the start)")
    bx.set_title("Province resident urbanization rate")
    bx.set_xlabel("date (a year-end value sits at 1 January of the next year)")
    bx.set_ylabel("%")
    bx.grid(alpha=0.3)
    bx.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def _md(frame: pd.DataFrame, digits: int = 2) -> str:
    def cell(x):
        if isinstance(x, (bool, np.bool_)):
            return "yes" if x else "no"
        if isinstance(x, (int, np.integer)):
            return str(int(x))
        if isinstance(x, (float, np.floating)):
            return number(float(x), digits)
        return str(x)

    return markdown_table(list(frame.columns), [[cell(x) for x in row] for row in frame.itertuples(index=False)])


def to_markdown(units, types, province, members, scale, draws_note) -> str:
    growth = np.median([m["urban_growth"] for m in members])
    natural = np.median([m["natural"] for m in members])
    reclass = np.median([m["reclassified"] for m in members])
    pop = np.median([m["population"] for m in members])
    worst = units.reindex(units.error_pp.abs().sort_values(ascending=False).index).head(8)
    lines = [
        "# Decade hindcast: 2010 census -> 2020 census",
        "",
        f"{len(members)} members at scale {scale}; {draws_note}",
        "",
        "## Province",
        "",
        _md(province),
        "",
        f"Population at the 2020 census: model {number(pop / 1e4, 1)} 万 against 3491.6 万 (2010: 3571.2 万).",
        "",
        "The model's urban growth over the decade (members' medians, persons): "
        f"{number(growth / 1e4, 1)} 万 in all, of which natural change {number(natural / 1e4, 1)} 万, "
        f"in-situ reclassification {number(reclass / 1e4, 1)} 万 (an input: 31% of each unit type's census gain), "
        f"net migration and the rest {number((growth - natural - reclass) / 1e4, 1)} 万. "
        "The census: +467.1 万 urban residents.",
        "",
        "## By unit type (2020 census, urban share)",
        "",
        _md(types),
        "",
        "## Largest unit errors",
        "",
        _md(worst[["unit", "city", "unit_type", "census_2010_pct", "census_2020_pct", "model_2020_pct", "error_pp"]]),
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=10, help="posterior draws (0: the least-squares fit only)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds the members take in turn")
    ap.add_argument("--scale", type=float, default=0.01, help="population scale")
    ap.add_argument("--out", type=Path, default=Path("outputs/hindcast"))
    ap.add_argument("overrides", nargs="*", help="config overrides (Hydra syntax), e.g. behaviour.beta_network=0")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    from sim.config import compose, to_dict
    from sim.world.geography import province_geography

    if args.members < 0 or args.seeds < 1 or not 0 < args.scale <= 1:
        raise SystemExit(
            f"--members {args.members} (>= 0), --seeds {args.seeds} (>= 1), --scale {args.scale} (0 < scale <= 1)"
        )
    cfg = to_dict(compose([f"population.scale={args.scale}", "run.progress=none", *args.overrides]))
    posterior = V.posterior_of({"validation": {"posterior": "auto"}}) if args.members else None
    if posterior is not None:
        draws, note = V.posterior_draws(cfg["behaviour"], posterior, args.members)
    else:
        draws, note = [()], "the least-squares fit (conf/behaviour/fitted.yaml), one member."
    members = []
    for k, params in enumerate(draws):
        seed = 1 + k % args.seeds
        log.info("hindcast member %d/%d (seed %d)", k + 1, len(draws), seed)
        members.append(run_member(cfg, seed, params))
    geo = province_geography()
    obs = observed(geo)
    units = unit_table(geo, members, obs)
    types = by_type(units)
    province = province_table(members, obs)
    args.out.mkdir(parents=True, exist_ok=True)
    outputs.write_text(args.out / "hindcast_units.csv", units.to_csv(index=False))
    outputs.write_text(args.out / "hindcast_province.csv", province.to_csv(index=False))
    plot(units, province, args.out / "hindcast.png")
    if args.overrides:
        note += f" Config overrides: {' '.join(args.overrides)}."
    text = to_markdown(units, types, province, members, args.scale, note)
    outputs.write_text(args.out / "hindcast.md", text)
    print(text)


if __name__ == "__main__":
    main()
