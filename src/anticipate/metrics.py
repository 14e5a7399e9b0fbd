"""The metrics of docs/metrics.md#metric-names, as pure functions (names exactly as logged to MLflow).

Pair metrics (``auc``, ``ap``, ``logloss``, ``brier``, ``ece``,
``precision_at_10pct``, ``lift_at_10pct``) are over candidate pairs at a cutoff;
forecast metrics (``wape``, ``bias``, ``coverage_80``) over warehouse x SKU cells.
``coverage_80`` is the PIT coverage of counts (Czado, Gneiting & Held 2009), which is
0.80 in expectation for a correct forecast even when cells hold 0 or 1 unit; the
closed-interval share is kept as ``coverage_80_closed`` (see :func:`forecast_metrics`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from anticipate.errors import DataError

EPS = 1e-15
ECE_BINS = 15

#: Whether a larger value is better, by metric name (the last dotted part of a logged name).
HIGHER_IS_BETTER: dict[str, bool] = {
    "auc": True,
    "ap": True,
    "logloss": False,
    "brier": False,
    "ece": False,
    "precision_at_10pct": True,
    "lift_at_10pct": True,
    "wape": False,
    "abs_bias": False,
    "coverage_80_error": False,
    "value_captured": True,
    "fill_rate_local": True,
    "value": True,
    "objective": True,
    "gap": False,
}


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise DataError(f"labels and probabilities must be 1-D of one length, got {y.shape} and {p.shape}")
    if len(y) == 0:
        raise DataError("no candidate pairs to evaluate; pick a cutoff with orders in the lookback window")
    if np.unique(y).size < 2:
        raise DataError(
            "every candidate pair has the same label (single class), so AUC and lift are "
            "undefined; evaluate at another cutoff or a longer horizon"
        )
    if not np.isfinite(p).all():
        raise DataError("the predicted probabilities contain NaN or infinite values")
    return y, p


def calibration_bin(p: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """The equal-width bin (``0..bins - 1``) of each probability ``p`` (clipped to [0, 1]; 1 in the last)."""
    return np.minimum((np.clip(p, 0, 1) * bins).astype(int), bins - 1)


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary log loss (nats) of labels ``y`` (0/1) under ``p`` clipped to [EPS, 1 - EPS]."""
    clipped = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Count-weighted mean |observed rate - mean p| over ``bins`` equal-width bins of p in [0, 1]."""
    idx = calibration_bin(p, bins)
    count = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, weights=y, minlength=bins) - np.bincount(idx, weights=p, minlength=bins))
    return float(gap.sum() / count.sum())


def top_share(y: np.ndarray, p: np.ndarray, share: float = 0.10) -> tuple[float, float]:
    """Precision and lift among the top ``share`` of pairs by p (ties broken by position, stable)."""
    k = max(1, int(np.ceil(share * len(p))))
    top = np.argsort(-p, kind="stable")[:k]
    precision = float(y[top].mean())
    return precision, precision / float(y.mean())


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The pair metrics of docs/metrics.md#metric-names for labels ``y`` (0/1) and probabilities ``p``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = _check(y, p)
    precision, lift = top_share(y, p)
    return {
        "auc": float(roc_auc_score(y, p)),
        "ap": float(average_precision_score(y, p)),
        "logloss": log_loss(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": expected_calibration_error(y, p),
        "precision_at_10pct": precision,
        "lift_at_10pct": lift,
    }


def _nb_params(mu: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Masks (Poisson cells, NB cells) and the NB ``r, p`` of the NB cells (``mu > 0`` only)."""
    pos = mu > 0
    pois = pos & (var <= mu * (1 + 1e-9))
    nb = pos & ~pois
    r = mu[nb] ** 2 / (var[nb] - mu[nb])
    return pois, nb, r, r / (r + mu[nb])


def nb_interval(mu: np.ndarray, var: np.ndarray, level: float = 0.80) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval ``[q_lo, q_hi]`` of NB(mean mu, variance var) per cell (units).

    ``q_lo`` and ``q_hi`` are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles
    (the smallest ``k`` with ``F(k) >= q``). Poisson when ``var == mu``; the degenerate
    interval [0, 0] when ``mu == 0``.
    """
    mu = np.asarray(mu, dtype=float)
    var = np.maximum(np.asarray(var, dtype=float), mu)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    lower = np.zeros_like(mu)
    upper = np.zeros_like(mu)
    pois, nb, r, prob = _nb_params(mu, var)
    lower[pois] = stats.poisson.ppf(lo_q, mu[pois])
    upper[pois] = stats.poisson.ppf(hi_q, mu[pois])
    lower[nb] = stats.nbinom.ppf(lo_q, r, prob)
    upper[nb] = stats.nbinom.ppf(hi_q, r, prob)
    return lower, upper


def nb_cdf(k: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``F(k) = P(D <= k)`` for D ~ NB(mean mu, variance var) per cell (Poisson when var == mu).

    ``k`` are integer unit counts (``F = 0`` for ``k < 0``); ``mu == 0`` is a point mass at 0.
    """
    k = np.asarray(k, dtype=float)
    mu = np.asarray(mu, dtype=float)
    var = np.maximum(np.asarray(var, dtype=float), mu)
    out = np.where(k >= 0, 1.0, 0.0)
    pois, nb, r, prob = _nb_params(mu, var)
    out[pois] = stats.poisson.cdf(k[pois], mu[pois])
    out[nb] = stats.nbinom.cdf(k[nb], r, prob)
    return out


def pit_interval_coverage(
    mu: np.ndarray, var: np.ndarray, actual: np.ndarray, level: float = 0.80
) -> np.ndarray:
    """Per cell, the probability that ``actual`` lies in the central ``level`` interval of NB(mu, var).

    The non-randomised PIT of a count (Czado, Gneiting & Held 2009, *Biometrics* 65):
    the PIT of ``y`` is uniform on ``[F(y - 1), F(y)]``, so ``y`` is inside the central
    interval with probability equal to the share of that PIT interval lying in
    ``[(1 - level) / 2, (1 + level) / 2]``. When the forecast is right the PIT is
    exactly uniform, so the mean over cells is ``level`` in expectation however small
    the means are (the closed quantile interval of a count distribution with mean
    below 1 already holds 0 and 1, and covers far more than ``level`` even when right).
    A ``y`` the forecast gives probability 0 (``F(y - 1) = F(y)``) is inside when that
    point lies in the band.
    """
    actual = np.asarray(actual, dtype=float)
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    upper = nb_cdf(actual, mu, var)
    lower = nb_cdf(actual - 1, mu, var)
    width = upper - lower
    overlap = np.clip(np.minimum(upper, hi_q) - np.maximum(lower, lo_q), 0.0, None)
    point = ((lower >= lo_q) & (lower <= hi_q)).astype(float)
    return np.where(width > 0, overlap / np.where(width > 0, width, 1.0), point)


def closed_interval_coverage(
    mu: np.ndarray, var: np.ndarray, actual: np.ndarray, level: float = 0.80
) -> np.ndarray:
    """Per cell, 1.0 when ``actual`` lies in the closed quantile interval of :func:`nb_interval`, else 0.0."""
    lower, upper = nb_interval(mu, var, level=level)
    actual = np.asarray(actual, dtype=float)
    return ((actual >= lower) & (actual <= upper)).astype(float)


def forecast_metrics(mu: np.ndarray, var: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Forecast metrics over warehouse x SKU cells (``mu``, ``var``, ``actual`` in units).

    * ``wape`` = sum |mu - actual| / sum actual;
    * ``bias`` = (sum mu - sum actual) / sum actual (signed), ``abs_bias`` its size;
    * ``coverage_80``: the mean over cells of the probability that the actual units lie
      in the central 80% interval of NB(mu, var), by the PIT of counts
      (:func:`pit_interval_coverage`): 0.80 in expectation for a correct forecast,
      above it for one too wide, below for one too narrow; ``coverage_80_error`` =
      |coverage_80 - 0.80|;
    * ``coverage_80_closed``: the share of cells whose actual lies in the closed
      interval [q10, q90] of NB(mu, var), bounds included. For counts this is at least
      0.80 for a correct forecast and near 0.94 when most means are below 1, so it does
      not measure calibration; it is kept for comparison.
    """
    mu, actual = np.asarray(mu, dtype=float), np.asarray(actual, dtype=float)
    total = actual.sum()
    if total <= 0:
        raise DataError("no actual demand in the horizon: WAPE and bias are undefined for this cutoff")
    coverage = float(np.mean(pit_interval_coverage(mu, var, actual)))
    bias = float((mu.sum() - total) / total)
    return {
        "wape": float(np.abs(mu - actual).sum() / total),
        "bias": bias,
        "abs_bias": abs(bias),
        "coverage_80": coverage,
        "coverage_80_error": abs(coverage - 0.80),
        "coverage_80_closed": float(np.mean(closed_interval_coverage(mu, var, actual))),
    }


def metrics_table_markdown(rows: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per predictor, one column per metric (4 decimals)."""
    columns = list(dict.fromkeys(k for row in rows.values() for k in row))
    lines = ["| predictor | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, row in rows.items():
        cells = [f"{row[c]:.4f}" if c in row else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
