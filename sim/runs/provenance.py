"""Provenance of the behaviour fit: what a calibration was made from, and whether a run uses it with the same.

`python -m sim calibrate` records in conf/behaviour/fitted.yaml's `fit:` block, under `made_from`:

    code:     model_version, commit, and `sources`: 16 hex over the model sources (sim.runs.identity,
              without conf/behaviour/fitted.yaml itself, which the calibration writes)
    data:     16 hex over the data files (sim.world.inputs.data_file_hashes)
    targets:  16 hex over the calibration targets and their tolerances (sim.analysis.calibrate.target_record)
    packages: numpy, numba

Every run (sim.runs.run.run_to_folder) checks the fit it uses against the code, data and targets of
now (`check_fit`). A fit made from other code, data or targets, or one without this record (unknown
provenance), gets a warning naming the command that recalibrates (the record's `command`); with
`run.strict_provenance=true` the run is refused instead (ProvenanceError, exit 2).
"""

from __future__ import annotations

import logging

from sim.runs import identity

log = logging.getLogger("sim.runs.provenance")
FIT_SOURCES_EXCLUDE = (identity.FIT_FILE,)
RECALIBRATE = "python -m sim calibrate"


class ProvenanceError(ValueError):
    """The behaviour fit in use was made from other code, data or targets (refused: run.strict_provenance)."""


def fit_code() -> dict:
    code = identity.code_version()
    return {
        "model_version": code["model_version"],
        "commit": code["commit"],
        "sources": identity.sources_digest(FIT_SOURCES_EXCLUDE),
    }


def targets_version(years) -> str:
    from sim.analysis.calibrate import target_record

    return identity.short_hash(target_record(tuple(int(y) for y in years)))


def made_from(years) -> dict:
    """The `made_from` record of a calibration over `years`, made now."""
    return {
        "code": fit_code(),
        "data": identity.data_version(),
        "targets": targets_version(years),
        "packages": identity.package_key(),
    }


def check_fit(cfg: dict) -> tuple[str, list[str]]:
    """("none" | "matches" | "unknown" | "differs", problems) of the behaviour fit of `cfg`."""
    beh = (cfg or {}).get("behaviour") or {}
    fit = beh.get("fit") if isinstance(beh, dict) else None
    if not isinstance(fit, dict) or not fit:
        return "none", []
    rec = fit.get("made_from")
    if not isinstance(rec, dict):
        return "unknown", ["it records no code, data or targets version (made before calibrations recorded them)"]
    problems = []
    src = fit_code()["sources"]
    old = rec.get("code") or {}
    if old.get("sources") != src:
        problems.append(
            f"the model code changed since (sources {old.get('sources')} -> {src}; "
            f"fitted at commit {str(old.get('commit'))[:10]})"
        )
    data = identity.data_version()
    if rec.get("data") != data:
        problems.append(f"the data files changed since (data {rec.get('data')} -> {data})")
    try:
        targets = targets_version(fit.get("years") or ())
    except Exception as e:  # noqa: BLE001 - targets that cannot be computed are not the fit's targets
        targets = f"(cannot be computed: {e})"
    if rec.get("targets") != targets:
        problems.append(f"the calibration targets changed since (targets {rec.get('targets')} -> {targets})")
    return ("differs" if problems else "matches"), problems


def fit_message(fit: dict, status: str, problems: list[str]) -> str:
    command = fit.get("command") or RECALIBRATE
    when = f" of {fit['date']}" if fit.get("date") else ""
    how = "has unknown provenance" if status == "unknown" else "was made from other inputs than this run's"
    return (
        f"the behaviour fit{when} (conf/behaviour/fitted.yaml) {how}: {'; '.join(problems)}; "
        f"its constants may not fit this model; to refit them: `{command}`"
    )


def enforce(cfg: dict) -> dict:
    """Warn about (or, with run.strict_provenance=true, refuse) a run whose behaviour fit was made from
    other code, data or targets, or records no provenance. Returns the check for the run's manifest."""
    status, problems = check_fit(cfg)
    if problems:
        fit = cfg["behaviour"]["fit"]
        text = fit_message(fit, status, problems)
        if bool((cfg.get("run") or {}).get("strict_provenance", False)):
            raise ProvenanceError(text + " (refused: run.strict_provenance=true)")
        log.warning("%s (run.strict_provenance=true refuses such runs)", text)
    return {"status": status, "problems": problems}
