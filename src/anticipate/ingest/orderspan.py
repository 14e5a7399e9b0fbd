"""Orders whose lines lie more than a day apart: an ``order_id`` reused (till receipts numbered per day).

Features count every line of an order (a distinct ``order_id`` of a customer) at its first line's
instant (the window rule of :mod:`anticipate.features.history`). When the ids restart every day, a
customer's order ``1`` of September and order ``1`` of December are one order of September: order
counts, recency and the windows are wrong without any error. Ingest warns instead
(:func:`span_warning`) when one (``customer_id``, ``order_id``) has lines more than 24 h apart:
more than a calendar day would also flag a basket that straddles midnight (a bar's tab, an evening
order of a shop west of UTC, since ``order_ts`` is naive UTC), which the window rule counts right.

Two stages, so the common case (every order within one day) costs one hash per line and a
seen-table, no second read: :class:`OrderDays` remembers each key's first calendar day (the
seen-lines table of :mod:`anticipate.ingest.dedup` with the day in place of the row, 16 bytes a
slot) and collects the keys met on another day, a superset of those more than 24 h apart (lines
more than a day apart are on two days, one of them not the first one met). Only when it found
some does :func:`span_warning` read the published lines of those keys again and group them by
their text (hash collisions cannot make a false warning).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anticipate.ingest import dedup

_DAY_NS = 86_400 * 10**9
#: Lines of one (customer_id, order_id) further apart than this are warned about.
SPAN = timedelta(days=1)
_KEY = ["customer_id", "order_id"]


def _keyed(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The lines of ``table`` that have an order_id and their (customer_id, order_id) hashes."""
    valid = pc.is_valid(table["order_id"]).to_numpy(zero_copy_only=False)
    if not valid.all():
        table = table.filter(pa.array(valid))
    return table, dedup.row_hashes(table.select(_KEY))


class OrderDays:
    """Each (customer_id, order_id)'s first calendar day, and the keys met on another day."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._seen = dedup.SeenLines(capacity)
        self._other: list[np.ndarray] = []

    def add(self, table: pa.Table) -> None:
        """Remember the keys of ``table``'s lines (canonical orders: ``customer_id``, ``order_id``,
        ``order_ts`` at least); a line without order_id is its own order and never spans."""
        table, hashes = _keyed(table)
        if not len(hashes):
            return
        ns = table["order_ts"].cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        day = ns // _DAY_NS + 1  # the table's "row": >= 1
        first = self._seen.first_rows(hashes, day)
        other = (first > 0) & (first != day)
        if other.any():
            self._other.append(np.unique(hashes[other]))

    @property
    def flagged(self) -> np.ndarray:
        """The sorted distinct hashes of the keys met on more than one day (uint64)."""
        return np.unique(np.concatenate([np.zeros(0, np.uint64), *self._other]))


def _spanning(path: Path, batch_rows: int, flagged: np.ndarray) -> pa.Table:
    """Per (customer_id, order_id) among ``flagged``, its lines' count, first and last ``order_ts``
    in ``path``, those more than :data:`SPAN` apart only, the earliest first."""
    parts = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=[*_KEY, "order_ts"]):
        table, hashes = _keyed(pa.Table.from_batches([batch]))
        hit = np.isin(hashes, flagged)
        if hit.any():
            parts.append(table.filter(pa.array(hit)))
    if not parts:
        return pa.table({})
    lines = pa.concat_tables(parts).combine_chunks()
    lines = lines.set_column(2, "order_ts", lines["order_ts"].cast(pa.timestamp("ns")))
    orders = lines.group_by(_KEY).aggregate([("order_ts", "min"), ("order_ts", "max"), ("order_ts", "count")])
    far = pc.greater(pc.subtract(orders["order_ts_max"], orders["order_ts_min"]), pa.scalar(SPAN))
    return orders.filter(far).sort_by([("order_ts_min", "ascending"), ("customer_id", "ascending"),
                                       ("order_id", "ascending")])


def span_warning(days: OrderDays, path: Path, batch_rows: int) -> str | None:
    """The warning when some (customer_id, order_id) of the published orders ``path`` has lines more
    than 24 h apart (``days``: the keys met on more than one day, :class:`OrderDays`), or None."""
    flagged = days.flagged
    if not len(flagged):
        return None
    orders = _spanning(path, batch_rows, flagged)
    if not orders.num_rows:
        return None
    e = orders.slice(0, 1).to_pylist()[0]
    return (f"order_id reused: {orders.num_rows:,} order(s) (one customer_id + order_id) have lines more "
            f"than 24 h apart, e.g. customer {e['customer_id']!r}, order {e['order_id']!r}: "
            f"{e['order_ts_count']:,} lines from {e['order_ts_min']:%Y-%m-%d} to "
            f"{e['order_ts_max']:%Y-%m-%d}. Features count every line of an order at its first line's "
            "time, so such an order's later lines count as bought on its first day (wrong order counts, "
            "recency and windows), as when till receipts restart their numbering every day. Fix: give "
            "each order a unique id (e.g. prefix the date: '2025-12-30/1') or export the orders without "
            "the order_id column (then a customer's lines at one instant form one order), and ingest the "
            "whole history again (ingest --orders history.csv --replace). If these are single orders "
            "whose lines were added over days, the features count them at their first line, as intended")
