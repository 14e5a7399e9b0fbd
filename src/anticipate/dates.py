"""Dates and cutoffs (CONTRACTS section 2): parsing, valid ranges, default cutoffs.

A cutoff is a midnight. Features see ``order_ts < t``; labels ``t <= order_ts < t + H``.
"""

from __future__ import annotations

import re
from typing import Literal

import pandas as pd

from anticipate.errors import CutoffError, UsageError

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Purpose = Literal["labelled", "production"]


def parse_date(value: str, *, name: str = "--cutoff") -> pd.Timestamp:
    """Parse ``YYYY-MM-DD`` into a midnight Timestamp.

    Raises
    ------
    UsageError
        Anything else (including path separators), naming the option and the format.
    """
    text = str(value).strip()
    if not _DATE_RE.match(text):
        raise UsageError(f"{name} must be a date written YYYY-MM-DD, got {value!r}")
    try:
        ts = pd.Timestamp(text)
    except (ValueError, OverflowError):
        raise UsageError(f"{name} {value!r} is not a real calendar date (YYYY-MM-DD)") from None
    return ts.normalize()


def data_end(order_ts: pd.Series) -> pd.Timestamp:
    """The production cutoff: midnight after the last order (``last order date + 1 day``)."""
    return pd.Timestamp(order_ts.max()).normalize() + pd.Timedelta(days=1)


def data_start(order_ts: pd.Series) -> pd.Timestamp:
    """Midnight of the first order's date."""
    return pd.Timestamp(order_ts.min()).normalize()


def last_full_cutoff(order_ts: pd.Series, horizon_days: int) -> pd.Timestamp:
    """The latest cutoff whose whole horizon lies inside the data."""
    return data_end(order_ts) - pd.Timedelta(days=horizon_days)


def valid_range(
    order_ts: pd.Series, horizon_days: int, purpose: Purpose
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The inclusive range of valid cutoffs: labelled (evaluate, backtest) or production."""
    first = data_start(order_ts) + pd.Timedelta(days=1)
    last = last_full_cutoff(order_ts, horizon_days) if purpose == "labelled" else data_end(order_ts)
    return first, last


def check_cutoff(cutoff: pd.Timestamp, order_ts: pd.Series, horizon_days: int, purpose: Purpose,
                 *, command: str) -> pd.Timestamp:
    """Return ``cutoff`` if valid for ``purpose``, else raise CutoffError naming the range."""
    first, last = valid_range(order_ts, horizon_days, purpose)
    if first <= cutoff <= last:
        return cutoff
    why = ("its whole horizon must lie inside the data" if purpose == "labelled"
           else "it may be at most the day after the last order")
    raise CutoffError(
        f"cutoff {cutoff.date()} is outside the valid range for '{command}' "
        f"({first.date()} to {last.date()} with a {horizon_days}-day horizon; {why}); "
        f"pass --cutoff within that range"
    )


def fmt(ts: pd.Timestamp) -> str:
    """A cutoff as ``YYYY-MM-DD``."""
    return pd.Timestamp(ts).strftime("%Y-%m-%d")
