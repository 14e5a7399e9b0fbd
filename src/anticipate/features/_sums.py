"""Numba kernel for per-group sums of units in age windows, with its plain-Python twin.

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
