"""The decimal mark of a file, settled from its data: ``1,500`` is never silently 1.5 or 1500.

Most numbers read the same whatever the mark (``3,20``, ``40.71``, ``1.234,50``, ``1,234,567``);
a value with one group of three digits after a single ``.`` or ``,`` (``1,500``, ``1.500``) is a
decimal under one mark and a thousands-grouped number under the other
(:data:`~anticipate.ingest.parse.AMBIGUOUS_DOT`). :class:`Marks` watches every numeric text
column of one file, chunk by chunk, and settles the mark such values are read with:

- stated (``ingest --decimal`` / ``ingest.decimal``): used as stated;
- else *detected*: the mark the file's unambiguous numbers use as decimal mark (``3,20`` or
  ``1.234,50``: ``,``; ``40.71`` or ``1,234.50``: ``.``). lat/lon are read as decimals (their
  grouped reading is out of range), so their ``52.520`` settles ``.`` too;
- else the *default* of the delimiter: ``.`` in a comma-delimited CSV or a Parquet file (a comma
  there is no decimal mark unless quoted), none in a ``;``, TAB or ``|`` file.

An ambiguous value with no mark (no evidence and no default, or evidence for both) exits 2
naming file, column, row and the ``--decimal`` fix; so does a file whose evidence changes after
ambiguous values were read. Nothing is refused for ambiguous values in lat/lon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anticipate.errors import DataError
from anticipate.ingest import parse

#: The numeric input columns of each table (text in them is read as numbers).
NUMERIC: dict[str, tuple[str, ...]] = {
    "orders": ("quantity", "unit_price", "amount"),
    "products": ("unit_volume", "value_local", "cost_unsold"),
    "regions": ("lat", "lon"),
    "warehouses": ("lat", "lon", "capacity"),
    "supply": ("units",),
}
#: Columns whose grouped reading is out of range (|lat| <= 90, |lon| <= 180).
BOUNDED = ("lat", "lon")
_DOT_DECIMAL = (r"^[+-]?([0-9]+\.[0-9]*|\.[0-9]+)$", r"^[+-]?[1-9][0-9]{0,2}(,[0-9]{3}){2,}$",
                r"^[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+\.[0-9]*$")
_COMMA_DECIMAL = (r"^[+-]?[0-9]+,[0-9]+$", r"^[+-]?[1-9][0-9]{0,2}(\.[0-9]{3}){2,}$",
                  r"^[+-]?[1-9][0-9]{0,2}(\.[0-9]{3})+,[0-9]*$")

Example = tuple[str, int, str]  # source column, row, value


def _match(values: pa.Array, patterns: tuple[str, ...] | str) -> np.ndarray:
    out = np.zeros(len(values), dtype=bool)
    for pattern in (patterns,) if isinstance(patterns, str) else patterns:
        out |= pc.fill_null(pc.match_substring_regex(values, pattern), False).to_numpy(zero_copy_only=False)
    return out


@dataclass
class Marks:
    """The decimal mark of one file: ``stated`` (or None), ``default`` (``.`` or None), the first
    value that showed each mark as decimal (``evidence``), and the ambiguous values read so far
    (``first``, per separator their count and first example ``by_separator``, the mark they were
    read with ``read_with``)."""

    stated: str | None
    default: str | None
    file: str
    out: str
    evidence: dict[str, Example] = field(default_factory=dict)
    first: Example | None = None
    read_with: str | None = None
    by_separator: dict[str, tuple[int, Example]] = field(default_factory=dict)

    def observe(self, table: str, columns: dict[str, pa.Array], sources: dict[str, str],
                rows: np.ndarray) -> str:
        """Look at one chunk's raw numeric columns; the mark to read them with (``decimal`` of
        :func:`~anticipate.ingest.parse.plain_numbers`). Raises DataError when an ambiguous value
        has no mark, or the evidence contradicts the mark earlier values were read with."""
        found = 0
        for name in NUMERIC[table]:
            arr = columns.get(name)
            if arr is None or not (pa.types.is_binary(arr.type) or pa.types.is_string(arr.type)):
                continue
            found += self._column(parse.to_text(arr).values, sources[name], rows, name in BOUNDED)
        mark = self.mark
        if found:
            if mark is None:
                raise self._refusal()
            self.read_with = self.read_with or mark
        if self.read_with is not None and mark != self.read_with:
            raise self._refusal()
        return mark or "."

    def _column(self, text: pa.Array, source: str, rows: np.ndarray, bounded: bool) -> int:
        """Record one column's evidence and ambiguous values; how many ambiguous values it holds."""
        uniques = pc.unique(pc.drop_null(text))
        if not len(uniques) or not pc.any(pc.match_substring_regex(uniques, "[,.]")).as_py():
            return 0
        dot, comma = _match(uniques, parse.AMBIGUOUS_DOT), _match(uniques, parse.AMBIGUOUS_COMMA)
        shows = {".": _match(uniques, _DOT_DECIMAL) & ~dot, ",": _match(uniques, _COMMA_DECIMAL) & ~comma}
        if bounded:
            shows["."] |= dot
            shows[","] |= comma
            self._record(shows, uniques, text, source, rows)
            return 0
        self._record(shows, uniques, text, source, rows)
        hits = np.flatnonzero(dot | comma)
        if not len(hits):
            return 0
        counts = pc.value_counts(text)
        n = 0
        for separator, mask in ((".", dot), (",", comma)):
            picked = np.flatnonzero(mask)
            if not len(picked):
                continue
            k = int(pc.sum(pc.filter(counts.field("counts"), pc.is_in(
                counts.field("values"), value_set=uniques.take(pa.array(picked))))).as_py() or 0)
            seen, example = self.by_separator.get(separator, (0, None))
            self.by_separator[separator] = (seen + k, example or _example(uniques, int(picked[0]), text,
                                                                          source, rows))
            n += k
        if self.first is None:
            self.first = _example(uniques, int(hits[0]), text, source, rows)
        return n

    def _record(self, shows: dict[str, np.ndarray], uniques: pa.Array, text: pa.Array, source: str,
                rows: np.ndarray) -> None:
        for mark, mask in shows.items():
            hits = np.flatnonzero(mask)
            if len(hits) and mark not in self.evidence:
                self.evidence[mark] = _example(uniques, int(hits[0]), text, source, rows)

    @property
    def mark(self) -> str | None:
        """The settled mark: stated, else the one the evidence shows, else the default (None when
        the evidence shows both, or there is neither evidence nor a default)."""
        if self.stated:
            return self.stated
        if len(self.evidence) == 1:
            return next(iter(self.evidence))
        return self.default if not self.evidence else None

    @property
    def source(self) -> str:
        """``stated``, ``detected`` (from the evidence) or ``default`` (from the delimiter)."""
        return "stated" if self.stated else "detected" if len(self.evidence) == 1 else "default"

    def note(self) -> str | None:
        """For the report: ambiguous values read as thousands-grouped (``1,250`` as 1250 in a file whose
        mark is ``.``) when the mark was not stated; values read as decimals with the mark the file's own
        numbers or its delimiter settle are not worth a word (``1.502`` beside ``0.864``)."""
        if self.stated or self.mark is None:
            return None
        mark = str(self.mark)
        other = "," if mark == "." else "."
        if other not in self.by_separator:
            return None
        count, (column, row, value) = self.by_separator[other]
        if mark in self.evidence:
            ev_col, ev_row, ev_value = self.evidence[mark]
            why = f"as {ev_col} {ev_value!r} (row {ev_row}) shows"
        else:
            why = "the default of a comma-delimited file; no number in it shows another"
        return (f"{count:,} number(s) such as {value!r} ({column}, row {row}) were read as thousands-grouped "
                f"({_reading(value, mark)}): the file's decimal mark is {mark!r} ({why}). If {other!r} is "
                f"the decimal mark here, state it with --decimal {other!r} (or ingest.decimal in the config)")

    def _refusal(self) -> DataError:
        column, row, value = self.first or ("", 0, "")
        small, big = _reading(value, ","), _reading(value, ".")
        if "." in value:
            small, big = big, small
        if len(self.evidence) == 2:
            (c1, r1, v1), (c2, r2, v2) = self.evidence["."], self.evidence[","]
            why = (f"the file uses both marks as decimal mark ({c1} {v1!r}, row {r1}; {c2} {v2!r}, row "
                   f"{r2})")
        elif self.evidence:
            mark = next(iter(self.evidence))
            c1, r1, v1 = self.evidence[mark]
            why = (f"it was read with {self.read_with!r} as decimal mark (the default of this file's "
                   f"delimiter), but {c1} {v1!r} (row {r1}) shows {mark!r} as decimal mark")
        else:
            why = ("no number in the file settles the decimal mark (no value such as '3,20' or "
                   "'40.71'), and this file's delimiter suggests none")
        return DataError(
            f"{value!r} could be {small} (decimal) or {big} (thousands separator), and {why}. State the "
            f"decimal mark: --decimal ',' when ',' is the decimal mark, --decimal '.' when '.' is (or "
            f"ingest.decimal in the config); nothing was written to {self.out}",
            file=self.file, row=row, column=column)


def _example(uniques: pa.Array, index: int, text: pa.Array, source: str, rows: np.ndarray) -> Example:
    value = uniques[index].as_py()
    return source, int(rows[pc.index(text, value).as_py()]), value


def _reading(value: str, mark: str) -> str:
    """``value`` read with decimal mark ``mark``, as plain text."""
    plain = parse.plain_numbers(pa.array([value]), mark)[0].as_py()
    return f"{float(plain):.12g}" if plain is not None else value


def for_file(stated: str | None, delimiter: str | None, *, file: str, out: str) -> Marks:
    """The :class:`Marks` of a file with ``delimiter`` (None: Parquet) and a stated mark (or None)."""
    return Marks(stated, "." if delimiter in (None, ",") else None, file, out)
