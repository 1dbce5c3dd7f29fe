"""Performance benchmark of the Shanxi household model: `python -m benchmarks.run` (or `make bench`).

Measures on this machine and writes `RESULTS.md` and `results.json` to `--out` (default: benchmarks/):

  compile      numba compile time of the kernels, cold (empty NUMBA_CACHE_DIR) and warm (cached), in
               child processes, reported apart from run times
  kernel       household-steps per second of `kernels.step_all` alone, by scale and numba thread count
               (median of repeats; several months each, from the census state with that month's conditions)
  aggregate    `kernels.aggregate`, the recount of every row from scratch (at set-up; each month the kernel
               updates the counts of the households that had an event), and its allocation/reduction overhead
  markets      the monthly behaviour/conditions update (`model._behaviour`, `model._conditions`)
  model step   `model.step()` split into kernel / counts update / markets / data collection / other
               (instrumented in this process by wrapping the model's calls, nothing in sim/ changed)
  agent path   the same rule through `Household.step()` as Mesa agents, against the kernel on the same
               state (results checked identical), and the ratio
  memory       bytes of state per household, copy bandwidth (numpy; numba 1 and 2 threads), and the
               memory-streaming floor of the kernel
  full province  `python -m sim hydra.run.dir=<tmp>` in a child process: wall time, the manifest's
               setup/stepping/output timings and peak RSS (manifest and the child's ru_maxrss), and the
               wall time against 110 floor passes (one read + write of the whole household state per
               month at the measured streaming bandwidth)
  ensemble     runs per hour: full scale from the full-province run, 1% scale from a real Hydra multirun
               on the project's joblib launcher (`python -m sim -m seed=1,2,3,4 ... hydra/launcher=joblib`)
  cold start   `git clone` of this repository, then the clone's first `python -m sim` full-province run
               with an empty NUMBA_CACHE_DIR (everything compiled from scratch), and the compile probe
               in the clone for the compile time apart
  scaling      time against households (10% -> 100%) and 2-thread against 1-thread speed-up

and compares with the targets. `--quick` runs small scales only, skips the full-province run and runs the
ensemble (2 jobs) and the cold start at scale 0.01 (CI).
"""

import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np

from sim.reporting.tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks"
SCHEMA = 2

TARGETS = {
    "kernel_over_floor": 8.0,  # kernel <= 8x its streaming-bandwidth floor (2 threads)
    "kernel_vs_agent_ratio": 1000.0,  # >= 1000x the Mesa agent path
    "full_province_over_floor": 10.0,  # full-province wall time <= 10x its 110 floor passes
    "full_province_peak_rss_mb": 1536.0,  # <= 1.5 GiB
    "two_thread_speedup": 1.8,  # >= 1.8x
    "cold_first_run_s": 60.0,  # fresh clone, first full-province run including compilation <= 60 s
    "bytes_per_household": 64,  # <= 64
    "linearity": (0.8, 1.25),  # time per household 100% / 10% within this band
}


# ----------------------------------------------------------------------------------- small helpers
def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def other_cpu_load(interval: float = 0.5) -> dict:
    """CPU use of processes other than this benchmark (and its children) over `interval` seconds."""
    try:
        import psutil
    except ImportError:
        return {}
    me = psutil.Process()
    mine = {me.pid} | {c.pid for c in me.children(recursive=True)}
    procs = []
    for p in psutil.process_iter(["pid", "name"]):
        if p.info["pid"] in mine:
            continue
        try:
            p.cpu_percent(None)
            procs.append(p)
        except (psutil.Error, OSError):
            pass
    time.sleep(interval)
    busy = []
    for p in procs:
        try:
            c = p.cpu_percent(None)
        except (psutil.Error, OSError):
            continue
        if c >= 5:
            busy.append((c, p.info["name"]))
    busy.sort(reverse=True)
    return {
        "other_processes_cpu_percent": round(sum(c for c, _ in busy), 1),
        "busiest": [f"{name} {c:.0f}%" for c, name in busy[:5]],
    }


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except Exception:  # noqa: BLE001 - psutil is optional here
        return float("nan")


def timed(fn):
    """(wall seconds, process CPU seconds summed over threads, result) of one call."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    t1, c1 = time.perf_counter(), time.process_time()
    return t1 - t0, c1 - c0, out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))


# ----------------------------------------------------------------------------------- machine / provenance
# the /proc/cpuinfo flags that name vector (SIMD) instruction sets: sse*, ssse3, avx*, fma, f16c, amx*
SIMD_FLAG_PREFIXES = ("sse", "ssse3", "avx", "fma", "f16c", "amx")


def simd_flags(flags: list[str]) -> list[str]:
    """The SIMD instruction-set flags among a CPU's /proc/cpuinfo flags, in their order there."""
    return [f for f in flags if f.startswith(SIMD_FLAG_PREFIXES)]


def llvm_host_cpu() -> str | None:
    """The CPU name LLVM (so numba) compiles for on this machine, e.g. `sapphirerapids`."""
    try:
        import llvmlite.binding as llvm

        return llvm.get_host_cpu_name()
    except Exception:  # noqa: BLE001 - informative only
        return None


def machine_info() -> dict:
    cpu_model, phys, flags = None, set(), []
    try:
        pid = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name" and cpu_model is None:
                cpu_model = v
            elif k == "flags" and not flags:
                flags = v.split()
            elif k == "physical id":
                pid = v
            elif k == "core id":
                core = v
            elif not line.strip():
                if core is not None:
                    phys.add((pid, core))
                pid = core = None
        if core is not None:
            phys.add((pid, core))
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 2**20, 2)
    except OSError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    versions = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__}
    try:
        import mesa

        versions["mesa"] = mesa.__version__
    except Exception:  # noqa: BLE001
        pass
    return {
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "simd_flags": simd_flags(flags),
        "llvm_host_cpu": llvm_host_cpu(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": len(phys) or None,
        "cpus_available": affinity,
        "ram_gb": ram_gb,
        "platform": platform.platform(),
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer_config": numba.config.THREADING_LAYER,
        "versions": versions,
    }


WATCHED_SOURCES = (
    "sim/kernel/",
    "sim/rng.py",
    "sim/model.py",
    "sim/economy/markets.py",
    "sim/world/population.py",
    "sim/state.py",
    "agents/household.py",
)


def source_fingerprint() -> dict:
    """sha256 (first 12 hex digits) of the model sources that set performance: a change mid-run is flagged."""
    import hashlib

    out = {}
    for rel in WATCHED_SOURCES:
        path = ROOT / rel
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]  # a package: all its modules
        try:
            out[rel] = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
        except OSError:
            out[rel] = None
    return out


def git_commit() -> str | None:
    """HEAD commit, read-only (`git rev-parse HEAD`; no lock is taken)."""
    try:
        env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
        r = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, env=env
        )
        return r.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ----------------------------------------------------------------------------------- memory bandwidth
@numba.njit(parallel=True, cache=True)
def _par_copy(dst, src):
    n = src.shape[0]
    chunk = (n + 63) // 64
    for k in numba.prange(64):
        for i in range(k * chunk, min(n, (k + 1) * chunk)):
            dst[i] = src[i]


@numba.njit(parallel=True, cache=True)
def _par_rmw(a):
    n = a.shape[0]
    chunk = (n + 63) // 64
    for k in numba.prange(64):
        for i in range(k * chunk, min(n, (k + 1) * chunk)):
            a[i] = a[i] + 1


def bench_bandwidth(mb: int, threads: list[int], repeats: int = 5) -> dict:
    """Streaming bandwidth in GB/s (1e9 B/s), counting bytes read + bytes written."""
    n = mb * 2**20 // 8
    src = np.arange(n, dtype=np.float64)
    dst = np.empty_like(src)
    nbytes = src.nbytes
    np.copyto(dst, src)
    out = {
        "array_mb": mb,
        "bytes_counted": "read + write",
        "numpy_copy_gbs": None,
        "numba_copy_gbs": {},
        "numba_inplace_update_gbs": {},
    }
    ts = [timed(lambda: np.copyto(dst, src))[0] for _ in range(repeats)]
    out["numpy_copy_gbs"] = 2 * nbytes / min(ts) / 1e9
    for t in threads:
        numba.set_num_threads(t)
        _par_copy(dst, src)
        _par_rmw(dst)
        ts = [timed(lambda: _par_copy(dst, src))[0] for _ in range(repeats)]
        out["numba_copy_gbs"][str(t)] = 2 * nbytes / min(ts) / 1e9
        ts = [timed(lambda: _par_rmw(dst))[0] for _ in range(repeats)]
        out["numba_inplace_update_gbs"][str(t)] = 2 * nbytes / min(ts) / 1e9
    src = dst = None  # release the arrays before the next measurement
    gc.collect()
    return out


# ----------------------------------------------------------------------------------- compile
PROBE_MODULE = ("-m", "benchmarks.compile_probe")


def bench_compile(
    scale: float, timeout: float, cwd: Path = ROOT, env_extra: dict | None = None, probe: tuple = PROBE_MODULE
) -> dict:
    """Cold (empty cache folder) then warm (same folder) first calls, each in a fresh process.

    `cwd`, `env_extra` and `probe` (the interpreter's arguments before `--scale`) run it on another
    checkout: the cold-start section runs this file's probe by path in a fresh clone."""
    out = {"probe_scale": scale}
    with tempfile.TemporaryDirectory(prefix="bench-numba-cache-") as cache:
        env = dict(os.environ, **(env_extra or {}), NUMBA_CACHE_DIR=cache)
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            r = subprocess.run(
                [sys.executable, *probe, "--scale", str(scale)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                out[label] = {"error": r.stderr[-2000:], "process_wall_s": wall}
                continue
            res = json.loads(r.stdout.strip().splitlines()[-1])
            res["process_wall_s"] = wall
            out[label] = res
    return out


# ----------------------------------------------------------------------------------- instrumented model step
class StepInstrument:
    """Wrap the model's calls to time each part of `model.step()` (the model code is not changed)."""

    PARTS = ("step_all", "counts", "behaviour", "conditions", "advance_year", "collect", "record")

    def __init__(self, model):
        from sim import kernel as K
        from sim.economy import markets

        self.model, self.K, self.markets = model, K, markets
        self.acc = dict.fromkeys(self.PARTS, 0.0)
        self._saved = []

    def _wrap(self, obj, name, part):
        real = getattr(obj, name)
        acc = self.acc

        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return real(*a, **kw)
            finally:
                acc[part] += time.perf_counter() - t

        self._saved.append((obj, name, real, obj.__dict__.get(name, None) if hasattr(obj, "__dict__") else None))
        setattr(obj, name, wrapper)

    def __enter__(self):
        m = self.model
        self._wrap(self.K, "step_all", "step_all")
        self._wrap(self.K.Counts, "advanced_by", "counts")
        self._wrap(self.markets, "advance_year", "advance_year")
        self._wrap(m, "_behaviour", "behaviour")
        self._wrap(m, "_conditions", "conditions")
        self._wrap(m, "_record", "record")
        self._wrap(m.datacollector, "collect", "collect")
        return self

    def __exit__(self, *exc):
        for obj, name, real, inst in reversed(self._saved):
            if obj is self.K or obj is self.markets or obj is self.K.Counts:
                setattr(obj, name, real)
            elif inst is None:
                try:
                    delattr(obj, name)  # back to the class method
                except AttributeError:
                    setattr(obj, name, real)
            else:
                setattr(obj, name, inst)
        self._saved.clear()
        return False

    def run_months(self, months: int) -> dict:
        """Step `months` months; per-month seconds of each part, `other` = the rest of model.step()."""
        m = self.model
        totals = []
        parts = {p: [] for p in self.PARTS}
        for _ in range(months):
            if not m.running or m.month >= m.n_months:
                break
            before = dict(self.acc)
            t = time.perf_counter()
            m.step()
            totals.append(time.perf_counter() - t)
            for p in self.PARTS:
                parts[p].append(self.acc[p] - before[p])
        n = len(totals)
        res = {"months": n, "total_s_per_month": sum(totals) / max(n, 1)}
        for p in self.PARTS:
            res[f"{p}_s_per_month"] = sum(parts[p]) / max(n, 1)
        res["other_s_per_month"] = res["total_s_per_month"] - sum(res[f"{p}_s_per_month"] for p in self.PARTS)
        return res


# ----------------------------------------------------------------------------------- per-scale benchmark
def _restore(h, snap):
    for a, b in zip(h, snap):
        np.copyto(a, b)


def _digest(h) -> str:
    import hashlib

    d = hashlib.sha256()
    for a in h:
        d.update(np.ascontiguousarray(a).tobytes())
    return d.hexdigest()[:16]


def _kernel_months(h, st, bh, c, sd, m0, months: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of `months` consecutive `kernels.step_all` months from the current state."""
    from sim import kernel as K

    walls, cpus = [], []
    for j in range(months):
        w, cp, _ = timed(lambda j=j: K.step_all(h, st, bh, c, sd, m0 + j))
        walls.append(w)
        cpus.append(cp)
    return walls, cpus


def _kernel_args(model) -> tuple:
    """(static, behaviour, conditions, seed, month): the arguments of `kernels.step_all` after the households."""
    return model.static, model.month_behaviour, model.month_conditions, model.seed, model.month


def _bench_kernel(scale: float, model, snap, threads: list[int], months: int, repeats: int) -> tuple[list[dict], bool]:
    """The decision kernel alone, one row per thread count, and whether the results agree across thread counts."""
    from sim import kernel as K

    h = model.households
    n = int(h.n)
    st, bh, c, sd, m0 = _kernel_args(model)
    rows, digests = [], {}
    for t in threads:
        numba.set_num_threads(t)
        _restore(h, snap)
        K.step_all(h, st, bh, c, sd, m0)  # warm-up (compile or cache load happens here, untimed)
        rep_wall, rep_cpu, per_month = [], [], []
        for _ in range(repeats):
            _restore(h, snap)
            walls, cpus = _kernel_months(h, st, bh, c, sd, m0, months)
            rep_wall.append(sum(walls))
            rep_cpu.append(sum(cpus))
            per_month.extend(walls)
        digests[t] = _digest(h)
        med = median(rep_wall)
        cpu_med = median(rep_cpu)
        rows.append(
            {
                "threads": t,
                "months": months,
                "repeats": repeats,
                "median_s_per_month": med / months,
                "min_s_per_month": min(per_month),
                "max_s_per_month": max(per_month),
                "household_steps_per_s": n * months / med,
                "ns_per_household_step": med / (n * months) * 1e9,
                "best_repeat_s_per_month": min(rep_wall) / months,
                "best_household_steps_per_s": n * months / min(rep_wall),
                "cpu_utilisation": cpu_med / (med * t) if med > 0 else None,
                "cpu_ns_per_household_step": cpu_med / (n * months) * 1e9,
                "repeat_totals_s": rep_wall,
            }
        )
        log(
            f"scale {scale}: step_all {t} thread(s): {med / months:.3f} s/month, "
            f"{n * months / med / 1e6:.2f} M household-steps/s"
        )
    return rows, len(set(digests.values())) == 1


# every event chance of the behaviour: all 0 leaves only the screen (every household has a quiet month)
_EVENT_CHANCES = (
    "review_rate",
    "job_separation",
    "death_child",
    "death_adult",
    "death_old",
    "birth_20s",
    "birth_30s",
    "birth_40s",
    "child_to_adult",
    "adult_to_old",
    "insurance_uptake_month",
)


def _breakdown_variants(st, bh, c) -> dict:
    """{name: (behaviour, conditions)} of the full rule, the rule without place choice and the screen alone."""
    from sim import kernel as K

    # no place choice: nobody reconsiders (review rate and job loss 0, bounds recomputed to match)
    bh0 = bh._replace(review_rate=0.0, job_separation=0.0)
    c0 = c._replace(event_bound=K.event_bounds(st.place_is_urban, bh0, c))
    # screen alone: every chance 0, so (nearly) every household has a quiet month
    bhq = bh._replace(**dict.fromkeys(_EVENT_CHANCES, 0.0))
    cq = c._replace(
        job_find=np.zeros_like(c.job_find),
        training_prob=np.zeros_like(c.training_prob),
        extra_review=np.zeros_like(c.extra_review),
        settle_prob=np.zeros_like(c.settle_prob),
        buy_prob=np.zeros_like(c.buy_prob),
    )
    cq = cq._replace(event_bound=K.event_bounds(st.place_is_urban, bhq, cq))
    return {"full": (bh, c), "no_choice": (bh0, c0), "screen": (bhq, cq)}


def _bench_kernel_breakdown(model, snap, threads: list[int], months: int, repeats: int) -> dict:
    """Where the kernel's time goes (diagnostic): the screen alone, the rule without place choice."""
    from sim import kernel as K

    h = model.households
    n = int(h.n)
    st, bh, c, sd, m0 = _kernel_args(model)
    numba.set_num_threads(min(threads))
    # households that go past the screen in the first month (the same test as step_households)
    slack, cell = np.empty(n), np.empty(n, np.int32)
    K.event_slack(0, n, snap, bh, sd, m0, slack, cell)
    full_rule_share = float(np.mean(slack < c.event_bound.ravel()[cell]))
    variants = _breakdown_variants(st, bh, c)
    walls = {"full": [], "no_choice": [], "screen": []}
    for _ in range(repeats):
        for name, (b_, c_) in variants.items():
            _restore(h, snap)
            walls[name].append(sum(_kernel_months(h, st, b_, c_, sd, m0, months)[0]))
    full, noch, scr = (median(walls[k]) for k in ("full", "no_choice", "screen"))
    per = n * months / 1e9
    return {
        "threads": min(threads),
        "ns_per_household_step": full / per,
        "ns_per_household_step_without_place_choice": noch / per,
        "ns_per_household_step_screen_only": scr / per,
        "full_rule_share": full_rule_share,
        "place_choice_share_of_kernel_time": 1.0 - noch / full if full > 0 else None,
        "screen_share_of_kernel_time": scr / full if full > 0 else None,
        "note": (
            "without place choice = review rate and job loss 0 (no household reconsiders); screen only = "
            "every event chance 0 (every household has a quiet month)"
        ),
    }


def _bench_aggregate(model, threads: list[int], repeats: int) -> list[dict]:
    """`kernels.aggregate` per thread count (read-only on the households, so repeatable on the same state)."""
    from sim import kernel as K
    from sim import state as S

    h = model.households
    n = int(h.n)
    n_units, n_places, oop = len(model.geo.unit_name_en), model.geo.n_places, model.static.oop
    empty = S.empty(0)
    rows = []
    for t in threads:
        numba.set_num_threads(t)
        K.aggregate(h, n_units, n_places, oop)
        ts = [timed(lambda: K.aggregate(h, n_units, n_places, oop))[0] for _ in range(max(3, repeats))]
        ov = [timed(lambda: K.aggregate(empty, n_units, n_places, oop))[0] for _ in range(max(3, repeats))]
        rows.append(
            {
                "threads": t,
                "median_s": median(ts),
                "ns_per_household": median(ts) / n * 1e9,
                "alloc_and_reduce_overhead_s": median(ov),
            }
        )
    return rows


def _bench_markets(model) -> dict:
    """The monthly behaviour/conditions update (small arrays by place; independent of the number of households)."""
    from sim.places import month_calendar

    year = month_calendar(model.month)[0]
    tb = [timed(lambda: model._behaviour(year))[0] for _ in range(20)]
    tc = [timed(lambda: model._conditions(year))[0] for _ in range(20)]
    return {
        "behaviour_s": median(tb),
        "conditions_s": median(tc),
        "total_s_per_month": median(tb) + median(tc),
    }


def _bench_step_split(scale: float, model, n: int, threads: list[int], split_months: int) -> dict:
    """The real monthly step of the model with `n` households, instrumented (mutates the model: run it last)."""
    with StepInstrument(model) as ins:
        sp = dict(ins.run_months(split_months), threads=max(threads))
    sp["household_steps_per_s_full_step"] = n / sp["total_s_per_month"]
    log(
        f"scale {scale}: model.step() {sp['total_s_per_month']:.3f} s/month "
        f"(step_all {sp['step_all_s_per_month']:.3f}, counts update {sp['counts_s_per_month']:.4f})"
    )
    return sp


def bench_scale(
    scale: float, threads: list[int], months: int, repeats: int, split_months: int, seed: int, breakdown: bool
) -> dict:
    from sim.model import ShanxiModel

    log(f"scale {scale}: building the model")
    numba.set_num_threads(max(threads))
    gc.collect()
    t_setup, _, model = timed(lambda: ShanxiModel(scale=scale, rng=seed))
    h = model.households
    n = int(h.n)
    res = {
        "scale": scale,
        "households": n,
        "setup_s": t_setup,
        "rss_after_setup_mb": rss_mb(),
        "kernel": [],
        "aggregate": [],
        "markets": {},
        "step_split": None,
        "kernel_breakdown": None,
    }
    log(f"scale {scale}: {n} households, setup {t_setup:.1f} s")
    snap = h.copy()
    res["kernel"], res["identical_across_threads"] = _bench_kernel(scale, model, snap, threads, months, repeats)
    if breakdown:
        res["kernel_breakdown"] = _bench_kernel_breakdown(model, snap, threads, months, repeats)
    _restore(h, snap)
    res["aggregate"] = _bench_aggregate(model, threads, repeats)
    res["markets"] = _bench_markets(model)
    _restore(h, snap)
    numba.set_num_threads(max(threads))
    if split_months > 0:
        res["step_split"] = _bench_step_split(scale, model, n, threads, split_months)
    model = h = snap = None  # release before the next measurement
    gc.collect()
    return res


# ----------------------------------------------------------------------------------- agent path
def bench_agents(scale: float, months: int, repeats: int, threads: list[int], seed: int) -> dict:
    from agents import Household
    from sim import kernel as K
    from sim.model import ShanxiModel

    numba.set_num_threads(max(threads))
    t_setup, _, model = timed(lambda: ShanxiModel(scale=scale, rng=seed, agent_stepping=True))
    n = int(model.households.n)
    n_agents = len(model.agents_by_type.get(Household, [])) if hasattr(model, "agents_by_type") else 0
    res = {"scale": scale, "households": n, "mesa_agents": n_agents, "setup_s": t_setup}
    if n_agents != n:
        res["error"] = f"{n} households but {n_agents} Mesa agents (population.max_agents too small?)"
        return res
    log(f"agent path: {n} Mesa households, stepping {months} months through Household.step()")
    with StepInstrument(model) as ins:
        split = ins.run_months(months)
    split["agent_step_s_per_month"] = split.pop("other_s_per_month")  # the residual is do("step") here
    res["model_step_split"] = split
    # the same month on the same state: Mesa agents vs the kernel (results must be identical). The arrays
    # are read after stepping: a January grows them (new households), so `model.households` is then a new
    # tuple, which the agents step and so must the kernel (and `_restore`).
    h = model.households
    n = int(h.n)
    n_agents = len(model.agents_by_type[Household])
    res["households_compared"], res["mesa_agents_compared"] = n, n_agents
    if n_agents != n:
        res["error"] = f"{n} households but {n_agents} Mesa agents after {months} months"
        return res
    snap = h.copy()
    aset = model.agents_by_type[Household]
    args = (model.static, model.month_behaviour, model.month_conditions, model.seed, model.month)
    agent_t, agent_c = [], []
    for _ in range(repeats):
        _restore(h, snap)
        w, cp, _ = timed(lambda: aset.do("step"))
        agent_t.append(w)
        agent_c.append(cp)
    after_agents = _digest(h)
    res["agent_s_per_month"] = median(agent_t)
    res["agent_us_per_household_step"] = median(agent_t) / n * 1e6
    res["agent_cpu_us_per_household_step"] = median(agent_c) / n * 1e6
    res["kernel"] = []
    same = True
    for t in threads:
        numba.set_num_threads(t)
        _restore(h, snap)
        K.step_all(h, *args)
        ts, cs = [], []
        for _ in range(max(repeats, 5)):
            _restore(h, snap)
            w, cp, _ = timed(lambda: K.step_all(h, *args))
            ts.append(w)
            cs.append(cp)
        same &= _digest(h) == after_agents
        res["kernel"].append(
            {
                "threads": t,
                "s_per_month": median(ts),
                "ns_per_household_step": median(ts) / n * 1e9,
                "cpu_ns_per_household_step": median(cs) / n * 1e9,
                "ratio_agent_over_kernel": median(agent_t) / median(ts),
                "ratio_agent_over_kernel_cpu_time": median(agent_c) / median(cs),
            }
        )
    res["identical_results"] = bool(same)
    res["ratio_agent_over_kernel_1thread"] = res["kernel"][0]["ratio_agent_over_kernel"]
    res["ratio_agent_over_kernel_1thread_cpu_time"] = res["kernel"][0]["ratio_agent_over_kernel_cpu_time"]
    model = aset = h = snap = None  # release before the next measurement
    gc.collect()
    return res


# ----------------------------------------------------------------------------------- child runs
def run_child(cmd: list[str], logf: Path, timeout: float, cwd: Path = ROOT, env: dict | None = None) -> dict:
    """Run `cmd` (console to `logf`), killed after `timeout` s: exit code, wall time and the child's
    resource use (ru_maxrss is the largest of the child and its waited-for descendants)."""
    with open(logf, "w") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT)
        killer = threading.Timer(timeout, p.kill)
        killer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    return {
        "exit_code": p.returncode,
        "wall_s": wall,
        "child_maxrss_mb": ru.ru_maxrss / 1024.0,
        "child_user_cpu_s": ru.ru_utime,
        "child_sys_cpu_s": ru.ru_stime,
    }


def _console_tail(logf: Path) -> str:
    return logf.read_text(errors="replace")[-3000:]


def manifest_figures(man: dict) -> dict:
    """The figures of a run's manifest.json the benchmark reports."""
    cfg = man.get("config") or {}
    return {
        "manifest_wall_s": man.get("wall_time_s"),
        "manifest_peak_rss_mb": man.get("peak_rss_mb"),
        "timings_s": man.get("timings_s"),
        "households_simulated": man.get("households_simulated"),
        "months": man.get("months"),
        "scale": (cfg.get("population") or {}).get("scale"),
        "threads": (cfg.get("run") or {}).get("threads"),
    }


def numba_index_files(folder) -> int:
    """Numba cache index files (*.nbi, one per cached function) under `folder`: more after a run = it compiled."""
    return sum(1 for _ in Path(folder).rglob("*.nbi")) if folder and Path(folder).is_dir() else 0


def cores_available() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ----------------------------------------------------------------------------------- full province
def bench_full_province(timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-province-") as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "sim", f"hydra.run.dir={run_dir}"]
        shown = "python -m sim hydra.run.dir=<tmp>"
        log(f"full province: {shown} (this takes a while)")
        logf = Path(tmp) / "console.log"
        cache = numba.config.CACHE_DIR  # this checkout's cache folder (sim/__init__.py), filled by the sections before
        cached_before = numba_index_files(cache)
        out = {"command": shown, **run_child(cmd, logf, timeout)}
        # warm: the run found every compiled function in the cache (it added none)
        out["numba_cache_warm"] = numba_index_files(cache) == cached_before
        man_path = run_dir / "manifest.json"
        if out["exit_code"] != 0 or not man_path.exists():
            out["error"] = "run failed or left no manifest"
            out["console_tail"] = _console_tail(logf)
            return out
        out.update(manifest_figures(json.loads(man_path.read_text())))
        cpu = out["child_user_cpu_s"] + out["child_sys_cpu_s"]
        out["child_cpu_utilisation"] = cpu / (out["wall_s"] * cores_available())
        out["wall_lower_bound_if_uncontended_s"] = cpu / cores_available()  # all cores busy the whole run
        out["peak_rss_mb"] = max(x for x in (out["child_maxrss_mb"], out["manifest_peak_rss_mb"]) if x is not None)
        return out


# ----------------------------------------------------------------------------------- ensemble
def _sweep_command(sweep_dir: Path, seeds: list[int], scale: float) -> list[str]:
    """The arguments of a local Hydra multirun of the baseline over `seeds` (README, section Running on a
    cluster): the joblib launcher, as many jobs at once as there are CPUs, one numba thread each."""
    return [
        "-m",
        f"seed={','.join(str(x) for x in seeds)}",
        f"population.scale={scale:g}",
        "hydra/launcher=joblib",
        "run.threads=1",
        f"hydra.sweep.dir={sweep_dir}",
    ]


def bench_ensemble(seeds: list[int], scale: float, timeout: float) -> dict:
    """Runs per hour of a real Hydra multirun on the joblib launcher (each job a full `python -m sim` run)."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        sweep_dir = Path(tmp) / "sweep"
        args = _sweep_command(sweep_dir, seeds, scale)
        shown = "python -m sim " + shlex.join(args[:-1]) + " hydra.sweep.dir=<tmp>"
        log(f"ensemble: {shown}")
        logf = Path(tmp) / "console.log"
        cache = numba.config.CACHE_DIR
        cached_before = numba_index_files(cache)
        out = {"command": shown, "scale": scale, "seeds": seeds, "jobs": len(seeds), "parallel_jobs": cores_available()}
        out.update(run_child([sys.executable, "-m", "sim", *args], logf, timeout))
        out["numba_cache_warm"] = numba_index_files(cache) == cached_before
        launch = [ln for ln in logf.read_text(errors="replace").splitlines() if "Joblib.Parallel" in ln]
        out["launcher_log"] = launch[0].split("] - ")[-1] if launch else None  # Hydra's joblib launcher line
        jobs = [manifest_figures(json.loads(p.read_text())) for p in sorted(sweep_dir.glob("*/manifest.json"))]
        out["completed"] = len(jobs)
        if out["exit_code"] != 0 or not jobs:
            out["error"] = "sweep failed or left no manifest"
            out["console_tail"] = _console_tail(logf)
            return out
        out["runs_per_hour"] = 3600.0 * len(jobs) / out["wall_s"]
        out["job_manifest_wall_s"] = [j["manifest_wall_s"] for j in jobs]
        out["job_peak_rss_mb"] = max(j["manifest_peak_rss_mb"] or 0 for j in jobs)
        out["households_per_job"] = jobs[0]["households_simulated"]
        return out


def _full_scale_throughput(fp: dict | None) -> dict | None:
    """Full-province runs per hour, one after the other on all cores, from the full-province section."""
    if not fp or fp.get("error"):
        return None
    return {
        "wall_s": fp["wall_s"],
        "runs_per_hour": 3600.0 / fp["wall_s"],
        "numba_cache_warm": fp.get("numba_cache_warm"),
        "source": "the full-province section's run (child process, all cores)",
    }


# ----------------------------------------------------------------------------------- cold start of a fresh clone
# `python -m sim` in the clone, printing first where `sim` was imported from (the venv has this checkout
# installed editable: the clone must come first on the path, and this line shows that it did)
CLONE_SIM_RUNNER = (
    "import runpy, sys, sim; "
    "print('bench: sim.__file__ =', sim.__file__, file=sys.stderr, flush=True); "
    "runpy.run_module('sim', run_name='__main__', alter_sys=True)"
)


def _git_clone(dest: Path) -> dict:
    """`git clone -q <this repository> dest`: the committed HEAD, without this checkout's uncommitted changes."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
    t0 = time.perf_counter()
    r = subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], capture_output=True, text=True, env=env)
    out = {"clone_source": str(ROOT), "clone_path": str(dest), "clone_s": time.perf_counter() - t0}
    if r.returncode != 0:
        out["error"] = f"git clone failed: {r.stderr[-2000:]}"
        return out
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True, env=env)
    out["clone_commit"] = head.stdout.strip() or None
    return out


def _in_clone(path: str | None, clone: Path) -> bool:
    return bool(path) and Path(path).resolve().is_relative_to(clone.resolve())


def _clone_first_on_path(clone: Path) -> dict:
    """PYTHONPATH with the clone first: its `sim` is found before the editable install of this checkout."""
    return {"PYTHONPATH": os.pathsep.join(x for x in (str(clone), os.environ.get("PYTHONPATH")) if x)}


def _cold_first_run(clone: Path, tmp: Path, scale: float, timeout: float) -> dict:
    """The clone's first `python -m sim` run, its numba cache an empty folder: every function compiled."""
    cache, run_dir, logf = tmp / "numba-cache-cold", tmp / "run", tmp / "cold-run.log"
    cache.mkdir()
    overrides = [] if scale == 1.0 else [f"population.scale={scale:g}"]
    cmd = [sys.executable, "-c", CLONE_SIM_RUNNER, *overrides, f"hydra.run.dir={run_dir}"]
    out = {
        "command": "python -m sim " + " ".join([*overrides, "hydra.run.dir=<tmp>"]),
        "runner": f'python -c "{CLONE_SIM_RUNNER}"',  # the code holds no double quote
        "numba_cache_dir": str(cache),
        "numba_index_files_before": numba_index_files(cache),
    }
    log(f"cold start: {out['command']} in the clone {clone}, empty NUMBA_CACHE_DIR")
    env = dict(os.environ, **_clone_first_on_path(clone), NUMBA_CACHE_DIR=str(cache))
    out.update(run_child(cmd, logf, timeout, cwd=clone, env=env))
    out["numba_index_files_after"] = numba_index_files(cache)
    console = logf.read_text(errors="replace")
    marks = [ln.split("=", 1)[1].strip() for ln in console.splitlines() if ln.startswith("bench: sim.__file__ =")]
    out["sim_file"] = marks[0] if marks else None
    out["runs_clone_code"] = _in_clone(out["sim_file"], clone)
    man_path = run_dir / "manifest.json"
    if out["exit_code"] != 0 or not man_path.exists():
        out["error"] = "run failed or left no manifest"
        out["console_tail"] = console[-3000:]
    elif not out["runs_clone_code"]:
        out["error"] = f"the run imported sim from {out['sim_file']}, not from the clone"
    else:
        out.update(manifest_figures(json.loads(man_path.read_text())))
    return out


def _clone_compile(clone: Path, probe_scale: float, timeout: float) -> dict:
    """This checkout's compile probe run on the clone's code (cold, then warm), its own empty cache folder."""
    probe = (str(ROOT / "benchmarks" / "compile_probe.py"),)  # by path: sim is then imported from PYTHONPATH
    cp = bench_compile(probe_scale, timeout, cwd=clone, env_extra=_clone_first_on_path(clone), probe=probe)
    cold = cp.get("cold") or {}
    kernels = cold.get("kernels") or {}
    cp["runs_clone_code"] = _in_clone(cold.get("sim_file"), clone)
    cp["total_compile_s"] = cold.get("total_compile_s")
    # what a projection compiles: aggregate and step_all (step_household alone is the Mesa agent path)
    run_kernels = [kernels.get(k, {}).get("compile_s") for k in ("aggregate", "step_all")]
    cp["run_kernels_compile_s"] = sum(run_kernels) if all(x is not None for x in run_kernels) else None
    warm = cp.get("warm") or {}
    if cold.get("process_wall_s") and warm.get("process_wall_s") and not (cold.get("error") or warm.get("error")):
        cp["probe_cold_minus_warm_s"] = cold["process_wall_s"] - warm["process_wall_s"]
    return cp


def bench_cold_start(scale: float, probe_scale: float, timeout: float) -> dict:
    """A fresh clone's first `python -m sim` run (wall time, everything compiled), and its compile time apart."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as tmp:
        tmp = Path(tmp)
        clone = tmp / "clone"
        out = {"scale": scale, **_git_clone(clone)}
        if out.get("error"):
            return out
        out["first_run"] = _cold_first_run(clone, tmp, scale, timeout)
        log(f"cold start: compile probe in the clone (scale {probe_scale})")
        out["compile"] = _clone_compile(clone, probe_scale, timeout)
        return out


def _floor_verdict(ratio: float) -> str:
    if ratio > 3:
        return "arithmetic / latency bound (far above the streaming floor)"
    return "memory-bandwidth bound" if ratio < 1.5 else "mixed"


def _memory(scales: list[dict], bw: dict) -> dict:
    """State size per household and the memory-streaming floor of the kernel at the largest scale."""
    from sim.state import BYTES_PER_HOUSEHOLD, BYTES_STREAMED_PER_HOUSEHOLD

    mem = {
        "bytes_per_household": int(BYTES_PER_HOUSEHOLD),
        "bytes_streamed_per_household_step": 2 * int(BYTES_STREAMED_PER_HOUSEHOLD),
        "assumption": (
            f"the kernel reads and writes back the {BYTES_STREAMED_PER_HOUSEHOLD} bytes of each row's monthly fields "
            "once per month (sim.state.STREAMED; the family link's fields are read only for the linked "
            "households that reconsider)"
        ),
        "floor": [],
    }
    largest = max(scales, key=lambda r: r["households"]) if scales else None
    if not (largest and bw):
        return mem
    for row in largest["kernel"]:
        t = str(row["threads"])
        gbs = bw["numba_inplace_update_gbs"].get(t) or bw["numba_copy_gbs"].get(t)
        if not gbs:
            continue
        floor_ns = mem["bytes_streamed_per_household_step"] / gbs  # bytes / (GB/s) = ns
        ratio = row["ns_per_household_step"] / floor_ns
        mem["floor"].append(
            {
                "scale": largest["scale"],
                "threads": row["threads"],
                "bandwidth_gbs": gbs,
                "floor_ns_per_household_step": floor_ns,
                "floor_s_per_month": floor_ns * largest["households"] / 1e9,
                "kernel_ns_per_household_step": row["ns_per_household_step"],
                "kernel_over_floor": ratio,
                "verdict": _floor_verdict(ratio),
            }
        )
    return mem


def _linearity(small: dict, big: dict) -> list[dict]:
    """Kernel time of the largest scale against the next, per thread count measured at both."""
    rows = []
    for rb in big["kernel"]:
        rs = next((r for r in small["kernel"] if r["threads"] == rb["threads"]), None)
        if rs:
            rows.append(
                {
                    "threads": rb["threads"],
                    "from_scale": small["scale"],
                    "to_scale": big["scale"],
                    "households_ratio": big["households"] / small["households"],
                    "time_ratio": (rb["median_s_per_month"] / rs["median_s_per_month"]),
                    "per_household_time_ratio": rb["ns_per_household_step"] / rs["ns_per_household_step"],
                    "per_household_cpu_time_ratio": (rb["cpu_ns_per_household_step"] / rs["cpu_ns_per_household_step"]),
                }
            )
    return rows


def _speedup(r: dict) -> dict | None:
    """2-thread against 1-thread kernel speed-up at one scale (None without both thread counts)."""
    k = {row["threads"]: row for row in r["kernel"]}
    if not (1 in k and 2 in k):
        return None
    return {
        "scale": r["scale"],
        "households": r["households"],
        "speedup_2_over_1": k[1]["median_s_per_month"] / k[2]["median_s_per_month"],
        "speedup_2_over_1_best_repeats": (k[1]["best_repeat_s_per_month"] / k[2]["best_repeat_s_per_month"]),
        "cpu_utilisation_2_threads": k[2]["cpu_utilisation"],
        "speedup_estimate_if_uncontended": 2 * k[1]["cpu_ns_per_household_step"] / k[2]["cpu_ns_per_household_step"],
    }


def _scaling(scales: list[dict]) -> dict:
    sc = {"linearity": [], "speedup": []}
    by_scale = sorted(scales, key=lambda r: r["households"])
    if len(by_scale) >= 2:
        small, big = by_scale[-2], by_scale[-1]
        sc["linearity"] = _linearity(small, big)
        if small.get("step_split") and big.get("step_split"):
            a, b = small["step_split"], big["step_split"]
            sc["full_step_per_household_time_ratio"] = (b["total_s_per_month"] / big["households"]) / (
                a["total_s_per_month"] / small["households"]
            )
    sc["speedup"] = [x for x in (_speedup(r) for r in by_scale) if x]
    return sc


def _province_floor(fp: dict | None, bw: dict, mem: dict) -> dict | None:
    """The full-province run against its floor: one pass over the whole household state (read + write back)
    per month at the measured streaming bandwidth (the full run's thread count: all cores, the largest
    measured), times its months."""
    if not fp or fp.get("error") or not bw or not fp.get("households_simulated"):
        return None
    gbs_by = {int(t): v for t, v in (bw.get("numba_inplace_update_gbs") or bw.get("numba_copy_gbs") or {}).items()}
    if not gbs_by:
        return None
    threads = max(gbs_by)
    bytes_per_pass = fp["households_simulated"] * mem["bytes_streamed_per_household_step"]
    pass_s = bytes_per_pass / (gbs_by[threads] * 1e9)
    floor_s = pass_s * fp["months"]
    stepping = (fp.get("timings_s") or {}).get("stepping")
    return {
        "threads": threads,
        "bandwidth_gbs": gbs_by[threads],
        "households": fp["households_simulated"],
        "months": fp["months"],
        "bytes_per_pass": bytes_per_pass,
        "floor_pass_s": pass_s,
        "floor_run_s": floor_s,
        "wall_over_floor": fp["wall_s"] / floor_s,
        "stepping_over_floor": stepping / floor_s if stepping else None,
    }


def _target(text: str, key: str, value, ok) -> dict:
    """One row of the targets table; `met` is None when the value was not measured."""
    return {"target": text, "key": key, "value": value, "met": None if value is None else bool(ok(value))}


def _kernel_over_floor(mem: dict, threads: int) -> float | None:
    row = next((f for f in mem["floor"] if f["threads"] == threads), None)
    return row["kernel_over_floor"] if row else None


def _agent_ratio(ag: dict) -> float | None:
    """The lower of the wall-time and CPU-time ratios: CPU time is not inflated when other processes take the CPU."""
    ratios = [
        x for x in (ag.get("ratio_agent_over_kernel_1thread"), ag.get("ratio_agent_over_kernel_1thread_cpu_time")) if x
    ]
    return min(ratios) if ratios else None


def _cold_first_run_s(cs: dict | None) -> float | None:
    """The cold first run's wall time, when it was the full province on the clone's code."""
    if not cs or cs.get("scale") != 1.0:
        return None
    run = cs.get("first_run") or {}
    return None if run.get("error") or not run.get("runs_clone_code") else run.get("wall_s")


def _targets(results: dict, mem: dict, sc: dict) -> list[dict]:
    """The targets, in the order of `TARGETS`, with the measured value and whether it is met."""
    T = TARGETS
    fp = results.get("full_province") or {}
    pf = results.get("full_province_floor") or {}
    lin = [r["per_household_time_ratio"] for r in sc["linearity"]]
    lo, hi = T["linearity"]
    worst = max(lin, key=lambda x: abs(np.log(x))) if lin else None
    sp = sc["speedup"][-1]["speedup_2_over_1"] if sc["speedup"] else None
    return [
        _target(
            f"kernel <= {T['kernel_over_floor']:g}x its streaming-bandwidth floor (2 threads, largest scale)",
            "kernel_over_floor",
            _kernel_over_floor(mem, 2),
            lambda v: v <= T["kernel_over_floor"],
        ),
        _target(
            f"kernel >= {T['kernel_vs_agent_ratio']:g}x the Mesa agent path (same state, 1 thread; "
            "lower of wall- and CPU-time ratios)",
            "kernel_vs_agent_ratio",
            _agent_ratio(results.get("agent_path") or {}),
            lambda v: v >= T["kernel_vs_agent_ratio"],
        ),
        _target(
            f"full province wall time <= {T['full_province_over_floor']:g}x its {pf.get('months', 110)} floor passes "
            "(one read + write of all household state per month at the measured bandwidth)",
            "full_province_over_floor",
            pf.get("wall_over_floor"),
            lambda v: v <= T["full_province_over_floor"],
        ),
        _target(
            f"full province peak RSS <= {T['full_province_peak_rss_mb'] / 1024:g} GiB "
            f"({T['full_province_peak_rss_mb']:g} MiB)",
            "full_province_peak_rss_mb",
            None if fp.get("error") else fp.get("peak_rss_mb"),
            lambda v: v <= T["full_province_peak_rss_mb"],
        ),
        _target(
            f"2 threads >= {T['two_thread_speedup']:g}x 1 thread (kernel, largest scale)",
            "two_thread_speedup",
            sp,
            lambda v: v >= T["two_thread_speedup"],
        ),
        _target(
            f"cold first run <= {T['cold_first_run_s']:g} s (fresh clone, full province, including compilation)",
            "cold_first_run_s",
            _cold_first_run_s(results.get("cold_start")),
            lambda v: v <= T["cold_first_run_s"],
        ),
        _target(
            f"<= {T['bytes_per_household']} bytes of state per household",
            "bytes_per_household",
            mem["bytes_per_household"],
            lambda v: v <= T["bytes_per_household"],
        ),
        _target(
            f"near-linear in households (time per household at the largest scale / the next, within {lo}-{hi})",
            "linearity",
            worst,
            lambda v: lo <= v <= hi,
        ),
    ]


def _province_note(fp: dict, met: bool, scales: list[dict]) -> str:
    """Why the full-province wall time is what it is: measured under load, or bound by its CPU time."""
    if fp.get("child_cpu_utilisation", 1) < 0.8:
        return (
            f"measured under load (child used {100 * fp['child_cpu_utilisation']:.0f}% of the cores); "
            f"its CPU time alone bounds the wall time at >= {fp['wall_lower_bound_if_uncontended_s']:.0f} s "
            "on this machine even if uncontended"
        )
    if met:
        return ""
    brk = next((s_["kernel_breakdown"] for s_ in scales if s_.get("kernel_breakdown")), None)
    return (
        f"its CPU time alone bounds the wall time at >= {fp['wall_lower_bound_if_uncontended_s']:.1f} s "
        "with both cores busy"
        + (
            f"; the place choice takes {100 * brk['place_choice_share_of_kernel_time']:.0f}% of the "
            f"kernel's time (section Decision kernel)"
            if brk
            else ""
        )
    )


def _cold_start_note(cs: dict) -> str:
    run = cs.get("first_run") or {}
    if cs.get("error") or run.get("error"):
        return f"failed: {cs.get('error') or run.get('error')}"
    if cs.get("scale") != 1.0:
        return (
            f"measured at scale {cs['scale']:g} only (`--quick` or `--cold-scale`): {_f(run.get('wall_s'), 1)} s; "
            "the target is for the full province"
        )
    kc = (cs.get("compile") or {}).get("run_kernels_compile_s")
    return f"of which numba compilation of the kernels about {kc:.0f} s (compile probe in the clone)" if kc else ""


def _add_target_notes(tg: list[dict], results: dict, sc: dict) -> None:
    """A note next to each verdict measured under load or not at full scale, with the figures behind it."""
    by = {t["key"]: t for t in tg}
    for t in tg:
        t["note"] = ""
    scales = results.get("scales") or []
    fp, pf = results.get("full_province"), results.get("full_province_floor") or {}
    ag = results.get("agent_path") or {}
    one = _kernel_over_floor(results["memory"], 1)
    if one is not None:
        by["kernel_over_floor"]["note"] = f"1 thread: {one:.1f}x"
    if fp and not fp.get("error") and pf:
        parts = [f"wall {fp['wall_s']:.1f} s against {pf['floor_run_s']:.2f} s"]
        if pf.get("stepping_over_floor"):
            parts.append(f"stepping alone {pf['stepping_over_floor']:.1f}x")
        parts.append(_province_note(fp, by["full_province_over_floor"]["met"], scales))
        by["full_province_over_floor"]["note"] = "; ".join(p for p in parts if p)
    if ag.get("ratio_agent_over_kernel_1thread_cpu_time"):
        by["kernel_vs_agent_ratio"]["note"] = (
            f"by wall time {ag['ratio_agent_over_kernel_1thread']:.0f}x, "
            f"by CPU time {ag['ratio_agent_over_kernel_1thread_cpu_time']:.0f}x"
        )
    if results.get("cold_start"):
        by["cold_first_run_s"]["note"] = _cold_start_note(results["cold_start"])
    util = [k["cpu_utilisation"] for s_ in scales for k in s_["kernel"] if k.get("cpu_utilisation")]
    low = min(util) if util else None
    if low is not None and low < 0.8:
        if sc["speedup"]:
            by["two_thread_speedup"]["note"] = (
                f"measured under load (CPU utilisation down to {100 * low:.0f}%); estimate if the 2 cores were "
                f"free, from CPU time per household-step: {sc['speedup'][-1]['speedup_estimate_if_uncontended']:.2f}x"
            )
        cpu_lin = [r["per_household_cpu_time_ratio"] for r in sc["linearity"]]
        by["linearity"]["note"] = "measured under load; wall-time ratios are noisy" + (
            "; by CPU time per household-step: " + ", ".join(f"{x:.2f}" for x in cpu_lin) if cpu_lin else ""
        )


def derive(results: dict) -> None:
    """Add the derived figures to `results`: memory floor, the full province against its floor, full-scale
    runs per hour, scaling, and the targets with their verdicts."""
    scales = results.get("scales") or []
    bw = results.get("bandwidth") or {}
    results["memory"] = mem = _memory(scales, bw)
    fp = results.get("full_province")
    results["full_province_floor"] = _province_floor(fp, bw, mem)
    results["ensemble"] = dict(results.get("ensemble") or {}, full_scale=_full_scale_throughput(fp))
    results["scaling"] = sc = _scaling(scales)
    tg = _targets(results, mem, sc)
    _add_target_notes(tg, results, sc)
    results["targets"] = tg


# ----------------------------------------------------------------------------------- Markdown
def _f(x, nd=2, unit=""):
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    if isinstance(x, float):
        if abs(x) >= 1e6:
            return f"{x:,.0f}{unit}"
        if abs(x) >= 100:
            return f"{x:,.0f}{unit}"
        if abs(x) >= 1:
            return f"{x:.{nd}f}{unit}"
        return f"{x:.{max(nd, 3)}g}{unit}"
    return f"{x}{unit}"


def _ms(x):
    return "n/a" if x is None else f"{x * 1e3:.1f}"


def _table(header: list, rows: list[list]) -> list[str]:
    """The lines of a Markdown table (the project's one table writer)."""
    return markdown_table(header, rows).splitlines()


def _md_header(r: dict) -> list[str]:
    """Title and provenance: command, date, commit, machine, software, load, sources."""
    m = r["machine"]
    L = [
        "# Performance benchmark: Shanxi household model\n",
        "Generated by `benchmarks/run.py`; do not edit by hand (re-run `make bench`).\n",
        f"- **Command:** `{r['command']}`",
        f"- **Date:** {r['date']} (UTC), took {_f(r.get('benchmark_wall_s'), 0)} s",
        f"- **Git commit:** `{r.get('git_commit')}` (the working tree may hold uncommitted changes)",
        f"- **Machine:** {m['cpu_model']}, {m['logical_cpus']} logical CPUs "
        f"({m.get('physical_cores') or '?'} cores, {m['cpus_available']} available), {m['ram_gb']} GB RAM, "
        f"{m['platform']}",
        f"- **SIMD instruction sets** (/proc/cpuinfo flags): {' '.join(m.get('simd_flags') or []) or 'n/a'}; "
        f"LLVM (numba) compiles for `{m.get('llvm_host_cpu') or '?'}`",
        "- **Software:** "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; numba threading layer {r.get('numba_threading_layer', '?')}, max {m['numba_max_threads']} threads",
        f"- **Load average** (1/5/15 min) at start {r['load_average']['start']}, "
        f"at end {r['load_average'].get('end')}. "
        "Other processes running on the machine slow the timings; CPU utilisation below "
        "(process CPU time / (wall x threads)) well under 100% points to contention.",
    ]
    sections = {"start": r.get("other_load_at_start") or {}, **(r.get("section_load_average") or {})}
    busy = [f"{k}: {v.get('other_processes_cpu_percent', '?')}%" for k, v in sections.items() if isinstance(v, dict)]
    if busy:
        L.append(
            "- **CPU used by other processes** (0.5 s sample after each section, % of one CPU): " + "; ".join(busy)
        )
    changed = r.get("sources_changed_during_run")
    if changed:
        L.append(
            f"- **WARNING: model sources changed while the benchmark ran** ({', '.join(changed)}); "
            "sections measured before and after the change are not comparable. Re-run."
        )
    elif changed is not None:
        L.append(
            "- Model sources ("
            + ", ".join(f"`{k}` {v}" for k, v in r["sources_at_start"].items())
            + ") unchanged during the run."
        )
    if r.get("quick"):
        L.append(
            "- **Quick mode:** small scales only, no full-province run; the ensemble and the cold start at small "
            "scale (CI smoke run; figures are indicative)."
        )
    L.append("")
    return L


# how each target's measured value is shown: {key: (digits for `_f`, unit)}; other keys: `_f` defaults
_TARGET_FORMAT = {
    "kernel_over_floor": (1, "x"),
    "kernel_vs_agent_ratio": (2, "x"),
    "full_province_over_floor": (1, "x"),
    "full_province_peak_rss_mb": (0, " MiB"),
    "two_thread_speedup": (2, "x"),
    "cold_first_run_s": (1, " s"),
    "linearity": (3, ""),
}


def _md_targets(r: dict) -> list[str]:
    rows = []
    for t in r["targets"]:
        met = "not measured" if t["met"] is None else ("**met**" if t["met"] else "**not met**")
        v = t["value"]
        nd, unit = _TARGET_FORMAT.get(t["key"], (2, ""))
        vs = f"{_f(v, nd)}{unit}" if v is not None else "n/a"
        rows.append([t["target"], vs, met, t.get("note", "")])
    return ["## Targets\n", *_table(["target", "measured", "met?", "note"], rows), ""]


def _md_province_split(est: dict, months: int) -> list[str]:
    """The stepping split of the full-province run, estimated from the instrumented in-process run."""
    rows = [
        [k, _f(v, 3), _f(v * months, 1), f"{_f(100 * v / est['total_s_per_month'], 1)}%"]
        for k, v in est["parts_s_per_month"].items()
    ]
    return [
        f"Stepping split, estimated from the in-process instrumented run at scale "
        f"{est['from_scale']} ({est['from_months']} months, {est['threads']} threads) x {months} months:\n",
        *_table(["part", "s/month", "est. s over the run", "share"], rows),
        "",
    ]


def _md_province_floor_rows(pf: dict | None, fp: dict) -> list[list]:
    """The full-province run against its floor passes (rows of the full-province table)."""
    if not pf:
        return []
    return [
        [
            f"floor pass: {pf['households']:,} households x {pf['bytes_per_pass'] // pf['households']} bytes "
            f"read + written at {_f(pf['bandwidth_gbs'], 1)} GB/s ({pf['threads']} threads)",
            f"{_f(pf['floor_pass_s'], 4)} s",
        ],
        [f"{pf['months']} floor passes", f"{_f(pf['floor_run_s'], 2)} s"],
        ["wall time / floor passes", f"**{_f(pf['wall_over_floor'], 1)}x**"],
        ["stepping / floor passes", f"{_f(pf.get('stepping_over_floor'), 1)}x"],
    ]


def _md_full_province(r: dict) -> list[str]:
    fp = r.get("full_province")
    L = ["## Full province, baseline 2020-2029 (scale 1.0)\n"]
    if not fp:
        return [*L, "Not run (`--quick` or `--no-province`).\n"]
    if fp.get("error"):
        return [*L, f"Failed (exit {fp['exit_code']}): {fp['error']}\n\n```\n{fp.get('console_tail', '')}\n```\n"]
    ts = fp.get("timings_s") or {}
    L.append(
        f"`{fp['command']}` in a child process: {fp['households_simulated']:,} households, "
        f"{fp['months']} months, numba threads setting {fp.get('threads')} (0 = all cores).\n"
    )
    per_month = _f((ts.get("stepping") or 0) / max(fp["months"] or 1, 1), 2)
    rows = [
        ["wall time (outside, incl. interpreter start + imports)", f"{_f(fp['wall_s'], 1)} s"],
        ["manifest wall time", f"{_f(fp['manifest_wall_s'], 1)} s"],
        ["setup (population synthesis + model init)", f"{_f(ts.get('setup'), 1)} s"],
        [f"stepping ({fp['months']} months)", f"{_f(ts.get('stepping'), 1)} s ({per_month} s/month)"],
        ["output (tables, figure)", f"{_f(ts.get('output'), 1)} s"],
        [
            "peak RSS: manifest / child ru_maxrss",
            f"{_f(fp['manifest_peak_rss_mb'], 0)} / {_f(fp['child_maxrss_mb'], 0)} MiB",
        ],
        ["child CPU time user / sys", f"{_f(fp['child_user_cpu_s'], 1)} / {_f(fp['child_sys_cpu_s'], 1)} s"],
        [
            "child CPU utilisation (CPU time / (wall x cores))",
            f"{_f(100 * fp.get('child_cpu_utilisation', float('nan')), 0)}%",
        ],
        [
            "wall-time lower bound from CPU time (all cores busy)",
            f"{_f(fp.get('wall_lower_bound_if_uncontended_s'), 1)} s",
        ],
        ["numba cache warm (the run compiled nothing)", fp.get("numba_cache_warm", "n/a")],
        *_md_province_floor_rows(r.get("full_province_floor"), fp),
    ]
    L += [*_table(["measure", "value"], rows), ""]
    est = fp.get("stepping_split_estimate")
    if est:
        L += _md_province_split(est, fp["months"])
    return L


def _md_compile(r: dict) -> list[str]:
    cp = r.get("compile") or {}
    cold, warm = cp.get("cold") or {}, cp.get("warm") or {}
    rows = []
    for k in ("aggregate", "step_all", "step_household"):
        c = (cold.get("kernels") or {}).get(k, {})
        w = (warm.get("kernels") or {}).get(k, {})
        cpu = (
            f"{_f(c.get('first_call_cpu_s'), 2)} s" if c.get("first_call_cpu_s") is not None else "(inside model init)"
        )
        rows.append(
            [f"`{k}` first call - steady call", f"{_f(c.get('compile_s'), 2)} s", cpu, f"{_f(w.get('compile_s'), 3)} s"]
        )
    rows += [
        [
            "total compile / cache load",
            f"{_f(cold.get('total_compile_s'), 2)} s",
            "",
            f"{_f(warm.get('total_compile_s'), 3)} s",
        ],
        ["import sim.model", f"{_f(cold.get('import_s'), 2)} s", "", f"{_f(warm.get('import_s'), 2)} s"],
        [
            "whole probe process (wall / CPU)",
            f"{_f(cold.get('process_wall_s'), 1)} s",
            f"{_f(cold.get('process_cpu_s'), 1)} s",
            f"{_f(warm.get('process_wall_s'), 1)} s / {_f(warm.get('process_cpu_s'), 1)} s CPU",
        ],
    ]
    L = [
        "## Compile time (numba), reported apart from run times\n",
        f"Fresh child process `python -m benchmarks.compile_probe --scale {cp.get('probe_scale')}`, "
        "NUMBA_CACHE_DIR = an empty temporary folder (cold), then the same folder again (warm). "
        "compile = first call - steady call.\n",
        *_table(["", "cold", "cold, CPU time of the first call", "warm (cached)"], rows),
    ]
    for lab, d in (("cold", cold), ("warm", warm)):
        if d.get("error"):
            L.append(f"\n{lab} probe failed:\n```\n{d['error']}\n```")
    L.append("")
    return L


def _md_breakdown(s: dict) -> str:
    """Where the kernel's time goes at one scale (the diagnostic run of `bench_scale`)."""
    b = s["kernel_breakdown"]
    return (
        f"Where the kernel's time goes (scale {s['scale']:g}, {b['threads']} thread): "
        f"{_f(b['ns_per_household_step'], 1)} ns/household-step in all; "
        f"{_f(b.get('ns_per_household_step_screen_only'), 1)} ns for the screen alone (every household "
        f"quiet); {_f(b['ns_per_household_step_without_place_choice'], 1)} ns without any place choice. "
        f"{_f(100 * (b.get('full_rule_share') or float('nan')), 1)}% of households go past the screen "
        f"to the full rule in a month; the place choice (7-option logit) takes "
        f"{_f(100 * b['place_choice_share_of_kernel_time'], 0)}% of kernel time ({b['note']}).\n"
    )


def _md_kernel(r: dict) -> list[str]:
    scales = r.get("scales") or []
    header = [
        "scale",
        "households",
        "threads",
        "s/month",
        "household-steps/s",
        "ns/household-step",
        "best repeat: household-steps/s",
        "CPU utilisation",
        "CPU ns/household-step (all threads)",
    ]
    rows = [
        [
            f"{s['scale']:g}",
            f"{s['households']:,}",
            k["threads"],
            _f(k["median_s_per_month"], 3),
            f"{k['household_steps_per_s'] / 1e6:.2f} M",
            _f(k["ns_per_household_step"], 1),
            f"{k['best_household_steps_per_s'] / 1e6:.2f} M",
            f"{_f(100 * k['cpu_utilisation'], 0)}%",
            _f(k["cpu_ns_per_household_step"], 1),
        ]
        for s in scales
        for k in s["kernel"]
    ]
    L = [
        "## Decision kernel `kernels.step_all` alone\n",
        "Census state, that month's conditions held fixed, "
        f"{r['options']['months']} consecutive months per repeat, median of {r['options']['repeats']} repeats "
        "(markets excluded; the counts of households with an event are updated inside the kernel).\n",
        *_table(header, rows),
        "",
    ]
    L += [_md_breakdown(s) for s in scales if s.get("kernel_breakdown")]
    same = [s.get("identical_across_threads") for s in scales]
    L.append(f"Results identical across thread counts at every scale: {all(same) if same else 'n/a'}.\n")
    return L


def _md_aggregate(r: dict) -> list[str]:
    header = [
        "scale",
        "threads",
        "`aggregate` ms",
        "ns/household",
        "of which allocation + reduction ms",
        "markets (behaviour + conditions) ms",
    ]
    rows = [
        [
            f"{s['scale']:g}",
            a["threads"],
            _ms(a["median_s"]),
            _f(a["ns_per_household"], 1),
            _ms(a["alloc_and_reduce_overhead_s"]),
            _ms(s["markets"]["total_s_per_month"]),
        ]
        for s in r.get("scales") or []
        for a in s["aggregate"]
    ]
    return [
        "## Recount from scratch and markets\n",
        "`aggregate` counts every row (model set-up, and the tests that check the running counts); the monthly "
        "step does not call it: the kernel moves the households that had an event between the counts.\n",
        *_table(header, rows),
        "",
    ]


def _md_step_split(r: dict) -> list[str]:
    scales = r.get("scales") or []
    header = [
        "scale",
        "threads",
        "months",
        "total s/month",
        "step_all",
        "counts update",
        "behaviour",
        "conditions",
        "collect",
        "record",
        "other",
        "household-steps/s (whole step)",
    ]
    parts = ("step_all", "counts", "behaviour", "conditions", "collect", "record", "other")
    rows = [
        [
            f"{s['scale']:g}",
            p["threads"],
            p["months"],
            _f(p["total_s_per_month"], 3),
            *(f"{_ms(p[f'{part}_s_per_month'])} ms" for part in parts),
            f"{p['household_steps_per_s_full_step'] / 1e6:.2f} M",
        ]
        for s in scales
        if (p := s.get("step_split"))
    ]
    setup_rows = [
        [f"{s['scale']:g}", f"{s['households']:,}", f"{_f(s['setup_s'], 2)} s", f"{_f(s['rss_after_setup_mb'], 0)} MiB"]
        for s in scales
    ]
    return [
        "## `model.step()` split (instrumented in-process run)\n",
        "Wrappers time the model's calls; `other` is the rest of `model.step()` (flows, Python overhead).\n",
        *_table(header, rows),
        "",
        *_table(["scale", "households", "setup (synthesis + init) in-process", "RSS after setup"], setup_rows),
        "",
    ]


def _md_agent_path(r: dict) -> list[str]:
    L = ["## Mesa agent path vs kernel\n"]
    ag = r.get("agent_path") or {}
    if ag.get("error"):
        return [*L, f"Not measured: {ag['error']}\n"]
    if not ag:
        return L
    L.append(
        f"Scale {ag['scale']:g}: {ag.get('households_compared', ag['households']):,} households as Mesa `Household` "
        f"agents (after the months stepped); one month on the "
        f'same state through `AgentSet.do("step")` (each agent calls the compiled `step_household`) and through '
        f"`kernels.step_all`. Identical results: **{ag['identical_results']}**.\n"
    )
    header = [
        "path",
        "threads",
        "s/month",
        "per household-step",
        "CPU per household-step",
        "agent path / this",
        "(by CPU time)",
    ]
    rows = [
        [
            "Mesa agents `Household.step()`",
            1,
            _f(ag["agent_s_per_month"], 3),
            f"{_f(ag['agent_us_per_household_step'], 2)} us",
            f"{_f(ag.get('agent_cpu_us_per_household_step'), 2)} us",
            1,
            1,
        ]
    ]
    rows += [
        [
            "`kernels.step_all`",
            k["threads"],
            _f(k["s_per_month"], 4),
            f"{_f(k['ns_per_household_step'], 1)} ns",
            f"{_f(k.get('cpu_ns_per_household_step'), 1)} ns",
            f"{_f(k['ratio_agent_over_kernel'], 1)}x",
            f"{_f(k.get('ratio_agent_over_kernel_cpu_time'), 1)}x",
        ]
        for k in ag["kernel"]
    ]
    L += _table(header, rows)
    sp = ag.get("model_step_split") or {}
    if sp:
        L.append(
            f"\nWhole `model.step()` with agent stepping ({sp['months']} months): "
            f"{_f(sp['total_s_per_month'], 3)} s/month, of which agents {_f(sp['agent_step_s_per_month'], 3)} s, "
            f"counts update {_ms(sp['counts_s_per_month'])} ms."
        )
    L.append("")
    return L


def _md_memory(r: dict) -> list[str]:
    mem = r.get("memory") or {}
    bw = r.get("bandwidth") or {}
    L = [
        "## Memory: state size and the bandwidth floor\n",
        f"State: **{mem.get('bytes_per_household')} bytes per household** (`sim.state.BYTES_PER_HOUSEHOLD`); "
        f"a month streams {mem.get('bytes_streamed_per_household_step')} bytes per household "
        f"({mem.get('assumption')}).\n",
    ]
    if bw:
        L.append(
            f"Bandwidth ({bw['array_mb']} MiB arrays, GB/s = 1e9 B/s counting read + write): numpy copy "
            f"{_f(bw['numpy_copy_gbs'], 1)}; numba parallel copy "
            + ", ".join(f"{t} thr {_f(v, 1)}" for t, v in bw["numba_copy_gbs"].items())
            + "; numba in-place update "
            + ", ".join(f"{t} thr {_f(v, 1)}" for t, v in bw["numba_inplace_update_gbs"].items())
            + ".\n"
        )
    if mem.get("floor"):
        header = [
            "scale",
            "threads",
            "bandwidth GB/s",
            "floor ns/household-step",
            "floor s/month",
            "kernel ns/household-step",
            "kernel / floor",
            "verdict",
        ]
        rows = [
            [
                f"{f['scale']:g}",
                f["threads"],
                _f(f["bandwidth_gbs"], 1),
                _f(f["floor_ns_per_household_step"], 2),
                _f(f["floor_s_per_month"], 3),
                _f(f["kernel_ns_per_household_step"], 1),
                f"{_f(f['kernel_over_floor'], 0)}x",
                f["verdict"],
            ]
            for f in mem["floor"]
        ]
        L += _table(header, rows)
    L.append("")
    return L


def _md_linearity(sc: dict) -> list[str]:
    header = [
        "threads",
        "scales",
        "households ratio",
        "time ratio",
        "time per household ratio",
        "CPU time per household ratio",
    ]
    rows = [
        [
            x["threads"],
            f"{x['from_scale']:g} -> {x['to_scale']:g}",
            _f(x["households_ratio"], 2),
            _f(x["time_ratio"], 2),
            _f(x["per_household_time_ratio"], 3),
            _f(x.get("per_household_cpu_time_ratio"), 3),
        ]
        for x in sc["linearity"]
    ]
    L = _table(header, rows)
    if sc.get("full_step_per_household_time_ratio"):
        L.append(
            "\nWhole `model.step()` time per household, largest / next scale: "
            f"{_f(sc['full_step_per_household_time_ratio'], 3)}."
        )
    L.append("")
    return L


def _md_speedup(sc: dict) -> list[str]:
    header = [
        "scale",
        "households",
        "kernel speed-up 2 threads / 1 thread (medians)",
        "(best repeats)",
        "CPU utilisation at 2 threads",
        "estimate if uncontended (from CPU time)",
    ]
    rows = [
        [
            f"{x['scale']:g}",
            f"{x['households']:,}",
            f"{_f(x['speedup_2_over_1'], 2)}x",
            f"{_f(x['speedup_2_over_1_best_repeats'], 2)}x",
            f"{_f(100 * (x['cpu_utilisation_2_threads'] or float('nan')), 0)}%",
            f"{_f(x.get('speedup_estimate_if_uncontended'), 2)}x",
        ]
        for x in sc["speedup"]
    ]
    return [*_table(header, rows), ""]


def _md_scaling(r: dict) -> list[str]:
    sc = r.get("scaling") or {}
    L = ["## Scaling\n"]
    if sc.get("linearity"):
        L += _md_linearity(sc)
    if sc.get("speedup"):
        L += _md_speedup(sc)
    return L


def _md_ensemble(r: dict) -> list[str]:
    ens = r.get("ensemble") or {}
    full, sw = ens.get("full_scale"), ens.get("sweep")
    L = ["## Ensemble throughput\n"]
    if not (full or sw):
        return [*L, "Not run (`--no-ensemble` and no full-province run).\n"]
    header = ["ensemble", "scale", "runs", "wall time", "runs per hour", "how"]
    rows = []
    if full:
        rows.append(
            [
                "full scale, one run after the other",
                "1",
                1,
                f"{_f(full['wall_s'], 1)} s",
                f"**{_f(full['runs_per_hour'], 0)}**",
                f"{full['source']}; numba cache warm: {full.get('numba_cache_warm', 'n/a')}",
            ]
        )
    else:
        rows.append(["full scale", "1", "", "", "n/a", "no full-province run (`--quick` or `--no-province`)"])
    if sw and not sw.get("error"):
        rows.append(
            [
                "Hydra multirun, joblib launcher",
                f"{sw['scale']:g}",
                f"{sw['completed']} of {sw['jobs']}",
                f"{_f(sw['wall_s'], 1)} s",
                f"**{_f(sw['runs_per_hour'], 0)}**",
                f"`{sw['command']}`, {sw['parallel_jobs']} jobs at once",
            ]
        )
    L += [*_table(header, rows), ""]
    if sw and sw.get("error"):
        L.append(
            f"Sweep `{sw['command']}` failed (exit {sw['exit_code']}): {sw['error']}\n\n```\n"
            f"{sw.get('console_tail', '')}\n```\n"
        )
    elif sw:
        L.append(
            f"Sweep wall time from the launch of `python -m sim -m` to its exit (interpreter start, Hydra, "
            f"{sw['jobs']} jobs of {sw['households_per_job']:,} households each); the jobs' own manifest "
            f"wall times {', '.join(_f(x, 1) for x in sw['job_manifest_wall_s'])} s, peak RSS "
            f"{_f(sw['job_peak_rss_mb'], 0)} MiB per job; numba cache warm: {sw.get('numba_cache_warm')}.\n"
        )
    return L


def _md_cold_start_rows(cs: dict, r: dict) -> list[list]:
    run, cp = cs.get("first_run") or {}, cs.get("compile") or {}
    ts = run.get("timings_s") or {}
    fp = r.get("full_province") or {}
    rows = [
        ["`git clone -q`", f"{_f(cs['clone_s'], 2)} s"],
        [
            "**first run, wall** (interpreter start, imports, bytecode and numba compilation, run, output)",
            f"**{_f(run.get('wall_s'), 1)} s**",
        ],
        [
            "its manifest: setup / stepping / output",
            f"{_f(ts.get('setup'), 1)} / {_f(ts.get('stepping'), 1)} / {_f(ts.get('output'), 1)} s",
        ],
        ["its peak RSS (child ru_maxrss)", f"{_f(run.get('child_maxrss_mb'), 0)} MiB"],
        [
            "numba cache index files: before / after the run (compiled from scratch)",
            f"{run.get('numba_index_files_before')} / {run.get('numba_index_files_after')}",
        ],
        [
            "compile, kernels a run calls (`aggregate` + `step_all`, compile probe in the clone)",
            f"{_f(cp.get('run_kernels_compile_s'), 1)} s",
        ],
        [
            "compile, all three probed kernels (also `step_household`, the Mesa agent path)",
            f"{_f(cp.get('total_compile_s'), 1)} s",
        ],
        ["compile probe process, cold - warm wall", f"{_f(cp.get('probe_cold_minus_warm_s'), 1)} s"],
    ]
    if cs["scale"] == 1.0 and fp.get("wall_s") and run.get("wall_s"):
        rows.append(
            ["first run - warm full-province run (section Full province)", f"{_f(run['wall_s'] - fp['wall_s'], 1)} s"]
        )
    return rows


def _yes(x) -> str:
    return "n/a" if x is None else ("yes" if x else "no")


def _md_cold_start(r: dict) -> list[str]:
    cs = r.get("cold_start")
    L = ["## Cold start of a fresh clone\n"]
    if not cs:
        return [*L, "Not run (`--no-cold-start`).\n"]
    if cs.get("error"):
        return [*L, f"Failed: {cs['error']}\n"]
    run, cp = cs.get("first_run") or {}, cs.get("compile") or {}
    scale = "the full province" if cs["scale"] == 1.0 else f"**scale {cs['scale']:g}, not the full province**"
    L.append(
        f"`git clone -q {cs['clone_source']} {cs['clone_path']}` (commit `{cs.get('clone_commit')}`: the committed "
        f"code, without uncommitted changes of the checkout), then in a child process, with the clone first on "
        f"PYTHONPATH and NUMBA_CACHE_DIR an empty temporary folder, the clone's first `{run.get('command')}` "
        f"at {scale} (run as `{run.get('runner')}`, this venv's interpreter). It imported `sim` from "
        f"`{run.get('sim_file')}` (the clone's code: **{_yes(run.get('runs_clone_code'))}**). The compile time is "
        f"measured apart by `benchmarks/compile_probe.py` (scale {cp.get('probe_scale')}) on the clone's code "
        f"(`sim` from the clone: {_yes(cp.get('runs_clone_code'))}), in its own empty cache folder, cold then "
        "warm.\n"
    )
    if run.get("error"):
        tail = run.get("console_tail", "")
        L.append(f"First run failed (exit {run.get('exit_code')}): {run['error']}\n\n```\n{tail}\n```\n")
    L += [*_table(["measure", "value"], _md_cold_start_rows(cs, r)), ""]
    for lab in ("cold", "warm"):
        if (cp.get(lab) or {}).get("error"):
            L.append(f"Compile probe ({lab}) failed:\n```\n{cp[lab]['error']}\n```\n")
    return L


# the sections of RESULTS.md, in order: each returns its lines
_MD_SECTIONS = (
    _md_header,
    _md_targets,
    _md_full_province,
    _md_ensemble,
    _md_cold_start,
    _md_compile,
    _md_kernel,
    _md_aggregate,
    _md_step_split,
    _md_agent_path,
    _md_memory,
    _md_scaling,
)


def render_markdown(r: dict) -> str:
    return "\n".join(line for section in _MD_SECTIONS for line in section(r)) + "\n"


def write_results(results: dict, out: Path) -> None:
    atomic_write(out / "results.json", json.dumps(results, indent=2, default=_json_default) + "\n")
    atomic_write(out / "RESULTS.md", render_markdown(results))


# ----------------------------------------------------------------------------------- main
def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default=None, help="comma-separated population scales (default 0.01,0.1,1.0)")
    ap.add_argument("--threads", default="1,2", help="numba thread counts to compare (default 1,2)")
    ap.add_argument("--months", type=int, default=None, help="months per kernel repeat (default 4)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats, the median is reported (default 3)")
    ap.add_argument(
        "--split-months",
        type=int,
        default=None,
        help="months of the instrumented model.step() run per scale (default 12)",
    )
    ap.add_argument("--agent-scale", type=float, default=0.001, help="scale of the Mesa agent-path run")
    ap.add_argument("--agent-months", type=int, default=None, help="months stepped through Mesa agents (default 3)")
    ap.add_argument("--bandwidth-mb", type=int, default=None, help="array size of the bandwidth test (default 256)")
    ap.add_argument("--compile-scale", type=float, default=0.0005, help="scale of the compile probe model")
    ap.add_argument("--no-province", action="store_true", help="skip the full-province run")
    ap.add_argument("--no-compile", action="store_true", help="skip the compile probes")
    ap.add_argument("--province-timeout", type=float, default=3600.0)
    ap.add_argument("--ensemble-seeds", type=int, default=None, help="jobs of the joblib sweep (default 4)")
    ap.add_argument("--ensemble-scale", type=float, default=0.01, help="scale of the joblib sweep's runs")
    ap.add_argument("--no-ensemble", action="store_true", help="skip the joblib sweep")
    ap.add_argument("--cold-scale", type=float, default=None, help="scale of the fresh clone's first run (default 1.0)")
    ap.add_argument("--no-cold-start", action="store_true", help="skip the fresh clone's cold first run")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke run: scales 0.002,0.01, 2 months, 2 repeats, no full-province run, a 2-job sweep and "
        "the cold start at scale 0.01",
    )
    ap.add_argument(
        "--out", default=str(DEFAULT_OUT), help="folder for RESULTS.md and results.json (default benchmarks/)"
    )
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: recompute the target verdicts and rewrite RESULTS.md from <out>/results.json",
    )
    a = ap.parse_args(argv)
    q = a.quick
    a.scales = [float(x) for x in (a.scales or ("0.002,0.01" if q else "0.01,0.1,1.0")).split(",") if x.strip()]
    a.months = a.months or (2 if q else 4)
    a.repeats = a.repeats or (2 if q else 3)
    a.split_months = a.split_months if a.split_months is not None else (2 if q else 12)
    a.agent_months = a.agent_months or (2 if q else 3)
    a.bandwidth_mb = a.bandwidth_mb or (64 if q else 256)
    a.ensemble_seeds = a.ensemble_seeds or (2 if q else 4)
    a.cold_scale = a.cold_scale or (0.01 if q else 1.0)
    if q:
        a.no_province = True
    return a


def _new_results(args, argv, threads: list[int], skipped: list[int]) -> dict:
    """The results document before any measurement: command, provenance, machine, options."""
    argv_shown = sys.argv[1:] if argv is None else list(argv)
    return {
        "schema": SCHEMA,
        "command": "python -m benchmarks.run" + ("" if not argv_shown else " " + shlex.join(argv_shown)),
        "date": now_iso(),
        "git_commit": git_commit(),
        "sources_at_start": source_fingerprint(),
        "machine": machine_info(),
        "quick": bool(args.quick),
        "options": {
            "scales": args.scales,
            "threads": threads,
            "threads_skipped": skipped,
            "months": args.months,
            "repeats": args.repeats,
            "split_months": args.split_months,
            "agent_scale": args.agent_scale,
            "agent_months": args.agent_months,
            "bandwidth_mb": args.bandwidth_mb,
            "ensemble_seeds": args.ensemble_seeds,
            "ensemble_scale": args.ensemble_scale,
            "cold_scale": args.cold_scale,
            "seed": args.seed,
        },
        "targets_definition": TARGETS,
        "load_average": {"start": loadavg()},
        "other_load_at_start": other_cpu_load(),
        "section_load_average": {},
        "compile": None,
        "bandwidth": None,
        "agent_path": None,
        "scales": [],
        "full_province": None,
        "ensemble": None,
        "cold_start": None,
    }


def _checkpoint(results: dict, section: str, out: Path, t_start: float) -> None:
    """After a section: the load, whether the model sources changed, and the results so far written out."""
    results["section_load_average"][section] = {"loadavg": loadavg(), **other_cpu_load()}
    now = source_fingerprint()
    results["sources_changed_during_run"] = sorted(k for k, v in now.items() if v != results["sources_at_start"].get(k))
    results["benchmark_wall_s"] = time.perf_counter() - t_start
    results["load_average"]["end"] = loadavg()
    derive(results)
    write_results(results, out)


def _stepping_split_estimate(scales: list[dict], months: int | None) -> dict | None:
    """The full-province stepping split, estimated from the instrumented run at scale 1.0 (None without one)."""
    src = next((s for s in scales if s["scale"] == 1.0 and s.get("step_split")), None)
    if not src:
        return None
    sp = src["step_split"]
    parts = {
        "step_all (kernel, including the counts of households with an event)": sp["step_all_s_per_month"],
        "counts update (Counts.advanced_by)": sp["counts_s_per_month"],
        "markets (behaviour + conditions + advance_year)": sp["behaviour_s_per_month"]
        + sp["conditions_s_per_month"]
        + sp["advance_year_s_per_month"],
        "data collection + yearly record": sp["collect_s_per_month"] + sp["record_s_per_month"],
        "other": sp["other_s_per_month"],
    }
    return {
        "from_scale": 1.0,
        "from_months": sp["months"],
        "threads": sp["threads"],
        "parts_s_per_month": parts,
        "total_s_per_month": sp["total_s_per_month"],
        "estimated_stepping_s": sp["total_s_per_month"] * (months or 0),
    }


def _measure(args, results: dict, threads: list[int], checkpoint) -> None:
    """Every section in turn, each followed by `checkpoint(section)`."""
    log("memory bandwidth")
    results["bandwidth"] = bench_bandwidth(args.bandwidth_mb, threads)
    try:
        results["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        results["numba_threading_layer"] = None
    checkpoint("bandwidth")

    if not args.no_compile:
        log("numba compile time: cold and warm child processes")
        results["compile"] = bench_compile(args.compile_scale, timeout=1800)
        checkpoint("compile")

    log(f"Mesa agent path at scale {args.agent_scale}")
    results["agent_path"] = bench_agents(args.agent_scale, args.agent_months, args.repeats, threads, args.seed)
    checkpoint("agent_path")

    breakdown_scale = max([s for s in args.scales if s <= 0.1] or [min(args.scales)])
    for s in args.scales:
        results["scales"].append(
            bench_scale(
                s, threads, args.months, args.repeats, args.split_months, args.seed, breakdown=(s == breakdown_scale)
            )
        )
        checkpoint(f"scale_{s:g}")

    if not args.no_province:
        fp = bench_full_province(args.province_timeout)
        est = None if fp.get("error") else _stepping_split_estimate(results["scales"], fp.get("months"))
        if est:
            fp["stepping_split_estimate"] = est
        results["full_province"] = fp
        checkpoint("full_province")

    if not args.no_ensemble:
        seeds = list(range(1, args.ensemble_seeds + 1))
        results["ensemble"] = {"sweep": bench_ensemble(seeds, args.ensemble_scale, args.province_timeout)}
        checkpoint("ensemble")

    if not args.no_cold_start:
        results["cold_start"] = bench_cold_start(args.cold_scale, args.compile_scale, args.province_timeout)
        checkpoint("cold_start")


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    if args.render_only:
        results = json.loads((out / "results.json").read_text())
        derive(results)
        write_results(results, out)
        log(f"re-rendered {out / 'RESULTS.md'} from the measurements in {out / 'results.json'}")
        return results
    t_start = time.perf_counter()
    max_thr = numba.config.NUMBA_NUM_THREADS
    threads = sorted({int(t) for t in args.threads.split(",") if t.strip()})
    skipped = [t for t in threads if t > max_thr]
    threads = [t for t in threads if t <= max_thr] or [1]
    results = _new_results(args, argv, threads, skipped)
    log(f"machine: {results['machine']['cpu_model']}, {results['machine']['logical_cpus']} CPUs; load {loadavg()}")
    _measure(args, results, threads, lambda section: _checkpoint(results, section, out, t_start))

    results["load_average"]["end"] = loadavg()
    results["benchmark_wall_s"] = time.perf_counter() - t_start
    derive(results)
    write_results(results, out)
    log(f"wrote {out / 'RESULTS.md'} and {out / 'results.json'} in {results['benchmark_wall_s']:.0f} s")
    for t in results["targets"]:
        log(
            f"target {t['target']}: {t['value']} -> {'n/a' if t['met'] is None else ('met' if t['met'] else 'NOT met')}"
        )
    return results


if __name__ == "__main__":
    main()
