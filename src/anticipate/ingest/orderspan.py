"""Orders whose lines lie more than a day apart: an ``order_id`` reused (till receipts numbered per day).

Features count every line of an order (a distinct ``order_id`` of a customer) at its first line's
instant (the window rule of :mod:`anticipate.features.history`). When the ids restart every day, a
customer's order ``1`` of September and order ``1`` of December are one order of September: order
counts, recency and the windows are wrong without any error. Ingest warns instead
(:func:`span_warning`) when one (``customer_id``, ``order_id``) has lines more than 24 h apart:
more than a calendar day would also flag a basket that straddles midnight (a bar's tab, an evening
order of a shop west of UTC, since ``order_ts`` is naive UTC), which the window rule counts right.

Two stages, so the common case (every order within one day) costs one hash per line and a
seen-table, no second read: :class:`OrderDays` remembers each key's first calendar day (one
uint64 a slot: 47 bits of the key's hash and the day) and collects the keys met on another day,
a superset of those more than 24 h apart (lines more than a day apart are on two days, one of
them not the first one met). Only when it found some does :func:`span_warning` read the
published lines of those keys again and group them by their text (a hash collision cannot make
a false warning, only a needless second read).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anticipate.ingest import _kernels, dedup

_DAY_NS = 86_400 * 10**9
#: Lines of one (customer_id, order_id) further apart than this are warned about.
SPAN = timedelta(days=1)
_KEY = ["customer_id", "order_id"]
#: The words that start the warning (after ``orders: ``), which ``features`` and ``train`` repeat.
REUSED = "order_id reused:"
_MAX_LOAD = 0.7
_DAY_MASK = (1 << _kernels.DAY_BITS) - 1


def _slots(count: int) -> int:
    """The power-of-two slot count that holds ``count`` orders under the load limit."""
    return 1 << (max(16, int(count / _MAX_LOAD) + 1) - 1).bit_length()


def _keyed(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The lines of ``table`` that have an order_id and their (customer_id, order_id) hashes."""
    valid = pc.is_valid(table["order_id"]).to_numpy(zero_copy_only=False)
    if not valid.all():
        table = table.filter(pa.array(valid))
    return table, dedup.row_hashes(table.select(_KEY))


class OrderDays:
    """Each (customer_id, order_id)'s first calendar day, and the keys met on another day.

    The table is one uint64 a slot (:func:`~anticipate.ingest._kernels._day_insert`: 47 bits of the
    key's hash and its day), under 70% load: 8-16 bytes per distinct order.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._table = np.zeros(_slots(capacity), dtype=np.uint64)
        self._count = 0
        self._other: list[np.ndarray] = []

    def reserve(self, count: int, append_to: str = "") -> None:
        """Make room for ``count`` orders, plus the existing orders ``append_to`` (``--append``) holds, in
        one rebuild (:func:`~anticipate.ingest.dedup.expected_lines` gives the file's lines, >= its
        orders): grown by doubling, the table rehashed ~2x its entries, 0.58 s of the check's 1.3 s at
        10 M lines."""
        count += pq.ParquetFile(append_to).metadata.num_rows if append_to else 0
        if count > _MAX_LOAD * len(self._table):
            self._grow(count)

    def add(self, table: pa.Table) -> None:
        """Remember the keys of ``table``'s lines (canonical orders: ``customer_id``, ``order_id``,
        ``order_ts`` at least); a line without order_id is its own order and never spans."""
        table, hashes = _keyed(table)
        if not len(hashes):
            return
        ns = table["order_ts"].cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False)
        day = ns // _DAY_NS
        step = np.ones(len(day), dtype=bool)  # the lines of one order side by side: one lookup
        step[1:] = (hashes[1:] != hashes[:-1]) | (day[1:] != day[:-1])
        hashes, day = hashes[step], day[step]
        if (self._count + len(hashes)) > _MAX_LOAD * len(self._table):
            self._grow(self._count + len(hashes))
        met = _kernels._day_insert(self._table, hashes, day)
        self._count += int(np.count_nonzero(met == 2))
        if (met == 1).any():
            self._other.append(np.unique(hashes[met == 1]))

    def _grow(self, count: int) -> None:
        used = self._table[self._table != 0]
        self._table = np.zeros(_slots(count), dtype=np.uint64)
        _kernels._day_insert(self._table, used, (used & np.uint64(_DAY_MASK)).astype(np.int64))

    @property
    def nbytes(self) -> int:
        """Memory held by the table, bytes."""
        return self._table.nbytes

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
    return (f"{REUSED} {orders.num_rows:,} order(s) (one customer_id + order_id) have lines more "
            f"than 24 h apart, e.g. customer {e['customer_id']!r}, order {e['order_id']!r}: "
            f"{e['order_ts_count']:,} lines from {e['order_ts_min']:%Y-%m-%d} to "
            f"{e['order_ts_max']:%Y-%m-%d}. Features count every line of an order at its first line's "
            "time, so such an order's later lines count as bought on its first day (wrong order counts, "
            "recency and windows), as when till receipts restart their numbering every day. Fix: give "
            "each order a unique id (e.g. prefix the date: '2025-12-30/1') or export the orders without "
            "the order_id column (then a customer's lines at one instant form one order), and ingest the "
            "whole history again (ingest --orders history.csv --replace). If these are single orders "
            "whose lines were added over days, the features count them at their first line, as intended")
