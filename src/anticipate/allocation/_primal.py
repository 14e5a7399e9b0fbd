"""Primal repair and greedy fill: a feasible integer plan from a best response (see :mod:`._kernels`).

Plain bodies ``_name_body`` (helpers ``_name_py``), compiled twins ``_name_jit`` (``_name``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from anticipate.allocation._dual import _kth_largest
from anticipate.allocation._heap import _swap, heap_pop, heap_push, heapify

ROOM = 1.0 + 1e-12  # relative slack on capacity checks (floating sums of volumes)


DEFER_MIN = 4096  # heaps of more entries than this take the best eighth (by key) first


def _split_best_py(
    keys: np.ndarray, ids: np.ndarray, n: int, buf: np.ndarray, take: int
) -> tuple[int, float]:
    """Move the entries of the ``take`` lowest keys (all ties at the cut) to the front: (their count, cut).

    A consumer heaps only the front, and adds the rest once its heap's best key is
    above the cut (or it is empty): every pop comes in the same order as from one heap
    of all ``n``. ``buf`` is scratch of ``n`` slots.
    """
    for i in range(n):
        buf[i] = -keys[i]
    cut = -_kth_largest(buf, n, take, -keys[0])
    i, j = 0, n
    while i < j:
        if keys[i] <= cut:
            i += 1
        else:
            j -= 1
            _swap(keys, ids, i, j)
    return i, cut


_split_best = njit(cache=True, nogil=True)(_split_best_py)


def _repair_py(
    x: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_s: np.ndarray,
    cells: np.ndarray,
    vol: np.ndarray,
    cap: float,
    used: float,
    keys: np.ndarray,
    ids: np.ndarray,
    nu: np.ndarray,
    buf: np.ndarray,
) -> float:
    """In one over-full warehouse (its ``cells``), drop the lowest ``(m - nu_s) / v`` units until it fits.

    ``nu_s`` is the SKU's supply price (0 when supply does not bind): a dropped unit of a
    supply-bound SKU frees a unit the fill can place elsewhere, so it only loses ``m - nu_s``.
    Only the last taken unit of a cell can go (cells stay prefixes), so a heap over the
    warehouse's cells (ties to the lower cell index) serves the drops in order (the
    lowest eighth first, :func:`_split_best_py`). ``keys``/``ids``/``buf`` are the
    warehouse's own scratch. Returns the volume now used.
    """
    if used <= cap * ROOM:
        return used
    n = 0
    for c in cells:
        if x[c] > 0:
            keys[n], ids[n] = (val[cell_ptr[c] + x[c] - 1] - nu[cell_s[c]]) / vol[cell_s[c]], c
            n += 1
    total, cut = n, np.inf
    if n > DEFER_MIN:
        n, cut = _split_best(keys, ids, n, buf, n // 8)
    deferred = n
    heapify(keys, ids, n)
    while used > cap * ROOM:
        if deferred < total and (n == 0 or keys[0] > cut):
            for i in range(deferred, total):  # their cells lost no unit yet: keys still hold
                n = heap_push(keys, ids, n, keys[i], ids[i])
            deferred = total
        if n == 0:
            break
        c = ids[0]
        n = heap_pop(keys, ids, n)
        x[c] -= 1
        used -= vol[cell_s[c]]
        if x[c] > 0:
            n = heap_push(keys, ids, n, (val[cell_ptr[c] + x[c] - 1] - nu[cell_s[c]]) / vol[cell_s[c]], c)
    return used


_repair = njit(cache=True, nogil=True)(_repair_py)


def _fill_key_py(
    val: np.ndarray, cell_ptr: np.ndarray, vol: np.ndarray, lam: np.ndarray, nu: np.ndarray, x: int, c: int,
    w: int, s: int,
) -> float:
    """Heap key of cell ``c``'s next unit: minus its reduced value per volume ``(m - nu_s) / v_s - lam_w``."""
    return lam[w] - (val[cell_ptr[c] + x] - nu[s]) / vol[s]


_fill_key = njit(cache=True, nogil=True, inline="always")(_fill_key_py)


def _next_chunk_py(
    keys: np.ndarray, ids: np.ndarray, n: int, deferred: int, total: int, cell_w: np.ndarray,
    cell_s: np.ndarray, vol: np.ndarray, cap: np.ndarray, supply: np.ndarray, used: np.ndarray,
    count: np.ndarray, buf: np.ndarray, step: int,
) -> tuple[int, int, float, int]:
    """The fill's next deferred entries onto its heap: (deferred, total, cut, heap size) after.

    The deferred entries ``deferred:total`` that can no longer take a unit leave for good
    (rooms only shrink, counts only grow); of the rest, the best ``step`` by key (all
    when at most ``step`` are left) join the heap, the others wait above the new cut. So
    a cell is heaped only if it still fits when the pops reach its key, and the pops
    come in the order of one heap.
    """
    m = deferred
    for i in range(deferred, total):
        c = ids[i]
        w, s = cell_w[c], cell_s[c]
        if count[s] < supply[s] and used[w] + vol[s] <= cap[w] * ROOM:
            keys[m], ids[m] = keys[i], c
            m += 1
    total, got, cut = m, m - deferred, np.inf
    if got > step:
        got, cut = _split_best(keys[deferred:total], ids[deferred:total], got, buf, step)
    for i in range(deferred, deferred + got):  # the heap ends at n <= deferred: pushes never overwrite
        n = heap_push(keys, ids, n, keys[i], ids[i])
    return deferred + got, total, cut, n


_next_chunk = njit(cache=True, nogil=True)(_next_chunk_py)


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
    lam: np.ndarray,
    nu: np.ndarray,
    buf: np.ndarray,
) -> None:
    """Add, while room and supply allow, the next unit of highest reduced value per volume.

    Reduced by the prices ``lam`` (per volume, per warehouse) and ``nu`` (per unit, per
    SKU) of the best response being repaired; zeros rank by ``m / v``. A heap holds
    each cell's next unit; a cell whose unit no longer fits leaves it (its later units
    have the same volume and less value). Ties go to the lower cell. Most candidates
    never fit, so with many of them only the best eighth is heaped at first
    (:func:`_split_best_py`); the rest join in chunks of as many, those still eligible
    (:func:`_next_chunk_py`), so the rest is scanned at most eight times. ``buf``:
    scratch of one slot per cell.
    """
    n = 0
    for c in range(x.shape[0]):
        w, s = cell_w[c], cell_s[c]
        if (
            cell_ptr[c] + x[c] < cell_ptr[c + 1]
            and count[s] < supply[s]
            and used[w] + vol[s] <= cap[w] * ROOM
        ):
            keys[n], ids[n] = _fill_key(val, cell_ptr, vol, lam, nu, x[c], c, w, s), c
            n += 1
    total, cut, step = n, np.inf, max(n // 8, DEFER_MIN)
    if n > DEFER_MIN:
        n, cut = _split_best(keys, ids, n, buf, n // 8)
    deferred = n
    heapify(keys, ids, n)
    while True:
        if deferred < total and (n == 0 or keys[0] > cut):
            deferred, total, cut, n = _next_chunk(
                keys, ids, n, deferred, total, cell_w, cell_s, vol, cap, supply, used, count, buf, step
            )
        if n == 0:
            return
        c = ids[0]
        n = heap_pop(keys, ids, n)
        w, s = cell_w[c], cell_s[c]
        if count[s] >= supply[s] or used[w] + vol[s] > cap[w] * ROOM:
            continue
        x[c] += 1
        used[w] += vol[s]
        count[s] += 1
        if cell_ptr[c] + x[c] < cell_ptr[c + 1]:
            n = heap_push(keys, ids, n, _fill_key(val, cell_ptr, vol, lam, nu, x[c], c, w, s), c)


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
    lam: np.ndarray,
    nu: np.ndarray,
    reduced_fill: bool,
    buf: np.ndarray,
) -> None:
    """Make the counts ``x`` (within supply) feasible in place; with ``fill`` then fill greedily.

    The repair runs in parallel over warehouses (``prange``), each on its own cells, so
    the result does not depend on threads; the fill is one global heap (serial).
    ``keys``/``ids``/``buf`` are scratch of one slot per cell; ``lam`` (per warehouse)
    and ``nu`` (per SKU) the prices of the best response behind ``x``. ``nu`` ranks the
    repair's drops; with ``reduced_fill`` both rank the fill's additions, else the fill
    goes by value per volume (zero prices rank the drops that way too).
    """
    used = np.zeros(cap.shape[0])
    for c in range(x.shape[0]):
        used[cell_w[c]] += x[c] * vol[cell_s[c]]
    for w in prange(cap.shape[0]):  # warehouses are independent: each writes its own cells and scratch
        lo, hi = wh_ptr[w], wh_ptr[w + 1]
        used[w] = _repair(
            x, val, cell_ptr, cell_s, wh_cells[lo:hi], vol, cap[w], used[w], keys[lo:hi], ids[lo:hi], nu,
            buf[lo:hi],
        )
    if fill:
        count = np.zeros(supply.shape[0], dtype=np.int64)
        for c in range(x.shape[0]):
            count[cell_s[c]] += x[c]
        if not reduced_fill:
            lam, nu = np.zeros(cap.shape[0]), np.zeros(supply.shape[0])
        _fill(x, val, cell_ptr, cell_w, cell_s, vol, cap, supply, used, count, keys, ids, lam, nu, buf)


_repair_fill_jit = njit(cache=True, nogil=True, parallel=True)(_repair_fill_body)


def _load_cell_py(
    x: np.ndarray, val: np.ndarray, cell_ptr: np.ndarray, c: int, i: int, last: np.ndarray, nxt: np.ndarray
) -> None:
    """Swap slot ``i`` from cell ``c``: last taken value (``nan``: none), next value (``-inf``: none)."""
    lo, k = cell_ptr[c], x[c]
    last[i] = val[lo + k - 1] if k > 0 else np.nan
    nxt[i] = val[lo + k] if lo + k < cell_ptr[c + 1] else -np.inf


_load_cell = njit(cache=True, nogil=True)(_load_cell_py)


def _best_swap_py(
    last: np.ndarray, nxt: np.ndarray, vols: np.ndarray, cells: np.ndarray, cell_s: np.ndarray, room: float,
    supply: np.ndarray, count: np.ndarray,
) -> tuple[int, int, float]:
    """In one warehouse (its ``cells``, slots alike), the best swap: drop ``a``'s last unit, add ``b``'s next.

    ``a`` is the taken unit of lowest value per volume; ``b`` any slot whose next unit
    fits in ``room`` (free volume) plus ``a``'s volume, within its SKU's supply.
    Returns slots (a, b, gain), gain <= 0 when no swap helps (ties: the lowest slot).
    """
    a, worst = -1, np.inf
    for i in range(cells.shape[0]):
        ratio = last[i] / vols[i]
        if ratio < worst:  # False for nan: nothing taken
            a, worst = i, ratio
    if a < 0:
        return -1, -1, 0.0
    m_a, fits = last[a], (room + vols[a]) * ROOM
    b, gain = -1, 0.0
    for i in range(cells.shape[0]):
        g = nxt[i] - m_a
        if g > gain and i != a and vols[i] <= fits and count[cell_s[cells[i]]] < supply[cell_s[cells[i]]]:
            b, gain = i, g
    return a, b, gain


_best_swap = njit(cache=True, nogil=True)(_best_swap_py)


def _swap_pass_body(
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
    rounds: int,
) -> int:
    """Local improvement of a feasible plan in place: per warehouse, up to ``rounds`` value-raising swaps.

    Each swap (see :func:`_best_swap_py`) keeps capacity and supply feasible and raises
    the objective by its gain (> 1e-12 relative), so the plan never gets worse. First
    one pass in memory order copies every cell's last and next values and volume to
    its warehouse's slots (``wh_cells`` order: a warehouse's ``k``-th cell in index
    order), so the rounds scan contiguous memory. Returns the number of swaps made.
    """
    used = np.zeros(cap.shape[0])
    count = np.zeros(supply.shape[0], dtype=np.int64)
    last, nxt, vols = np.empty(x.shape[0]), np.empty(x.shape[0]), np.empty(x.shape[0])
    slot = wh_ptr[:-1].copy()
    for c in range(x.shape[0]):
        w, s = cell_w[c], cell_s[c]
        used[w] += x[c] * vol[s]
        count[s] += x[c]
        vols[slot[w]] = vol[s]
        _load_cell(x, val, cell_ptr, c, slot[w], last, nxt)
        slot[w] += 1
    swaps = 0
    for w in range(cap.shape[0]):
        lo, hi = wh_ptr[w], wh_ptr[w + 1]
        cells = wh_cells[lo:hi]
        for _ in range(rounds):
            a, b, gain = _best_swap(last[lo:hi], nxt[lo:hi], vols[lo:hi], cells, cell_s, cap[w] - used[w],
                                    supply, count)
            if b < 0 or gain <= 1e-12 * abs(last[lo + a]):
                break
            ca, cb = cells[a], cells[b]
            x[ca] -= 1
            x[cb] += 1
            count[cell_s[ca]] -= 1
            count[cell_s[cb]] += 1
            used[w] += vols[lo + b] - vols[lo + a]
            swaps += 1
            _load_cell(x, val, cell_ptr, ca, lo + a, last, nxt)
            _load_cell(x, val, cell_ptr, cb, lo + b, last, nxt)
    return swaps


_swap_pass_jit = njit(cache=True, nogil=True)(_swap_pass_body)


def repair_fill(
    x: np.ndarray,
    arrays: tuple[np.ndarray, ...],
    keys: np.ndarray,
    ids: np.ndarray,
    lam: np.ndarray,
    nu: np.ndarray,
    buf: np.ndarray,
    *,
    fill: bool = True,
    reduced_fill: bool = True,
    jit: bool = True,
) -> None:
    """Make the counts ``x`` feasible in place (repair), then, with ``fill``, fill greedily.

    ``arrays`` are the nine arrays of ``Units.primal_arrays()``; ``lam`` (currency per
    volume, per warehouse) and ``nu`` (currency per unit, per SKU) rank the moves; see
    :func:`_repair_fill_body`.
    """
    fn = _repair_fill_jit if jit else _repair_fill_body
    fn(x, *arrays, keys, ids, fill, lam, nu, reduced_fill, buf)


def swap_pass(x: np.ndarray, arrays: tuple[np.ndarray, ...], rounds: int, *, jit: bool = True) -> int:
    """Value-raising swaps within each warehouse, in place; returns how many (see :func:`_swap_pass_body`)."""
    return int((_swap_pass_jit if jit else _swap_pass_body)(x, *arrays, rounds))
