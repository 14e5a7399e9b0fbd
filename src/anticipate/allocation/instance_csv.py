"""An instance table's CSV text as pandas reads it: its field separator and its rows, read or refused.

What a spreadsheet's save does to the rows of ``warehouses.csv`` (or ``skus.csv``, ``cells.csv``), and
what :func:`read_rows` does about it, read as meant or refused (exit 2) in one paragraph naming the file,
the row and the line:

- ids are text, and missing only when empty: ``NA``, ``NULL``, ``None``, ``nan`` are ids (a warehouse may
  be named so); number columns read the words of :data:`MISSING_NUMBER_WORDS` as missing;
- a row with more fields than the header (``W1,1,200``: a thousands separator in an unquoted number) is
  refused at that row, never shifted into the next column; extra fields that are all empty (a
  spreadsheet's trailing ``,,``) are dropped, as nothing is lost;
- a file that is not UTF-8 (Latin-1 / Windows-1252, UTF-16) is refused at its first line that is not;
- an empty field or a text that is no number in a number column (``'57.6``, ``(0.5)``, ``50%``,
  ``$4.00``) is refused naming the value, what is wrong with it and what the column takes
  (:func:`refuse_non_numbers`);
- empty rows at the end of the table (``,,`` lines, every field blank) are dropped with a warning that
  counts them; an empty row between rows with values is refused.

Rows are 1-based data rows (the header is not counted, nor are blank lines, as pandas skips them), as in
every instance message; a message about a row's text also names its line in the file (the header is
line 1).
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from anticipate.column_names import match_header, same_name_columns
from anticipate.errors import DataError

#: The id columns of the instance's tables (read as text).
ID_COLUMNS = ("warehouse_id", "sku")

#: The words read as a missing value in a number column of an instance CSV (``capacity``, ``g``, ``mu``,
#: ...), which the number rules then name as "the field is empty (or a word such as NA)" rather than
#: "value 'NA' is not a number". They are the 19 that ``pandas.read_csv`` reads as missing by default
#: (its ``na_values``, as its documentation lists them from pandas 2.1 to 3.x), written out here because
#: pandas keeps that set in a private module (``pandas._libs.parsers``) that may move in any release.
#: Any other word (``none``, ``missing``, ``-``) is a value that is not a number. Ids never use them
#: (``NA`` may name a warehouse): an id is missing only when its field is empty.
MISSING_NUMBER_WORDS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
    "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def separator(path: Path) -> str:
    """The field separator the header line shows: ``,`` when it holds one; else ``;`` (a European
    spreadsheet's CSV save) or a tab (a spreadsheet's tab-delimited text save) when it holds that one;
    else ``,`` (a one-column header)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    header = head.decode("utf-8-sig", "replace").splitlines()[0] if head.strip() else ""
    return next((sep for sep in (",", ";", "\t") if sep in header), ",")


def read_rows(path: Path, sep: str, numeric: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the CSV (:func:`_parse`) and what reading them warned: the empty rows a spreadsheet
    leaves at the end of a table (``,,``: every field blank) are dropped, said in one warning that counts
    them; an empty row between rows with values is refused (dropping it would change the number of every
    row after it in the messages)."""
    try:
        header = _header(path, sep)
        _refuse_repeated_columns(path, header, (*ID_COLUMNS, *numeric))
        names = match_header(header, (*ID_COLUMNS, *numeric))  # 'Capacity (m3)' is capacity, as in ingest
        frame = _parse(path, sep, numeric, names).rename(columns=names)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    blank = frame.isna()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            blank[column] |= frame[column].astype(str).str.strip().eq("")
    empty = blank.all(axis=1).to_numpy()
    if not empty.any():
        return frame, []
    last = int(np.flatnonzero(~empty)[-1]) + 1 if (~empty).any() else 0  # rows up to the last with values
    if empty[:last].any():
        row = int(np.flatnonzero(empty[:last])[0]) + 1
        raise DataError(
            f"data row {row} is empty (every field blank) and rows with values follow it: delete the empty "
            "row(s) between the table's rows and run again", file=str(path), row=row)
    n = len(frame) - last
    return frame.iloc[:last], [
        f"file {path}: {n:,} empty row(s) at the end (data row{'s' if n > 1 else ''} "
        f"{last + 1}{f'-{len(frame)}' if n > 1 else ''}, every field blank, as a spreadsheet saves rows it "
        "once formatted) ignored; delete them to silence this"
    ]


def _parse(path: Path, sep: str, numeric: tuple[str, ...], names: dict[str, str]) -> pd.DataFrame:
    """The CSV as pandas reads it, ids as text (``;`` or tab: every column as text, for the number rules of
    :mod:`.instance_text`); DataError when it does not parse or a row has more fields than the header
    (pandas would take the first such row's first field as an index and shift its values, or stop with
    "Error tokenizing data").

    An id is missing only when its field is empty: ``NA``, ``NULL``, ``None``, ``nan`` are ids (a SKU or
    warehouse may be named so, and ``write_instance`` writes them as such); ``numeric`` columns read
    :data:`MISSING_NUMBER_WORDS` as missing, for the number rules to name. ``names``: the header's
    names of the canonical columns (source -> canonical, :func:`~anticipate.column_names.match_header`).
    """
    ids = [source for source, name in names.items() if name in ID_COLUMNS]
    words = sorted(MISSING_NUMBER_WORDS)
    missing = {c: [""] for c in ids} | {source: words for source, c in names.items() if c in numeric}
    options = {"sep": sep, "dtype": str if sep != "," else {c: str for c in ids},
               "keep_default_na": False, "na_values": missing, "index_col": False}
    try:  # ids as text: "007" stays "007", as in a Parquet table beside it
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, **options)
    except (pd.errors.ParserWarning, pd.errors.ParserError) as exc:
        wide = _wide_row(path, sep)
        if wide is not None:
            raise _wide_row_error(path, sep, *wide) from None
        if isinstance(exc, pd.errors.ParserError) and "Expected" not in str(exc):
            raise _unparsed(path, exc) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _unparsed(path, exc) from None
    try:  # rows wider than the header by empty fields only (a spreadsheet's trailing ",,"): nothing lost
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            return pd.read_csv(path, usecols=range(_header_width(path, sep)), **options)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _unparsed(path, exc) from None


def _unparsed(path: Path, exc: BaseException) -> DataError:
    if isinstance(exc, UnicodeDecodeError):
        return _not_utf8(path)
    return DataError(f"cannot parse CSV ({str(exc).splitlines()[0][:200]})", file=str(path))


def _refuse_repeated_columns(path: Path, header: list[str], read: tuple[str, ...]) -> None:
    """DataError when two of the header's names are one of the columns in ``read`` (``capacity`` twice,
    or ``capacity`` and ``Capacity (m3)``: :func:`~anticipate.column_names.same_name_columns`): the
    instance would read one and ignore the other, so which of the two was meant would be decided in
    silence (a repeated column it does not read is only warned about as unused)."""
    found = same_name_columns(header, read)
    if found is not None:
        name, first, second = found
        said = header[first - 1].strip()
        shown = f"'{name}'" if said == header[second - 1].strip() == name else (
            f"'{name}' ({header[first - 1]!r} and {header[second - 1]!r})")
        raise DataError(
            f"the header names column {shown} twice (fields {first} and {second}); only one can be the "
            "table's: delete or rename the other and run again", file=str(path), column=name)


def _header(path: Path, sep: str) -> list[str]:
    """The header's names as the ``csv`` module splits the first line (pandas reads the same names)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh, delimiter=sep), [])


def _header_width(path: Path, sep: str) -> int:
    return len(_header(path, sep))


def _wide_row(path: Path, sep: str) -> tuple[int, int, int, int] | None:
    """(data row, file line, its fields, the header's fields) of the first row with a value beyond the
    header's fields, as the ``csv`` module splits it; None when every such extra field is empty."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh, delimiter=sep)
        width = len(next(rows, []))
        row = 0
        for fields in rows:
            if not fields:  # a blank line: pandas skips it, and counts no row
                continue
            row += 1
            if len(fields) > width and any(f.strip() for f in fields[width:]):
                return row, rows.line_num, len(fields), width
    return None


def _wide_row_error(path: Path, sep: str, row: int, line: int, fields: int, width: int) -> DataError:
    """The refusal of a row with more fields than the header: where, and the likely cause and fix."""
    where = (f"data row {row} (line {line} of the file, counting the header) has {fields} fields and the "
             f"header {width}")
    if sep == ",":
        fix = ("a value holds an unquoted comma, most likely a number saved with a thousands separator "
               "(1,200 for 1200) or a comma in a text value: save the file with no thousands separators in "
               "its numbers (or quote that value) and run again")
    else:
        fix = f"a value holds an unquoted {_NAMES[sep]}: quote that value or remove the {_NAMES[sep]} from it"
    return DataError(f"{where}: {fix}", file=str(path), row=row)


def _not_utf8(path: Path) -> DataError:
    """The refusal of a file that is not UTF-8 text, naming its first line that is not (a spreadsheet's
    plain "CSV" save writes Latin-1 / Windows-1252: ``é`` is the one byte ``e9``)."""
    with open(path, "rb") as fh:
        if fh.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return DataError('the file is UTF-16 text (a spreadsheet\'s "Unicode Text" save), not UTF-8: '
                             'save it as "CSV UTF-8" (comma-delimited) and run again', file=str(path))
        fh.seek(0)
        for line, text in enumerate(fh, 1):  # b"\n" is never part of a UTF-8 character
            try:
                text.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad, shown = text[exc.start:exc.end], text.decode("cp1252", "replace").strip()
                return DataError(
                    f"line {line} of the file (counting the header) is not UTF-8 text: byte(s) "
                    f"{bad.hex(' ')} in {shown[:80]!r} (as Latin-1 / Windows-1252 reads it), so the file "
                    "was saved in a legacy encoding (a spreadsheet's plain \"CSV\" save): save it as "
                    '"CSV UTF-8" and run again', file=str(path))
    return DataError('the file is not UTF-8 text: save it as "CSV UTF-8" and run again', file=str(path))


def refuse_non_numbers(values: pd.Series, rule: str, *, mark: str, file: str, column: str) -> None:
    """DataError at the first value of a number column (read: floats, else the text that is no number)
    that is empty or not a number, saying what is wrong with it and what the column takes.

    ``rule``: the column's rule (``">=0"``, ``">0"``); ``mark``: the file's decimal mark, for the fix.
    """
    if pd.api.types.is_numeric_dtype(values):
        bad = values.isna().to_numpy()
    else:  # only when some value is text: the other values are floats
        bad = ~values.map(lambda v: isinstance(v, float) and v == v).to_numpy(dtype=bool)
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    value = values.iloc[row]
    expected = (f"{column} takes a number {_RULE_WORDS.get(rule, rule)}, written plainly (digits and one "
                "decimal mark)")
    if not isinstance(value, str):
        message = f"the field is empty (or a word such as NA): {expected}; fill it in and save the file again"
    else:
        why, plain = _not_a_number(value.strip(), mark)
        negative = plain is not None and plain.startswith("-") and rule in _RULE_WORDS
        fix = f"write {plain}" if plain is not None and not negative else "fix that row"
        why = f": {why}" if why else ""
        message = f"value {value!r} is not a number{why}; {expected}: {fix} and save the file again"
    raise DataError(message, file=file, row=row + 1, column=column)


#: A plain number with the decimal mark ``.`` (after ``,`` is read as ``.`` where it is the mark).
_PLAIN = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_CURRENCY = "$€£¥"
#: The number rules as a message says them.
_RULE_WORDS = {">=0": ">= 0", ">0": "> 0"}


def _not_a_number(text: str, mark: str) -> tuple[str | None, str | None]:
    """Why ``text`` is not read as a number, and the plain number it stands for (None: no guess), written
    with the decimal ``mark``: ``'57.6`` (a spreadsheet's text mark), ``(0.5)`` (an accounting negative),
    ``50%``, ``$4.00``."""
    if text.startswith("'"):
        why = "a leading apostrophe (a spreadsheet's mark for a number stored as text) is not read"
        number = text[1:]
    elif text.startswith("(") and text.endswith(")"):
        number = f"-{text[1:-1].strip()}"
        why = f"parentheses are an accounting format's negative number ({number})"
    elif text.endswith("%"):
        why, number = "a percent sign is not read", text[:-1].strip()
    elif any(c in text for c in _CURRENCY):
        why, number = "a currency sign is not read", text.strip(_CURRENCY + " \u00a0")
    else:
        return None, None
    dotted = number.replace(",", ".") if mark == "," else number
    if not _PLAIN.match(dotted):
        return why, None
    if text.endswith("%"):
        why += f" ({text} is {float(dotted) / 100!r})"
        dotted = repr(float(dotted) / 100)
    return why, dotted.replace(".", ",") if mark == "," else dotted


#: How a message names each field separator.
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
