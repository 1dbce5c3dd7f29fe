"""Which fitted behaviour constants a run uses: the representative point, or one draw of the posterior.

`posterior_draw` (conf/config.yaml):
  0      the representative point: the least-squares fit in conf/behaviour/fitted.yaml (the posterior's
         mode where the priors are weak; `make run` and every single run use it)
  k >= 1 row `draw == k` of the posterior sample `posterior_file` (conf/behaviour/posterior.csv, written by
         `python -m sim posterior`): its constants replace behaviour.fitted
  auto   0 in a single run; in a sweep (Hydra multirun) the draw paired with the job's seed,
         ((seed - 1) mod draws) + 1, so that a sweep over seeds is an ensemble over the posterior and the
         seeds together (parameter and stochastic uncertainty), with no extra sweep dimension

The resolved config holds the draw's number and its values, so a run's manifest and result key say which
constants it ran with.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pandas as pd

from sim.config import PROJECT_ROOT

DEFAULT_POSTERIOR = "conf/behaviour/posterior.csv"


class PosteriorDrawError(ValueError):
    pass


@functools.lru_cache(maxsize=4)
def _table(path: str, mtime_ns: int) -> pd.DataFrame:
    table = pd.read_csv(path)
    if "draw" not in table.columns or len(table.columns) < 2:
        raise PosteriorDrawError(f"{path}: a posterior sample needs a 'draw' column and one column per constant")
    return table


def posterior_path(cfg: dict) -> Path:
    p = Path(str(cfg.get("posterior_file") or DEFAULT_POSTERIOR))
    return p if p.is_absolute() else PROJECT_ROOT / p


def posterior_table(cfg: dict) -> pd.DataFrame:
    path = posterior_path(cfg)
    if not path.is_file():
        raise PosteriorDrawError(
            f"posterior_file = {cfg.get('posterior_file')!r}: no such file (a posterior.csv of python -m sim posterior)"
        )
    return _table(str(path), path.stat().st_mtime_ns)


def draw_for_seed(seed: int, n_draws: int) -> int:
    """The posterior draw paired with a seed in an ensemble: seeds 1, 2, ... take draws 1, 2, ... in turn."""
    return (int(seed) - 1) % n_draws + 1


def resolve(cfg: dict, multirun: bool = False) -> dict:
    """cfg with `posterior_draw` resolved to a number and, for a draw, its constants in behaviour.fitted
    (a copy; cfg itself is not changed). Raises PosteriorDrawError naming the key, the value and the range."""
    choice = cfg.get("posterior_draw", 0)
    if choice is None or str(choice) == "0":
        if choice != 0:
            cfg = {**cfg, "posterior_draw": 0}
        return cfg
    if str(choice) == "auto":
        if not multirun:
            return {**cfg, "posterior_draw": 0}
        table = posterior_table(cfg)
        k = draw_for_seed(int(cfg["seed"]), len(table))
    else:
        try:
            k = int(choice)
        except (TypeError, ValueError):
            raise PosteriorDrawError(
                f"posterior_draw = {choice!r}: allowed 0 (the fitted point), auto, or a draw number >= 1"
            ) from None
        if k < 0:
            raise PosteriorDrawError(f"posterior_draw = {k}: allowed 0 (the fitted point), auto, or a draw number >= 1")
        if k == 0:
            return {**cfg, "posterior_draw": 0}
        table = posterior_table(cfg)
    rows = table[table["draw"] == k]
    if rows.empty:
        raise PosteriorDrawError(
            f"posterior_draw = {k}: {posterior_path(cfg).name} holds draws {int(table['draw'].min())}"
            f"-{int(table['draw'].max())}"
        )
    out = copy.deepcopy(cfg)
    fitted = out.setdefault("behaviour", {}).setdefault("fitted", {})
    for name in table.columns:
        if name == "draw":
            continue
        if name not in fitted:
            raise PosteriorDrawError(
                f"{posterior_path(cfg)}: column {name!r} is not a fitted constant (behaviour.fitted)"
            )
        fitted[name] = float(rows.iloc[0][name])
    out["posterior_draw"] = k
    return out
