"""Numba kernels for per-group sequential statistics, each with its plain-Python twin.

Data layout (mlforecast style): events of all groups in one flat array, sorted by
group then by time (oldest first), with ``indptr`` marking group boundaries:
group ``g`` owns ``[indptr[g], indptr[g + 1])``. ``age`` is days before the cutoff
(> 0). The kernels never see pandas.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

#: Output columns of :func:`sequence_stats`, before the per-window pairs.
SEQ_FIXED = (
    "recency",
    "tenure",
    "n",
    "spend_365",
    "gap_mean",
    "gap_std",
    "gap_last",
    "recency_over_gap",
    "bgnbd_x",
    "bgnbd_t_x",
    "bgnbd_T",
)
# Column indices of the sequence_stats output, by name (module constants: Numba freezes them).
RECENCY = 0  # days since the last event
TENURE = 1  # days since the first event
N_EVENTS = 2
SPEND_365 = 3
GAP_MEAN = 4  # days
GAP_STD = 5
GAP_LAST = 6
RECENCY_OVER_GAP = 7
BGNBD_X = 8
BGNBD_T_X = 9
BGNBD_T = 10
N_FIXED = len(SEQ_FIXED)


def codes_array(values: np.ndarray) -> np.ndarray:
    """Integer codes for a kernel: int32 or int64 as they are (the kernels compile for both), else int64.

    The history's codes are int32 (half the memory of ten million int64s); a cast would copy them.
    """
    values = np.ascontiguousarray(values)
    return values if values.dtype in (np.int32, np.int64) else values.astype(np.int64)


def window_count(w: int) -> int:
    """Column of :func:`sequence_stats` with the event count inside window ``w`` (its position)."""
    return N_FIXED + 2 * w


def window_units(w: int) -> int:
    """Column of :func:`sequence_stats` with the units inside window ``w`` (its position)."""
    return N_FIXED + 2 * w + 1


@register_jitable
def gap_moments(age: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    """Mean and sample std (days) of the gaps between the events ``age[lo:hi]`` (oldest first).

    The mean needs two events and the std three (NaN otherwise). Shared by the Numba kernels
    (``register_jitable``: compiled into them, plain Python when a twin calls it).
    """
    n = hi - lo
    mean, std = np.nan, np.nan
    if n >= 2:
        mean = (age[lo] - age[hi - 1]) / (n - 1)
        if n >= 3:
            ss = 0.0
            for i in range(lo + 1, hi):
                d = (age[i - 1] - age[i]) - mean
                ss += d * d
            std = math.sqrt(ss / (n - 2))
    return mean, std


def _sequence_stats_body(
    indptr: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    spend: np.ndarray,
    windows: np.ndarray,
    groups: np.ndarray,
) -> np.ndarray:
    """Per group: recency, tenure, count, spend (365 d), gaps, BG/NBD summary, windowed counts/units.

    Parameters
    ----------
    indptr : int64 (G + 1,)
    age : float64 (N,)  days before the cutoff, oldest first within a group
    units, spend : float64 (N,)  units and currency per event
    windows : float64 (K,)  window lengths in days
    groups : int64 (R,)  the groups to describe, one output column each

    Returns
    -------
    float64 (N_FIXED + 2K, R): one row per statistic (:func:`sequence_stats` transposes it):
    the :data:`SEQ_FIXED` ones (indices ``RECENCY`` ... ``BGNBD_T``), then for each window
    the event count and the units inside it (``age <= window``; :func:`window_count`,
    :func:`window_units`). NaN where undefined.
    """
    n_out = groups.shape[0]
    k = windows.shape[0]
    out = np.full((N_FIXED + 2 * k, n_out), np.nan)
    for g in prange(n_out):  # groups are independent: columns of out are disjoint
        lo, hi = indptr[groups[g]], indptr[groups[g] + 1]
        n = hi - lo
        if n == 0:
            continue
        first, last = age[lo], age[hi - 1]
        out[RECENCY, g] = last
        out[TENURE, g] = first
        out[N_EVENTS, g] = n
        spend365 = 0.0
        for i in range(lo, hi):
            if age[i] <= 365.0:
                spend365 += spend[i]
        out[SPEND_365, g] = spend365
        if n >= 2:
            mean, std = gap_moments(age, lo, hi)
            out[GAP_MEAN, g] = mean
            out[GAP_STD, g] = std
            out[GAP_LAST, g] = age[hi - 2] - age[hi - 1]
            if mean > 0.0:
                out[RECENCY_OVER_GAP, g] = last / mean
        out[BGNBD_X, g] = n - 1
        out[BGNBD_T_X, g] = first - last
        out[BGNBD_T, g] = first
        for w in range(k):
            count = 0.0
            total_units = 0.0
            for i in range(lo, hi):
                if age[i] <= windows[w]:
                    count += 1.0
                    total_units += units[i]
            out[N_FIXED + 2 * w, g] = count
            out[N_FIXED + 2 * w + 1, g] = total_units
    return out


_sequence_stats_jit = njit(cache=True, nogil=True, parallel=True)(_sequence_stats_body)


def sequence_stats(
    indptr: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    spend: np.ndarray,
    windows: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    jit: bool = True,
) -> np.ndarray:
    """Run the sequence kernel (``jit=False`` runs the plain-Python twin): float64 (R, N_FIXED + 2K).

    One row per group of ``groups`` (int positions; all G groups when None). The array is
    column-major (a transposed view of the kernel's output), so each statistic's column is
    contiguous: the callers read and gather whole columns.
    """
    every = np.arange(len(indptr) - 1, dtype=np.int64) if groups is None else groups
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(age, dtype=np.float64),
        np.ascontiguousarray(units, dtype=np.float64),
        np.ascontiguousarray(spend, dtype=np.float64),
        np.ascontiguousarray(windows, dtype=np.float64),
        np.ascontiguousarray(every, dtype=np.int64),
    )
    return (_sequence_stats_jit(*args) if jit else _sequence_stats_body(*args)).T


def _group_by_codes_body(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable counting sort of rows by a dense group code.

    Parameters
    ----------
    codes : int64 (N,)  group code of each row, in ``0..n_groups - 1``
    n_groups : int

    Returns
    -------
    perm : int64 (N,)  row numbers grouped by code, source order kept within a group
    indptr : int64 (n_groups + 1,)  group ``g`` owns ``perm[indptr[g]:indptr[g + 1]]``
    """
    indptr = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(codes.shape[0]):
        indptr[codes[i] + 1] += 1
    for g in range(n_groups):
        indptr[g + 1] += indptr[g]
    fill = indptr[:-1].copy()
    perm = np.empty(codes.shape[0], dtype=np.int64)
    for i in range(codes.shape[0]):
        g = codes[i]
        perm[fill[g]] = i
        fill[g] += 1
    return perm, indptr


_group_by_codes_jit = njit(cache=True, nogil=True)(_group_by_codes_body)


def group_by_codes(codes: np.ndarray, n_groups: int, *, jit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Run the counting-sort kernel (``jit=False`` runs the plain-Python twin)."""
    args = (codes_array(codes), int(n_groups))
    return _group_by_codes_jit(*args) if jit else _group_by_codes_body(*args)


def _sort_segments_body(indptr: np.ndarray, perm: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Within each segment of ``perm``, order its rows by ``key[row]`` in place (stable: ties keep order).

    Parameters
    ----------
    indptr : int64 (G + 1,)  segment boundaries in ``perm``
    perm : int64 (N,)  row numbers, overwritten
    key : int64 (rows,)  sort key per row

    Returns
    -------
    int64 (N,): ``perm`` itself, every segment sorted by key.
    """
    for g in prange(indptr.shape[0] - 1):  # segments are independent: each writes its own slice
        lo, hi = indptr[g], indptr[g + 1]
        ordered = True
        for j in range(lo + 1, hi):
            if key[perm[j]] < key[perm[j - 1]]:
                ordered = False
                break
        if not ordered:
            seg = perm[lo:hi]
            perm[lo:hi] = seg[np.argsort(key[seg], kind="mergesort")]  # (the right side is a new array)
    return perm


_sort_segments_jit = njit(cache=True, nogil=True, parallel=True)(_sort_segments_body)


def sort_segments(
    indptr: np.ndarray, perm: np.ndarray, key: np.ndarray, *, jit: bool = True, in_place: bool = False
) -> np.ndarray:
    """Run the segment-sort kernel (``jit=False`` runs the plain-Python twin) on a copy of ``perm``.

    ``in_place=True`` sorts ``perm`` itself (contiguous int64) instead: no second array of N.
    """
    if in_place and (perm.dtype != np.int64 or not perm.flags.c_contiguous):
        raise ValueError("sort_segments in place needs a contiguous int64 perm")
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        perm if in_place else np.array(perm, dtype=np.int64),
        codes_array(key),
    )
    return _sort_segments_jit(*args) if jit else _sort_segments_body(*args)


def _most_recent_body(
    indptr: np.ndarray,
    perm: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    codes: np.ndarray,
    code_rows: np.ndarray,
    indirect: bool,
) -> np.ndarray:
    """Per group, the code of its youngest rows by content alone; -1 if empty.

    Rows of group ``g`` are ``perm[indptr[g]:indptr[g + 1]]``. Among the rows at the
    smallest ``age`` (days), the code with the most ``units`` summed over those rows
    wins, ties going to the smallest code, so any row order gives the same code. A row's
    code is ``codes[row]``, or ``codes[code_rows[row]]`` when ``indirect``.
    """
    out = np.full(indptr.shape[0] - 1, -1, dtype=np.int64)
    at_best = np.empty(perm.shape[0], dtype=np.int64)
    for g in range(indptr.shape[0] - 1):
        lo, hi = indptr[g], indptr[g + 1]
        best = np.inf
        for j in range(lo, hi):
            best = min(best, age[perm[j]])
        m = 0
        for j in range(lo, hi):
            if age[perm[j]] == best:
                at_best[m] = perm[j]
                m += 1
        top_units = -np.inf
        for a in range(m):
            code = codes[code_rows[at_best[a]]] if indirect else codes[at_best[a]]
            total = 0.0
            for b in range(m):
                if (codes[code_rows[at_best[b]]] if indirect else codes[at_best[b]]) == code:
                    total += units[at_best[b]]
            if total > top_units or (total == top_units and code < out[g]):
                top_units = total
                out[g] = code
    return out


_most_recent_jit = njit(cache=True, nogil=True)(_most_recent_body)


def most_recent(
    indptr: np.ndarray,
    perm: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    codes: np.ndarray,
    *,
    code_rows: np.ndarray | None = None,
    jit: bool = True,
) -> np.ndarray:
    """Run the most-recent-code kernel (``jit=False`` runs the plain-Python twin).

    ``code_rows``: where a row's code is in ``codes`` (``codes[code_rows[row]]``; None: at the row
    itself), so rows gathered by group read the codes where they were: only the few rows at a
    group's youngest age do, where a gathered copy of the codes read them all.
    """
    indirect = code_rows is not None
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(perm, dtype=np.int64),
        np.ascontiguousarray(age, dtype=np.float64),
        np.ascontiguousarray(units, dtype=np.float64),
        codes_array(codes),
        np.ascontiguousarray(code_rows, dtype=np.int64) if indirect else np.zeros(0, dtype=np.int64),
        indirect,
    )
    return _most_recent_jit(*args) if jit else _most_recent_body(*args)
