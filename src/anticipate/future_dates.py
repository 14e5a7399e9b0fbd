"""A cutoff or plan date later than now (:func:`future_cutoff_warnings`, re-exported by
:mod:`anticipate.dates`): kept apart from it, as it needs nothing of it but the date format."""

from __future__ import annotations

import pandas as pd


def fmt(ts: pd.Timestamp) -> str:
    """A date as ``YYYY-MM-DD`` (:func:`anticipate.dates.fmt`)."""
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


#: The most any time zone is ahead of UTC (UTC+14): a local date is at most this many hours before its
#: UTC midnight, so a cutoff further ahead is a date in the future, not a local clock's.
ZONE_AHEAD_HOURS = 14.0


def _far_future(cutoff: pd.Timestamp, at: pd.Timestamp, name: str, order_ts: pd.Series | None) -> str:
    """The :func:`future_cutoff_warnings` text for a cutoff more than :data:`ZONE_AHEAD_HOURS` ahead."""
    before = None if order_ts is None else order_ts[order_ts < cutoff]
    last = None if before is None or before.empty else pd.Timestamp(before.max()).normalize()
    days = (cutoff - at) / pd.Timedelta(days=1)
    ends = (f"the orders end on {fmt(last)}, so the {(cutoff - last).days - 1:,} days from "
            f"{fmt(last + pd.Timedelta(days=1))} to {fmt(cutoff - pd.Timedelta(days=1))} count as days "
            "without any order" if last is not None and (cutoff - last).days > 1
            else "the days before it up to now are all the orders hold")
    return (
        f"{name} {fmt(cutoff)} is {days:.1f} days ahead (it is {at:%Y-%m-%d %H:%M} UTC now), more than "
        f"any time zone is ahead of UTC, so it is a future date, not a local clock's: a what-if plan; "
        f"{ends} (recency and window counts read them so). For tonight's plan use `date -u +%F`"
    )


def future_cutoff_warnings(
    cutoff: pd.Timestamp, *, now: float, name: str = "--date", order_ts: pd.Series | None = None
) -> list[str]:
    """A warning when ``cutoff`` (a naive UTC midnight) is later than ``now`` (seconds since the epoch, the
    command's start): the day before it has not ended in UTC, so its orders may be incomplete, and
    :func:`anticipate.dates.partial_last_day`, which compares the day with the same weekdays before it,
    may see nothing amiss hours before its end. A local date in a zone ahead of UTC (``date +%F`` in Tokyo
    at 02:15, still 17:15 UTC the day before) does this; a plan for a future date is a legitimate what-if,
    so it warns.

    ``order_ts`` (naive UTC, as the orders hold it): when given and it holds no line on that day, the
    warning says so plainly instead of "may be incomplete" (the day is missing, not cut short).
    """
    at = pd.Timestamp(now, unit="s")  # naive UTC, as order_ts
    if cutoff <= at:
        return []
    hours = (cutoff - at) / pd.Timedelta(hours=1)
    if hours > ZONE_AHEAD_HOURS:
        return [_far_future(cutoff, at, name, order_ts)]
    day = cutoff - pd.Timedelta(days=1)
    empty = order_ts is not None and not ((order_ts >= day) & (order_ts < cutoff)).any()
    state = (f"the orders hold no order line on {fmt(day)}, which" if empty
             else f"the orders of {fmt(day)} may be incomplete, as that day")
    return [
        f"{name} {fmt(cutoff)} starts in {hours:.1f} h UTC (it is {at:%Y-%m-%d %H:%M} UTC now): {state} "
        "has not ended in UTC (order times are UTC); a date taken from a local clock ahead of UTC does this: "
        "in cron use `date -u +%F`"
    ]
