"""Where the order history starts (audit26 [A]): lines before four weeks without any order are detached.

One order line with a mistyped year (2023-02-03 for 2024-02-03, 1 of 11,282) made the history look a year
longer: the year-ago index of the forecast passed its "half a lookback of history" rule and was computed
over the history's first weeks, where every buyer is new (index 1.0 -> 0.718, new demand -28%, the
forecast -4.7%, exit 0 and no word), and the season family read the empty year as "sold nothing" (0)
instead of "not observed" (NaN). :func:`anticipate.dates.history_start` owns the rule; the forecast, the
feature engine (its partials), the pandas reference and the year-ago training windows all use it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.features._sums import day_oldest

CUTOFF = pd.Timestamp("2024-03-01")
#: The season columns that read the year-ago horizon alone and those that read its base too.
UNITS = ["sea_item_ya_over_recent", "sea_item_units_ya", "sea_ci_units_ya"]
LIFTS = ["sea_shop_lift_ya", "sea_region_lift_ya", "sea_item_lift_ya"]


def _days(*ks: int) -> np.ndarray:
    """A ``per_day`` array for :func:`dates.attached_day` with a line on each day ``k`` before the cutoff."""
    out = np.zeros(max(ks, default=0) + 1)
    out[list(ks)] = 1.0
    return out


def test_the_history_starts_after_the_newest_run_of_28_days_without_a_line() -> None:
    assert dates.DETACHING_GAP_DAYS == 28
    assert dates.attached_day(_days()) == 0  # no line
    assert dates.attached_day(_days(3)) == 3
    assert dates.attached_day(_days(1, 2, 3)) == 3
    assert dates.attached_day(_days(2, 30)) == 30  # 27 empty days (3..29) between: one history
    assert dates.attached_day(_days(2, 31)) == 2  # 28 empty days (3..30): day 31 is detached
    assert dates.attached_day(_days(1, 5, 40, 41, 100)) == 5  # the gap nearest the cutoff decides
    assert dates.attached_day(_days(60, 61)) == 61  # days between the cutoff and the last line are no gap


def test_history_start_on_timestamps_counts_whole_days_without_an_order() -> None:
    def start(*stamps: str, cutoff: pd.Timestamp | None = CUTOFF) -> dates.HistoryStart:
        return dates.history_start(pd.Series(pd.to_datetime(list(stamps))), cutoff)

    # 27 empty days, 2024-01-02 to 2024-01-28: one history
    assert start("2024-01-01 23:59", "2024-01-29 00:00") == dates.HistoryStart(
        CUTOFF, pd.Timestamp("2024-01-01 23:59"))
    # 28 empty days, 2024-01-02 to 2024-01-29, however close the instants
    found = start("2024-01-01 23:59", "2024-01-01 08:00", "2024-01-30 00:00", "2024-02-10 13:00")
    assert found == dates.HistoryStart(CUTOFF, pd.Timestamp("2024-01-30"), 2,
                                       pd.Timestamp("2024-01-01 08:00"), pd.Timestamp("2024-01-01 23:59"))
    assert start("2024-01-01", "2024-03-01", "2025-01-01").detached == 0  # at the cutoff or after: unread
    assert start("2024-03-01") == dates.HistoryStart(CUTOFF, None)
    assert start("2023-01-01", "2024-01-01", cutoff=None).first == pd.Timestamp("2024-01-01")  # all lines
    utc = pd.Series(pd.to_datetime(["2024-01-01 08:00", "2024-01-30 00:30"]).tz_localize("UTC"))
    tokyo = dates.history_start(utc.dt.tz_convert("Asia/Tokyo"), CUTOFF)
    assert tokyo.first == pd.Timestamp("2024-01-30 00:30") and tokyo.detached == 1
    assert found.warnings() == [
        "2 order lines, from 2024-01-01 to 2024-01-01, lie before 28 days without a single order (2024-01-02 "
        "to 2024-01-29), so the history before 2024-03-01 is taken to start at 2024-01-30: the forecast's "
        "year-ago index, the season features' year-ago windows and the year-ago training windows count from "
        "there (those lines still count as their customers' orders). A mistyped year, a test order or an old "
        "file ingested by mistake does this, and so does a closure of 28 days or more: check the order_ts of "
        "those lines, and correct or remove them"]
    assert start("2024-01-01", "2024-01-29").warnings() == []


def test_the_engines_days_are_the_dates_days() -> None:
    rng = np.random.default_rng(3)
    age = np.concatenate([rng.uniform(1e-6, 400.0, 5000), np.arange(1.0, 30.0)])  # and lines at midnight
    fast, slow = day_oldest(age), day_oldest(age, jit=False)
    np.testing.assert_array_equal(fast, slow)
    k = dates.line_days(age)
    expected = np.zeros(k.max() + 1)
    np.maximum.at(expected, k, age)
    np.testing.assert_array_equal(fast, expected)
    assert dates.line_days(np.array([1.0, 1.5, 2.0, 1e-9])).tolist() == [1, 2, 2, 1]
    np.testing.assert_array_equal(day_oldest(np.zeros(0)), [0.0])
