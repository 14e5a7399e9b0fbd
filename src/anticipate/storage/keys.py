"""One row per key in a reference table, checked when a data directory is loaded.

``ingest`` writes one row per key (:mod:`anticipate.ingest.refkeys`: identical repeats kept once,
supply lots summed, repeats with different values refused), and every reader looks a row up by
its key (a SKU's category, a warehouse's capacity). A table written by hand or by another tool
may repeat one, which would fail deep inside a command or pick a row silently: it is refused
at load instead (:func:`check_unique_key`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from anticipate.errors import DataError
from anticipate.schema import KEYS

#: How many repeated keys a refusal names.
SHOWN = 5


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
