"""Which levers matter: Morris screening, Sobol indices, cost-effectiveness. `python -m sim sensitivity`.

    python -m sim sensitivity --quick                      # CI-sized design (a few minutes, wide intervals)
    python -m sim sensitivity                              # conf/sensitivity/default.yaml (hours on 2 cores)
    python -m sim sensitivity population.scale=0.01 sensitivity.seeds=[1,2,3,4,5] \
        sensitivity.launcher=slurm 'sensitivity.launcher_overrides=[hydra.launcher.partition=debug]'

Factors: every policy lever of scenarios/levers.yaml (not the `stress` shocks), each as one constant
value from `sensitivity.from_year` (2025) to 2029 in every region (place levers: every tier or city,
or the regions of `sensitivity.lever_regions`), sampled within the lever's range; and the main
behavioural parameters (conf/behaviour/fitted.yaml) within +/-30% or +/-k standard deviations of
the fit's covariance. Outputs: the 2029 resident and hukou urbanization rates (%) and the public
cost above the baseline, 2025-2029 (亿 yuan).

Steps (each writes into the run folder, outputs/sensitivity/<time>/):

1. Morris design (SALib, r trajectories) plus the nominal point (every factor at its baseline) and,
   with `oat_plan`, one point per lever of the plan at the plan's own schedule -> design_morris.json.
2. The design's runs go through the Hydra sweep machinery of `python -m sim`:
       python -m sim -m +design.file=<design.json> +design.sha256=<hash> +design.point=range(0,N) \
           seed=<s1>,<s2>,... population.scale=... hydra/launcher=joblib hydra.sweep.dir=<run>/runs_morris
   `python -m sim` applies point i's values (`sim.runs.design.apply_design`) before running. Every point runs
   with the same seeds (common random numbers), so seed noise is not mistaken for sensitivity; the
   nominal point also runs with `noise_seeds` to measure that noise.
3. Morris mu*, mu, sigma (with bootstrap intervals) of the three outputs (seed means per point).
4. Sobol design (Saltelli, first and total order) over the top-k factors by mu*; the others stay at
   their baseline -> design_sobol.json, runs_sobol/; S1, ST with bootstrap intervals.
5. Writes sensitivity_indices.csv/.md (every factor: mu*, sigma, S1, ST with intervals),
   cost_effectiveness.csv/.md (urbanization points per billion yuan), sensitivity_tornado.png,
   sensitivity_sobol.png, sensitivity.md (the report, a paragraph per top lever), design files,
   points.csv (every run's outputs), and manifest.json last.

A rerun with the same `hydra.run.dir` reuses complete runs. Small designs give wide intervals; the
report says so and gives the seed-noise level below which a factor is indistinguishable from noise.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.config import CONF_DIR, PROJECT_ROOT
from sim.places import FINAL_YEAR, PLAN_YEARS
from sim.reporting.tables import markdown_table, number
from sim.runs import outputs
from sim.runs.design import APP_KEYS
from sim.runs.logs import quiet_libraries

log = logging.getLogger("sim.analysis.sensitivity")

ROOT = PROJECT_ROOT
YI = 1e8  # 亿 yuan
BILLION = 1e9

# output key -> (column of points.csv, label, unit)
OUTPUTS = {
    "resident_rate_2029": ("resident_rate_2029", "2029 resident urbanization rate", "pp"),
    "hukou_rate_2029": ("hukou_rate_2029", "2029 hukou urbanization rate", "pp"),
    "cost_2025_2029": ("cost_2025_2029_yi", "public cost above baseline 2025-2029", "亿 yuan"),
}
POINT_COLUMNS = ["point", "seed", "resident_rate_2029", "hukou_rate_2029", "cost_2025_2029_yi"]

QUICK = [
    "sensitivity.morris.trajectories=2",
    "sensitivity.seeds=[1]",
    "sensitivity.noise_seeds=[2,3]",
    "sensitivity.sobol.top_k=4",
    "sensitivity.sobol.n=8",
    "sensitivity.oat_plan=false",
    "population.scale=0.001",
]


# ============================================================================ factors


@dataclass
class Factor:
    name: str  # lever name, or behaviour key (beta_income, fitted.asc_stay)
    kind: str  # lever | behaviour
    lo: float
    hi: float
    group: str  # A1..A4 (action of a lever) | behaviour
    unit: str = ""
    nominal: object = None  # baseline value (levers: as in levers.yaml; behaviour: the config's)
    by: str = "province"
    regions: list = field(default_factory=list)  # place levers: where the value is set
    costly: bool = False  # the lever has a unit cost
    range_note: str = ""

    def settings(self, x: float, from_year: int) -> dict:
        """The `set` entries of a design point with this factor at x."""
        x = float(x)
        if self.kind == "behaviour":
            return {f"behaviour.{self.name}": x}
        sched = {str(from_year): x}
        if self.by == "province":
            return {f"scenario.levers.{self.name}": sched}
        return {f"scenario.levers.{self.name}": {r: dict(sched) for r in self.regions}}


SMALL_DESIGN_NOTE = (
    "**Small design: the intervals below are wide and the order of factors with similar μ* is not "
    "reliable.** It screens; it does not settle close calls. Rerun with more trajectories, seeds "
    "and a larger Sobol N (conf/sensitivity/default.yaml) at a larger scale before quoting numbers."
)

NOISE_NOTE = (
    "Factors marked ° have μ* below twice the noise of one elementary effect: with this design they "
    "cannot be told apart from seed noise (the bound is conservative: common random numbers make "
    "the noise of differences smaller)."
)


def settings_of(cfg: dict) -> dict:
    s = copy.deepcopy(cfg.get("sensitivity") or {})
    s.setdefault("from_year", 2025)
    s.setdefault("levers", "all")
    s.setdefault("exclude_levers", [])
    s.setdefault("ranges", {})
    s.setdefault("lever_regions", {})
    s.setdefault("behaviour", {})
    s.setdefault("factors", None)
    s.setdefault("seeds", [1])
    s.setdefault("noise_seeds", [])
    s.setdefault("oat_plan", False)
    s.setdefault("plan_scenario", "plan")
    s.setdefault("sample_seed", 20250101)
    s["morris"] = {
        "trajectories": 10,
        "levels": 4,
        "optimal_trajectories": None,
        "conf_level": 0.95,
        "num_resamples": 1000,
        **(s.get("morris") or {}),
    }
    s["sobol"] = {
        "top_k": 6,
        "n": 64,
        "select_by": ["resident_rate_2029", "hukou_rate_2029"],
        "conf_level": 0.95,
        "num_resamples": 1000,
        **(s.get("sobol") or {}),
    }
    s["report"] = {"paragraphs": 5, **(s.get("report") or {})}
    s.setdefault("launcher", "joblib")
    s.setdefault("n_jobs", 2)
    s.setdefault("launcher_overrides", [])
    s["seeds"] = [int(x) for x in s["seeds"]]
    s["noise_seeds"] = [int(x) for x in s["noise_seeds"] if int(x) not in s["seeds"]]
    if not s["seeds"]:
        raise ValueError("sensitivity.seeds: at least one seed")
    if not 2020 < int(s["from_year"]) <= FINAL_YEAR:
        raise ValueError(f"sensitivity.from_year = {s['from_year']}: allowed 2021-{FINAL_YEAR}")
    if s["morris"]["trajectories"] < 2:
        raise ValueError("sensitivity.morris.trajectories: at least 2")
    for k in s["sobol"]["select_by"]:
        if k not in OUTPUTS:
            raise ValueError(f"sensitivity.sobol.select_by: {k} is not an output; allowed: {', '.join(OUTPUTS)}")
    if s["launcher"] not in ("joblib", "slurm", "basic"):
        raise ValueError(f"sensitivity.launcher = {s['launcher']}: allowed joblib | slurm | basic")
    return s


def _get(d: dict, dotted: str):
    node = d
    for p in dotted.split("."):
        if not isinstance(node, dict) or p not in node:
            raise KeyError(dotted)
        node = node[p]
    return node


def lever_factors(s: dict, levers: dict | None = None) -> list[Factor]:
    from scenarios.compile import load_levers

    levers = levers or load_levers()
    policy = [n for n, spec in levers.items() if str(spec.get("clause")) != "stress"]
    if s["levers"] != "all":
        wanted = list(s["levers"])
        bad = [n for n in wanted if n not in policy]
        if bad:
            raise ValueError(f"sensitivity.levers: unknown or non-policy lever(s) {bad}; allowed: {', '.join(policy)}")
        policy = wanted
    out = []
    for name in policy:
        if name in (s.get("exclude_levers") or []):
            continue
        spec = levers[name]
        lo, hi = (float(v) for v in spec["range"])
        note = "lever range"
        if name in (s.get("ranges") or {}):
            rlo, rhi = (float(v) for v in s["ranges"][name])
            if not lo <= rlo < rhi <= hi:
                raise ValueError(
                    f"sensitivity.ranges.{name} = [{rlo}, {rhi}] is not inside the lever's range [{lo}, {hi}]"
                )
            lo, hi, note = rlo, rhi, "narrowed (conf/sensitivity)"
        by = spec["by"]
        regions = []
        if by != "province":
            regions = list((s.get("lever_regions") or {}).get(name) or ["all"])
        out.append(
            Factor(
                name=name,
                kind="lever",
                lo=lo,
                hi=hi,
                group=str(spec["clause"])[:2],
                unit=spec.get("unit", ""),
                nominal=spec["baseline"],
                by=by,
                regions=regions,
                costly="cost" in spec,
                range_note=note,
            )
        )
    return out


def behaviour_factors(s: dict, behaviour: dict) -> list[Factor]:
    fit = behaviour.get("fit") or {}
    names = list(fit.get("names") or [])
    cov = np.asarray(fit.get("covariance") or [[]], float)
    out = []
    for name, how in (s.get("behaviour") or {}).items():
        if how is None:
            continue
        try:
            v = float(_get(behaviour, name))
        except KeyError:
            raise ValueError(f"sensitivity.behaviour.{name}: behaviour.{name} is not a behavioural parameter") from None
        how = dict(how)
        if "range" in how:
            lo, hi = (float(x) for x in how["range"])
            note = "explicit"
        elif "sd" in how:
            short = name.split(".")[-1]
            if short not in names:
                raise ValueError(
                    f"sensitivity.behaviour.{name}: no variance in behaviour.fit.covariance "
                    f"(fitted: {', '.join(names)}); use relative or range"
                )
            i = names.index(short)
            sd = math.sqrt(max(float(cov[i, i]), 0.0))
            k = float(how["sd"])
            lo, hi = v - k * sd, v + k * sd
            note = f"±{k:g} sd of the fit (sd {sd:.3g})"
        elif "posterior" in how:  # the central share of the shipped posterior: the constant's calibrated uncertainty
            from sim.config import draws

            table = draws.posterior_table({})
            short = name.split(".")[-1]
            if short not in table.columns:
                raise ValueError(
                    f"sensitivity.behaviour.{name}: not in the posterior sample {draws.posterior_path({}).name}; "
                    "use sd, relative or range"
                )
            c = float(how["posterior"])
            if not 0 < c < 100:
                raise ValueError(
                    f"sensitivity.behaviour.{name}.posterior = {c:g}: allowed a central share in (0, 100) %"
                )
            lo, hi = (float(q) for q in np.percentile(table[short], [(100 - c) / 2, (100 + c) / 2]))
            note = f"central {c:g}% of the posterior ({lo:.3g} to {hi:.3g})"
        else:
            r = float(how.get("relative", 0.3))
            lo, hi = sorted((v * (1 - r), v * (1 + r)))
            note = f"±{100 * r:g}%"
        if not hi > lo:
            log.warning("sensitivity.behaviour.%s: empty range [%g, %g], left out", name, lo, hi)
            continue
        out.append(
            Factor(name=name, kind="behaviour", lo=lo, hi=hi, group="behaviour", unit="", nominal=v, range_note=note)
        )
    return out


def build_factors(s: dict, behaviour: dict) -> list[Factor]:
    factors = lever_factors(s) + behaviour_factors(s, behaviour)
    if s.get("factors"):
        known = {f.name: f for f in factors}
        bad = [n for n in s["factors"] if n not in known]
        if bad:
            raise ValueError(f"sensitivity.factors: unknown factor(s) {bad}; allowed: {', '.join(known)}")
        factors = [known[n] for n in s["factors"]]
    if len(factors) < 2:
        raise ValueError("sensitivity: at least two factors are needed")
    return factors


def problem_of(factors: list[Factor]) -> dict:
    return {"num_vars": len(factors), "names": [f.name for f in factors], "bounds": [[f.lo, f.hi] for f in factors]}


def _str_keys(v):
    if isinstance(v, dict):
        return {str(k): _str_keys(x) for k, x in v.items()}
    return v


def plan_levers(name: str = "plan") -> dict:
    """The lever schedules of a scenario of conf/scenario (its defaults merged, as Hydra composes them)."""

    def load(n):
        data = yaml.safe_load((CONF_DIR / "scenario" / f"{n}.yaml").read_text(encoding="utf-8")) or {}
        merged = {}
        defaults = data.get("defaults") or []
        if "_self_" not in defaults:
            defaults = [*defaults, "_self_"]
        for d in defaults:
            if d == "_self_":
                merged.update(data.get("levers") or {})
            elif isinstance(d, str):
                merged.update(load(d))
        return merged

    return {k: _str_keys(v) for k, v in load(name).items()}


# ============================================================================ designs


def morris_sample(factors: list[Factor], s: dict) -> np.ndarray:
    from SALib.sample import morris as ms

    m = s["morris"]
    opt = m.get("optimal_trajectories")
    return ms.sample(
        problem_of(factors),
        int(m["trajectories"]),
        num_levels=int(m["levels"]),
        optimal_trajectories=int(opt) if opt else None,
        seed=int(s["sample_seed"]),
    )


def sobol_sample(factors: list[Factor], s: dict) -> np.ndarray:
    from SALib.sample import sobol as ss

    n = int(s["sobol"]["n"])
    if n & (n - 1):
        log.warning("sensitivity.sobol.n = %d is not a power of 2 (Sobol sequences balance best at powers of 2)", n)
    return ss.sample(problem_of(factors), n, calc_second_order=False, scramble=True, seed=int(s["sample_seed"]))


def design_points(factors: list[Factor], X: np.ndarray, from_year: int, group: str) -> list[dict]:
    pts = []
    for row in X:
        st = {}
        for f, x in zip(factors, row):
            st.update(f.settings(x, from_year))
        pts.append({"group": group, "x": [float(v) for v in row], "set": st})
    return pts


def write_design(path: Path, name: str, factors: list[Factor], points: list[dict], from_year: int) -> str:
    """Write a design JSON (and a readable CSV of its factor values) atomically; returns its sha256."""
    doc = {
        "name": name,
        "from_year": from_year,
        "factors": [f.name for f in factors],
        "bounds": [[f.lo, f.hi] for f in factors],
        "points": points,
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    outputs.write_text(path, text)
    rows = [
        {
            "point": i,
            "group": p["group"],
            **({n: v for n, v in zip(doc["factors"], p["x"])} if "x" in p else {}),
            "lever": p.get("lever", ""),
        }
        for i, p in enumerate(points)
    ]
    with outputs.atomic_path(path.with_suffix(".csv")) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ============================================================================ running the design


def passthrough_overrides(task_overrides: list[str]) -> list[str]:
    """The app's model overrides (not sensitivity.*, seek.*, hydra.*, seed) to pass to the runs."""
    out = []
    for ov in task_overrides:
        key = ov.split("=", 1)[0].lstrip("+~")
        if key.split(".")[0] in (*APP_KEYS, "hydra", "seed") or key.split("/")[0] == "hydra":
            continue
        out.append(ov)
    return out


def launcher_overrides(s: dict) -> list[str]:
    if s["launcher"] == "joblib":
        out = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={int(s['n_jobs'])}"]
    elif s["launcher"] == "slurm":
        out = ["hydra/launcher=slurm"]
    else:
        out = []
    return out + [str(o) for o in s.get("launcher_overrides") or []]


def collect(sweep_dir: Path, sha256: str | None = None) -> pd.DataFrame:
    """One row per complete run of a design sweep: point, seed and the three outputs.

    Columns: point, seed, the three outputs, and `cost.<lever>`: each lever's own cost 2025-2029 (亿).
    Reads only the province rows of each run folder's indicators.parquet; the point comes from the
    manifest's config (design.point) or the job's Hydra overrides, the seed from the manifest. With
    `sha256`, only runs of that design file count. (sim.runs.gather would load every row of every
    run, far more than needed for hundreds of runs.)"""
    from sim.runs.sweep import job_folders, job_overrides, parse_override

    rows = []
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.exists():
        return pd.DataFrame(columns=POINT_COLUMNS)
    for folder in job_folders(sweep_dir):
        if not outputs.is_complete(folder) or not (folder / "indicators.parquet").exists():
            continue
        man = json.loads((folder / outputs.MANIFEST).read_text())
        ovs = dict(parse_override(o) for o in job_overrides(folder))
        design = (man.get("config") or {}).get("design") or {}
        point = design.get("point", ovs.get("design.point"))
        if point is None:
            continue
        if sha256 and design.get("sha256", ovs.get("design.sha256")) != sha256:
            continue  # a run of another design (an earlier sweep into the same folder)
        t = pd.read_parquet(folder / "indicators.parquet", filters=[("level", "==", "province")])
        wide = t.pivot_table(index="year", columns="indicator", values="value")
        if FINAL_YEAR not in wide.index:
            continue
        plan = wide.reindex(list(PLAN_YEARS)).fillna(0.0)
        cost = plan["cost_total_yuan"].sum() if "cost_total_yuan" in plan else 0.0
        rows.append(
            {
                "point": int(point),
                "seed": int(man["seed"]),
                "resident_rate_2029": float(wide.loc[FINAL_YEAR, "resident_urbanization_rate_pct"]),
                "hukou_rate_2029": float(wide.loc[FINAL_YEAR, "hukou_urbanization_rate_pct"]),
                "cost_2025_2029_yi": float(cost) / YI,
                **{
                    f"cost.{c[5:-5]}": float(plan[c].sum()) / YI
                    for c in plan.columns
                    if c.startswith("cost_") and c.endswith("_yuan") and c != "cost_total_yuan"
                },
            }
        )
    if not rows:
        return pd.DataFrame(columns=POINT_COLUMNS)
    out = pd.DataFrame(rows)
    return out[POINT_COLUMNS + sorted(c for c in out.columns if c not in POINT_COLUMNS)]


def run_sweep(
    s: dict,
    design_path: Path,
    sha: str,
    points: list[int] | range,
    seeds: list[int],
    sweep_dir: Path,
    model_overrides: list[str],
    poll_s: float = 15.0,
) -> pd.DataFrame:
    """Run design points x seeds through `python -m sim -m` (skipped if already complete); their outputs."""
    want = {(int(p), int(sd)) for p in points for sd in seeds}
    have = collect(sweep_dir, sha)
    done = set(zip(have.point, have.seed)) if len(have) else set()
    if want <= done:
        log.info("%s: all %d runs already complete", sweep_dir.name, len(want))
        return have[[(p, sd) in want for p, sd in zip(have.point, have.seed)]].reset_index(drop=True)
    if isinstance(points, range) and points.step == 1:
        pts = f"range({points.start},{points.stop})"
    else:
        pts = ",".join(str(int(p)) for p in points)
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "-m",
        f"+design.file='{design_path.resolve()}'",
        f"+design.sha256={sha}",
        f"+design.point={pts}",
        "seed=" + ",".join(str(x) for x in seeds),
        *model_overrides,
        *launcher_overrides(s),
        f"hydra.sweep.dir='{sweep_dir.resolve()}'",
    ]
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log_path = sweep_dir.parent / f"{sweep_dir.name}.log"
    log.info(
        "launching %d runs (%d points x %d seeds) of %s: %s",
        len(want),
        len(set(p for p, _ in want)),
        len(seeds),
        design_path.name,
        " ".join(cmd[2:]),
    )
    t0 = time.monotonic()
    wall0 = time.time()
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT)
        last = -1
        while True:
            try:
                rc = proc.wait(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                n = sum(
                    1
                    for p in sweep_dir.glob("*/" + outputs.MANIFEST)
                    if p.stat().st_mtime >= wall0 and outputs.is_complete(p.parent)
                )
                if n != last:
                    el = time.monotonic() - t0
                    log.info("%s: %d/%d runs complete, %.0f s", sweep_dir.name, n, len(want), el)
                    last = n
            except BaseException:
                proc.terminate()
                raise
    have = collect(sweep_dir, sha)
    done = set(zip(have.point, have.seed)) if len(have) else set()
    missing = sorted(want - done)
    if missing:
        raise RuntimeError(
            f"{len(missing)} of {len(want)} runs of {sweep_dir} did not complete (exit {rc}); "
            f"see {log_path} and: python -m sim sweep status {sweep_dir}. Rerunning with the same "
            f"hydra.run.dir reuses the complete runs. First missing (point, seed): {missing[:5]}"
        )
    log.info("%s: %d runs complete in %.0f s", sweep_dir.name, len(want), time.monotonic() - t0)
    return have[[(p, sd) in want for p, sd in zip(have.point, have.seed)]].reset_index(drop=True)


# ============================================================================ analysis


def point_means(runs: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Per design point, the mean over the common seeds of each output."""
    r = runs[runs.seed.isin(seeds)]
    cols = [c for c in r.columns if c not in ("point", "seed", "design")]
    return r.groupby("point")[cols].mean().sort_index()


def noise_level(runs_nominal: pd.DataFrame, n_seeds: int, levels: int) -> dict:
    """Seed noise: sd over seeds of each output at the nominal point; the sd of a point mean over
    `n_seeds`; and the noise of one Morris elementary effect (a difference of two point means over a
    step of delta of the range, scaled to the full range: sqrt(2) sd_mean / delta; an upper bound,
    common random numbers make the two means positively correlated)."""
    delta = levels / (2.0 * (levels - 1))
    out = {}
    for key, (col, _, _) in OUTPUTS.items():
        v = runs_nominal[col].to_numpy(float)
        sd = float(np.std(v, ddof=1)) if len(v) >= 2 else float("nan")
        sd_mean = sd / math.sqrt(n_seeds)
        out[key] = {"runs": int(len(v)), "sd": sd, "sd_point_mean": sd_mean, "ee_noise": math.sqrt(2) * sd_mean / delta}
    return out


def morris_indices(factors, X, means: pd.DataFrame, s: dict) -> pd.DataFrame:
    from SALib.analyze import morris as ma

    m = s["morris"]
    prob = problem_of(factors)
    rows = []
    for key, (col, _, _) in OUTPUTS.items():
        Y = means[col].to_numpy(float)
        res = ma.analyze(
            prob,
            X,
            Y,
            num_resamples=int(m["num_resamples"]),
            conf_level=float(m["conf_level"]),
            num_levels=int(m["levels"]),
            seed=int(s["sample_seed"]),
        )
        rows += _index_rows(factors, key, res, ("mu_star", "mu_star_conf", "mu", "sigma"))
    return pd.DataFrame(rows)


def _index_rows(factors, output: str, res, names: tuple[str, ...]) -> list[dict]:
    """One row per factor of a SALib result: factor, output and the named indices."""
    return [{"factor": f.name, "output": output, **{n: float(res[n][i]) for n in names}} for i, f in enumerate(factors)]


def elementary_steps(factors, X: np.ndarray, means: pd.DataFrame, trajectories: int) -> pd.DataFrame:
    """Every step of the Morris trajectories: the factor moved, its direction (+1 up) and the output changes."""
    k = len(factors)
    width = np.array([f.hi - f.lo for f in factors])
    rows = []
    for t in range(trajectories):
        for j in range(k):
            a, b = t * (k + 1) + j, t * (k + 1) + j + 1
            d = (X[b] - X[a]) / width
            i = int(np.argmax(np.abs(d)))
            step = float(d[i])
            own = f"cost.{factors[i].name}"
            d_own = float(means.loc[b, own] - means.loc[a, own]) if own in means.columns else 0.0
            rows.append(
                {
                    "factor": factors[i].name,
                    "step": step,
                    "d_direct_cost_yi": d_own,
                    **{f"d_{c}": float(means.loc[b, c] - means.loc[a, c]) for c in POINT_COLUMNS[2:]},
                }
            )
    return pd.DataFrame(rows)


def _per_billion(d_rate: float, d_cost_yi: float, span: float = 1.0) -> float:
    """Points per billion (10 亿) yuan; NaN when the cost change is under half a 亿 yuan (per range)."""
    return d_rate / (d_cost_yi * YI / BILLION) if abs(d_cost_yi) / span > 0.5 else np.nan


def cost_effectiveness_morris(factors, steps: pd.DataFrame) -> pd.DataFrame:
    """Per lever: urbanization points per billion yuan from the Morris steps (ratio of the sums of the
    changes oriented upwards in the lever: sum(sign dRate) / sum(sign dCost)), per yuan of the lever's
    own cost (`direct`, cost_<lever>_yuan) and per yuan of the total cost (own + induced: e.g. more
    migrants drawing other levers' per-migrant spending). A lever whose spending lowers it
    (wage_arrears_share) has negative cost changes upwards, and a positive ratio if lowering it helps."""
    rows = []
    for f in factors:
        if f.kind != "lever":
            continue
        st = steps[steps.factor == f.name]
        if st.empty:
            continue
        sign = np.sign(st.step.to_numpy())
        span = np.abs(st.step.to_numpy()).sum()
        d_res = float((sign * st.d_resident_rate_2029).sum())
        d_huk = float((sign * st.d_hukou_rate_2029).sum())
        d_cost = float((sign * st.d_cost_2025_2029_yi).sum())
        d_own = float((sign * st.d_direct_cost_yi).sum())
        per_range = {
            "d_resident_pp_per_range": d_res / span,
            "d_hukou_pp_per_range": d_huk / span,
            "d_direct_cost_yi_per_range": d_own / span,
            "d_cost_yi_per_range": d_cost / span,
        }
        rows.append(
            {
                "lever": f.name,
                "action": f.group,
                "steps": len(st),
                **per_range,
                "resident_pp_per_billion": _per_billion(d_res, d_own, span),
                "hukou_pp_per_billion": _per_billion(d_huk, d_own, span),
                "resident_pp_per_billion_total_cost": _per_billion(d_res, d_cost, span),
                "has_unit_cost": bool(f.costly),
            }
        )
    return pd.DataFrame(rows)


def cost_effectiveness_oat(points: list[dict], runs: pd.DataFrame, nominal: int, seeds: list[int]) -> pd.DataFrame:
    """Per plan lever, alone at the plan's schedule vs the nominal point, seed by seed."""
    r = runs[runs.seed.isin(seeds)].set_index(["point", "seed"])
    rows = []
    for i, p in enumerate(points):
        if p["group"] != "oat":
            continue
        d = {}
        own = f"cost.{p['lever']}"
        for c in [*POINT_COLUMNS[2:], own]:
            if c not in r.columns:
                d[c] = (0.0, 0.0, 0.0)
                continue
            diffs = [r.loc[(i, sd), c] - r.loc[(nominal, sd), c] for sd in seeds]
            d[c] = (float(np.mean(diffs)), float(np.min(diffs)), float(np.max(diffs)))
        cost, direct = d["cost_2025_2029_yi"][0], d[own][0]
        rows.append(
            {
                "lever": p["lever"],
                "plan_schedule": json.dumps(p["set"][f"scenario.levers.{p['lever']}"], ensure_ascii=False),
                "d_resident_pp": d["resident_rate_2029"][0],
                "d_resident_pp_min": d["resident_rate_2029"][1],
                "d_resident_pp_max": d["resident_rate_2029"][2],
                "d_hukou_pp": d["hukou_rate_2029"][0],
                "d_direct_cost_yi": direct,
                "d_cost_yi": cost,
                "resident_pp_per_billion": _per_billion(d["resident_rate_2029"][0], direct),
                "hukou_pp_per_billion": _per_billion(d["hukou_rate_2029"][0], direct),
                "resident_pp_per_billion_total_cost": _per_billion(d["resident_rate_2029"][0], cost),
            }
        )
    return pd.DataFrame(rows)


def select_top(morris: pd.DataFrame, select_by: list[str], k: int) -> list[str]:
    score = None
    for key in select_by:
        m = morris[morris.output == key].set_index("factor").mu_star
        norm = m / m.max() if m.max() > 0 else m * 0
        score = norm if score is None else np.maximum(score, norm.reindex(score.index))
    return list(score.sort_values(ascending=False).index[:k])


def sobol_indices(factors, Y_by_output: dict, s: dict) -> pd.DataFrame:
    from SALib.analyze import sobol as sa

    so = s["sobol"]
    prob = problem_of(factors)
    rows = []
    for key, Y in Y_by_output.items():
        if np.nanstd(Y) == 0:
            res = {n: np.full(len(factors), np.nan) for n in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            res = sa.analyze(
                prob,
                np.asarray(Y, float),
                calc_second_order=False,
                num_resamples=int(so["num_resamples"]),
                conf_level=float(so["conf_level"]),
                seed=int(s["sample_seed"]),
            )
        rows += _index_rows(factors, key, res, ("S1", "S1_conf", "ST", "ST_conf"))
    return pd.DataFrame(rows)


# ============================================================================ report

GROUP_COLOURS = {"A1": "tab:blue", "A2": "tab:green", "A3": "tab:orange", "A4": "tab:purple", "behaviour": "0.55"}


def indices_table(factors, morris: pd.DataFrame, sobol: pd.DataFrame | None) -> pd.DataFrame:
    """Wide table: one row per factor, mu*, sigma (and S1, ST with intervals) per output."""
    base = pd.DataFrame(
        [
            {
                "factor": f.name,
                "kind": f.kind,
                "group": f.group,
                "unit": f.unit,
                "low": f.lo,
                "high": f.hi,
                "range": f.range_note,
            }
            for f in factors
        ]
    ).set_index("factor")
    for key in OUTPUTS:
        m = morris[morris.output == key].set_index("factor")
        for c in ("mu_star", "mu_star_conf", "mu", "sigma"):
            base[f"{key}.{c}"] = m[c]
        for c in ("S1", "S1_conf", "ST", "ST_conf"):
            base[f"{key}.{c}"] = np.nan
        if sobol is not None and len(sobol):
            so = sobol[sobol.output == key].set_index("factor")
            for c in ("S1", "S1_conf", "ST", "ST_conf"):
                base.loc[so.index, f"{key}.{c}"] = so[c]
    base["rank_resident"] = base["resident_rate_2029.mu_star"].rank(ascending=False, method="min").astype(int)
    return base.sort_values("rank_resident")


def indices_markdown(table: pd.DataFrame, noise: dict) -> str:
    parts = []
    for key, (_, label, unit) in OUTPUTS.items():
        d = 3 if unit == "pp" else 1
        t = table.sort_values(f"{key}.mu_star", ascending=False)
        rows = []
        for name, r in t.iterrows():
            s1 = r[f"{key}.S1"]
            sob = (
                ("—", "—")
                if not np.isfinite(s1)
                else (
                    f"{s1:.2f} [{s1 - r[f'{key}.S1_conf']:.2f}, {s1 + r[f'{key}.S1_conf']:.2f}]",
                    f"{r[f'{key}.ST']:.2f} [{r[f'{key}.ST'] - r[f'{key}.ST_conf']:.2f}, "
                    f"{r[f'{key}.ST'] + r[f'{key}.ST_conf']:.2f}]",
                )
            )
            below = r[f"{key}.mu_star"] < 2 * noise[key]["ee_noise"] if np.isfinite(noise[key]["ee_noise"]) else False
            rows.append(
                [
                    name + (" °" if below else ""),
                    r["group"],
                    number(r[f"{key}.mu_star"], d),
                    "± " + number(r[f"{key}.mu_star_conf"], d),
                    number(r[f"{key}.mu"], d, sign=True),
                    number(r[f"{key}.sigma"], d),
                    *sob,
                ]
            )
        parts.append(
            f"### {label} ({unit})\n\n"
            + markdown_table(["factor", "group", "μ*", "μ* CI", "μ", "σ", "S1 [CI]", "ST [CI]"], rows)
        )
    return "\n".join(parts)


def plot_tornado(table: pd.DataFrame, noise: dict, path: Path, foot: str, top: int = 20) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from sim.reporting.fonts import use_cjk_font

    use_cjk_font()
    fig, axes = plt.subplots(1, 3, figsize=(16, max(4.5, 0.28 * min(top, len(table)) + 1.8)), dpi=110)
    for ax, (key, (_, label, unit)) in zip(axes, OUTPUTS.items()):
        t = table.sort_values(f"{key}.mu_star", ascending=False).head(top)[::-1]
        y = np.arange(len(t))
        colours = [GROUP_COLOURS.get(g, "0.3") for g in t.group]
        bars = ax.barh(
            y,
            t[f"{key}.mu_star"],
            xerr=t[f"{key}.mu_star_conf"],
            color=colours,
            alpha=0.85,
            error_kw={"elinewidth": 0.8, "capsize": 2},
        )
        for bar, mu in zip(bars, t[f"{key}.mu"]):
            if mu < 0:
                bar.set_hatch("///")
        ax.set_yticks(y, t.index, fontsize=7)
        nz = noise[key]["ee_noise"]
        if np.isfinite(nz) and nz > 0:
            ax.axvline(2 * nz, color="tab:red", ls="--", lw=1)
            ax.text(2 * nz, -0.9, " 2× seed noise", color="tab:red", fontsize=7, va="top")
        ax.set_title(f"{label}\nMorris μ* ({unit} over the factor's range)", fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    axes[-1].legend(
        handles=[Patch(color=c, label=g) for g, c in GROUP_COLOURS.items()]
        + [Patch(facecolor="white", edgecolor="k", hatch="///", label="lowers it (μ < 0)")],
        fontsize=7,
        loc="lower right",
    )
    fig.text(0.01, 0.005, foot, fontsize=6, color="0.4")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    with outputs.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_sobol(sobol: pd.DataFrame, path: Path, foot: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(sobol.factor))
    # an output the Sobol factors do not move (e.g. cost, when none of them spends) has no indices: no panel
    shown = {k: v for k, v in OUTPUTS.items() if sobol[sobol.output == k][["S1", "ST"]].notna().any().any()} or OUTPUTS
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4.2), dpi=110, squeeze=False)
    axes = axes[0]
    for ax, (key, (_, label, _)) in zip(axes, shown.items()):
        so = sobol[sobol.output == key].set_index("factor").reindex(names)
        x = np.arange(len(names))
        ax.bar(x - 0.2, so.S1, 0.4, yerr=so.S1_conf, label="S1 (first order)", color="tab:blue", capsize=2)
        ax.bar(x + 0.2, so.ST, 0.4, yerr=so.ST_conf, label="ST (total)", color="tab:orange", capsize=2)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(f"Sobol indices: {label}", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=7)
    fig.text(0.01, 0.005, foot, fontsize=6, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    with outputs.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def lever_paragraph(
    f: Factor, table: pd.DataFrame, ce: pd.DataFrame, oat: pd.DataFrame | None, noise: dict, spec: dict
) -> str:
    r = table.loc[f.name]
    key = "resident_rate_2029"
    mu_s, mu, sig = r[f"{key}.mu_star"], r[f"{key}.mu"], r[f"{key}.sigma"]
    direction = "raises" if mu > 0 else "lowers"
    if abs(mu) < 0.5 * mu_s:
        direction = "moves (in both directions, depending on the other factors)"
    shape = (
        "its effect varies strongly with the other factors (σ > μ*: non-linear or interacting)"
        if sig > mu_s
        else "its effect is fairly steady across the design (σ ≤ μ*)"
    )
    where = "every region" if f.by == "province" or f.regions == ["all"] else ", ".join(f.regions)
    text = [
        f"**{f.name}** ({spec.get('clause', '')}, {spec.get('clause_zh', '')}; {f.unit}, sampled "
        f"{number(f.lo, 3)}–{number(f.hi, 3)} from {PLAN_YEARS[0]} in {where}; baseline {f.nominal}). "
        f"Mechanism: {str(spec.get('mechanism', '')).rstrip('.')}. "
        f"Over that range it {direction} the 2029 resident rate: "
        f"μ* = {number(mu_s, 2)} ± {number(r[f'{key}.mu_star_conf'], 2)} pp "
        f"(μ = {number(mu, 2, True)}, σ = {number(sig, 2)}); "
        f"{shape}. Hukou rate: μ* = {number(r['hukou_rate_2029.mu_star'], 2)} pp "
        f"(μ = {number(r['hukou_rate_2029.mu'], 2, True)})."
    ]
    nz = noise[key]["ee_noise"]
    if np.isfinite(nz) and mu_s < 2 * nz:
        text.append(
            f"This is within twice the seed-noise level of an elementary effect ({number(nz, 2)} pp): "
            "not distinguishable from noise with this design."
        )
    if np.isfinite(r[f"{key}.S1"]):
        text.append(
            f"Sobol: S1 = {r[f'{key}.S1']:.2f} ± {r[f'{key}.S1_conf']:.2f}, ST = {r[f'{key}.ST']:.2f} ± "
            f"{r[f'{key}.ST_conf']:.2f} of the variance of the 2029 resident rate over the Sobol factors."
        )
    c = ce[ce.lever == f.name]
    if len(c):
        c = c.iloc[0]
        if np.isfinite(c.resident_pp_per_billion):
            text.append(
                f"Its own cost over its range: {number(c.d_direct_cost_yi_per_range, 0)} 亿 yuan 2025-2029 "
                f"(total cost change {number(c.d_cost_yi_per_range, 0)} 亿), i.e. "
                f"{number(c.resident_pp_per_billion, 3, True)} resident-rate points per billion yuan of its own "
                f"cost (Morris steps)."
            )
        elif not f.costly:
            text.append(
                f"It has no unit cost in the model (a rule, not spending); the total cost changes by "
                f"{number(c.d_cost_yi_per_range, 0)} 亿 yuan over its range through other levers' spending."
            )
        else:
            text.append(
                "Its own cost over the design is negligible (under half a 亿 yuan over its range: the "
                "design's steps stayed on the side of its baseline that costs nothing)."
            )
    if oat is not None and len(oat) and f.name in set(oat.lever):
        o = oat[oat.lever == f.name].iloc[0]
        text.append(
            f"Alone at the plan's schedule: {number(o.d_resident_pp, 2, True)} pp resident "
            f"({number(o.d_resident_pp_min, 2, True)} to {number(o.d_resident_pp_max, 2, True)} over seeds) for "
            f"{number(o.d_direct_cost_yi, 1)} 亿 yuan of its own cost ({number(o.d_cost_yi, 1)} 亿 in all)."
        )
    return " ".join(text)


def _report_design_lines(ctx: dict) -> list[str]:
    """Title, the design paragraph and, for a small design, the warning."""
    s, factors, top = ctx["settings"], ctx["factors"], ctx["top"]
    small = s["morris"]["trajectories"] < 10 or len(s["seeds"]) < 3 or s["sobol"]["n"] < 64
    lines = [f"# Which levers matter — sensitivity of the Shanxi model ({ctx['date']})", ""]
    lines.append(
        f"Design: Morris screening of {len(factors)} factors ({sum(f.kind == 'lever' for f in factors)} policy levers, "
        f"{sum(f.kind == 'behaviour' for f in factors)} behavioural parameters), r = {s['morris']['trajectories']} "
        f"trajectories, {s['morris']['levels']} levels ({ctx['n_morris']} points); Sobol (Saltelli, first and total "
        f"order) over the top {len(top)} factors with N = {s['sobol']['n']} ({ctx['n_sobol']} points). Every point ran "
        f"with seeds {s['seeds']} (common random numbers) at population.scale = {ctx['scale']:g}, scenario "
        f"`{ctx['scenario']}`; lever factors are constant values from {s['from_year']} to 2029. "
        f"{ctx['n_runs']} model runs in all."
    )
    lines.append("")
    if small:
        lines += [SMALL_DESIGN_NOTE, ""]
    return lines


def _report_noise_lines(noise: dict) -> list[str]:
    """## Seed noise: the table of seed noise per output and how to read it."""
    lines = ["## Seed noise", ""]
    lines.append(
        markdown_table(
            [
                "output",
                "runs at the nominal point",
                "sd over seeds",
                "sd of a point mean",
                "noise of one elementary effect",
            ],
            [
                [
                    OUTPUTS[k][1] + f" ({OUTPUTS[k][2]})",
                    str(v["runs"]),
                    number(v["sd"], 3),
                    number(v["sd_point_mean"], 3),
                    number(v["ee_noise"], 3),
                ]
                for k, v in noise.items()
            ],
        )
    )
    lines += [NOISE_NOTE, ""]
    return lines


def _report_sobol_top_lines(ctx: dict) -> list[str]:
    """### The Sobol indices of the top factors (2029 resident rate), with the seed-noise share."""
    so = ctx["sobol"][ctx["sobol"].output == "resident_rate_2029"].set_index("factor")
    lines = ["### Sobol indices of the top factors (2029 resident rate)", ""]
    rows = [
        [
            n,
            f"{so.loc[n, 'S1']:.2f}",
            f"[{so.loc[n, 'S1'] - so.loc[n, 'S1_conf']:.2f}, {so.loc[n, 'S1'] + so.loc[n, 'S1_conf']:.2f}]",
            f"{so.loc[n, 'ST']:.2f}",
            f"[{so.loc[n, 'ST'] - so.loc[n, 'ST_conf']:.2f}, {so.loc[n, 'ST'] + so.loc[n, 'ST_conf']:.2f}]",
        ]
        for n in ctx["top"]
    ]
    lines.append(markdown_table(["factor", "S1", "S1 95% CI", "ST", "ST 95% CI"], rows))
    sh = ctx.get("sobol_noise_share")
    if sh is not None and np.isfinite(sh):
        lines.append(
            f"Seed noise is about {100 * sh:.1f}% of the variance of the 2029 resident rate over the "
            "Sobol design; indices of that size are noise."
        )
        lines.append("")
    return lines


def _report_ranking_lines(ctx: dict) -> list[str]:
    """## Ranking (Morris) and Sobol indices: every factor's indices, the Sobol top factors, the figures."""
    sob = ctx["sobol"]
    has_sobol = sob is not None and len(sob)
    lines = ["## Ranking (Morris) and Sobol indices", ""]
    lines.append(
        "μ*: mean absolute change of the output when the factor moves over its whole range (Morris "
        "elementary effects scaled to the range), with its bootstrap interval; μ: signed mean; σ: spread "
        "(non-linearity and interactions). S1/ST: Sobol first-order and total indices, shares of the output "
        "variance over the Sobol factors' ranges, [95% bootstrap interval]; — = not in the Sobol set."
    )
    lines.append("")
    lines.append(indices_markdown(ctx["table"], ctx["noise"]))
    if has_sobol:
        lines += _report_sobol_top_lines(ctx)
    lines += ["![Morris μ*](sensitivity_tornado.png)", ""]
    if has_sobol:
        lines += ["![Sobol indices](sensitivity_sobol.png)", ""]
    return lines


def _report_top_lever_lines(ctx: dict) -> list[str]:
    """## The top levers: a paragraph per lever of `top_levers`."""
    lines = ["## The top levers", ""]
    levers_spec = ctx["levers_spec"]
    for name in ctx["top_levers"]:
        f = next(x for x in ctx["factors"] if x.name == name)
        lines.append(lever_paragraph(f, ctx["table"], ctx["ce"], ctx["oat"], ctx["noise"], levers_spec.get(name, {})))
        lines.append("")
    return lines


def _report_morris_cost_table(ce: pd.DataFrame) -> str:
    """The cost-effectiveness of every lever from the Morris steps, best first."""
    c = ce.sort_values("resident_pp_per_billion", ascending=False, na_position="last")
    rows = [
        [
            r.lever + (" °" if getattr(r, "resident_within_noise", False) else ""),
            r.action,
            number(r.d_resident_pp_per_range, 2, True),
            number(r.d_hukou_pp_per_range, 2, True),
            number(r.d_direct_cost_yi_per_range, 0),
            number(r.d_cost_yi_per_range, 0),
            number(r.resident_pp_per_billion, 4, True),
            number(r.hukou_pp_per_billion, 4, True),
            number(r.resident_pp_per_billion_total_cost, 4, True),
        ]
        for r in c.itertuples()
    ]
    return markdown_table(
        [
            "lever",
            "action",
            "Δ resident pp over range",
            "Δ hukou pp over range",
            "own cost 亿 over range",
            "total Δ cost 亿 over range",
            "resident pp per billion (own)",
            "hukou pp per billion (own)",
            "resident pp per billion (total)",
        ],
        rows,
    )


def _report_oat_lines(oat: pd.DataFrame) -> list[str]:
    """### Each lever of the plan alone at the plan's schedule, best first."""
    lines = ["### Each lever of the plan alone, at the plan's schedule (vs the nominal point, seed by seed)", ""]
    o = oat.sort_values("resident_pp_per_billion", ascending=False, na_position="last")
    rows = [
        [
            r.lever,
            number(r.d_resident_pp, 2, True),
            f"{number(r.d_resident_pp_min, 2, True)} to {number(r.d_resident_pp_max, 2, True)}",
            number(r.d_hukou_pp, 2, True),
            number(r.d_direct_cost_yi, 1),
            number(r.d_cost_yi, 1),
            number(r.resident_pp_per_billion, 4, True),
            number(r.resident_pp_per_billion_total_cost, 4, True),
        ]
        for r in o.itertuples()
    ]
    lines.append(
        markdown_table(
            [
                "lever",
                "Δ resident pp",
                "over seeds",
                "Δ hukou pp",
                "own cost 亿 yuan",
                "total Δ cost 亿 yuan",
                "resident pp per billion (own)",
                "resident pp per billion (total)",
            ],
            rows,
        )
    )
    return lines


def _report_cost_lines(ce: pd.DataFrame, oat: pd.DataFrame | None) -> list[str]:
    """## Cost-effectiveness of the levers (also written alone as cost_effectiveness.md)."""
    lines = ["## Cost-effectiveness of the levers", ""]
    lines.append(
        "Resident-rate points in 2029 per billion (10 亿) yuan of public cost 2025-2029 above the baseline. "
        "From the Morris steps: the sum of the oriented changes of the rate over the sum of the oriented "
        "changes of the cost, every step where the lever moved (so it averages over the other factors' "
        "values). *Own cost* is the lever's own spending (cost_<lever>_yuan); *total* adds what it "
        "induces in other levers' spending (e.g. more migrants drawing per-migrant services), which in "
        "a Morris step also carries the other factors' noise. Levers without a unit cost (rules such "
        "as the hukou threshold) have no own-cost ratio. A lever whose effect is within twice the seed "
        "noise of an elementary effect (marked °) has a meaningless ratio. Negative: the spending "
        "lowers the rate."
    )
    lines.append("")
    lines.append(_report_morris_cost_table(ce))
    if oat is not None and len(oat):
        lines += _report_oat_lines(oat)
    return lines


def _report_files_lines() -> list[str]:
    """## Files: what the run folder holds."""
    return [
        "## Files",
        "",
        "sensitivity_indices.csv/.md (every factor), cost_effectiveness.csv/.md, points.csv (every run), "
        "design_morris.json/.csv, design_sobol.json/.csv, runs_morris/, runs_sobol/, runs_noise/ "
        "(run folders; python -m sim gather works on them), manifest.json.",
    ]


def report_markdown(ctx: dict) -> str:
    """The report (sensitivity.md), section by section; cost_effectiveness.md is its cost section."""
    lines = [
        *_report_design_lines(ctx),
        *_report_noise_lines(ctx["noise"]),
        *_report_ranking_lines(ctx),
        *_report_top_lever_lines(ctx),
        *_report_cost_lines(ctx["ce"], ctx["oat"]),
        *_report_files_lines(),
    ]
    return "\n".join(lines) + "\n"


# ============================================================================ the whole analysis


@dataclass
class _Setup:
    """What the analysis runs: its settings, factors and the model overrides passed to every run."""

    s: dict
    factors: list[Factor]
    levers_spec: dict
    from_year: int
    scale: float
    model_ovs: list[str]


@dataclass
class _MorrisStage:
    """Stage 1: the Morris design (+ nominal and plan points), its runs and what they give."""

    X: np.ndarray
    points: list[dict]
    nominal: int
    runs: pd.DataFrame
    runs_noise: pd.DataFrame
    noise: dict
    morris: pd.DataFrame
    ce: pd.DataFrame
    oat: pd.DataFrame | None


@dataclass
class _SobolStage:
    """Stage 2: the Sobol design over the top factors (none when fewer than two), its runs and indices."""

    top: list[str]
    sobol: pd.DataFrame | None = None
    n_points: int = 0
    noise_share: float | None = None
    runs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=POINT_COLUMNS))


def _model_overrides(cfg: dict, task_overrides: list[str] | None, scale: float, threads: int) -> list[str]:
    """The overrides of every model run: the app's own model overrides, with scale, end year, progress
    and threads set by the analysis."""
    model_ovs = passthrough_overrides(task_overrides or [])
    model_ovs = [
        o
        for o in model_ovs
        if o.split("=", 1)[0].lstrip("+~")
        not in ("population.scale", "run.end_year", "run.progress", "run.threads", "posterior_draw")
    ]
    model_ovs += [
        "posterior_draw=0",  # the design varies the fitted constants itself, around the fitted point
        f"population.scale={scale}",
        f"run.end_year={int(cfg['run']['end_year'])}",
        "run.progress=none",
        f"run.threads={threads}",
    ]
    return model_ovs


def _setup(cfg: dict, task_overrides: list[str] | None) -> _Setup:
    """Check the config and settings; the factors and the model overrides."""
    from scenarios.compile import load_levers
    from sim.config.schema import refuse_code_targets, validate_config

    refuse_code_targets(cfg)
    model_cfg = {k: v for k, v in cfg.items() if k not in APP_KEYS}
    validate_config(model_cfg)
    s = settings_of(cfg)
    if int(cfg["run"]["end_year"]) < FINAL_YEAR:
        raise ValueError(
            f"run.end_year = {cfg['run']['end_year']}: the outputs are of {FINAL_YEAR}; allowed >= {FINAL_YEAR}"
        )
    levers_spec = load_levers()
    factors = build_factors(s, cfg["behaviour"])
    from_year = int(s["from_year"])
    scale = float(cfg["population"]["scale"])
    threads = int(cfg["run"].get("threads") or 1)
    model_ovs = _model_overrides(cfg, task_overrides, scale, threads)
    log.info(
        "%d factors (%d levers, %d behavioural); seeds %s; scale %g",
        len(factors),
        sum(f.kind == "lever" for f in factors),
        sum(f.kind == "behaviour" for f in factors),
        s["seeds"],
        scale,
    )
    return _Setup(s, factors, levers_spec, from_year, scale, model_ovs)


def _morris_design(st: _Setup) -> tuple[np.ndarray, list[dict], int]:
    """The Morris sample, its design points plus the nominal point and (with oat_plan) one point per plan
    lever; the index of the nominal point."""
    s, factors = st.s, st.factors
    X = morris_sample(factors, s)
    points = design_points(factors, X, st.from_year, "morris")
    nominal = len(points)
    points.append({"group": "nominal", "set": {}})
    if s["oat_plan"]:
        names = {f.name for f in factors if f.kind == "lever"}
        for lever, sched in plan_levers(s["plan_scenario"]).items():
            if lever in names:
                points.append({"group": "oat", "lever": lever, "set": {f"scenario.levers.{lever}": sched}})
    return X, points, nominal


def _morris_stage(st: _Setup, run_dir: Path) -> _MorrisStage:
    """Stage 1: Morris (+ nominal, + plan levers one at a time): run it, the seed noise, the indices and the
    cost-effectiveness of the levers."""
    s, factors = st.s, st.factors
    X, points, nominal = _morris_design(st)
    d1 = run_dir / "design_morris.json"
    sha1 = write_design(d1, "morris", factors, points, st.from_year)
    runs1 = run_sweep(s, d1, sha1, range(len(points)), s["seeds"], run_dir / "runs_morris", st.model_ovs)
    runs_noise = runs1[runs1.point == nominal]
    if s["noise_seeds"]:
        rn = run_sweep(s, d1, sha1, [nominal], s["noise_seeds"], run_dir / "runs_noise", st.model_ovs)
        runs_noise = pd.concat([runs_noise, rn], ignore_index=True)
    means1 = point_means(runs1, s["seeds"])
    noise = noise_level(runs_noise, len(s["seeds"]), int(s["morris"]["levels"]))
    morris = morris_indices(factors, X, means1.loc[range(len(X))].reset_index(drop=True), s)
    steps = elementary_steps(factors, X, means1.loc[range(len(X))].reset_index(drop=True), len(X) // (len(factors) + 1))
    ce = cost_effectiveness_morris(factors, steps)
    if len(ce):
        nz = noise["resident_rate_2029"]["ee_noise"]
        ce["resident_within_noise"] = (ce.d_resident_pp_per_range.abs() < 2 * nz) if np.isfinite(nz) else False
    oat = cost_effectiveness_oat(points, runs1, nominal, s["seeds"]) if s["oat_plan"] else None
    return _MorrisStage(X, points, nominal, runs1, runs_noise, noise, morris, ce, oat)


def _sobol_stage(st: _Setup, mo: _MorrisStage, run_dir: Path) -> _SobolStage:
    """Stage 2: Sobol over the top k factors by μ* (skipped with fewer than two)."""
    s, factors = st.s, st.factors
    k = min(int(s["sobol"]["top_k"]), len(factors))
    top = select_top(mo.morris, s["sobol"]["select_by"], k) if k >= 2 else []
    if len(top) < 2:
        return _SobolStage(top)
    fs = [next(f for f in factors if f.name == n) for n in top]
    X2 = sobol_sample(fs, s)
    pts2 = design_points(fs, X2, st.from_year, "sobol")
    d2 = run_dir / "design_sobol.json"
    sha2 = write_design(d2, "sobol", fs, pts2, st.from_year)
    runs2 = run_sweep(s, d2, sha2, range(len(pts2)), s["seeds"], run_dir / "runs_sobol", st.model_ovs)
    means2 = point_means(runs2, s["seeds"]).reindex(range(len(pts2)))
    sobol = sobol_indices(fs, {k_: means2[OUTPUTS[k_][0]].to_numpy(float) for k_ in OUTPUTS}, s)
    var = float(np.var(means2["resident_rate_2029"].to_numpy(float)))
    sd_mean = mo.noise["resident_rate_2029"]["sd_point_mean"]
    noise_share = sd_mean**2 / var if var > 0 and np.isfinite(sd_mean) else None
    return _SobolStage(top, sobol, len(pts2), noise_share, runs2)


def _all_runs(mo: _MorrisStage, so: _SobolStage, seeds: list[int]) -> pd.DataFrame:
    """Every run's outputs (points.csv), with the design it belongs to."""
    return pd.concat(
        [
            mo.runs.assign(design="morris"),
            so.runs.assign(design="sobol"),
            mo.runs_noise[~mo.runs_noise.seed.isin(seeds)].assign(design="noise"),
        ],
        ignore_index=True,
    )


def _write_tables(run_dir: Path, allruns: pd.DataFrame, table: pd.DataFrame, mo: _MorrisStage) -> list[str]:
    """points.csv, the indices (.csv, .md) and the cost-effectiveness tables; the list of output files."""
    with outputs.atomic_path(run_dir / "points.csv") as tmp:
        allruns.to_csv(tmp, index=False)
    with outputs.atomic_path(run_dir / "sensitivity_indices.csv") as tmp:
        table.to_csv(tmp)
    outputs.write_text(run_dir / "sensitivity_indices.md", indices_markdown(table, mo.noise))
    with outputs.atomic_path(run_dir / "cost_effectiveness.csv") as tmp:
        mo.ce.to_csv(tmp, index=False)
    files = [
        "design_morris.json",
        "design_morris.csv",
        "points.csv",
        "sensitivity_indices.csv",
        "sensitivity_indices.md",
        "cost_effectiveness.csv",
        "cost_effectiveness.md",
        "sensitivity_tornado.png",
        "sensitivity.md",
    ]
    if mo.oat is not None:
        with outputs.atomic_path(run_dir / "cost_effectiveness_plan_levers.csv") as tmp:
            mo.oat.to_csv(tmp, index=False)
        files.append("cost_effectiveness_plan_levers.csv")
    return files


def _write_plots(
    run_dir: Path, st: _Setup, table: pd.DataFrame, mo: _MorrisStage, so: _SobolStage, started
) -> list[str]:
    """The tornado chart and (with a Sobol stage) the Sobol chart, with a footer; the Sobol files written."""
    s = st.s
    foot = (
        f"sim.analysis.sensitivity | {len(st.factors)} factors, r={s['morris']['trajectories']}, Sobol top "
        f"{len(so.top)} N={s['sobol']['n']} | seeds {s['seeds']} | scale {st.scale:g} | model "
        f"{outputs.package_versions().get('shanxi-urbanization')} {(outputs.git_state()['commit'] or '')[:8]} | "
        f"{started:%Y-%m-%d}"
    )
    plot_tornado(table, mo.noise, run_dir / "sensitivity_tornado.png", foot)
    if so.sobol is None:
        return []
    plot_sobol(so.sobol, run_dir / "sensitivity_sobol.png", foot)
    return ["design_sobol.json", "design_sobol.csv", "sensitivity_sobol.png"]


def _write_report(run_dir: Path, ctx: dict) -> None:
    """sensitivity.md and its cost section alone as cost_effectiveness.md."""
    report = report_markdown(ctx)
    ce_md = report[report.index("## Cost-effectiveness") : report.index("## Files")]
    outputs.write_text(run_dir / "cost_effectiveness.md", ce_md)
    outputs.write_text(run_dir / "sensitivity.md", report)


def sensitivity_to_folder(cfg: dict, run_dir: Path, task_overrides: list[str] | None = None) -> dict:
    from sim.runs.run import peak_rss_mb
    from sim.world.inputs import data_file_hashes

    run_dir = outputs.begin_run(run_dir)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    st = _setup(cfg, task_overrides)
    s, factors = st.s, st.factors
    mo = _morris_stage(st, run_dir)
    so = _sobol_stage(st, mo, run_dir)

    # ---- outputs
    table = indices_table(factors, mo.morris, so.sobol)
    lever_rank = [n for n in table.index if table.loc[n, "kind"] == "lever"]
    top_levers = lever_rank[: int(s["report"]["paragraphs"])]
    allruns = _all_runs(mo, so, s["seeds"])
    files = _write_tables(run_dir, allruns, table, mo)
    files += _write_plots(run_dir, st, table, mo, so, started)
    ctx = {
        "settings": s,
        "factors": factors,
        "table": table,
        "noise": mo.noise,
        "ce": mo.ce,
        "oat": mo.oat,
        "sobol": so.sobol,
        "top": so.top,
        "top_levers": top_levers,
        "levers_spec": st.levers_spec,
        "scale": st.scale,
        "scenario": cfg["scenario"]["name"],
        "n_morris": len(mo.X),
        "n_sobol": so.n_points,
        "n_runs": len(allruns),
        "date": f"{started:%Y-%m-%d}",
        "sobol_noise_share": so.noise_share,
    }
    _write_report(run_dir, ctx)
    summary = {
        "factors": [f.name for f in factors],
        "top_sobol": so.top,
        "top_levers": top_levers,
        "noise": mo.noise,
        "runs": len(allruns),
        "morris_points": len(mo.X),
        "sobol_points": so.n_points,
    }
    man = outputs.manifest(
        cfg,
        s["seeds"][0],
        started,
        time.perf_counter() - t0,
        peak_rss_mb(),
        data_file_hashes(),
        {"total": time.perf_counter() - t0},
        files,
        extra={"kind": "sensitivity", "seeds": s["seeds"], "summary": summary},
    )
    outputs.write_manifest(run_dir, man)
    return man


# ============================================================================ Hydra apps


def _main(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig

    from sim.config import to_dict

    quiet_libraries()
    hc = HydraConfig.get()
    run_dir = hc.runtime.output_dir
    man = sensitivity_to_folder(to_dict(cfg), Path(run_dir), list(hc.overrides.task))
    log.info("sensitivity complete: %s (%d runs, wall %.0f s)", run_dir, man["summary"]["runs"], man["wall_time_s"])


def main() -> None:
    import hydra

    argv = sys.argv[1:]
    if "--quick" in argv:
        i = argv.index("--quick")
        argv = argv[:i] + QUICK + argv[i + 1 :]
        sys.argv = [sys.argv[0], *argv]
    hydra.main(config_path=str(CONF_DIR), config_name="sensitivity", version_base="1.3")(_main)()


if __name__ == "__main__":
    main()
