"""Numba kernels of the allocator, each beside its plain-Python twin.

Units are the unit increments of every cell with a positive marginal value
``m_k = (g + h) P(D >= k) - (c + h)``, laid out sorted by SKU (``sku_ptr`` marks
each SKU's slice), then by cell, then by ``k``. ``u_w`` is the unit's warehouse,
``u_vol`` its volume, ``u_cell`` its cell.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _select_body(
    lam: np.ndarray,
    u_val: np.ndarray,
    u_w: np.ndarray,
    u_vol: np.ndarray,
    sku_ptr: np.ndarray,
    supply: np.ndarray,
    take: np.ndarray,
    used: np.ndarray,
) -> float:
    """Best response to capacity prices ``lam``: per SKU, its ``supply`` best positive-reduced-value units.

    Fills ``take`` (0/1 per unit) and ``used`` (volume per warehouse); returns the sum
    of the taken reduced values ``m - lam_w v`` (the SKU part of the Lagrangian).
    """
    total = 0.0
    used[:] = 0.0
    for s in range(sku_ptr.shape[0] - 1):
        lo, hi = sku_ptr[s], sku_ptr[s + 1]
        n = hi - lo
        red = np.empty(n)
        positive = 0
        for i in range(n):
            u = lo + i
            red[i] = u_val[u] - lam[u_w[u]] * u_vol[u]
            take[u] = 0
            if red[i] > 0.0:
                positive += 1
        limit = min(positive, supply[s])
        if limit == 0:
            continue
        if positive <= supply[s]:  # everything positive fits: no need to rank
            for i in range(n):
                if red[i] > 0.0:
                    u = lo + i
                    take[u] = 1
                    total += red[i]
                    used[u_w[u]] += u_vol[u]
            continue
        order = np.argsort(-red, kind="mergesort")
        for j in range(limit):
            u = lo + order[j]
            take[u] = 1
            total += red[order[j]]
            used[u_w[u]] += u_vol[u]
    return total


_select_jit = njit(cache=True, nogil=True)(_select_body)


def select(
    lam: np.ndarray,
    u_val: np.ndarray,
    u_w: np.ndarray,
    u_vol: np.ndarray,
    sku_ptr: np.ndarray,
    supply: np.ndarray,
    n_warehouses: int,
    *,
    jit: bool = True,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Run the best-response kernel; returns (reduced value, take mask int8, volume per warehouse)."""
    take = np.zeros(u_val.shape[0], dtype=np.int8)
    used = np.zeros(n_warehouses)
    fn = _select_jit if jit else _select_body
    value = fn(lam, u_val, u_w, u_vol, sku_ptr, supply, take, used)
    return float(value), take, used


def _repair_fill_body(
    take: np.ndarray,
    u_val: np.ndarray,
    u_w: np.ndarray,
    u_s: np.ndarray,
    u_vol: np.ndarray,
    cap: np.ndarray,
    supply: np.ndarray,
    by_ratio_desc: np.ndarray,
) -> None:
    """Make ``take`` feasible, then fill greedily; ``by_ratio_desc`` orders units by m / v, best first.

    Repair drops the taken units with the lowest m / v from over-full warehouses;
    fill then adds untaken units in order while capacity and supply allow. Within a
    cell, m falls with k, so both passes keep each cell's units a prefix.
    """
    n_w = cap.shape[0]
    used = np.zeros(n_w)
    count = np.zeros(supply.shape[0], dtype=np.int64)
    for u in range(take.shape[0]):
        if take[u]:
            used[u_w[u]] += u_vol[u]
            count[u_s[u]] += 1
    for j in range(by_ratio_desc.shape[0] - 1, -1, -1):
        u = by_ratio_desc[j]
        if take[u] and used[u_w[u]] > cap[u_w[u]] * (1 + 1e-12):
            take[u] = 0
            used[u_w[u]] -= u_vol[u]
            count[u_s[u]] -= 1
    for j in range(by_ratio_desc.shape[0]):
        u = by_ratio_desc[j]
        if take[u] or u_val[u] <= 0.0:
            continue
        if used[u_w[u]] + u_vol[u] <= cap[u_w[u]] * (1 + 1e-12) and count[u_s[u]] < supply[u_s[u]]:
            take[u] = 1
            used[u_w[u]] += u_vol[u]
            count[u_s[u]] += 1


_repair_fill_jit = njit(cache=True, nogil=True)(_repair_fill_body)


def repair_fill(
    take: np.ndarray,
    u_val: np.ndarray,
    u_w: np.ndarray,
    u_s: np.ndarray,
    u_vol: np.ndarray,
    cap: np.ndarray,
    supply: np.ndarray,
    by_ratio_desc: np.ndarray,
    *,
    jit: bool = True,
) -> np.ndarray:
    """A feasible take mask from ``take`` (a copy); see the plain twin's docstring."""
    out = take.copy()
    (_repair_fill_jit if jit else _repair_fill_body)(out, u_val, u_w, u_s, u_vol, cap, supply, by_ratio_desc)
    return out


def _unit_values_body(
    mu: np.ndarray,
    var: np.ndarray,
    gain: np.ndarray,
    cost: np.ndarray,
    cap: np.ndarray,
    count_only: bool,
    start: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """Marginal values ``gain * P(D >= k) - cost`` of each cell's units while positive (k <= cap).

    ``D`` is NB(mu, var), Poisson when ``var <= mu``, a point mass at ``mu`` when
    ``var == 0``; tails come from the pmf recurrence (callers route cells with large
    ``mu`` elsewhere, where ``P(D = 0)`` would underflow). With ``count_only`` only the
    counts are returned; else values are written to ``out[start[i]:]``.
    """
    n = mu.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for i in range(n):
        m, v = mu[i], var[i]
        if m <= 0.0 or gain[i] <= cost[i]:
            continue
        known = v <= 0.0
        poisson = v <= m * (1.0 + 1e-9)
        if not known and not poisson:
            r = m * m / (v - m)
            q = m / (r + m)  # success-failure parametrisation: pmf(k+1) = pmf(k) (k + r) / (k + 1) q
            pmf = (1.0 - q) ** r
        else:
            r = 0.0
            q = 0.0
            pmf = np.exp(-m)
        tail = 1.0  # P(D >= k) for k = 1 before subtracting pmf(0)
        k = 0
        while k < cap[i]:
            if known:
                tail_k = 1.0 if k + 1 <= m else 0.0
            else:
                tail -= pmf  # now P(D >= k + 1)
                tail_k = max(tail, 0.0)
                pmf = pmf * (m / (k + 1)) if poisson else pmf * (k + r) / (k + 1) * q
            value = gain[i] * tail_k - cost[i]
            if value <= 0.0:
                break
            if not count_only:
                out[start[i] + k] = value
            k += 1
        counts[i] = k
    return counts


_unit_values_jit = njit(cache=True, nogil=True)(_unit_values_body)


def unit_values(
    mu: np.ndarray, var: np.ndarray, gain: np.ndarray, cost: np.ndarray, cap: np.ndarray, *, jit: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(units per cell, flat marginal values) for every cell; see the plain twin's docstring."""
    fn = _unit_values_jit if jit else _unit_values_body
    args = [np.ascontiguousarray(a, dtype=np.float64) for a in (mu, var, gain, cost)]
    cap = np.ascontiguousarray(cap, dtype=np.int64)
    empty = np.zeros(0)
    counts = fn(*args, cap, True, np.zeros(len(cap), dtype=np.int64), empty)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    out = np.zeros(int(counts.sum()))
    fn(*args, cap, False, start, out)
    return counts, out
