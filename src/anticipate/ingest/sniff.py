"""A CSV file's layout from its first lines: the delimiter, and Excel's separator hint.

The delimiter is the one of ``, ; TAB |`` that splits the header into the most columns while
the other sample lines agree with it. Excel writes (and reads) a first line ``sep=;`` naming the
delimiter; such a line is honoured: its character is the delimiter and the header is the next
line (a note in the report says so).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

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
