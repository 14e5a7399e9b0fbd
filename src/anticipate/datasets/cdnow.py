"""CDNOW (the customer-base log of the BG/NBD literature) as our orders table.

CDNOW's master file holds 69,659 purchase lines of the 23,570 customers who first bought at the
online CD shop in the first quarter of 1997, from 1997-01-01 to 1998-06-30: a customer id, a date
``YYYYMMDD``, the number of CDs and the dollar value, whitespace-separated (the copy in the PyPI
wheel ``lifetimes==0.11.3``, ``lifetimes/datasets/CDNOW_master.txt``, has a header line and CRLF
line ends; the original has neither, and both are read). :func:`read_raw` reads the file, or that
member of the wheel with :mod:`zipfile` (the package is never installed or imported: it pins an old
pandas); :func:`to_orders` is a pure conversion:

- there is no product: no ``sku`` column is written, so ingest gives every line the one item ``ALL``
  (and says so), and the pair model scores (customer, ``ALL``): "does the customer buy again";
- the date is taken at midnight (naive UTC), as ingest reads a date without a time: a purchase on a
  cutoff's day is in that cutoff's horizon, and the features at the cutoff read the days before it;
- an order is a customer's day (``order_id`` ``<customer>-<YYYYMMDD>``), as the BG/NBD literature
  counts repeat transactions per day: the 2,068 lines on a day the customer already bought are
  added into that day's one line (CDs summed, ``unit_price`` = dollars summed / CDs summed), so
  units and dollars are kept. Left as lines they would be one order anyway (one item, one
  instant), and the 255 of them that repeat an earlier line exactly would be rejected as duplicates;
- the file has no line with fewer than 1 CD; such a line would be written as it is, not added into
  its day, so ingest rejects it (``non-positive quantity``) and counts it in ``rejects.parquet``.
  The 80 lines of 1 CD at $0.00 are kept at price 0 (the contract allows a price >= 0).

The log has no geography: ingest defaults the region to ``ALL``, and the log is for the pair model
and the forecast, not allocation.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from anticipate.datasets.cutoffs import parse_cutoffs_within
from anticipate.errors import DataError, UsageError

MEMBER = "lifetimes/datasets/CDNOW_master.txt"
COLUMNS = ("customer_id", "date", "cds", "dollars")
#: The log's first and last day (``lifetimes`` 0.11.3's copy): the range of cutoffs is known before the
#: wheel is fetched. It ends with 1998-06-30, so it was collected until the midnight after that day.
FIRST_DAY, LAST_DAY = pd.Timestamp("1997-01-01"), pd.Timestamp("1998-06-30")
COLLECTED_UNTIL = LAST_DAY + pd.Timedelta(days=1)


@dataclass(frozen=True)
class Converted:
    """The canonical orders table and how the file's lines became its rows."""

    orders: pd.DataFrame
    lines_in: int
    lines_merged: int  # lines added into an earlier line of the same customer and day
    lines_not_orders: int  # lines with fewer than 1 CD, written as they are for ingest to reject
    lines_zero_value: int  # lines with CDs but $0.00, kept at price 0


def read_text(path: Path) -> str:
    """The master file's text: the file itself, or its member of a ``lifetimes`` wheel (``.whl``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; pass CDNOW_master.txt or the lifetimes-0.11.3 wheel",
                        file=str(path))
    if path.suffix != ".whl":
        return path.read_text(encoding="ascii")
    with zipfile.ZipFile(path) as wheel:
        if MEMBER not in wheel.namelist():
            raise DataError(f"{path} has no {MEMBER}; is it the wheel of lifetimes==0.11.3?", file=str(path))
        return wheel.read(MEMBER).decode("ascii")


def read_raw(path: Path) -> pd.DataFrame:
    """The file's lines as text columns customer_id, date, cds, dollars (a header line is skipped).

    Raises :class:`DataError` naming the file and the first line that has not four fields, or whose
    date, CDs or dollars do not parse: that is not CDNOW's master file.
    """
    text = read_text(path)
    lines = [line.split() for line in text.splitlines()]
    if lines and lines[0] and not lines[0][0].isdigit():
        lines = lines[1:]
    lines = [fields for fields in lines if fields]
    bad = next((i for i, fields in enumerate(lines) if len(fields) != 4), None)
    if bad is not None:
        raise DataError(f"{path}: data line {bad + 1} has {len(lines[bad])} fields, not 4 (customer id, "
                        f"date YYYYMMDD, CDs, dollars); is it CDNOW's master file?",
                        file=str(path), row=bad + 1)
    raw = pd.DataFrame(lines, columns=list(COLUMNS), dtype="string")
    parsed = {"date": pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce"),
              "cds": pd.to_numeric(raw["cds"], errors="coerce"),
              "dollars": pd.to_numeric(raw["dollars"], errors="coerce")}
    for column, values in parsed.items():
        if values.isna().any():
            row = int(values.isna().to_numpy().argmax())
            kind = "date YYYYMMDD" if column == "date" else "number"
            raise DataError(f"{path}: data line {row + 1} has {column} {raw[column].iloc[row]!r}, not a "
                            f"{kind}; is it CDNOW's master file?",
                            file=str(path), row=row + 1, column=column)
    return pd.DataFrame({"customer_id": raw["customer_id"].astype(str), "date": parsed["date"],
                         "cds": parsed["cds"], "dollars": parsed["dollars"].astype("float64")})


def to_orders(raw: pd.DataFrame) -> Converted:
    """One order line per customer and day (CDs and dollars summed), lines with < 1 CD as they are."""
    bought = raw["cds"] >= 1
    days = (raw[bought].groupby(["customer_id", "date"], sort=False, as_index=False)
            .agg(cds=("cds", "sum"), dollars=("dollars", "sum")))
    rows = pd.concat([days, raw.loc[~bought, ["customer_id", "date", "cds", "dollars"]]], ignore_index=True)
    price = (rows["dollars"] / rows["cds"].where(rows["cds"] != 0)).astype("float64")
    orders = pd.DataFrame({
        "order_id": rows["customer_id"] + "-" + rows["date"].dt.strftime("%Y%m%d"),
        "customer_id": rows["customer_id"].to_numpy(),
        "order_ts": rows["date"].astype("datetime64[ns]").to_numpy(),
        "quantity": rows["cds"].to_numpy(),
        "unit_price": price.fillna(rows["dollars"]).to_numpy(),
    })
    return Converted(orders=orders, lines_in=len(raw), lines_merged=int(bought.sum()) - len(days),
                     lines_not_orders=int((~bought).sum()),
                     lines_zero_value=int((bought & (raw["dollars"] == 0)).sum()))


def convert(path: Path) -> Converted:
    """Read the master file (or the wheel) and convert it to the canonical orders table."""
    return to_orders(read_raw(path))


def horizon_collected(cutoff: pd.Timestamp, horizon_days: int) -> bool:
    """Whether ``[cutoff, cutoff + horizon_days)`` lies inside the log (it ends with 1998-06-30)."""
    return pd.Timestamp(cutoff) + pd.Timedelta(days=horizon_days) <= COLLECTED_UNTIL


def cutoff_range(horizon_days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The cutoffs a run can ``train --until`` and evaluate at, inclusive: from the first with two
    training windows of ``horizon_days`` before it to the last whose horizon the log holds."""
    from anticipate import dates

    every_day = pd.Series(pd.date_range(FIRST_DAY, LAST_DAY, freq="D"))  # the log has orders every day
    valid = dates.until_range(every_day, horizon_days, 2)
    last = COLLECTED_UNTIL - pd.Timedelta(days=horizon_days)
    if valid is None or valid[0] > last:
        raise UsageError(f"time.horizon_days {horizon_days} is too long for CDNOW's 18 months: no cutoff has "
                         f"two training windows before it and its horizon inside the log; lower it")
    return valid[0], last


def parse_cutoffs(text: str, horizon_days: int, *, name: str = "--cutoffs") -> list[pd.Timestamp]:
    """``--cutoffs A,B,...`` as midnights inside :func:`cutoff_range`; a UsageError (exit 2) naming the
    option, the date and the valid range otherwise, before anything is fetched or trained."""
    from anticipate import dates

    first, last = cutoff_range(horizon_days)
    valid = (f"CDNOW's cutoffs run from {dates.fmt(first)} (two {horizon_days}-day training windows after "
             f"its first day, {dates.fmt(FIRST_DAY)}) to {dates.fmt(last)} (the last whose "
             f"{horizon_days}-day horizon it holds: it ends with {dates.fmt(LAST_DAY)})")
    return parse_cutoffs_within(text, first, last, valid, name=name, step_days=horizon_days)

