"""`python -m sim`: the Hydra app that runs one projection (or a sweep with -m).

    python -m sim                                   # full province, baseline, seed 42
    python -m sim population.scale=0.01 seed=3      # a quick 1% run
    python -m sim -m scenario=baseline seed='range(4)'   # a sweep (joblib or Slurm launcher)

A job whose output folder already holds a complete run of the same config is skipped, so rerunning
a sweep with the same hydra.sweep.dir runs only the missing or failed jobs (see sim/sweep.py).

`+design.file=<design.json> +design.point=<i>` (written and launched by python -m sim.sensitivity)
runs point i of a design: its lever and behaviour values are applied to the config first.
"""
import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.config import to_dict

log = logging.getLogger("sim")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    logging.getLogger("MESA").setLevel(logging.WARNING)
    logging.getLogger("mesa").setLevel(logging.WARNING)
    from sim.guard import MemoryGuardError
    from sim.run import run_to_folder
    from sim.schema import ConfigError
    from sim.sweep import already_complete
    run_dir = HydraConfig.get().runtime.output_dir
    config = to_dict(cfg)
    if config.get("design"):   # a point of a design of python -m sim.sensitivity: its values, before anything else
        from sim.sensitivity import apply_design
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
    except (ConfigError, MemoryGuardError) as e:   # a refused input: the message, not a traceback
        log.error("refused: %s", e)
        sys.exit(2)
    except Exception:
        log.exception("run failed: %s", run_dir)   # the traceback lands in the job's log file too
        raise
    log.info("run complete: %s (wall %.1f s, peak %.0f MB)", run_dir, man["wall_time_s"], man["peak_rss_mb"])


if __name__ == "__main__":
    main()
