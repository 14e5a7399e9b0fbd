"""Numba kernel that collapses each group's rows into one event per order, with its plain-Python twin.

The groups are cut into ``parts`` runs of whole groups of about equal rows, collapsed side
by side (``prange``: one run per thread), each run's events written from its first row's
position (a group has at most as many events as rows), then moved down behind the
previous run's. Every group's events are computed as they would be alone, so any
``parts`` gives the same arrays.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from anticipate.features._kernels import codes_array


def _collapse_events_body(
    indptr: np.ndarray,
    perm: np.ndarray,
    order: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    spend: np.ndarray,
    parts: int,
    ev_age: np.ndarray,
    ev_units: np.ndarray,
    ev_spend: np.ndarray,
    ev_row: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One event per (group, order): its oldest age, summed units and summed spend.

    Rows of group ``g`` are ``perm[indptr[g]:indptr[g + 1]]`` in source order. Each
    order code of a group becomes one event with the largest ``age`` of its rows
    (days) and the units and spend summed in source order with Kahan compensation
    (as pandas' Cython grouped sum does, bit for bit). A group's events come oldest
    first, ties broken by order code. Groups already in order (a time-sorted log)
    skip both sorts. ``parts`` (>= 1): runs of groups collapsed in parallel. ``ev_age``,
    ``ev_units``, ``ev_spend`` (float64) and ``ev_row`` (int64), at least N long each, are
    written (from their start) and returned as views.

    Returns
    -------
    ev_indptr : int64 (G + 1,)  group ``g`` owns events ``[ev_indptr[g], ev_indptr[g + 1])``
    ev_age, ev_units, ev_spend : float64 (E,)
    ev_row : int64 (E,)  the first source row of each event

    The event arrays are views of the buffers (E <= N).
    """
    n_groups = indptr.shape[0] - 1
    n = perm.shape[0]
    ev_indptr = np.zeros(n_groups + 1, dtype=np.int64)
    bounds = np.empty(parts + 1, dtype=np.int64)  # run c holds groups [bounds[c], bounds[c + 1])
    for c in range(parts):
        bounds[c] = min(np.searchsorted(indptr, c * n // parts), n_groups)
    bounds[parts] = n_groups
    ends = np.empty(parts, dtype=np.int64)
    for c in prange(parts):  # runs are independent: each writes from its own first row on
        w = indptr[bounds[c]]
        for g in range(bounds[c], bounds[c + 1]):
            lo, hi = indptr[g], indptr[g + 1]
            seg = perm[lo:hi]
            for j in range(1, hi - lo):
                if order[seg[j]] < order[seg[j - 1]]:
                    seg = seg[np.argsort(order[seg], kind="mergesort")]
                    break
            start = w
            j = 0
            while j < hi - lo:
                code = order[seg[j]]
                ev_row[w] = seg[j]
                oldest = -np.inf
                su, cu, ss, cs = 0.0, 0.0, 0.0, 0.0
                while j < hi - lo and order[seg[j]] == code:
                    row = seg[j]
                    oldest = max(oldest, age[row])
                    y = units[row] - cu
                    t = su + y
                    cu = t - su - y
                    if cu != cu:
                        cu = 0.0
                    su = t
                    y = spend[row] - cs
                    t = ss + y
                    cs = t - ss - y
                    if cs != cs:
                        cs = 0.0
                    ss = t
                    j += 1
                ev_age[w], ev_units[w], ev_spend[w] = oldest, su, ss
                w += 1
            for e in range(start + 1, w):
                if ev_age[e] > ev_age[e - 1]:
                    by_age = np.argsort(-ev_age[start:w], kind="mergesort") + start
                    ev_age[start:w] = ev_age[by_age]
                    ev_units[start:w] = ev_units[by_age]
                    ev_spend[start:w] = ev_spend[by_age]
                    ev_row[start:w] = ev_row[by_age]
                    break
            ev_indptr[g + 1] = w
        ends[c] = w
    dst = 0
    for c in range(parts):  # each run's events move down behind the previous run's (never up)
        shift = indptr[bounds[c]] - dst
        if shift:
            for e in range(indptr[bounds[c]], ends[c]):
                ev_age[e - shift] = ev_age[e]
                ev_units[e - shift] = ev_units[e]
                ev_spend[e - shift] = ev_spend[e]
                ev_row[e - shift] = ev_row[e]
            for g in range(bounds[c], bounds[c + 1]):
                ev_indptr[g + 1] -= shift
        dst = ends[c] - shift
    # views of the first ``dst`` entries: the untouched tail pages were never faulted in, a copy would be
    return ev_indptr, ev_age[:dst], ev_units[:dst], ev_spend[:dst], ev_row[:dst]


_collapse_events_jit = njit(cache=True, nogil=True, parallel=True)(_collapse_events_body)


def collapse_events(
    indptr: np.ndarray,
    perm: np.ndarray,
    order: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    spend: np.ndarray,
    *,
    jit: bool = True,
    parts: int | None = None,
    out: tuple[np.ndarray, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the event-collapse kernel (``jit=False`` runs the plain-Python twin).

    ``parts``: runs of groups collapsed in parallel (default: Numba's threads); the arrays
    do not depend on it. ``out``: the age, units, spend (float64) and row (int64) buffers
    to write the events into (see :func:`event_buffers`; fresh ones when None), so a caller
    that collapses twice may reuse the pages the first time faulted in.
    """
    n = len(perm)
    buffers = event_buffers(n) if out is None else out
    kinds = (np.float64, np.float64, np.float64, np.int64)
    fit = [b.dtype == k and b.flags.c_contiguous and len(b) >= n for b, k in zip(buffers, kinds, strict=True)]
    if not all(fit):
        raise ValueError("collapse_events needs contiguous float64 x 3 and int64 buffers of at least N rows")
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(perm, dtype=np.int64),
        codes_array(order),
        np.ascontiguousarray(age, dtype=np.float64),
        np.ascontiguousarray(units, dtype=np.float64),
        np.ascontiguousarray(spend, dtype=np.float64),
        max(1, numba.get_num_threads() if parts is None else int(parts)),
        *buffers,
    )
    return _collapse_events_jit(*args) if jit else _collapse_events_body(*args)


def event_buffers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Empty age, units, spend (float64) and row (int64) buffers of ``n`` rows for :func:`collapse_events`."""
    return np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)
