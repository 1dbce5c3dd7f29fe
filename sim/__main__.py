"""`python -m sim`: one projection (or a sweep with -m); `python -m sim <tool>`: the project's tools.

    python -m sim                                   # full province, baseline, seed 42
    python -m sim population.scale=0.01 seed=3      # a quick 1% run
    python -m sim -m scenario=baseline seed='range(4)'   # a sweep (joblib or Slurm launcher)
    python -m sim validate population.scale=0.05    # a tool: see TOOLS below, or python -m sim --tools

A job whose output folder already holds a complete run of the same config is skipped, so rerunning
a sweep with the same hydra.sweep.dir runs only the missing or failed jobs (see sim/runs/sweep.py).

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
    "compare": "sim.analysis.compare",  # scenarios side by side
    "sensitivity": "sim.analysis.sensitivity",  # Morris and Sobol
    "seek": "sim.analysis.seek",  # least-cost lever schedule for a target
    "report": "sim.reporting.report",  # the policy report of a run or sweep
    "sweep": "sim.runs.sweep",  # state of a sweep's jobs
    "gather": "sim.runs.gather",  # a sweep into one table and its ensemble summary
    "docs": "sim.reporting.docs",  # regenerate docs/levers.md and docs/parameters.md
}


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    quiet_libraries()
    from sim.config.guard import MemoryGuardError
    from sim.config.schema import ConfigError
    from sim.runs.run import run_to_folder
    from sim.runs.sweep import already_complete

    run_dir = HydraConfig.get().runtime.output_dir
    config = to_dict(cfg)
    if config.get("design"):  # a point of a design of python -m sim sensitivity: its values, before anything else
        from sim.runs.design import apply_design

        try:
            config = apply_design(config)
        except (OSError, ValueError) as e:
            log.error("refused: %s", e)
            sys.exit(2)
    done = already_complete(run_dir, config)
    if done is not None:
        log.info("already complete, skipping: %s (finished %s)", run_dir, done.get("finished"))
        return
    try:
        man = run_to_folder(config, run_dir)
    except (ConfigError, MemoryGuardError) as e:  # a refused input: the message, not a traceback
        log.error("refused: %s", e)
        sys.exit(2)
    except Exception:
        log.exception("run failed: %s", run_dir)  # the traceback lands in the job's log file too
        raise
    log.info("run complete: %s (wall %.1f s, peak %.0f MB)", run_dir, man["wall_time_s"], man["peak_rss_mb"])


def dispatch(argv: list[str]) -> int:
    """Run tool argv[0] with the rest of argv, or the projection when argv[0] is not a tool."""
    if argv and argv[0] == "--tools":
        print("\n".join(f"python -m sim {name:12s} ({module})" for name, module in TOOLS.items()))
        return 0
    if argv and argv[0] in TOOLS:
        sys.argv = [f"python -m sim {argv[0]}", *argv[1:]]
        rc = importlib.import_module(TOOLS[argv[0]]).main()
        return rc if isinstance(rc, int) else 0
    main()
    return 0


if __name__ == "__main__":
    sys.exit(dispatch(sys.argv[1:]))
