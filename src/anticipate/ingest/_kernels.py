"""Numba kernels for ingest: row hashes, UTF-8 checks and the seen-lines table.

Arrays only, never pandas or pyarrow. Each kernel is a plain-Python body
(``_name_py``) compiled once with ``njit(cache=True, nogil=True)`` (``_name``);
tests compare the two on random inputs. Bodies call the compiled helpers
(``_round``, ``_digits`` ...), which have twins of their own. Strings arrive as Arrow binary layouts:
``data`` (uint8 bytes of all values) and ``offsets`` (int32 or int64, length n + 1).
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
    """Fold one column's values into the running row hashes, 8 bytes per step.

    Each value mixes in its length, then its bytes as little-endian 64-bit words
    (the last word zero-padded) with an xxHash64-style round
    ``x = rotl(x ^ (w * P2), 31) * P1``; a null mixes in a fixed marker instead,
    so null and the empty string differ.

    Parameters
    ----------
    data, offsets
        The column's bytes (uint8) and value boundaries (int64, length n + 1).
    valid
        bool, length n: False where the value is null.
    h_in
        uint64, length n: the hashes of the columns to the left (start with ``_FNV_OFFSET``).

    Returns
    -------
    numpy.ndarray
        uint64, length n: the new running hashes; ``h_in`` is not changed.
    """
    n = h_in.shape[0]
    out = np.empty(n, dtype=np.uint64)
    p1 = np.uint64(0x9E3779B185EBCA87)
    p2 = np.uint64(0xC2B2AE3D27D4EB4F)
    for i in range(n):
        x = h_in[i]
        if not valid[i]:
            x = np.uint64(_round(x, _NULL_MARK, p1, p2))
        else:
            start = offsets[i]
            stop = offsets[i + 1]
            x = np.uint64(_round(x, np.uint64(stop - start), p1, p2))
            j = start
            while j + 8 <= stop:
                x = np.uint64(_round(x, np.uint64(_word(data, j)), p1, p2))
                j += 8
            if j < stop:
                w = np.uint64(0)
                for k in range(j, stop):
                    w |= np.uint64(data[k]) << np.uint64(8 * (k - j))
                x = np.uint64(_round(x, w, p1, p2))
        out[i] = x
    return out


def _word_py(data: np.ndarray, j: int) -> np.uint64:
    """The 8 bytes ``data[j:j + 8]`` as a little-endian uint64."""
    w = np.uint64(0)
    for k in range(8):
        w |= np.uint64(data[j + k]) << np.uint64(8 * k)
    return w


def _round_py(x: np.uint64, w: np.uint64, p1: np.uint64, p2: np.uint64) -> np.uint64:
    """One mixing round: ``rotl(x ^ (w * p2), 31) * p1`` (uint64 wrap-around)."""
    y = x ^ (w * p2)
    y = (y << np.uint64(31)) | (y >> np.uint64(33))
    return y * p1


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


#: Low bits of a :func:`_day_insert` slot that hold the day (days since 1970 < 2**17 up to 2262).
DAY_BITS = 17


def _day_insert_py(table: np.ndarray, hashes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Each key's first day in an open-addressing table of one uint64 a slot (linear probing).

    A slot holds the key hash's high 47 bits and, in its low :data:`DAY_BITS`, the day (int64 >= 0)
    the key was first met; 0 marks an empty slot (a key whose high bits are all 0 is stored as 1, a
    collision as any other). ``table`` (a power-of-two length) is updated in place; reinserting its
    non-empty slots with ``days = slot & (2**DAY_BITS - 1)`` rebuilds it in a larger one.

    Returns
    -------
    numpy.ndarray
        int8, length n: 2 where the key is new (now inserted with its day), 1 where it was first met
        on another day, 0 on the same day.
    """
    mask = np.uint64(table.shape[0] - 1)
    shift = np.uint64(DAY_BITS)
    n = hashes.shape[0]
    out = np.zeros(n, dtype=np.int8)
    for i in range(n):
        key = hashes[i] >> shift
        if key == 0:
            key = np.uint64(1)
        day = np.uint64(days[i])
        slot = key & mask
        while True:
            v = table[slot]
            if v == 0:
                table[slot] = (key << shift) | day
                out[i] = 2
                break
            if (v >> shift) == key:
                if (v & np.uint64((1 << DAY_BITS) - 1)) != day:
                    out[i] = 1
                break
            slot = (slot + np.uint64(1)) & mask
    return out


_NAT = np.iinfo(np.int64).min
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _digits_py(data: np.ndarray, start: int, count: int) -> int:
    """The decimal number in ``data[start:start + count]``, or -1 if any byte is not a digit."""
    v = 0
    for k in range(start, start + count):
        d = np.int64(data[k]) - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


def _days_from_civil_py(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y = y - 1 if m <= 2 else y
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _parse_iso_py(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Strict ISO 8601 timestamps -> int64 microseconds since 1970 (``_NAT`` where not one).

    Accepts ``YYYY-MM-DD`` optionally followed by ``T`` or a space and ``HH:MM``,
    ``HH:MM:SS`` or ``HH:MM:SS.f`` (1-9 fraction digits, truncated to
    microseconds), and an optional trailing ``Z``. Calendar dates are checked
    (no February 30). Anything else (offsets, other layouts) is ``_NAT``, for a
    slower parser to try.
    """
    n = offsets.shape[0] - 1
    out = np.full(n, _NAT, dtype=np.int64)
    for i in range(n):
        s = offsets[i]
        e = offsets[i + 1]
        if e > s and data[e - 1] == 90:  # 'Z'
            e -= 1
        length = e - s
        if length < 10 or data[s + 4] != 45 or data[s + 7] != 45:
            continue
        y = _digits(data, s, 4)
        mo = _digits(data, s + 5, 2)
        d = _digits(data, s + 8, 2)
        if y < 0 or mo < 1 or mo > 12 or d < 1 or d > _DAYS_IN_MONTH[mo]:
            continue
        if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
            continue
        micros = _time_of_day(data, s + 10, e)
        if micros < 0:
            continue
        out[i] = _days_from_civil(y, mo, d) * 86_400_000_000 + micros
    return out


def _time_of_day_py(data: np.ndarray, s: int, e: int) -> int:
    """Microseconds of ``[T ]HH:MM[:SS[.f]]`` in ``data[s:e]`` (0 when empty), -1 if malformed."""
    if s == e:
        return 0
    if e - s < 6 or (data[s] != 84 and data[s] != 32) or data[s + 3] != 58:
        return -1
    hh = _digits(data, s + 1, 2)
    mm = _digits(data, s + 4, 2)
    if hh < 0 or hh > 23 or mm < 0 or mm > 59:
        return -1
    micros = (hh * 60 + mm) * 60_000_000
    j = s + 6
    if j == e:
        return micros
    if e - j < 3 or data[j] != 58:
        return -1
    ss = _digits(data, j + 1, 2)
    if ss < 0 or ss > 59:
        return -1
    micros += ss * 1_000_000
    j += 3
    if j == e:
        return micros
    if data[j] != 46 or e - j - 1 < 1 or e - j - 1 > 9:
        return -1
    frac = 0
    scale = 100_000
    for k in range(j + 1, e):
        dig = np.int64(data[k]) - 48
        if dig < 0 or dig > 9:
            return -1
        if scale >= 1:
            frac += dig * scale
            scale //= 10
    return micros + frac


_round = njit(cache=True, nogil=True, inline="always")(_round_py)
_word = njit(cache=True, nogil=True, inline="always")(_word_py)
_digits = njit(cache=True, nogil=True)(_digits_py)
_days_from_civil = njit(cache=True, nogil=True)(_days_from_civil_py)
_time_of_day = njit(cache=True, nogil=True)(_time_of_day_py)
_parse_iso = njit(cache=True, nogil=True)(_parse_iso_py)
_hash_column = njit(cache=True, nogil=True)(_hash_column_py)
_finish_hash = njit(cache=True, nogil=True)(_finish_hash_py)
_utf8_valid = njit(cache=True, nogil=True)(_utf8_valid_py)
_seen_insert = njit(cache=True, nogil=True)(_seen_insert_py)
_day_insert = njit(cache=True, nogil=True)(_day_insert_py)
