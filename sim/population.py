"""Synthetic households at the 2020 census (1 November 2020).

The census gives, for Shanxi, the resident population by county unit, the urban share (by the
rule in sim.geography), the hukou urbanization rate, the floating population and the part of it
from other provinces, the family households and their mean size, the collective population and
the age structure. From these the population is split into *kinds* of people:

  rural locals        rural hukou, living in their home village
  urban locals        urban hukou, living where their hukou is
  rural-hukou migrants   living in an urban part of Shanxi with hukou in a village (own county or another)
  urban-hukou migrants   living in another unit's urban part than their hukou
  other-province residents  hukou in another province, living in Shanxi
  Shanxi people out of province  Shanxi hukou, living in another province (not residents)
  in-migrant pool     other-province households outside Shanxi who may come (not residents)

The sizes of the migrant kinds are solved from the census totals (see `census_kinds`), so that the
hukou rate and the floating population come out as published. Origins of migrants follow a
gravity rule. Households are sampled at `scale` with stochastic rounding per cell, so every
published total is matched in expectation and rates are unbiased.
"""
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

from sim import state as S
from sim.geography import Geography

RURAL_LOCAL, URBAN_LOCAL, RURAL_MIGRANT, URBAN_MIGRANT, OTHER_PROVINCE, OUT_OF_PROVINCE, POOL = range(7)
KIND_NAMES = ("rural_local", "urban_local", "rural_hukou_migrant", "urban_hukou_migrant",
              "other_province_resident", "shanxi_out_of_province", "in_migrant_pool")


def load_census() -> dict:
    with resources.files("sim").joinpath("data/census_2020.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@dataclass(frozen=True)
class Cells:
    """People by (kind, place, hukou place, home unit) before sampling into households."""
    kind: np.ndarray
    place: np.ndarray
    hukou: np.ndarray
    origin: np.ndarray
    people: np.ndarray  # float64 persons


def census_kinds(census: dict, pop: dict) -> dict:
    """Province totals of each kind, solved from the census and the stated assumptions (persons)."""
    resident = census["resident_population"]
    urban = census["urban_population"]
    other_prov = census["from_other_provinces"]
    out_prov = pop["shanxi_hukou_out_of_province"]
    other_prov_urban = other_prov * pop["other_province_in_urban_share"]
    hukou_population = resident - other_prov + out_prov
    urban_hukou = census["hukou_urbanization_rate"] * hukou_population
    urban_hukou_residents = urban_hukou - out_prov * pop["out_of_province_urban_hukou_share"]
    rural_migrants = urban - other_prov_urban - urban_hukou_residents
    urban_migrants = census["floating_population"] - other_prov - rural_migrants
    if rural_migrants <= 0 or urban_migrants <= 0:
        raise ValueError(f"population assumptions inconsistent with the census: rural-hukou migrants "
                         f"{rural_migrants:.0f}, urban-hukou migrants {urban_migrants:.0f} (both must be > 0); "
                         f"check population.shanxi_hukou_out_of_province and population.other_province_in_urban_share")
    return dict(hukou_population=hukou_population, urban_hukou=urban_hukou, rural_migrants=rural_migrants,
                urban_migrants=urban_migrants, other_province_urban=other_prov_urban,
                other_province_rural=other_prov - other_prov_urban)


def build_cells(geo: Geography, census: dict, pop: dict) -> Cells:
    n = len(geo.unit_name_en)
    totals = census_kinds(census, pop)
    urban = geo.unit_pop_2020 * geo.unit_urban_share_2020
    rural = geo.unit_pop_2020 - urban
    is_taiyuan = geo.unit_city == geo.taiyuan_city
    pull = np.where(is_taiyuan & (geo.unit_type == 0), pop["taiyuan_pull"], 1.0)
    units = np.arange(n)
    out = {k: [] for k in ("kind", "place", "hukou", "origin", "people")}

    def add(kind, place, hukou, origin, people):
        out["kind"].append(np.full(len(people), kind))
        out["place"].append(np.asarray(place))
        out["hukou"].append(np.asarray(hukou))
        out["origin"].append(np.asarray(origin))
        out["people"].append(np.asarray(people, dtype=float))

    decay = np.exp(-geo.unit_distance_km / pop["gravity_km"])
    oop = geo.n_places - 1
    # other-province residents: urban parts weighted by urban population and pull, rural parts by rural population
    w = urban * pull
    op_urban = totals["other_province_urban"] * w / w.sum()
    op_rural = totals["other_province_rural"] * rural / rural.sum()
    add(OTHER_PROVINCE, 2 * units, np.full(n, oop), units, op_urban)
    add(OTHER_PROVINCE, 2 * units + 1, np.full(n, oop), units, op_rural)
    # rural-hukou migrants in urban parts: destination by urban population and pull; origin by gravity
    dest = totals["rural_migrants"] * w / w.sum()
    ow = rural[None, :] * decay * (1.0 + (pop["own_county_bonus"] - 1.0) * np.eye(n))
    ow /= ow.sum(axis=1, keepdims=True)
    flows = dest[:, None] * ow                       # [destination unit, origin unit]
    d_idx, o_idx = np.nonzero(flows > 0)
    add(RURAL_MIGRANT, 2 * d_idx, 2 * o_idx + 1, o_idx, flows[d_idx, o_idx])
    rural_migrants_by_origin = flows.sum(axis=0)
    # urban-hukou migrants: between urban parts of different units
    dest_u = totals["urban_migrants"] * w / w.sum()
    uw = urban[None, :] * decay * (1.0 - np.eye(n))
    uw /= uw.sum(axis=1, keepdims=True)
    flows_u = dest_u[:, None] * uw
    d_idx, o_idx = np.nonzero(flows_u > 0)
    add(URBAN_MIGRANT, 2 * d_idx, 2 * o_idx, o_idx, flows_u[d_idx, o_idx])
    # locals: what is left of each part
    urban_locals = urban - op_urban - dest - dest_u
    rural_locals = rural - op_rural
    if (urban_locals < 0).any() or (rural_locals < 0).any():
        bad = int(np.argmin(urban_locals))
        raise ValueError(f"migrant allocation exceeds the urban population of {geo.unit_name_en[bad]}: "
                         f"lower population.taiyuan_pull ({pop['taiyuan_pull']})")
    add(URBAN_LOCAL, 2 * units, 2 * units, units, urban_locals)
    add(RURAL_LOCAL, 2 * units + 1, 2 * units + 1, units, rural_locals)
    # Shanxi hukou out of province: origins in proportion to rural and urban hukou populations
    out_total = pop["shanxi_hukou_out_of_province"]
    share_u = pop["out_of_province_urban_hukou_share"]
    rw = rural_locals + rural_migrants_by_origin
    add(OUT_OF_PROVINCE, np.full(n, oop), 2 * units + 1, units, out_total * (1 - share_u) * rw / rw.sum())
    add(OUT_OF_PROVINCE, np.full(n, oop), 2 * units, units, out_total * share_u * urban_locals / urban_locals.sum())
    # pool of potential in-migrants from other provinces, anchored where in-migrants live now
    pool = pop["in_migrant_pool_ratio"] * (op_urban + op_rural)
    add(POOL, np.full(n, oop), np.full(n, oop), units, pool)
    return Cells(**{k: np.concatenate(v) for k, v in out.items()})


def _stochastic_round(x, rng):
    base = np.floor(x)
    return (base + (rng.random(len(x)) < (x - base))).astype(np.int64)


def synthesize(geo: Geography, pop: dict, econ: dict, scale: float, seed: int) -> tuple[S.Households, np.ndarray]:
    """Sample households at `scale`. Returns the household arrays and each household's kind."""
    census = load_census()
    rng = np.random.default_rng([seed, 2020])
    cells = build_cells(geo, census, pop)
    kind = cells.kind
    migrant_kind = np.isin(kind, (RURAL_MIGRANT, URBAN_MIGRANT, OTHER_PROVINCE))
    resident = np.isin(kind, (RURAL_LOCAL, URBAN_LOCAL, RURAL_MIGRANT, URBAN_MIGRANT, OTHER_PROVINCE))
    # collective population: one-person units, all among in-province migrants (dormitories, students)
    collective_share = census["collective_population"] / cells.people[migrant_kind].sum()
    coll_people = np.where(migrant_kind, cells.people * collective_share, 0.0)
    fam_people = cells.people - coll_people
    mean_size = np.select([kind == RURAL_LOCAL, kind == URBAN_LOCAL, kind == OUT_OF_PROVINCE],
                          [pop["size_rural_local"], pop["size_urban_local"], pop["size_out_of_province"]],
                          pop["size_migrant"]).astype(float)
    # rescale (size - 1) together so resident family households average the census size
    target = census["family_household_size"]
    for _ in range(50):
        hh = fam_people[resident] / mean_size[resident]
        mean_now = fam_people[resident].sum() / hh.sum()
        mean_size = 1.0 + (mean_size - 1.0) * (target - 1.0) / (mean_now - 1.0)
        if abs(mean_now - target) < 1e-9:
            break
    n_fam = _stochastic_round(fam_people / mean_size * scale, rng)
    n_coll = _stochastic_round(coll_people * scale, rng)
    counts = n_fam + n_coll
    idx = np.repeat(np.arange(len(kind)), counts)
    collective = np.concatenate([np.r_[np.zeros(a, bool), np.ones(b, bool)] for a, b in zip(n_fam, n_coll)]) \
        if len(idx) else np.zeros(0, bool)
    n = len(idx)
    h = S.empty(n)
    k = kind[idx]
    h.place[:] = cells.place[idx]
    h.hukou[:] = cells.hukou[idx]
    h.origin[:] = cells.origin[idx]
    # sizes: 1 + Poisson(mean - 1), capped at 8
    size = np.where(collective, 1, np.minimum(1 + rng.poisson(mean_size[idx] - 1.0), 8))
    # head's age by kind
    age_par = np.select([k == RURAL_LOCAL, k == URBAN_LOCAL], [1, 2], 3)
    mu = np.choose(age_par - 1, [pop["head_age_rural_local"][0], pop["head_age_urban_local"][0], pop["head_age_migrant"][0]])
    sd = np.choose(age_par - 1, [pop["head_age_rural_local"][1], pop["head_age_urban_local"][1], pop["head_age_migrant"][1]])
    mu = np.where(collective, pop["head_age_collective"][0], mu)
    sd = np.where(collective, pop["head_age_collective"][1], sd)
    age = np.clip(np.rint(rng.normal(mu, sd)), 18, 95).astype(np.int64)
    band = np.digitize(age, [30, 45, 60])
    mix = np.asarray(pop["member_age_mix"], dtype=float)
    # rake the member mix so that residents match the census age shares (in expectation)
    targets = np.array([census["age_share_0_14"], census["age_share_15_59"], census["age_share_60_plus"]])
    res = resident[idx]
    head_old = age >= 60
    others = size - 1
    for _ in range(100):
        m = mix / mix.sum(axis=1, keepdims=True)
        expected = (others[res, None] * m[band[res]]).sum(axis=0)
        expected[1] += (~head_old[res]).sum()
        expected[2] += head_old[res].sum()
        share = expected / expected.sum()
        mix = mix * (targets / share)
        if np.abs(share - targets).max() < 1e-7:
            break
    m = mix / mix.sum(axis=1, keepdims=True)
    cum = np.cumsum(m, axis=1)[band]
    n_child = np.zeros(n, np.int64)
    n_adult = (~head_old).astype(np.int64)
    n_old = head_old.astype(np.int64)
    for j in range(1, 8):
        has = size > j
        u = rng.random(n)
        cat = (u[:, None] >= cum[:, :2]).sum(axis=1)
        n_child += has & (cat == 0)
        n_adult += has & (cat == 1)
        n_old += has & (cat == 2)
    h.n_child[:] = n_child
    h.n_adult[:] = n_adult
    h.n_old[:] = n_old
    h.head_age[:] = age
    # skill
    sk = np.select([k == RURAL_LOCAL, k == URBAN_LOCAL], [0, 2], 1)
    probs = np.array([pop["skill_rural_local"], pop["skill_migrant"], pop["skill_urban_local"]], float)
    probs = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(n)
    h.skill[:] = (u[:, None] >= probs[sk][:, :2]).sum(axis=1)
    # land rights: rural-hukou households
    rural_hukou = (h.hukou % 2 == 1) & (h.hukou != geo.n_places - 1)
    flags = np.zeros(n, np.int64)
    flags |= np.where(rural_hukou & (rng.random(n) < pop["contract_land_rural_hukou"]), S.CONTRACT_LAND, 0)
    flags |= np.where(rural_hukou & (rng.random(n) < pop["homestead_rural_hukou"]), S.HOMESTEAD, 0)
    flags |= np.where(collective, S.COLLECTIVE, 0)
    # tenure
    u = rng.random(n)
    tenure = np.full(n, S.RENT)
    tenure[k == RURAL_LOCAL] = S.OWN
    ul = k == URBAN_LOCAL
    tenure[ul & (u < pop["own_home_urban_local"])] = S.OWN
    tenure[ul & (u >= pop["own_home_urban_local"]) & (u < pop["own_home_urban_local"] + pop["public_rental_urban_local"])] = S.PUBLIC_RENTAL
    mig = migrant_kind[idx] | (k == OUT_OF_PROVINCE) | (k == POOL)
    tenure[mig & (u < pop["own_home_migrant"])] = S.OWN
    tenure[mig & (u >= pop["own_home_migrant"]) & (u < pop["own_home_migrant"] + pop["public_rental_migrant"])] = S.PUBLIC_RENTAL
    tenure[collective] = S.DORM
    h.tenure[:] = tenure
    # employment and insurance (of the head)
    urban_place = geo.place_is_urban[h.place]
    e0 = np.where(urban_place, econ["employment_rate_urban"],
                  np.where(h.place == geo.n_places - 1, econ["employment_rate_out_of_province"], econ["employment_rate_rural"]))
    flags |= np.where((h.n_adult > 0) & (rng.random(n) < e0), S.EMPLOYED, 0)
    ins = np.where(ul, pop["insured_urban_local"], pop["insured_migrant"])
    flags |= np.where(urban_place & (rng.random(n) < ins), S.INSURED, 0)
    h.flags[:] = flags
    months = np.where(mig, rng.integers(0, pop["months_here_max_migrant"] + 1, n), 255)
    h.months_here[:] = months
    return h, k.astype(np.int8)
