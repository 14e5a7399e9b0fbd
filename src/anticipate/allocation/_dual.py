"""Best responses to capacity prices: the exact per-SKU selection behind the Lagrangian bound.

Layout as in :mod:`._kernels`. For prices ``lam`` a unit's reduced value is
``r = m - lam_w v_s``; SKU ``s`` takes its ``supply`` best units of positive ``r``:
all units with ``r > nu_s`` plus ties at ``nu_s`` (lowest cell first), where the
supply price ``nu_s`` is the ``supply``-th best ``r`` (0 when supply does not bind).
The cold kernel finds ``nu_s`` by quickselect; the warm kernel starts from the
previous counts and ``nu_s`` and moves only the few units near the threshold (a
heap over the SKU's cells), so an iteration costs about a pass over the cells, not
the units. Both give the same counts. Plain bodies ``_name_body`` / ``_name_py``,
compiled twins ``_name_jit`` / ``_name``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from anticipate.allocation._heap import heap_pop, heap_push, heapify


def _partition3_py(buf: np.ndarray, lo: int, hi: int, pivot: float) -> tuple[int, int]:
    """Dutch-flag partition of ``buf[lo:hi]``: (> pivot) at [lo, a), (== pivot) at [a, b), (< pivot) after."""
    a, i, b = lo, lo, hi
    while i < b:
        x = buf[i]
        if x > pivot:
            buf[i], buf[a] = buf[a], x
            a += 1
            i += 1
        elif x < pivot:
            b -= 1
            buf[i], buf[b] = buf[b], x
        else:
            i += 1
    return a, b


_partition3 = njit(cache=True, nogil=True)(_partition3_py)


def _kth_largest_py(buf: np.ndarray, n: int, k: int, guess: float) -> float:
    """The k-th largest (1-based) of ``buf[:n]``; reorders ``buf`` so its k largest lead.

    Quickselect whose first pivot is ``guess`` (the previous iteration's threshold,
    usually within a few values of the answer), then the median of three.
    """
    lo, hi, pivot = 0, n, guess
    while True:
        a, b = _partition3(buf, lo, hi, pivot)
        if k <= a:
            hi = a
        elif k <= b:
            return pivot
        else:
            lo = b
        x, y, z = buf[lo], buf[(lo + hi - 1) // 2], buf[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))


_kth_largest = njit(cache=True, nogil=True)(_kth_largest_py)


def _cut_at_py(
    lam: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    c0: int,
    c1: int,
    v: float,
    x: np.ndarray,
    take: int,
    threshold: float,
) -> None:
    """Keep units with ``r > threshold`` in cells ``c0:c1``, then ties (lowest cell first) up to ``take``."""
    left = take
    for c in range(c0, c1):
        t = lam[cell_w[c]] * v
        k = 0
        while k < x[c] and val[cell_ptr[c] + k] - t > threshold:
            k += 1
        x[c] = k
        left -= k
    for c in range(c0, c1):
        t = lam[cell_w[c]] * v
        while left > 0 and x[c] < cell_ptr[c + 1] - cell_ptr[c] and val[cell_ptr[c] + x[c]] - t == threshold:
            x[c] += 1
            left -= 1


_cut_at = njit(cache=True, nogil=True)(_cut_at_py)


def _cold_sku_py(
    lam: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    c0: int,
    c1: int,
    v: float,
    supply: int,
    guess: float,
    x: np.ndarray,
    buf: np.ndarray,
) -> tuple[float, float]:
    """One SKU's exact best response (cells ``c0:c1``): (its taken reduced value, its supply price)."""
    n = 0
    for c in range(c0, c1):
        t = lam[cell_w[c]] * v
        k = cell_ptr[c]
        while k < cell_ptr[c + 1] and val[k] - t > 0.0:
            buf[n] = val[k] - t
            n += 1
            k += 1
        x[c] = k - cell_ptr[c]
    nu = 0.0
    if supply == 0:
        for c in range(c0, c1):
            x[c] = 0
        n = 0
    elif n > supply:
        nu = _kth_largest(buf, n, supply, guess)
        _cut_at(lam, val, cell_ptr, cell_w, c0, c1, v, x, supply, nu)
        n = supply
    total = 0.0
    for i in range(n):
        total += buf[i]
    return total, nu


_cold_sku = njit(cache=True, nogil=True)(_cold_sku_py)


def _volume_used_py(
    x: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray, vol: np.ndarray, used: np.ndarray
) -> None:
    """``used[w]``: the volume the counts ``x`` take per warehouse (serial: reproducible sums)."""
    used[:] = 0.0
    for s in range(sku_ptr.shape[0] - 1):
        for c in range(sku_ptr[s], sku_ptr[s + 1]):
            used[cell_w[c]] += x[c] * vol[s]


_volume_used = njit(cache=True, nogil=True)(_volume_used_py)


SKU_CHUNKS = 16  # SKUs run in this many contiguous chunks in parallel, each with its own scratch


def _widest_py(cell_ptr: np.ndarray, sku_ptr: np.ndarray) -> int:
    """The most units any one SKU has (the size of a selection scratch)."""
    widest = 0
    for s in range(sku_ptr.shape[0] - 1):
        widest = max(widest, cell_ptr[sku_ptr[s + 1]] - cell_ptr[sku_ptr[s]])
    return widest


_widest = njit(cache=True, nogil=True)(_widest_py)


def _cold_body(
    lam: np.ndarray, val: np.ndarray, cell_ptr: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray,
    vol: np.ndarray, supply: np.ndarray, nu: np.ndarray, x: np.ndarray, used: np.ndarray,
) -> float:
    """Exact best response to capacity prices ``lam``: per SKU, its ``supply`` best positive reduced units.

    A unit's reduced value is ``m - lam_w v_s``. Writes the counts ``x`` per cell,
    the volume ``used`` per warehouse and the threshold ``nu`` per SKU (the supply
    price: the ``supply``-th best reduced value, 0 when supply does not bind; on
    entry it is the first pivot). Ties at ``nu`` go to the lower cell index. Returns
    ``sum_s`` of the taken reduced values. SKUs run in ``SKU_CHUNKS`` chunks in
    parallel (``prange``), each with a scratch of the largest SKU's unit count (not
    one slot per unit: hundreds of MB at 200 x 50,000), and the per-SKU sums are added
    serially (the result does not depend on threads).
    """
    n_sku = sku_ptr.shape[0] - 1
    part = np.zeros(n_sku)
    widest = _widest(cell_ptr, sku_ptr)
    for k in prange(SKU_CHUNKS):
        buf = np.empty(widest)
        for s in range(n_sku * k // SKU_CHUNKS, n_sku * (k + 1) // SKU_CHUNKS):
            c0, c1 = sku_ptr[s], sku_ptr[s + 1]
            part[s], nu[s] = _cold_sku(lam, val, cell_ptr, cell_w, c0, c1, vol[s], supply[s], nu[s], x, buf)
    _volume_used(x, cell_w, sku_ptr, vol, used)
    total = 0.0
    for s in range(n_sku):
        total += part[s]
    return total


_cold_jit = njit(cache=True, nogil=True, parallel=True)(_cold_body)


def _drop_worst_py(
    lam: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    c0: int,
    c1: int,
    v: float,
    x: np.ndarray,
    extra: int,
    keys: np.ndarray,
    ids: np.ndarray,
) -> tuple[float, float]:
    """Drop the ``extra`` worst taken units of cells ``c0:c1`` (ties: the higher cell first).

    Returns (the last r dropped, the sum of the r dropped).
    """
    n = 0
    for c in range(c0, c1):
        if x[c] > 0:
            keys[n], ids[n] = val[cell_ptr[c] + x[c] - 1] - lam[cell_w[c]] * v, c1 - c
            n += 1
    heapify(keys, ids, n)
    last, dropped = 0.0, 0.0
    while extra > 0:
        last, c = keys[0], c1 - ids[0]
        dropped += last
        n = heap_pop(keys, ids, n)
        x[c] -= 1
        extra -= 1
        if x[c] > 0:
            n = heap_push(keys, ids, n, val[cell_ptr[c] + x[c] - 1] - lam[cell_w[c]] * v, c1 - c)
    return last, dropped


_drop_worst = njit(cache=True, nogil=True)(_drop_worst_py)


def _add_best_py(
    lam: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    c0: int,
    c1: int,
    v: float,
    x: np.ndarray,
    missing: int,
    keys: np.ndarray,
    ids: np.ndarray,
) -> tuple[float, float]:
    """Add up to ``missing`` best untaken positive units of cells ``c0:c1`` (ties: the lower cell first).

    Returns (the last r added when all ``missing`` were added, the new supply price,
    else 0; the sum of the r added).
    """
    n = 0
    for c in range(c0, c1):
        if cell_ptr[c] + x[c] < cell_ptr[c + 1]:
            r = val[cell_ptr[c] + x[c]] - lam[cell_w[c]] * v
            if r > 0.0:
                keys[n], ids[n] = -r, c
                n += 1
    heapify(keys, ids, n)
    last, added = 0.0, 0.0
    while missing > 0 and n > 0:
        last, c = -keys[0], ids[0]
        added += last
        n = heap_pop(keys, ids, n)
        x[c] += 1
        missing -= 1
        if cell_ptr[c] + x[c] < cell_ptr[c + 1]:
            r = val[cell_ptr[c] + x[c]] - lam[cell_w[c]] * v
            if r > 0.0:
                n = heap_push(keys, ids, n, -r, c)
    return (last if missing == 0 else 0.0), added


_add_best = njit(cache=True, nogil=True)(_add_best_py)


def _warm_sku_py(
    lam: np.ndarray,
    val: np.ndarray,
    pre: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    c0: int,
    c1: int,
    v: float,
    supply: int,
    nu: float,
    x: np.ndarray,
    keys: np.ndarray,
    ids: np.ndarray,
    buf: np.ndarray,
) -> tuple[float, float]:
    """One SKU's best response from its previous counts and price: (taken reduced value, new supply price).

    ``keys``/``ids`` are the SKU's own scratch (``c1 - c0`` slots), ``buf`` (at least one
    slot per unit of the SKU) that of :func:`_cold_sku_py`, which answers instead when more units
    must move than the SKU has cells (a quickselect beats that many heap moves).
    """
    threshold = nu if supply > 0 else np.inf
    total, count = 0.0, 0
    for c in range(c0, c1):
        t, k, start = lam[cell_w[c]] * v, x[c], cell_ptr[c]
        while k > 0 and val[start + k - 1] - t <= threshold:
            k -= 1
        while start + k < cell_ptr[c + 1] and val[start + k] - t > threshold:
            k += 1
        x[c] = k
        if k > 0:
            count += k
            total += pre[start + k - 1] - k * t
    if abs(count - supply) > c1 - c0 and (count > supply or threshold > 0.0):
        return _cold_sku(lam, val, cell_ptr, cell_w, c0, c1, v, supply, nu, x, buf)
    if count > supply:
        nu, delta = _drop_worst(lam, val, cell_ptr, cell_w, c0, c1, v, x, count - supply, keys, ids)
        total -= delta
    elif count < supply and threshold > 0.0:
        nu, delta = _add_best(lam, val, cell_ptr, cell_w, c0, c1, v, x, supply - count, keys, ids)
        total += delta
    return total, nu


_warm_sku = njit(cache=True, nogil=True)(_warm_sku_py)


def _warm_body(
    lam: np.ndarray,
    val: np.ndarray,
    pre: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    sku_ptr: np.ndarray,
    vol: np.ndarray,
    supply: np.ndarray,
    nu: np.ndarray,
    x: np.ndarray,
    used: np.ndarray,
    keys: np.ndarray,
    ids: np.ndarray,
) -> float:
    """The best response of :func:`_cold_body`, from the previous counts ``x`` and prices ``nu``.

    Per SKU: move each cell's count to the units with ``r > nu_s`` (a few steps when
    prices moved a little), then drop the worst or add the best units until exactly
    ``supply`` are taken (or every positive one). ``pre`` are the per-cell prefix
    sums of ``val``, so a cell's taken value is ``pre - x lam_w v``. Returns the
    SKU part of ``L(lam)``; writes ``x``, ``used`` and ``nu`` as the cold kernel does.
    SKUs run in chunks in parallel as in :func:`_cold_body` (SKU ``s`` uses the
    ``keys``/``ids`` slots of its own cells), per-SKU sums are added serially, so the
    result does not depend on threads.
    """
    n_sku = sku_ptr.shape[0] - 1
    part = np.zeros(n_sku)
    widest = _widest(cell_ptr, sku_ptr)
    for k in prange(SKU_CHUNKS):
        buf = np.empty(widest)
        for s in range(n_sku * k // SKU_CHUNKS, n_sku * (k + 1) // SKU_CHUNKS):
            c0, c1 = sku_ptr[s], sku_ptr[s + 1]
            part[s], nu[s] = _warm_sku(
                lam, val, pre, cell_ptr, cell_w, c0, c1, vol[s], supply[s], nu[s], x, keys[c0:c1], ids[c0:c1],
                buf,
            )
    _volume_used(x, cell_w, sku_ptr, vol, used)
    total = 0.0
    for s in range(n_sku):
        total += part[s]
    return total


_warm_jit = njit(cache=True, nogil=True, parallel=True)(_warm_body)



def cold_response(
    lam: np.ndarray, val: np.ndarray, cell_ptr: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray,
    vol: np.ndarray, supply: np.ndarray, nu: np.ndarray, x: np.ndarray, used: np.ndarray,
    *, jit: bool = True,
) -> float:
    """The exact best response to capacity prices ``lam`` (currency per volume) from scratch.

    Writes counts ``x`` (units per cell), ``used`` (volume per warehouse) and ``nu``
    (supply price per SKU, currency); returns the SKU part of ``L(lam)`` (currency).
    See :func:`_cold_body`.
    """
    fn = _cold_jit if jit else _cold_body
    return float(fn(lam, val, cell_ptr, cell_w, sku_ptr, vol, supply, nu, x, used))


def warm_response(
    lam: np.ndarray, val: np.ndarray, pre: np.ndarray, cell_ptr: np.ndarray, cell_w: np.ndarray,
    sku_ptr: np.ndarray, vol: np.ndarray, supply: np.ndarray, nu: np.ndarray, x: np.ndarray,
    used: np.ndarray, keys: np.ndarray, ids: np.ndarray, *, jit: bool = True,
) -> float:
    """The best response of :func:`cold_response`, started from the counts ``x`` and prices ``nu`` given.

    Same outputs; see :func:`_warm_body`.
    """
    fn = _warm_jit if jit else _warm_body
    return float(fn(lam, val, pre, cell_ptr, cell_w, sku_ptr, vol, supply, nu, x, used, keys, ids))
