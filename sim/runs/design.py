"""Design points: a run that is one point of a sensitivity or goal-seeking design.

`python -m sim -m +design.file=<design.json> +design.sha256=<hash> +design.point=range(0,N)` runs
every point of a design written by `python -m sim sensitivity` (or `seek`): each job applies its
point's lever and behaviour values to the config (`apply_design`) before anything else.
"""

import copy
import hashlib
import json
from pathlib import Path

APP_KEYS = ("sensitivity", "seek", "target", "design")  # config keys that are not the model's


def _set_path(cfg: dict, dotted: str, value) -> None:
    node = cfg
    parts = dotted.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value


def load_design(path: str | Path, sha256: str | None = None) -> dict:
    raw = Path(path).read_bytes()
    if sha256 and hashlib.sha256(raw).hexdigest() != sha256:
        raise ValueError(
            f"design.file = {path} has changed since the sweep was launched "
            f"(design.sha256 = {sha256} does not match); relaunch the sweep"
        )
    return json.loads(raw)


def apply_design(cfg: dict) -> dict:
    """The config with the values of design point `design.point` of `design.file` applied.

    `cfg["design"] = {"file": path, "point": i[, "sha256": hash]}` (Hydra: `+design.file=...
    +design.point=i`). A point is `{"set": {dotted.key: value}}`, e.g.
    `{"scenario.levers.rent_subsidy_yuan_month": {"all": {"2025": 300}}, "behaviour.beta_income": 1.1}`:
    lever values replace the scenario's schedule of that lever, behavioural values the config's.
    The scenario name gets the suffix `_<design name><i>` (the indicators' `scenario` column).
    A config without `design` is returned unchanged.
    """
    d = cfg.get("design")
    if not d:
        return cfg
    if not isinstance(d, dict) or "file" not in d or "point" not in d:
        raise ValueError(
            f"design = {d!r}: allowed: a mapping with file (a design JSON written by "
            f"python -m sim sensitivity) and point (an index into its points)"
        )
    design = load_design(d["file"], d.get("sha256"))
    points = design["points"]
    i = int(d["point"])
    if not 0 <= i < len(points):
        raise ValueError(f"design.point = {i} is outside 0..{len(points) - 1} (design.file = {d['file']})")
    out = copy.deepcopy(cfg)
    for key, value in points[i]["set"].items():
        if key.split(".")[0] in APP_KEYS or any(p.startswith("_") for p in key.split(".")):
            raise ValueError(f"design.file = {d['file']}: point {i} sets {key}, which is not a model setting")
        _set_path(out, key, copy.deepcopy(value))
    out.setdefault("scenario", {})
    out["scenario"]["name"] = f"{out['scenario'].get('name', 'scenario')}_{design.get('name', 'design')}{i}"
    from sim.config.schema import refuse_code_targets

    refuse_code_targets(out)
    return out
