"""Point-in-time features: changing or deleting any order line at or after the cutoff leaves
every feature at the cutoff bit-for-bit unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.features.build import build_features
from anticipate.storage.files import load_dataset
from tests.strategies import cutoffs, order_logs

ROOT = Path(__file__).resolve().parents[1]


def _mutate_future(orders: pd.DataFrame, cutoff: pd.Timestamp, seed: int, how: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    future = orders["order_ts"] >= cutoff
    out = orders.copy()
    idx = np.flatnonzero(future.to_numpy())
    if how == "delete" and len(idx):
        return out.drop(index=out.index[rng.choice(idx, size=max(1, len(idx) // 2), replace=False)])
    if how == "change" and len(idx):
        out.loc[out.index[idx], "quantity"] = rng.integers(1, 50, len(idx))
        out.loc[out.index[idx], "unit_price"] = rng.uniform(0, 500, len(idx))
        out.loc[out.index[idx], "region"] = "R_elsewhere"
        out.loc[out.index[idx], "sku"] = "S_new"
        out.loc[out.index[idx], "customer_id"] = "C_new"
        return out
    extra = orders.head(3).assign(order_ts=cutoff + pd.Timedelta(hours=1), customer_id="C0", order_id="late")
    return pd.concat([out, extra], ignore_index=True)


@settings(max_examples=80, deadline=None)
@given(order_logs(), cutoffs, st.integers(0, 10_000), st.sampled_from(["delete", "change", "add"]))
def test_future_lines_never_change_features(
    orders: pd.DataFrame, cutoff: pd.Timestamp, seed: int, how: str
) -> None:
    before = build_features(orders, cutoff, lookback_days=90)
    after = build_features(_mutate_future(orders, cutoff, seed, how), cutoff, lookback_days=90)
    pd.testing.assert_frame_equal(before, after, check_exact=True)


def test_sample_features_ignore_everything_after_the_cutoff() -> None:
    orders = load_dataset(ROOT / "data" / "sample").orders
    cutoff = pd.Timestamp("2025-09-01")
    before = build_features(orders, cutoff, lookback_days=365)
    truncated = orders[orders["order_ts"] < cutoff]
    pd.testing.assert_frame_equal(
        before, build_features(truncated, cutoff, lookback_days=365), check_exact=True
    )
    shuffled = _mutate_future(orders, cutoff, 1, "change")
    pd.testing.assert_frame_equal(
        before, build_features(shuffled, cutoff, lookback_days=365), check_exact=True
    )
