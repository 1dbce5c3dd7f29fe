"""The turn of the year's draws over every household in one pass: who is reclassified this year
(`reclassify`) and who leaves home (`leavers`).

The two decisions read different fields of a row (reclassification: place, hukou and size; leaving
home: adults, head's age and flags), and reclassification changes only place and hukou, so taking
both in one pass, before anything changes, gives what the two passes, one after the other, give:
every draw is keyed by (seed, household, month) and the rows are listed in household order. The
draws of a block of households are taken first, without branches, so that the compiler vectorizes
them; the few households they pick are then visited one by one. The pass runs in threads over parts of
the households, each listing its rows from its first row on, joined in order: the same lists whatever
the split. The caller then changes the rows (`reclassify_rows`, `formation.form_households`) and
updates the place totals by the rows changed (`counts.count_rows`, `counts.with_rows_changed`).
"""

import numba as nb
import numpy as np

from sim.kernel.threads import map_parts, parts
from sim.kernel.types import BLOCK
from sim.rng import S_LEAVE_HOME, S_RECLASSIFY, S_RECLASSIFY_HUKOU, draw_key, uniform
from sim.state import COLLECTIVE, POOL


@nb.njit(cache=True)
def _year_draws(start, stop, h, max_rate, leave_rate, parent_min_age, seed, month, draw, found):
    """For household i = start + j: draw[j] = its reclassification draw, found[j] = 1 if it is a village
    household whose draw is below `max_rate` (the highest unit's rate: it may be reclassified, as in
    `reclassify`) + 2 if it sends a young adult out (as in `leavers`). Branch-free arithmetic on slices
    indexed from 0, without table look-ups, so that the compiler vectorizes it (see events.event_slack)."""
    n_child, n_adult, n_old = h.n_child[start:stop], h.n_adult[start:stop], h.n_old[start:stop]
    head_age, flags_of, place_of = h.head_age[start:stop], h.flags[start:stop], h.place[start:stop]
    for j in range(stop - start):
        key = draw_key(seed, start + j, month)
        na = np.int64(n_adult[j])
        village = ((np.int64(place_of[j]) & 1) == 1) & (np.int64(n_child[j]) + na + np.int64(n_old[j]) > 0)
        u = uniform(key, S_RECLASSIFY)
        draw[j] = u
        leaves = (
            (na >= 2)
            & (np.int64(head_age[j]) >= parent_min_age)
            & ((np.int64(flags_of[j]) & (COLLECTIVE | POOL)) == 0)
            & (uniform(key, S_LEAVE_HOME) < leave_rate)
        )
        found[j] = np.uint8(village & (u < max_rate)) | (np.uint8(leaves) << np.uint8(1))


@nb.njit(cache=True, nogil=True)
def _year_rows(
    start, stop, h, rate_by_unit, hukou_share, leave_rate, parent_min_age, seed, month, moved, parents, changed
):
    """For households start..stop-1, list the rows reclassified this year in `moved` (~i where the hukou
    goes along; as `reclassify` decides), the leavers' rows in `parents` (as `leavers`) and the rows in
    either in `changed`, each in household order from index `start` on, changing nothing; returns how
    many of each."""
    place_of, hukou_of = h.place, h.hukou
    draw = np.empty(BLOCK)
    found = np.empty(BLOCK, np.uint8)
    max_rate = 0.0  # the highest rate (a draw is never below 0; a NaN rate reclassifies nobody, as it did)
    for r in rate_by_unit:
        if r > max_rate:
            max_rate = r
    n_moved = n_parents = n_changed = 0
    for block in range(start, stop, BLOCK):
        block_stop = min(stop, block + BLOCK)
        _year_draws(block, block_stop, h, max_rate, leave_rate, parent_min_age, seed, month, draw, found)
        for j in range(block_stop - block):
            f = found[j]
            if f == 0:  # most households: a rare branch, well predicted
                continue
            i = block + j
            p = np.int64(place_of[i])
            reclassified = f & 1 and draw[j] < rate_by_unit[p // 2]  # f & 1: a village, never out of province
            if reclassified:
                hukou_too = (
                    np.int64(hukou_of[i]) == p and uniform(draw_key(seed, i, month), S_RECLASSIFY_HUKOU) < hukou_share
                )
                moved[start + n_moved] = ~i if hukou_too else i
                n_moved += 1
            if f & 2:
                parents[start + n_parents] = i
                n_parents += 1
            if reclassified or f & 2:
                changed[start + n_changed] = i
                n_changed += 1
    return n_moved, n_parents, n_changed


def year_rows(h, rate_by_unit, hukou_share, leave_rate, parent_min_age, seed, month):
    """This year's draws of every household in one pass, changing nothing: (rows, hukou_too, parents,
    changed) = the rows `reclassify` moves from village to town, whether their hukou goes along, the
    rows `leavers` lists (households that send a young adult out), and the rows in either, each in
    household order. In threads over parts of the households (kernel.threads), each listing its rows
    from its first row on, joined in order: the same lists whatever the split."""
    n = h.place.shape[0]
    # one slot per household: pages never written are never touched
    moved, parents, changed = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    rate_by_unit = np.asarray(rate_by_unit, np.float64)
    hukou_share, leave_rate, parent_min_age = float(hukou_share), float(leave_rate), int(parent_min_age)

    def part(start, stop):
        # fmt: off
        return _year_rows(start, stop, h, rate_by_unit, hukou_share, leave_rate, parent_min_age, seed, month,
                          moved, parents, changed)
        # fmt: on

    ranges = parts(n, 1 << 16)
    found = map_parts(part, ranges)

    def joined(rows, x):
        return np.concatenate([rows[start : start + k[x]] for (start, _), k in zip(ranges, found)])

    moved, parents, changed = joined(moved, 0), joined(parents, 1), joined(changed, 2)
    hukou_too = moved < 0
    return np.where(hukou_too, ~moved, moved), hukou_too, parents, changed


def reclassify_rows(h, rows, hukou_too, reclassified) -> None:
    """Move `rows` (village households) to their unit's town, with their hukou where `hukou_too`; add
    their people to `reclassified` by town (what `reclassify` does to the rows it draws)."""
    town = h.place[rows] - 1  # the urban part of unit u is 2u, its villages 2u + 1
    h.place[rows] = town
    h.hukou[rows[hukou_too]] = town[hukou_too]
    size = h.n_child[rows].astype(np.int64) + h.n_adult[rows] + h.n_old[rows]
    np.add.at(reclassified, town.astype(np.int64), size)
