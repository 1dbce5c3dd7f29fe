"""One household's story: chosen households followed month by month through every decision.

    python -m sim trace --households 12,345 --scale 0.001 --seed 42 --end-year 2022
    python -m sim trace --households 12 --scenario plan --out outputs/trace

Runs the model (the bulk kernel, exactly as `python -m sim` does) and, around every month, records for each
chosen household (a row of the household arrays, `--households`):

* its state before the month: place, hukou, members by age group, head's age, skill, employment, tenure,
  land rights, months at the place;
* its place choice as the month's conditions offer it: every option place with its logit probability
  (`sim.kernel.choice.choice_probabilities`, the function the kernel itself uses), the utility of every
  option term by term (`utility_terms`: income, housing, school, services, insurance, network, place
  constant, land rights or age, staying or moving, return cost; checked against the kernel's probabilities
  by the tests), and the month's draws
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
import json
import logging
import math
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
    return {f: getattr(h, f)[i].item() for f in FIELDS}  # Python numbers: ints, and the remittance a float


def options_of(m, i: int) -> list[tuple[int, float]]:
    """The option places of household i and their choice probabilities under this month's conditions."""
    opts, prob = choice_probabilities(i, m.households, m.static, m.month_behaviour, m.month_conditions, m.seed)
    return [(int(d), float(p)) for d, p in zip(opts, prob) if d >= 0]


def utility_terms(m, i: int, displaced: bool = False) -> list[dict]:
    """Household i's utility of every option place, term by term, under this month's conditions: the terms of
    `sim.kernel.choice.fill_choice_weights` and `place_utility`, spelled out for reading (tests check that
    their sums give the kernel's own choice probabilities). For the options past the home county seat the
    place part (income, housing, school, services, insurance of a move that is not home) is the kernel's
    monthly table `Conditions.mover_utility`, one term. Each option also carries the kernel's own choice
    probability (`probability`)."""
    from sim.kernel.choice import family_terms, mover_column
    from sim.places import rural_place, urban_place

    h, st, bh, c = m.households, m.static, m.month_behaviour, m.month_conditions
    opts, prob = choice_probabilities(i, h, st, bh, c, m.seed)
    place, origin, hukou = int(h.place[i]), int(h.origin[i]), int(h.hukou[i])
    n_child, n_adult, age = int(h.n_child[i]), int(h.n_adult[i]), int(h.head_age[i])
    skill, flags, tenure = int(h.skill[i]), int(h.flags[i]), int(h.tenure[i])
    oop = int(st.oop)
    oop_hukou = hukou == oop
    net_row = st.place_unit.shape[0] // 2 if oop_hukou else origin
    earners = 2.0 if n_adult >= 2 else 1.0
    land_rights = bool(flags & S.CONTRACT_LAND) + bool(flags & S.HOMESTEAD)
    trained, contract_land, keeps_homestead = (
        bool(flags & S.TRAINED),
        bool(flags & S.CONTRACT_LAND),
        bool(flags & S.HOMESTEAD),
    )
    stay_income = 1.0 if flags & S.EMPLOYED else c.emp_prob[place] * bh.unemployed_income_factor
    stay_cost = 0.0 if tenure in (S.OWN, S.DORM) else (bh.public_rent_factor if tenure == S.PUBLIC_RENTAL else 1.0)
    age_cost = bh.beta_age * (age - 45) / 10.0 if age > 45 else 0.0
    home_village = -1 if oop_hukou else rural_place(origin)
    home_seat = urban_place(origin)
    has_children = n_child > 0
    metro_member = (not oop_hukou) and bool(st.place_in_metro[hukou])
    kin = family_terms(flags, h.kin_place[i], h.parent_row[i], h.remittance_in[i])  # the family link
    kin_place, remits, received = int(kin[0]), bool(kin[1]), float(kin[2])
    out = []
    for k, d in enumerate(int(x) for x in opts):
        if d < 0:
            continue
        local, urban, is_oop = hukou == d, bool(st.place_is_urban[d]), d == oop
        terms = {}
        with_kin = d == kin_place
        kept = 1.0 - bh.remittance_share * (remits and not with_kin)
        if k < 3 or received > 0.0:  # the household's own income, tenure, land, support, remittances (place_utility)
            here, at_home, at_home_seat = k == 0, d == home_village, d == home_seat
            wage = c.wage[d, skill] * (1.0 - c.wage_arrears[d] * (urban and not local))
            premium = bh.training_wage_uplift * (trained and (urban or is_oop))
            earned = wage * (earners + premium) * (stay_income if here else c.emp_prob[d]) * kept
            public = c.public_rental_share[d]
            mover_cost = (
                0.0
                if at_home and (keeps_homestead or local)
                else c.rent[d] * (1.0 - public * (1.0 - bh.public_rent_factor))
            )
            cost = max((c.rent[d] * stay_cost if here else mover_cost) - c.rent_subsidy[d] * (not local), 0.0)
            other = (
                bh.land_income_yuan_month * (at_home and contract_land)
                + bh.returnee_support * (at_home_seat and not local and not oop_hukou)
                + received
            )
            income = max(earned + other, 1.0)
            terms["income"] = bh.beta_income * math.log(income)
            terms["housing"] = -bh.beta_housing * cost / income
            access = c.permit_share[d]
            if metro_member and st.place_in_metro[d]:
                access = max(access, bh.metro_portability)
            if urban:
                school = 1.0 if local else c.school_access[d]
                services = c.service_level[d] * (1.0 if local else access)
                insurance = 1.0 if local else c.insurance_rate[d]
            elif is_oop:
                school, services, insurance = bh.oop_school_access, bh.oop_service_access, c.insurance_rate[d]
            else:
                school, services, insurance = bh.rural_service_level, bh.rural_service_level, bh.rural_insurance
            terms["school"] = bh.beta_school * school * has_children
            terms["services"] = bh.beta_services * services
            terms["insurance"] = bh.beta_insurance * insurance
        else:
            column = mover_column(skill, trained, n_adult >= 2, has_children, metro_member, remits and not with_kin)
            terms["place (tabulated)"] = c.mover_utility[d, column + local]
        terms["network"] = bh.beta_network * c.network[net_row, d]
        terms["place constant"] = c.asc_place[d]
        if with_kin:
            terms["family"] = bh.beta_family
        if k < 3 and d == home_village:
            terms["land rights"] = bh.beta_land * land_rights
        else:
            terms["age"] = -age_cost
        if k == 0:
            terms["staying"] = bh.asc_stay * (not displaced)
            terms["home county town"] = bh.stay_home_county_town * (urban and not oop_hukou and hukou // 2 == d // 2)
        else:
            terms["moving"] = -(bh.move_fixed_cost + bh.beta_distance * st.distance_term[place, d])
        if k == 1:
            terms["return cost"] = -bh.return_cost
        utility, probability = float(sum(terms.values())), float(prob[k])
        out.append({"option": k, "place": d, "terms": terms, "utility": utility, "probability": probability})
    return out


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
            terms = utility_terms(m, i) if alive else []  # with the kernel's own probabilities: one call
            opts = [(t["place"], t["probability"]) for t in terms]
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
                    "utility_terms": json.dumps(
                        [
                            {
                                "place": t["place"],
                                "utility": round(t["utility"], 4),
                                "terms": {k: round(float(v), 4) for k, v in t["terms"].items()},
                            }
                            for t in terms
                        ]
                    ),  # fmt: skip
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
        for _, r in g[g.events.str.contains("moved")].iterrows():
            options = {o["place"]: o for o in json.loads(r.utility_terms)}
            stay, went = options.get(int(r["before.place"])), options.get(int(r["after.place"]))
            lines.append(f"Utility terms in {int(r.year)}-{int(r.month_of_year):02d} (a move):")
            lines.append("")
            for label, o in (("staying", stay), (f"moving to {m.place_name(int(r['after.place']))}", went)):
                if o:
                    parts = ", ".join(f"{k} {v:+.3f}" for k, v in o["terms"].items() if v)
                    lines.append(f"- {label}: {o['utility']:+.3f} = {parts}")
            lines.append("")
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
