"""A binary min-heap on (key, id) pairs in two flat arrays, for the Numba kernels.

Order is lexicographic: the smaller key first, the smaller id on equal keys, so
every pop sequence is deterministic. ``n`` is the heap's current size; push and pop
return the new size. Each ``name`` is ``name_py`` compiled with Numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _less_py(keys: np.ndarray, ids: np.ndarray, i: int, j: int) -> bool:
    return keys[i] < keys[j] or (keys[i] == keys[j] and ids[i] < ids[j])


_less = njit(cache=True, nogil=True, inline="always")(_less_py)


def _swap_py(keys: np.ndarray, ids: np.ndarray, i: int, j: int) -> None:
    keys[i], keys[j] = keys[j], keys[i]
    ids[i], ids[j] = ids[j], ids[i]


_swap = njit(cache=True, nogil=True, inline="always")(_swap_py)


def sift_down_py(keys: np.ndarray, ids: np.ndarray, n: int, i: int) -> None:
    """Move entry ``i`` down until both children are larger."""
    while True:
        left = 2 * i + 1
        if left >= n:
            return
        child = left
        if left + 1 < n and _less(keys, ids, left + 1, left):
            child = left + 1
        if not _less(keys, ids, child, i):
            return
        _swap(keys, ids, i, child)
        i = child


sift_down = njit(cache=True, nogil=True)(sift_down_py)


def heapify_py(keys: np.ndarray, ids: np.ndarray, n: int) -> None:
    """Arrange ``keys[:n], ids[:n]`` as a heap in O(n)."""
    for i in range(n // 2 - 1, -1, -1):
        sift_down(keys, ids, n, i)


heapify = njit(cache=True, nogil=True)(heapify_py)


def heap_push_py(keys: np.ndarray, ids: np.ndarray, n: int, key: float, ident: int) -> int:
    """Add (key, ident) to the heap of size ``n``; returns ``n + 1`` (the arrays must have room)."""
    keys[n], ids[n] = key, ident
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if not _less(keys, ids, i, parent):
            break
        _swap(keys, ids, i, parent)
        i = parent
    return n + 1


heap_push = njit(cache=True, nogil=True)(heap_push_py)


def heap_pop_py(keys: np.ndarray, ids: np.ndarray, n: int) -> int:
    """Remove the smallest entry (read ``keys[0], ids[0]`` first); returns ``n - 1``."""
    n -= 1
    keys[0], ids[0] = keys[n], ids[n]
    sift_down(keys, ids, n, 0)
    return n


heap_pop = njit(cache=True, nogil=True)(heap_pop_py)
