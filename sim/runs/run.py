"""Run one configuration to a run folder: indicators table, plot, manifest (last)."""

import logging
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sim.kernel import warmup
from sim.reporting import plots
from sim.runs import identity, outputs, provenance
from sim.world.inputs import data_file_hashes, load_province_series

log = logging.getLogger("sim")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def progress_reporter(mode: str, label: str):
    """A progress callback: a tqdm bar on a terminal, log lines otherwise (issue: long runs)."""
    if mode == "none":
        return None
    if mode == "bar" or (mode == "auto" and sys.stderr.isatty()):
        from tqdm import tqdm

        bar = tqdm(total=None, desc=label, unit="month")

        def cb(month, n):
            from sim.places import month_calendar

            bar.total = n
            y, m = month_calendar(month - 1)
            bar.set_postfix_str(f"{y}-{m:02d}")
            bar.update(1)
            if month >= n:
                bar.close()

        return cb
    t0 = time.monotonic()

    def cb(month, n):
        from sim.places import month_calendar

        if month % 12 == 2 or month == n:
            y, m = month_calendar(month - 1)
            el = time.monotonic() - t0
            eta = el / month * (n - month)
            log.info("%s: simulated %d-%02d (%d/%d months), %.1f s elapsed, ETA %.1f s", label, y, m, month, n, el, eta)

    return cb


def run_to_folder(cfg: dict, run_dir: Path) -> dict:
    """Build, run and write one model run. Returns the manifest."""
    from sim.config import draws
    from sim.config.schema import ConfigError, validate_config

    validate_config(cfg)  # ConfigError naming key, value and what is allowed, before anything is built or written
    try:  # the manifest records the draw a run used and its values (auto: the fitted point in a single run)
        cfg = draws.resolve(cfg)
    except draws.PosteriorDrawError as e:
        raise ConfigError(str(e)) from None
    identity.code_version()  # the code this run runs, read before it runs (the manifest's result key)
    fit_check = provenance.enforce(cfg)  # a fit made from other code/data/targets: warned, or refused (strict)
    from sim.model import ShanxiModel

    run_dir = outputs.begin_run(run_dir)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    # a cold numba cache: the yearly kernels compile in a second process meanwhile (sim/kernel/warmup.py)
    ahead = warmup.start() if cfg["run"].get("compile_ahead", True) else None
    try:
        model = ShanxiModel(config=cfg, threads=cfg["run"].get("threads") or None)
        t_setup = time.perf_counter() - t0
        synthesis = model.synthesis_fit()  # the census starting state, control by control (before stepping)
        model.run(progress=progress_reporter(str(cfg["run"].get("progress", "auto")), model.scenario_name))
    finally:
        warmup.stop(ahead)
    t_run = time.perf_counter() - t0 - t_setup
    table = outputs.write_table(run_dir, model.indicator_rows())
    outputs.write_text(run_dir / "synthesis_fit.csv", synthesis.to_csv(index=False))
    foot = (
        f"scenario {model.scenario_name} | seed {model.seed} | scale {model.scale:g} | "
        f"model {identity.code_version()['model_version']} {identity.brief(identity.parts(cfg))} | {started:%Y-%m-%d}"
    )
    plots.urbanization_figure(table, load_province_series(), foot, run_dir / "urbanization.png")
    t_out = time.perf_counter() - t0 - t_setup - t_run
    man = outputs.manifest(
        cfg,
        model.seed,
        started,
        time.perf_counter() - t0,
        peak_rss_mb(),
        data_file_hashes(),
        {"setup": t_setup, "stepping": t_run, "output": t_out},
        ["indicators.csv", "indicators.parquet", "urbanization.png", "synthesis_fit.csv"],
        extra={"households_simulated": int(model.households.n), "months": model.n_months, "fit_provenance": fit_check},
    )
    outputs.write_manifest(run_dir, man)
    return man
