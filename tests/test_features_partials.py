"""The feature engine as partials + join: any customer partition gives the whole table; the frozen spec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.features import partials as engine
from anticipate.features.build import build_features
from anticipate.features.join import join
from anticipate.features.spec import ALL_FAMILIES, FeatureSpec, feature_columns, resolve_spec
from tests.strategies import cutoffs, order_logs

SPEC = FeatureSpec(lookback_days=60)


def _by_customer(orders: pd.DataFrame, n: int, seed: int) -> list[pd.DataFrame]:
    """``n`` frames, each customer's lines all in one of them (a random assignment)."""
    customers = sorted(orders["customer_id"].unique())
    owner = dict(zip(customers, np.random.default_rng(seed).integers(0, n, len(customers)), strict=True))
    part = orders["customer_id"].map(owner).to_numpy()
    return [orders[part == k].reset_index(drop=True) for k in range(n)]


def _partitioned(orders: pd.DataFrame, cutoff: pd.Timestamp, n: int, seed: int) -> pd.DataFrame:
    prepared = [engine.prepare(p, cutoff, SPEC) for p in _by_customer(orders, n, seed)]
    totals = engine.combine([engine.partials_of(p) for p in prepared])
    frames = [join(p, totals, cutoff, SPEC) for p in prepared]
    frames = [f for f in frames if len(f)] or frames[:1]
    both = pd.concat(frames, ignore_index=True)
    return both.sort_values(["customer_id", "item"], kind="stable").reset_index(drop=True)


@settings(max_examples=60, deadline=None)
@given(order_logs(), cutoffs, st.integers(2, 4), st.integers(0, 1000))
def test_partitions_joined_on_their_summed_partials_equal_the_whole_table(
    orders: pd.DataFrame, cutoff: pd.Timestamp, n: int, seed: int
) -> None:
    whole = build_features(orders, cutoff, SPEC)
    # only the renewal gap sums are non-integer, so they may differ in the last bits
    pd.testing.assert_frame_equal(_partitioned(orders, cutoff, n, seed), whole, check_exact=False, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(order_logs(), cutoffs, st.integers(2, 4), st.integers(0, 1000))
def test_combined_partials_are_the_sums_of_the_whole_history(
    orders: pd.DataFrame, cutoff: pd.Timestamp, n: int, seed: int
) -> None:
    whole = engine.prepare(orders, cutoff, SPEC).partials
    parts = [engine.prepare(p, cutoff, SPEC).partials for p in _by_customer(orders, n, seed)]
    total = engine.combine(parts)
    assert list(total.items) == list(whole.items) and list(total.regions) == list(whole.regions)
    np.testing.assert_array_equal(total.item_units, whole.item_units)  # integer units and buyer counts
    np.testing.assert_allclose(total.item_gaps, whole.item_gaps, rtol=1e-12)
    keys = total.ri_region * len(total.items) + total.ri_item
    assert list(keys) == list(whole.ri_region * len(whole.items) + whole.ri_item)
    np.testing.assert_array_equal(total.ri_units, whole.ri_units)


def test_one_partial_combines_to_itself_and_an_empty_history_to_the_empty_table() -> None:
    orders = pd.DataFrame(
        {
            "order_id": ["a", "b"],
            "customer_id": ["x", "y"],
            "order_ts": pd.to_datetime(["2025-01-01", "2025-01-03"]),
            "sku": ["s1", "s1"],
            "quantity": [1, 2],
            "region": ["r", "r"],
        }
    )
    prepared = engine.prepare(orders, pd.Timestamp("2025-01-05"), SPEC)
    assert engine.combine([prepared.partials]) is prepared.partials
    assert prepared.n_candidates == 2
    first = pd.Timestamp("2025-01-01")
    empty = engine.prepare(orders, first, SPEC)  # no line before the cutoff
    table = join(empty, engine.combine([empty.partials, prepared.partials]), first, SPEC)
    assert table.empty and list(table.columns) == ["customer_id", "item", "region", *feature_columns()]


def test_spec_round_trips_through_model_meta_and_reads_old_meta() -> None:
    spec = FeatureSpec(90, horizon_days=14, item_level="category", families=("customer", "item"))
    meta = {**spec.to_meta(), "until": "2025-01-01"}
    assert FeatureSpec.from_meta(meta) == spec
    assert meta["horizon_days"] == 14 and meta["families"] == ["customer", "item"]
    old = {"item_level": "sku", "horizon_days": 7, "lookback_days": 365, "families": list(ALL_FAMILIES)}
    assert FeatureSpec.from_meta(old) == FeatureSpec(365, 7, "sku", ALL_FAMILIES)
    assert spec.columns == feature_columns(["customer", "item"])


def test_spec_rejects_unknown_families_and_mixed_forms() -> None:
    with pytest.raises(ValueError, match="unknown feature families"):
        FeatureSpec(lookback_days=30, families=("customer", "weather"))
    with pytest.raises(ValueError, match="no horizon_days"):
        _ = FeatureSpec(lookback_days=30).horizon
    with pytest.raises(TypeError, match="not both"):
        resolve_spec(SPEC, {"lookback_days": 30})
    assert resolve_spec(None, {"lookback_days": 30, "item_level": "sku"}) == FeatureSpec(30)


def test_keyword_form_equals_the_spec_form() -> None:
    orders = pd.DataFrame(
        {
            "order_id": ["a", "b", "c"],
            "customer_id": ["x", "x", "y"],
            "order_ts": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-04"]),
            "sku": ["s1", "s2", "s1"],
            "quantity": [1, 2, 3],
            "region": ["r", "q", "r"],
        }
    )
    cutoff = pd.Timestamp("2025-01-05")
    spec = FeatureSpec(lookback_days=30, families=("customer_item", "region_item"))
    pd.testing.assert_frame_equal(
        build_features(orders, cutoff, spec),
        build_features(orders, cutoff, lookback_days=30, families=["customer_item", "region_item"]),
    )


@settings(max_examples=40, deadline=None)
@given(order_logs(), cutoffs, st.integers(2, 3), st.integers(0, 1000))
def test_region_item_units_read_densely_equal_those_searched_among_the_sorted_keys(
    orders: pd.DataFrame, cutoff: pd.Timestamp, n: int, seed: int
) -> None:
    from anticipate.features.join import _ri_at

    prepared = [engine.prepare(p, cutoff, SPEC) for p in _by_customer(orders, n, seed)]
    totals = engine.combine([engine.partials_of(p) for p in prepared])
    for part in prepared:  # a partition's labels are a subset of the totals': its own codes, re-indexed
        cells = len(part.regions) * len(part.items)
        keys = np.concatenate([np.arange(cells), np.arange(cells)[::-1]]).astype(np.int64)  # each cell twice
        dense, searched = (_ri_at(part, totals, keys, dense=d) for d in (True, False))
        np.testing.assert_array_equal(dense, searched)
        if cells:
            assert _ri_at(part, totals, keys).tolist() == searched.tolist()
