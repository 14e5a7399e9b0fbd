"""Pair-level baselines: a Poisson pair rate and a logistic on pair recency, frequency and gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from anticipate.models.baselines import PairLogisticBaseline, PairRateBaseline


def test_pair_rate_is_a_poisson_rate_over_the_observed_window() -> None:
    frame = pd.DataFrame({"ci_orders_365d": [73.0, 3.0, 0.0, np.nan],
                          "cust_tenure_days": [900.0, 30.0, 400.0, 400.0]})
    p = PairRateBaseline(horizon_days=7.0).fit(frame).predict_proba(frame)
    # 73 orders in 365 days = 0.2 a day; 3 in a 30-day tenure = 0.1 a day; none = 0.
    assert p == pytest.approx([1 - np.exp(-1.4), 1 - np.exp(-0.7), 0.0, 0.0])


def test_pair_rate_refuses_a_frame_without_its_columns() -> None:
    with pytest.raises(ValueError, match="cust_tenure_days"):
        PairRateBaseline().fit(pd.DataFrame({"ci_orders_365d": [1.0]}))


def _reorder_world(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Pairs bought every ``gap`` days on average; a purchase is due when recency nears the gap."""
    rng = np.random.default_rng(seed)
    gap = rng.uniform(5, 60, n)
    total = rng.integers(1, 30, n).astype(float)
    recency = rng.uniform(0, 120, n)
    hazard = np.where(total > 1, np.exp(-np.abs(np.log((recency + 1) / gap))) * 7 / gap, 0.01)
    y = (rng.random(n) < np.clip(hazard, 0, 1)).astype(int)
    frame = pd.DataFrame({"ci_days_since_last": recency, "ci_orders_365d": np.minimum(total, 365 / gap),
                          "ci_orders_total": total, "ci_gap_mean_days": np.where(total > 1, gap, np.nan)})
    return frame, y


def test_pair_logistic_learns_the_reorder_signal_out_of_sample() -> None:
    train, y_train = _reorder_world(20_000, seed=1)
    test, y_test = _reorder_world(20_000, seed=2)
    model = PairLogisticBaseline(random_state=0).fit(train, y_train)
    p = model.predict_proba(test)
    assert p.shape == (20_000,)
    auc = roc_auc_score(y_test, p)
    recency_only = roc_auc_score(y_test, -test["ci_days_since_last"].to_numpy())
    frequency_only = roc_auc_score(y_test, test["ci_orders_365d"].to_numpy())
    assert auc > max(recency_only, frequency_only) + 0.02
    once = test["ci_gap_mean_days"].isna().to_numpy()
    assert p[once].mean() < p[~once].mean()
