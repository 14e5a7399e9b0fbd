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
