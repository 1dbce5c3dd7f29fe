"""Child process of `benchmarks.run`: time the first calls of the compiled kernels.

Run with NUMBA_CACHE_DIR pointing at an empty folder for a cold compile, and again with the same
folder for a warm (cached) start. Prints one JSON object on stdout:

    sim_file            where `sim` was imported from (the checkout or clone the probe ran on)
    import_s            importing sim.model (and so sim.kernel)
    model_init_s        ShanxiModel(scale=...) construction, which makes the first `aggregate` call
    first_call_s / steady_call_s / compile_s per kernel:
        aggregate       sim.kernel.aggregate (wraps the parallel `_aggregate`)
        step_all        sim.kernel.step_all (parallel; compiles `step_household` and callees)
        step_household  one call from Python (the Mesa agent path)
    compile_s = first_call_s - steady_call_s (compile, or loading from the cache when warm)
"""

import argparse
import json
import os
import sys
import time


def main() -> None:
    # One straight timeline on purpose: each phase (imports, model set-up, first and steady calls of every
    # kernel) is timed from the previous one's end in this one process, so splitting it would split the clock.
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.0005)
    args = ap.parse_args()
    t_start = time.perf_counter()
    c_start = time.process_time()
    t0 = time.perf_counter()
    import sim
    from sim import kernel as K
    from sim.model import ShanxiModel

    t_import = time.perf_counter() - t0

    calls: dict[str, list[float]] = {"aggregate": []}
    real_aggregate = K.aggregate

    def timed_aggregate(*a, **kw):
        t = time.perf_counter()
        out = real_aggregate(*a, **kw)
        calls["aggregate"].append(time.perf_counter() - t)
        return out

    K.aggregate = timed_aggregate
    try:
        t0 = time.perf_counter()
        m = ShanxiModel(scale=args.scale, rng=42)
        t_init = time.perf_counter() - t0
    finally:
        K.aggregate = real_aggregate

    def agg():
        return K.aggregate(m.households, len(m.geo.unit_name_en), m.geo.n_places, m.static.oop)

    def step_all():
        K.step_all(m.households, m.static, m.month_behaviour, m.month_conditions, m.seed, m.month)

    def step_one():
        K.step_household(
            0,
            m.households,
            m.static,
            m.month_behaviour,
            m.month_conditions,
            m.seed,
            m.month,
            K.zero_counts(len(m.geo.unit_name_en), m.geo.n_places),
        )

    out = {
        "scale": args.scale,
        "households": int(m.households.n),
        "sim_file": sim.__file__,
        "import_s": t_import,
        "model_init_s": t_init,
        "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "kernels": {},
    }
    first_agg = calls["aggregate"][0] if calls["aggregate"] else None
    for name, fn, first in (
        ("aggregate", agg, first_agg),
        ("step_all", step_all, None),
        ("step_household", step_one, None),
    ):
        first_cpu = None
        if first is None:
            c = time.process_time()
            t = time.perf_counter()
            fn()
            first = time.perf_counter() - t
            first_cpu = time.process_time() - c
        steady = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            steady.append(time.perf_counter() - t)
        steady_s = sorted(steady)[1]
        out["kernels"][name] = {
            "first_call_s": first,
            "first_call_cpu_s": first_cpu,
            "steady_call_s": steady_s,
            "compile_s": max(0.0, first - steady_s),
        }
    out["total_compile_s"] = sum(k["compile_s"] for k in out["kernels"].values())
    out["process_s"] = time.perf_counter() - t_start
    out["process_cpu_s"] = time.process_time() - c_start
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
