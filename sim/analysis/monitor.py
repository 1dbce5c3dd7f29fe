"""Are we on track? The posterior ensemble conditioned on every observation published since its calibration.

    python -m sim monitor                                   # runs the default posterior ensemble first
    python -m sim monitor --ensemble outputs/validation/baseline/seed42_.../ensemble.parquet

Each spring the province publishes last year's resident rate. Add it as a row of
sim/world/data/shanxi_province.csv (year, resident_pop_10k, urbanization_rate_pct, source), then run this.

How it conditions: the members of the ensemble are draws of the shipped posterior (calibrated to the years
in conf/behaviour/posterior.json) with the seeds in turn. Every province resident rate observed after those
years reweights the members by its likelihood, N(observed; member's value, sd^2), sd = the survey's error
(validate.OBSERVATION_SD_PP) widened by the posterior's model-error scale, the same likelihood the
calibration used, and by the model's discrepancy at that year (a random walk from the last calibrated year,
validate.discrepancy_pp_per_year; it also widens the 2027 and 2029 forecasts): a sequential
importance-sampling (particle) update. Why reweighting and not restarting
from the observed state: the observation is one province number, not the household state, and the members
that reproduce it carry the behaviour and the chance that produced it into 2027 and 2029. With no
observation after the calibration years every weight is equal, and the answer is the ensemble's own. When
the effective number of members falls below MIN_ESS the update is too thin to trust: recalibrate (`python -m
sim posterior --years 2021,...,<latest>`) and ship the new posterior.

For each plan target it reports the weighted median and 90% band and the probability of meeting it:
P(resident rate >= 70% at the end of 2029), the plan's headline; and at the 2027 mid-term, P(resident rate
on or above the straight path from the last observation to 70% in 2029). On track = probability >= 0.5.
It also says what the latest observation changed: the same with and without it.

Writes monitor.md and monitor.json into --out.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis import validate as V
from sim.config import to_dict
from sim.places import TARGET_RESIDENT_RATE_PCT
from sim.reporting.report import RULES
from sim.runs import outputs
from sim.runs.logs import quiet_libraries

log = logging.getLogger("sim.analysis.monitor")
MID_TERM, FINAL = 2027, 2029
ON_TRACK_PROBABILITY = 0.5  # on track: at least an even chance of meeting the target
CLOSE_PP = RULES["resident_rate"]["green_within_pp"]  # "close to": the policy report's green tolerance, pp
MIN_ESS = 10  # members: below it the reweighted ensemble is too thin to trust


def member_rates(ensemble: pd.DataFrame) -> pd.DataFrame:
    """Members x years: the province resident rate at year ends."""
    e = ensemble[
        (ensemble.period == "year_end")
        & (ensemble.level == "province")
        & (ensemble.region == V.PROVINCE)
        & (ensemble.indicator == V.RESIDENT)
    ]
    return e.pivot_table(index="member", columns="year", values="value")


def weights(rates: pd.DataFrame, observations: dict[int, float], sd) -> np.ndarray:
    """Normalised member weights: the product over observed years of N(observed; member, sd(year)^2); `sd`
    a number or a function of the year."""
    sd_at = sd if callable(sd) else (lambda year: sd)
    log_w = np.zeros(len(rates))
    for year, value in sorted(observations.items()):
        if year not in rates.columns:
            raise ValueError(f"observation {year}: the ensemble has no year-end value for it")
        log_w += -0.5 * ((rates[year].to_numpy(float) - value) / sd_at(year)) ** 2
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def weighted_quantile(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cum = np.cumsum(w)
    # position of each value: (weight below it) / (total less the last weight); equal weights give numpy's
    # default linear percentiles (k / (n - 1)), so an unweighted answer matches validate's bands exactly
    position = (cum - w) / max(cum[-1] - w[-1], 1e-300)
    return np.interp(np.atleast_1d(q), position, x)


def assess(
    rates: pd.DataFrame, observations: dict[int, float], sd, last_observed: tuple[int, float], drift=lambda year: 0.0
) -> dict:
    """The forecasts of 2027 and 2029 and the probabilities of meeting the targets, given the observations.

    `sd(year)`: the likelihood's sd of an observation of that year; `drift(year)`: the sd of the model's
    discrepancy in that year (the true rate about a member's value; 0: the members alone). The plan's 2029
    target is "close to 70%": met at 70% less the report's green tolerance (CLOSE_PP, the policy report's
    traffic-light rule, sim/reporting/report.RULES); P(>= 70%) is given beside it. The mid-term target is the
    straight path from the last observation to 70% in 2029, less the same tolerance."""
    w = weights(rates, observations, sd)
    year0, value0 = last_observed
    target = TARGET_RESIDENT_RATE_PCT
    path_2027 = value0 + (target - value0) * (MID_TERM - year0) / (FINAL - year0)
    out = {"effective_members": float(1.0 / np.sum(w**2)), "members": len(w), "forecast": {}, "targets": {}}
    for year in (MID_TERM, FINAL):
        x = rates[year].to_numpy(float)
        draws = 200 if drift(year) > 0 else 1
        p5, p50, p95 = weighted_quantile(V.predictive(x, drift(year), draws), np.repeat(w, draws), [0.05, 0.5, 0.95])
        out["forecast"][year] = {
            "median": float(p50),
            "p5": float(p5),
            "p95": float(p95),
            "discrepancy_sd_pp": drift(year),
        }
    for key, year, level, text in (
        ("final", FINAL, target, f"close to {target:g}% at the end of {FINAL}"),
        ("mid_term", MID_TERM, path_2027,
         f"on the straight path from {value0:.2f}% ({year0}) to {target:g}% (2029) at the end of {MID_TERM}: "
         f"{path_2027:.2f}%"),
    ):  # fmt: skip
        x = rates[year].to_numpy(float)
        p = share_at_least(x, w, level - CLOSE_PP, drift(year))
        out["targets"][key] = {
            "year": year,
            "level_pct": float(level),
            "threshold_pct": float(level - CLOSE_PP),
            "rule": f"{text}, within {CLOSE_PP:g} pp (>= {level - CLOSE_PP:.2f}%)",
            "probability": p,
            "probability_at_level": share_at_least(x, w, level, drift(year)),
            "on_track": p >= ON_TRACK_PROBABILITY,
        }
    return out


def share_at_least(x: np.ndarray, w: np.ndarray, level: float, sd: float) -> float:
    """Weighted probability that the true rate is at least `level`: each member's value x, spread by the
    model's discrepancy (normal, sd; none when sd is 0)."""
    above = x >= level if sd <= 0 else stats.norm.sf(level, loc=x, scale=sd)
    return float(np.sum(w * above))


def conditioning_years(record: dict) -> list[int]:
    return [int(y) for y in record.get("years") or []]


def province_observations(data_dir=None) -> dict[int, float]:
    observed = V.observed_targets(V.load_targets(data_dir), data_dir)
    p = observed[(observed.level == "province") & (observed.indicator == V.RESIDENT) & (observed.period == "year_end")]
    return {int(y): float(v) for y, v in zip(p.year, p.value)}


def monitor(
    rates: pd.DataFrame,
    all_obs: dict[int, float],
    calibrated: list[int],
    error_scale: float = 1.0,
    discrepancy: float = 0.0,
) -> dict:
    """The assessment now and before the latest observation (what it changed). `discrepancy`: the model's
    discrepancy, pp a year as a random walk from the last calibrated year (validate.discrepancy_pp_per_year):
    it widens the likelihood of a later observation and the forecasts of 2027 and 2029 (counted from the
    last calibrated year even after an observation is conditioned on: the cautious reading)."""
    sd_obs = V.OBSERVATION_SD_PP * float(np.sqrt(max(error_scale, 1.0)))
    last_calibrated = max(calibrated or [0])

    def drift(year):
        return float(np.sqrt(max(year - last_calibrated, 0) * discrepancy**2)) if calibrated else 0.0

    def sd(year):
        return float(np.hypot(sd_obs, drift(year)))

    last = max(all_obs)
    new = {y: v for y, v in all_obs.items() if y not in calibrated and y > max(calibrated or [0])}
    now = assess(rates, new, sd, (last, all_obs[last]), drift)
    before = None
    if last in new:  # what the latest observation changed: the same without it
        before_year = max(y for y in all_obs if y < last)
        before_new = {y: v for y, v in new.items() if y < last}
        before = assess(rates, before_new, sd, (before_year, all_obs[before_year]), drift)
    return {
        "latest_observation": {"year": last, "value_pct": all_obs[last]},
        "posterior_calibrated_to": calibrated,
        "conditioned_on": sorted(new),
        "observation_sd_pp": sd_obs,
        "discrepancy_pp_per_year": discrepancy,
        "now": now,
        "before_latest": before,
        "thin": now["effective_members"] < MIN_ESS,
    }


def to_markdown(result: dict) -> str:
    now, before = result["now"], result["before_latest"]
    last = result["latest_observation"]
    lines = [
        "# Are we on track? (resident urbanization rate)",
        "",
        f"Latest observation: {last['value_pct']:.2f}% at the end of {last['year']}. The ensemble's members are "
        f"draws of the posterior calibrated to {', '.join(map(str, result['posterior_calibrated_to']))}; "
        + (
            f"they are reweighted by the observations since ({', '.join(map(str, result['conditioned_on']))}; "
            f"likelihood sd {result['observation_sd_pp']:.2f} pp and the discrepancy), effective members "
            f"{now['effective_members']:.1f} of {now['members']}."
            if result["conditioned_on"]
            else "no observation has been published since, so every member counts equally."
        ),
        "",
        "| target | rule | probability | verdict | P(at the level itself) | before the latest observation |",
        "|---|---|---|---|---|---|",
    ]
    for key in ("mid_term", "final"):
        t = now["targets"][key]
        b = f"{before['targets'][key]['probability']:.0%}" if before else "-"
        lines.append(
            f"| {t['year']} ({'mid-term' if key == 'mid_term' else 'final'}) | {t['rule']} | {t['probability']:.0%} | "
            f"{'on track' if t['on_track'] else 'off track'} | {t['probability_at_level']:.0%} | {b} |"
        )
    lines += [
        "",
        f"The probabilities and bands add the model's discrepancy to every member: "
        f"{result.get('discrepancy_pp_per_year', 0.0):.2f} pp a year as a random walk from "
        f"{max(result['posterior_calibrated_to'] or [0])}, the last calibrated year (the spread of the observed "
        "yearly gains, which a smooth model cannot follow; validate.discrepancy_pp_per_year).",
        "",
        "| year end | forecast (weighted median) | 90% band | before the latest observation |",
        "|---|---|---|---|",
    ]
    for year in (MID_TERM, FINAL):
        f = now["forecast"][year]
        b = "-"
        if before:
            fb = before["forecast"][year]
            b = f"{fb['median']:.2f}% ({fb['p5']:.2f}-{fb['p95']:.2f})"
        lines.append(f"| {year} | {f['median']:.2f}% | {f['p5']:.2f}-{f['p95']:.2f} | {b} |")
    if before is None:
        lines += [
            "",
            f"The latest observation ({last['year']}) is one the posterior was calibrated to: what it changed is the "
            "difference between this posterior and one calibrated without it (`python -m sim rolling-origin`).",
        ]
    lines += [
        "",
        f"Verdict rule: on track when the probability of meeting the target is at least {ON_TRACK_PROBABILITY:.0%}.",
    ]
    if result["thin"]:
        lines.append(
            f"**The update is thin** (effective members below {MIN_ESS}): the observations fall outside most of "
            "the ensemble. Recalibrate with them (`python -m sim posterior --years ...`) before reading this."
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ensemble", type=Path, help="ensemble.parquet of a validate run (default: run one)")
    ap.add_argument("--out", type=Path, default=Path("outputs/monitor"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    from sim.analysis.posterior import POSTERIOR_CSV

    record = json.loads(POSTERIOR_CSV.with_suffix(".json").read_text(encoding="utf-8"))
    if args.ensemble:
        ensemble = pd.read_parquet(args.ensemble)
    else:
        cfg = to_dict(V.compose_validation(["run.progress=none"]))
        s = V.settings_of(cfg)
        ensemble = V.run_ensemble(cfg, [int(cfg["seed"]) + i for i in range(s["seeds"])], s["parameter_draws"])
    calibrated = conditioning_years(record)
    observed = V.observed_targets(V.load_targets())
    discrepancy = V.discrepancy_pp_per_year(observed, max(calibrated)) if calibrated else 0.0
    result = monitor(
        member_rates(ensemble), province_observations(), calibrated, record.get("error_scale", 1.0), discrepancy
    )
    args.out.mkdir(parents=True, exist_ok=True)
    outputs.write_text(args.out / "monitor.json", json.dumps(result, indent=1) + "\n")
    text = to_markdown(result)
    outputs.write_text(args.out / "monitor.md", text)
    print(text)


if __name__ == "__main__":
    main()
