"""What it takes to reach 70%: the least-cost lever schedule for a 2029 target. `python -m sim seek`.

    python -m sim seek target.resident_rate_2029=70                  # conf/seek/default.yaml
    python -m sim seek target.resident_rate_2029=70 seek.probability=0.9 'seek.actions=[A1,A2]'
    python -m sim seek --quick                                       # small search and confirmation (CI)

Decision variables: one constant value per chosen spending lever (`seek.levers`, or every lever with
a unit cost of `seek.actions`), applied from `seek.from_year` (2025) to 2029 in every region (place
levers: the regions of `seek.lever_regions`), between the lever's 2024 baseline and the top of its
range (`seek.upper` can lower the top). The search runs the model at a reduced scale (`seek.scale`)
with the same seeds for every candidate (common random numbers; each seed runs with its draw of the
shipped posterior, `posterior_draw: auto`, so the spread holds parameter uncertainty) and asks that the share of seeds
reaching the target be at least `seek.probability`: with S seeds, the ceil(p S)-th highest 2029 rate
must reach it. scipy's COBYLA minimises the mean public cost 2025-2029 (above the baseline) subject
to that constraint (or differential_evolution minimises cost plus a shortfall penalty). The cheapest
schedule that met the target among every schedule evaluated is then run at `seek.confirm_scale`
(1.0 = the whole province) with `seek.confirm_seeds` as ordinary run folders (confirm/), which give
the achieved rate and its spread over seeds.

Writes into the run folder (outputs/seek/<time>/): seek_result.json and seek_result.md (schedule,
cost in yuan and 亿 yuan, achieved rates with their spread, whether the confirmation met the target),
seek_history.csv (every schedule evaluated), seek_scenario.yaml (the schedule as a scenario file for
conf/scenario/), confirm/ run folders, and manifest.json last.

The search scale is small: a schedule found there is indicative; the confirmation says whether it
holds at the larger scale, and the report says so when it does not.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.config import CONF_DIR, draws
from sim.places import FINAL_YEAR, PLAN_YEARS, TIER_NAMES
from sim.reporting.tables import number
from sim.runs import outputs
from sim.runs.logs import quiet_libraries

log = logging.getLogger("sim.analysis.seek")

YI = 1e8
APP_KEYS = ("sensitivity", "seek", "target", "design")
# Levers whose spending is a value *below* the baseline (sim/economy/costs.py charges baseline - value):
# their search range is [bottom of range, baseline] instead of [baseline, top].
DOWNWARD = {"wage_arrears_share"}
TARGETS = {"resident_rate_2029": "resident_urbanization_rate_pct", "hukou_rate_2029": "hukou_urbanization_rate_pct"}
QUICK = [
    "seek.scale=0.001",
    "seek.seeds=[1,2,3]",
    "seek.max_evaluations=12",
    "seek.confirm_scale=0.002",
    "seek.confirm_seeds=[1,2]",
    "seek.confirm_n_jobs=2",
]


# ============================================================================ settings and variables


INDICATIVE_NOTE = (
    "**Indicative.** The search ran at a reduced scale with few seeds and a small evaluation budget; "
    "the optimiser may stop at a local optimum, and the rates carry seed noise of a few tenths of a "
    "point at small scales. Treat the schedule as a reading of what the model needs, not a budget."
)


def settings_of(cfg: dict) -> dict:
    s = {
        "levers": None,
        "actions": None,
        "exclude": [],
        "lever_regions": {},
        "upper": {},
        "below_baseline": False,
        "from_year": 2025,
        "probability": 0.8,
        "seeds": [1, 2, 3, 4, 5],
        "scale": 0.002,
        "method": "cobyla",
        "max_evaluations": 40,
        "start": "greedy",
        "greedy_margin_pp": 0.2,
        "rhobeg": 0.15,
        "penalty_per_pp": 10.0,
        "popsize": 4,
        "n_jobs": 2,
        "confirm_scale": 1.0,
        "confirm_seeds": [1, 2, 3],
        "confirm_n_jobs": 1,
        "confirm_baseline": False,
    }
    s.update({k: v for k, v in (cfg.get("seek") or {}).items()})
    s["seeds"] = [int(x) for x in s["seeds"]]
    s["confirm_seeds"] = [int(x) for x in s["confirm_seeds"]]
    if not s["seeds"] or not s["confirm_seeds"]:
        raise ValueError("seek.seeds and seek.confirm_seeds: at least one seed each")
    if not 0 < float(s["probability"]) <= 1:
        raise ValueError(f"seek.probability = {s['probability']}: allowed (0, 1]")
    if s["method"] not in ("cobyla", "differential_evolution"):
        raise ValueError(f"seek.method = {s['method']}: allowed cobyla | differential_evolution")
    for k in ("scale", "confirm_scale"):
        if not 0 < float(s[k]) <= 1:
            raise ValueError(f"seek.{k} = {s[k]}: allowed (0, 1]")
    if not 2020 < int(s["from_year"]) <= FINAL_YEAR:
        raise ValueError(f"seek.from_year = {s['from_year']}: allowed 2021-{FINAL_YEAR}")
    return s


def targets_of(cfg: dict) -> dict:
    t = {k: float(v) for k, v in (cfg.get("target") or {}).items() if v is not None}
    bad = [k for k in t if k not in TARGETS]
    if bad:
        raise ValueError(f"target.{bad[0]}: unknown target; allowed: {', '.join(TARGETS)}")
    if not t:
        raise ValueError("target: give at least one of target.resident_rate_2029, target.hukou_rate_2029")
    return t


class Variables:
    """The decision levers: names, regions, bounds [lo, hi] and the lever-override of a point u in [0,1]^d."""

    def __init__(self, s: dict, levers_spec: dict | None = None):
        from scenarios.compile import load_levers

        spec = levers_spec or load_levers()
        self.spec = spec
        costly = [n for n, v in spec.items() if "cost" in v and str(v.get("clause")) != "stress"]
        if s.get("levers"):
            names = list(s["levers"])
            bad = [n for n in names if n not in spec or str(spec[n].get("clause")) == "stress"]
            if bad:
                raise ValueError(
                    f"seek.levers: unknown or non-policy lever(s) {bad}; levers with a cost: {', '.join(costly)}"
                )
        else:
            names = costly
        if s.get("actions"):
            acts = [str(a).upper() for a in s["actions"]]
            names = [n for n in names if any(str(spec[n]["clause"]).startswith(a + ".") for a in acts)]
        names = [n for n in names if n not in (s.get("exclude") or [])]
        if not names:
            raise ValueError("seek: no decision lever left (seek.levers / seek.actions / seek.exclude)")
        self.names = names
        self.regions, self.lo, self.hi, self.base = {}, [], [], []
        for n in names:
            sp = spec[n]
            rlo, rhi = (float(x) for x in sp["range"])
            regions = [] if sp["by"] == "province" else list((s.get("lever_regions") or {}).get(n) or ["all"])
            self.regions[n] = regions
            b = sp["baseline"]
            if isinstance(b, dict):
                tiers = (
                    TIER_NAMES
                    if (not regions or "all" in regions or any(r not in TIER_NAMES for r in regions))
                    else regions
                )
                b = max(float(b.get(t, 0.0)) for t in tiers)
            b = float(b)
            if n in DOWNWARD:  # spending lowers it: search from the baseline down
                lo, hi = rlo, (rhi if s.get("below_baseline") else min(rhi, b))
                lo = max(lo, float((s.get("upper") or {}).get(n, lo)))
            else:
                lo = rlo if s.get("below_baseline") else max(rlo, b)
                hi = min(rhi, float((s.get("upper") or {}).get(n, rhi)))
            if not hi > lo:
                raise ValueError(f"seek: lever {n} has no room: [{lo}, {hi}] (baseline {b}, seek.upper)")
            self.lo.append(lo)
            self.hi.append(hi)
            self.base.append(b)
        self.lo, self.hi, self.base = np.array(self.lo), np.array(self.hi), np.array(self.base)
        self.down = np.array([n in DOWNWARD for n in names])
        self.from_year = int(s["from_year"])

    @property
    def d(self) -> int:
        return len(self.names)

    def values(self, u) -> np.ndarray:
        """Lever values of u: 0 = no extra spending (the baseline end), 1 = the most spending."""
        u = np.clip(np.asarray(u, float), 0.0, 1.0)
        return np.where(self.down, self.hi - u * (self.hi - self.lo), self.lo + u * (self.hi - self.lo))

    def overrides(self, u) -> dict:
        """Lever overrides ({lever: {year: x}} / {lever: {region: {year: x}}}) of point u."""
        out = {}
        for n, x in zip(self.names, self.values(u)):
            x = float(x)
            out[n] = {self.from_year: x} if not self.regions[n] else {r: {self.from_year: x} for r in self.regions[n]}
        return out

    def start(self, how) -> np.ndarray:
        if isinstance(how, (int, float)):
            return np.full(self.d, float(np.clip(how, 0, 1)))
        if str(how) == "greedy":
            raise ValueError("seek.start = greedy is computed by the search (greedy_start)")
        if str(how) == "plan":
            from sim.analysis.sensitivity import plan_levers

            plan = plan_levers("plan")
            u = np.full(self.d, 0.0)
            for i, n in enumerate(self.names):
                v = plan.get(n)
                vals = list(_leaves(v)) if v is not None else []
                if vals:
                    u[i] = ((self.hi[i] - min(vals)) if self.down[i] else (max(vals) - self.lo[i])) / (
                        self.hi[i] - self.lo[i]
                    )
            return np.clip(u, 0, 1)
        raise ValueError(f"seek.start = {how!r}: allowed greedy, plan or a share in [0, 1]")


def _leaves(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from _leaves(x)
    else:
        yield float(v)


# ============================================================================ evaluating a schedule


def model_config(cfg: dict, scale: float, seed: int) -> dict:
    c = copy.deepcopy({k: v for k, v in cfg.items() if k not in APP_KEYS})
    c["population"]["scale"] = float(scale)
    c["seed"] = int(seed)
    c["run"]["end_year"] = max(int(c["run"]["end_year"]), FINAL_YEAR)
    c["run"]["progress"] = "none"
    return draws.resolve(c, multirun=True)  # posterior_draw auto: each seed with its posterior draw


def summarise_rows(rows) -> dict:
    """2029 rates and 2025-2029 costs (total and per lever) from a model's rows or indicator table."""
    df = (
        rows
        if isinstance(rows, pd.DataFrame)
        else pd.DataFrame(rows, columns=["year", "level", "region", "indicator", "value"])
    )
    prov = df[df.level == "province"]
    wide = prov.pivot_table(index="year", columns="indicator", values="value")
    plan = wide.reindex(list(PLAN_YEARS))
    out = {k: float(wide.loc[FINAL_YEAR, col]) for k, col in TARGETS.items()}
    out["cost_yuan"] = float(plan["cost_total_yuan"].fillna(0).sum()) if "cost_total_yuan" in plan else 0.0
    out["cost_by_lever_yuan"] = {
        c[5:-5]: float(plan[c].fillna(0).sum())
        for c in plan.columns
        if c.startswith("cost_") and c != "cost_total_yuan" and plan[c].fillna(0).sum() > 0
    }
    return out


def simulate(cfg: dict, levers: dict | None) -> dict:
    """One model run (in this process) of a config with lever overrides; its summary."""
    quiet_libraries()
    from sim.model import ShanxiModel

    m = ShanxiModel(config=cfg, levers=levers or None, threads=1)
    m.run()
    return summarise_rows(m.rows)


def quantile_reaching(rates: list[float], p: float) -> float:
    """The rate that at least a share p of the seeds reach: the ceil(p S)-th highest."""
    r = sorted(rates, reverse=True)
    k = max(1, math.ceil(p * len(r) - 1e-9))
    return float(r[k - 1])


class Evaluator:
    """Runs a schedule with every search seed (in parallel), caches and records each evaluation."""

    def __init__(self, cfg: dict, s: dict, var: Variables, targets: dict):
        self.cfg, self.s, self.var, self.targets = cfg, s, var, targets
        self.p = float(s["probability"])
        self.cache: dict[tuple, dict] = {}
        self.history: list[dict] = []
        self.configs = [model_config(cfg, s["scale"], sd) for sd in s["seeds"]]
        self._parallel = None

    def _runs(self, levers: dict | None) -> list[dict]:
        from joblib import Parallel, delayed

        n = max(1, min(int(self.s["n_jobs"]), len(self.configs)))
        if n == 1:
            return [simulate(c, levers) for c in self.configs]
        if self._parallel is None:
            self._parallel = Parallel(n_jobs=n, backend="loky")
        return self._parallel(delayed(simulate)(c, levers) for c in self.configs)

    def __call__(self, u, label: str = "search") -> dict:
        u = np.clip(np.asarray(u, float), 0.0, 1.0)
        key = ("baseline",) if label == "baseline" else tuple(np.round(u, 6))
        if key in self.cache:
            return self.cache[key]
        t0 = time.monotonic()
        runs = self._runs(self.var.overrides(u) if label != "baseline" else None)
        ev = {
            "n": len(self.history),
            "label": label,
            "u": u.tolist(),
            "values": self.var.values(u).tolist() if label != "baseline" else self.var.base.tolist(),
            "cost_yuan": float(np.mean([r["cost_yuan"] for r in runs])),
        }
        ok = True
        for k in TARGETS:
            rates = [r[k] for r in runs]
            ev[f"{k}_mean"] = float(np.mean(rates))
            ev[f"{k}_min"] = float(np.min(rates))
            ev[f"{k}_max"] = float(np.max(rates))
        for k, tgt in self.targets.items():
            rates = [r[k] for r in runs]
            q = quantile_reaching(rates, self.p)
            ev[f"{k}_q"] = q
            ev[f"{k}_share_reaching"] = float(np.mean([x >= tgt for x in rates]))
            ev[f"{k}_shortfall_pp"] = max(0.0, tgt - q)
            ok = ok and q >= tgt
        ev["feasible"] = bool(ok)
        ev["cost_by_lever_yuan"] = {
            k: float(np.mean([r["cost_by_lever_yuan"].get(k, 0.0) for r in runs]))
            for k in sorted({k for r in runs for k in r["cost_by_lever_yuan"]})
        }
        ev["wall_s"] = time.monotonic() - t0
        self.cache[key] = ev
        self.history.append(ev)
        first = next(iter(self.targets))
        log.info(
            "eval %3d %-8s cost %9.1f 亿  %s q%.0f%% %.2f (mean %.2f)  %s  [%s] %.0f s",
            ev["n"],
            label,
            ev["cost_yuan"] / YI,
            first,
            100 * self.p,
            ev[f"{first}_q"],
            ev[f"{first}_mean"],
            "ok" if ok else "short",
            ", ".join(f"{x:.3g}" for x in ev["values"]),
            ev["wall_s"],
        )
        return ev

    def shortfall(self, u) -> float:
        ev = self(u)
        return sum(ev[f"{k}_shortfall_pp"] for k in self.targets)

    def margin(self, u) -> float:
        """Constraint for COBYLA (>= 0 when met): the smallest margin of q over its target, pp."""
        ev = self(u)
        return min(ev[f"{k}_q"] - t for k, t in self.targets.items())

    def close(self):
        self._parallel = None


# ============================================================================ the search


def search(ev: Evaluator, s: dict) -> dict:
    from scipy.optimize import differential_evolution, minimize

    var = ev.var
    base = ev(np.zeros(var.d), "baseline")
    top = ev(np.ones(var.d), "top")
    cost_ref = max(top["cost_yuan"], YI)
    if not top["feasible"]:
        log.warning(
            "every decision lever at the top of its range does not reach the target (%s): the "
            "target may be out of reach of these levers",
            {k: round(top[f"{k}_q"], 2) for k in ev.targets},
        )
    singles = []
    if str(s["start"]) == "greedy":
        u0, singles = greedy_start(ev, base, float(s.get("greedy_margin_pp", 0.2)))
    else:
        u0 = var.start(s["start"])
    budget = int(s["max_evaluations"])
    n_before = len(ev.history)
    if s["method"] == "cobyla":
        ev(u0, "start")
        res = minimize(
            lambda u: ev(u)["cost_yuan"] / cost_ref,
            u0,
            method="COBYLA",
            constraints=[{"type": "ineq", "fun": ev.margin}],
            bounds=[(0.0, 1.0)] * var.d,
            options={"rhobeg": float(s["rhobeg"]), "maxiter": budget},
        )
        info = {"method": "COBYLA", "message": str(res.message), "scipy_success": bool(res.success)}
    else:
        pop = int(s["popsize"])
        maxiter = max(1, budget // max(1, pop * var.d) - 1)
        res = differential_evolution(
            lambda u: ev(u)["cost_yuan"] / cost_ref + float(s["penalty_per_pp"]) * ev.shortfall(u),
            [(0.0, 1.0)] * var.d,
            popsize=pop,
            maxiter=maxiter,
            seed=int(s["seeds"][0]),
            polish=False,
            init="latinhypercube",
            x0=u0,
            updating="immediate",
            tol=1e-3,
        )
        info = {"method": "differential_evolution", "message": str(res.message), "scipy_success": bool(res.success)}
    info["evaluations"] = len(ev.history) - n_before
    feasible = [e for e in ev.history if e["feasible"]]
    if feasible:
        best = min(feasible, key=lambda e: e["cost_yuan"])
        info["reached"] = True
    else:
        first = next(iter(ev.targets))
        best = max(ev.history, key=lambda e: e[f"{first}_q"])
        info["reached"] = False
    return {"best": best, "baseline": base, "top": top, "info": info, "singles": singles, "start": u0.tolist()}


def greedy_start(ev: Evaluator, base: dict, margin_pp: float) -> tuple[np.ndarray, list[dict]]:
    """A starting schedule from each lever alone at the top of its span (one evaluation per lever):
    levers in order of target gain per yuan, each as far as needed (assuming additive, linear effects)
    until every target plus `margin_pp` is predicted; levers that do not raise the rate stay at 0."""
    var = ev.var
    first = next(iter(ev.targets))
    singles = []
    for i, n in enumerate(var.names):
        u = np.zeros(var.d)
        u[i] = 1.0
        e = ev(u, "alone")
        gains = {k: e[f"{k}_q"] - base[f"{k}_q"] for k in ev.targets}
        singles.append(
            {
                "lever": n,
                "value": float(var.values(u)[i]),
                "cost_yuan": e["cost_yuan"],
                **{f"gain_{k}_pp": g for k, g in gains.items()},
                "pp_per_billion": gains[first] / max(e["cost_yuan"] / 1e9, 1e-3),
            }
        )
    order = sorted(range(var.d), key=lambda i: -singles[i]["pp_per_billion"])
    u0 = np.zeros(var.d)
    need = {k: t + margin_pp - base[f"{k}_q"] for k, t in ev.targets.items()}
    for i in order:
        if all(v <= 0 for v in need.values()):
            break
        g = {k: singles[i][f"gain_{k}_pp"] for k in ev.targets}
        if g[first] <= 0:
            continue
        frac = (
            max(need[k] / g[k] for k in ev.targets if g[k] > 0 and need[k] > 0)
            if any(g[k] > 0 and need[k] > 0 for k in ev.targets)
            else 0.0
        )
        u0[i] = float(np.clip(frac, 0.0, 1.0))
        for k in ev.targets:
            need[k] -= u0[i] * g[k]
    if not u0.any():
        u0[:] = 0.3
    log.info("greedy start: %s", ", ".join(f"{n}={x:.3g}" for n, x in zip(var.names, var.values(u0))))
    return u0, singles


# ============================================================================ confirmation


def _confirm_one(cfg: dict, levers: dict | None, run_dir: str) -> dict:
    quiet_libraries()
    from sim.runs.run import run_to_folder

    run_to_folder(cfg, Path(run_dir))
    return summarise_rows(pd.read_parquet(Path(run_dir) / "indicators.parquet"))


def confirm(cfg: dict, s: dict, var: Variables, u, run_dir: Path, name: str) -> dict:
    """Run the schedule (and optionally the baseline) at confirm_scale with confirm_seeds, as run folders."""
    from joblib import Parallel, delayed

    jobs = []
    levers = var.overrides(u)
    for sd in s["confirm_seeds"]:
        c = model_config(cfg, s["confirm_scale"], sd)
        c["scenario"] = copy.deepcopy(c["scenario"])
        lv = dict(c["scenario"].get("levers") or {})
        lv.update(levers)
        c["scenario"]["levers"] = lv
        c["scenario"]["name"] = name
        jobs.append(("schedule", sd, c, run_dir / "confirm" / f"{name}_seed{sd}"))
        if s["confirm_baseline"]:
            b = model_config(cfg, s["confirm_scale"], sd)
            jobs.append(("baseline", sd, b, run_dir / "confirm" / f"{b['scenario']['name']}_seed{sd}"))
    n = max(1, min(int(s["confirm_n_jobs"]), len(jobs)))
    log.info("confirming at scale %g with seeds %s (%d runs)", s["confirm_scale"], s["confirm_seeds"], len(jobs))
    res = (
        Parallel(n_jobs=n, backend="loky")(delayed(_confirm_one)(c, None, str(d)) for _, _, c, d in jobs)
        if n > 1
        else [_confirm_one(c, None, str(d)) for _, _, c, d in jobs]
    )
    out = {"schedule": [], "baseline": []}
    for (kind, sd, _, d), r in zip(jobs, res):
        out[kind].append({"seed": sd, "run_dir": str(d.relative_to(run_dir)), **r})
    return out


def spread(values: list[float]) -> dict:
    v = np.asarray(values, float)
    return {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
        "min": float(v.min()),
        "max": float(v.max()),
        "p5": float(np.percentile(v, 5)),
        "p95": float(np.percentile(v, 95)),
        "n": int(len(v)),
    }


# ============================================================================ report


def scenario_yaml(var: Variables, u, name: str, result_note: str) -> str:
    levers = {}
    for n, x in zip(var.names, var.values(u)):
        x = round(float(x), 6)
        levers[n] = {var.from_year: x} if not var.regions[n] else {r: {var.from_year: x} for r in var.regions[n]}
    doc = {"name": name, "description": result_note, "levers": levers}
    return (
        "# Written by python -m sim seek: the least-cost schedule found (copy to conf/scenario/ to run it\n"
        "# with python -m sim scenario=<name>). Indicative: found at a reduced scale.\n"
        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
    )


def _result_intro_lines(r: dict) -> list[str]:
    """Title, the search and confirmation paragraph, and the caveats."""
    s, tg = r["settings"], r["targets"]
    first = next(iter(tg))
    lines = [
        f"# What it takes: least-cost schedule for {', '.join(f'{k} ≥ {v:g}%' for k, v in tg.items())} ({r['date']})",
        "",
    ]
    c = r["confirmation"]
    verdict = "**reached**" if c["met"] else "**not reached**"
    lines.append(
        f"Search: {r['search']['method']} over {len(r['schedule'])} levers, {r['search']['evaluations']} schedules "
        f"evaluated (plus the baseline, the top of every range"
        f"{' and each lever alone at its top, for the greedy start' if r.get('singles') else ''}), "
        f"each with seeds {s['seeds']} at "
        f"population.scale = {s['scale']:g}; requirement: at least {100 * s['probability']:.0f}% of the seeds "
        f"reach the target (common random numbers). Confirmation at population.scale = {s['confirm_scale']:g} with "
        f"seeds {s['confirm_seeds']}: target {verdict} "
        f"({100 * c[first + '_share_reaching']:.0f}% of the seeds reach it)."
    )
    lines.append("")
    if not r["search"]["reached"]:
        lines.append(
            "**No schedule evaluated met the target at the search scale**: the schedule below is the one "
            "that came closest. Add levers (seek.levers / seek.actions), raise seek.upper or the evaluation "
            "budget, or accept a lower probability."
        )
        lines.append("")
    lines += [INDICATIVE_NOTE, ""]
    return lines


def _result_schedule_lines(r: dict) -> list[str]:
    """## The schedule: a row per lever."""
    lines = [f"## The schedule (constant from {r['settings']['from_year']} to 2029)", ""]
    rows = []
    for x in r["schedule"]:
        rows.append(
            f"| {x['lever']} | {x['clause']} | {number(x['value'], 4)} {x['unit']} | {number(x['baseline'], 4)} | "
            f"{number(x['low'], 4)}–{number(x['high'], 4)} | {x['regions']} | {number(x['cost_yi'], 1)} |"
        )
    lines += [
        "| lever | clause | value | baseline | search range | regions | cost 2025-29 (亿 yuan) |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    return lines


def _result_cost_lines(r: dict) -> list[str]:
    """## Cost and achieved rates: the search and the confirmation side by side."""
    s = r["settings"]
    lines = ["## Cost and achieved rates", ""]
    cs, sc = r["confirmation"], r["search_result"]
    lines.append(
        f"| | search (scale {s['scale']:g}, {len(s['seeds'])} seeds) | "
        f"confirmation (scale {s['confirm_scale']:g}, {len(s['confirm_seeds'])} seeds) |"
    )
    lines.append("|---|---|---|")
    lines.append(
        f"| public cost 2025-2029 above baseline | {number(sc['cost_yuan'] / YI, 1)} 亿 yuan "
        f"({sc['cost_yuan']:,.0f} yuan) | {number(cs['cost_yuan']['mean'] / YI, 1)} 亿 yuan "
        f"({cs['cost_yuan']['mean']:,.0f} yuan) |"
    )
    for k in TARGETS:
        label = "2029 resident rate %" if k.startswith("resident") else "2029 hukou rate %"
        a = cs[k]
        lines.append(
            f"| {label} | mean {number(sc[k + '_mean'])}, range {number(sc[k + '_min'])}–{number(sc[k + '_max'])} | "
            f"mean {number(a['mean'])}, range {number(a['min'])}–{number(a['max'])} "
            f"(P5–P95 {number(a['p5'])}–{number(a['p95'])}) |"
        )
    b = r["search_baseline"]
    lines.append(
        f"| baseline 2029 resident rate % (search scale) | mean {number(b['resident_rate_2029_mean'])} | "
        + (
            f"mean {number(cs['baseline_resident_rate_2029']['mean'])} |"
            if cs.get("baseline_resident_rate_2029")
            else "— |"
        )
    )
    lines.append("")
    lines.append(
        f"In 亿 yuan a year: about {number(cs['cost_yuan']['mean'] / YI / len(PLAN_YEARS), 1)} on average over "
        f"{PLAN_YEARS[0]}-{PLAN_YEARS[-1]}."
    )
    lines.append("")
    return lines


def _result_singles_lines(r: dict) -> list[str]:
    """## Each lever alone at the top of its range (the greedy start's evaluations); none without them."""
    if not r.get("singles"):
        return []
    s = r["settings"]
    first = next(iter(r["targets"]))
    lines = ["## Each lever alone at the top of its search range (search scale, used for the start)", ""]
    lines.append(
        f"| lever | value | cost 2025-29 (亿 yuan) | gain in the {first} reached by "
        f"{100 * s['probability']:.0f}% of seeds (pp) | pp per billion yuan |"
    )
    lines.append("|---|---|---|---|---|")
    for x in sorted(r["singles"], key=lambda x: -x["pp_per_billion"]):
        lines.append(
            f"| {x['lever']} | {number(x['value'], 4)} | {number(x['cost_yuan'] / YI, 1)} | "
            f"{number(x[f'gain_{first}_pp'], 2, True)} | {number(x['pp_per_billion'], 3, True)} |"
        )
    lines.append("")
    lines.append(
        "The effects do not add up exactly (the levers interact, and seed noise of a few tenths of a "
        "point enters every gain)."
    )
    lines.append("")
    return lines


def _result_scenario_lines(r: dict) -> list[str]:
    """## As a scenario: the schedule as a scenario file, and the files of the run folder."""
    return [
        "## As a scenario",
        "",
        "```yaml\n" + r["scenario_yaml"] + "```",
        "",
        "Files: seek_result.json, seek_history.csv (every schedule evaluated), seek_scenario.yaml, "
        "confirm/ (run folders of the confirmation), manifest.json.",
    ]


def result_markdown(r: dict) -> str:
    """The report (seek_result.md) of a seek result, section by section."""
    lines = [
        *_result_intro_lines(r),
        *_result_schedule_lines(r),
        *_result_cost_lines(r),
        *_result_singles_lines(r),
        *_result_scenario_lines(r),
    ]
    return "\n".join(lines) + "\n"


# ============================================================================ the whole seek


def _scenario_name(targets: dict) -> str:
    """The name of the schedule's scenario and confirmation runs, e.g. seek_resident70."""
    first = next(iter(targets))
    return f"seek_{first.split('_')[0]}{targets[first]:g}".replace(".", "p")


def _confirmation(conf: dict, targets: dict, s: dict) -> dict:
    """The confirmation runs summarised: spreads of cost and rates, the shares reaching each target, and
    whether the share of seeds reaching them meets seek.probability."""
    sched_runs = conf["schedule"]
    confirmation = {
        "cost_yuan": spread([x["cost_yuan"] for x in sched_runs]),
        "runs": sched_runs,
        "baseline_runs": conf["baseline"],
    }
    met = True
    for k in TARGETS:
        confirmation[k] = spread([x[k] for x in sched_runs])
        if k in targets:
            share = float(np.mean([x[k] >= targets[k] for x in sched_runs]))
            confirmation[f"{k}_share_reaching"] = share
            met = met and share >= float(s["probability"]) - 1e-9
    if conf["baseline"]:
        confirmation["baseline_resident_rate_2029"] = spread([x["resident_rate_2029"] for x in conf["baseline"]])
    confirmation["met"] = bool(met)
    return confirmation


def _schedule(var: Variables, u: np.ndarray, sched_runs: list[dict]) -> list[dict]:
    """A row per decision lever: its value, bounds, regions and mean cost over the confirmation runs."""
    cost_by = {}
    for x in sched_runs:
        for k, v in x["cost_by_lever_yuan"].items():
            cost_by[k] = cost_by.get(k, 0.0) + v / len(sched_runs)
    schedule = []
    for i, n in enumerate(var.names):
        sp = var.spec[n]
        schedule.append(
            {
                "lever": n,
                "clause": sp.get("clause"),
                "unit": sp.get("unit", ""),
                "value": float(var.values(u)[i]),
                "baseline": float(var.base[i]),
                "low": float(var.lo[i]),
                "high": float(var.hi[i]),
                "regions": ", ".join(var.regions[n]) or "province",
                "share_of_span": float(u[i]),
                "cost_yuan": float(cost_by.get(n, 0.0)),
                "cost_yi": float(cost_by.get(n, 0.0)) / YI,
            }
        )
    return schedule


def _result(
    var: Variables, u: np.ndarray, found: dict, confirmation: dict, targets: dict, s: dict, name: str, started
) -> dict:
    """The result (seek_result.json) of the search and its confirmation, with the scenario file's text."""
    best = found["best"]
    note = (
        f"least-cost schedule for {', '.join(f'{k} >= {v:g}' for k, v in targets.items())} with p >= "
        f"{s['probability']:g} (sim.analysis.seek {started:%Y-%m-%d}, search scale {s['scale']:g}, seeds {s['seeds']})"
    )
    result = {
        "date": f"{started:%Y-%m-%d}",
        "targets": targets,
        "settings": s,
        "schedule": _schedule(var, u, confirmation["runs"]),
        "levers_override": {k: {str(kk): vv for kk, vv in v.items()} for k, v in var.overrides(u).items()},
        "cost_2025_2029_yuan": confirmation["cost_yuan"]["mean"],
        "cost_2025_2029_yi": confirmation["cost_yuan"]["mean"] / YI,
        "achieved": {k: confirmation[k] for k in TARGETS},
        "confirmation": confirmation,
        "search": {**found["info"], "evaluations": found["info"]["evaluations"]},
        "search_result": {k: v for k, v in best.items() if k != "cost_by_lever_yuan"},
        "search_baseline": {k: v for k, v in found["baseline"].items() if k != "cost_by_lever_yuan"},
        "search_top": {k: v for k, v in found["top"].items() if k != "cost_by_lever_yuan"},
        "singles": found["singles"],
        "start": dict(zip(var.names, var.values(found["start"]).tolist())),
    }
    result["scenario_yaml"] = scenario_yaml(var, u, name, note)
    return result


def _write_result(run_dir: Path, result: dict, history: list[dict], var: Variables) -> None:
    """seek_history.csv (every schedule evaluated), seek_scenario.yaml, seek_result.json and seek_result.md."""
    hist = pd.DataFrame(
        [
            {
                **{k: v for k, v in e.items() if k not in ("u", "values", "cost_by_lever_yuan")},
                "cost_yi": e["cost_yuan"] / YI,
                **{f"x.{n}": x for n, x in zip(var.names, e["values"])},
            }
            for e in history
        ]
    )
    with outputs.atomic_path(run_dir / "seek_history.csv") as tmp:
        hist.to_csv(tmp, index=False)
    outputs.write_text(run_dir / "seek_scenario.yaml", result["scenario_yaml"])
    outputs.write_text(
        run_dir / "seek_result.json", json.dumps(result, indent=2, ensure_ascii=False, default=outputs._json_default)
    )
    outputs.write_text(run_dir / "seek_result.md", result_markdown(result))


def seek_to_folder(cfg: dict, run_dir: Path) -> dict:
    from sim.config.schema import refuse_code_targets, validate_config
    from sim.runs.run import peak_rss_mb
    from sim.world.inputs import data_file_hashes

    run_dir = outputs.begin_run(run_dir)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    refuse_code_targets(cfg)
    validate_config({k: v for k, v in cfg.items() if k not in APP_KEYS})
    s = settings_of(cfg)
    targets = targets_of(cfg)
    var = Variables(s)
    log.info(
        "seek %s with p >= %.2f over seeds %s at scale %g: levers %s",
        targets,
        s["probability"],
        s["seeds"],
        s["scale"],
        ", ".join(var.names),
    )
    ev = Evaluator(cfg, s, var, targets)
    try:
        found = search(ev, s)
    finally:
        ev.close()
    t_search = time.perf_counter() - t0
    u = np.asarray(found["best"]["u"], float)
    name = _scenario_name(targets)
    conf = confirm(cfg, s, var, u, run_dir, name)
    t_confirm = time.perf_counter() - t0 - t_search
    confirmation = _confirmation(conf, targets, s)
    result = _result(var, u, found, confirmation, targets, s, name, started)
    _write_result(run_dir, result, ev.history, var)
    wall, timing = time.perf_counter() - t0, {"search": t_search, "confirm": t_confirm}
    files = ["seek_result.json", "seek_result.md", "seek_history.csv", "seek_scenario.yaml"]
    man = outputs.manifest(
        cfg,
        s["seeds"][0],
        started,
        wall,
        peak_rss_mb(),
        data_file_hashes(),
        timing,
        files,
        extra={
            "kind": "seek",
            "seeds": s["seeds"],
            "reached_in_search": found["info"]["reached"],
            "confirmed": confirmation["met"],
        },
    )
    outputs.write_manifest(run_dir, man)
    return result


# ============================================================================ Hydra app


def _main(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig

    from sim.config import to_dict

    quiet_libraries()
    run_dir = HydraConfig.get().runtime.output_dir
    r = seek_to_folder(to_dict(cfg), Path(run_dir))
    first = next(iter(r["targets"]))
    a = r["achieved"][first]
    log.info(
        "seek complete: %s | cost %.1f 亿 yuan | %s %.2f (%.2f-%.2f over %d seeds) | target %s",
        run_dir,
        r["cost_2025_2029_yi"],
        first,
        a["mean"],
        a["min"],
        a["max"],
        a["n"],
        "met" if r["confirmation"]["met"] else "NOT met",
    )


def main() -> None:
    import hydra

    argv = sys.argv[1:]
    if "--quick" in argv:
        i = argv.index("--quick")
        sys.argv = [sys.argv[0], *argv[:i], *QUICK, *argv[i + 1 :]]
    hydra.main(config_path=str(CONF_DIR), config_name="seek", version_base="1.3")(_main)()


if __name__ == "__main__":
    main()
