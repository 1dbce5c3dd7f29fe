"""Serial compiled passes run in Python threads over parts of their rows (the compiled functions release
the GIL). For passes whose result does not depend on how the rows are split: each part writes its own
rows and its own totals, added up (integers) or joined in order after."""

from concurrent.futures import ThreadPoolExecutor

import numba


def parts(n: int, min_rows: int) -> list[tuple[int, int]]:
    """(start, stop) of contiguous parts of range(n): one per numba thread, none smaller than min_rows."""
    k = max(1, min(numba.get_num_threads(), n // max(min_rows, 1)))
    bounds = [n * j // k for j in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def map_parts(fn, ranges: list[tuple[int, int]]) -> list:
    """[fn(start, stop) for each part], the parts in threads of their own; results in the parts' order."""
    if len(ranges) == 1:
        return [fn(*ranges[0])]
    with ThreadPoolExecutor(len(ranges)) as pool:
        return list(pool.map(lambda r: fn(*r), ranges))


def map_threads(fn, items: list, threads: int | None = None) -> list:
    """[fn(x) for x in items] in up to `threads` (numba's thread count) threads; results in order. For
    numpy work that releases the GIL (copies, gathers)."""
    k = min(len(items), threads or numba.get_num_threads())
    if k <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(k) as pool:
        return list(pool.map(fn, items))
