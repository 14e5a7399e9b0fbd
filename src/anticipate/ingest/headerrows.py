"""A header line inside the data: two exports concatenated (``cat sepoct.csv novdec.csv``).

The second export's header line is a data row whose fields are column names. In the first
header's layout (every canonical column at the same field) it is one bad row, rejected with
its own reason, :data:`REPEATED_HEADER`. In another layout (other column order, other
columns) every row after it would be read under the wrong header, customer ids as order ids
without a word, so the file is refused (exit 2) naming the row and both layouts.

Only rejected rows are looked at (a header line is never a valid row: its date or number
fields are names), and among them only those whose rejected value is a column name, so a
clean file costs nothing.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anticipate.column_names import NOT_IN_NAME, UNIT, normalise
from anticipate.errors import ConfigError, DataError
from anticipate.ingest import columns
from anticipate.ingest.read import RawChunk, Source
from anticipate.ingest.sniff import is_header, listing, names_of
from anticipate.ingest.validate import BAD_FIELDS, MAX_VALUE_CHARS, REPEATED_HEADER, display


def relabel(table: str, rejects: pa.Table, raw: RawChunk, source: Source, found: dict[str, int],
            mapping: dict[str, str], *, file: str) -> pa.Table:
    """``rejects`` (row, column, value, reason of one chunk) with the rows that repeat the header in
    its layout given the reason :data:`REPEATED_HEADER` (column empty, value the line).

    Raises
    ------
    DataError
        A row repeats a header in another layout than the file's header (``found``).
    """
    if rejects.num_rows == 0 or source.kind != "csv":
        return rejects
    known = _known(table, source.header, mapping)
    suspects = np.flatnonzero(_is_name(rejects["value"], known).to_numpy(zero_copy_only=False)
                              | pc.equal(rejects["reason"], BAD_FIELDS).to_numpy(zero_copy_only=False))
    if not len(suspects):
        return rejects
    repeats: dict[int, str] = {}
    for i, fields in sorted(_candidates(rejects, suspects, raw, source, known)):  # rejects are by row
        row = int(rejects["row"][i].as_py())
        _refuse_other_layout(table, row, fields, source, found, mapping, file)
        repeats[i] = source.delimiter.join(fields)[:MAX_VALUE_CHARS]  # type: ignore[union-attr]
    if not repeats:
        return rejects
    at = np.zeros(rejects.num_rows, dtype=bool)
    at[list(repeats)] = True  # the replacements below are in row order, as the mask's positions
    n, mask = len(repeats), pa.array(at)
    for name, values in {"column": [""] * n, "value": list(repeats.values()),
                         "reason": [REPEATED_HEADER] * n}.items():
        column = pc.replace_with_mask(rejects[name].combine_chunks(), mask, pa.array(values, pa.string()))
        rejects = rejects.set_column(rejects.schema.get_field_index(name), name, column)
    return rejects


def _known(table: str, header: list[str], mapping: dict[str, str]) -> set[str]:
    """Every name a header of ``table`` may have, normalised: the file's header, the aliases, the
    mapped source names."""
    aliases = [alias for names in columns.ALIASES[table].values() for alias in names]
    return names_of([*header, *mapping.values(), *aliases])


def _keys(values: pa.Array | pa.ChunkedArray, *, units: bool = True) -> pa.Array:
    """:func:`~anticipate.column_names.normalise` on Arrow text, with its patterns (whole chunks of rejects:
    one vectorised pass, not a Python call per value)."""
    text = pc.utf8_lower(values)
    if not units:
        text = pc.replace_substring_regex(text, UNIT, " ")
    return pc.replace_substring_regex(text, NOT_IN_NAME, "")


def _is_name(values: pa.Array | pa.ChunkedArray, known: set[str]) -> pa.Array:
    keys = pa.array(sorted(known), pa.string())
    return pc.or_(pc.is_in(_keys(values), keys), pc.is_in(_keys(values, units=False), keys))


def _candidates(rejects: pa.Table, suspects: np.ndarray, raw: RawChunk, source: Source, known: set[str]):
    """(index in ``rejects``, fields) of the suspect rows that are header lines: records with the
    wrong number of fields one by one (the reader set each aside one by one too), other rows
    counted column by column first, so only header lines reach Python."""
    bad = pc.equal(rejects["reason"], BAD_FIELDS).to_numpy(zero_copy_only=False)
    for i in suspects[bad[suspects]]:
        fields = next(csv.reader([rejects["value"][int(i)].as_py()], delimiter=source.delimiter), [])
        if is_header(fields, known):
            yield int(i), [f.strip() for f in fields]
    ours = suspects[~bad[suspects]]
    at = np.searchsorted(raw.rows, rejects["row"].to_numpy()[ours])
    ours, at = ours[at < len(raw.rows)], at[at < len(raw.rows)]
    if not len(at):
        return
    texts = [display(col.take(pa.array(at))) for col in raw.columns]
    hits = sum(_is_name(text, known).to_numpy(zero_copy_only=False).astype(np.int64) for text in texts)
    for k in np.flatnonzero(hits >= max(2, math.ceil(len(texts) / 2))):
        yield int(ours[k]), [text[int(k)].as_py().strip() for text in texts]


def _refuse_other_layout(table: str, row: int, fields: list[str], source: Source, found: dict[str, int],
                         mapping: dict[str, str], file: str) -> None:
    """DataError unless ``fields`` put every column of ``table`` where the file's header does."""
    fields = [f or f"column_{k + 1}" for k, f in enumerate(fields)]  # as the header's (read.inspect)
    try:
        theirs = columns.resolve(table, fields, mapping, file=file)
    except (DataError, ConfigError):
        theirs = None
    if theirs == found and len(fields) == len(source.header):
        return
    same = sorted(map(normalise, fields)) == sorted(map(normalise, source.header))
    how = "the file's columns in another order" if same else "other columns than the file's header"
    fix = ("split the file at this row (each part with its own header line), ingest the first part and "
           "add the second with --append" if table == "orders" else
           "split the file at this row and put the second part's columns in the header's order")
    raise DataError(
        f"this data row is a header line, with {how} (two exports concatenated, e.g. cat a.csv b.csv?): "
        f"the header reads {listing(source.header)}; row {row:,} reads {listing(fields)}. The rows "
        "after it would be read under the first header, values in the wrong columns, so nothing was "
        f"ingested: {fix}; or export the data again with one header",
        file=file, row=row,
    )
