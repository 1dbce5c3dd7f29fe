"""Yearly public spending of each lever above the baseline policy, in yuan.

Every costed lever says in scenarios/levers.yaml what its unit cost multiplies:

    cost: {unit_cost_yuan: 1500, of: increase, per: 1.0, quantity: migrants, where: all, source: ...}

    spending at a place = unit_cost_yuan x (`of` of the lever) / `per` x `quantity` at the place, at the
                          `where` places only

`of`: how much of the lever is paid for (OF below); `per`: the amount of the lever that one unit cost
pays for one `quantity` (0.01 = one percentage point of a share, 100 = a percent lever in shares);
`quantity`: what it applies to that year (QUANTITIES below, people and households weighted to the
province); `where`: the places it applies to (WHERE below). A lever with quantity `province` is a
province-wide lump sum, charged to the province only. Costs are summed from places to cities and
the province by the model.
"""

import numpy as np

from sim.kernel import Counts
from sim.places import COUNTY_SEAT, PREFECTURE_CORE, TAIYUAN_CORE, VILLAGE

# what of a lever's value is paid for, in a year (value, baseline, last year's value)
OF = {
    "increase": "the lever above its baseline",
    "reduction": "the lever below its baseline (a reduction paid for)",
    "new": "the rise of the lever since last year (a one-off investment)",
    "new_above_baseline": "the rise of the lever since last year, above its baseline",
}
QUANTITIES = {  # name: what one unit is, for the docs
    "migrants": "non-hukou resident-year",
    "migrant_children": "non-hukou child-year",
    "migrant_workers": "non-hukou worker-year",
    "migrant_renters": "renting non-hukou household-year",
    "trainable": "rural-hukou worker household not yet trained",
    "settled": "migrant taking local hukou",
    "returnee_households": "rural-hukou household-year at its home county seat",
    "workers": "worker-year",
    "jobs": "job",
    "people": "resident-year",
    "households": "household",
    "people_share": "share of the `where` places' residents (a province total spread by population)",
    "city": "city (a count given per city, charged once)",
    "province": "province (a lump sum)",
}
WHERE = ("all", "urban", "county_seat", "village", "prefecture_core", "metro", "cluster_seats", "metro_centres")


def _amount(of: str, value, base, last) -> np.ndarray:
    value, base, last = (np.asarray(x, float) for x in (value, base, last))
    if of == "increase":
        return np.maximum(value - base, 0.0)
    if of == "reduction":
        return np.maximum(base - value, 0.0)
    if of == "new":
        return np.maximum(value - last, 0.0)
    if of == "new_above_baseline":
        return np.maximum(value - np.maximum(last, base), 0.0)
    raise ValueError(f"cost.of = {of!r}; allowed: {', '.join(OF)}")


def place_masks(tier: np.ndarray, in_metro: np.ndarray, cluster_seat: np.ndarray) -> dict[str, np.ndarray]:
    """The `where` places of the cost rules, as boolean masks over places."""
    return {
        "all": np.ones(len(tier), bool),
        "urban": tier < VILLAGE,
        "county_seat": tier == COUNTY_SEAT,
        "village": tier == VILLAGE,
        "prefecture_core": tier == PREFECTURE_CORE,
        "metro": np.asarray(in_metro),
        "cluster_seats": np.asarray(cluster_seat),
        "metro_centres": cluster_seat | (tier == TAIYUAN_CORE),
    }


def quantities(counts: Counts, flows: dict, eco, weight: float) -> dict[str, np.ndarray]:
    """Every quantity a unit cost can multiply, per place, for the province (weighted)."""
    c = counts
    return {
        "migrants": c.migrants * weight,
        "migrant_children": c.migrant_children * weight,
        "migrant_workers": c.migrant_workers * weight,
        "migrant_renters": c.migrant_renters * weight,
        "trainable": c.trainable * weight,
        "settled": flows["settled"] * weight,
        "returnee_households": c.returnee_households * weight,
        "workers": c.workers * weight,
        "jobs": eco.jobs * weight,
        "people": c.people_by_home_place.sum(axis=0).astype(float) * weight,
        "households": c.households * weight,
    }


def _city_total(per_city: np.ndarray, city: np.ndarray, places: np.ndarray) -> np.ndarray:
    """A count given per city (the same value at each of its places) charged once per city."""
    out = np.zeros(len(per_city))
    for c in np.unique(city[places]):
        m = places & (city == c)
        out[np.flatnonzero(m)[0]] = per_city[m].max()
    return out


def yearly_costs(
    levers: dict,
    policy: tuple[dict, dict],
    baseline: tuple[dict, dict],
    last: tuple[dict, dict],
    counts: Counts,
    flows: dict,
    eco,
    masks: dict,
    weight: float,
) -> tuple[dict, dict]:
    """(per-place costs {lever: yuan array}, province lump sums {lever: yuan}) of one year.

    `policy`, `baseline`, `last`: (place levers, province levers) of this year's scenario, the baseline
    policy and last year's scenario (Policy.at)."""
    q = quantities(counts, flows, eco, weight)
    n_places = len(q["people"])
    per_place, lump = {}, {}
    for name, spec in levers.items():
        cost = spec.get("cost")
        if not cost:
            continue
        table = 0 if name in policy[0] else 1
        amount = _amount(cost["of"], policy[table][name], baseline[table][name], last[table][name]) / cost["per"]
        unit = float(cost["unit_cost_yuan"])
        if cost["quantity"] == "province":
            lump[name] = float(amount) * unit
            continue
        where = masks[cost["where"]]
        amount = np.broadcast_to(amount, (n_places,))
        if cost["quantity"] == "city":
            applied = _city_total(amount, eco.city, where)
        elif cost["quantity"] == "people_share":
            applied = np.where(where, amount, 0.0) * q["people"] / max(q["people"][where].sum(), 1.0)
        else:
            applied = np.where(where, amount, 0.0) * q[cost["quantity"]]
        per_place[name] = applied * unit
    return per_place, lump
