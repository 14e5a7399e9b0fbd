"""Repeated keys in a reference table: summed, kept once, or refused; never a silent first row.

After a reference file is staged (every accepted row, in file order), :func:`resolve` looks at
the rows that share a key:

- ``supply``: the lines of one SKU are lots (or locations) of it; their ``units`` are summed
  into one row and the report's notes say how many SKUs were summed, with an example;
- ``products``, ``regions``, ``warehouses``: rows that repeat a key with the same values (after
  parsing: ``1.0`` and ``1`` are equal) are kept once, the others rejected as ``duplicate key``
  (so they show in the rejects and the report's warnings); rows that repeat a key with
  different values exit 2 naming the key, both rows and the values that differ: which row is
  right is not ingest's guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anticipate.errors import DataError
from anticipate.schema import KEYS

DUPLICATE_KEY = "duplicate key"
#: Tables whose repeated keys add up (lots of one SKU).
SUMMED = {"supply": "units"}


@dataclass(frozen=True)
class Resolved:
    """What :func:`resolve` did: the staged table's keys now (one per row), the rejected repeats
    (``row, column, value, reason``) and a note for the report (or None)."""

    keys: pa.Array
    rejects: pa.Table
    note: str | None


def _no_rejects() -> pa.Table:
    return pa.table({"row": pa.array([], pa.int64()), "column": pa.array([], pa.string()),
                     "value": pa.array([], pa.string()), "reason": pa.array([], pa.string())})


def resolve(table: str, target: Path, keys: pa.Array, rows: np.ndarray, *, file: str, source: str,
            out: str) -> Resolved | None:
    """Sum, keep once or refuse the repeated keys of the staged ``target`` (None: none repeat).

    ``keys`` and ``rows`` (1-based source rows) are those of the staged rows, in order; ``source``
    the source name of the key column. Rewrites ``target`` when rows are merged or dropped.
    """
    key = KEYS[table]
    repeated = pd.Series(keys.to_pandas()).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return None
    staged = pq.read_table(target)
    frame = staged.to_pandas()
    frame["_row"] = rows
    if table in SUMMED:
        merged, note = _summed(frame, key, SUMMED[table], repeated)
        rejects = _no_rejects()
    else:
        merged, rejects, note = _kept_once(frame, table, key, file=file, source=source, out=out)
    result = pa.Table.from_pandas(merged.drop(columns="_row"), schema=staged.schema, preserve_index=False)
    pq.write_table(result, target, compression="zstd")
    return Resolved(result[key].combine_chunks(), rejects, note)


def _summed(frame: pd.DataFrame, key: str, amount: str, repeated: np.ndarray) -> tuple[pd.DataFrame, str]:
    groups = frame[repeated].groupby(key, sort=False)
    first = frame[repeated][key].iloc[0]
    lines = frame[frame[key] == first]
    total = frame.groupby(key, sort=False)[amount].transform("sum")
    merged = frame.assign(**{amount: total}).drop_duplicates(key, keep="first")
    shown = " + ".join(f"{v:,}" for v in lines[amount].head(4))
    on_rows = ", ".join(str(r) for r in lines["_row"].head(4))
    note = (f"{groups.ngroups:,} {key}(s) appear on more than one line ({int(repeated.sum()):,} lines), "
            f"e.g. {first!r} on rows {on_rows}: their {amount} are summed ({shown} = "
            f"{int(lines[amount].sum()):,}), one line per lot or location. If the lines repeat one another "
            f"instead, keep one line per {key}")
    return merged, note


def _kept_once(frame: pd.DataFrame, table: str, key: str, *, file: str, source: str, out: str
               ) -> tuple[pd.DataFrame, pa.Table, str]:
    values = [c for c in frame.columns if c not in (key, "_row")]
    same = frame.duplicated([key, *values], keep="first").to_numpy()  # NaN equals NaN here
    clash = frame[frame.duplicated(key, keep="first").to_numpy() & ~same]
    if len(clash):
        _refuse(frame, clash, table, key, values, file=file, source=source, out=out)
    dropped = frame[same]
    first = dropped[key].iloc[0]
    rows = frame.loc[frame[key] == first, "_row"].head(2).tolist()
    rejects = pa.table({"row": pa.array(dropped["_row"].to_numpy(np.int64)),
                        "column": pa.array([source] * len(dropped), pa.string()),
                        "value": pa.array(dropped[key].astype(str).tolist(), pa.string()),
                        "reason": pa.array([DUPLICATE_KEY] * len(dropped), pa.string())})
    note = (f"{len(dropped):,} row(s) repeat the {key} and every value of an earlier row (e.g. {first!r} "
            f"on rows {rows[0]} and {rows[1]}); the first is kept, the repeats are rejected as "
            f"'{DUPLICATE_KEY}'")
    return frame[~same], rejects, note


def _refuse(frame: pd.DataFrame, clash: pd.DataFrame, table: str, key: str, values: list[str], *,
            file: str, source: str, out: str) -> None:
    later = clash.iloc[0]
    earlier = frame[frame[key] == later[key]].iloc[0]
    diffs = [f"{c} {_shown(earlier[c])} vs {_shown(later[c])}" for c in values
             if not (pd.isna(earlier[c]) and pd.isna(later[c])) and earlier[c] != later[c]]
    keys = clash[key].nunique()
    more = f" ({keys:,} {key}s repeat with different values)" if keys > 1 else ""
    raise DataError(
        f"{key} {later[key]!r} appears on rows {int(earlier['_row'])} and {int(later['_row'])} with "
        f"different values ({'; '.join(diffs)}){more}. A {table} {key} must be unique and ingest does not "
        f"guess which row is right: keep one row per {key} (or correct the key); nothing was written to "
        f"{out}", file=file, row=int(later["_row"]), column=source)


def _shown(value: object) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return "empty" if value is None or (isinstance(value, float) and np.isnan(value)) else repr(value)
