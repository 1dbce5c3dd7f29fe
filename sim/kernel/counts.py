"""The place totals the kernel keeps: stocks of the households as they are and flows of the month."""

from typing import NamedTuple

import numba as nb
import numpy as np

from sim.kernel.threads import map_threads
from sim.kernel.types import MIN_CHUNK, N_CHUNKS
from sim.places import is_rural_place, urban_place
from sim.state import (
    COLLECTIVE,
    EMPLOYED,
    EV_BIRTH,
    EV_DEATH,
    EV_LEFT_AS_MIGRANT,
    EV_MOVED,
    EV_RETURNED,
    EV_SETTLED,
    OWN,
    RENT,
    TRAINED,
)

# --------------------------------------------------------------------------------------- counting
# per-place counters (rows of one integer array); stocks describe the households as they are,
# flows what happened to them this month
PLACE_COUNTERS = (
    "households",  # households
    "workers",  # members aged 15-59
    "employed_workers",  # members aged 15-59 of households whose head is employed
    "settled",  # people of households that took local hukou this month
    "moved_in",  # people who moved in this month
    "returned",  # people who moved back home this month (at home)
    "births",  # births this month
    "deaths",  # deaths this month
    "left_as_migrant",  # people who moved away this month from a place where they had no local hukou (at the new place)
    "migrants",  # people living in Shanxi at a place other than their hukou place
    "migrant_households",  # households living in Shanxi away from their hukou place
    "migrant_children",  # children 0-14 of those households
    "migrant_workers",  # members 15-59 of those households
    "migrant_renters",  # those households renting on the market
    "renters",  # households renting on the market
    "owners",  # households owning their home
    "trainable",  # rural-hukou households with a worker, not yet trained
    "trained",  # households with a trained worker
    "returnee_households",  # rural-hukou households living at their home county seat
)
_F = {name: i for i, name in enumerate(PLACE_COUNTERS)}
F_HH, F_WORKERS, F_EMPLOYED, F_SETTLED, F_MOVED, F_RETURNED, F_BIRTHS, F_DEATHS = range(8)
(
    F_LEFT,
    F_MIGRANTS,
    F_MIG_HH,
    F_MIG_CHILD,
    F_MIG_WORK,
    F_MIG_RENT,
    F_RENT,
    F_OWN,
    F_TRAINABLE,
    F_TRAINED,
    F_RETURNEE,
) = range(8, 19)
FLOW_ROWS = np.array([F_SETTLED, F_MOVED, F_RETURNED, F_BIRTHS, F_DEATHS, F_LEFT])


class Counts(NamedTuple):
    """Integer counts of the (sampled) households. People unless said otherwise.

    The same shape holds a month's change (`step_all`'s result): stocks as differences, flows as they are.
    """

    people_by_home_place: np.ndarray  # (n_units + 1, n_places): by home unit (last row: other-province hukou)
    people_by_hukou_place: np.ndarray  # (n_places)
    age_groups: np.ndarray  # (n_places, 3): people aged 0-14, 15-59, 60+
    birth_exposure: np.ndarray  # (2, 3): households with an adult and a head aged 20-29 / 30-39 / 40-49 (not
    # collective), living in Shanxi (row 0) or outside (row 1)
    place: np.ndarray  # (len(PLACE_COUNTERS), n_places): see PLACE_COUNTERS

    def __getattr__(self, name):  # counts.households, counts.settled, ... are rows of `place`
        try:
            return self.place[_F[name]]
        except KeyError:
            raise AttributeError(name) from None

    def advanced_by(self, change: "Counts") -> "Counts":
        """The counts after a month whose change (stock differences and flows) is `change`."""
        place = self.place + change.place
        place[FLOW_ROWS] = change.place[FLOW_ROWS]
        return Counts(
            self.people_by_home_place + change.people_by_home_place,
            self.people_by_hukou_place + change.people_by_hukou_place,
            self.age_groups + change.age_groups,
            self.birth_exposure + change.birth_exposure,
            place,
        )


def zero_counts(n_units: int, n_places: int, n_chunks: int = 0) -> Counts:
    """All-zero counts; with n_chunks > 0, one set per chunk (leading axis) for the parallel kernels,
    held as int32 (a chunk holds at most a 64th of the province, or 2 x MIN_CHUNK households) to halve
    what the kernels keep in cache."""
    lead, t = ((n_chunks,), np.int32) if n_chunks else ((), np.int64)
    return Counts(
        np.zeros(lead + (n_units + 1, n_places), t),
        np.zeros(lead + (n_places,), t),
        np.zeros(lead + (n_places, 3), t),
        np.zeros(lead + (2, 3), t),
        np.zeros(lead + (len(PLACE_COUNTERS), n_places), t),
    )


def n_chunks(n: int) -> int:
    """Chunks of the parallel kernels for n households: N_CHUNKS, fewer for small populations."""
    return int(max(1, min(N_CHUNKS, n // MIN_CHUNK)))


def _sum_chunks(t: Counts) -> Counts:
    return Counts(*(a.sum(0, dtype=np.int64) for a in t))


@nb.njit(inline="always", cache=True)
def count_stocks(sign, p, hukou, origin, nc, na, no, flags, tenure, age, oop, t_home, t_hukou, t_age, t_bexp, t_place):
    """Add (sign +1) or remove (sign -1) one living household's contribution to the stock counts."""
    size = nc + na + no
    row = t_home.shape[0] - 1 if hukou == oop else origin
    t_home[row, p] += sign * size
    t_hukou[hukou] += sign * size
    t_age[p, 0] += sign * nc
    t_age[p, 1] += sign * na
    t_age[p, 2] += sign * no
    t_place[F_HH, p] += sign
    t_place[F_WORKERS, p] += sign * na
    if flags & EMPLOYED:
        t_place[F_EMPLOYED, p] += sign * na
    if tenure == RENT:
        t_place[F_RENT, p] += sign
    elif tenure == OWN:
        t_place[F_OWN, p] += sign
    if hukou != p and p != oop:
        t_place[F_MIGRANTS, p] += sign * size
        t_place[F_MIG_HH, p] += sign
        t_place[F_MIG_CHILD, p] += sign * nc
        t_place[F_MIG_WORK, p] += sign * na
        if tenure == RENT:
            t_place[F_MIG_RENT, p] += sign
    rural_hukou = hukou != oop and is_rural_place(hukou)
    if flags & TRAINED:
        t_place[F_TRAINED, p] += sign
    elif rural_hukou and na > 0:
        t_place[F_TRAINABLE, p] += sign
    if rural_hukou and p == urban_place(origin):
        t_place[F_RETURNEE, p] += sign
    if na > 0 and not flags & COLLECTIVE and 20 <= age < 50:
        t_bexp[np.int64(p == oop), (age - 20) // 10] += sign


@nb.njit(inline="always", cache=True)
def count_flows(ev, p, nc, na, no, t_place):
    """Add one household's events of this month to the flow counts (at the place it lives now)."""
    size = nc + na + no
    if ev & EV_DEATH:
        t_place[F_DEATHS, p] += 1
    if ev & EV_BIRTH:
        t_place[F_BIRTHS, p] += 1
    if ev & EV_SETTLED:
        t_place[F_SETTLED, p] += size
    if ev & EV_MOVED:
        t_place[F_MOVED, p] += size
    if ev & EV_RETURNED:
        t_place[F_RETURNED, p] += size
    if ev & EV_LEFT_AS_MIGRANT:
        t_place[F_LEFT, p] += size


@nb.njit(parallel=True, cache=True)
def _aggregate(h, oop, t_home, t_hukou, t_age, t_bexp, t_place):
    n = h.place.shape[0]
    chunks = t_home.shape[0]
    chunk = (n + chunks - 1) // chunks
    for k in nb.prange(chunks):
        for i in range(k * chunk, min(n, (k + 1) * chunk)):
            nc = np.int64(h.n_child[i])
            na = np.int64(h.n_adult[i])
            no = np.int64(h.n_old[i])
            p = np.int64(h.place[i])
            if nc + na + no > 0:
                count_stocks(
                    1,
                    p,
                    np.int64(h.hukou[i]),
                    np.int64(h.origin[i]),
                    nc,
                    na,
                    no,
                    np.int64(h.flags[i]),
                    np.int64(h.tenure[i]),
                    np.int64(h.head_age[i]),
                    oop,
                    t_home[k],
                    t_hukou[k],
                    t_age[k],
                    t_bexp[k],
                    t_place[k],
                )
            count_flows(h.event[i], p, nc, na, no, t_place[k])


def aggregate(h, n_units: int, n_places: int, oop: int) -> Counts:
    """Count the household rows from scratch (at set-up, and to check the kernel's running counts)."""
    out = zero_counts(n_units, n_places, n_chunks(h.place.shape[0]))
    _aggregate(h, oop, *out)
    return _sum_chunks(out)


def count_rows(h, rows, n_units: int, n_places: int, oop: int) -> Counts:
    """`aggregate` of the household rows `rows` only (an index array, gathered in threads, or a slice, a
    view): their stocks as they are now, their events."""
    if isinstance(rows, slice):
        sub = [a[rows] for a in h]
    else:
        sub = map_threads(lambda a: a[rows], list(h), None if len(rows) >= 1 << 16 else 1)
    return aggregate(type(h)(*sub), n_units, n_places, oop)


def with_rows_changed(counts: Counts, before: Counts, *after: Counts) -> Counts:
    """The counts after some rows changed (or were added) between two months: `before` counts those rows
    as they were, the `after` counts (`count_rows`) as they are. Integers, so the same as a count from
    scratch; the month's flows stay as they were counted."""
    out = Counts(*(c - b + sum(a) for c, b, *a in zip(counts, before, *after)))
    out.place[FLOW_ROWS] = counts.place[FLOW_ROWS]
    return out
