"""One household's story: chosen households followed month by month through every decision.

    python -m sim trace --households 12,345 --scale 0.001 --seed 42 --end-year 2022
    python -m sim trace --households 12 --scenario plan --out outputs/trace

Runs the model (the bulk kernel, exactly as `python -m sim` does) and, around every month, records for each
chosen household (a row of the household arrays, `--households`):

* its state before the month: place, hukou, members by age group, head's age, skill, employment, tenure,
  land rights, months at the place;
* its place choice as the month's conditions offer it: every option place with its logit probability
  (`sim.kernel.choice.choice_probabilities`, the function the kernel itself uses), and the month's draws
  (`sim.rng`: the event draw that picks whether anything happens, and the choice draw that picks the place
  if the household reconsiders);
* what happened (the month's event bits: moved, settled, birth, death, returned, dissolved, bought a home,
  left as a migrant) and its state after.

The trace only reads the model between months, so the traced run is the untraced run: the tool checks at
the end that every traced household's last recorded state is its row in the model, and (`--check`) that a
second, untraced run with the same config ends in the same rows, bit for bit.

Writes trace.csv (one row per household and month) and trace.md (the story in words) into --out.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from sim import state as S
from sim.config import compose, to_dict
from sim.kernel.choice import choice_probabilities
from sim.places import month_calendar
from sim.rng import S_CHOICE, event_uniform, uniforms
from sim.runs import outputs
from sim.runs.logs import quiet_libraries

log = logging.getLogger("sim.analysis.trace")
EVENTS = {
    S.EV_MOVED: "moved",
    S.EV_SETTLED: "took local hukou",
    S.EV_BIRTH: "a birth",
    S.EV_DEATH: "a death",
    S.EV_RETURNED: "returned home",
    S.EV_DISSOLVED: "dissolved",
    S.EV_BOUGHT: "bought a home",
    S.EV_LEFT_AS_MIGRANT: "left as a migrant",
}
FIELDS = list(S.DTYPES)


def events_of(bits: int) -> list[str]:
    return [name for bit, name in EVENTS.items() if bits & bit]


def state_of(h: S.Households, i: int) -> dict:
    return {f: int(getattr(h, f)[i]) for f in FIELDS}


def options_of(m, i: int) -> list[tuple[int, float]]:
    """The option places of household i and their choice probabilities under this month's conditions."""
    opts, prob = choice_probabilities(i, m.households, m.static, m.month_behaviour, m.month_conditions, m.seed)
    return [(int(d), float(p)) for d, p in zip(opts, prob) if d >= 0]


def trace(cfg: dict, households: list[int]) -> tuple[pd.DataFrame, object]:
    """Run the model of `cfg`, recording the chosen households around every month."""
    from sim.model import ShanxiModel

    m = ShanxiModel(config=cfg)
    bad = [i for i in households if not 0 <= i < m.households.n]
    if bad:
        raise ValueError(f"--households {bad}: rows run from 0 to {m.households.n - 1}")
    rows = []
    while m.running and m.month < m.n_months:
        month = m.month
        before = {i: state_of(m.households, i) for i in households}
        m.step()  # the month's behaviour and conditions are now set, as the kernel used them
        year, moy = month_calendar(month)
        for i in households:
            after, b = state_of(m.households, i), before[i]
            # the options as they stood at the start of the month: restore the row, ask, put it back
            now = {f: getattr(m.households, f)[i] for f in FIELDS}
            for f in FIELDS:
                getattr(m.households, f)[i] = b[f]
            alive = b["n_child"] + b["n_adult"] + b["n_old"] > 0
            opts = options_of(m, i) if alive else []
            for f in FIELDS:
                getattr(m.households, f)[i] = now[f]
            rows.append(
                {
                    "household": i,
                    "month": month,
                    "year": year,
                    "month_of_year": moy,
                    **{f"before.{k}": v for k, v in b.items()},
                    "event_draw": float(event_uniform(m.seed, i, month)),
                    "choice_draw": float(uniforms(m.seed, i, month, S_CHOICE)),
                    "options": "; ".join(f"{m.place_name(d)} {p:.3f}" for d, p in opts),
                    "events": ", ".join(events_of(after["event"])),
                    **{f"after.{k}": v for k, v in after.items()},
                }
            )
    table = pd.DataFrame(rows)
    for i in households:  # the last recorded state is the household's row in the model
        last = table[table.household == i].iloc[-1]
        if {f: int(last[f"after.{f}"]) for f in FIELDS} != state_of(m.households, i):
            raise AssertionError(f"household {i}: the trace's last state is not the model's row")
    return table, m


def story(table: pd.DataFrame, m) -> str:
    lines = ["# Household traces", ""]
    for i, g in table.groupby("household"):
        first = g.iloc[0]
        lines += [
            f"## Household {i}",
            "",
            f"Starts in {m.place_name(int(first['before.place']))} with hukou in "
            f"{m.place_name(int(first['before.hukou']))}: {int(first['before.n_child'])} children, "
            f"{int(first['before.n_adult'])} adults, {int(first['before.n_old'])} aged 60+, head aged "
            f"{int(first['before.head_age'])}, {S.SKILLS[int(first['before.skill'])]} skill.",
            "",
            "| month | place before | events | place after | hukou after | options (choice probability) "
            "| draws: event, choice |",
            "|---|---|---|---|---|---|---|",
        ]
        for _, r in g.iterrows():
            changed = r.events or r["before.place"] != r["after.place"] or r.month_of_year == 12
            if not changed:
                continue
            lines.append(
                f"| {int(r.year)}-{int(r.month_of_year):02d} | {m.place_name(int(r['before.place']))} | "
                f"{r.events or '-'} | {m.place_name(int(r['after.place']))} | "
                f"{m.place_name(int(r['after.hukou']))} | {r.options or '-'} | "
                f"{r.event_draw:.4f}, {r.choice_draw:.4f} |"
            )
        lines += ["", "(Months with no event are left out, except each December.)", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", default="0", help="comma-separated household rows")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--scale", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-year", type=int, default=2029)
    ap.add_argument("--check", action="store_true", help="also run untraced and compare the final rows")
    ap.add_argument("--out", type=Path, default=Path("outputs/trace"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    quiet_libraries()
    overrides = [f"scenario={args.scenario}", f"population.scale={args.scale}", f"seed={args.seed}",
                 f"run.end_year={args.end_year}", "run.progress=none"]  # fmt: skip
    cfg = to_dict(compose(overrides))
    households = [int(x) for x in args.households.split(",")]
    table, m = trace(cfg, households)
    if args.check:
        from sim.model import ShanxiModel

        plain = ShanxiModel(config=cfg)
        plain.run()
        for i in households:
            assert state_of(plain.households, i) == state_of(m.households, i), f"household {i} differs untraced"
        log.info("untraced run: the same final rows")
    args.out.mkdir(parents=True, exist_ok=True)
    outputs.write_text(args.out / "trace.csv", table.to_csv(index=False))
    text = story(table, m)
    outputs.write_text(args.out / "trace.md", text)
    print(text)


if __name__ == "__main__":
    main()
