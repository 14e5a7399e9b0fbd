"""Contract metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anticipate.errors import DataError
from anticipate.metrics import (
    HIGHER_IS_BETTER,
    classification_metrics,
    expected_calibration_error,
    forecast_metrics,
    metrics_table_markdown,
    nb_interval,
)


def test_hand_example() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.4, 0.1])
    m = classification_metrics(y, p)
    assert m["auc"] == pytest.approx(0.75)  # 3 of 4 positive-negative pairs ordered right
    assert m["brier"] == pytest.approx((0.01 + 0.64 + 0.36 + 0.01) / 4)
    expected_ll = -(math.log(0.9) + math.log(0.2) + math.log(0.4) + math.log(0.9)) / 4
    assert m["logloss"] == pytest.approx(expected_ll)
    assert m["precision_at_10pct"] == 1.0  # top ceil(0.4) = 1 pair is a buyer
    assert m["lift_at_10pct"] == pytest.approx(2.0)
    assert m["ap"] == pytest.approx((1 + 2 / 3) / 2)


def test_logloss_clips_certain_mistakes() -> None:
    m = classification_metrics(np.array([1, 0]), np.array([0.0, 0.0]))
    assert m["logloss"] == pytest.approx(-math.log(1e-15) / 2)


def test_ece_uses_15_count_weighted_bins() -> None:
    # bin [0.2, 0.2667): p 0.25 x2, one buyer -> |1 - 0.5| ; bin [0.8667, 0.9333): p 0.9, buyer -> 0.1
    y = np.array([1, 0, 1])
    p = np.array([0.25, 0.25, 0.9])
    assert expected_calibration_error(y, p) == pytest.approx((0.5 + 0.1) / 3)


def test_single_class_is_a_data_error() -> None:
    with pytest.raises(DataError, match="single class"):
        classification_metrics(np.zeros(5), np.full(5, 0.1))


def test_forecast_metrics_hand_example() -> None:
    mu = np.array([2.0, 0.0, 5.0])
    actual = np.array([3.0, 0.0, 5.0])
    m = forecast_metrics(mu, mu, actual)
    assert m["wape"] == pytest.approx(1 / 8)
    assert m["bias"] == pytest.approx(-1 / 8)
    assert m["coverage_80"] == pytest.approx(1.0)  # 3 in Poisson(2)'s [0, 4]; 0 in [0, 0]; 5 in [2, 8]


def test_nb_interval_matches_simulation() -> None:
    rng = np.random.default_rng(0)
    mu, var = 4.0, 12.0
    r = mu**2 / (var - mu)
    draws = rng.negative_binomial(r, r / (r + mu), 200_000)
    lo, hi = nb_interval(np.array([mu]), np.array([var]))
    inside = np.mean((draws >= lo[0]) & (draws <= hi[0]))
    assert inside >= 0.80  # discrete: at least the nominal 80%
    assert np.mean(draws <= hi[0] - 1) < 0.90 <= np.mean(draws <= hi[0]) + 0.002  # upper = the 90% quantile
    assert lo[0] == 0.0  # P(D = 0) > 10% for this NB, so the 10% quantile is 0


def test_directions_and_table() -> None:
    assert HIGHER_IS_BETTER["auc"] and not HIGHER_IS_BETTER["logloss"]
    table = metrics_table_markdown({"model": {"auc": 0.9}, "oracle": {"auc": 0.95}})
    assert "| model | 0.9000 |" in table and table.count("\n") == 4
