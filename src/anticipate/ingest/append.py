"""``ingest --append``: new order lines after the existing canonical orders, repeats dropped.

The order line key is the whole canonical line (``order_id, customer_id, order_ts,
sku, quantity, unit_price, region``): the line-level duplicate rule of
:mod:`anticipate.ingest.dedup` (an exact repeat of an earlier line), applied to
canonical values because the existing lines are only kept in canonical form. A new
line equal to an existing one (e.g. a nightly export that overlaps the previous
night's) is rejected with reason :data:`EXISTING` and is not counted against
``ingest.max_reject_share``. Memory: the seen-lines table of the existing lines
(24-48 bytes per distinct line) and one batch at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anticipate.ingest import dedup, read
from anticipate.ingest.validate import SCHEMAS, _const

#: The reject reason of a new line that repeats a line already in the data directory.
EXISTING = "duplicate of an existing line (already ingested)"
FIX = "nothing to do: the line is already in the data directory (a re-sent or overlapping export)"


@dataclass(frozen=True)
class Appended:
    """What appending did: ``existing`` lines kept first, the ``rejects`` (row, column, value,
    reason) of new lines that repeat an existing one; the file then holds existing + the rest."""

    existing: int
    rejects: pa.Table


def _canonical_batches(path: Path, batch_rows: int) -> Iterator[pa.Table]:
    """The lines of an existing ``orders.parquet`` in the canonical column order and types."""
    schema = SCHEMAS["orders"]
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=schema.names):
        yield pa.Table.from_batches([batch]).select(schema.names).cast(schema)


def _seen_existing(existing: Path, batch_rows: int) -> tuple[dedup.SeenLines, int]:
    """The seen-lines table of every line of ``existing`` (rows 1..n) and n."""
    seen = dedup.SeenLines(max(1, pq.ParquetFile(existing).metadata.num_rows))
    start = 0
    for batch in _canonical_batches(existing, batch_rows):
        hashes = dedup.row_hashes(batch)
        seen.first_rows(hashes, np.arange(start + 1, start + batch.num_rows + 1, dtype=np.int64))
        start += batch.num_rows
    return seen, start


def existing_day_counts(existing: Path, batch_rows: int, n_days: int) -> np.ndarray:
    """Lines per day since 1970-01-01 (int64, ``n_days`` long) of an existing ``orders.parquet``."""
    counts = np.zeros(n_days, dtype=np.int64)
    for batch in pq.ParquetFile(existing).iter_batches(batch_size=batch_rows, columns=["order_ts"]):
        ns = batch.column(0).cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        counts += np.bincount(ns // 86_400_000_000_000, minlength=n_days)[:n_days]
    return counts


def append_orders(staged: Path, existing: Path, excluded: np.ndarray, *, batch_rows: int,
                  source_column: str) -> Appended:
    """Rewrite ``staged`` (this file's accepted orders) as ``existing`` + its new lines.

    Parameters
    ----------
    staged
        The staged ``orders.parquet`` holding this file's accepted lines, in source order.
    existing
        The published ``orders.parquet`` to append to (read only).
    excluded
        Sorted 1-based source rows already rejected, to number the accepted lines
        (:func:`anticipate.ingest.read.kept_rows`).
    batch_rows
        Rows per batch read.
    source_column
        The source column named in the rejects (the customer id column).

    Returns
    -------
    Appended
        The existing line count and the rejects of the repeated lines.
    """
    seen, n_existing = _seen_existing(existing, batch_rows)
    schema = SCHEMAS["orders"]
    tmp = staged.with_name(f".{staged.name}.append")
    rejects, position = [], 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for batch in _canonical_batches(existing, batch_rows):
            writer.write_table(batch)
        for batch in pq.ParquetFile(staged).iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([batch])
            rows = read.kept_rows(excluded, np.arange(position, position + table.num_rows, dtype=np.int64))
            first = seen.first_rows(dedup.row_hashes(table), rows + n_existing)
            repeat = (first > 0) & (first <= n_existing)
            if repeat.any():
                idx = np.flatnonzero(repeat)
                first_of = pa.array(first[idx].astype(np.int64)).cast(pa.string())
                rejects.append(pa.table({
                    "row": pa.array(rows[idx]), "column": _const(source_column, len(idx), pa.string()),
                    "value": pc.binary_join_element_wise("same as existing line ", first_of, ""),
                    "reason": _const(EXISTING, len(idx), pa.string())}))
                table = table.filter(pa.array(~repeat))
            writer.write_table(table)
            position += batch.num_rows
    os.replace(tmp, staged)
    empty = pa.table({"row": pa.array([], pa.int64()), "column": pa.array([], pa.string()),
                      "value": pa.array([], pa.string()), "reason": pa.array([], pa.string())})
    return Appended(n_existing, pa.concat_tables(rejects) if rejects else empty)
