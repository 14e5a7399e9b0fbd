"""Dates and cutoffs (docs/data-contract.md#cutoffs-and-labels): parsing, valid ranges, default cutoffs.

A cutoff is a midnight. Features see ``order_ts < t``; labels ``t <= order_ts < t + H``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from anticipate.errors import CutoffError, UsageError
from anticipate.future_dates import ZONE_AHEAD_HOURS, future_cutoff_warnings  # noqa: F401 (dates.*)

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: The dates anticipate accepts: far enough inside pandas' nanosecond range (1677-09-21 to
#: 2262-04-11) that a cutoff minus the longest lookback (3,660 days) or plus a horizon stays
#: representable. A date outside it is a typo, not a plan.
SUPPORTED = (pd.Timestamp("1900-01-01"), pd.Timestamp("2199-12-31"))

Purpose = Literal["labelled", "production"]


def parse_date(value: str, *, name: str = "--cutoff") -> pd.Timestamp:
    """Parse ``YYYY-MM-DD`` into a midnight Timestamp; anything else (a path separator too) raises
    UsageError naming the option and the format."""
    text = str(value).strip()
    if not _DATE_RE.match(text):
        raise UsageError(f"{name} must be a date written YYYY-MM-DD, got {value!r}")
    try:
        ts = pd.Timestamp(text)
    except (ValueError, OverflowError):
        raise UsageError(f"{name} {value!r} is not a real calendar date (YYYY-MM-DD)") from None
    if not SUPPORTED[0] <= ts <= SUPPORTED[1]:
        raise UsageError(
            f"{name} {text} is outside the dates anticipate supports ({fmt(SUPPORTED[0])} to "
            f"{fmt(SUPPORTED[1])}); pass a date within that range, normally one near your data"
        )
    return ts.normalize()


def naive_utc(order_ts: pd.Series) -> pd.Series:
    """``order_ts`` in the data contract's form, naive UTC: a zone-aware series converted to UTC and its zone
    dropped (the same instants, as ingest stores a value with an offset), a naive one as it is.

    Not ``tz_localize(None)`` alone, which would keep the local wall time of a non-UTC zone.
    """
    if isinstance(order_ts.dtype, pd.DatetimeTZDtype):
        return order_ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return order_ts


def data_end(order_ts: pd.Series) -> pd.Timestamp:
    """The production cutoff: midnight after the last order (``last order date + 1 day``)."""
    return pd.Timestamp(order_ts.max()).normalize() + pd.Timedelta(days=1)


#: The last day looks partial (an export taken before the day ended) when it holds fewer lines than
#: this share of the median of the same weekday over the :data:`PARTIAL_WEEKS` weeks before it. The
#: same weekday, not the days just before: a shop with quiet Sundays would otherwise see every Sunday
#: export as partial; a median, so one holiday among those weeks moves nothing. The sample's days hold
#: 121-204 lines in its last four weeks (its last day 153, 87% of its weekday); an export taken at
#: 10:00 holds 37 (21%).
PARTIAL_SHARE = 0.5
PARTIAL_WEEKS = 4


def partial_last_day(order_ts: pd.Series, *, until: pd.Timestamp | None = None) -> str | None:
    """A warning when the data's last day holds fewer lines than usual, else None.

    The data ends at the midnight after the last line's date (:func:`data_end`), so a day
    exported in the morning counts as a full day: its demand looks a fraction of the usual.
    "Fewer than usual": under :data:`PARTIAL_SHARE` of the median line count of the same
    weekday over the :data:`PARTIAL_WEEKS` weeks before it (quiet when that median is 0).
    ``until``: the end (exclusive) of what a command reads (a horizon, a validation window,
    the history before a cutoff); None (quiet) when it ends before the last day.
    """
    if order_ts.empty:
        return None
    end = data_end(order_ts)
    if until is not None and until < end:
        return None
    last = end - pd.Timedelta(days=1)
    recent = order_ts[order_ts >= last - pd.Timedelta(days=7 * PARTIAL_WEEKS)]
    per_day = recent.dt.normalize().value_counts()
    same = [int(per_day.get(last - pd.Timedelta(days=7 * k), 0)) for k in range(1, PARTIAL_WEEKS + 1)]
    usual, count = float(pd.Series(same).median()), int(per_day.get(last, 0))
    if usual <= 0 or count >= PARTIAL_SHARE * usual:
        return None
    weekday = last.day_name()
    return (
        f"the orders' last day, {fmt(last)} (a {weekday}), holds {count:,} lines, {count / usual:.0%} of the "
        f"median {usual:,.0f} of the {PARTIAL_WEEKS} {weekday}s before it, its last line at "
        f"{pd.Timestamp(order_ts.max()):%H:%M}: it looks like a partial export, yet it counts as a full "
        f"day (the data ends at {fmt(end)}); pick a cutoff one day earlier, so that what the command reads "
        f"ends at {fmt(last)} and leaves that day out, or wait for the full export and ingest it again"
    )


def partial_day_warnings(order_ts: pd.Series, *, until: pd.Timestamp | None = None) -> list[str]:
    """:func:`partial_last_day` as the list a command's warnings are added from (empty when quiet)."""
    said = partial_last_day(order_ts, until=until)
    return [said] if said else []


def data_start(order_ts: pd.Series) -> pd.Timestamp:
    """Midnight of the first order's date."""
    return pd.Timestamp(order_ts.min()).normalize()


#: Days in a row without a single order line that split the history: the lines before such a run are
#: *detached*, and the history is taken to start at the first line after the last such run before the
#: cutoff (:func:`history_start`). A year mistyped in one line (2023-02-03 for 2024-02-03), a test order or an
#: old file ingested by mistake puts lines months before the real start; read from them, the history
#: looks a year longer than it is, and what needs a year of it (the forecast's year-ago index, the season
#: family's year-ago windows, the year-ago training windows) reads the empty months as "no new customers"
#: and "sold nothing" (one such line cut the sample's new demand by 28% and its forecast by 4.7%). Four
#: weeks: a shop that trades at all has orders in any four weeks (a Christmas closure is one or two), and
#: the year-ago windows it protects are a week to four weeks long. What the rule does not catch: stray
#: lines less than four weeks apart (a test order every week for months before the launch) form a
#: history of their own, and a wrong date inside the history or after it stays where it is.
DETACHING_GAP_DAYS = 28


def line_days(age: np.ndarray) -> np.ndarray:
    """The day before the cutoff each line falls on, ``ceil(age)`` (int64; 1 = the day before it).

    ``age``: days (float) from each line to a midnight cutoff, > 0 (lines before it).
    """
    return np.ceil(age).astype(np.int64)


def attached_day(per_day: np.ndarray) -> int:
    """The day the history starts, in days before the cutoff (as :func:`line_days`); 0 without a line.

    ``per_day[k] > 0`` when the ``k``-th day before the cutoff holds an order line (index 0, the cutoff's
    own day, unused): line counts, or the oldest line's age on each day. Walking back from the cutoff, the
    history ends at the first run of :data:`DETACHING_GAP_DAYS` or more days without a line; the days
    before that run are detached. Days without a line between the cutoff and the last line are no gap.
    """
    days = np.flatnonzero(np.asarray(per_day)[1:] > 0) + 1
    if len(days) == 0:
        return 0
    split = np.flatnonzero(np.diff(days) > DETACHING_GAP_DAYS)  # > 28 apart: 28 or more empty days between
    return int(days[split[0]] if len(split) else days[-1])


@dataclass(frozen=True)
class HistoryStart:
    """Where the order history before ``cutoff`` starts (:func:`history_start`).

    ``first``: the ``order_ts`` of its first line (None without a line before the cutoff);
    ``detached``: the lines before it, cut off by :data:`DETACHING_GAP_DAYS` days without an order,
    ``detached_first`` and ``detached_last`` the first and last of them (None when there are none).
    """

    cutoff: pd.Timestamp | None
    first: pd.Timestamp | None
    detached: int = 0
    detached_first: pd.Timestamp | None = None
    detached_last: pd.Timestamp | None = None
    #: the last line before the cutoff and the first at or after it (None when there is none)
    last: pd.Timestamp | None = field(default=None, compare=False)
    after: pd.Timestamp | None = field(default=None, compare=False)

    def warnings(self) -> list[str]:
        """The warnings a command that reads this history adds: the cutoff inside a gap of
        :data:`DETACHING_GAP_DAYS` days or more without a line (:meth:`gap_warnings`), lines detached."""
        gap = self.gap_warnings()
        if not self.detached or self.cutoff is None or self.first is None or self.detached_last is None:
            return gap
        first, last = self.first.normalize(), self.detached_last.normalize()
        return [
            f"{_lines_before(self)} days without a single "
            f"order ({fmt(last + pd.Timedelta(days=1))} to {fmt(first - pd.Timedelta(days=1))}), so the "
            f"history before {fmt(self.cutoff)} is taken to start at {fmt(first)}: the forecast's year-ago "
            f"index, the season features' year-ago windows and the year-ago training windows count from "
            f"there (those lines still count as their customers' orders). A mistyped year, a test order or "
            f"an old file ingested by mistake does this, and so does a closure of {DETACHING_GAP_DAYS} days "
            f"or more: check the order_ts of those lines, and correct or remove them",
            *gap,
        ]

    def gap_warnings(self) -> list[str]:
        """A warning when the cutoff falls inside a run of :data:`DETACHING_GAP_DAYS` days or more without
        a line, with lines on both sides (audit31: three stray lines months ahead of the history, a cutoff
        among them: '3 candidate pairs', '0 units expected', no word); a closure does it too."""
        if self.cutoff is None or self.last is None or self.after is None:
            return []
        last, after = self.last.normalize(), self.after.normalize()
        empty = (after - last).days - 1
        if empty < DETACHING_GAP_DAYS:
            return []
        into = (self.cutoff - last).days - 1  # the empty days its features read
        read = (f"the last line before it is on {fmt(last)}, {into:,} day{'s' * (into != 1)} earlier, so its "
                "features read those days as a customer base that stopped buying and its new demand as none")
        if not into:
            read = ("it is the day after the last line before the gap, so its features are whole but the "
                    "horizons after it fall in the gap: what they score or backtest is a shop without orders")
        return [
            f"the cutoff {fmt(self.cutoff)} falls in a gap of {empty:,} days without a single order line "
            f"({fmt(last + pd.Timedelta(days=1))} to {fmt(after - pd.Timedelta(days=1))}): {read}; a "
            f"closure, an export that missed those days or stray lines ahead of the history do this: check "
            f"the orders around it, or pick a cutoff outside the gap"
        ]


def _lines_before(start: HistoryStart) -> str:
    """``1 order line, on D, lies before N`` (or ``K order lines, from D1 to D2, lie before N``): the
    detached lines of ``start`` and the days of the gap after them (N, the caller says "days ...")."""
    assert start.first is not None and start.detached_last is not None
    last = start.detached_last.normalize()
    lines = (f"{start.detached:,} order lines, from {fmt(start.detached_first)} to {fmt(last)}, lie"
             if start.detached > 1 else f"1 order line, on {fmt(last)}, lies")
    return f"{lines} before {(start.first.normalize() - last).days - 1}"


def history_start(order_ts: pd.Series, cutoff: pd.Timestamp | None = None) -> HistoryStart:
    """Where the history of the lines strictly before ``cutoff`` starts: the first line after the last
    run of :data:`DETACHING_GAP_DAYS` days without a line (:func:`attached_day`); the lines before that
    run are detached. ``cutoff`` (a midnight): None reads every line (the cutoff after the data).

    Days are counted back from the cutoff as the feature engine counts them (:func:`line_days` of
    ``(cutoff - order_ts) / 1 day``), so it and this function agree on every line's day.
    """
    naive = naive_utc(order_ts)
    if cutoff is None:
        if naive.empty:
            return HistoryStart(None, None)
        cutoff = data_end(naive)
    cutoff = pd.Timestamp(cutoff)
    every = naive.to_numpy().astype("datetime64[ns]", copy=False)
    before = every < cutoff.to_datetime64()
    ts = every[before]
    after = pd.Timestamp(every[~before].min()) if len(ts) < len(every) else None  # none at the data's end
    if len(ts) == 0:
        return HistoryStart(cutoff, None, after=after)
    day = line_days((cutoff.to_datetime64() - ts) / np.timedelta64(1, "D"))
    start = attached_day(np.bincount(day))
    old = ts[day > start]
    first = pd.Timestamp(ts[day == start].min())
    last = pd.Timestamp(ts.max())
    ends = {"last": last, "after": after}
    if len(old) == 0:
        return HistoryStart(cutoff, first, **ends)
    return HistoryStart(cutoff, first, len(old), pd.Timestamp(old.min()), pd.Timestamp(old.max()), **ends)


#: Weeks (7-day bins of calendar days since 1970-01-01) with an order line that a stretch of lines before
#: a long gap needs to count as history (:func:`history_first_day`). Three stray lines 19 and 16 days apart
#: spanned 35 days in 3 weeks, so a cutoff among them was valid (audit31: '3 candidate pairs', '0 units
#: expected', exit 0). Counted in weeks, not days: a shop whose customers order on one weekday holds a
#: line on 12 days in 12 weeks before a closure, which 14 days refused as stray lines (audit32).
HISTORY_MIN_WEEKS = 4


def history_first_day(order_ts: pd.Series) -> pd.Timestamp:
    """Midnight of the first day a valid cutoff may read from: the first day of the first stretch of lines
    (lines less than :data:`DETACHING_GAP_DAYS` + 1 days apart) that spans :data:`DETACHING_GAP_DAYS` days
    or more, with lines in :data:`HISTORY_MIN_WEEKS` weeks or more. A shorter or sparser stretch before a
    long gap (a mistyped year, test orders, an old file) is not history a cutoff may stand in; a shop's
    months before a closure are (audit30: a 5-week summer closure made every cutoff before it invalid).
    When no stretch is that long (a log billed once a month), the first line's day (:func:`data_start`).
    One sort-free pass over calendar days (0.1 s / 10M lines)."""
    days = calendar_days(order_ts)
    if len(days) == 0:
        return data_start(order_ts)
    split = np.flatnonzero(np.diff(days) > DETACHING_GAP_DAYS)
    first, end = np.r_[0, split + 1], np.r_[split, len(days) - 1]  # each stretch's first and last day's index
    starts, ends = days[first], days[end]
    weeks = np.cumsum(np.r_[True, np.diff(days // 7) != 0])  # distinct weeks with a line up to each day
    dense = weeks[end] - weeks[first] + 1 >= HISTORY_MIN_WEEKS
    long = np.flatnonzero((ends - starts >= DETACHING_GAP_DAYS) & dense)
    return pd.Timestamp(np.datetime64(int(starts[long[0]] if len(long) else starts[0]), "D"))


def calendar_days(order_ts: pd.Series) -> np.ndarray:
    """The calendar days (UTC) holding an order line, as days since 1970-01-01 (int64, ascending, distinct).
    One sort-free pass: integer floor division and a bincount (``astype("datetime64[D]")`` took 10x)."""
    stamps = naive_utc(order_ts).to_numpy()
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(stamps.dtype)[0]))
    day = stamps.view(np.int64) // per_day
    if len(day) == 0:
        return day
    low = int(day.min())
    return np.flatnonzero(np.bincount(day - low)) + low


def first_cutoff(order_ts: pd.Series) -> pd.Timestamp:
    """The first valid cutoff, ``--until`` window or plan date: the day after :func:`history_first_day` (a
    cutoff among detached lines would read those lines alone: a forecast of nothing, exit 0)."""
    return history_first_day(order_ts) + pd.Timedelta(days=1)


def detached_note(order_ts: pd.Series) -> str:
    """Why the valid range starts after the first order line (:func:`history_first_day`), for a refusal
    ("" when it starts at the first line)."""
    first_day = history_first_day(order_ts)
    start = history_start(order_ts, first_day + pd.Timedelta(days=DETACHING_GAP_DAYS + 1))
    if not start.detached or start.first is None:
        return ""
    return (f"the history starts on {fmt(start.first)}: {_lines_before(start)} days without a single order, "
            f"detached from it, so a cutoff among them would read those lines alone (a mistyped year, a test "
            f"order, an old file ingested by mistake: less than {DETACHING_GAP_DAYS} days of lines, or lines "
            f"in fewer than {HISTORY_MIN_WEEKS} weeks, before a gap of {DETACHING_GAP_DAYS} days or more): "
            f"check the order_ts of those lines, and correct or remove them")


def detached_warnings(order_ts: pd.Series, cutoff: pd.Timestamp | None = None) -> list[str]:
    """:meth:`HistoryStart.warnings` of :func:`history_start`: the lines before a long gap, for the
    command's printed and recorded warnings (empty when there are none)."""
    return history_start(order_ts, cutoff).warnings()


def history_warnings(order_ts: pd.Series, cutoff: pd.Timestamp) -> list[str]:
    """What the history before ``cutoff`` warns about, for a command that reads it up to ``cutoff``
    (``train --until``, ``forecast``, ``allocate``): a partial last day (:func:`partial_day_warnings`)
    and lines detached by a long gap (:func:`detached_warnings`)."""
    return partial_day_warnings(order_ts, until=cutoff) + detached_warnings(order_ts, cutoff)


def last_full_cutoff(order_ts: pd.Series, horizon_days: int) -> pd.Timestamp:
    """The latest cutoff whose whole horizon lies inside the data."""
    return data_end(order_ts) - pd.Timedelta(days=horizon_days)


def valid_range(
    order_ts: pd.Series, horizon_days: int, purpose: Purpose, *, min_history_days: int = 1
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The inclusive range of valid cutoffs: labelled (evaluate, backtest) or production. The first is
    ``min_history_days`` after the history's first day (not a detached line's; :func:`first_cutoff` for 1):
    forecast and backtest average horizons before it, so need one (:mod:`anticipate.demand.history_gate`)."""
    first = first_cutoff(order_ts) + pd.Timedelta(days=min_history_days - 1)
    last = last_full_cutoff(order_ts, horizon_days) if purpose == "labelled" else data_end(order_ts)
    return first, last


def check_cutoff(cutoff: pd.Timestamp, order_ts: pd.Series, horizon_days: int, purpose: Purpose,
                 *, command: str, min_history_days: int = 1) -> pd.Timestamp:
    """Return ``cutoff`` if valid for ``purpose`` (:func:`valid_range`), else raise CutoffError naming it."""
    first, last = valid_range(order_ts, horizon_days, purpose, min_history_days=min_history_days)
    if first <= cutoff <= last:
        return cutoff
    if cutoff < first:  # before the history: the horizon rule is not why (audit30 C4)
        note = detached_note(order_ts)
        need = f"{min_history_days} days" if min_history_days > 1 else "one day"
        why = note or f"a cutoff must have at least {need} of orders before it" + (
            ", one horizon to measure new demand on" if min_history_days > 1 else "")
    else:
        why = ("its whole horizon must lie inside the data" if purpose == "labelled"
               else "it may be at most the day after the last order")
    raise CutoffError(
        f"cutoff {cutoff.date()} is outside the valid range for '{command}' "
        f"({first.date()} to {last.date()} with a {horizon_days}-day horizon; {why}); "
        f"pass --cutoff within that range"
    )


def check_horizons_hold_orders(cutoffs: list[pd.Timestamp], order_ts: pd.Series,
                               horizon_days: int) -> None:
    """Exit 2 naming the first labelled horizon ``[cutoff, cutoff + horizon_days)`` without a single order.

    Inside the data's span such a horizon is a closure or a gap in the export: every pair's label is
    0, and the scores would fail on "a single class" without saying why.
    """
    ts = pd.to_datetime(order_ts).to_numpy()  # two comparisons per cutoff: no sort of the whole log
    for cutoff in cutoffs:
        end = cutoff + pd.Timedelta(days=horizon_days)
        if not ((ts >= cutoff.to_datetime64()) & (ts < end.to_datetime64())).any():
            raise CutoffError(
                f"the data holds no order from {fmt(cutoff)} to {fmt(end - pd.Timedelta(days=1))}, the "
                f"{horizon_days}-day horizon of cutoff {fmt(cutoff)}: a closure or a gap in the export, "
                "where nothing can be scored; leave that cutoff out, or ingest the missing orders"
            )


def until_range(
    order_ts: pd.Series, horizon_days: int, windows: int
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The inclusive range of valid ``train --until`` dates, or None when no date fits.

    ``until`` needs ``windows`` horizons of ``horizon_days`` days (the rolling-origin training windows)
    between the first cutoff (:func:`first_cutoff`: after the history's first day, not a detached line's)
    and itself, and may be at most the production cutoff (the day after the last order).
    """
    first = first_cutoff(order_ts) + pd.Timedelta(days=horizon_days * windows)
    last = data_end(order_ts)
    return (first, last) if first <= last else None


def fmt(ts: pd.Timestamp) -> str:
    """A cutoff as ``YYYY-MM-DD``."""
    return pd.Timestamp(ts).strftime("%Y-%m-%d")
