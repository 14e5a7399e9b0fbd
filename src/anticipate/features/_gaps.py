"""Numba kernel for the renewal family's per-item gap sums, with its plain-Python twin.

It adds, per item, what :func:`anticipate.features.reference.item_gap_sums` adds (the
reference, over the pairs' sequence statistics), straight from the pairs' events: no
statistics of the pairs that are not candidates are kept (at 10 M lines 3.8 M pairs x
19 statistics, 580 MB, of which 1.8 M are candidates). Each item's sums add its pairs'
terms in pair order, as ``np.bincount`` does, so the sums are the same bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from anticipate.features._kernels import codes_array, gap_moments


def _item_gap_sums_body(indptr: np.ndarray, age: np.ndarray, item: np.ndarray, n_items: int) -> np.ndarray:
    """Per item: ``gap_n, gap_span, gap_w, gap_wcv2`` (:data:`~anticipate.features.renewal.GAP_SUMS`).

    Parameters
    ----------
    indptr : int64 (P + 1,)  pair ``p`` owns events ``[indptr[p], indptr[p + 1])``
    age : float64 (E,)  days before the cutoff, oldest first within a pair
    item : int (P,)  item code of each pair, in ``0..n_items - 1``
    n_items : int

    Returns
    -------
    float64 (n_items, 4): over pairs with ``n >= 2`` orders ``sum (n - 1)`` and ``sum (n - 1) mean``;
    over those with ``n >= 3`` and a positive mean gap ``sum (n - 2)`` and ``sum (n - 2) (std / mean)^2``.
    """
    out = np.zeros((n_items, 4))
    for p in range(indptr.shape[0] - 1):
        lo, hi = indptr[p], indptr[p + 1]
        n = hi - lo
        if n < 2:
            continue
        mean, std = gap_moments(age, lo, hi)
        gaps = n - 1.0
        out[item[p], 0] += gaps
        out[item[p], 1] += mean * gaps
        if n >= 3 and mean > 0.0:
            w = n - 2.0
            ratio = std / mean
            out[item[p], 2] += w
            out[item[p], 3] += w * (ratio * ratio)
    return out


_item_gap_sums_jit = njit(cache=True, nogil=True)(_item_gap_sums_body)


def item_gap_sums(
    indptr: np.ndarray, age: np.ndarray, item: np.ndarray, n_items: int, *, jit: bool = True
) -> np.ndarray:
    """Run the gap-sums kernel (``jit=False`` runs the plain-Python twin)."""
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(age, dtype=np.float64),
        codes_array(item),
        int(n_items),
    )
    return _item_gap_sums_jit(*args) if jit else _item_gap_sums_body(*args)
