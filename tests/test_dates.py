"""Cutoffs: parsing, the valid ranges of docs/data-contract.md#cutoffs-and-labels, defaults."""

from __future__ import annotations

import pandas as pd
import pytest

from anticipate.dates import check_cutoff, data_end, last_full_cutoff, parse_date, valid_range
from anticipate.errors import CutoffError, UsageError

TS = pd.Series(pd.to_datetime(["2025-01-01 10:00", "2025-03-31 23:59"]))


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
