"""Resource guard: refuse a run that would not fit in memory, before allocating anything large.

The memory a run needs grows linearly with the number of sampled households (measured with
`python -m sim run.end_year=2022` and `ShanxiModel` + 14 steps, peak RSS from getrusage):

    scale   households   peak RSS      regime
    0.002       34,404     308 MB      Mesa agents (households <= population.max_agents)
    0.01       172,256     386 MB      Mesa agents (full CLI run)
    0.012      206,726     311 MB      arrays only
    0.05       861,272     446 MB      arrays only (full CLI run)
    0.1      1,722,441     620 MB      arrays only (full CLI run)
    0.2      3,444,685     947 MB      arrays only (model built and stepped, no outputs)

A straight line through the array-only runs gives about 212-216 bytes per household (the 14
bytes of state then, sim.state.BYTES_PER_HOUSEHOLD, 24 since the family link, plus about 200 bytes of
synthesis temporaries: the int64/float64 per-household arrays of sim.world.population.synthesize) and about 270 MB fixed
(interpreter, numpy, numba's compiled kernels, Mesa, pandas, matplotlib). Building Mesa agents
costs up to about 80 MB more at 172k households (~500 bytes per agent). The estimate below
rounds these up: 300 MiB + 220 B per household (+ 500 B per agent), times a 10% margin. At
scale 1 (about 17.2 million units: 12.75M family households, 2.78M collective persons, Shanxi
people out of province and the in-migrant pool) that is about 4.5 GiB.
"""

from __future__ import annotations

from pathlib import Path

from sim import state as S

FIXED_BYTES = 300 * 2**20  # interpreter, libraries, compiled kernels, outputs
TEMP_BYTES_PER_HOUSEHOLD = 206  # synthesis temporaries per household (measured, see above)
BYTES_PER_HOUSEHOLD = S.BYTES_PER_HOUSEHOLD + TEMP_BYTES_PER_HOUSEHOLD
AGENT_BYTES = 500  # one Mesa Household view (when households <= max_agents)
MARGIN = 1.10


class MemoryGuardError(MemoryError):
    """A run would need more memory than is available."""


def expected_households(pop: dict, scale: float | None = None, geo=None) -> float:
    """Expected number of sampled households (family households + collective one-person units,
    Shanxi people out of province and the in-migrant pool) at `scale`, from the census cells,
    without sampling: the same cells and sizes as sim.world.population.synthesize (tests check it)."""
    from sim.world.population import build_cells, household_people, load_census

    if geo is None:
        from sim.world.geography import province_geography

        geo = province_geography()
    scale = float(pop["scale"] if scale is None else scale)
    census = load_census()
    fam, coll, size = household_people(build_cells(geo, census, pop), census, pop)
    return float((fam / size).sum() + coll.sum()) * scale


def estimate_bytes(n_households: float, agents: bool = False) -> int:
    """Peak memory of a run with this many households (bytes)."""
    per = BYTES_PER_HOUSEHOLD + (AGENT_BYTES if agents else 0)
    return int(MARGIN * (FIXED_BYTES + n_households * per))


def _cgroup_headroom() -> int | None:
    """Memory left under this process's cgroup limit (containers, Slurm), if there is one (v2 or v1)."""
    root = Path("/sys/fs/cgroup")
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hid, controllers, rel = (line.split(":", 2) + ["", ""])[:3]
        if hid == "0" and controllers == "":  # cgroup v2
            candidates = [
                (root / rel.lstrip("/"), "memory.max", "memory.current"),
                (root, "memory.max", "memory.current"),
            ]
        elif "memory" in controllers.split(","):  # cgroup v1
            mem = root / "memory"
            candidates = [
                (mem / rel.lstrip("/"), "memory.limit_in_bytes", "memory.usage_in_bytes"),
                (mem, "memory.limit_in_bytes", "memory.usage_in_bytes"),
            ]
        else:
            continue
        for base, limit_file, usage_file in candidates:
            try:
                limit = (base / limit_file).read_text().strip()
                usage = int((base / usage_file).read_text().strip())
            except (OSError, ValueError):
                continue
            if limit == "max" or int(limit) >= 2**60:
                return None
            return int(limit) - usage
    return None


def available_memory() -> int:
    """Bytes this process may still allocate: the system's available memory, or less under a cgroup limit."""
    import psutil

    avail = int(psutil.virtual_memory().available)
    head = _cgroup_headroom()
    return min(avail, head) if head is not None and head > 0 else avail


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB"


def check_memory(
    n_households_estimate: float, available: int | None = None, agents: bool = False, scale: float | None = None
) -> int:
    """Raise MemoryGuardError if a run of this many households would not fit; return the estimate (bytes)."""
    need = estimate_bytes(n_households_estimate, agents)
    avail = available_memory() if available is None else int(available)
    if need > avail:
        what = f"population.scale = {scale:g}: " if scale is not None else ""
        hint = ""
        if scale is not None and n_households_estimate > 0:
            per_unit_scale = n_households_estimate / scale
            fit = (avail / MARGIN - FIXED_BYTES) / (per_unit_scale * BYTES_PER_HOUSEHOLD)
            hint = (
                f"; lower population.scale (at most about {fit:.3g} fits)" if fit > 0 else "; not even a tiny run fits"
            )
        raise MemoryGuardError(
            f"{what}about {n_households_estimate:,.0f} households need an estimated {_gib(need)} "
            f"({BYTES_PER_HOUSEHOLD} B per household: {S.BYTES_PER_HOUSEHOLD} B state + {TEMP_BYTES_PER_HOUSEHOLD} B "
            f"synthesis temporaries{f' + {AGENT_BYTES} B Mesa agent' if agents else ''}, + "
            f"{FIXED_BYTES // 2**20} MiB fixed, + {round((MARGIN - 1) * 100)}% margin), but only {_gib(avail)} "
            f"is available{hint}, or run on a machine with more memory"
        )
    return need


def check_config_memory(cfg: dict, geo=None, available: int | None = None) -> int:
    """check_memory for a full config (households estimated from the census before any allocation)."""
    pop = cfg["population"]
    n = expected_households(pop, geo=geo)
    agents = n <= int(pop.get("max_agents", 0))
    return check_memory(n, available, agents=agents, scale=float(pop["scale"]))
