"""Numba kernels that find runs of equal codes and sum them, each with its plain-Python twin.

A *run* is a maximal stretch of consecutive rows with equal codes. The returned start
arrays are views of buffers sized for every row: the pages past the last run are never
touched, so they cost neither page faults nor resident memory (a copy would cost both).
:func:`run_sums` adds each run's values as ``np.add.reduceat`` does (NumPy's pairwise
summation, bit for bit), in line order, then gives each event its run's sums.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

from anticipate.features._kernels import codes_array


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


#: NumPy's pairwise summation adds blocks of at most this many values with eight accumulators.
PAIRWISE_BLOCK = 128


@register_jitable
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """NumPy's ``pairwise_sum`` of ``a[lo:lo + n]`` for ``n <= PAIRWISE_BLOCK`` (one leaf)."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        r0, r1, r2, r3 = r0 + a[lo + i], r1 + a[lo + i + 1], r2 + a[lo + i + 2], r3 + a[lo + i + 3]
        r4, r5, r6, r7 = r4 + a[lo + i + 4], r5 + a[lo + i + 5], r6 + a[lo + i + 6], r7 + a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@register_jitable
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """NumPy's pairwise sum of ``a[lo:lo + n]`` (what ``np.add.reduce`` of contiguous float64 adds).

    Longer stretches split in two halves (the first a multiple of 8 long) added after each
    other, down to blocks of :data:`PAIRWISE_BLOCK`; the recursion runs on an explicit stack
    (Numba compiles no recursive overload).
    """
    if n <= PAIRWISE_BLOCK:
        return _block_sum(a, lo, n)
    los, ns = np.empty(64, dtype=np.int64), np.empty(64, dtype=np.int64)
    left, pending = np.empty(64), np.zeros(64, dtype=np.bool_)  # pending: the right half is still to add
    sp = 0
    los[0], ns[0] = lo, n
    while True:
        if ns[sp] > PAIRWISE_BLOCK:  # descend into the first half
            half = ns[sp] // 2 - (ns[sp] // 2) % 8
            pending[sp] = True
            los[sp + 1], ns[sp + 1] = los[sp], half
            sp += 1
            continue
        v = _block_sum(a, los[sp], ns[sp])
        while sp > 0:  # hand the value up: it is a first half (then the second follows) or a second
            sp -= 1
            if pending[sp]:
                left[sp], pending[sp] = v, False
                half = ns[sp] // 2 - (ns[sp] // 2) % 8
                los[sp + 1], ns[sp + 1] = los[sp] + half, ns[sp] - half
                sp += 1
                break
            v = left[sp] + v
        else:
            return v


def _run_sums_body(
    first: np.ndarray,
    second: np.ndarray,
    third: np.ndarray,
    rows: np.ndarray,
    units: np.ndarray,
    spend: np.ndarray,
    ev_units: np.ndarray,
    ev_spend: np.ndarray,
    parts: int,
) -> bool:
    """Each event's ``units`` and ``spend`` summed over its run, when every event is one run.

    Parameters
    ----------
    first, second, third : int (N,)  the lines' codes (group keys and order)
    rows : int64 (E,)  each event's first line
    units, spend : float64 (N,)  per line
    ev_units, ev_spend : float64 (E,)  written over (only when True is returned)
    parts : int (>= 1)  stretches of whole runs summed in parallel (``prange``); the sums do not depend on it

    Returns True when the lines hold exactly E runs of equal ``(first, second, third)``
    (each event one contiguous run that starts at its first line): then ``ev_units[e]`` is
    ``np.add.reduceat(units, starts)`` at the run of event ``e``, bit for bit, and so is
    ``ev_spend``. Else False, nothing written. The runs are summed in line order into a scratch
    of two floats per line (at each run's first), which the events then read at their first
    lines: the events, in customer order, read 16 bytes each at random where they read the five
    arrays of their lines (10 M lines: customers' and pairs' events 0.61 + 0.53 -> 0.25 + 0.23 s
    of CPU; the scratch is 160 MB, freed on return).
    """
    n = first.shape[0]
    sums = np.empty((n, 2))  # each run's two sums at its first line: made in line order, then gathered
    parts = max(1, min(parts, n))
    bounds = np.empty(parts + 1, dtype=np.int64)  # part c: the runs starting in [bounds[c], bounds[c + 1])
    for c in range(parts + 1):
        at = c * n // parts
        while 0 < at < n and first[at] == first[at - 1] and second[at] == second[at - 1] \
                and third[at] == third[at - 1]:
            at += 1  # a part starts at a run's first line
        bounds[c] = at
    counts = np.zeros(parts, dtype=np.int64)
    for c in prange(parts):
        s = bounds[c]
        while s < bounds[c + 1]:
            end = s + 1
            while end < n and first[end] == first[s] and second[end] == second[s] and third[end] == third[s]:
                end += 1
            if end - s == 1:
                sums[s, 0], sums[s, 1] = units[s], spend[s]
            else:  # reduceat starts from the run's first value and adds the pairwise sum of the rest
                sums[s, 0] = units[s] + pairwise_sum(units, s + 1, end - s - 1)
                sums[s, 1] = spend[s] + pairwise_sum(spend, s + 1, end - s - 1)
            counts[c] += 1
            s = end
    if counts.sum() != rows.shape[0]:
        return False
    for e in prange(rows.shape[0]):  # one read of 16 bytes per event, where its run's lines were five
        ev_units[e], ev_spend[e] = sums[rows[e], 0], sums[rows[e], 1]
    return True


_run_sums_jit = njit(cache=True, nogil=True, parallel=True)(_run_sums_body)


def run_sums(
    keys: tuple[np.ndarray, ...],
    rows: np.ndarray,
    units: np.ndarray,
    spend: np.ndarray,
    out: tuple[np.ndarray, np.ndarray],
    *,
    jit: bool = True,
    parts: int | None = None,
) -> bool:
    """Run the run-sums kernel over two or three code arrays ``keys`` (``jit=False``: the plain twin).

    ``out``: the events' units and spend (contiguous float64, E each), written over when True
    is returned (see :func:`_run_sums_body`). ``parts``: stretches summed in parallel (default:
    Numba's threads); the sums do not depend on it.
    """
    if not all(o.dtype == np.float64 and o.flags.c_contiguous and len(o) == len(rows) for o in out):
        raise ValueError("run_sums writes into out: two contiguous float64 arrays of one value per event")
    codes = [codes_array(k) for k in keys]
    args = (
        codes[0],
        codes[1],
        codes[-1],
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(units, dtype=np.float64),
        np.ascontiguousarray(spend, dtype=np.float64),
        *out,
        max(1, numba.get_num_threads() if parts is None else int(parts)),
    )
    return bool(_run_sums_jit(*args) if jit else _run_sums_body(*args))
