"""Rolling-origin evaluation: calibrate on the data up to an origin year, forecast the years after it.

    python -m sim rolling-origin                          # origins 2021 and 2022, posteriors made if missing
    python -m sim rolling-origin --origins 2022 --members 40 --scale 0.02 --out outputs/rolling_origin

For each origin: the posterior calibrated to 2021..origin only (`python -m sim posterior --years ...
--out <out>/posterior_<origin>`, made first when it is not there), then `python -m sim validate` with every
member a draw of it (calibration window 2021..origin, validation window: every later observed year), into
<out>/origin_<origin>/. Each forecast (origin, year) is scored against the observation: the error of the
ensemble median, the CRPS of the members' prediction (each member plus the survey's own error,
validate.OBSERVATION_SD_PP, and the model's discrepancy as a random walk from the origin, estimated from the
observations up to the origin, validate.discrepancy_pp_per_year), whether the observation falls inside
the central 50% and 90% predictive bands, and the 90% band's width; beside it every naive benchmark
fitted to the same data (validate.BENCHMARKS; a point forecast's CRPS is its absolute error).

Writes rolling_origin.csv (one row per origin, year and forecaster), rolling_origin.md (the tables) and
rolling_origin.png (forecasts and observations by origin). No observation after an origin enters anything
that forecast uses: the posterior's targets are those of 2021..origin (sim.analysis.calibrate.targets), the
benchmarks are fitted to the census and 2021..origin.
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

log = logging.getLogger("sim.analysis.rolling")
FIRST_YEAR = 2021  # the first year-end observation after the census


def posterior_for(origin: int, out: Path, scale: float, seed: int) -> Path:
    """The posterior calibrated to FIRST_YEAR..origin, made with `python -m sim posterior` when missing."""
    path = out / f"posterior_{origin}" / "posterior.csv"
    if not path.is_file():
        from sim.analysis import posterior

        years = ",".join(str(y) for y in range(FIRST_YEAR, origin + 1))
        log.info("origin %d: making the posterior calibrated to %s (python -m sim posterior)", origin, years)
        posterior.main(["--years", years, "--out", str(path.parent), "--scale", str(scale), "--seed", str(seed)])
    return path


def forecast_scores(
    ensemble: pd.DataFrame, observed: dict[int, float], years: list[int], origin: int, discrepancy: float = 0.0
) -> list[dict]:
    """The model's forecast of each year: median, error, CRPS, 50%/90% coverage and the 90% band (members
    plus the survey's error and `discrepancy` pp a year as a random walk from the origin, V.forecast_sd)."""
    rows = []
    e = ensemble[
        (ensemble.period == "year_end")
        & (ensemble.level == "province")
        & (ensemble.region == V.PROVINCE)
        & (ensemble.indicator == V.RESIDENT)
    ]
    for year in years:
        x = e[e.year == year]["value"].to_numpy(float)
        if not len(x) or year not in observed:
            continue
        y = V.predictive(x, V.forecast_sd(year - origin, discrepancy))
        q5, q25, q75, q95 = np.percentile(y, [5, 25, 75, 95])
        obs = observed[year]
        rows.append(
            {
                "forecaster": "model",
                "year": year,
                "observed": obs,
                "forecast": float(np.median(x)),
                "error_pp": float(np.median(x)) - obs,
                "crps_pp": V.crps_ensemble(y, obs),
                "in_50": bool(q25 <= obs <= q75),
                "in_90": bool(q5 <= obs <= q95),
                "p5": q5,
                "p95": q95,
                "band90_width_pp": q95 - q5,
            }
        )
    return rows


def benchmark_scores(bench: V.Benchmarks, observed: dict[int, float], years: list[int]) -> list[dict]:
    rows = []
    for name in V.BENCHMARKS:
        fit = bench.predictors().get(name)
        if fit is None:
            continue
        for year in years:
            if year not in observed:
                continue
            f = float(fit.predict_year_end(year))
            rows.append(
                {
                    "forecaster": name,
                    "year": year,
                    "observed": observed[year],
                    "forecast": f,
                    "error_pp": f - observed[year],
                    "crps_pp": abs(f - observed[year]),
                }
            )
    return rows


def evaluate_origin(origin: int, out: Path, scale: float, seed: int, members: int, seeds: int) -> pd.DataFrame:
    """Validate the posterior of `origin` (making it first if needed) and score its forecasts."""
    posterior_csv = posterior_for(origin, out, scale, seed)
    targets = V.load_targets()
    observed = V.observed_targets(targets)
    prov = observed[(observed.level == "province") & (observed.indicator == V.RESIDENT)]
    obs = {int(y): float(v) for y, v, p in zip(prov.year, prov.value, prov.period) if p == "year_end"}
    calibration = list(range(FIRST_YEAR, origin + 1))
    later = sorted(y for y in obs if y > origin)
    if not later:
        raise ValueError(f"origin {origin}: no observation after it to forecast")
    years = lambda ys: "[" + ",".join(map(str, ys)) + "]"  # noqa: E731
    cfg = V.compose_validation(
        [
            f"population.scale={scale}",
            f"seed={seed}",
            f"validation.calibration_years={years(calibration)}",
            f"validation.validation_years={years(later)}",
            f"validation.seeds={seeds}",
            f"validation.parameter_draws={members}",
            f"validation.posterior={posterior_csv.resolve()}",
            "run.progress=none",
        ]
    )
    run_dir = out / f"origin_{origin}"
    V.validate_to_folder(cfg, run_dir)
    ensemble = pd.read_parquet(run_dir / "ensemble.parquet")
    bench = V.fit_benchmarks(observed, calibration)
    discrepancy = V.discrepancy_pp_per_year(observed, origin)  # from the observations up to the origin only
    rows = forecast_scores(ensemble, obs, later, origin, discrepancy) + benchmark_scores(bench, obs, later)
    table = pd.DataFrame(rows)
    table["discrepancy_pp_per_year"] = discrepancy
    table.insert(0, "origin", origin)
    table.insert(2, "horizon_years", table.year - origin)
    return table


def to_markdown(table: pd.DataFrame, members: int, scale: float) -> str:
    label = {"model": "model (posterior ensemble)", **V.BENCHMARKS}
    lines = [
        "# Rolling-origin evaluation of the province resident rate",
        "",
        f"Each origin: the posterior calibrated to 2021..origin only, {members} members (each a posterior draw, the "
        f"seeds in turn) at population scale {scale:g}; the benchmarks fitted to the census and 2021..origin. "
        "CRPS in pp (a point forecast's is its absolute error); in 50% / in 90%: the observation inside the "
        "central predictive band (members plus the survey's error, sd "
        f"{V.OBSERVATION_SD_PP} pp, and the model's discrepancy, a random walk of the sd per year given below, "
        "estimated from the observed yearly gains up to the origin; validate.discrepancy_pp_per_year).",
        "",
        "Discrepancy by origin: "
        + "; ".join(
            f"{o}: {d:.2f} pp a year" for o, d in table.groupby("origin").discrepancy_pp_per_year.first().items()
        )
        + " (0 where fewer than two gains were observed by the origin).",
        "",
    ]
    rows = []
    for (origin, year), g in table.groupby(["origin", "year"], sort=True):
        for _, r in g.iterrows():
            is_model = r.forecaster == "model"
            rows.append(
                [
                    str(origin),
                    str(year),
                    label.get(r.forecaster, r.forecaster),
                    number(r.forecast, 2),
                    number(r.observed, 2),
                    f"{r.error_pp:+.2f}",
                    number(r.crps_pp, 3),
                    ("yes" if r.in_50 else "no") if is_model else "-",
                    ("yes" if r.in_90 else "no") if is_model else "-",
                    f"{r.p5:.2f}-{r.p95:.2f} ({r.band90_width_pp:.2f})" if is_model else "-",
                ]
            )
    lines.append(
        markdown_table(
            ["origin", "year", "forecaster", "forecast %", "observed %", "error pp", "CRPS pp", "in 50%", "in 90%",
             "90% band (width)"],
            rows,
        )
    )  # fmt: skip
    mean = (
        table.groupby("forecaster")[["crps_pp"]]
        .mean()
        .join(table.assign(abs_error=table.error_pp.abs()).groupby("forecaster")[["abs_error"]].mean())
    )
    lines += ["", "Over every forecast:", ""]
    lines.append(
        markdown_table(
            ["forecaster", "mean |error| pp", "mean CRPS pp"],
            [
                [label.get(k, k), number(mean.loc[k, "abs_error"], 3), number(mean.loc[k, "crps_pp"], 3)]
                for k in ["model", *[b for b in V.BENCHMARKS if b in mean.index]]
            ],
        )
    )
    m = table[table.forecaster == "model"]
    lines += [
        "",
        f"Coverage of the model's predictive bands: 50% band {int(m.in_50.sum())} of {len(m)}, 90% band "
        f"{int(m.in_90.sum())} of {len(m)}; largest |error| of the median {m.error_pp.abs().max():.2f} pp; 90% bands "
        f"{m.band90_width_pp.min():.2f}-{m.band90_width_pp.max():.2f} pp wide.",
        "",
        "![forecasts by origin](rolling_origin.png)",
        "",
    ]
    return "\n".join(lines)


def plot(table: pd.DataFrame, path: Path) -> None:
    origins = sorted(table.origin.unique())
    fig, axes = plt.subplots(1, len(origins), figsize=(4.2 * len(origins), 3.4), sharey=True, squeeze=False)
    styles = dict(zip(V.BENCHMARKS, ("-.", "--", ":", (0, (1, 3)))))
    for ax, origin in zip(axes[0], origins):
        g = table[table.origin == origin]
        m = g[g.forecaster == "model"]
        ax.fill_between(m.year, m.p5, m.p95, color="tab:blue", alpha=0.2)
        ax.errorbar(m.year, m.forecast, yerr=[m.forecast - m.p5, m.p95 - m.forecast], fmt="o-", color="tab:blue",
                    capsize=4, label="model median, 90% predictive band")  # fmt: skip
        for name, style in styles.items():
            b = g[g.forecaster == name]
            if not b.empty:
                ax.plot(b.year, b.forecast, linestyle=style, marker=".", color="0.35", lw=1, label=V.BENCHMARKS[name])
        ax.plot(m.year, m.observed, "D", color="tab:red", label="observed")
        window = f"{FIRST_YEAR}-{origin}" if origin > FIRST_YEAR else str(origin)
        ax.set_title(f"origin {origin} (calibrated to {window})", fontsize=9)
        ax.set_xlim(origin + 0.5, max(m.year) + 0.5)
        ax.set_xticks(sorted(m.year.unique()))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("resident urbanization rate, %")
    axes[0][-1].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    save_png(fig, path, dpi=130)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--origins", default="2021,2022", help="last calibration years")
    ap.add_argument("--scale", type=float, default=0.02, help="population scale of the ensembles")
    ap.add_argument("--posterior-scale", type=float, default=0.03, help="population scale of the calibrations")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--members", type=int, default=40, help="posterior draws per origin")
    ap.add_argument("--seeds", type=int, default=5, help="seeds the members take in turn")
    ap.add_argument("--out", type=Path, default=Path("outputs/rolling_origin"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    args.out.mkdir(parents=True, exist_ok=True)
    origins = [int(o) for o in args.origins.split(",")]
    frames = []
    for origin in origins:
        posterior_for(origin, args.out, args.posterior_scale, args.seed)
        frames.append(evaluate_origin(origin, args.out, args.scale, args.seed, args.members, args.seeds))
    table = pd.concat(frames, ignore_index=True)
    outputs.write_text(args.out / "rolling_origin.csv", table.to_csv(index=False))
    plot(table, args.out / "rolling_origin.png")
    text = to_markdown(table, args.members, args.scale)
    outputs.write_text(args.out / "rolling_origin.md", text)
    print(text)


if __name__ == "__main__":
    main()
