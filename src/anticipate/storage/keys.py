"""One row per key in a reference table, checked when a data directory is loaded.

``ingest`` writes one row per key (:mod:`anticipate.ingest.refkeys`: identical repeats kept once,
supply lots summed, repeats with different values refused), and every reader looks a row up by
its key (a SKU's category, a warehouse's capacity). A table written by hand or by another tool
may repeat one, which would fail deep inside a command or pick a row silently: it is refused
at load instead (:func:`check_unique_key`). So are orders whose units could overflow a sum
(:func:`check_quantities`): every command sums order lines' int64 quantities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from anticipate.errors import DataError
from anticipate.schema import KEYS

#: How many repeated keys a refusal names.
SHOWN = 5
#: The largest total of the orders' quantities (their absolute values) a command sums: 2**53, where
#: float64 stops counting every unit and far below int64's 9.2e18, so no sum of lines wraps around.
MAX_TOTAL_UNITS = 2**53


def check_table(path: Path, table: str, frame: pd.DataFrame | None, *, opened: str | None = None) -> None:
    """The load-time checks of one canonical table: :func:`check_unique_key`, :func:`check_quantities`
    (:func:`check_unread_quantities` when the orders were loaded without their quantities, as the Dask
    path loads them; ``opened``: where ``path``'s bytes are read from, when not ``path`` itself)."""
    check_unique_key(path, table, frame)
    if table == "orders" and frame is not None and frame.empty:  # every command needs dates (audit33 F7)
        raise DataError("the orders table holds no order line, so no command has a history to read; ingest "
                        "the orders ('anticipate ingest --orders FILE --replace --out DIR')", file=str(path))
    if table == "orders" and frame is not None and "quantity" not in frame:
        check_unread_quantities(path, opened)
    elif table == "orders":
        check_quantities(path, frame)


def check_unread_quantities(path: Path, opened: str | None = None) -> None:
    """:func:`check_quantities` for orders loaded without ``quantity`` (the Dask path reads them on the
    workers): the row groups' statistics bound the total (largest magnitude x rows); only when that
    bound reaches :data:`MAX_TOTAL_UNITS` is the column read and summed."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(opened or path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if "quantity" not in names:
        return
    bound = 0.0
    for group in (meta.row_group(g) for g in range(meta.num_row_groups)):
        stats = group.column(names.index("quantity")).statistics
        if stats is None or not stats.has_min_max:
            bound = float("inf")
            break
        bound += max(abs(float(stats.min)), abs(float(stats.max))) * group.num_rows
    if bound >= MAX_TOTAL_UNITS:
        check_quantities(path, pq.read_table(opened or path, columns=["quantity"]).to_pandas())


def check_quantities(path: Path, orders: pd.DataFrame | None) -> None:
    """:class:`DataError` (exit 2) naming ``path``, the column and the largest line when the orders'
    quantities total :data:`MAX_TOTAL_UNITS` or more (a data directory from another tool or from an
    ingest before ``ingest.max_quantity``): a sum of units in a forecast or a backtest would wrap around
    int64 and print a fill rate of -0.000 without a word."""
    if orders is None or "quantity" not in orders or not pd.api.types.is_numeric_dtype(orders["quantity"]):
        return
    q = orders["quantity"].to_numpy(dtype=np.float64, na_value=0.0)
    total = float(np.abs(q).sum())
    if total < MAX_TOTAL_UNITS:
        return
    row = int(np.argmax(np.abs(q)))
    raise DataError(
        f"the orders' quantities total {total:.4g} units (line {row + 1:,} alone {q[row]:.4g}), at or "
        f"beyond the {MAX_TOTAL_UNITS:,} (2**53) a sum of units can hold exactly: a quantity is a typo or "
        "in the wrong unit. "
        "Re-ingest the orders with 'anticipate ingest --orders FILE --replace --out DIR', which rejects a "
        "line above ingest.max_quantity (default 1,000,000) with its row", file=str(path), column="quantity")


def check_unique_key(path: Path, table: str, frame: pd.DataFrame | None) -> None:
    """:class:`DataError` (exit 2) naming ``path``, the key column and the first repeated keys when the
    reference ``table`` (:data:`anticipate.schema.KEYS`) holds a key on more than one row; nothing for
    the orders (one order, many lines), a table not loaded (None) or one without its key column."""
    key = KEYS.get(table)
    if key is None or frame is None or key not in frame:
        return
    values = frame[key]
    repeated = values[values.duplicated()].drop_duplicates()
    if repeated.empty:
        return
    shown = ", ".join(repr(str(v)) for v in repeated.head(SHOWN)) + (", ..." if len(repeated) > SHOWN else "")
    merge = ", sums the lots of one SKU" if table == "supply" else ""
    raise DataError(
        f"the {table} table repeats its key: {len(repeated):,} {key}(s) are on more than one row ({shown}); "
        f"every command looks a {table} row up by its {key}, and which of the rows is right is not a guess "
        f"to make: keep one row per {key} in {path}, or write the table with 'anticipate ingest --{table} "
        f"FILE --out DIR' (which keeps one of identical rows{merge} and refuses repeats with different "
        "values)", file=str(path), column=key)
