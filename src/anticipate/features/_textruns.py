"""Numba kernel numbering the runs of equal strings of an Arrow text column, with its plain-Python twin.

Order ids issued in sequence never decrease, so equal ids are contiguous and their first-appearance
codes are the runs' numbers: one pass over the column's offsets and bytes, where Arrow's compute
kernels took two comparisons of every neighbouring pair, a boolean array and a cumulative sum
(10 M order lines: 0.13 -> 0.06 s of CPU).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _text_runs_body(offsets: np.ndarray, data: np.ndarray, code: int, codes: np.ndarray) -> int:
    """Number the strings of one chunk by runs of equal ones, if they never decrease.

    Parameters
    ----------
    offsets : int64 (m + 1,), m >= 1  string ``i`` is ``data[offsets[i]:offsets[i + 1]]`` (UTF-8 bytes)
    data : uint8
    code : int  the first string's code
    codes : int32 (m,)  written: each string's code, one more than the string before's when they differ

    Returns
    -------
    The last string's code, or -1 (``codes`` partly written) when a string sorts before the one before
    it, in byte order (a prefix first), which is the code points' order.
    """
    codes[0] = code
    for i in range(1, offsets.shape[0] - 1):
        # unsigned positions: Numba then skips its negative-index wraparound on every byte read
        lo, hi, before = np.uint64(offsets[i]), np.uint64(offsets[i + 1]), np.uint64(offsets[i - 1])
        n = min(hi - lo, lo - before)
        order = 0
        for k in range(n):
            x, y = data[lo + k], data[before + k]
            if x != y:
                order = -1 if x < y else 1
                break
        if order == 0 and hi - lo != lo - before:
            order = -1 if hi - lo < lo - before else 1
        if order < 0:
            return -1
        code += order
        codes[i] = code
    return code


_text_runs_jit = njit(cache=True, nogil=True)(_text_runs_body)


def _buffers(chunk: object) -> tuple[np.ndarray, np.ndarray]:
    """A string or large-string Arrow array's offsets (int64, ``len + 1``) and data bytes, zero copy for
    large strings."""
    import pyarrow as pa

    _, offsets, data = chunk.buffers()
    large = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
    kind = np.int64 if large else np.int32
    at = np.frombuffer(offsets, dtype=kind)[chunk.offset : chunk.offset + len(chunk) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return at.astype(np.int64, copy=False), raw


def text_runs(column: object, *, jit: bool = True) -> np.ndarray | None:
    """First-appearance codes (int32) of an Arrow (chunked) text column without nulls whose strings never
    decrease, else None: the run number of each string (``jit=False`` runs the plain-Python twin). A
    column of another layout than offsets and bytes (string views) is None too: the caller hashes it."""
    import pyarrow as pa

    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_large_binary)
    if not any(kind(column.type) for kind in kinds):
        return None
    kernel = _text_runs_jit if jit else _text_runs_body
    codes = np.empty(len(column), dtype=np.int32)
    prev, code, at = None, 0, 0
    for chunk in getattr(column, "chunks", [column]):
        if len(chunk) == 0:
            continue
        offsets, data = _buffers(chunk)
        first = data[offsets[0] : offsets[1]].tobytes()
        if prev is not None:  # the chunk's first string against the one before it (bytes compare unsigned)
            if first < prev:
                return None
            code += first != prev
        code = kernel(offsets, data, code, codes[at : at + len(chunk)])
        if code < 0:
            return None
        prev = data[offsets[-2] : offsets[-1]].tobytes()
        at += len(chunk)
    return codes
