"""`python -m sim`: the Hydra app that runs one projection (or a sweep with -m).

    python -m sim                                   # full province, baseline, seed 42
    python -m sim population.scale=0.01 seed=3      # a quick 1% run
    python -m sim -m scenario=baseline seed='range(4)'   # a sweep (joblib or Slurm launcher)
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
    run_dir = HydraConfig.get().runtime.output_dir
    try:
        man = run_to_folder(to_dict(cfg), run_dir)
    except (ConfigError, MemoryGuardError) as e:   # a refused input: the message, not a traceback
        log.error("refused: %s", e)
        sys.exit(2)
    log.info("run complete: %s (wall %.1f s, peak %.0f MB)", run_dir, man["wall_time_s"], man["peak_rss_mb"])


if __name__ == "__main__":
    main()
