"""Sweeps: skip jobs that are already complete, and report the state of every job of a sweep folder.

    python -m sim sweep status outputs/sweeps/my_sweep          # one line per job, logs of the failed ones
    python -m sim sweep status outputs/sweeps/my_sweep --tail 40 --no-sacct

A sweep folder is what `python -m sim -m ... hydra.sweep.dir=DIR` writes: `multirun.yaml` (the sweep's
config and overrides), one folder per job (`<num>_<scenario>_seed<seed>/` holding `.hydra/` and, once
the run is complete, `manifest.json`) and, with `hydra/launcher=slurm`, `.submitit/<slurm job id>/`
with each job's stdout/stderr.

Job states:
  complete    the folder has a complete manifest whose result key is that of the job run now
  stale       the folder has a complete manifest made by another version: its config, code, data,
              behaviour fit or packages differ from the job's now (listed, part by part), or it has
              no result key; or a folder whose overrides are not those of the sweep's job with its number
  running     no manifest yet, and Slurm says the job is PENDING/RUNNING
  incomplete  the job started (its folder exists) but has no complete manifest: failed or killed
  missing     the sweep has this job (from multirun.yaml) but no folder: never started

Exit status of `status`: 0 when every job is complete, 1 otherwise.

Rerunning the same sweep command with the same `hydra.sweep.dir` recomputes only what is not complete:
`python -m sim` calls `completion(run_dir, cfg)` first and returns at once when the job's folder holds
a complete manifest of the same result key (sim/runs/identity.py); a stale job is recomputed. To say
what a rerun would do, `status` composes each complete job's config from its overrides
(.hydra/overrides.yaml) with the conf/ of now, as the rerun would.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from sim.runs import identity, outputs
from sim.runs.identity import RESULT_NEUTRAL_KEYS, comparable_config  # noqa: F401 - kept importable from here

SLURM_ID = re.compile(r"^\d+(_\d+)?$")
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "COMPLETING", "CONFIGURING"}


# ------------------------------------------------------------------------------------------ skipping
def completion(run_dir: Path, cfg: dict, data_hashes: dict | None = None) -> tuple[str, dict | None, list[str]]:
    """Whether `run_dir` already holds the result of running `cfg` now:

    ("complete", manifest, [])    a complete run with this result key (config, code, data, fit, packages)
    ("stale", manifest, changes)  a complete run made otherwise; `changes` says what differs, part by part
    ("none", None, [])            no complete run (or one whose outputs are gone)
    """
    run_dir = Path(run_dir)
    if not outputs.is_complete(run_dir):
        return "none", None, []
    man = _load_json(run_dir / outputs.MANIFEST)
    if not isinstance(man, dict) or not all((run_dir / name).is_file() for name in man.get("outputs") or {}):
        return "none", None, []
    if data_hashes is None:
        from sim.world.inputs import data_file_hashes

        data_hashes = data_file_hashes()
    now = identity.record(cfg, data_hashes)
    old = identity.manifest_parts(man)
    if old is not None and identity.key_of(old) == now["key"]:
        return "complete", man, []
    return "stale", man, identity.differences(man, now, cfg, data_hashes, old)


def already_complete(run_dir: Path, cfg: dict) -> dict | None:
    """The manifest of `run_dir` if it is a complete run of this very result (and its outputs exist)."""
    state, man, _ = completion(run_dir, cfg)
    return man if state == "complete" else None


# ------------------------------------------------------------------------------------------ discovery
@dataclasses.dataclass
class Job:
    num: int | None  # hydra.job.num
    folder: Path | None  # the job's run folder (None: never started)
    overrides: list[str]  # the job's task overrides (key=value)
    state: str = "missing"
    slurm_id: str | None = None  # e.g. "1234_3" (array task) or "1234"
    sacct_state: str | None = None
    sacct_exit: str | None = None
    manifest: dict | None = None
    logs: list[Path] = dataclasses.field(default_factory=list)
    why: list[str] = dataclasses.field(default_factory=list)  # a stale job: what differs

    @property
    def name(self) -> str:
        return self.folder.name if self.folder is not None else f"#{self.num}"


def _load_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def job_folders(sweep_dir: Path) -> list[Path]:
    """Every run folder under a sweep folder: one holding `.hydra/` or a manifest (not under .submitit)."""
    sweep_dir = Path(sweep_dir)
    found = set()
    for pat in (".hydra", outputs.MANIFEST, "indicators.parquet"):
        for p in sweep_dir.rglob(pat):
            folder = p.parent
            rel = folder.relative_to(sweep_dir).parts
            if any(part.startswith(".") for part in rel):  # .submitit, .hydra, hidden folders
                continue
            if folder == sweep_dir:
                continue
            found.add(folder)
    return sorted(found, key=_folder_sort_key)


def _folder_sort_key(p: Path):
    m = re.match(r"^(\d+)_", p.name)
    return (int(m.group(1)) if m else 10**9, str(p))


def job_overrides(folder: Path) -> list[str]:
    """The task overrides of a Hydra job (`.hydra/overrides.yaml`), [] if there are none."""
    ov = _load_yaml(Path(folder) / ".hydra" / "overrides.yaml")
    return [str(o) for o in ov] if isinstance(ov, list) else []


def parse_override(ov: str) -> tuple[str, str]:
    """'population.scale=0.01' -> ('population.scale', '0.01'); '+x=1' -> ('x', '1')."""
    key, _, value = ov.partition("=")
    return key.lstrip("+~"), value


def _job_meta(folder: Path) -> tuple[int | None, str | None]:
    """(hydra.job.num, Slurm job id) from `.hydra/hydra.yaml`: under the submitit Slurm launcher,
    hydra.job.id is the Slurm id ("1234_5" for an array task); other launchers put a counter there."""
    h = _load_yaml(Path(folder) / ".hydra" / "hydra.yaml") or {}
    job = (h.get("hydra") or {}).get("job") or {}
    launcher = str(((h.get("hydra") or {}).get("launcher") or {}).get("_target_", ""))
    num = job.get("num")
    try:
        num = int(num)
    except (TypeError, ValueError):
        m = re.match(r"^(\d+)_", Path(folder).name)
        num = int(m.group(1)) if m else None
    jid = str(job.get("id", ""))
    return num, (jid if "SlurmLauncher" in launcher and SLURM_ID.match(jid) else None)


def expected_jobs(sweep_dir: Path) -> list[list[str]] | None:
    """The overrides of every job of the sweep, by job number, from `multirun.yaml` (basic sweeper)."""
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.exists():
        return None
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf

        conf = OmegaConf.load(path)
        hyd = conf.hydra
        if "BasicSweeper" not in str(hyd.sweeper.get("_target_", "BasicSweeper")):
            return None
        params = hyd.sweeper.get("params") or {}
        args = [f"{k}={v}" for k, v in params.items()] + list(hyd.overrides.task)
        parsed = OverridesParser.create().parse_overrides(args)
        return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except Exception:  # noqa: BLE001 - a status report must not die on an odd multirun.yaml
        return None


def submitit_root(sweep_dir: Path) -> Path:
    """The folder holding submitit's `<job id>/` folders (hydra.launcher.submitit_folder without %j)."""
    sweep_dir = Path(sweep_dir)
    conf = _load_yaml(sweep_dir / "multirun.yaml") or {}
    folder = ((conf.get("hydra") or {}).get("launcher") or {}).get("submitit_folder")
    if isinstance(folder, str) and "%j" in folder:
        folder = folder.replace("${hydra.sweep.dir}", str(sweep_dir)).split("%j")[0]
        if "${" not in folder:
            return Path(folder)
    return sweep_dir / ".submitit"


def _submitit_tasks(root: Path) -> dict[int, str]:
    """{hydra job num: slurm id} of submitted tasks, read from submitit's `*_submitted.pkl`."""
    out = {}
    if not root.is_dir():
        return out
    for pkl in sorted(root.glob("*/*_submitted.pkl"), key=lambda p: p.stat().st_mtime):
        sid = pkl.name[: -len("_submitted.pkl")]
        try:
            from submitit.core.utils import pickle_load

            delayed = pickle_load(pkl)
            num = int(delayed.args[2])  # BaseSubmititLauncher.__call__(overrides, dir_key, job_num, ...)
        except Exception:  # noqa: BLE001
            continue
        out[num] = sid  # newest submission wins
    return out


def sacct_states(ids: list[str]) -> dict[str, tuple[str, str]]:
    """{slurm id: (State, ExitCode)} of job allocations, {} without sacct."""
    if not ids or shutil.which("sacct") is None:
        return {}
    base = sorted({i.split("_")[0] for i in ids})
    try:
        out = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-j", ",".join(base), "--format=JobID,State,ExitCode"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    states = {}
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 3:
            states[parts[0]] = (parts[1].split()[0] if parts[1] else "", parts[2])
    return states


def job_logs(job: Job, sweep_dir: Path) -> list[Path]:
    """The job's logs, most telling first: submitit's stderr and stdout, then Hydra's job log."""
    logs = []
    if job.slurm_id:
        d = submitit_root(sweep_dir) / job.slurm_id
        logs += [p for p in (d / f"{job.slurm_id}_0_log.err", d / f"{job.slurm_id}_0_log.out") if p.exists()]
    if job.folder is not None:
        logs += sorted(p for p in job.folder.glob("*.log") if p.is_file())
    return logs


def sweep_status(sweep_dir: Path, use_sacct: bool = True) -> list[Job]:
    """Every job of a sweep folder with its state."""
    sweep_dir = Path(sweep_dir)
    expected = expected_jobs(sweep_dir)
    jobs: dict = {}
    extra: list[Job] = []
    for folder in job_folders(sweep_dir):
        num, jid = _job_meta(folder)
        job = Job(num=num, folder=folder, overrides=job_overrides(folder), slurm_id=jid)
        if (
            expected is not None
            and num is not None
            and num < len(expected)
            and sorted(expected[num]) != sorted(job.overrides)
            and job.overrides
        ):
            job.state = "stale"
            job.why = [f"its overrides are not those of job {num} of multirun.yaml: {' '.join(expected[num])}"]
            extra.append(job)
            continue
        if num is None or num in jobs:
            extra.append(job)
        else:
            jobs[num] = job
    if expected is not None:
        for num, ov in enumerate(expected):
            jobs.setdefault(num, Job(num=num, folder=None, overrides=ov))
        submitted = _submitit_tasks(submitit_root(sweep_dir)) if any(j.folder is None for j in jobs.values()) else {}
        for num, job in jobs.items():
            if job.folder is None and num in submitted:
                job.slurm_id = submitted[num]
    everything = [jobs[k] for k in sorted(jobs)] + extra
    if use_sacct:
        states = sacct_states([j.slurm_id for j in everything if j.slurm_id])
        for j in everything:
            if j.slurm_id in states:
                j.sacct_state, j.sacct_exit = states[j.slurm_id]
    data_hashes = None
    for j in everything:
        if j.state == "stale":
            pass
        elif j.folder is not None and outputs.is_complete(j.folder):
            if data_hashes is None:
                from sim.world.inputs import data_file_hashes

                data_hashes = data_file_hashes()
            j.state, j.manifest, j.why = job_completion(j, data_hashes)
        elif j.sacct_state in ACTIVE:
            j.state = "running"
        elif j.folder is not None:
            j.state = "incomplete"
        else:
            j.state = "missing"
        j.logs = job_logs(j, sweep_dir)
    return everything


def job_config(job: Job, manifest: dict | None) -> tuple[dict | None, str | None]:
    """The config a rerun of the job would run: its overrides composed with the conf/ of now (and its
    design point applied), or, when that fails or the folder has no overrides file, its manifest's."""
    if job.folder is None or not (job.folder / ".hydra" / "overrides.yaml").exists():
        return (manifest or {}).get("config"), None
    try:
        from sim.config import compose, draws, to_dict
        from sim.runs.design import apply_design

        # as python -m sim runs a sweep job: its posterior draw resolved (multirun), then its design point
        return apply_design(draws.resolve(to_dict(compose(job.overrides)), multirun=True)), None
    except Exception as e:  # noqa: BLE001 - a status report must not die on a job it cannot compose
        note = f"its overrides do not compose now ({str(e).splitlines()[0][:200]}): compared with its own config"
        return (manifest or {}).get("config"), note


def job_completion(job: Job, data_hashes: dict) -> tuple[str, dict | None, list[str]]:
    """(state, manifest, what differs) of a job whose folder holds a complete manifest."""
    man = _load_json(job.folder / outputs.MANIFEST)
    cfg, note = job_config(job, man)
    state, found, why = completion(job.folder, cfg or {}, data_hashes)
    if state == "none":  # its outputs are gone
        return "incomplete", man, []
    return state, found, why + ([note] if note and why else [])


def _load_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def tail(path: Path, n: int) -> list[str]:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    return lines[-n:]


def format_status(jobs: list[Job], sweep_dir: Path, n_tail: int = 15) -> str:
    sweep_dir = Path(sweep_dir)
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.state] = counts.get(j.state, 0) + 1
    lines = [f"sweep {sweep_dir}: {len(jobs)} jobs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))]
    for j in jobs:
        slurm = ""
        if j.slurm_id:
            slurm = f"  slurm {j.slurm_id}"
            if j.sacct_state:
                slurm += f" {j.sacct_state} (exit {j.sacct_exit})"
        info = ""
        if j.state == "complete" and j.manifest:
            wall, peak = j.manifest.get("wall_time_s", float("nan")), j.manifest.get("peak_rss_mb", float("nan"))
            info = f"  wall {wall:.1f} s, peak {peak:.0f} MB"
        elif j.state == "stale" and j.why:
            heads = [w.split(":", 1)[0] for w in j.why if w.split(":", 1)[0] in identity.PARTS]
            info = f"  differs: {', '.join(heads)}" if heads else f"  {j.why[0].split(':', 1)[0]}"
        elif j.state == "incomplete" and any("run failed:" in "".join(tail(p, 200)) for p in j.logs):
            info = "  failed (traceback below)"
        elif j.state == "incomplete" and j.logs and not j.sacct_state:
            age = time.time() - max(p.stat().st_mtime for p in j.logs)  # no Slurm: it may still run
            info = f"  last log line {age:.0f} s ago" + (" (still running?)" if age < 300 else "")
        where = j.folder.relative_to(sweep_dir) if j.folder is not None else "(no folder) " + " ".join(j.overrides)
        num = "?" if j.num is None else j.num
        lines.append(f"  {num:>4} {j.state:<10} {where}{slurm}{info}")
    bad = [j for j in jobs if j.state not in ("complete",)]
    for j in bad:
        if j.state == "running":
            continue
        lines.append("")
        lines.append(
            f"--- {j.name}: {j.state}" + (f", Slurm {j.sacct_state} exit {j.sacct_exit}" if j.sacct_state else "")
        )
        if j.state == "stale" and j.why:
            lines.append("    made by another version than a rerun would use; rerunning the sweep recomputes it:")
            lines += [f"      {w}" for w in j.why]
            continue
        if not j.logs:
            lines.append("    (no log found)")
        for log in j.logs:
            t = tail(log, n_tail)
            lines.append(f"    {log} (last {len(t)} lines):")
            lines += [f"      {s}" for s in t] or ["      (empty)"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sim sweep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser(
        "status", help="list the jobs of a sweep folder: complete / stale / running / incomplete / missing"
    )
    st.add_argument("sweep_dir", type=Path)
    st.add_argument("--tail", type=int, default=15, help="lines of each log shown for jobs that are not complete")
    st.add_argument("--no-sacct", action="store_true", help="do not ask Slurm's accounting for job states")
    st.add_argument("--json", action="store_true", help="print the job list as JSON")
    args = ap.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"no such sweep folder: {args.sweep_dir}", file=sys.stderr)
        return 2
    jobs = sweep_status(args.sweep_dir, use_sacct=not args.no_sacct)
    if args.json:
        rows = [
            {
                "num": j.num,
                "folder": str(j.folder) if j.folder else None,
                "state": j.state,
                "overrides": j.overrides,
                "slurm_id": j.slurm_id,
                "sacct_state": j.sacct_state,
                "sacct_exit": j.sacct_exit,
                "logs": [str(p) for p in j.logs],
                "why": j.why,
            }
            for j in jobs
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        sys.stdout.write(format_status(jobs, args.sweep_dir, args.tail))
    return 0 if jobs and all(j.state == "complete" for j in jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
