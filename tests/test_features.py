"""The feature table: names pinned, equal to the pandas reference, labels, minimal logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.features.build import (
    build_features,
    build_labels,
    build_training_frame,
    build_training_set,
    training_cutoffs,
)
from anticipate.features.history import ID_COLUMNS
from anticipate.features.reference import build_features_reference
from anticipate.features.spec import ALL_FAMILIES, FEATURE_DOCS, feature_columns
from tests.strategies import cutoffs, order_logs


def test_feature_names_are_pinned() -> None:
    assert feature_columns(ALL_FAMILIES) == [
        "cust_recency_days",
        "cust_tenure_days",
        "cust_orders_total",
        "cust_orders_7d",
        "cust_orders_30d",
        "cust_orders_90d",
        "cust_orders_365d",
        "cust_units_7d",
        "cust_units_30d",
        "cust_units_90d",
        "cust_units_365d",
        "cust_spend_365d",
        "cust_orders_per_day",
        "cust_gap_mean_days",
        "cust_gap_std_days",
        "cust_gap_last_days",
        "cust_recency_over_gap",
        "cust_bgnbd_x",
        "cust_bgnbd_t_x",
        "ci_orders_total",
        "ci_orders_90d",
        "ci_orders_365d",
        "ci_units_90d",
        "ci_units_365d",
        "ci_days_since_last",
        "ci_gap_mean_days",
        "ci_recency_over_gap",
        "ci_share_of_orders",
        "ci_repeat_ratio",
        "ci_share_all",
        "ci_orders_per_day",
        "ci_gap_std_days",
        "ci_gap_last_days",
        "ci_renewal_hazard_7d",
        "ci_lapse_ratio",
        "item_units_7d",
        "item_units_28d",
        "item_units_365d",
        "item_trend_7d_28d",
        "item_buyers_28d",
        "item_gap_mean_days",
        "item_gap_cv",
        "ri_units_7d",
        "ri_units_28d",
        "ri_trend_7d_28d",
        "cal_week",
        "sea_days_to_christmas",
        "sea_shop_lift_ya",
        "sea_region_lift_ya",
        "sea_item_lift_ya",
        "sea_item_ya_over_recent",
        "sea_item_units_ya",
        "sea_ci_units_ya",
    ]
    assert all(FEATURE_DOCS[c] for c in feature_columns())


def test_families_select_columns() -> None:
    assert feature_columns(["calendar"]) == ["cal_week"]
    assert all(c.startswith("ci_") for c in feature_columns(["customer_item"]))


@settings(max_examples=60, deadline=None)
@given(order_logs(), cutoffs)
def test_build_equals_pandas_reference(orders: pd.DataFrame, cutoff: pd.Timestamp) -> None:
    fast = build_features(orders, cutoff, lookback_days=60)
    if fast.empty:
        assert orders[
            (orders["order_ts"] < cutoff) & (orders["order_ts"] >= cutoff - pd.Timedelta(days=60))
        ].empty
        return
    slow = build_features_reference(orders, cutoff, lookback_days=60)
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(order_logs(), cutoffs, st.integers(0, 2**32 - 1))
def test_the_same_lines_in_another_row_order_give_the_same_table(
    orders: pd.DataFrame, cutoff: pd.Timestamp, seed: int
) -> None:
    shuffled = orders.iloc[np.random.default_rng(seed).permutation(len(orders))].reset_index(drop=True)
    fast = build_features(orders, cutoff, lookback_days=60)
    again = build_features(shuffled, cutoff, lookback_days=60)
    pd.testing.assert_frame_equal(fast, again, check_dtype=False, rtol=1e-12)


def test_region_at_the_cutoff_is_the_one_of_most_units_at_the_last_instant_then_the_first_id() -> None:
    cutoff = pd.Timestamp("2025-01-10")
    orders = pd.DataFrame(
        {
            "order_id": ["a", "b", "b", "b"],
            "customer_id": ["x"] * 4,
            "order_ts": pd.to_datetime(["2025-01-01"] + ["2025-01-05"] * 3),
            "sku": ["s1", "s1", "s2", "s3"],
            "quantity": np.array([9, 1, 2, 1], dtype=np.int64),
            "unit_price": np.ones(4),
            "region": ["p", "r", "q", "r"],
        }
    )
    for rows in ([0, 1, 2, 3], [3, 2, 1, 0], [0, 2, 1, 3]):
        f = build_features(orders.iloc[rows], cutoff, lookback_days=30)
        assert set(f["region"]) == {"q"}  # q and r both hold 2 units of the last order: q sorts first
    heavier = orders.assign(quantity=np.array([9, 2, 2, 1], dtype=np.int64))
    assert set(build_features(heavier, cutoff, lookback_days=30)["region"]) == {"r"}


def _hand_log() -> pd.DataFrame:
    ts = pd.to_datetime(
        [
            "2025-01-01 10:00",
            "2025-01-05 09:00",
            "2025-01-05 09:00",
            "2025-01-09 12:00",
            "2025-01-10 08:00",
            "2025-01-12 08:00",
        ]
    )
    return pd.DataFrame(
        {
            "order_id": ["a", "b", "b", "c", "d", "e"],
            "customer_id": ["x", "x", "x", "x", "y", "x"],
            "order_ts": ts,
            "sku": ["s1", "s1", "s2", "s1", "s1", "s2"],
            "quantity": np.array([1, 2, 1, 1, 3, 4], dtype=np.int64),
            "unit_price": [1.0, 1.0, 2.0, 1.0, 1.0, 2.0],
            "region": ["r", "r", "r", "q", "r", "r"],
        }
    )


def test_hand_built_features_and_labels() -> None:
    orders = _hand_log()
    cutoff = pd.Timestamp("2025-01-10")
    f = build_features(orders, cutoff, lookback_days=30).set_index(["customer_id", "item"])
    assert list(f.index) == [("x", "s1"), ("x", "s2")]  # y's order is on the cutoff day: not seen
    x1 = f.loc[("x", "s1")]
    assert x1["region"] == "q"  # x's most recent line before the cutoff shipped to q
    assert x1["cust_orders_total"] == 3 and x1["ci_orders_total"] == 3
    assert x1["ci_units_365d"] == 4 and x1["ci_share_of_orders"] == 1.0
    assert x1["ci_days_since_last"] == pytest.approx(0.5)
    first_age = (cutoff - pd.Timestamp("2025-01-01 10:00")) / pd.Timedelta(days=1)
    assert x1["cust_gap_mean_days"] == pytest.approx((first_age - 0.5) / 2)
    assert f.loc[("x", "s2"), "ci_share_of_orders"] == pytest.approx(1 / 3)
    assert f.loc[("x", "s1"), "item_buyers_28d"] == 1  # y bought on the cutoff day: not seen
    labels = build_labels(orders, cutoff, horizon_days=7)
    assert labels.to_dict("records") == [
        {"customer_id": "x", "item": "s2", "y": 1, "units": 4.0},
        {"customer_id": "y", "item": "s1", "y": 1, "units": 3.0},
    ]


def test_an_order_straddling_a_window_edge_counts_wholly_outside_in_every_family() -> None:
    cutoff = pd.Timestamp("2025-01-20")
    orders = pd.DataFrame(
        {
            "order_id": ["a", "a", "b"],
            "customer_id": ["x", "x", "x"],
            "order_ts": pd.to_datetime(["2025-01-12 12:00", "2025-01-14 12:00", "2024-12-01 00:00"]),
            "sku": ["s1", "s2", "s3"],
            "quantity": np.array([1, 5, 1], dtype=np.int64),
            "unit_price": [1.0, 1.0, 1.0],
            "region": ["r", "r", "r"],
        }
    )  # order a starts 7.5 days before the cutoff; its s2 line is 5.5 days old
    f = build_features(orders, cutoff, lookback_days=30).set_index("item")
    s2 = f.loc["s2"]
    assert s2["cust_orders_7d"] == 0 and s2["cust_units_7d"] == 0
    assert s2["ci_days_since_last"] == pytest.approx(7.5)
    assert s2["item_units_7d"] == 0 and s2["ri_units_7d"] == 0
    assert s2["item_units_28d"] == 5 and s2["ri_units_28d"] == 5
    slow = build_features_reference(orders, cutoff, lookback_days=30)
    pd.testing.assert_frame_equal(build_features(orders, cutoff, lookback_days=30), slow, check_dtype=False)


def test_share_of_orders_reads_the_lookback_window_so_no_candidate_is_zero_over_zero() -> None:
    cutoff = pd.Timestamp("2025-06-01")
    orders = pd.DataFrame(
        {
            "order_id": ["a", "b", "c", "d"],
            "customer_id": ["x", "x", "x", "y"],
            "order_ts": cutoff - pd.to_timedelta([400, 450, 10, 420], unit="D"),
            "sku": ["s1", "s1", "s2", "s1"],
            "quantity": np.ones(4, dtype=np.int64),
            "unit_price": np.ones(4),
            "region": ["r"] * 4,
        }
    )
    f = build_features(orders, cutoff, lookback_days=500).set_index(["customer_id", "item"])
    share = f["ci_share_of_orders"].to_dict()
    assert share == {("x", "s1"): pytest.approx(2 / 3), ("x", "s2"): pytest.approx(1 / 3), ("y", "s1"): 1.0}
    short = build_features(orders, cutoff, lookback_days=30)
    assert short["ci_share_of_orders"].tolist() == [1.0]  # x's one order in 30 days held s2
    slow = build_features_reference(orders, cutoff, lookback_days=500)
    pd.testing.assert_frame_equal(f.reset_index(), slow, check_dtype=False)


def test_training_frame_marks_non_buyers_zero() -> None:
    frame = build_training_frame(_hand_log(), pd.Timestamp("2025-01-10"), horizon_days=7, lookback_days=30)
    assert frame.set_index(["customer_id", "item"])["y"].to_dict() == {("x", "s1"): 0, ("x", "s2"): 1}
    assert frame.loc[frame["y"] == 0, "units"].eq(0).all()


def test_training_cutoffs_are_h_apart_and_end_one_horizon_before_until() -> None:
    cuts = training_cutoffs(pd.Timestamp("2025-03-01"), 7, 3)
    assert cuts == [pd.Timestamp("2025-02-08"), pd.Timestamp("2025-02-15"), pd.Timestamp("2025-02-22")]


def test_training_set_labels_stay_before_until() -> None:
    orders = _hand_log()
    frame = build_training_set(
        orders, pd.Timestamp("2025-01-13"), horizon_days=2, lookback_days=30, windows=2
    )
    assert sorted(frame["cutoff"].unique()) == [pd.Timestamp("2025-01-09"), pd.Timestamp("2025-01-11")]


def _as_categories(orders: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``orders`` with its id columns as categoricals whose categories are shuffled and hold unused ids."""
    rng = np.random.default_rng(seed)
    out = orders.copy()
    for column in ID_COLUMNS:
        cats = np.array([*orders[column].astype(str).unique(), "zz-unused", "0-unused"], dtype=object)
        out[column] = orders[column].astype(str).astype(pd.CategoricalDtype(rng.permutation(cats)))
    return out


@settings(max_examples=40, deadline=None)
@given(order_logs(), cutoffs, st.integers(0, 2**32 - 1))
def test_id_columns_read_as_categories_give_the_same_table(
    orders: pd.DataFrame, cutoff: pd.Timestamp, seed: int
) -> None:
    fast = build_features(orders, cutoff, lookback_days=60)
    again = build_features(_as_categories(orders, seed), cutoff, lookback_days=60)
    pd.testing.assert_frame_equal(fast, again, check_exact=True)


def test_category_level_reads_categorical_skus() -> None:
    products = pd.DataFrame({"sku": ["s1", "s2"], "category": ["c1", "c1"]})
    cutoff, orders = pd.Timestamp("2025-01-10"), _hand_log()
    kw = {"lookback_days": 30, "item_level": "category", "products": products}
    fast, again = (build_features(o, cutoff, **kw) for o in (orders, _as_categories(orders, 7)))
    pd.testing.assert_frame_equal(fast, again, check_exact=True)


def test_minimal_log_has_one_item_and_region() -> None:
    orders = _hand_log().assign(sku="ALL", region="ALL").drop(columns=["order_id"])
    f = build_features(orders, pd.Timestamp("2025-01-13"), lookback_days=30)
    assert set(f["item"]) == {"ALL"} and set(f["region"]) == {"ALL"}
    assert f.set_index("customer_id").loc["x", "cust_orders_total"] == 4  # (customer, timestamp) orders


def test_category_level_uses_product_categories() -> None:
    products = pd.DataFrame({"sku": ["s1", "s2"], "category": ["c1", "c1"]})
    f = build_features(
        _hand_log(), pd.Timestamp("2025-01-10"), lookback_days=30, item_level="category", products=products
    )
    assert list(f["item"]) == ["c1"] and f["ci_orders_total"].iloc[0] == 3


def test_renewal_hazard_is_memoryless_at_cv_one_and_rises_with_age_when_regular() -> None:
    from anticipate.features.renewal import renewal_hazard

    age = np.array([1.0, 10.0, 40.0])
    mean = np.full(3, 20.0)
    exp_h = renewal_hazard(age, mean, np.ones(3), window=7.0)
    np.testing.assert_allclose(exp_h, 1.0 - np.exp(-7.0 / 20.0), rtol=1e-12)
    regular = renewal_hazard(age, mean, np.full(3, 0.05), window=7.0)
    assert regular[0] < 0.01 < regular[1] < regular[2]  # due around day 20: low early, high late
    assert np.isnan(renewal_hazard(np.array([3.0]), np.array([np.nan]), np.array([0.1])))[0]


def test_renewal_hazard_of_a_zero_mean_gap_is_missing_without_a_warning() -> None:
    """Repeat orders at one instant (mean gap 0 days): NaN, and no RuntimeWarning on stderr."""
    import warnings

    from anticipate.features.renewal import renewal_hazard

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hazard = renewal_hazard(np.array([0.0, 5.0, 400.0]), np.array([0.0, 0.0, 0.0]), np.full(3, 0.2))
    assert np.isnan(hazard).all()


@pytest.mark.parametrize("cv2", [0.01, 0.05, 0.3, 1.0, 2.5])
def test_renewal_hazard_of_lapsed_pairs_is_continuous_and_bounded_by_its_limit(cv2: float) -> None:
    from anticipate.features.renewal import renewal_hazard

    age = np.arange(0.0, 3000.0, 0.25)  # days; the survival underflows long before the end
    mean = np.full(len(age), 30.0)
    hazard = renewal_hazard(age, mean, np.full(len(age), cv2))
    limit = 1.0 - np.exp(-7.0 / (30.0 * cv2))
    assert np.isfinite(hazard).all() and (hazard < 1.0).all()
    assert hazard[-1] == pytest.approx(limit, rel=0.02)
    if cv2 <= 1.0:  # increasing hazard: from below, never past the limit
        assert (hazard <= limit).all() and (np.diff(hazard) >= -1e-12).all()
    past_mean = age >= 30.0  # no jump where the survival underflows (far past the mean)
    assert np.abs(np.diff(hazard[past_mean])).max() < 0.01


def test_lapse_ratio_grows_with_days_since_the_last_order_of_the_pair() -> None:
    from anticipate.features.renewal import RenewalInputs, renewal_columns

    n, pair_mean = np.array([1.0, 3.0, 3.0]), np.array([np.nan, 10.0, 10.0])
    out = renewal_columns(RenewalInputs(n, pair_mean, np.array([40.0, 5.0, 300.0]), np.full(3, 20.0),
                                        np.full(3, 0.1), 0.1))
    shrunk = (10.0 * 2 + 20.0) / 3  # the pair's mean gap shrunk to the item's by one gap
    np.testing.assert_allclose(out["ci_lapse_ratio"], [40.0 / 20.0, 5.0 / shrunk, 300.0 / shrunk])


def test_pooled_item_gaps_weight_pairs_by_their_gaps() -> None:
    from anticipate.features.reference import item_gap_sums
    from anticipate.features.renewal import pooled_gaps

    item = np.array([0, 0, 1, 1])
    n = np.array([3.0, 5.0, 1.0, 2.0])
    mean = np.array([10.0, 20.0, np.nan, 30.0])
    std = np.array([1.0, 4.0, np.nan, np.nan])
    gap_mean, cv2, overall = pooled_gaps(item_gap_sums(item, n, mean, std, 2))
    assert gap_mean[0] == pytest.approx((2 * 10 + 4 * 20) / 6) and gap_mean[1] == pytest.approx(30.0)
    assert cv2[0] == pytest.approx((1 * 0.01 + 3 * 0.04) / 4) and np.isnan(cv2[1])
    assert overall == pytest.approx(cv2[0])
