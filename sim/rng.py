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

# Streams: one fixed number per decision, so adding a decision never shifts another's draws.
S_DEATH, S_BIRTH, S_AGE_CHILD, S_AGE_ADULT, S_JOB, S_REVIEW, S_CHOICE = 0, 1, 2, 3, 4, 5, 6
S_SETTLE, S_LAND, S_TENURE, S_EMPLOY_AFTER_MOVE, S_INSURED, S_BUY, S_WHICH_DEATH = 7, 8, 9, 10, 11, 12, 13
S_LOT = 14  # per-household lottery (month-independent) for the district chosen within a city
S_TRAIN = 15


@nb.njit(inline="always", cache=True)
def mix64(z):
    """splitmix64 finaliser: a bijective, well-mixed function of a 64-bit integer."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@nb.njit(inline="always", cache=True)
def draw_key(seed, household, month):
    """The key of all draws of one household in one month."""
    k = mix64(np.uint64(seed) * _GOLDEN + np.uint64(1))
    k = mix64(k ^ (np.uint64(household) * _K_HOUSEHOLD))
    return mix64(k ^ (np.uint64(month + 1) * _K_MONTH))


@nb.njit(inline="always", cache=True)
def uniform(key, stream):
    """A uniform draw in [0, 1) for one stream of a draw key."""
    z = mix64(key + np.uint64(stream + 1) * _GOLDEN)
    return float(z >> np.uint64(11)) * _INV53


@nb.njit(cache=True)
def uniforms(seed, household, month, stream):
    """Convenience for Python callers and tests."""
    return uniform(draw_key(seed, household, month), stream)
