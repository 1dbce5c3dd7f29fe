"""Configuration: the Hydra config tree in conf/, composed for the Hydra app or for plain Python use."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout: conf/, outputs/, docs/
CONF_DIR = PROJECT_ROOT / "conf"


def _register():  # the declared parameter values are config options (sim/config/parameters.py)
    from sim.config.parameters import register_defaults

    register_defaults()


def compose(overrides: list[str] | None = None) -> DictConfig:
    """The same config `python -m sim` would run with these overrides (without Hydra's run dir)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides or []))


def to_dict(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


_register()
