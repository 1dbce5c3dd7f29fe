"""Counter-based random numbers: a uniform draw is a pure function of (seed, household, month, stream).

No generator state is carried between draws, so results do not depend on the order in which
households are stepped, on the number of threads, or on which other draws a scenario makes:
two scenarios run with the same seed give the same household the same draw for the same
decision (common random numbers).
"""

import numba as nb
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_K_HOUSEHOLD = np.uint64(0xD1B54A32D192ED03)
_K_MONTH = np.uint64(0xABC98388FB8FAC03)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53

# The key's own draw (`unit_float(key)`) picks the month's event (see kernels.step_households); what
# follows an event draws from streams, one fixed number per decision, so adding a decision never
# shifts another's draws.
S_CHOICE, S_LAND, S_TENURE, S_EMPLOY_AFTER_MOVE, S_INSURED = 6, 8, 9, 10, 11
S_LOT = 14  # per-household lottery (month-independent) for the district chosen within a city
S_RECLASSIFY, S_RECLASSIFY_HUKOU = 15, 16  # the yearly in-situ reclassification (kernel.reclassify)
S_LEAVE_HOME, S_LEAVE_HOME_AGE, S_LEAVE_HOME_EMPLOYED = 17, 18, 19  # young adults leaving home (kernel.formation)
S_KIN, S_KIN_PARENT = 20, 21  # the census migrants linked to their parents' household (kernel.family)


@nb.njit(cache=True)
def mix64(z):
    """splitmix64 finaliser: a bijective, well-mixed function of a 64-bit integer."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def draw_key(seed, household, month):
    """The key of all draws of one household in one month.

    The (seed, month) part does not depend on the household, so in a loop over households the
    compiler computes it once: a key costs one mix per household.
    """
    k = mix64(np.uint64(seed) * _GOLDEN + np.uint64(1))
    k = mix64(k ^ (np.uint64(month + 1) * _K_MONTH))
    return mix64(k ^ (np.uint64(household) * _K_HOUSEHOLD))


@nb.njit(cache=True)
def unit_float(z):
    """A uniform draw in [0, 1) from the top 53 bits of a mixed 64-bit integer."""
    return float(z >> np.uint64(11)) * _INV53


@nb.njit(cache=True)
def uniform(key, stream):
    """A uniform draw in [0, 1) for one stream of a draw key."""
    return unit_float(mix64(key + np.uint64(stream + 1) * _GOLDEN))


@nb.njit(cache=True)
def uniforms(seed, household, month, stream):
    """Convenience for Python callers and tests."""
    return uniform(draw_key(seed, household, month), stream)


@nb.njit(cache=True)
def event_uniform(seed, household, month):
    """The draw that picks a household's event of the month (the key's own draw); for Python callers."""
    return unit_float(draw_key(seed, household, month))
