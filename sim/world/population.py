"""Synthetic households at the 2020 census (1 November 2020).

The census gives, for Shanxi, the resident population and urban population by county unit (the
county tabulation, sim.world.geography), the hukou urbanization rate, the floating population and the part of it
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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources

import numpy as np
import yaml

from sim import state as S
from sim.places import OUT_OF_PROVINCE, rural_place, urban_place
from sim.world.geography import Geography


class Kind(IntEnum):
    """The census groups a synthetic household is drawn from (the cells of `build_cells`)."""

    RURAL_LOCAL = 0  # living in the village of its own hukou
    URBAN_LOCAL = 1  # living in the town of its own hukou
    RURAL_HUKOU_MIGRANT = 2  # Shanxi rural hukou living in another Shanxi town
    URBAN_HUKOU_MIGRANT = 3  # Shanxi urban hukou living in another Shanxi town
    OTHER_PROVINCE_RESIDENT = 4  # hukou of another province, living in Shanxi
    SHANXI_OUT_OF_PROVINCE = 5  # Shanxi hukou living in another province
    IN_MIGRANT_POOL = 6  # another province's household outside Shanxi that may move in


KIND_NAMES = tuple(k.name.lower() for k in Kind)
# living in Shanxi (counted as residents), and of them the floating population (away from the hukou place)
MIGRANT_KINDS = (Kind.RURAL_HUKOU_MIGRANT, Kind.URBAN_HUKOU_MIGRANT, Kind.OTHER_PROVINCE_RESIDENT)
RESIDENT_KINDS = (Kind.RURAL_LOCAL, Kind.URBAN_LOCAL, *MIGRANT_KINDS)


def load_census(year: int = 2020) -> dict:
    """Province totals of a census (data/census_<year>.yaml: 2020, or 2010 for the decade hindcast)."""
    with resources.files("sim.world").joinpath(f"data/census_{year}.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def unit_counts(geo: Geography, year: int = 2020) -> tuple[np.ndarray, np.ndarray]:
    """Population and urban population of every unit at a census (persons)."""
    if year == 2020:
        return geo.unit_pop_2020, geo.unit_pop_2020 * geo.unit_urban_share_2020
    from sim.world.census2010 import unit_counts_2010

    return unit_counts_2010(geo)


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
        raise ValueError(
            f"population assumptions inconsistent with the census: rural-hukou migrants "
            f"{rural_migrants:.0f}, urban-hukou migrants {urban_migrants:.0f} (both must be > 0); "
            f"check population.shanxi_hukou_out_of_province and population.other_province_in_urban_share"
        )
    return dict(
        hukou_population=hukou_population,
        urban_hukou=urban_hukou,
        rural_migrants=rural_migrants,
        urban_migrants=urban_migrants,
        other_province_urban=other_prov_urban,
        other_province_rural=other_prov - other_prov_urban,
    )


def build_cells(geo: Geography, census: dict, pop: dict, year: int = 2020) -> Cells:
    n = len(geo.unit_name_en)
    totals = census_kinds(census, pop)
    unit_pop, urban = unit_counts(geo, year)
    rural = unit_pop - urban
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
    oop = OUT_OF_PROVINCE
    # other-province residents: urban parts weighted by urban population and pull, rural parts by rural population
    w = urban * pull
    op_urban = totals["other_province_urban"] * w / w.sum()
    op_rural = totals["other_province_rural"] * rural / rural.sum()
    add(Kind.OTHER_PROVINCE_RESIDENT, urban_place(units), np.full(n, oop), units, op_urban)
    add(Kind.OTHER_PROVINCE_RESIDENT, rural_place(units), np.full(n, oop), units, op_rural)
    # rural-hukou migrants in urban parts: destination by urban population and pull; origin by gravity
    dest = totals["rural_migrants"] * w / w.sum()
    ow = rural[None, :] * decay * (1.0 + (pop["own_county_bonus"] - 1.0) * np.eye(n))
    ow /= ow.sum(axis=1, keepdims=True)
    flows = dest[:, None] * ow  # [destination unit, origin unit]
    d_idx, o_idx = np.nonzero(flows > 0)
    add(Kind.RURAL_HUKOU_MIGRANT, urban_place(d_idx), rural_place(o_idx), o_idx, flows[d_idx, o_idx])
    rural_migrants_by_origin = flows.sum(axis=0)
    # urban-hukou migrants: between urban parts of different units
    dest_u = totals["urban_migrants"] * w / w.sum()
    uw = urban[None, :] * decay * (1.0 - np.eye(n))
    uw /= uw.sum(axis=1, keepdims=True)
    flows_u = dest_u[:, None] * uw
    d_idx, o_idx = np.nonzero(flows_u > 0)
    add(Kind.URBAN_HUKOU_MIGRANT, urban_place(d_idx), urban_place(o_idx), o_idx, flows_u[d_idx, o_idx])
    # locals: what is left of each part
    urban_locals = urban - op_urban - dest - dest_u
    rural_locals = rural - op_rural
    if (urban_locals < 0).any() or (rural_locals < 0).any():
        bad = int(np.argmin(urban_locals))
        raise ValueError(
            f"migrant allocation exceeds the urban population of {geo.unit_name_en[bad]}: "
            f"lower population.taiyuan_pull ({pop['taiyuan_pull']})"
        )
    add(Kind.URBAN_LOCAL, urban_place(units), urban_place(units), units, urban_locals)
    add(Kind.RURAL_LOCAL, rural_place(units), rural_place(units), units, rural_locals)
    # Shanxi hukou out of province: origins in proportion to rural and urban hukou populations
    out_total = pop["shanxi_hukou_out_of_province"]
    share_u = pop["out_of_province_urban_hukou_share"]
    rw = rural_locals + rural_migrants_by_origin
    add(
        Kind.SHANXI_OUT_OF_PROVINCE,
        np.full(n, oop),
        rural_place(units),
        units,
        out_total * (1 - share_u) * rw / rw.sum(),
    )
    add(
        Kind.SHANXI_OUT_OF_PROVINCE,
        np.full(n, oop),
        urban_place(units),
        units,
        out_total * share_u * urban_locals / urban_locals.sum(),
    )
    # pool of potential in-migrants from other provinces, anchored where in-migrants live now
    pool = pop["in_migrant_pool_ratio"] * (op_urban + op_rural)
    add(Kind.IN_MIGRANT_POOL, np.full(n, oop), np.full(n, oop), units, pool)
    return Cells(**{k: np.concatenate(v) for k, v in out.items()})


def household_people(cells: Cells, census: dict, pop: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: people in family households, people in collective (one-person) units, and the mean
    family-household size, rescaled so resident family households average the census size."""
    kind = cells.kind
    migrant_kind = np.isin(kind, MIGRANT_KINDS)
    resident = np.isin(kind, RESIDENT_KINDS)
    # collective population: one-person units, all among in-province migrants (dormitories, students)
    collective_share = census["collective_population"] / cells.people[migrant_kind].sum()
    coll_people = np.where(migrant_kind, cells.people * collective_share, 0.0)
    fam_people = cells.people - coll_people
    mean_size = np.select(
        [kind == Kind.RURAL_LOCAL, kind == Kind.URBAN_LOCAL, kind == Kind.SHANXI_OUT_OF_PROVINCE],
        [pop["size_rural_local"], pop["size_urban_local"], pop["size_out_of_province"]],
        pop["size_migrant"],
    ).astype(float)
    # rescale (size - 1) together so resident family households average the census size
    target = census["family_household_size"]
    for _ in range(50):
        hh = fam_people[resident] / mean_size[resident]
        mean_now = fam_people[resident].sum() / hh.sum()
        mean_size = 1.0 + (mean_size - 1.0) * (target - 1.0) / (mean_now - 1.0)
        if abs(mean_now - target) < 1e-9:
            break
    return fam_people, coll_people, mean_size


def _stochastic_round(x, rng):
    base = np.floor(x)
    return (base + (rng.random(len(x)) < (x - base))).astype(np.int64)


def synthesize(
    geo: Geography, pop: dict, econ: dict, scale: float, seed: int, workers: int = 1, year: int = 2020
) -> tuple[S.Households, np.ndarray]:
    """Sample households at `scale`, on `workers` threads, at the census of `year` (2020; 2010 for the
    decade hindcast). Returns the household arrays and each household's kind (the same whatever the
    number of workers).

    Long on purpose: its two passes over blocks share the blocks' draws and the raking sums, and
    splitting them would pass a dozen arrays around; the census synthesis of the next model version
    (census age shares per unit) replaces it."""
    census = load_census(year)
    rng = np.random.default_rng([seed, year])
    cells = build_cells(geo, census, pop, year)
    kind = cells.kind
    resident = np.isin(kind, RESIDENT_KINDS)
    fam_people, coll_people, mean_size = household_people(cells, census, pop)
    n_fam = _stochastic_round(fam_people / mean_size * scale, rng)
    n_coll = _stochastic_round(coll_people * scale, rng)
    per_cell = n_fam + n_coll
    n = int(per_cell.sum())
    first = np.concatenate([[0], np.cumsum(per_cell)[:-1]])
    cell = np.repeat(np.arange(len(kind), dtype=np.int32), per_cell)
    h = S.empty(n, spare=n // 4)  # room for the households young adults form (about 2% of n a year)
    kinds = kind.astype(np.int8)[cell]
    size = np.empty(n, np.uint8)
    oop = OUT_OF_PROVINCE
    par = _kind_parameters(pop)
    blocks = [(b, min(n, b + BLOCK)) for b in range(0, n, BLOCK)]

    # pass 1: where, hukou, size and head's age; sums for raking the age mix. Blocks have their own
    # random streams and write their own rows, so they run on threads (numpy releases the GIL) and
    # the result does not depend on how many
    def pass1(bi, a, b):
        r = np.random.default_rng([seed, year, 1, bi])
        c = cell[a:b]
        k = kinds[a:b]
        collective = (np.arange(a, b) - first[c]) >= n_fam[c]
        h.place[a:b] = cells.place[c]
        h.hukou[a:b] = cells.hukou[c]
        h.origin[a:b] = cells.origin[c]
        sz = np.where(collective, 1, np.minimum(1 + r.poisson(mean_size[c] - 1.0), 8))
        mu, sd = par["age_mu"][k], par["age_sd"][k]
        mu = np.where(collective, pop["head_age_collective"][0], mu)
        sd = np.where(collective, pop["head_age_collective"][1], sd)
        age = np.clip(np.rint(r.normal(mu, sd)), 18, 95)
        size[a:b] = sz
        h.head_age[a:b] = age
        h.flags[a:b] = np.where(collective, S.COLLECTIVE, 0)
        res = resident[c]
        return (
            np.bincount(np.digitize(age[res], [30, 45, 60]), weights=sz[res] - 1.0, minlength=4),
            (age[res] < 60).sum(),
            (age[res] >= 60).sum(),
        )

    others_by_band = np.zeros(4)
    heads = np.zeros(3)  # resident heads aged 15-59 / 60+ (index 1, 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for band_sums, adults, old in pool.map(
            lambda blk: pass1(*blk), [(bi, a, b) for bi, (a, b) in enumerate(blocks)]
        ):
            others_by_band += band_sums  # in block order, as a single thread would add them
            heads[1] += adults
            heads[2] += old
    # rake the member mix so that residents match the census age shares (in expectation)
    mix = np.asarray(pop["member_age_mix"], dtype=float)
    targets = np.array([census["age_share_0_14"], census["age_share_15_59"], census["age_share_60_plus"]])
    for _ in range(200):
        m = mix / mix.sum(axis=1, keepdims=True)
        expected = (others_by_band[:, None] * m).sum(axis=0) + heads
        share = expected / expected.sum()
        mix = mix * (targets / share)
        if np.abs(share - targets).max() < 1e-9:
            break
    cum_mix = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)

    # pass 2: members, skill, land, tenure, job, insurance, time at place
    def pass2(bi, a, b):
        r = np.random.default_rng([seed, year, 2, bi])
        k = kinds[a:b]
        nb = b - a
        age = h.head_age[a:b]
        sz = size[a:b]
        head_old = age >= 60
        band = np.digitize(age, [30, 45, 60])
        cum_child, cum_adult = cum_mix[band, 0], cum_mix[band, 1]  # a member is a child below the first, ...
        n_child = np.zeros(nb, np.int64)
        n_adult = (~head_old).astype(np.int64)
        n_old = head_old.astype(np.int64)
        for j in range(1, 8):
            has = sz > j
            x = r.random(nb)
            n_child += has & (x < cum_child)
            n_adult += has & (x >= cum_child) & (x < cum_adult)
            n_old += has & (x >= cum_adult)
        h.n_child[a:b] = n_child
        h.n_adult[a:b] = n_adult
        h.n_old[a:b] = n_old
        x = r.random(nb)
        skill_cum = par["skill_cum"][par["skill_row"]]  # (kind, 3)
        h.skill[a:b] = (x >= skill_cum[k, 0]).astype(np.uint8) + (x >= skill_cum[k, 1])
        hukou = h.hukou[a:b]
        place = h.place[a:b]
        collective = (h.flags[a:b] & S.COLLECTIVE) > 0
        rural_hukou = (hukou % 2 == 1) & (hukou != oop)
        flags = h.flags[a:b].astype(np.int64)
        flags |= np.where(rural_hukou & (r.random(nb) < pop["contract_land_rural_hukou"]), S.CONTRACT_LAND, 0)
        flags |= np.where(rural_hukou & (r.random(nb) < pop["homestead_rural_hukou"]), S.HOMESTEAD, 0)
        u = r.random(nb)
        tenure = np.full(nb, S.RENT)
        tenure[k == Kind.RURAL_LOCAL] = S.OWN
        ul = k == Kind.URBAN_LOCAL
        own, pub = pop["own_home_urban_local"], pop["public_rental_urban_local"]
        tenure[ul & (u < own)] = S.OWN
        tenure[ul & (u >= own) & (u < own + pub)] = S.PUBLIC_RENTAL
        mig = np.isin(
            k,
            (
                Kind.RURAL_HUKOU_MIGRANT,
                Kind.URBAN_HUKOU_MIGRANT,
                Kind.OTHER_PROVINCE_RESIDENT,
                Kind.SHANXI_OUT_OF_PROVINCE,
                Kind.IN_MIGRANT_POOL,
            ),
        )
        own, pub = pop["own_home_migrant"], pop["public_rental_migrant"]
        tenure[mig & (u < own)] = S.OWN
        tenure[mig & (u >= own) & (u < own + pub)] = S.PUBLIC_RENTAL
        tenure[collective] = S.DORM
        h.tenure[a:b] = tenure
        in_town = geo.place_is_urban[place]
        e0 = np.where(
            in_town,
            econ["employment_rate_urban"],
            np.where(place == oop, econ["employment_rate_out_of_province"], econ["employment_rate_rural"]),
        )
        flags |= np.where((n_adult > 0) & (r.random(nb) < e0), S.EMPLOYED, 0)
        ins = np.where(ul, pop["insured_urban_local"], pop["insured_migrant"])
        flags |= np.where(in_town & (r.random(nb) < ins), S.INSURED, 0)
        h.flags[a:b] = flags
        h.months_here[a:b] = np.where(mig, r.integers(0, pop["months_here_max_migrant"] + 1, nb), 255)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda blk: pass2(*blk), [(bi, a, b) for bi, (a, b) in enumerate(blocks)]))
    return h, kinds


BLOCK = 1 << 20  # households generated per block (bounds the memory of synthesis)


def _kind_parameters(pop: dict) -> dict:
    """Per-kind lookup tables (indexed by kind code)."""
    mu = np.empty(len(KIND_NAMES))
    sd = np.empty(len(KIND_NAMES))
    for k in range(len(KIND_NAMES)):
        key = {Kind.RURAL_LOCAL: "head_age_rural_local", Kind.URBAN_LOCAL: "head_age_urban_local"}.get(
            k, "head_age_migrant"
        )
        mu[k], sd[k] = pop[key]
    skill_row = np.array(
        [0 if k == Kind.RURAL_LOCAL else 2 if k == Kind.URBAN_LOCAL else 1 for k in range(len(KIND_NAMES))]
    )
    probs = np.array([pop["skill_rural_local"], pop["skill_migrant"], pop["skill_urban_local"]], float)
    return {
        "age_mu": mu,
        "age_sd": sd,
        "skill_row": skill_row,
        "skill_cum": np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1),
    }
