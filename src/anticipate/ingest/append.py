"""``ingest --append``: new order lines after the existing canonical orders, repeats dropped.

A new line repeats an existing one when it equals it in all seven canonical columns
(``order_id, customer_id, order_ts, sku, quantity, unit_price, region``: the
line-level duplicate rule of :mod:`anticipate.ingest.dedup`, applied to canonical
values because the existing lines are only kept in canonical form) or, when both have
an ``order_id``, when it has the ``order_id``, ``sku``, ``customer_id`` and calendar day of
``order_ts`` of an existing line (:func:`_keys`: the same order exported again in another
layout, e.g. timestamps to the minute; an order id alone is no identity, since till receipts
that restart their numbering every day reuse it for other customers on other days). Such a line is
rejected with reason :data:`EXISTING` and is not counted against
``ingest.max_reject_share``. New lines kept although they are dated more than a day
before the existing orders' last one are counted (:func:`overlap_warning`): without
order ids an overlapping export in another layout cannot be told from new orders.
Existing id columns whose every value is ``<digits>.0`` (ingested before such ids were stored
without ``.0``, :mod:`anticipate.ingest.ids`) are rewritten so on the way, or the same customer
would be two (:func:`legacy_float_ids`).
Memory: two seen-lines tables of the existing lines (lines and order keys,
24-48 bytes per distinct entry each) and one batch at a time.
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

from anticipate.ingest import dedup, ids, read
from anticipate.ingest.orderspan import OrderDays
from anticipate.ingest.validate import SCHEMAS, _const

#: The reject reason of a new line that repeats a line already in the data directory.
EXISTING = "duplicate of an existing line (already ingested)"
FIX = "nothing to do: the line is already in the data directory (a re-sent or overlapping export)"
#: Kept new lines dated more than this before the existing orders' last one are warned about.
OVERLAP_WARN = np.timedelta64(1, "D")
_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class Appended:
    """What appending did: ``existing`` lines kept first, the ``rejects`` (row, column, value,
    reason) of new lines that repeat an existing one (``by_key`` of them on the order key only),
    the existing orders' last ``end`` and the kept new lines dated at or before it (``overlap``
    lines from ``overlap_first`` to ``overlap_last``) and the existing id columns rewritten without
    ``.0`` (``float_ids``); the file then holds existing + the rest (``added`` lines; none: the existing
    file's very bytes)."""

    existing: int
    rejects: pa.Table
    by_key: int = 0
    end: np.datetime64 | None = None
    overlap: int = 0
    overlap_first: np.datetime64 | None = None
    overlap_last: np.datetime64 | None = None
    float_ids: frozenset[str] = frozenset()
    added: int = 0


def _canonical_batches(path: Path, batch_rows: int, float_ids: frozenset[str] = frozenset()
                       ) -> Iterator[pa.Table]:
    """The lines of an existing ``orders.parquet`` in the canonical column order and types, the
    ``float_ids`` columns (:func:`legacy_float_ids`) without their ``.0``."""
    schema = SCHEMAS["orders"]
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=schema.names):
        table = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
        for name in float_ids:
            fixed = ids.canonical(table[name].combine_chunks())
            table = table.set_column(table.schema.get_field_index(name), name, fixed)
        yield table


#: Existing lines whose ids decide which columns :func:`legacy_float_ids` reads whole.
PROBE_ROWS = 10_000


def legacy_float_ids(path: Path, batch_rows: int) -> frozenset[str]:
    """The id columns of an existing ``orders.parquet`` whose every non-empty value is ``<digits>.0``.

    The first :data:`PROBE_ROWS` lines decide which columns are read whole (usually none: a nightly
    append then reads 10,000 lines more, not the whole history)."""
    pf = pq.ParquetFile(path)
    found = [n for n in ids.ID_COLUMNS["orders"] if n in pf.schema_arrow.names and pf.metadata.num_rows]
    for probe in (True, False):
        if not found:
            break
        for batch in pf.iter_batches(batch_size=PROBE_ROWS if probe else batch_rows, columns=found):
            found = [n for n in found if ids.all_whole_floats(ids.non_empty(_text(batch.column(n))))]
            if probe or not found:
                break
    return frozenset(found)


def _text(column: pa.Array) -> pa.Array:
    """An id column as plain strings (dictionary columns decoded)."""
    return (column.dictionary_decode() if pa.types.is_dictionary(column.type) else column).cast(pa.string())


def _keys(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The order key hashes of ``table``'s lines and which lines have an order_id.

    The key a line keeps when its order is exported again in another layout: ``order_id``,
    ``sku``, ``customer_id`` and the calendar day (UTC) of ``order_ts`` (a re-export may round the
    time, not move it to another day). ``order_id + sku`` alone matched order 1 of another
    customer on another day when the ids restart every day (till receipts)."""
    day = pc.divide(table["order_ts"].cast(pa.timestamp("ns")).cast(pa.int64()), _DAY_NS)
    keys = table.select(["order_id", "sku", "customer_id"]).append_column("day", day)
    return dedup.row_hashes(keys), pc.is_valid(table["order_id"]).to_numpy(zero_copy_only=False)


def _ts(table: pa.Table) -> np.ndarray:
    return table["order_ts"].to_numpy().astype("datetime64[ns]")


class _Seen:
    """The existing lines: their line and order key seen-tables (rows 1..n) and last timestamp."""

    def __init__(self, existing: Path, batch_rows: int, float_ids: frozenset[str],
                 spans: OrderDays | None = None) -> None:
        size = max(1, pq.ParquetFile(existing).metadata.num_rows)
        self.lines, self.keys = dedup.SeenLines(size), dedup.SeenLines(size)
        self.n, self.end = 0, None
        for batch in _canonical_batches(existing, batch_rows, float_ids):
            rows = np.arange(self.n + 1, self.n + batch.num_rows + 1, dtype=np.int64)
            self.lines.first_rows(dedup.row_hashes(batch), rows)
            keys, with_id = _keys(batch)
            self.keys.first_rows(keys[with_id], rows[with_id])
            if spans is not None:  # the new lines' orders met again, against the existing ones
                spans.add(batch)
            ts = _ts(batch)
            if len(ts):
                self.end = ts.max() if self.end is None else max(self.end, ts.max())
            self.n += batch.num_rows

    def repeats(self, table: pa.Table, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which new lines (1-based source ``rows``) repeat an existing line, which of them by key
        only, and the existing row each repeats."""
        first = self.lines.first_rows(dedup.row_hashes(table), rows + self.n)
        repeat = (first > 0) & (first <= self.n)
        keys, with_id = _keys(table)
        ask = with_id & ~repeat
        by_key = np.zeros(len(rows), dtype=bool)
        key_first = self.keys.first_rows(keys[ask], rows[ask] + self.n)
        by_key[np.flatnonzero(ask)[(key_first > 0) & (key_first <= self.n)]] = True
        first[np.flatnonzero(ask)] = np.where(key_first <= self.n, key_first, first[ask])
        return repeat | by_key, by_key, first


def _rejects(rows: np.ndarray, first: np.ndarray, by_key: np.ndarray, column: str) -> pa.Table:
    first_of = pa.array(first.astype(np.int64)).cast(pa.string())
    prefix = pa.array(np.where(by_key, "same order_id, sku, customer_id and day as existing line ",
                               "same as existing line "))
    return pa.table({"row": pa.array(rows), "column": _const(column, len(rows), pa.string()),
                     "value": pc.binary_join_element_wise(prefix, first_of, ""),
                     "reason": _const(EXISTING, len(rows), pa.string())})


def existing_day_counts(existing: Path, batch_rows: int, n_days: int) -> np.ndarray:
    """Lines per day since 1970-01-01 (int64, ``n_days`` long) of an existing ``orders.parquet``."""
    counts = np.zeros(n_days, dtype=np.int64)
    for batch in pq.ParquetFile(existing).iter_batches(batch_size=batch_rows, columns=["order_ts"]):
        ns = batch.column(0).cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        counts += np.bincount(ns // 86_400_000_000_000, minlength=n_days)[:n_days]
    return counts


def append_orders(staged: Path, existing: Path, excluded: np.ndarray, *, batch_rows: int,
                  source_column: str, spans: OrderDays | None = None) -> Appended:
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
    batch_rows, source_column
        Rows per batch read; the source column named in the rejects (the customer id column).
    spans
        The new lines' order days (:class:`~anticipate.ingest.orderspan.OrderDays`), given the existing ones.

    Returns
    -------
    Appended
        The existing line count, the rejects of the repeated lines and the overlap of the kept ones.
        When no new line is kept (the same file appended twice) and no id is rewritten, ``staged``
        becomes a copy (hard link) of ``existing``: the same bytes, so the same data digest.
    """
    float_ids = legacy_float_ids(existing, batch_rows)
    seen = _Seen(existing, batch_rows, float_ids, spans)
    tmp = staged.with_name(f".{staged.name}.append")
    rejects, position, by_key, overlap, added = [], 0, 0, [], 0
    with pq.ParquetWriter(tmp, SCHEMAS["orders"], compression="zstd") as writer:
        for batch in _canonical_batches(existing, batch_rows, float_ids):
            writer.write_table(batch)
        for batch in pq.ParquetFile(staged).iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([batch])
            rows = read.kept_rows(excluded, np.arange(position, position + table.num_rows, dtype=np.int64))
            repeat, key_only, first = seen.repeats(table, rows)
            if repeat.any():
                idx = np.flatnonzero(repeat)
                rejects.append(_rejects(rows[idx], first[idx], key_only[idx], source_column))
                by_key += int(key_only.sum())
                table = table.filter(pa.array(~repeat))
            ts = _ts(table)
            overlap.append(ts[ts <= seen.end] if seen.end is not None else ts[:0])
            if table.num_rows:  # an empty row group would change the bytes of the same data
                writer.write_table(table)
            added += table.num_rows
            position += batch.num_rows
    if added or float_ids:
        os.replace(tmp, staged)
    else:  # nothing new: the published file stays, byte for byte
        from anticipate.ingest.update import link_or_copy

        os.remove(tmp)
        os.remove(staged)
        link_or_copy(existing, staged)
    empty = pa.table({"row": pa.array([], pa.int64()), "column": pa.array([], pa.string()),
                      "value": pa.array([], pa.string()), "reason": pa.array([], pa.string())})
    over = np.concatenate([np.zeros(0, "datetime64[ns]"), *overlap])
    return Appended(seen.n, pa.concat_tables(rejects) if rejects else empty, by_key, seen.end, len(over),
                    over.min() if len(over) else None, over.max() if len(over) else None, float_ids, added)


def _instant(t: np.datetime64) -> str:
    return str(t.astype("datetime64[s]")).replace("T", " ")


def overlap_warning(done: Appended, new_lines: int) -> str | None:
    """The warning for kept new lines dated more than a day before the existing orders end
    (``new_lines``: the file's lines, for the share), or None."""
    if not done.overlap or done.end is None or done.overlap_first >= done.end - OVERLAP_WARN:
        return None
    share = done.overlap / max(new_lines, 1)
    return (f"{done.overlap:,} of the {new_lines:,} new lines ({share:.1%}) are dated "
            f"{_instant(done.overlap_first)} to {_instant(done.overlap_last)}, within the existing orders "
            f"(which end {_instant(done.end)}), yet repeat no existing line (neither all seven columns nor, "
            "where both have one, order_id, sku, customer_id and day). If this export overlaps orders "
            "already ingested in another layout (customer ids written differently, e.g. leading zeros "
            "dropped by a spreadsheet; timestamps moved to another day by rounding or a time zone; no "
            "order_id column), those orders are now counted twice: rebuild the orders from the full "
            "history (ingest --orders history.csv) or send nightly exports that start after the last "
            "ingested order")


def append_notes(done: Appended, new_lines: int) -> list[str]:
    """The report's notes of an append: the overlap (:func:`overlap_warning`) and existing ids rewritten."""
    notes = [note] if (note := overlap_warning(done, new_lines)) else []
    if not done.added and not done.float_ids:
        notes.append(f"nothing new: none of the file's {new_lines:,} line(s) was added (each is already in "
                     "the data directory or was rejected); orders.parquet is unchanged, byte for byte. If a "
                     "new export was expected, check that it was refreshed")
    for name in sorted(done.float_ids):
        notes.append(f"{name}: every existing value was a whole number written as a float ('17850.0', "
                     f"ingested before such ids were stored without '.0'); the existing orders now store "
                     f"them without '.0' too, so the new lines' ids match them")
    return notes
