"""The family link between a household formed by a young adult leaving home and the parents' household.

A leaver's household keeps its parents' row (`parent_row`), and both rows carry the flag KIN. Each
holds where the other lives (`kin_place`; a household with parents of its own linked holds theirs, even
after it sends a leaver out itself), as of the leaving and then of every turn of the year:
the choice of place values living where the linked household lives (`beta_family`: returns home,
and parents who follow a child to town, 随迁), so family reunion is a move like any other. While it
lives at another place than its parents, a leaver's household sends `remittance_share` of its earnings
home: it keeps the rest at such places in its choice, and the parents' household counts what it
receives (`remittance_in`, yuan/month) at every place in theirs. Money is counted once: what one row
sends, the other receives.

`link_census_migrants` links the census's migrants from villages to parents in their home village;
`link` sets a new pair up when a leaver has chosen where to live (kernel.formation: the first choice,
leaving for study and a first job, is made before the link); `refresh`, right after and then once a
year, reads where every linked household lives now and what each sends. Reading the other row happens
only here, when nothing else runs, so the monthly rule still reads only its own row and the result does
not depend on threads. A household whose linked household has died out has no kin place (-1); a parents' household
with several leavers holds the place of the latest and receives from all.
"""

import numba as nb
import numpy as np

from sim.kernel.choice import earned_at, n_earners
from sim.places import is_rural_place, rural_place
from sim.rng import S_KIN, S_KIN_PARENT, draw_key, uniform
from sim.state import COLLECTIVE, EMPLOYED, KIN, POOL, TRAINED


@nb.njit(inline="always", cache=True)
def earnings(place, hukou, skill, flags, n_adult, bh, c, place_is_urban, oop):
    """A household's earnings (yuan/month) at the place it lives now, as the choice counts them for an
    employed household (`choice.earned_at`); nothing while unemployed."""
    if not flags & EMPLOYED or n_adult == 0:
        return 0.0
    # fmt: off
    return earned_at(c.wage[place, skill], c.wage_arrears[place], place_is_urban[place], hukou == place,
                     place == oop, (flags & TRAINED) > 0, n_earners(n_adult), bh.training_wage_uplift)
    # fmt: on


@nb.njit(inline="always", cache=True)
def _alive(n_child, n_adult, n_old, i):
    return np.int64(n_child[i]) + n_adult[i] + n_old[i] > 0


@nb.njit(inline="always", cache=True)
def link(parent, leaver, h):
    """Link the leaver's new household (row `leaver`, where it has chosen to live) and its parents' (row
    `parent`); `refresh`, which follows at the same turn of the year, sets what the parents receive."""
    h.parent_row[leaver] = parent
    h.flags[leaver] |= KIN
    h.flags[parent] |= KIN
    h.kin_place[leaver] = h.place[parent]
    if h.parent_row[parent] < 0:  # a household linked to parents of its own keeps their place
        h.kin_place[parent] = h.place[leaver]


@nb.njit(cache=True)
def refresh(h, bh, c, place_is_urban, oop):
    """At the turn of the year: every linked household's kin place, and what each parents' household
    receives, from where the pairs live now. In row order, so a parents' household with several
    leavers keeps the place of the one in the highest row (the latest to leave). Serial: the same
    result whatever the thread count."""
    # the arrays out of the tuple once: reading a field of a tuple inside a loop costs a reference count each time
    place, hukou, skill, flags = h.place, h.hukou, h.skill, h.flags
    n_child, n_adult, n_old = h.n_child, h.n_adult, h.n_old
    parent_row, kin_place, remittance_in = h.parent_row, h.kin_place, h.remittance_in
    n = place.shape[0]
    for i in range(n):
        if flags[i] & KIN:
            kin_place[i] = -1
            remittance_in[i] = 0.0
    for j in range(n):
        p = parent_row[j]
        if p < 0:
            continue
        if not (_alive(n_child, n_adult, n_old, p) and _alive(n_child, n_adult, n_old, j)):
            continue  # one of the two households has died out: no kin place, nothing sent
        d, q = place[j], place[p]
        kin_place[j] = q
        if parent_row[p] < 0:  # a household linked to parents of its own keeps their place
            kin_place[p] = d
        if d != q:
            # fmt: off
            remittance_in[p] += bh.remittance_share * earnings(np.int64(d), np.int64(hukou[j]), np.int64(skill[j]),
                                                               np.int64(flags[j]), np.int64(n_adult[j]), bh, c,
                                                               place_is_urban, oop)
            # fmt: on


@nb.njit(cache=True)
def family_by_place(h, left_behind, remittances):
    """Add, by the parents' place, the parents' households left behind in a village (a leaver of theirs
    alive in a town, a city or another province) to `left_behind`, and the remittances they receive
    (yuan/month, as of the turn of the year) to `remittances`. Reads where the pairs live now."""
    place, flags, parent_row, remittance_in = h.place, h.flags, h.parent_row, h.remittance_in
    n_child, n_adult, n_old = h.n_child, h.n_adult, h.n_old
    n = place.shape[0]
    counted = np.zeros(n, np.bool_)  # a parents' household counts once, however many leavers
    for j in range(n):
        p = parent_row[j]
        if p < 0 or counted[p]:
            continue
        if not (_alive(n_child, n_adult, n_old, p) and _alive(n_child, n_adult, n_old, j)):
            continue
        q = np.int64(place[p])
        if is_rural_place(q) and place[j] != q:  # the parents in a village, the leaver away
            left_behind[q] += 1
            counted[p] = True
    for i in range(n):
        if flags[i] & KIN and parent_row[i] < 0 and remittance_in[i] > 0.0:
            remittances[place[i]] += remittance_in[i]


@nb.njit(cache=True)
def link_census_migrants(h, share, parent_min_age, max_age, seed, n_units):
    """At the census: link each family household that has left its home village (rural hukou of the
    village, living elsewhere, head younger than `max_age`) with chance `share` to a parents' household:
    one drawn at random among the family households of its home village living there whose head is at
    least `parent_min_age`. Several migrants may share parents, as siblings do. Draws keyed by (seed,
    household) on streams of their own; serial, so the same whatever the thread count."""
    place, hukou, origin, flags, head_age = h.place, h.hukou, h.origin, h.flags, h.head_age
    n_child, n_adult, n_old, parent_row = h.n_child, h.n_adult, h.n_old, h.parent_row
    n = place.shape[0]
    parents = np.zeros(n, np.bool_)
    for i in range(n):
        p = np.int64(place[i])
        parents[i] = (
            _alive(n_child, n_adult, n_old, i)
            and p == rural_place(np.int64(origin[i]))
            and np.int64(hukou[i]) == p
            and head_age[i] >= parent_min_age
            and not flags[i] & (COLLECTIVE | POOL)
        )
    count = np.zeros(n_units + 1, np.int64)
    for i in range(n):
        if parents[i]:
            count[origin[i] + 1] += 1
    start = np.cumsum(count)
    fill = start[:-1].copy()
    rows = np.empty(start[-1], np.int64)
    for i in range(n):
        if parents[i]:
            u = np.int64(origin[i])
            rows[fill[u]] = i
            fill[u] += 1
    for i in range(n):
        home, o = np.int64(hukou[i]), np.int64(origin[i])
        migrant = (
            _alive(n_child, n_adult, n_old, i)
            and home == rural_place(o)
            and place[i] != home
            and head_age[i] < max_age
            and not flags[i] & (COLLECTIVE | POOL)
        )
        if not migrant:
            continue
        key = draw_key(seed, i, -2)
        k = start[o + 1] - start[o]
        if k == 0 or uniform(key, S_KIN) >= share:
            continue
        p = rows[start[o] + min(np.int64(uniform(key, S_KIN_PARENT) * k), k - 1)]
        parent_row[i] = p
        flags[i] |= KIN
        flags[p] |= KIN
