"""Each lever of a scenario alone against the baseline: what it adds to the resident and hukou rates.

    python -m sim lever-effects --scenario action1_citizenization --scale 0.01 --seeds 1,2
    python -m sim lever-effects --scenario plan --scale 0.01 --seeds 1,2,3 --out outputs/lever_effects

Every lever of the scenario runs alone at the scenario's own schedule, then the whole scenario, each
seed against the baseline of the same seed (common random numbers: a lever that changes nothing adds
exactly zero). The effects of the levers alone need not add up to the scenario's: levers interact.
Prints a markdown table (mean over seeds, and the seeds' standard deviation of the 2029 hukou effect);
with --out, writes lever_effects.csv and lever_effects.md there.
"""

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.compile import load_levers
from sim.config import compose, to_dict
from sim.reporting.tables import markdown_table, number
from sim.runs.logs import quiet_libraries
from sim.runs.outputs import write_text

log = logging.getLogger("sim.analysis.lever_effects")
YEARS = (2027, 2029)
RATES = {"resident": "resident_urbanization_rate_pct", "hukou": "hukou_urbanization_rate_pct"}


def _rates(scenario: str, levers: dict | None, scale: float, seed: int) -> dict:
    from sim.model import ShanxiModel

    cfg = to_dict(compose([f"population.scale={scale}", f"seed={seed}", f"scenario={scenario}"]))
    m = ShanxiModel(config=cfg, levers=levers)
    m.run()
    rows = pd.DataFrame(m.indicator_rows())
    prov = rows[rows.level == "province"].pivot(index="year", columns="indicator", values="value")
    return {(k, y): float(prov.loc[y, col]) for k, col in RATES.items() for y in YEARS}


def lever_effects(scenario: str, scale: float, seeds: list[int], only: list[str] | None = None) -> pd.DataFrame:
    """One row per lever of `scenario` (or of its levers in `only`), and one for the whole scenario: the mean
    effect over `seeds` on the resident and hukou rates of YEARS (pp), and the seeds' standard deviation of
    the last year's."""
    spec = to_dict(compose([f"scenario={scenario}"]))["scenario"]
    schedule = spec.get("levers") or {}
    if not schedule:
        raise ValueError(f"scenario {scenario!r} sets no levers")
    unknown = sorted(set(only or []) - set(schedule))
    if unknown:
        raise ValueError(
            f"--levers: {', '.join(unknown)} not set by scenario {scenario!r} (it sets {', '.join(schedule)})"
        )
    catalogue = load_levers()
    base = {s: _rates("baseline", None, scale, s) for s in seeds}
    rows = []
    for name in [*(only or schedule), None]:
        label = "the whole scenario" if name is None else catalogue[name]["label"]["en"]
        log.info("%s: %s", scenario, name or "all levers")
        effects = []
        for s in seeds:
            got = (
                _rates(scenario, None, scale, s)
                if name is None
                else _rates("baseline", {name: schedule[name]}, scale, s)
            )
            effects.append({k: got[k] - base[s][k] for k in got})
        row = {"lever": name or scenario, "clause": "" if name is None else catalogue[name]["clause"], "label": label}
        for k in RATES:
            for y in YEARS:
                row[f"{k}_{y}_pp"] = float(np.mean([e[(k, y)] for e in effects]))
        row[f"hukou_{YEARS[-1]}_sd_pp"] = float(np.std([e[("hukou", YEARS[-1])] for e in effects]))
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(df: pd.DataFrame, scenario: str, scale: float, seeds: list[int]) -> str:
    head = ["lever", "clause", "what", *[f"{k} {y}" for k in RATES for y in YEARS], f"sd hukou {YEARS[-1]}"]
    body = [
        [
            f"`{r.lever}`",
            r.clause,
            r.label,
            *[number(r[f"{k}_{y}_pp"], 2, sign=True) for k in RATES for y in YEARS],
            number(r[f"hukou_{YEARS[-1]}_sd_pp"], 2),
        ]
        for _, r in df.iterrows()
    ]
    note = (
        f"Effect of each lever of `{scenario}` alone on the province rates, pp against the baseline "
        f"(scale {scale:g}, mean over seeds {', '.join(map(str, seeds))}; sd: the seeds' standard deviation)."
    )
    return note + "\n\n" + markdown_table(head, body) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="action1_citizenization")
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seeds", default="1,2", help="comma-separated seeds")
    ap.add_argument("--levers", help="comma-separated levers of the scenario (default: all it sets)")
    ap.add_argument("--out", help="folder for lever_effects.csv and lever_effects.md")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    seeds = [int(s) for s in args.seeds.split(",")]
    only = args.levers.split(",") if args.levers else None
    df = lever_effects(args.scenario, args.scale, seeds, only)
    text = markdown(df, args.scenario, args.scale, seeds)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "lever_effects.csv", df.to_csv(index=False))
        write_text(out / "lever_effects.md", text)


if __name__ == "__main__":
    main()
