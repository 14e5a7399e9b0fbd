"""Cutoffs: parsing, the valid ranges of docs/data-contract.md#cutoffs-and-labels, defaults."""

from __future__ import annotations

import pandas as pd
import pytest

from anticipate.dates import (
    check_cutoff,
    data_end,
    last_full_cutoff,
    parse_date,
    partial_last_day,
    valid_range,
)
from anticipate.errors import CutoffError, UsageError

TS = pd.Series(pd.date_range("2025-01-01 10:00", "2025-03-31 10:00", freq="D"))  # a line every day


@pytest.mark.parametrize("bad", ["2025-13-01", "yesterday", "2025/01/01", "../etc", "2025-01-01/x", ""])
def test_parse_date_refuses_non_dates(bad: str) -> None:
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        parse_date(bad)


def test_parse_date_is_midnight() -> None:
    assert parse_date("2025-02-03") == pd.Timestamp("2025-02-03 00:00")


def test_production_cutoff_is_day_after_last_order() -> None:
    assert data_end(TS) == pd.Timestamp("2025-04-01")


def test_last_full_cutoff_keeps_horizon_inside_data() -> None:
    assert last_full_cutoff(TS, 7) == pd.Timestamp("2025-03-25")


def test_valid_ranges_differ_by_purpose() -> None:
    assert valid_range(TS, 7, "labelled")[1] == pd.Timestamp("2025-03-25")
    assert valid_range(TS, 7, "production")[1] == pd.Timestamp("2025-04-01")


def test_check_cutoff_names_the_valid_range() -> None:
    with pytest.raises(CutoffError, match=r"2025-01-02 to 2025-03-25"):
        check_cutoff(pd.Timestamp("2025-03-26"), TS, 7, "labelled", command="evaluate")
    assert check_cutoff(pd.Timestamp("2025-04-01"), TS, 7, "production", command="allocate") == pd.Timestamp(
        "2025-04-01")


def test_a_labelled_horizon_without_a_single_order_is_named() -> None:
    """audit22 #12: a week with no orders (a closure, an export gap) failed on 'a single class' and
    'evaluate at another cutoff', not saying the week was empty."""
    from anticipate import dates
    from anticipate.errors import CutoffError

    days = pd.date_range("2025-11-01", "2025-12-31", freq="D")
    ts = pd.Series(days[(days < "2025-12-08") | (days >= "2025-12-15")] + pd.Timedelta(hours=10))
    dates.check_horizons_hold_orders([pd.Timestamp("2025-12-01"), pd.Timestamp("2025-12-14")], ts, 7)
    said = r"no order from 2025-12-08 to 2025-12-14, the 7-day horizon of cutoff 2025-12-08: a closure"
    with pytest.raises(CutoffError, match=said):
        dates.check_horizons_hold_orders([pd.Timestamp("2025-12-01"), pd.Timestamp("2025-12-08")], ts, 7)
    with pytest.raises(CutoffError, match="from 2025-12-10 to 2025-12-11"):
        dates.check_horizons_hold_orders([pd.Timestamp("2025-12-10")], ts, 2)


def _daily(last_day_lines: int, *, per_day: int = 40, tuesdays: int = 40) -> pd.Series:
    """Order times 2025-11-25 to 2025-12-30 (a Tuesday): ``per_day`` lines a day from 06:00 (``tuesdays``
    on the earlier Tuesdays), ``last_day_lines`` on the last day."""
    days = pd.date_range("2025-11-25", "2025-12-29")
    counts = [tuesdays if d.day_name() == "Tuesday" else per_day for d in days] + [last_day_lines]
    stamps = [d + pd.Timedelta(hours=6) + pd.Timedelta(minutes=20 * i)
              for d, n in zip([*days, pd.Timestamp("2025-12-30")], counts, strict=True) for i in range(n)]
    return pd.Series(pd.to_datetime(stamps))


def test_a_last_day_with_far_fewer_lines_than_its_weekday_is_named_as_a_partial_export() -> None:
    """audit22 #4: the sample cut at 2025-12-30 10:00 (37 of its 153 lines) scored as a full day: backtest
    bias +16.3% against +4.9%, without a word."""
    said = partial_last_day(_daily(12))
    assert said == (
        "the orders' last day, 2025-12-30 (a Tuesday), holds 12 lines, 30% of the median 40 of the 4 "
        "Tuesdays before it, its last line at 09:40: it looks like a partial export, yet it counts as a full "
        "day (the data ends at 2025-12-31); pick a cutoff one day earlier, so that what the command reads "
        "ends at 2025-12-30 and leaves that day out, or wait for the full export and ingest it again")
    assert partial_last_day(_daily(12), until=pd.Timestamp("2025-12-31")) == said  # the window reaches it
    assert partial_last_day(_daily(12), until=pd.Timestamp("2026-01-02")) == said
    assert partial_last_day(_daily(12), until=pd.Timestamp("2025-12-30")) is None  # it ends before that day
    assert partial_last_day(_daily(20)) is None  # half the usual: a quiet day, not a cut one
    assert partial_last_day(_daily(12, per_day=40, tuesdays=20)) is None  # Tuesdays are quiet here
    assert partial_last_day(_daily(3, tuesdays=0)) is None  # a weekday without orders: nothing to compare
    assert partial_last_day(pd.Series(pd.to_datetime([]))) is None


def test_a_cutoff_that_has_not_begun_in_utc_is_warned_of_with_the_hours_left() -> None:
    """cron's `date +%F` in Tokyo at 02:15 gives a date whose 00:00 UTC is 6.75 h away, the day before it
    still going on; the partial-day check saw nothing (audit24 #3). ``now`` is injected, not the clock."""
    from anticipate.dates import future_cutoff_warnings

    tokyo_0215 = pd.Timestamp("2025-12-31 02:15", tz="Asia/Tokyo").timestamp()
    [said] = future_cutoff_warnings(pd.Timestamp("2025-12-31"), now=tokyo_0215)
    assert said.startswith("--date 2025-12-31 starts in 6.8 h UTC (it is 2025-12-30 17:15 UTC now)")
    assert "the orders of 2025-12-30 may be incomplete" in said and "`date -u +%F`" in said
    utc_0215 = pd.Timestamp("2025-12-31 02:15", tz="UTC").timestamp()
    assert future_cutoff_warnings(pd.Timestamp("2025-12-31"), now=utc_0215) == []
    midnight = pd.Timestamp("2025-12-31")
    assert future_cutoff_warnings(midnight, now=midnight.tz_localize("UTC").timestamp()) == []


def test_a_future_cutoff_whose_day_before_has_no_line_says_so_not_may_be_incomplete() -> None:
    """'may be incomplete' when the log holds no line at all on the day before the cutoff understated it
    (audit h27 #3): the day is missing, not cut short."""
    from anticipate.dates import future_cutoff_warnings

    tokyo_0215 = pd.Timestamp("2025-12-31 02:15", tz="Asia/Tokyo").timestamp()
    cutoff = pd.Timestamp("2025-12-31")
    up_to_29 = pd.Series(pd.to_datetime(["2025-12-28 10:00:00", "2025-12-29 23:59:59"]))
    [said] = future_cutoff_warnings(cutoff, now=tokyo_0215, order_ts=up_to_29)
    assert said == (
        "--date 2025-12-31 starts in 6.8 h UTC (it is 2025-12-30 17:15 UTC now): the orders hold no order "
        "line on 2025-12-30, which has not ended in UTC (order times are UTC); a date taken from a local "
        "clock ahead of UTC does this: in cron use `date -u +%F`")
    with_30 = pd.concat([up_to_29, pd.Series(pd.to_datetime(["2025-12-30 08:00:00"]))], ignore_index=True)
    [said] = future_cutoff_warnings(cutoff, now=tokyo_0215, order_ts=with_30)
    assert "the orders of 2025-12-30 may be incomplete, as that day has not ended in UTC" in said


def test_a_cutoff_days_ahead_is_called_a_future_date_not_a_local_clock() -> None:
    """audit27: 'starts in 100.0 h UTC ... a date taken from a local clock ahead of UTC does this' for a
    date four days ahead blamed a time zone, which is never more than 14 h ahead of UTC."""
    from anticipate.dates import future_cutoff_warnings

    now = pd.Timestamp("2025-12-27 20:00", tz="UTC").timestamp()
    orders = pd.Series(pd.to_datetime(["2025-12-20 10:00:00", "2025-12-27 09:30:00"]))
    [said] = future_cutoff_warnings(pd.Timestamp("2026-01-01"), now=now, order_ts=orders)
    assert said == (
        "--date 2026-01-01 is 4.2 days ahead (it is 2025-12-27 20:00 UTC now), more than any time zone is "
        "ahead of UTC, so it is a future date, not a local clock's: a what-if plan; the orders end on "
        "2025-12-27, so the 4 days from 2025-12-28 to 2025-12-31 count as days without any order (recency "
        "and window counts read them so). For tonight's plan use `date -u +%F`")
    kiribati = pd.Timestamp("2025-12-31 00:30", tz="Pacific/Kiritimati").timestamp()  # UTC+14
    [said] = future_cutoff_warnings(pd.Timestamp("2025-12-31"), now=kiribati)
    assert said.startswith("--date 2025-12-31 starts in 13.5 h UTC") and "local clock" in said
