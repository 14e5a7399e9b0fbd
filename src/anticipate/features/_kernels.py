"""Numba kernels for per-group sequential statistics, each with its plain-Python twin.

Data layout (mlforecast style): events of all groups in one flat array, sorted by
group then by time (oldest first), with ``indptr`` marking group boundaries:
group ``g`` owns ``[indptr[g], indptr[g + 1])``. ``age`` is days before the cutoff
(> 0). The kernels never see pandas.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

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


def _sequence_stats_body(
    indptr: np.ndarray, age: np.ndarray, units: np.ndarray, spend: np.ndarray, windows: np.ndarray
) -> np.ndarray:
    """Per group: recency, tenure, count, spend (365 d), gaps, BG/NBD summary, windowed counts/units.

    Parameters
    ----------
    indptr : int64 (G + 1,)
    age : float64 (N,)  days before the cutoff, oldest first within a group
    units, spend : float64 (N,)  units and currency per event
    windows : float64 (K,)  window lengths in days

    Returns
    -------
    float64 (G, 11 + 2K): the :data:`SEQ_FIXED` columns, then for each window the
    event count and the units inside it (``age <= window``). NaN where undefined.
    """
    n_groups = indptr.shape[0] - 1
    k = windows.shape[0]
    out = np.full((n_groups, 11 + 2 * k), np.nan)
    for g in range(n_groups):
        lo, hi = indptr[g], indptr[g + 1]
        n = hi - lo
        if n == 0:
            continue
        first, last = age[lo], age[hi - 1]
        out[g, 0] = last
        out[g, 1] = first
        out[g, 2] = n
        spend365 = 0.0
        for i in range(lo, hi):
            if age[i] <= 365.0:
                spend365 += spend[i]
        out[g, 3] = spend365
        if n >= 2:
            total = first - last
            mean = total / (n - 1)
            out[g, 4] = mean
            if n >= 3:
                ss = 0.0
                for i in range(lo + 1, hi):
                    d = (age[i - 1] - age[i]) - mean
                    ss += d * d
                out[g, 5] = math.sqrt(ss / (n - 2))
            out[g, 6] = age[hi - 2] - age[hi - 1]
            if mean > 0.0:
                out[g, 7] = last / mean
        out[g, 8] = n - 1
        out[g, 9] = first - last
        out[g, 10] = first
        for w in range(k):
            count = 0.0
            total_units = 0.0
            for i in range(lo, hi):
                if age[i] <= windows[w]:
                    count += 1.0
                    total_units += units[i]
            out[g, 11 + 2 * w] = count
            out[g, 12 + 2 * w] = total_units
    return out


_sequence_stats_jit = njit(cache=True, nogil=True)(_sequence_stats_body)


def sequence_stats(
    indptr: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    spend: np.ndarray,
    windows: np.ndarray,
    *,
    jit: bool = True,
) -> np.ndarray:
    """Run the sequence kernel (``jit=False`` runs the plain-Python twin)."""
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(age, dtype=np.float64),
        np.ascontiguousarray(units, dtype=np.float64),
        np.ascontiguousarray(spend, dtype=np.float64),
        np.ascontiguousarray(windows, dtype=np.float64),
    )
    return _sequence_stats_jit(*args) if jit else _sequence_stats_body(*args)


def _last_value_body(indptr: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per group, the code of its last event (e.g. a customer's most recent region); -1 if empty."""
    out = np.full(indptr.shape[0] - 1, -1, dtype=np.int64)
    for g in range(indptr.shape[0] - 1):
        if indptr[g + 1] > indptr[g]:
            out[g] = codes[indptr[g + 1] - 1]
    return out


_last_value_jit = njit(cache=True, nogil=True)(_last_value_body)


def last_value(indptr: np.ndarray, codes: np.ndarray, *, jit: bool = True) -> np.ndarray:
    """Run the last-value kernel (``jit=False`` runs the plain-Python twin)."""
    args = (np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(codes, dtype=np.int64))
    return _last_value_jit(*args) if jit else _last_value_body(*args)
