"""Bayesian calibration of the fitted behaviour constants: a posterior sample, shipped as data.

    python -m sim posterior                                   # 2021-2023 -> conf/behaviour/posterior.csv (+ .json)
    python -m sim posterior --years 2021,2022 --out outputs/posterior_2022   # origin 2022 (rolling origin)
    python -m sim posterior --launcher slurm --runs-per-task 10    # each wave's runs as a Slurm job array

Likelihood: Gaussian in the residuals that `python -m sim calibrate` minimises (each target's miss over its
tolerance, which stands for the observation error of its source: a 1 per mille sample survey for the rates
and populations, the evidence's spread for returns and residence durations). Where the model cannot meet
every target at once, the errors are widened to the best fit (chi2 = degrees of freedom), so that model
error is not mistaken for information. Priors: normal, stated with their reasons in
conf/calibration/priors.yaml.

Method: history matching in waves with quadratic emulators, then importance sampling on the last one
(Craig et al. 1997; Vernon et al. 2010; Andrianakis et al. 2015 for agent-based models). At one seed the
simulator's likelihood surface is rugged: a small change of a constant changes which households move, and
the misfit jumps by several units, so importance sampling on the simulator itself piles the weights onto a
few lucky runs (an effective sample size below 10 of 150-400 proposals, measured). So, wave 1: `--design-runs`
simulator runs on a Latin hypercube over the least-squares fit +/- 3 `--inflate` standard deviations; every
residual is fitted by a quadratic in the constants, its misfit (ruggedness, noise, curvature a quadratic
misses) added to its variance; points whose implausibility exceeds 3 are ruled out. Each next wave runs the
simulator where nothing has ruled out yet and fits its emulator there, so the emulators become local and
accurate where the posterior is (origin 2022: the resident rate's misfit falls from 5.7-8.6 tolerances in
wave 1 to 0.4-0.7 in wave 4, measured). After `--waves`, `--proposals` draws from a Student t on the last
region are weighted prior x emulated likelihood / proposal (zero where a wave ruled them out) and `--keep`
are resampled by weight (systematic resampling). Finally some kept draws are rerun in the simulator, and the
emulated and simulated misfits are compared (`check` in the record). Below an effective sample size of
MIN_ESS nothing is written to conf/behaviour/.

Why this method: 9 constants, a simulator of about 0.6 s a run (3 years at scale 0.03) whose single-seed
surface is rugged, and a laptop: a few hundred runs (4-5 minutes on 2 cores) give emulators that are smooth
and accurate where the posterior is, and sampling on them is free. ABC-SMC would need thousands of runs for the
same, and would still chase one seed's noise.

Writes `posterior.csv` (one row per kept draw: draw, then the constants), `posterior.json` (command,
seed, scale, date, years, runs, ESS, the emulator's misfit by wave and its check, priors, the posterior
medians and 90% intervals, each constant's prior-to-posterior shrinkage, which targets constrain which
constants, and `made_from`: the fit provenance record of sim.runs.provenance), `posterior_design.csv`
(every simulator run: wave, constants, residuals) and the diagnostics of sim.analysis.posterior_plots
(pair plot, marginals, information shares; for the shipped sample into docs/img/).
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
from sim.config import CONF_DIR, PROJECT_ROOT, compose, draws, to_dict
from sim.config.parameters import declarations
from sim.runs.outputs import write_text

log = logging.getLogger("sim.analysis.posterior")
PRIORS_FILE = CONF_DIR / "calibration" / "priors.yaml"
POSTERIOR_CSV = PROJECT_ROOT / draws.DEFAULT_POSTERIOR  # the shipped sample, every ensemble's default
FIGURES = CONF_DIR.parent / "docs" / "img"  # the shipped posterior's diagnostics (README)
T_DOF = 5  # degrees of freedom of the proposal's Student t
MIN_ESS = 50  # below it the sample is not shipped as the default posterior
IMPLAUSIBILITY_CUT = 3.0  # history matching: points more implausible are ruled out (Pukelsheim's 3 sigma rule)


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


def _batch(jobs) -> list[np.ndarray]:
    """Residuals of a batch of runs, in one process (a Slurm array task)."""
    return [_residuals(job) for job in jobs]


def slurm_settings() -> dict:
    """The Slurm settings of the project's sweeps (conf/hydra/launcher/slurm.yaml): one place for both."""
    raw = yaml.safe_load((CONF_DIR / "hydra" / "launcher" / "slurm.yaml").read_text(encoding="utf-8")) or {}
    return {k: raw.get(k) for k in ("partition", "timeout_min", "cpus_per_task", "mem_gb", "array_parallelism")}


def _run_slurm(jobs: list, folder: Path, runs_per_task: int) -> np.ndarray:
    """The runs as one Slurm job array through submitit (the library under the project's Hydra launcher),
    `runs_per_task` runs per array task; results in the order of `jobs`, whatever order the tasks finish in."""
    import submitit

    s = slurm_settings()
    ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    ex.update_parameters(
        slurm_partition=s["partition"],
        timeout_min=int(s["timeout_min"] or 60),
        cpus_per_task=int(s["cpus_per_task"] or 1),
        mem_gb=s["mem_gb"],
        slurm_array_parallelism=int(s["array_parallelism"] or 16),
        name="shanxi-posterior",
    )
    batches = [jobs[i : i + runs_per_task] for i in range(0, len(jobs), runs_per_task)]
    tasks = ex.map_array(_batch, batches)
    log.info("%d runs as Slurm array %s (%d tasks)", len(jobs), tasks[0].job_id.split("_")[0], len(tasks))
    return np.array([r for t in tasks for r in t.result()])


def _run(x: np.ndarray, scale: float, seed: int, years, workers: int, launcher: dict | None = None) -> np.ndarray:
    """Residuals of every parameter row of x at `seed` (the targets read once): in parallel local processes
    (workers > 1), or on Slurm (launcher {"name": "slurm", "folder": ..., "runs_per_task": ...}). Each run
    depends only on its row, scale and seed, so the launcher does not change a result."""
    tg = calibrate.targets(tuple(years))
    jobs = [(row, scale, seed, tg) for row in x]
    if launcher and launcher.get("name") == "slurm":
        return _run_slurm(jobs, Path(launcher["folder"]), int(launcher.get("runs_per_task", 10)))
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


def _emulate(x: np.ndarray, r: np.ndarray, centre: np.ndarray, sd: np.ndarray):
    """A quadratic emulator of every residual fitted to runs (x, r): its coefficients and each residual's
    variance (1, the observation error in residual units, plus the emulator's misfit: ruggedness and noise)."""
    features = quadratic_features(x, centre, sd)
    coef, *_ = np.linalg.lstsq(features, r, rcond=None)
    misfit = r - features @ coef
    variance = 1.0 + np.sum(misfit**2, axis=0) / max(1, len(x) - features.shape[1])
    return coef, variance


def information_shares(coef: np.ndarray, variance: np.ndarray, sd: np.ndarray, names, targets) -> dict:
    """Which targets constrain which parameters: each target's share of a parameter's Fisher information at
    the emulator's centre (its linear term squared over its variance), {parameter: {target: share}}."""
    jac = coef[1 : 1 + len(names)] / sd[:, None]  # d residual / d parameter, (parameters, targets)
    info = jac**2 / variance[None, :]
    share = info / np.maximum(info.sum(axis=1, keepdims=True), 1e-300)
    return {p: {t: round(float(share[i, k]), 3) for k, t in enumerate(targets)} for i, p in enumerate(names)}


def implausibility(x: np.ndarray, emulator: dict) -> np.ndarray:
    """History matching's implausibility of parameter rows x under one wave's emulator: the largest over
    targets of |emulated residual| / its sd (observation error, model error and the emulator's misfit, so a
    poorly emulated target rules out little; Vernon et al. 2010, Bayesian Analysis 5:619). The largest, not
    the second largest: with one calibration year the resident rate is a single target, and it must be able
    to rule a point out on its own."""
    e = quadratic_features(x, emulator["centre"], emulator["sd"]) @ emulator["coef"]
    return np.max(np.abs(e) / np.sqrt(emulator["variance"] * emulator["error_scale"]), axis=1)


def _emulator_on(x: np.ndarray, r: np.ndarray, n_params: int) -> dict:
    """A quadratic emulator fitted to runs (x, r), centred and scaled on them, with its misfit variance and
    the error scale that lets the best run fit at chi2 = degrees of freedom (model error)."""
    centre, sd = x.mean(axis=0), x.std(axis=0)
    coef, variance = _emulate(x, r, centre, sd)
    em = {"centre": centre, "sd": sd, "coef": coef, "variance": variance, "error_scale": 1.0}
    chi2 = np.sum((quadratic_features(x, centre, sd) @ coef) ** 2 / variance, axis=1)
    em["error_scale"] = max(1.0, float(chi2.min()) / max(1, r.shape[1] - n_params))
    return em


def design_box(names, centre, cov, inflate: float, priors: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The region wave 1 samples: the least-squares fit +/- `inflate` x 3 standard deviations of its
    covariance, within each constant's declared range (conf/parameters.yaml) and within 4 prior standard
    deviations of the prior mean. A fit on few years can be so wide that the box would reach values the model
    refuses, or spend its runs where the prior (a factor of the weights) leaves nothing: the emulator then
    fits badly where the posterior is. Where the fit lies beyond the prior's bound, the prior bound is not
    applied to that constant."""
    half = 3 * inflate * np.sqrt(np.diag(cov))
    declared = declarations()
    valid = np.array([declared[f"behaviour.fitted.{k}"]["range"] for k in names], float)
    lo, hi = np.maximum(centre - half, valid[:, 0]), np.minimum(centre + half, valid[:, 1])
    if priors:
        mean = np.array([priors[k][0] for k in names], float)
        sd = np.array([priors[k][1] for k in names], float)
        p_lo, p_hi = np.maximum(lo, mean - 4 * sd), np.minimum(hi, mean + 4 * sd)
        inside = p_lo < p_hi
        lo, hi = np.where(inside, p_lo, lo), np.where(inside, p_hi, hi)
    return lo, hi


def sample(
    scale: float,
    seed: int,
    years,
    proposals: int,
    keep: int,
    inflate: float,
    workers: int,
    fit: dict,
    design_runs: int = 120,
    check_runs: int = 20,
    waves: int = 5,
    launcher: dict | None = None,
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """History matching in waves, then importance sampling on the last wave's emulator; returns the kept
    draws, the record for posterior.json and the design (every simulator run: wave, parameters, residuals).

    Wave 1 runs `design_runs` simulator runs on a Latin hypercube over the least-squares fit +/- `inflate` x 3 of
    its standard deviations, within each constant's declared range and 4 prior standard deviations (the box,
    `design_box`: nothing outside it is sampled). Every wave fits a quadratic emulator of every residual to the runs
    not ruled out by the earlier waves, its misfit kept as a variance, and rules out the parameter points whose
    implausibility (`implausibility`) exceeds IMPLAUSIBILITY_CUT; the next wave's runs are drawn from the points
    still in (`proposals` candidates from a Student t on the runs' mean and spread). Each wave's emulator is local
    to a smaller region, so it fits better where the posterior is: one quadratic over the whole box misfits the
    resident rate by several tolerances when the fit is wide (e.g. calibrated to two years). The last wave:
    `proposals` draws weighted prior x emulated likelihood / proposal (zero where an earlier wave ruled the point
    out), `keep` resampled by weight, `check_runs` of them rerun in the simulator against the emulator."""
    names = list(calibrate.FITTED)
    priors = load_priors()
    tg = calibrate.targets(tuple(years))
    target_names = calibrate.residual_names(tg)
    fit_centre = np.array([fit["fitted"][k] for k in names], float)
    cov = np.asarray(fit["fit"]["covariance"], float)
    if cov.shape != (len(names), len(names)) or list(fit["fit"]["names"]) != names:
        raise ValueError("behaviour.fit.covariance does not match the fitted constants: rerun python -m sim calibrate")
    rng = np.random.default_rng([seed, 20251206])
    prior_mean = np.array([priors[k][0] for k in names])
    prior_sd = np.array([priors[k][1] for k in names])
    box_lo, box_hi = design_box(names, fit_centre, cov, inflate, priors)

    def in_box(x):
        return np.all((x >= box_lo) & (x <= box_hi), axis=1)

    def not_ruled_out(x, emulators):
        ok = in_box(x)
        for em in emulators:
            ok &= implausibility(x, em) <= IMPLAUSIBILITY_CUT
        return ok

    t0 = time.perf_counter()
    x_new = latin_hypercube(box_lo, box_hi, design_runs, rng)
    x_new[0] = fit_centre
    xs, rs, wave_of, ruled, wave_records = [], [], [], [], []
    for wave in range(1, waves + 1):
        xs.append(x_new)
        rs.append(_run(x_new, scale, seed, years, workers, launcher))
        wave_of += [wave] * len(x_new)
        x_all, r_all = np.vstack(xs), np.vstack(rs)
        region = not_ruled_out(x_all, ruled)  # the runs of the region still in
        em = _emulator_on(x_all[region], r_all[region], len(names))
        # candidates: a Student t on the region's runs (wider than their spread), kept where nothing rules
        # them out
        loc = x_all[region].mean(axis=0)
        shape = np.cov(x_all[region].T) * 1.5**2
        proposal = stats.multivariate_t(loc=loc, shape=shape, df=T_DOF, seed=rng)
        x = proposal.rvs(size=proposals)
        earlier_ok = not_ruled_out(x, ruled)
        now_ok = earlier_ok & (implausibility(x, em) <= IMPLAUSIBILITY_CUT)
        record = {
            "wave": wave,
            "runs_in_region": int(region.sum()),
            "candidates_not_ruled_out_pct": round(100 * float(now_ok.mean()), 2),
            "error_scale": round(em["error_scale"], 3),
            "emulator_misfit_sd": {t: round(float(v), 3) for t, v in zip(target_names, np.sqrt(em["variance"] - 1))},
        }
        wave_records.append(record)
        log.info(
            "wave %d: emulator on %d runs, resident-rate misfit %s tolerances, %.1f%% of candidates not ruled out "
            "[%.0f s]", wave, region.sum(), " ".join(f"{v:.2f}" for v in np.sqrt(em["variance"][: len(years)] - 1)),
            record["candidates_not_ruled_out_pct"], time.perf_counter() - t0,
        )  # fmt: skip
        if wave < waves:
            pool = x[now_ok]
            if len(pool) < design_runs:
                raise RuntimeError(
                    f"wave {wave}: only {len(pool)} of {proposals} candidates are not ruled out; more --proposals "
                    "or a wider --inflate"
                )
            x_new = pool[rng.choice(len(pool), design_runs, replace=False)]
            ruled.append(em)
    # the posterior: importance sampling on the last emulator, inside the region the earlier waves left
    log_w = -0.5 * np.sum((quadratic_features(x, em["centre"], em["sd"]) @ em["coef"]) ** 2 / em["variance"], axis=1)
    log_w = log_w / em["error_scale"]
    log_w = log_w + np.sum(stats.norm.logpdf(x, prior_mean, prior_sd), axis=1) - proposal.logpdf(x)
    log_w[~earlier_ok] = -np.inf
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    ess = float(1.0 / np.sum(w**2))
    mean = np.sum(w[:, None] * x, axis=0)
    post_sd = np.sqrt(np.sum(w[:, None] * (x - mean) ** 2, axis=0))
    kept = x[systematic_resample(w, keep, rng)]
    # the check: the simulator at some kept draws, against the emulator
    check = kept[: min(check_runs, keep)]
    chi2_sim = np.sum(_run(check, scale, seed, years, workers, launcher) ** 2 / em["variance"], axis=1)
    chi2_em = np.sum((quadratic_features(check, em["centre"], em["sd"]) @ em["coef"]) ** 2 / em["variance"], axis=1)
    draws = pd.DataFrame(kept, columns=names)
    draws.insert(0, "draw", np.arange(1, keep + 1))
    design = pd.DataFrame(np.vstack(xs), columns=names)
    design.insert(0, "wave", wave_of)
    design = design.join(pd.DataFrame(np.vstack(rs), columns=[f"residual: {t}" for t in target_names]))
    record = {
        "method": "history matching in waves with quadratic emulators, then importance sampling on the last "
        "wave's emulator (sim/analysis/posterior.py)",
        "seed": seed,
        "scale": scale,
        "years": [int(y) for y in years],
        "waves": waves,
        "design_runs": int(len(design)),
        "proposals": proposals,
        "kept": keep,
        "inflate": inflate,
        "implausibility_cut": IMPLAUSIBILITY_CUT,
        "effective_sample_size": round(ess, 1),
        "targets": target_names,
        "emulator_misfit_sd": [round(float(v), 3) for v in np.sqrt(em["variance"] - 1.0)],
        "check": {
            "runs": len(check),
            "chi2_simulator_median": round(float(np.median(chi2_sim)), 2),
            "chi2_emulator_median": round(float(np.median(chi2_em)), 2),
            "chi2_abs_difference_median": round(float(np.median(np.abs(chi2_sim - chi2_em))), 2),
        },
        "error_scale": round(em["error_scale"], 3),
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
        "information_shares": information_shares(em["coef"], em["variance"], em["sd"], names, target_names),
        "waves_detail": wave_records,
    }
    return draws, record, design


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--years", default=",".join(map(str, calibrate.YEARS)), help="calibration window")
    ap.add_argument("--design-runs", type=int, default=120, help="simulator runs of each wave")
    ap.add_argument("--waves", type=int, default=5, help="waves of design, emulator and sampling")
    ap.add_argument("--proposals", type=int, default=200_000, help="draws weighted on the emulator")
    ap.add_argument("--check-runs", type=int, default=20, help="kept draws rerun in the simulator")
    ap.add_argument("--keep", type=int, default=100, help="draws kept (resampled by weight)")
    ap.add_argument("--inflate", type=float, default=0.6, help="design box (x 3) and proposal over the fit's sd")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local processes (launcher local)")
    ap.add_argument(
        "--launcher", choices=("local", "slurm"), default="local",
        help="slurm: every wave's runs as one job array (settings of conf/hydra/launcher/slurm.yaml)",
    )  # fmt: skip
    ap.add_argument("--runs-per-task", type=int, default=10, help="simulator runs per Slurm array task")
    ap.add_argument("--out", help="folder for posterior.csv and posterior.json (default: conf/behaviour/)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from sim.runs.provenance import made_from

    years = tuple(int(y) for y in args.years.split(","))
    out = Path(args.out) if args.out else POSTERIOR_CSV.parent
    launcher = None
    if args.launcher == "slurm":
        launcher = {"name": "slurm", "folder": str(out / ".submitit"), "runs_per_task": args.runs_per_task}
    fit = to_dict(compose([]))["behaviour"]
    if years != tuple(fit["fit"]["years"]):
        log.info("refitting to %s first (the proposal is centred on the least-squares fit of the same years)", years)
        x0 = np.array([fit["fitted"][k] for k in calibrate.FITTED], float)
        res = calibrate.fit(args.scale, args.seed, x0, years)
        fit = {
            "fitted": dict(zip(calibrate.FITTED, res["x"])),
            "fit": {"names": list(calibrate.FITTED), "covariance": res["cov"].tolist()},
        }
    draws, record, design = sample(
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
        args.waves,
        launcher,
    )
    cmd = "python -m sim posterior " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    record = {"command": cmd.strip(), **record, "made_from": made_from(years)}
    if not args.out and record["effective_sample_size"] < MIN_ESS:
        raise SystemExit(
            f"effective sample size {record['effective_sample_size']} < {MIN_ESS}: the sample does not represent "
            f"the posterior, so it is not written to {POSTERIOR_CSV} (every ensemble would draw from it). "
            "More design runs or a wider --inflate may help; --out writes it elsewhere to inspect."
        )
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "posterior.json", json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    write_text(out / "posterior.csv", draws.round(5).to_csv(index=False))
    write_text(out / "posterior_design.csv", design.round(5).to_csv(index=False))
    from sim.analysis import posterior_plots

    figures = posterior_plots.write_all(out / "posterior.csv", out if args.out else FIGURES, fit["fitted"])
    log.info("diagnostics: %s", ", ".join(str(f) for f in figures))
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
