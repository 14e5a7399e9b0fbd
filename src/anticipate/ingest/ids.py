"""Identifiers written as whole-number floats get one text, whatever the file format.

pandas writes an integer id column that has a gap (NaN) as floats: ``17850.0`` in a CSV, a
float ``17850.0`` in Parquet. Arrow turns the Parquet float into ``17850``; the CSV text stayed
``17850.0``, so after an ``--append`` of the same customer from another export one customer
was two. Now both become ``17850``:

- a float id column (Parquet) is written as whole-number text when a value is whole (below
  2**53; ``123456789012`` rather than Arrow's ``1.23456789012e+11``);
- a text id column whose every non-empty value in the file's first chunk is ``<digits>.0``
  (no leading zero) loses the ``.0`` on every such value of the file.

Either way the report's notes say so (:func:`integral_columns`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: The identifier columns of each table.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "customer_id", "sku", "region"),
    "products": ("sku", "category"),
    "regions": ("region",),
    "warehouses": ("warehouse_id",),
    "supply": ("sku",),
}
INTEGRAL = r"^(0|[1-9][0-9]*)\.0$"


def integral_columns(table: str, columns: dict[str, pa.Array], sources: dict[str, str]
                     ) -> tuple[frozenset[str], list[str]]:
    """The id columns of ``table`` written as whole-number floats, judged on a file's first chunk
    (``columns``: canonical name -> raw array), and a note per column for the report."""
    from anticipate.ingest import parse

    found, notes = set(), []
    for name in ID_COLUMNS[table]:
        arr = columns.get(name)
        if arr is None:
            continue
        if pa.types.is_floating(arr.type):
            found.add(name)
            notes.append(f"{name}: column {sources[name]!r} holds numbers (floats), so ids are stored as "
                         "whole-number text ('17850' for 17850.0), as a CSV export's '17850.0' is")
            continue
        if not (pa.types.is_binary(arr.type) or pa.types.is_string(arr.type)):
            continue
        text = non_empty(parse.to_text(arr).values)
        if all_whole_floats(text):
            found.add(name)
            example = text[0].as_py()
            notes.append(f"{name}: every value of column {sources[name]!r} is a whole number written as a "
                         f"float ({example!r}, as pandas writes an id column with gaps): stored without "
                         f"'.0' ({example[:-2]!r}), as the same id from a Parquet float or an integer "
                         "column is")
    return frozenset(found), notes


def non_empty(text: pa.Array) -> pa.Array:
    """The values of a text column that are neither null nor empty."""
    text = pc.drop_null(text)
    return text.filter(pc.greater(pc.binary_length(text), 0))


def all_whole_floats(values: pa.Array) -> bool:
    """Whether ``values`` (:func:`non_empty`) hold one at least and every one is ``<digits>.0``."""
    return bool(len(values)) and bool(pc.all(pc.match_substring_regex(values, INTEGRAL)).as_py())


def float_text(arr: pa.Array) -> pa.Array:
    """A float id column as text: whole values below 2**53 as integers, the rest as Arrow writes them."""
    values = pc.cast(arr, pa.float64())
    floats = np.nan_to_num(values.to_numpy(zero_copy_only=False))
    whole = (np.floor(floats) == floats) & (np.abs(floats) < 2**53)
    as_int = pc.cast(pc.cast(pa.array(np.where(whole, floats, 0.0)), pa.int64()), pa.string())
    return pc.if_else(pc.and_(pa.array(whole), pc.is_valid(values)), as_int, pc.cast(values, pa.string()))


def canonical(values: pa.Array) -> pa.Array:
    """Text ids with ``<digits>.0`` written ``<digits>``."""
    return pc.replace_substring_regex(values, INTEGRAL, r"\1")
