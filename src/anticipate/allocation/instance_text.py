"""An instance's tables as a spreadsheet saves them: number text and ids, read or refused (the rows and
fields themselves: :mod:`.instance_csv`).

A planner opens ``plans/DATE/instance/warehouses.csv`` (or ``skus.csv``) in a spreadsheet, edits a
capacity and saves. What the save may change, and what :func:`read_csv_table` and :func:`strip_ids`
do about it, each case read correctly with a warning or refused (exit 2) naming file, row and column:

- ``;`` between fields (a spreadsheet in a European locale), or tabs (a tab-delimited text save): a
  header holding ``;`` (a tab) and no ``,`` is read with it between fields and a decimal comma as a
  decimal point (``1,68`` is 1.68), with a warning; a number whose reading depends on the mark
  (``1.500``) is read with the mark the file's other numbers show (:func:`decimal_mark`), refused when
  they show none or both;
- a thousands separator (``"1,200"``, ``1.234,5``, ``1 200``): refused, never read (``1,200`` could be
  1200 or 1.2 written with a decimal comma); any comma in a number of a ``,`` file (``"1,68"``) too;
- spaces around an id (``"W1 "``, a no-break space too): removed, as ``ingest`` removes them, with a
  warning, in every table (Parquet too), so the ids keep matching; refused when two ids of one column
  become one.

Rows are 1-based data rows (the header is not counted), as in every instance message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anticipate.allocation.instance_csv import ID_COLUMNS, read_rows, refuse_non_numbers, separator
from anticipate.errors import DataError

#: What surrounds an id that is not part of it: ASCII whitespace (as ``ingest`` trims it) and the no-break
#: spaces a spreadsheet may save after a value (U+00A0; U+202F and U+2007, narrow and figure).
ID_SPACE = " \t\r\n\x0b\x0c\u00a0\u202f\u2007"
#: A plain number once its decimal mark is ``.``: digits, an optional fraction and exponent.
_PLAIN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
#: A plain number with a decimal comma (``1,68``, ``,5``, ``1,5E-05``).
_COMMA_PLAIN = r"^[+-]?[0-9]*,[0-9]+([eE][+-]?[0-9]+)?$"
#: One group of three digits after a single mark (``1.500``, ``-12,250``): a decimal under that mark,
#: a thousands-grouped number under the other.
_AMBIGUOUS = {".": r"^[+-]?[1-9][0-9]{0,2}\.[0-9]{3}$", ",": r"^[+-]?[1-9][0-9]{0,2},[0-9]{3}$"}
#: Thousands-grouped numbers, by the separator's characters: ``1,200`` / ``1,234.5``; ``1.200`` /
#: ``1.234,5``; ``1 200`` / ``1'200`` (space, no-break spaces, apostrophe), with either decimal mark.
_GROUPED = {
    ",": r"^[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?$",
    ".": r"^[+-]?[1-9][0-9]{0,2}(\.[0-9]{3})+(,[0-9]*)?$",
    " \u00a0\u202f'": "^[+-]?[1-9][0-9]{0,2}([ \u00a0\u202f'][0-9]{3})+([.,][0-9]*)?$",
}


def read_csv_table(path: Path, numeric: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """One table from ``path`` (ids as text, ``numeric`` columns as numbers) and what reading it warned.

    ``numeric``: each number column's rule (``">=0"``, ``">0"``: ``validation.NUMBER_RULES``), for the
    messages. A ``,`` file is read as pandas reads it (numbers to the bit, as :func:`write_instance` wrote
    them); a ``;`` file with the decimal mark its numbers show (:func:`decimal_mark`). DataError (exit 2)
    for text that does not parse, at the first number written with a thousands separator or, in a ``,``
    file, a comma, and at the first empty field or text that is no number (``'57.6``, ``(0.5)``, ``50%``).
    """
    sep = separator(path)
    frame, said = read_rows(path, sep, tuple(numeric))
    texts = {c: _text(frame[c]) for c in numeric
             if c in frame.columns and not pd.api.types.is_numeric_dtype(frame[c])}
    mark = "." if sep == "," else decimal_mark(list(texts.values()))
    for column, text in texts.items():
        _refuse_separators(text, mark=mark, comma_file=sep == ",", file=str(path), column=column)
        frame[column] = _numbers(text, frame[column])
    for column in (c for c in numeric if c in frame.columns):
        refuse_non_numbers(frame[column], numeric[column], mark=mark or ".", file=str(path), column=column)
    return frame, [*said, _separator_warning(path, sep, mark)] if sep != "," else said


def _separator_warning(path: Path, sep: str, mark: str | None) -> str:
    """What reading a ``;`` or tab-separated file (decimal ``mark``) says: how it was read, how to silence."""
    decimal = "a decimal comma as a decimal point (1,68 is 1.68)" if mark == "," else "a decimal point"
    if sep == ";":
        return (f"{path} has ';' between fields (as a spreadsheet in a European locale saves CSV): read with "
                f"';' between fields and {decimal}; save it as comma-separated CSV to silence this")
    return (f"{path} looks tab-separated (tabs between fields, as a spreadsheet's tab-delimited text save): "
            f"read with tabs between fields and {decimal}; save it as CSV UTF-8 (comma-separated) to "
            "silence this")


def _text(values: pd.Series) -> pa.Array:
    """A column's values as trimmed Arrow text (missing: null)."""
    text = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    return pc.utf8_trim_whitespace(text)


def _mask(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)


def _first(bad: np.ndarray) -> int | None:
    hits = np.flatnonzero(bad)
    return int(hits[0]) if len(hits) else None


def decimal_mark(texts: list[pa.Array]) -> str | None:
    """The decimal mark the numbers of a ``;`` file show: ``,`` when some read only as a decimal comma
    (``1,68``), ``.`` when some read only as a decimal point (``0.9``), None when none or both do."""
    shows = set()
    for text in texts:
        if (_mask(text, _COMMA_PLAIN) & ~_mask(text, _AMBIGUOUS[","])).any():
            shows.add(",")
        if (_mask(text, _PLAIN) & _mask(text, r"\.") & ~_mask(text, _AMBIGUOUS["."])).any():
            shows.add(".")
    return next(iter(shows)) if len(shows) == 1 else None


def _refuse_separators(text: pa.Array, *, mark: str | None, comma_file: bool, file: str, column: str) -> None:
    """DataError at the first number with a thousands separator, which is never read: any grouping but one
    group after the decimal ``mark`` (``1.500`` is 1.5 when the mark is ``.``, refused when the file shows
    none); in a ``,`` file, at the first comma too (a decimal comma)."""
    for chars, pattern in _GROUPED.items():
        grouped = _mask(text, pattern)
        if chars == mark:
            grouped &= ~_mask(text, _AMBIGUOUS[chars])
        row = _first(grouped)
        if row is not None:
            raise DataError(_grouped_message(text[row].as_py(), chars, comma_file), file=file, row=row + 1,
                            column=column)
    row = _first(_mask(text, ",")) if comma_file else None
    if row is not None:
        value = text[row].as_py()
        fix = f"write {value.replace(',', '.')}" if _mask(pa.array([value]), _COMMA_PLAIN)[0] else (
            "write it with a decimal point and no separator")
        raise DataError(
            f"value {value!r} holds a comma, which a number in a comma-separated file cannot (a decimal "
            f"comma or a thousands separator): {fix} and save the file again",
            file=file, row=row + 1, column=column,
        )


def _grouped_message(value: str, chars: str, comma_file: bool) -> str:
    """What is wrong with ``value``, grouped by ``chars``, and how to write it so that it is read."""
    plain = value.translate({ord(c): None for c in chars})
    plain = plain.replace(",", ".") if comma_file else plain
    if chars not in _AMBIGUOUS or not _mask(pa.array([value]), _AMBIGUOUS[chars])[0]:
        return (f"value {value!r} is written with a thousands separator (a spreadsheet's number format), "
                f"which is not read: remove it (write {plain}) and save the file again")
    decimal = repr(float(value.replace(",", ".")))
    decimal = decimal if comma_file else decimal.replace(".", ",")
    return (f"value {value!r} could be {plain} ({chars!r} a thousands separator, a spreadsheet's number "
            f"format) or {decimal} ({chars!r} a decimal mark), and is not guessed: remove the thousands "
            f"separator (write {plain}), or write the decimal as {decimal}, and save the file again")


def _numbers(text: pa.Array, values: pd.Series) -> pd.Series:
    """``text`` as numbers, a decimal comma read as a point: float64 when every value reads, else
    ``values``' text left where one does not, for the number rules to name."""
    swapped = pc.if_else(pa.array(_mask(text, _COMMA_PLAIN)), pc.replace_substring(text, ",", "."), text)
    ok = _mask(swapped, _PLAIN)
    numbers = pc.cast(pc.if_else(pa.array(ok), swapped, pa.scalar(None, pa.string())), pa.float64())
    floats = pd.Series(numbers.to_numpy(zero_copy_only=False), index=values.index, name=values.name)
    if (ok | values.isna().to_numpy()).all():
        return floats
    return floats.astype(object).where(ok, values)


def strip_ids(frame: pd.DataFrame, *, file: str) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with the spaces around its ids removed (an id of spaces only is missing), and a warning
    per column that had any; DataError when two ids of a column differ only by such spaces.

    Works on the distinct ids (a categorical's categories), not on every row of ten million cells; a
    categorical column stays categorical.
    """
    warnings = []
    for column in (c for c in ID_COLUMNS if c in frame.columns):
        ids = frame[column]
        categorical = isinstance(ids.dtype, pd.CategoricalDtype)
        codes, distinct = (None, ids.cat.categories) if categorical else pd.factorize(ids)
        distinct = pd.Index(distinct).astype(str)
        stripped = distinct.str.strip(ID_SPACE)
        changed = np.flatnonzero(stripped != distinct)
        if not len(changed):  # the usual case: no row's codes are touched
            continue
        codes = ids.cat.codes.to_numpy().astype(np.int64) if categorical else codes
        _refuse_merged(codes, distinct, stripped, file=file, column=column)
        kept = np.flatnonzero(stripped != "")  # an id of spaces only is no id
        where = np.full(len(distinct) + 1, -1, dtype=np.int64)  # the last: codes of -1 (missing) stay -1
        where[kept] = np.arange(len(kept))
        new_codes = where[codes]
        if categorical:
            new = pd.Series(pd.Categorical.from_codes(new_codes, categories=stripped[kept]), index=ids.index)
        else:
            text = np.append(np.asarray(stripped[kept], dtype=object), None)  # the last: missing
            new = pd.Series(text[new_codes], index=ids.index)
        frame = frame.assign(**{column: new})
        hit = np.isin(codes, changed)
        row = int(np.flatnonzero(hit)[0])
        warnings.append(
            f"file {file}, column '{column}': {int(hit.sum()):,} id(s) had spaces around them (the first "
            f"at row {row + 1}: {distinct[codes[row]]!r}), removed as ingest removes them (read as "
            f"{stripped[codes[row]]!r}); save the file without them to silence this"
        )
    return frame, warnings


def _refuse_merged(
    codes: np.ndarray, distinct: pd.Index, stripped: pd.Index, *, file: str, column: str
) -> None:
    """DataError when two distinct ids are one once stripped (``W1`` and ``W1 ``), naming both rows."""
    merged = stripped.duplicated(keep=False) & (stripped != "")
    if not merged.any():
        return
    first = np.flatnonzero(merged)
    pair = first[stripped[first] == stripped[first[0]]][:2]
    rows = [int(np.flatnonzero(codes == k)[0]) + 1 for k in pair]
    (a, row_a), (b, row_b) = sorted(zip(distinct[pair], rows, strict=True), key=lambda t: t[1])
    raise DataError(
        f"ids {a!r} (row {row_a}) and {b!r} (row {row_b}) differ only by spaces around them, which are "
        "removed (as ingest removes them), so they would be one id: remove the spaces, or rename one, and "
        "save the file again",
        file=file, row=row_b, column=column,
    )
