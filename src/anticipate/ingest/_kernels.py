"""Numba kernels for ingest: row hashes, UTF-8 checks and the seen-lines table.

Arrays only, never pandas or pyarrow. Each kernel is a plain-Python body
(``_name_py``) compiled once with ``njit(cache=True, nogil=True)`` (``_name``);
tests compare the two on random inputs. Strings arrive as Arrow binary layouts:
``data`` (uint8 bytes of all values) and ``offsets`` (int64, length n + 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_NULL_MARK = np.uint64(0x9E3779B97F4A7C15)


def _hash_column_py(
    data: np.ndarray, offsets: np.ndarray, valid: np.ndarray, h_in: np.ndarray
) -> np.ndarray:
    """Fold one column's values into the running row hashes (FNV-1a 64 over length + bytes).

    Parameters
    ----------
    data, offsets
        The column's bytes (uint8) and value boundaries (int64, length n + 1).
    valid
        bool, length n: False where the value is null (hashed apart from the empty string).
    h_in
        uint64, length n: the hashes of the columns to the left (start with the offset basis).

    Returns
    -------
    numpy.ndarray
        uint64, length n: the new running hashes; ``h_in`` is not changed.
    """
    n = h_in.shape[0]
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        x = h_in[i]
        if not valid[i]:
            x = (x ^ _NULL_MARK) * _FNV_PRIME
        else:
            start = offsets[i]
            stop = offsets[i + 1]
            x = (x ^ np.uint64(stop - start)) * _FNV_PRIME
            for j in range(start, stop):
                x = (x ^ np.uint64(data[j])) * _FNV_PRIME
        out[i] = x
    return out


def _finish_hash_py(h: np.ndarray) -> np.ndarray:
    """Avalanche running FNV hashes (splitmix64 finaliser) so low bits index a table well."""
    n = h.shape[0]
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        z = h[i]
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out[i] = z ^ (z >> np.uint64(31))
    return out


def _utf8_valid_py(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Whether each value is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF).

    Returns
    -------
    numpy.ndarray
        bool, length n.
    """
    n = offsets.shape[0] - 1
    out = np.ones(n, dtype=np.bool_)
    for i in range(n):
        j = offsets[i]
        stop = offsets[i + 1]
        while j < stop:
            b = data[j]
            if b < 0x80:
                j += 1
                continue
            if 0xC2 <= b <= 0xDF:
                need, lo, hi = 1, 0x80, 0xBF
            elif 0xE0 <= b <= 0xEF:
                need = 2
                lo = 0xA0 if b == 0xE0 else 0x80
                hi = 0x9F if b == 0xED else 0xBF
            elif 0xF0 <= b <= 0xF4:
                need = 3
                lo = 0x90 if b == 0xF0 else 0x80
                hi = 0x8F if b == 0xF4 else 0xBF
            else:
                out[i] = False
                break
            if j + need >= stop:
                out[i] = False
                break
            if not (lo <= data[j + 1] <= hi):
                out[i] = False
                break
            ok = True
            for k in range(2, need + 1):
                if not (0x80 <= data[j + k] <= 0xBF):
                    ok = False
                    break
            if not ok:
                out[i] = False
                break
            j += need + 1
    return out


def _seen_insert_py(table: np.ndarray, hashes: np.ndarray, row_numbers: np.ndarray) -> np.ndarray:
    """Look up and insert line hashes in an open-addressing table (linear probing).

    ``table`` is uint64 of shape (capacity, 2), a power-of-two capacity, each slot
    ``[hash, row]`` side by side (one cache line per probe); ``row == 0`` marks an
    empty slot. It is updated in place: this kernel is the state of
    :class:`anticipate.ingest.dedup.SeenLines`, which owns it and grows it before
    it passes 70% load.

    Returns
    -------
    numpy.ndarray
        int64, length n: 0 where the hash is new (now inserted with its row), else
        the 1-based row of its first occurrence.
    """
    mask = np.uint64(table.shape[0] - 1)
    n = hashes.shape[0]
    first = np.zeros(n, dtype=np.int64)
    for i in range(n):
        h = hashes[i]
        slot = h & mask
        while True:
            r = table[slot, 1]
            if r == 0:
                table[slot, 0] = h
                table[slot, 1] = np.uint64(row_numbers[i])
                break
            if table[slot, 0] == h:
                first[i] = np.int64(r)
                break
            slot = (slot + np.uint64(1)) & mask
    return first


_hash_column = njit(cache=True, nogil=True)(_hash_column_py)
_finish_hash = njit(cache=True, nogil=True)(_finish_hash_py)
_utf8_valid = njit(cache=True, nogil=True)(_utf8_valid_py)
_seen_insert = njit(cache=True, nogil=True)(_seen_insert_py)
