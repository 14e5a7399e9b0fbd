"""The season family (the same horizon last year, days to Christmas) and the year-ago training windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anticipate.features import partials as engine
from anticipate.features.build import build_features, training_cutoffs, window_cutoffs
from anticipate.features.join import join
from anticipate.features.reference import build_features_reference
from anticipate.features.season import days_to_christmas
from anticipate.features.spec import FeatureSpec, feature_columns

SEASON = ["season"]
#: The year-ago columns that read the year-ago base, and those that read the year-ago horizon alone.
LIFTS = ("sea_shop_lift_ya", "sea_region_lift_ya", "sea_item_lift_ya")
UNITS = ("sea_item_ya_over_recent", "sea_item_units_ya", "sea_ci_units_ya")
CUTOFF = pd.Timestamp("2025-12-01")


def _line(order: str, cust: str, ts: str, sku: str, qty: int, region: str = "R1") -> dict:
    return {"order_id": order, "customer_id": cust, "order_ts": pd.Timestamp(ts), "sku": sku,
            "quantity": qty, "unit_price": 1.0, "region": region}


def _steady(start: str, end: str) -> list[dict]:
    """A line of customer ``c9`` (item ``s9``, region ``R9``) every 20 days from ``start`` to ``end``: a
    hand-made log's months between its lines of interest would otherwise be four weeks without any order,
    which detach the lines before them from the history (dates.history_start). Kept out of the year-ago
    windows of :data:`CUTOFF`, they change no sum the tests read."""
    return [_line(f"z{d:%y%m%d}", "c9", f"{d:%Y-%m-%d} 12:00", "s9", 1, "R9")
            for d in pd.date_range(start, end, freq="20D")]


def _hand_log() -> pd.DataFrame:
    """Two customers; the year-ago horizon of 2025-12-01 (H = 7) is [2024-12-01, 2024-12-08)."""
    lines = [
        _line("a", "c1", "2024-11-01 10:00", "s1", 4),  # year-ago base [2024-11-03, 2024-12-01): no (too old)
        _line("b", "c1", "2024-11-10 10:00", "s1", 2),  # base
        _line("c", "c1", "2024-12-02 10:00", "s1", 3),  # year-ago horizon
        _line("d", "c2", "2024-12-07 23:00", "s1", 5, "R2"),  # horizon, another region
        _line("e", "c2", "2024-12-08 00:00", "s2", 9, "R2"),  # just after the horizon
        _line("f", "c1", "2025-11-20 10:00", "s1", 1),  # recent: makes (c1, s1) a candidate
        _line("g", "c2", "2025-11-25 10:00", "s1", 1, "R2"),
        _line("h", "c2", "2025-11-26 10:00", "s2", 1, "R2"),
        *_steady("2024-12-20", "2025-11-10"),
    ]
    frame = pd.DataFrame(lines)
    frame["quantity"] = frame["quantity"].astype(np.int64)
    return frame


def test_year_ago_columns_on_a_hand_made_log() -> None:
    f = build_features(_hand_log(), CUTOFF, lookback_days=60, horizon_days=7, families=SEASON)
    assert list(f.columns[3:]) == feature_columns(SEASON)
    row = f.set_index(["customer_id", "item"])
    # (c1, s1) bought 3 units a year ago in the horizon; (c2, s1) 5; (c2, s2)'s 9 came a day later
    assert row.loc[("c1", "s1"), "sea_ci_units_ya"] == 3.0
    assert row.loc[("c2", "s1"), "sea_ci_units_ya"] == 5.0
    assert row.loc[("c2", "s2"), "sea_ci_units_ya"] == 0.0
    assert row.loc[("c1", "s1"), "sea_item_units_ya"] == 8.0
    # s1: 8 units in 7 days a year ago, 2 in the 28 days before (the 4 of 2024-11-01 are older)
    assert row.loc[("c1", "s1"), "sea_item_lift_ya"] == pytest.approx((8 / 7) / (2 / 28))
    assert np.isnan(row.loc[("c2", "s2"), "sea_item_lift_ya"])  # s2 has no year-ago base
    # s1 sold 2 units in the last 28 days
    assert row.loc[("c1", "s1"), "sea_item_ya_over_recent"] == pytest.approx((8 / 7) / (2 / 28))
    assert row.loc[("c1", "s1"), "sea_shop_lift_ya"] == pytest.approx((8 / 7) / (2 / 28))
    assert row.loc[("c1", "s1"), "sea_region_lift_ya"] == pytest.approx((3 / 7) / (2 / 28))  # R1
    assert np.isnan(row.loc[("c2", "s1"), "sea_region_lift_ya"])  # R2 had no base
    assert (f["sea_days_to_christmas"] == 24.0).all()


def test_days_to_christmas_counts_to_the_next_one() -> None:
    assert days_to_christmas(pd.Timestamp("2025-12-25")) == 0.0
    assert days_to_christmas(pd.Timestamp("2025-12-24 12:00")) == 0.5
    assert days_to_christmas(pd.Timestamp("2025-12-26")) == 364.0
    assert days_to_christmas(pd.Timestamp("2024-01-01")) == 359.0  # 2024 is a leap year


def _two_year_log(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_orders = n // 2
    order = rng.integers(0, n_orders, n)
    minute = rng.integers(0, 760 * 24 * 60, n_orders)
    frame = pd.DataFrame(
        {
            "order_id": [f"O{o}" for o in order],
            "customer_id": [f"C{c}" for c in rng.integers(0, 6, n_orders)[order]],
            "order_ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(minute[order], unit="min"),
            "sku": [f"S{s}" for s in rng.integers(0, 4, n)],
            "quantity": rng.integers(1, 4, n).astype(np.int64),
            "unit_price": np.ones(n),
            "region": [f"R{r}" for r in rng.integers(0, 3, n)],
        }
    )
    return frame


@pytest.mark.parametrize(
    ("seed", "horizon", "cutoff", "base_seen", "horizon_seen"),
    [
        (1, 7, "2025-11-24", True, True),
        (2, 14, "2025-06-03 12:00", True, True),
        # the log starts 2024-01-01: the year-ago base [2023-12-24, 2024-01-21) is not covered
        (3, 28, "2025-01-20", False, True),
        # nor the year-ago horizon [2023-12-21, 2023-12-28)
        (5, 7, "2024-12-20", False, False),
    ],
)
def test_engine_equals_the_pandas_reference_over_two_years(
    seed: int, horizon: int, cutoff: str, base_seen: bool, horizon_seen: bool
) -> None:
    orders, t = _two_year_log(seed), pd.Timestamp(cutoff)
    fast = build_features(orders, t, lookback_days=120, horizon_days=horizon)
    slow = build_features_reference(orders, t, lookback_days=120, horizon_days=horizon)
    assert fast[list(LIFTS)].notna().any().all() == base_seen
    assert fast[list(LIFTS)].isna().all().all() == (not base_seen)
    assert (fast["sea_ci_units_ya"] > 0).any() == horizon_seen
    assert fast[list(UNITS)].isna().all().all() == (not horizon_seen)
    assert (fast["sea_days_to_christmas"] > 0).all()
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False, rtol=1e-9)


def _covering_log(first: str, *, steady: bool = True) -> pd.DataFrame:
    """A log whose first line is at ``first``, then those of a line in the year-ago base and one in the
    year-ago horizon of :data:`CUTOFF` (2025-12-01, H = 7: base [2024-11-03, 2024-12-01), horizon
    [2024-12-01, 2024-12-08)) that come after it, and a recent one (with :func:`_steady` lines outside
    those windows between them, unless not ``steady``)."""
    lines = [
        _line("a", "c1", first, "s1", 4),
        _line("b", "c1", "2024-11-20 10:00", "s1", 2),  # base
        _line("c", "c1", "2024-12-02 10:00", "s1", 3),  # horizon
        _line("f", "c1", "2025-11-20 10:00", "s1", 1),
        *(_steady("2024-10-13", "2024-11-02") + _steady("2024-12-20", "2025-11-10") if steady else []),
    ]
    frame = pd.DataFrame(lines)
    frame = frame[frame["order_ts"] >= pd.Timestamp(first)]
    frame["quantity"] = frame["quantity"].astype(np.int64)
    return frame


@pytest.mark.parametrize(
    ("first", "base_seen", "horizon_seen"),
    [
        ("2024-11-03 00:00", True, True),  # exactly the base's first instant: covered
        ("2024-11-03 00:01", False, True),  # a minute later: the base is not, its lift would be 2 days short
        ("2024-11-30 23:59", False, True),
        ("2024-12-01 00:00", False, True),  # exactly the horizon's first instant
        ("2024-12-01 00:01", False, False),  # "0 units a year ago" would be a guess: NaN
    ],
)
def test_year_ago_columns_are_nan_unless_the_history_covers_their_window(
    first: str, base_seen: bool, horizon_seen: bool
) -> None:
    orders = _covering_log(first)
    f = build_features(orders, CUTOFF, lookback_days=60, horizon_days=7, families=SEASON)
    slow = build_features_reference(orders, CUTOFF, lookback_days=60, horizon_days=7, families=SEASON)
    pd.testing.assert_frame_equal(f, slow, check_dtype=False, rtol=1e-12)
    row = f.set_index(["customer_id", "item"]).loc[("c1", "s1")]
    assert row[list(LIFTS)].notna().all() == base_seen and row[list(LIFTS)].isna().all() == (not base_seen)
    assert row[list(UNITS)].notna().all() == horizon_seen
    assert row[list(UNITS)].isna().all() == (not horizon_seen)
    if horizon_seen:  # the 3 units of 2024-12-02 (and the first line's, when it lies in the horizon)
        assert row["sea_ci_units_ya"] == (7.0 if first.startswith("2024-12-01") else 3.0)
    if base_seen:  # 3 units in 7 days over 4 + 2 in the 28 before
        assert row["sea_item_lift_ya"] == pytest.approx((3 / 7) / (6 / 28))
    assert row["sea_days_to_christmas"] == 24.0


def test_partitions_take_the_whole_history_first_line_for_the_year_ago_windows() -> None:
    """A partition whose own customers start late still reads the year-ago windows as observed when
    another partition's history covers them (the partials combine their first lines by max)."""
    early, late = _covering_log("2024-10-01 10:00"), _covering_log("2025-11-01 10:00", steady=False)
    late = late[late["order_ts"] >= pd.Timestamp("2025-11-01")].assign(customer_id="c2", order_id=list("xy"))
    spec = FeatureSpec(lookback_days=60, horizon_days=7, families=("season",))
    for orders in (pd.concat([early, late], ignore_index=True), late):
        whole = build_features(orders, CUTOFF, spec)
        by_customer = [orders[orders["customer_id"] == c] for c in ("c1", "c2", "c9")]
        parts = [engine.prepare(p, CUTOFF, spec) for p in by_customer if len(p)]
        totals = engine.combine([p.partials for p in parts])
        joined = pd.concat([join(p, totals, CUTOFF, spec) for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(joined, whole, check_exact=True)
    both = build_features(pd.concat([early, late], ignore_index=True), CUTOFF, spec).set_index("customer_id")
    assert both.loc["c2", "sea_ci_units_ya"] == 0.0 and both.loc["c2", "sea_item_units_ya"] == 3.0
    assert whole[list(UNITS) + list(LIFTS)].isna().all().all()  # c2 alone: a month of history


@pytest.mark.parametrize("how", ["delete", "change"])
def test_season_columns_ignore_lines_at_or_after_the_cutoff(how: str) -> None:
    orders, t = _two_year_log(4), pd.Timestamp("2025-12-08")
    spec = FeatureSpec(lookback_days=90, horizon_days=7, families=("season",))
    before = build_features(orders, t, spec)
    future = (orders["order_ts"] >= t).to_numpy()
    assert future.any()
    if how == "delete":
        mutated = orders[~future]
    else:
        mutated = orders.copy()
        mutated.loc[future, "quantity"] = 99
        mutated.loc[future, "sku"] = "S0"
    pd.testing.assert_frame_equal(before, build_features(mutated, t, spec), check_exact=True)


def test_year_ago_windows_sit_around_the_same_season_52_weeks_back() -> None:
    until = pd.Timestamp("2025-11-24")
    plain = training_cutoffs(until, 7, 3)
    assert plain == [pd.Timestamp(d) for d in ("2025-11-03", "2025-11-10", "2025-11-17")]
    cuts = training_cutoffs(until, 7, 3, year_ago=4)
    assert cuts[4:] == plain
    assert cuts[:4] == [pd.Timestamp(d) for d in ("2024-11-11", "2024-11-18", "2024-11-25", "2024-12-02")]
    assert all(c.dayofweek == until.dayofweek for c in cuts)
    # none before the history: the first instant of the orders drops those at or before it
    orders = pd.DataFrame({"order_ts": pd.date_range("2024-11-18", "2025-11-20", freq="20D")})
    assert window_cutoffs(orders, until, 7, 3, year_ago=4)[:2] == [pd.Timestamp("2024-11-25"),
                                                                  pd.Timestamp("2024-12-02")]
    # a year-ago window never overlaps the recent ones
    assert training_cutoffs(until, 7, 60, year_ago=8) == training_cutoffs(until, 7, 60)


def test_a_model_meta_without_families_keeps_the_families_before_season() -> None:
    spec = FeatureSpec.from_meta({"lookback_days": 365, "horizon_days": 7})
    assert "season" not in spec.families and not any(c.startswith("sea_") for c in spec.columns)
