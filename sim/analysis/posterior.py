"""Bayesian calibration of the fitted behaviour constants: a posterior sample, shipped as data.

    python -m sim posterior                                   # 2021-2023 -> conf/behaviour/posterior.csv (+ .json)
    python -m sim posterior --years 2021,2022 --out outputs/posterior_2022   # origin 2022 (rolling origin)

Likelihood: Gaussian in the residuals that `python -m sim calibrate` minimises (each target's miss over its
tolerance, which stands for the observation error of its source: a 1 per mille sample survey for the rates
and populations, the evidence's spread for returns and residence durations). Where the model cannot meet
every target at once, the errors are widened to the best fit (chi2 = degrees of freedom), so that model
error is not mistaken for information. Priors: normal, stated with their reasons in
conf/calibration/priors.yaml.

Method: a quadratic emulator of the residuals, then importance sampling on it (the emulator-based Bayesian
calibration of the history-matching family). At one seed the simulator's likelihood surface is rugged: a
small change of a constant changes which households move, and the misfit jumps by several units, so
importance sampling on the simulator itself piles the weights onto a few lucky runs (an effective sample
size below 10 of 150-400 proposals, measured). So: `--design-runs` simulator runs on a Latin hypercube over
the least-squares fit +/- 3 `--inflate` standard deviations (0.6: a quadratic fits the residuals well within
+/- 1.8 sd, with misfits of 0.4-1.0 of the resident rate's tolerance; over +/- 3 sd they grow to 2-4, and the
resident rate would hardly count); every residual is fitted by a quadratic in the
constants, and its misfit (the ruggedness and noise) is added to its variance; then `--proposals` draws
from a Student t around the fit are weighted prior x emulated likelihood / proposal (draws outside the
design box get no weight) and `--keep` are resampled by weight (systematic resampling). Finally some kept
draws are rerun in the simulator, and the emulated and simulated misfits are compared (`check` in the
record). Below an effective sample size of MIN_ESS nothing is written to conf/behaviour/.

Why this method: 8 constants, a simulator of about 0.6 s a run (3 years at scale 0.03) whose single-seed
surface is rugged, and a laptop: a few hundred runs give an emulator that is smooth where the posterior is,
and sampling on it is free. ABC-SMC would need thousands of runs for the same.

Writes `posterior.csv` (one row per kept draw: draw, then the constants) and `posterior.json` (command,
seed, scale, date, years, runs, ESS, the emulator's misfit and check, priors, the posterior medians and 90%
intervals, each constant's prior-to-posterior shrinkage, and `made_from`: the fit provenance record of
sim.runs.provenance).
"""

import argparse
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from sim.analysis import calibrate
from sim.config import CONF_DIR, compose, to_dict
from sim.runs.outputs import write_text

log = logging.getLogger("sim.analysis.posterior")
PRIORS_FILE = CONF_DIR / "calibration" / "priors.yaml"
POSTERIOR_CSV = CONF_DIR / "behaviour" / "posterior.csv"
T_DOF = 5  # degrees of freedom of the proposal's Student t
MIN_ESS = 50  # below it the sample is not shipped as the default posterior


def load_priors(path: Path = PRIORS_FILE) -> dict:
    """{parameter: (mean, sd)} of every fitted constant (calibrate.FITTED), checked."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    missing = [k for k in calibrate.FITTED if k not in raw]
    if missing:
        raise ValueError(f"{path}: no prior for {', '.join(missing)}")
    out = {}
    for k in calibrate.FITTED:
        mean, sd = float(raw[k]["mean"]), float(raw[k]["sd"])
        if not sd > 0:
            raise ValueError(f"{path}: {k}.sd = {sd}, must be > 0")
        if not raw[k].get("source"):
            raise ValueError(f"{path}: {k} has no source")
        out[k] = (mean, sd)
    return out


def _residuals(args) -> np.ndarray:
    x, scale, seed, tg = args
    return calibrate.residuals(calibrate.simulate(np.asarray(x), scale, seed, end_year=max(tg["years"])), tg)


def systematic_resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of n draws with probabilities `weights` (systematic resampling: low variance)."""
    w = np.asarray(weights, float) / np.sum(weights)
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), positions), len(w) - 1)


def _run(x: np.ndarray, scale: float, seed: int, years, workers: int) -> np.ndarray:
    """Residuals of every parameter row of x at `seed` (the targets read once), in parallel processes when
    workers > 1."""
    tg = calibrate.targets(tuple(years))
    jobs = [(row, scale, seed, tg) for row in x]
    if workers <= 1:
        return np.array([_residuals(job) for job in jobs])
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return np.array(list(pool.map(_residuals, jobs, chunksize=4)))  # spawned: the parent runs numba threads


def quadratic_features(x: np.ndarray, centre: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """1, z and every z_i z_j (i <= j) of z = (x - centre) / sd: the emulator's regressors."""
    z = (np.atleast_2d(x) - centre) / sd
    i, j = np.triu_indices(z.shape[1])
    return np.hstack([np.ones((len(z), 1)), z, z[:, i] * z[:, j]])


def latin_hypercube(lo: np.ndarray, hi: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points spreading every dimension of the box [lo, hi] evenly (one point in each of n strata)."""
    u = (np.argsort(rng.random((n, len(lo))), axis=0) + rng.random((n, len(lo)))) / n
    return lo + u * (hi - lo)


def sample(
    scale: float,
    seed: int,
    years,
    proposals: int,
    keep: int,
    inflate: float,
    workers: int,
    fit: dict,
    design_runs: int = 240,
    check_runs: int = 20,
) -> tuple[pd.DataFrame, dict]:
    """Emulate, then sample; returns the kept draws and the record for posterior.json.

    1. `design_runs` simulator runs on a Latin hypercube over the least-squares fit +/- `inflate` x 3 of its
       standard deviations; 2. a quadratic emulator of every residual, fitted to them by least squares, its
       misfit (the simulator's ruggedness and noise) kept as a variance; 3. `proposals` draws from a Student t
       around the fit, weighted prior x emulated likelihood / proposal, `keep` of them resampled; 4.
       `check_runs` of the kept draws rerun in the simulator, to check the emulator where it matters."""
    names = list(calibrate.FITTED)
    priors = load_priors()
    centre = np.array([fit["fitted"][k] for k in names], float)
    cov = np.asarray(fit["fit"]["covariance"], float)
    if cov.shape != (len(names), len(names)) or list(fit["fit"]["names"]) != names:
        raise ValueError("behaviour.fit.covariance does not match the fitted constants: rerun python -m sim calibrate")
    rng = np.random.default_rng([seed, 20251206])
    prior_mean = np.array([priors[k][0] for k in names])
    prior_sd = np.array([priors[k][1] for k in names])
    sd = np.sqrt(np.diag(cov))
    t0 = time.perf_counter()
    # 1. the design
    x_design = latin_hypercube(centre - 3 * inflate * sd, centre + 3 * inflate * sd, design_runs, rng)
    x_design[0] = centre
    r_design = _run(x_design, scale, seed, years, workers)
    log.info("%d design runs in %.0f s", design_runs, time.perf_counter() - t0)
    # 2. the emulator: residual k ~ quadratic in the parameters; its misfit variance adds to the observation
    # error's (1 in residual units)
    features = quadratic_features(x_design, centre, sd)
    coef, *_ = np.linalg.lstsq(features, r_design, rcond=None)
    misfit = r_design - features @ coef
    variance = 1.0 + np.sum(misfit**2, axis=0) / max(1, design_runs - features.shape[1])
    n_targets = r_design.shape[1]

    def chi2_of(x):
        return np.sum((quadratic_features(x, centre, sd) @ coef) ** 2 / variance, axis=1)

    # model error: widen the observation errors so that the best design point fits at chi2 = dof
    error_scale = max(1.0, float(chi2_of(x_design).min()) / max(1, n_targets - len(names)))
    # 3. importance sampling on the emulator (cheap: many proposals)
    proposal = stats.multivariate_t(loc=centre, shape=cov * inflate**2, df=T_DOF, seed=rng)
    x = proposal.rvs(size=proposals)
    inside = np.all(np.abs(x - centre) <= 3 * inflate * sd, axis=1)  # the emulator is trusted inside its design
    log_w = -0.5 * chi2_of(x) / error_scale
    log_w = log_w + np.sum(stats.norm.logpdf(x, prior_mean, prior_sd), axis=1) - proposal.logpdf(x)
    log_w[~inside] = -np.inf
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    ess = float(1.0 / np.sum(w**2))
    log.info("emulated importance sampling: ESS %.0f of %d proposals", ess, proposals)
    kept = x[systematic_resample(w, keep, rng)]
    # 4. the check: the simulator at some kept draws, against the emulator
    check = kept[: min(check_runs, keep)]
    chi2_sim = np.sum(_run(check, scale, seed, years, workers) ** 2 / variance, axis=1)
    chi2_em = chi2_of(check)
    draws = pd.DataFrame(kept, columns=names)
    draws.insert(0, "draw", np.arange(1, keep + 1))
    mean = np.sum(w[:, None] * x, axis=0)
    post_sd = np.sqrt(np.sum(w[:, None] * (x - mean) ** 2, axis=0))
    record = {
        "method": "importance sampling on a quadratic emulator of the residuals (sim/analysis/posterior.py)",
        "seed": seed,
        "scale": scale,
        "years": [int(y) for y in years],
        "design_runs": design_runs,
        "proposals": proposals,
        "kept": keep,
        "inflate": inflate,
        "effective_sample_size": round(ess, 1),
        "emulator_misfit_sd": [round(float(v), 3) for v in np.sqrt(variance - 1.0)],
        "check": {
            "runs": len(check),
            "chi2_simulator_median": round(float(np.median(chi2_sim)), 2),
            "chi2_emulator_median": round(float(np.median(chi2_em)), 2),
            "chi2_abs_difference_median": round(float(np.median(np.abs(chi2_sim - chi2_em))), 2),
        },
        "error_scale": round(error_scale, 3),
        "date": time.strftime("%Y-%m-%d"),
        "priors": {k: {"mean": priors[k][0], "sd": priors[k][1]} for k in names},
        "posterior": {
            k: {
                "median": round(float(np.median(kept[:, i])), 4),
                "p5": round(float(np.quantile(kept[:, i], 0.05)), 4),
                "p95": round(float(np.quantile(kept[:, i], 0.95)), 4),
                "mean": round(float(mean[i]), 4),
                "sd": round(float(post_sd[i]), 4),
                "shrinkage": round(float(1 - post_sd[i] / prior_sd[i]), 3),
            }
            for i, k in enumerate(names)
        },
    }
    return draws, record


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--years", default=",".join(map(str, calibrate.YEARS)), help="calibration window")
    ap.add_argument("--design-runs", type=int, default=240, help="simulator runs the emulator is fitted to")
    ap.add_argument("--proposals", type=int, default=200_000, help="draws weighted on the emulator")
    ap.add_argument("--check-runs", type=int, default=20, help="kept draws rerun in the simulator")
    ap.add_argument("--keep", type=int, default=100, help="draws kept (resampled by weight)")
    ap.add_argument("--inflate", type=float, default=0.6, help="design box (x 3) and proposal over the fit's sd")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", help="folder for posterior.csv and posterior.json (default: conf/behaviour/)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from sim.runs.provenance import made_from

    years = tuple(int(y) for y in args.years.split(","))
    fit = to_dict(compose([]))["behaviour"]
    if years != tuple(fit["fit"]["years"]):
        log.info("refitting to %s first (the proposal is centred on the least-squares fit of the same years)", years)
        x0 = np.array([fit["fitted"][k] for k in calibrate.FITTED], float)
        res = calibrate.fit(args.scale, args.seed, x0, years)
        fit = {
            "fitted": dict(zip(calibrate.FITTED, res["x"])),
            "fit": {"names": list(calibrate.FITTED), "covariance": res["cov"].tolist()},
        }
    draws, record = sample(
        args.scale,
        args.seed,
        years,
        args.proposals,
        args.keep,
        args.inflate,
        args.workers,
        fit,
        args.design_runs,
        args.check_runs,
    )
    cmd = "python -m sim posterior " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    record = {"command": cmd.strip(), **record, "made_from": made_from(years)}
    if not args.out and record["effective_sample_size"] < MIN_ESS:
        raise SystemExit(
            f"effective sample size {record['effective_sample_size']} < {MIN_ESS}: the sample does not represent "
            f"the posterior, so it is not written to {POSTERIOR_CSV} (every ensemble would draw from it). "
            "More design runs or a wider --inflate may help; --out writes it elsewhere to inspect."
        )
    out = Path(args.out) if args.out else POSTERIOR_CSV.parent
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "posterior.json", json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    write_text(out / "posterior.csv", draws.round(5).to_csv(index=False))
    log.info("ESS %.0f of %d proposals; wrote %s", record["effective_sample_size"], args.proposals, out)
    for k, v in record["posterior"].items():
        log.info(
            "  %-24s median %8.4f  90%% [%8.4f, %8.4f]  shrinkage %.2f",
            k,
            v["median"],
            v["p5"],
            v["p95"],
            v["shrinkage"],
        )


if __name__ == "__main__":
    main()
