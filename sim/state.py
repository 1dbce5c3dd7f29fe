"""Household state: one row per household, held as a structure of plain numpy arrays.

24 bytes per household: 14 that the monthly rule reads and writes for every household, and 10 of the
family link (a household formed by a young adult leaving home and the parents' household), which the
rule reads only for the linked households it lets reconsider (flag KIN). Every field is in domain units;
`place` and `hukou` index the place table of `sim.world.geography` (urban part of unit u = 2u, rural
part = 2u+1, out of province = 234).
"""

from typing import NamedTuple

import numpy as np

# bits of `flags`
CONTRACT_LAND = 1  # holds rural contract land (土地承包权)
HOMESTEAD = 2  # holds a rural homestead (宅基地使用权)
EMPLOYED = 4  # the head has a job this month
INSURED = 8  # enrolled in employee social insurance where the household lives
TRAINED = 16  # had subsidised vocational training
COLLECTIVE = 32  # a one-person unit of the census collective-household population
POOL = 64  # an other-province household outside Shanxi that may move in (not a Shanxi resident)
KIN = 128  # linked by a member who left home: a leaver's household, or the parents' (fields parent_row on)

# tenure codes
OWN, RENT, PUBLIC_RENTAL, DORM = 0, 1, 2, 3

# bits of `event` (what happened this month; reset every month)
EV_MOVED, EV_SETTLED, EV_BIRTH, EV_DEATH, EV_RETURNED, EV_DISSOLVED, EV_BOUGHT = 1, 2, 4, 8, 16, 32, 64
EV_LEFT_AS_MIGRANT = 128  # moved away from a place where the household had no local hukou

SKILLS = ("low", "middle", "high")


class Households(NamedTuple):
    origin: np.ndarray  # uint8: home county unit (for other-province hukou: the unit they live in or came to)
    place: np.ndarray  # int16: where the household lives now
    hukou: np.ndarray  # int16: where its hukou is registered (234 = another province)
    n_child: np.ndarray  # uint8: members aged 0-14
    n_adult: np.ndarray  # uint8: members aged 15-59
    n_old: np.ndarray  # uint8: members aged 60+
    head_age: np.ndarray  # uint8: years
    skill: np.ndarray  # uint8: 0 low, 1 middle, 2 high
    flags: np.ndarray  # uint8: bit set above
    tenure: np.ndarray  # uint8: OWN / RENT / PUBLIC_RENTAL / DORM
    months_here: np.ndarray  # uint8: months at the current place, capped at 255
    event: np.ndarray  # uint8: events of the last month
    # the family link (read only where flags has KIN; sim.kernel.family)
    parent_row: np.ndarray  # int32: the parents' row of a household formed by a leaver; -1 otherwise
    kin_place: np.ndarray  # int16: where the linked household lived at the last turn of the year (a leaver's
    #   parents; else the parents' latest leaver) or at the leaving; -1: none, or no longer alive
    remittance_in: np.ndarray  # float32: yuan/month the parents' household receives from its leavers living
    #   elsewhere, as of the last turn of the year (what they send is out of the leavers' own earnings)

    @property
    def n(self) -> int:
        return len(self.place)

    def size(self) -> np.ndarray:
        return self.n_child.astype(np.int32) + self.n_adult + self.n_old

    def copy(self) -> "Households":
        return Households(*(a.copy() for a in self))

    def grown(self, k: int) -> "Households":
        """The same households with k empty rows appended (size 0: the rule skips them).

        The rows are views of the first n rows of larger zeroed buffers where there is room (then growing
        copies nothing: the rows past n were never written, so they are still zero); otherwise the buffers
        are reallocated with a quarter to spare. A zeroed buffer's untouched pages take no memory."""
        n = self.n
        if all(_spare_rows(a) >= k for a in self):
            return Households(*(a.base[: n + k] for a in self))
        capacity = n + k + (n + k) // 4
        out = []
        for a in self:
            buffer = np.zeros(capacity, a.dtype)
            buffer[:n] = a
            out.append(buffer[: n + k])
        return Households(*out)

    def nbytes_per_household(self) -> int:
        return sum(a.itemsize for a in self)


# fmt: off
# the fields the monthly rule reads and writes for every household
STREAMED = dict(origin=np.uint8, place=np.int16, hukou=np.int16, n_child=np.uint8, n_adult=np.uint8, n_old=np.uint8,
                head_age=np.uint8, skill=np.uint8, flags=np.uint8, tenure=np.uint8, months_here=np.uint8,
                event=np.uint8)
# fmt: on
FAMILY = dict(parent_row=np.int32, kin_place=np.int16, remittance_in=np.float32)
DTYPES = {**STREAMED, **FAMILY}
BYTES_PER_HOUSEHOLD = sum(np.dtype(t).itemsize for t in DTYPES.values())  # memory: all state
BYTES_STREAMED_PER_HOUSEHOLD = sum(np.dtype(t).itemsize for t in STREAMED.values())  # a month's pass


def empty(n: int, spare: int = 0) -> Households:
    """n households with no members and no family link, each array the first n rows of a zeroed buffer with
    `spare` rows more: the households formed later (`grown`) fill them without a copy of the state, and the
    spare rows' pages take no memory until they are written."""
    h = Households(**{k: np.zeros(n + spare, dtype=t)[:n] for k, t in DTYPES.items()})
    h.parent_row[:] = -1
    h.kin_place[:] = -1
    return h


def _spare_rows(a: np.ndarray) -> int:
    """Rows of zeroed buffer left after `a`, when `a` is the first rows of a 1-D buffer (made by `grown`)."""
    base = a.base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or base.dtype != a.dtype:
        return 0
    if a.__array_interface__["data"][0] != base.__array_interface__["data"][0]:
        return 0
    return base.shape[0] - a.shape[0]
