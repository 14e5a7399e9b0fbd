"""A CSV file's layout from its lines: the delimiter, Excel's separator hint, header lines.

The delimiter is the one of ``, ; TAB |`` that splits the header into the most columns while
the other sample lines agree with it. Excel writes (and reads) a first line ``sep=;`` naming the
delimiter; such a line is honoured: its character is the delimiter and the header is the next
line (a note in the report says so). A record most of whose fields are column names is a header
line (:func:`is_header`; files concatenated with their headers: :mod:`anticipate.ingest.headerrows`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from anticipate.column_names import normalise
from anticipate.errors import DataError

DELIMITERS = (",", ";", "\t", "|")
#: Excel's separator hint: ``sep=X`` alone on the first line (quoted, or padded with more X, by some tools).
_HINT = re.compile(r'"?sep=(.?)"?(\1*)', re.IGNORECASE)


@dataclass(frozen=True)
class Layout:
    """The delimiter, how many lines come before the first data record (the header, and
    Excel's ``sep=`` line when there is one) and a note for the report (None: nothing to say)."""

    delimiter: str
    skip: int = 1
    note: str | None = None


def layout(lines: list[str], *, file: str) -> Layout:
    """The layout of a CSV file from its first ``lines`` (decoded, without the BOM).

    Raises
    ------
    DataError
        A ``sep=`` line naming no usable delimiter, or a file with nothing after it.
    """
    hint = _HINT.fullmatch(lines[0].lstrip(" ").rstrip("\r\n")) if lines else None
    if hint is None:
        return Layout(sniff_delimiter(lines))
    delimiter, said = hint.group(1), lines[0].strip()
    if not delimiter or delimiter.isalnum() or delimiter in "\"' \r\n":
        raise DataError(
            f"the first line {said!r} looks like Excel's separator hint, but names no usable delimiter; "
            "write it as sep=, or sep=; (or delete the line, and the delimiter is sniffed)", file=file)
    if len(lines) < 2 or not lines[1].strip():
        raise DataError(
            f"the file has only Excel's separator hint {said!r} and no header after it; it needs a header "
            "row naming the columns and at least one data row", file=file)
    return Layout(delimiter, 2, f"the first line {said!r} is Excel's separator hint: read {delimiter!r} as "
                                "the delimiter and the second line as the header")


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter among ``, ; TAB |`` that splits the header into the most columns
    while the other sample lines agree with it; ``,`` when none splits anything."""
    best, best_score = ",", (0.0, 1)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        if not counts or counts[0] < 2:
            continue
        agree = sum(c == counts[0] for c in counts[1:]) / max(1, len(counts) - 1)
        score = (agree, counts[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def names_of(names: Iterable[str]) -> set[str]:
    """``names`` as header matching compares them (:mod:`anticipate.column_names`), with and without
    a unit."""
    return {key for name in names for key in (normalise(name), normalise(name, units=False)) if key}


def is_header(fields: list[str], known: set[str]) -> bool:
    """Whether ``fields`` are a header line: at least half of them (and two) are ``known`` names
    (:func:`names_of`)."""
    hits = sum(bool({normalise(f), normalise(f, units=False)} & known) for f in fields)
    return hits >= max(2, math.ceil(len(fields) / 2))


def concatenated(text: str, row: int, header: list[str], delimiter: str) -> str | None:
    """The message for a record with the wrong number of fields, ``text`` at data row ``row``, that is a
    header line, when such records are most of the file (two exports concatenated); else None."""
    fields = [f.strip() for f in next(csv.reader([text], delimiter=delimiter), [])]
    if not is_header(fields, names_of(header)):
        return None
    return (f"most records have a different number of fields than the header's {len(header)}, from row "
            f"{row:,}, a header line with {len(fields)} columns (two exports concatenated, e.g. cat a.csv "
            f"b.csv?): the header reads {listing(header)}; row {row:,} reads {listing(fields)}. Split the "
            "file at this row (each part with its own header line) and ingest the parts one by one "
            "(orders: the second with --append), or export the data again with one header")


def listing(names: list[str], limit: int = 12) -> str:
    """``names`` quoted, the first ``limit`` of them."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
