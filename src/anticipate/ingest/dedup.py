"""Exact-duplicate lines in bounded memory: 64-bit row hashes and a seen-lines table.

A line's hash covers every source column (null apart from empty), so two lines
are duplicates when all their fields are byte-identical. Memory: the table holds
one 8-byte hash and one 8-byte row number per distinct line in a power-of-two
table kept under 70% load, i.e. 24-48 bytes per distinct line (about 270 MB for
10 million lines). With 64-bit hashes the chance that two different lines of a
10-million-line file collide (and the later one is wrongly called a duplicate)
is about n^2 / 2^65 = 3e-6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anticipate.ingest import _kernels

_MAX_LOAD = 0.7


def binary_layout(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bytes, int64 offsets and validity of a string/binary Arrow array (no copy of bytes).

    Any other type is first cast to string (numbers, dates), or rendered with ``str``
    when Arrow cannot cast it (nested types).

    Returns
    -------
    tuple
        ``(data uint8, offsets int32/int64 of length n + 1, valid bool of length n)``.
    """
    arr = _as_binary(arr)
    n = len(arr)
    _, off_buf, data_buf = arr.buffers()
    width = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=width, count=n + 1, offset=arr.offset * np.dtype(width).itemsize)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    valid = np.ones(n, dtype=np.bool_) if arr.null_count == 0 else pc.is_valid(arr).to_numpy(False)
    return data, offsets, valid


def _as_binary(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_dictionary(t):
        return _as_binary(arr.dictionary_decode())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return arr
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr.view(pa.binary() if pa.types.is_string(t) else pa.large_binary())
    try:
        return pc.cast(arr, pa.string()).view(pa.binary())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in arr.to_pylist()], pa.string()).view(
            pa.binary()
        )


def row_hashes(table: pa.Table) -> np.ndarray:
    """64-bit hashes of each row over all of ``table``'s columns, in column order.

    Returns
    -------
    numpy.ndarray
        uint64, length ``table.num_rows``.
    """
    table = table.combine_chunks()
    h = np.full(table.num_rows, _kernels._FNV_OFFSET, dtype=np.uint64)
    for column in table.columns:
        for chunk in column.chunks:
            data, offsets, valid = binary_layout(chunk)
            h = _kernels._hash_column(data, offsets, valid, h)
    return _kernels._finish_hash(h)


class SeenLines:
    """The lines seen so far in one file: ask which of a chunk's lines are repeats.

    Parameters
    ----------
    capacity
        Expected number of distinct lines; the table grows (doubling) beyond it.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._table = np.zeros((_slots(capacity), 2), dtype=np.uint64)
        self._count = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the table, bytes."""
        return self._table.nbytes

    def reserve(self, count: int) -> None:
        """Make room for ``count`` distinct lines in all (one rebuild instead of several doublings)."""
        if count <= _MAX_LOAD * len(self._table):
            return
        used = self._table[self._table[:, 1] != 0]
        self._table = np.zeros((_slots(count), 2), dtype=np.uint64)
        _kernels._seen_insert(self._table, np.ascontiguousarray(used[:, 0]),
                              used[:, 1].astype(np.int64))

    def first_rows(self, hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each line, 0 when first seen (and remembered), else the row it repeats.

        Parameters
        ----------
        hashes
            uint64 line hashes from :func:`row_hashes`.
        rows
            int64 1-based source rows of those lines (all >= 1).
        """
        self.reserve(self._count + len(hashes))
        first = _kernels._seen_insert(self._table, hashes, rows.astype(np.int64))
        self._count += int(np.count_nonzero(first == 0))
        return first


def _slots(count: int) -> int:
    """The power-of-two slot count that holds ``count`` lines under the load limit."""
    need = max(16, int(count / _MAX_LOAD) + 1)
    return 1 << (need - 1).bit_length()


def expected_lines(path: Path, first: Any, kind: str, compression: str | None) -> int:
    """Lines in the whole file (``first``: its first ``read.RawChunk``): Parquet says so; plain CSV
    is extrapolated from the first chunk's bytes per line (+10%); gzip sizes say little, so those
    tables grow as they go."""
    n = len(first.rows)
    if kind == "parquet":
        return pq.read_metadata(path).num_rows
    if compression is not None:
        return n
    nbytes = sum(pc.sum(pc.binary_length(col)).as_py() or 0 for col in first.columns)
    nbytes += n * len(first.columns)  # delimiters and the newline
    return int(path.stat().st_size / max(nbytes, 1) * n * 1.1) + 1
