"""`python -m sim`: one projection (or a sweep with -m); `python -m sim <tool>`: the project's tools.

    python -m sim                                   # full province, baseline, seed 42
    python -m sim population.scale=0.01 seed=3      # a quick 1% run
    python -m sim -m scenario=baseline seed='range(4)'   # a sweep (joblib or Slurm launcher)
    python -m sim validate population.scale=0.05    # a tool: see TOOLS below, or python -m sim --tools

A job whose output folder already holds a complete run of the same result key (config, code, data,
behaviour fit, numpy/numba: sim/runs/identity.py) is skipped, so rerunning a sweep with the same
hydra.sweep.dir runs only the missing, failed and stale jobs (see sim/runs/sweep.py). A run locks its
folder (sim/runs/lock.py): a second run into a folder in use is refused (exit 2) and leaves it untouched.

`+design.file=<design.json> +design.point=<i>` (written and launched by python -m sim sensitivity)
runs point i of a design: its lever and behaviour values are applied to the config first
(sim/runs/design.py).
"""

import importlib
import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.config import CONF_DIR, to_dict
from sim.runs.logs import quiet_libraries

log = logging.getLogger("sim")

# python -m sim <tool> [arguments]: the module whose main() it runs
TOOLS = {
    "validate": "sim.analysis.validate",  # hindcast, naive benchmarks, bands
    "calibrate": "sim.analysis.calibrate",  # fit the behaviour constants
    "posterior": "sim.analysis.posterior",  # a posterior sample of them (Bayesian calibration)
    "rolling-origin": "sim.analysis.rolling",  # calibrate up to a year, forecast the next, score
    "hindcast": "sim.analysis.hindcast",  # from the 2010 census to the 2020 census, unit by unit
    "compare": "sim.analysis.compare",  # scenarios side by side
    "sensitivity": "sim.analysis.sensitivity",  # Morris and Sobol
    "seek": "sim.analysis.seek",  # least-cost lever schedule for a target
    "lever-effects": "sim.analysis.lever_effects",  # each lever of a scenario alone
    "attribute": "sim.analysis.attribution",  # what each action of a combined scenario adds (Shapley)
    "monitor": "sim.analysis.monitor",  # on track? the ensemble conditioned on the latest observations
    "discover": "sim.analysis.discovery",  # under which conditions the plan misses its target (PRIM)
    "trace": "sim.analysis.trace",  # chosen households month by month through every decision
    "report": "sim.reporting.report",  # the policy report of a run or sweep
    "sweep": "sim.runs.sweep",  # state of a sweep's jobs
    "gather": "sim.runs.gather",  # a sweep into one table and its ensemble summary
    "docs": "sim.reporting.docs",  # regenerate docs/levers.md and docs/parameters.md
}


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    quiet_libraries()
    from sim.runs import lock

    run_dir = HydraConfig.get().runtime.output_dir
    try:
        held = lock.acquire(run_dir)  # the folder's lock: already ours when dispatch took it before Hydra
    except lock.RunFolderBusy as e:
        log.error("refused: %s", e)
        sys.exit(2)
    try:
        if lock.stale_message(held):
            log.warning("%s", lock.stale_message(held))
        from hydra.types import RunMode

        from sim.config import draws

        try:  # posterior_draw: auto -> the draw paired with the seed in a sweep, the fitted point otherwise
            config = draws.resolve(to_dict(cfg), multirun=HydraConfig.get().mode == RunMode.MULTIRUN)
        except draws.PosteriorDrawError as e:
            log.error("refused: %s", e)
            sys.exit(2)
        run_job(config, run_dir)
    finally:
        lock.release(held)


def run_job(config: dict, run_dir: str) -> None:
    """One projection into `run_dir` (locked by the caller): skipped when the folder already holds this
    very result (same config, code, data, fit and packages), recomputed when it holds another's."""
    from sim.config.guard import MemoryGuardError
    from sim.config.schema import ConfigError
    from sim.runs.provenance import ProvenanceError
    from sim.runs.run import run_to_folder
    from sim.runs.sweep import completion

    if config.get("design"):  # a point of a design of python -m sim sensitivity: its values, before anything else
        from sim.runs.design import apply_design

        try:
            config = apply_design(config)
        except (OSError, ValueError) as e:
            log.error("refused: %s", e)
            sys.exit(2)
    state, done, why = completion(run_dir, config)
    if state == "complete":
        log.info("already complete, skipping: %s (finished %s)", run_dir, done.get("finished"))
        return
    if state == "stale":
        log.warning(
            "stale: %s holds a complete run made by another version; recomputing it. What differs: %s",
            run_dir,
            "; ".join(why),
        )
    try:
        man = run_to_folder(config, run_dir)
    except (ConfigError, MemoryGuardError, ProvenanceError) as e:  # a refused input: the message, not a traceback
        log.error("refused: %s", e)
        sys.exit(2)
    except Exception:
        log.exception("run failed: %s", run_dir)  # the traceback lands in the job's log file too
        raise
    log.info("run complete: %s (wall %.1f s, peak %.0f MB)", run_dir, man["wall_time_s"], man["peak_rss_mb"])


def planned_run_dir(argv: list[str]) -> str | None:
    """The folder Hydra will write a single run of `python -m sim <argv>` into (hydra.run.dir resolved),
    None when argv is not a plain single run (flags such as -m) or it cannot be resolved."""
    if any(a.startswith("-") for a in argv):
        return None
    try:
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        if GlobalHydra.instance().is_initialized():
            GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            run_dir = str(compose(config_name="config", overrides=list(argv), return_hydra_config=True).hydra.run.dir)
    except Exception:  # noqa: BLE001 - Hydra reports a bad command line itself, with its own message
        return None
    return None if any(c in run_dir for c in "'\\") or "${" in run_dir else run_dir


def projection(argv: list[str]) -> int:
    """`python -m sim <overrides>`: lock the run folder before Hydra writes anything into it (.hydra/, the
    log), so a second run into a busy folder is refused and leaves it untouched; then run."""
    from sim.runs import lock

    run_dir = planned_run_dir(argv)
    held = None
    if run_dir is not None:
        try:
            held = lock.acquire(run_dir)
        except lock.RunFolderBusy as e:
            if not logging.getLogger().handlers:
                logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
            log.error("refused: %s", e)
            return 2
        kept = [a for a in argv if a.split("=", 1)[0].lstrip("+~") != "hydra.run.dir"]
        sys.argv = [sys.argv[0], *kept, f"hydra.run.dir='{run_dir}'"]  # the folder locked, whatever the clock says
    try:
        main()
    finally:
        if held is not None:
            lock.release(held)
    return 0


def dispatch(argv: list[str]) -> int:
    """Run tool argv[0] with the rest of argv, or the projection when argv[0] is not a tool."""
    if argv and argv[0] == "--tools":
        print("\n".join(f"python -m sim {name:12s} ({module})" for name, module in TOOLS.items()))
        return 0
    if argv and argv[0] in TOOLS:
        sys.argv = [f"python -m sim {argv[0]}", *argv[1:]]
        rc = importlib.import_module(TOOLS[argv[0]]).main()
        return rc if isinstance(rc, int) else 0
    return projection(argv)


if __name__ == "__main__":
    sys.exit(dispatch(sys.argv[1:]))
