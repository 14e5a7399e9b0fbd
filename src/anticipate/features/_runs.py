"""Numba kernels that find runs of equal codes, each with its plain-Python twin.

A *run* is a maximal stretch of consecutive rows with equal codes. The returned start
arrays are views of buffers sized for every row: the pages past the last run are never
touched, so they cost neither page faults nor resident memory (a copy would cost both).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from anticipate.features._kernels import codes_array


def _runs_body(first: np.ndarray, second: np.ndarray, third: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of consecutive rows with equal ``(first, second, third)`` codes.

    Returns
    -------
    run : int32 (N,)  the run number of each row (half the memory of int64; N < 2**31)
    starts : int64 (R,)  the first row of each run
    """
    n = first.shape[0]
    run = np.empty(n, dtype=np.int32)
    starts = np.empty(n, dtype=np.int64)
    r = -1
    for i in range(n):
        if i == 0 or first[i] != first[i - 1] or second[i] != second[i - 1] or third[i] != third[i - 1]:
            r += 1
            starts[r] = i
        run[i] = r
    return run, starts[: r + 1]


_runs_jit = njit(cache=True, nogil=True)(_runs_body)


def runs(
    first: np.ndarray, second: np.ndarray, third: np.ndarray | None = None, *, jit: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Run the runs kernel over two or three code arrays (``jit=False`` runs the plain-Python twin).

    Three keys spare a caller the combined key of two (an int64 array of N).
    """
    args = (codes_array(first), codes_array(second), codes_array(second if third is None else third))
    return _runs_jit(*args) if jit else _runs_body(*args)


def _segment_runs_body(
    indptr: np.ndarray, perm: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal ``key[perm[j]]`` within each segment of ``perm`` (a run never crosses a segment).

    Parameters
    ----------
    indptr : int64 (G + 1,)  segment ``g`` is ``perm[indptr[g]:indptr[g + 1]]``
    perm : int64 (N,)  row numbers
    key : int64 (rows,)  code per row

    Returns
    -------
    starts : int64 (R,)  the position in ``perm`` where each run starts
    owner : int64 (R,)  the segment of each run
    """
    n = perm.shape[0]
    starts = np.empty(n, dtype=np.int64)
    owner = np.empty(n, dtype=np.int64)
    r = 0
    for g in range(indptr.shape[0] - 1):
        for j in range(indptr[g], indptr[g + 1]):
            if j == indptr[g] or key[perm[j]] != key[perm[j - 1]]:
                starts[r] = j
                owner[r] = g
                r += 1
    return starts[:r], owner[:r]


_segment_runs_jit = njit(cache=True, nogil=True)(_segment_runs_body)


def segment_runs(
    indptr: np.ndarray, perm: np.ndarray, key: np.ndarray, *, jit: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Run the segment-runs kernel (``jit=False`` runs the plain-Python twin)."""
    args = (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(perm, dtype=np.int64),
        codes_array(key),
    )
    return _segment_runs_jit(*args) if jit else _segment_runs_body(*args)
