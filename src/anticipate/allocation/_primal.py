"""Primal repair and greedy fill: a feasible integer plan from a best response (see :mod:`._kernels`).

Plain bodies ``_name_body`` (helpers ``_name_py``), compiled twins ``_name_jit`` (``_name``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from anticipate.allocation._heap import heap_pop, heap_push, heapify

ROOM = 1.0 + 1e-12  # relative slack on capacity checks (floating sums of volumes)


def _repair_py(
    x: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_s: np.ndarray,
    wh_cells: np.ndarray,
    wh_ptr: np.ndarray,
    vol: np.ndarray,
    cap: np.ndarray,
    used: np.ndarray,
    count: np.ndarray,
    keys: np.ndarray,
    ids: np.ndarray,
) -> None:
    """Per over-full warehouse, drop the taken unit with the lowest ``m / v`` until it fits.

    ``wh_cells[wh_ptr[w]:wh_ptr[w + 1]]`` are warehouse ``w``'s cells. Only the last
    taken unit of a cell can go (cells stay prefixes), so a heap over the warehouse's
    cells (ties to the lower cell index) serves the drops in order. Updates ``used``
    (volume per warehouse) and ``count`` (units per SKU).
    """
    for w in range(cap.shape[0]):
        if used[w] <= cap[w] * ROOM:
            continue
        n = 0
        for j in range(wh_ptr[w], wh_ptr[w + 1]):
            c = wh_cells[j]
            if x[c] > 0:
                keys[n], ids[n] = val[cell_ptr[c] + x[c] - 1] / vol[cell_s[c]], c
                n += 1
        heapify(keys, ids, n)
        while n > 0 and used[w] > cap[w] * ROOM:
            c = ids[0]
            n = heap_pop(keys, ids, n)
            x[c] -= 1
            used[w] -= vol[cell_s[c]]
            count[cell_s[c]] -= 1
            if x[c] > 0:
                n = heap_push(keys, ids, n, val[cell_ptr[c] + x[c] - 1] / vol[cell_s[c]], c)


_repair = njit(cache=True, nogil=True)(_repair_py)


def _fill_py(
    x: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    cell_s: np.ndarray,
    vol: np.ndarray,
    cap: np.ndarray,
    supply: np.ndarray,
    used: np.ndarray,
    count: np.ndarray,
    keys: np.ndarray,
    ids: np.ndarray,
) -> None:
    """Add, while room and supply allow, the next unit with the highest ``m / v`` (a feasible ``x`` stays so).

    A heap holds each cell's next unit; a cell whose unit no longer fits leaves it
    (its later units have the same volume and less value). Ties go to the lower cell.
    """
    n = 0
    for c in range(x.shape[0]):
        w, s = cell_w[c], cell_s[c]
        if (
            cell_ptr[c] + x[c] < cell_ptr[c + 1]
            and count[s] < supply[s]
            and used[w] + vol[s] <= cap[w] * ROOM
        ):
            keys[n], ids[n] = -val[cell_ptr[c] + x[c]] / vol[s], c
            n += 1
    heapify(keys, ids, n)
    while n > 0:
        c = ids[0]
        n = heap_pop(keys, ids, n)
        w, s = cell_w[c], cell_s[c]
        if count[s] >= supply[s] or used[w] + vol[s] > cap[w] * ROOM:
            continue
        x[c] += 1
        used[w] += vol[s]
        count[s] += 1
        if cell_ptr[c] + x[c] < cell_ptr[c + 1]:
            n = heap_push(keys, ids, n, -val[cell_ptr[c] + x[c]] / vol[s], c)


_fill = njit(cache=True, nogil=True)(_fill_py)


def _repair_fill_body(
    x: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    cell_s: np.ndarray,
    wh_cells: np.ndarray,
    wh_ptr: np.ndarray,
    vol: np.ndarray,
    cap: np.ndarray,
    supply: np.ndarray,
    keys: np.ndarray,
    ids: np.ndarray,
    fill: bool,
) -> None:
    """Make the counts ``x`` (within supply) feasible in place; with ``fill`` then fill greedily by m / v.

    ``keys``/``ids`` are scratch of one slot per cell.
    """
    used = np.zeros(cap.shape[0])
    count = np.zeros(supply.shape[0], dtype=np.int64)
    for c in range(x.shape[0]):
        used[cell_w[c]] += x[c] * vol[cell_s[c]]
        count[cell_s[c]] += x[c]
    _repair(x, val, cell_ptr, cell_s, wh_cells, wh_ptr, vol, cap, used, count, keys, ids)
    if fill:
        _fill(x, val, cell_ptr, cell_w, cell_s, vol, cap, supply, used, count, keys, ids)


_repair_fill_jit = njit(cache=True, nogil=True)(_repair_fill_body)
