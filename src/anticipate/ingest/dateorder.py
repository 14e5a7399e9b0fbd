"""Day-first or month-first: a detected date format is checked against every row of the file.

The date format of a file is guessed from its first 1,000 values
(:func:`anticipate.ingest.parse.guess_date_format`); ``01/12/2025`` fits both
``%m/%d/%Y`` and ``%d/%m/%Y``. :class:`DateOrder` reads every order_ts value of the
file in both orders (the detected one and its twin, ``%d`` and ``%m`` swapped) and
:meth:`DateOrder.check` refuses the file (exit 2, naming file, column, rows and the
``--date-format`` fix) unless the data itself says which order is meant: some value
parses in the detected order only (a day above 12), none in the twin only. Year-first
formats (``%Y-%m-%d``, ``%Y/%m/%d``) have no twin: they are read year-month-day. A
format stated with ``--date-format`` / ``ingest.date_format`` is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anticipate.errors import DataError
from anticipate.ingest import parse, read


def twin(fmt: str | None) -> str | None:
    """``fmt`` with ``%d`` and ``%m`` swapped, or None when it has no day/month twin
    (no format, either directive missing, or year first)."""
    if not fmt or "%d" not in fmt or "%m" not in fmt or fmt.lstrip().startswith(("%Y", "%y")):
        return None
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _day_first(fmt: str) -> bool:
    return fmt.index("%d") < fmt.index("%m")


def order_name(fmt: str) -> str:
    """``day-first`` or ``month-first`` for a format with both ``%d`` and ``%m``."""
    return "day-first" if _day_first(fmt) else "month-first"


@dataclass
class DateOrder:
    """Counts over a whole file of the order_ts values that parse in ``fmt`` only, in its
    ``other`` order only, or in both to different instants (``differ``), with the first row
    and value of each kind (``examples``: kind -> (row, value))."""

    fmt: str
    other: str
    values: int = 0
    only_fmt: int = 0
    only_other: int = 0
    differ: int = 0
    examples: dict[str, tuple[int, str]] = field(default_factory=dict)

    def observe(self, arr: pa.Array, rows: np.ndarray) -> None:
        """Count one chunk: ``arr`` the raw order_ts column, ``rows`` its 1-based source rows."""
        text = parse.to_text(arr).values
        counted = pc.value_counts(text)
        uniques, counts = counted.field("values"), counted.field("counts").to_numpy()
        a = parse.text_instants(uniques, self.fmt)
        b = parse.text_instants(uniques, self.other)
        ok_a, ok_b = ~np.isnat(a), ~np.isnat(b)
        self.values += int(counts[ok_a | ok_b].sum())
        for kind, mask in (("only_fmt", ok_a & ~ok_b), ("only_other", ok_b & ~ok_a),
                           ("differ", ok_a & ok_b & (a != b))):
            hits = np.flatnonzero(mask)
            if not len(hits):
                continue
            setattr(self, kind, getattr(self, kind) + int(counts[hits].sum()))
            if kind not in self.examples:
                value = uniques[int(hits[0])].as_py()
                self.examples[kind] = (int(rows[pc.index(text, value).as_py()]), value)

    def settled(self, file: str, column: str, out: str) -> tuple[str, str | None]:
        """The format the file's dates are read with and a note when it is not the first rows' guess;
        the DataError of a file whose day/month order the data does not settle.

        ``fmt``: no value parses in ``other`` only and either some value parses in ``fmt`` only or
        no value reads differently in the two orders (days equal to months). ``other``: some value
        parses in ``other`` only and none in ``fmt`` only (a day-first export whose first rows all
        have a day up to 12). Anything else is refused.
        """
        if self.only_other == 0 and (self.only_fmt > 0 or self.differ == 0):
            return self.fmt, None
        if self.only_other and not self.only_fmt:
            row, value = self.examples["only_other"]
            return self.other, (
                f"the first 1,000 rows read as {self.fmt} ({order_name(self.fmt)}) too, but "
                f"{self.only_other:,} dates parse only as {self.other} (first row {row}, {value!r}) and none "
                f"only as {self.fmt}: every date is read {order_name(self.other)} ({self.other})")
        stated = (f"Pass --date-format '{self.fmt}' to read the file {order_name(self.fmt)} or --date-format "
                  f"'{self.other}' to read it {order_name(self.other)} (or set ingest.date_format in the "
                  f"config); nothing was written to {out}")
        if self.only_other and self.only_fmt:
            (r1, v1), (r2, v2) = self.examples["only_fmt"], self.examples["only_other"]
            raise DataError(
                f"the dates mix two orders: {self.only_fmt:,} values parse only {order_name(self.fmt)} "
                f"({self.fmt}; first row {r1}, {v1!r}) and {self.only_other:,} only "
                f"{order_name(self.other)} ({self.other}; first row {r2}, {v2!r}). Export the file with "
                f"one date format, or {stated[0].lower()}{stated[1:]}; the rows that do not fit the stated "
                "format are then rejected as 'unparseable date'", file=file, column=column)
        row, value = self.examples["differ"]
        read_a, read_b = (str(pd.Timestamp(parse.text_instants(pa.array([value]), f)[0]))
                          for f in (self.fmt, self.other))
        raise DataError(
            f"the day/month order is ambiguous: all {self.values:,} dates parse both "
            f"{order_name(self.fmt)} ({self.fmt}) and {order_name(self.other)} ({self.other}), and no day "
            f"above 12 tells them apart (row {row}, {value!r}, is {read_a} {order_name(self.fmt)} but "
            f"{read_b} {order_name(self.other)}). {stated}", file=file, column=column)


def settle(source: read.Source, column: int, chunk_rows: int, fmt: str, *, file: str, name: str,
           out: str) -> tuple[str, str | None]:
    """Read every value of the date column ``column`` of ``source`` once and settle its day/month
    order (:meth:`DateOrder.settled`), before the file is ingested with it.

    ``fmt``: the format guessed from the first rows (it must have a :func:`twin`); returns the format
    to read every row with and a note for the report when it is the twin. A second read of the file,
    for non-ISO day/month dates only.
    """
    order = DateOrder(fmt, str(twin(fmt)))
    for raw in read.iter_chunks(source, chunk_rows):
        order.observe(raw.columns[column], raw.rows)
    return order.settled(file, name, out)
