"""Numba kernels of the allocator, each beside its plain-Python twin.

Layout (arrays only): cells are grouped by SKU (``sku_ptr[s]:sku_ptr[s + 1]`` are the
cells of SKU ``s``); ``cell_w`` is a cell's warehouse; each cell's unit increments
with positive marginal value ``m_k = (g + h) P(D >= k) - (c + h)`` are the slice
``val[cell_ptr[c]:cell_ptr[c + 1]]``, falling in ``k``. A plan is a count ``x[c]``
per cell: it takes the cell's first ``x[c]`` units (a prefix, since ``m_k`` falls).
Every body ``_name_body`` is plain Python; ``_name_jit`` is the same body compiled
with ``njit(cache=True, nogil=True)``. Bodies call compiled helpers (``_cell_values``
here, the heap in :mod:`._heap`), which have twins of their own (``_name_py``).
This module computes the unit values; :mod:`._dual` has the best responses to
capacity prices (the bound), :mod:`._primal` the repair and fill (the plan).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

LOG_TINY = -700.0  # exp() of less underflows towards 0: below it pmf recurrences run in logs


def _group_body(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable counting sort: (order, ptr), ``keys[order]`` ascending, group ``g`` at ``ptr[g]:ptr[g+1]``."""
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(keys.shape[0]):
        ptr[keys[i] + 1] += 1
    for g in range(n_groups):
        ptr[g + 1] += ptr[g]
    fill = ptr[:-1].copy()
    order = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        order[fill[keys[i]]] = i
        fill[keys[i]] += 1
    return order, ptr


_group_jit = njit(cache=True, nogil=True)(_group_body)


def group(keys: np.ndarray, n_groups: int, *, jit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Stable counting sort of ``keys`` in ``[0, n_groups)``: (order, ptr) as in :func:`_group_body`."""
    return (_group_jit if jit else _group_body)(np.ascontiguousarray(keys, dtype=np.int64), n_groups)


def _cell_values_py(
    mu: float, var: float, gain: float, cost: float, kmax: int, out: np.ndarray, start: int, inv: np.ndarray
) -> int:
    """Write ``gain * P(D >= k) - cost`` for k = 1, 2, ... at ``out[start:]`` while positive and k <= kmax.

    Returns the count. ``D`` is NB(mean mu, variance var), Poisson when
    ``var <= mu (1 + 1e-9)``, the point mass ``mu`` when ``var == 0``. Tails come from
    the pmf recurrence, run in logs while ``P(D = k)`` would underflow (large ``mu``);
    ``inv[k] = 1 / (k + 1)`` spares a division per unit where the table reaches.
    """
    if mu <= 0.0 or gain <= cost or kmax <= 0:
        return 0
    if var <= 0.0:  # known demand: every unit up to mu sells
        n = min(int(np.floor(mu)), kmax)
        for k in range(n):
            out[start + k] = gain - cost
        return n
    poisson = var <= mu * (1.0 + 1e-9)
    r, q = 0.0, mu
    if poisson:
        log_pmf = -mu
    else:
        r = mu * mu / (var - mu)
        q = mu / (r + mu)  # pmf(k + 1) = pmf(k) * (k + r) / (k + 1) * q
        log_pmf = r * np.log1p(-q)
    in_logs = log_pmf < LOG_TINY
    pmf = 0.0 if in_logs else np.exp(log_pmf)
    tail = 1.0  # P(D >= 0)
    k = 0
    while k < kmax:
        tail -= pmf  # now P(D >= k + 1)
        value = gain * max(tail, 0.0) - cost
        if value <= 0.0:
            break
        out[start + k] = value
        step = inv[k] if k < inv.shape[0] else 1.0 / (k + 1)
        ratio = q * step if poisson else (k + r) * step * q
        if in_logs:
            log_pmf += np.log(ratio)
            in_logs = log_pmf < LOG_TINY
            pmf = 0.0 if in_logs else np.exp(log_pmf)
        else:
            pmf *= ratio
        k += 1
    return k


_cell_values = njit(cache=True, nogil=True)(_cell_values_py)


def _max_units_py(mu: float, var: float, gain: float, cost: float, kmax: int) -> int:
    """An upper bound on the cell's count: Cantelli's P(D >= mu + t) <= var / (var + t^2), plus 2."""
    if mu <= 0.0 or gain <= cost or kmax <= 0:
        return 0
    odds = (gain - cost) / max(cost, 1e-9 * gain)  # a unit is worth something while P(D >= k) > 1/(1+odds)
    return int(min(float(kmax), np.floor(mu + np.sqrt(var * odds)) + 2.0))


_max_units = njit(cache=True, nogil=True)(_max_units_py)


def _unit_values_body(
    rows: np.ndarray, sku: np.ndarray, mu: np.ndarray, var: np.ndarray, cost: np.ndarray,
    gain: np.ndarray, sku_cost: np.ndarray, kmax: np.ndarray, out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(cell_ptr, val) in one pass: ``out`` is a first buffer, grown (doubled) when a cell may not fit.

    Cell ``c`` is row ``r = rows[c]`` of the per-row ``mu``, ``var``, ``cost`` and of SKU
    ``k = sku[c]`` of the per-SKU ``gain``, ``sku_cost``, ``kmax``: its unit cost is
    ``cost[r] + sku_cost[k]`` (read in place, so no per-cell copy of any column is made).
    ``val`` is a view of the (last) buffer: :func:`_compact_body` copies it out.
    """
    cell_ptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
    inv = 1.0 / np.arange(1.0, 4097.0)
    pos = 0
    for c in range(rows.shape[0]):
        r, k = rows[c], sku[c]
        unit_cost = cost[r] + sku_cost[k]
        room = _max_units(mu[r], var[r], gain[k], unit_cost, kmax[k])
        if pos + room > out.shape[0]:
            grown = np.empty(max(2 * out.shape[0], pos + room))
            grown[:pos] = out[:pos]
            out = grown
        pos += _cell_values(mu[r], var[r], gain[k], unit_cost, room, out, pos, inv)
        cell_ptr[c + 1] = pos
    return cell_ptr, out[:pos]


_unit_values_jit = njit(cache=True, nogil=True)(_unit_values_body)


def _compact_body(
    src: np.ndarray, cell_ptr: np.ndarray, val: np.ndarray, pre: np.ndarray, offset: int
) -> None:
    """Copy ``src`` to ``val[offset:]`` and its per-cell prefix sums to ``pre[offset:]``, in one pass.

    ``pre[k]`` is the sum of the cell's values from its first unit up to ``k`` (inclusive).
    """
    for c in range(cell_ptr.shape[0] - 1):
        run = 0.0
        for k in range(cell_ptr[c], cell_ptr[c + 1]):
            value = src[k]
            val[offset + k] = value
            run += value
            pre[offset + k] = run


_compact_jit = njit(cache=True, nogil=True)(_compact_body)

CHUNK_CELLS = 200_000  # larger instances compute their unit values in parallel chunks of cells


def unit_values(
    mu: np.ndarray, var: np.ndarray, gain: np.ndarray, cost: np.ndarray, kmax: np.ndarray, *,
    rows: np.ndarray | None = None, sku: np.ndarray | None = None, sku_cost: np.ndarray | None = None,
    jit: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell_ptr, val, pre): every cell's positive marginal values, at most ``kmax`` per cell.

    Without ``rows``/``sku`` every argument has one entry per cell (``cost`` in currency
    per unit). With them, cell ``c`` reads ``mu``, ``var``, ``cost`` at row ``rows[c]`` and
    ``gain``, ``kmax`` and ``sku_cost`` (added to ``cost``) at ``sku[c]``, in place.
    ``pre`` are the per-cell prefix sums of ``val``. Compiled, large inputs are cut into
    one contiguous chunk of cells per Numba thread, run at once (the kernels release
    the GIL) and copied side by side into the result: the values do not depend on the cut.
    """
    fn = _unit_values_jit if jit else _unit_values_body
    compact = _compact_jit if jit else _compact_body
    n = len(mu) if rows is None else len(rows)
    rows = np.arange(n) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    sku = np.arange(n) if sku is None else np.ascontiguousarray(sku, dtype=np.int64)
    sku_cost = np.zeros(len(gain)) if sku_cost is None else sku_cost
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (mu, var, cost, gain, sku_cost)]
    kmax = np.ascontiguousarray(kmax, dtype=np.int64)

    def run(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        first = np.empty(int(min(4 * (hi - lo) + 16, 2**31)))
        return fn(rows[lo:hi], sku[lo:hi], *arrays, kmax, first)

    n_chunks = max(1, min(numba.get_num_threads(), n // CHUNK_CELLS)) if jit else 1
    cuts = np.linspace(0, n, n_chunks + 1).astype(int)
    with ThreadPoolExecutor(n_chunks) as pool:
        parts = list(pool.map(run, cuts[:-1], cuts[1:]))
        offsets = np.cumsum([0] + [len(src) for _, src in parts]).astype(np.int64)
        val, pre = np.empty(offsets[-1]), np.empty(offsets[-1])
        list(pool.map(lambda part, off: compact(part[1], part[0], val, pre, off), parts, offsets[:-1]))
    cell_ptr = np.concatenate([[0]] + [ptr[1:] + off for (ptr, _), off in zip(parts, offsets, strict=False)])
    return cell_ptr.astype(np.int64), val, pre


def _plan_value_body(x: np.ndarray, pre: np.ndarray, cell_ptr: np.ndarray) -> float:
    """The plan's objective: the sum of every cell's first ``x[c]`` marginal values (from the prefix sums)."""
    total = 0.0
    for c in range(x.shape[0]):
        if x[c] > 0:
            total += pre[cell_ptr[c] + x[c] - 1]
    return total


_plan_value_jit = njit(cache=True, nogil=True)(_plan_value_body)


def plan_value(x: np.ndarray, pre: np.ndarray, cell_ptr: np.ndarray, *, jit: bool = True) -> float:
    """A plan's objective (currency): every cell's first ``x[c]`` marginal values summed."""
    return float((_plan_value_jit if jit else _plan_value_body)(x, pre, cell_ptr))
