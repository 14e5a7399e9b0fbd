"""Contract metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.errors import DataError
from anticipate.metrics import (
    HIGHER_IS_BETTER,
    classification_metrics,
    closed_interval_coverage,
    expected_calibration_error,
    forecast_metrics,
    metrics_table_markdown,
    nb_cdf,
    nb_interval,
    pit_interval_coverage,
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
    assert m["coverage_80_closed"] == pytest.approx(1.0)  # 3 in Poisson(2)'s [0, 4]; 0 in [0, 0]; 5 in [2, 8]
    # PIT: Poisson(2) F(2) = 5 e^-2, F(3) = 19/3 e^-2, both inside [0.1, 0.9] -> 1; mu = 0, y = 0: PIT
    # uniform on [0, 1] -> 0.8; Poisson(5) F(4) = 0.4405, F(5) = 0.6160 -> 1
    assert m["coverage_80"] == pytest.approx((1 + 0.8 + 1) / 3)
    assert m["coverage_80_error"] == pytest.approx(abs((1 + 0.8 + 1) / 3 - 0.8))


def test_pit_coverage_hand_computed_poisson_half() -> None:
    # Poisson(0.5): F(0) = e^-0.5 = 0.60653, F(1) = 1.5 e^-0.5 = 0.90980, F(2) = 0.98561
    f0, f1 = math.exp(-0.5), 1.5 * math.exp(-0.5)
    mu = np.full(4, 0.5)
    got = pit_interval_coverage(mu, mu, np.array([0, 1, 2, 7]))
    assert got == pytest.approx([(f0 - 0.1) / f0, (0.9 - f0) / (f1 - f0), 0.0, 0.0])
    # the closed interval [q10, q90] = [0, 1] counts 0 and 1 fully inside
    assert closed_interval_coverage(mu, mu, np.array([0, 1, 2, 7])).tolist() == [1.0, 1.0, 0.0, 0.0]
    # expectation under the forecast itself: P(0) 0.8351 + P(1) 0.9677 = exactly 0.80
    p0, p1 = f0, f1 - f0
    assert p0 * got[0] + p1 * got[1] == pytest.approx(0.80, abs=1e-12)


def test_pit_coverage_point_mass_and_impossible_values() -> None:
    zero = np.zeros(2)
    # mu = 0 is a point mass at 0: y = 0 has PIT uniform on [0, 1] -> 0.8; y = 3 has PIT 1 -> outside
    assert pit_interval_coverage(zero, zero, np.array([0, 3])) == pytest.approx([0.8, 0.0])
    assert nb_cdf(np.array([-1, 0]), zero, zero).tolist() == [0.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 20.0), st.floats(1.0, 4.0), st.sampled_from([0.5, 0.8, 0.9]))
def test_pit_coverage_is_exactly_the_level_in_expectation(mu: float, ratio: float, level: float) -> None:
    k = np.arange(0, 2000)
    mus, vs = np.full(k.size, mu), np.full(k.size, mu * ratio)
    pmf = np.diff(np.concatenate([[0.0], nb_cdf(k, mus, vs)]))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    expected = float((pmf * pit_interval_coverage(mus, vs, k, level=level)).sum())
    assert expected == pytest.approx(level, abs=1e-6)


def test_draws_from_the_true_distribution_score_080_pit_but_not_closed() -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    mu = rng.gamma(0.7, 0.8, n)  # mostly below one unit, as weekly warehouse x SKU cells are
    var = mu * rng.choice([1.0, 1.5, 3.0], n)
    r = mu**2 / np.maximum(var - mu, 1e-12)
    y = np.where(var > mu, rng.negative_binomial(np.maximum(r, 1e-12), r / (r + mu)), rng.poisson(mu))
    m = forecast_metrics(mu, var, y)
    assert m["coverage_80"] == pytest.approx(0.80, abs=0.005)
    assert m["coverage_80_closed"] > 0.9  # the closed interval cannot see that this forecast is right
    overdispersed = rng.negative_binomial(0.5, 0.5 / (0.5 + mu))  # mean mu, variance mu + 2 mu^2
    too_narrow = forecast_metrics(mu, mu, overdispersed)  # 0.745: Poisson intervals are too narrow
    too_wide = forecast_metrics(mu, 4 * mu, rng.poisson(mu))  # 0.821
    assert too_narrow["coverage_80"] < 0.76 and too_wide["coverage_80"] > 0.81


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
