"""Numba kernels for per-group sums of units in age windows and for the codes in use, with their twins.

One pass over the lines fills every window at once, where ``np.bincount`` needs a mask,
a gathered copy of the codes and one of the units per window (~120 MB of temporaries
per window at 10 M lines). Each bin adds its lines' units in line order, as
``np.bincount(group[mask], weights=units[mask])`` does, so the sums are the same bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from anticipate.features._kernels import codes_array


def _window_sums_body(
    group: np.ndarray, age: np.ndarray, units: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_groups: int
) -> np.ndarray:
    """Per group code, the units of the lines with ``lo[k] < age <= hi[k]`` for each window ``k``.

    Parameters
    ----------
    group : int (N,)  group code of each line, in ``0..n_groups - 1``
    age : float64 (N,)  days before the cutoff
    units : float64 (N,)
    lo, hi : float64 (K,)  window bounds in days (``lo = -inf``: every age up to ``hi``)
    n_groups : int

    Returns
    -------
    float64 (n_groups, K), summed in line order (0 where no line falls in a window).
    """
    k = lo.shape[0]
    out = np.zeros((n_groups, k))
    for i in range(group.shape[0]):
        a = age[i]
        for w in range(k):
            if a > lo[w] and a <= hi[w]:
                out[group[i], w] += units[i]
    return out


_window_sums_jit = njit(cache=True, nogil=True)(_window_sums_body)


def window_sums(
    group: np.ndarray,
    age: np.ndarray,
    units: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    n_groups: int,
    *,
    jit: bool = True,
) -> np.ndarray:
    """Run the window-sums kernel (``jit=False`` runs the plain-Python twin)."""
    args = (
        codes_array(group),
        np.ascontiguousarray(age, dtype=np.float64),
        np.ascontiguousarray(units, dtype=np.float64),
        np.ascontiguousarray(lo, dtype=np.float64),
        np.ascontiguousarray(hi, dtype=np.float64),
        int(n_groups),
    )
    return _window_sums_jit(*args) if jit else _window_sums_body(*args)


def _used_codes_body(codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, bool]:
    """Which of the codes ``0..n_codes - 1`` occur in ``codes``, and whether a null (-1) does.

    Parameters
    ----------
    codes : int (N,)  categorical codes, -1 for a null
    n_codes : int

    Returns
    -------
    used : bool (n_codes,)
    null : bool
    """
    used = np.zeros(n_codes, dtype=np.bool_)
    null = False
    for i in range(codes.shape[0]):
        if codes[i] < 0:
            null = True
        else:
            used[codes[i]] = True
    return used, null


_used_codes_jit = njit(cache=True, nogil=True)(_used_codes_body)


def used_codes(codes: np.ndarray, n_codes: int, *, jit: bool = True) -> tuple[np.ndarray, bool]:
    """Run the used-codes kernel (``jit=False`` runs the plain-Python twin).

    One pass over ``codes`` of any integer dtype as they are (no int64 copy).
    """
    args = (np.ascontiguousarray(codes), int(n_codes))
    return _used_codes_jit(*args) if jit else _used_codes_body(*args)


def _recode_body(codes: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """``rank[codes]`` as int32, for codes of any integer dtype (all valid: ``0..len(rank) - 1``)."""
    out = np.empty(codes.shape[0], dtype=np.int32)
    for i in range(codes.shape[0]):
        out[i] = rank[codes[i]]
    return out


_recode_jit = njit(cache=True, nogil=True)(_recode_body)


def recode(codes: np.ndarray, rank: np.ndarray, *, jit: bool = True) -> np.ndarray:
    """Run the recode kernel (``jit=False`` runs the plain-Python twin); ``np.take`` would copy the
    codes to int64 first."""
    args = (np.ascontiguousarray(codes), np.ascontiguousarray(rank, dtype=np.int32))
    return _recode_jit(*args) if jit else _recode_body(*args)


def _day_oldest_body(age: np.ndarray) -> np.ndarray:
    """Per day before the cutoff, ``k = ceil(age)`` (1: the day before it), the largest ``age`` on it.

    Parameters
    ----------
    age : float64 (N,)  days before a midnight cutoff, > 0

    Returns
    -------
    float64 (K + 1,), ``K`` the largest day: 0 on a day without a line (and at index 0).
    """
    top = 0.0
    for i in range(age.shape[0]):
        top = max(top, age[i])
    out = np.zeros(int(np.ceil(top)) + 1)
    for i in range(age.shape[0]):
        k = int(np.ceil(age[i]))
        if age[i] > out[k]:
            out[k] = age[i]
    return out


_day_oldest_jit = njit(cache=True, nogil=True)(_day_oldest_body)


def day_oldest(age: np.ndarray, *, jit: bool = True) -> np.ndarray:
    """Run the day-oldest kernel (``jit=False`` runs the plain-Python twin): what
    :func:`anticipate.dates.attached_day` reads, and the first line's age on the day it returns.

    Its days are :func:`anticipate.dates.line_days`'s; one pass, no copy of ``age``.
    """
    args = (np.ascontiguousarray(age, dtype=np.float64),)
    return _day_oldest_jit(*args) if jit else _day_oldest_body(*args)
