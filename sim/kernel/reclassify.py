"""In-situ urbanization: villages that become urban without anyone moving.

Chinese statistics classify a village as urban when the built-up area of a city or county seat
reaches it, or when it becomes a residents' committee (村改居, 《统计上划分城乡的规定》). Once a
year each Shanxi unit's rural households are reclassified to its urban part at the unit's rate
(ShanxiModel sets it from the unit's type and the levers that build seats and renew cities); a
reclassified household with local rural hukou takes the urban hukou of its place with the chance
`hukou_share` (村改居 re-registers villagers as residents). Draws are counter-based, keyed by
(seed, household, month), so the result does not depend on threads or on other decisions.
"""

import numba as nb
import numpy as np

from sim.places import is_rural_place, urban_place
from sim.rng import S_RECLASSIFY, S_RECLASSIFY_HUKOU, draw_key, uniform


@nb.njit(cache=True)
def reclassify(h, rate_by_unit, hukou_share, seed, month, reclassified):
    """Move rural households of each unit u to its urban part with chance rate_by_unit[u]; add the
    people reclassified to `reclassified` (by their new urban place). Households out of province
    (their place is even) are never touched."""
    place, hukou = h.place, h.hukou
    for i in range(place.shape[0]):
        p = np.int64(place[i])
        if not is_rural_place(p):
            continue
        size = np.int64(h.n_child[i]) + np.int64(h.n_adult[i]) + np.int64(h.n_old[i])
        if size == 0:
            continue
        u = p // 2
        key = draw_key(seed, i, month)
        if uniform(key, S_RECLASSIFY) < rate_by_unit[u]:
            place[i] = urban_place(u)
            if np.int64(hukou[i]) == p and uniform(key, S_RECLASSIFY_HUKOU) < hukou_share:
                hukou[i] = urban_place(u)
            reclassified[urban_place(u)] += size
