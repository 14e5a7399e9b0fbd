"""The metrics of CONTRACTS section 6, as pure functions (names exactly as logged to MLflow).

Pair metrics (``auc``, ``ap``, ``logloss``, ``brier``, ``ece``,
``precision_at_10pct``, ``lift_at_10pct``) are over candidate pairs at a cutoff;
forecast metrics (``wape``, ``bias``, ``coverage_80``) over warehouse x SKU cells.
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


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Count-weighted mean |observed rate - mean p| over ``bins`` equal-width bins of p in [0, 1]."""
    idx = np.minimum((np.clip(p, 0, 1) * bins).astype(int), bins - 1)
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
    """The pair metrics of CONTRACTS section 6 for labels ``y`` (0/1) and probabilities ``p``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = _check(y, p)
    clipped = np.clip(p, EPS, 1 - EPS)
    precision, lift = top_share(y, p)
    return {
        "auc": float(roc_auc_score(y, p)),
        "ap": float(average_precision_score(y, p)),
        "logloss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": expected_calibration_error(y, p),
        "precision_at_10pct": precision,
        "lift_at_10pct": lift,
    }


def nb_interval(mu: np.ndarray, var: np.ndarray, level: float = 0.80) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of NB(mean mu, variance var) per cell.

    Poisson when ``var == mu``; the degenerate interval [0, 0] when ``mu == 0``.
    """
    mu = np.asarray(mu, dtype=float)
    var = np.maximum(np.asarray(var, dtype=float), mu)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    lower = np.zeros_like(mu)
    upper = np.zeros_like(mu)
    pos = mu > 0
    pois = pos & (var <= mu * (1 + 1e-9))
    lower[pois] = stats.poisson.ppf(lo_q, mu[pois])
    upper[pois] = stats.poisson.ppf(hi_q, mu[pois])
    nb = pos & ~pois
    r = mu[nb] ** 2 / (var[nb] - mu[nb])
    prob = r / (r + mu[nb])
    lower[nb] = stats.nbinom.ppf(lo_q, r, prob)
    upper[nb] = stats.nbinom.ppf(hi_q, r, prob)
    return lower, upper


def forecast_metrics(mu: np.ndarray, var: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """``wape``, signed ``bias`` ((sum mu - sum actual) / sum actual), ``abs_bias`` and ``coverage_80``.

    ``coverage_80`` is the share of cells whose actual units lie inside the central
    80% interval of NB(mu, var), bounds included; ``coverage_80_error`` is its
    distance from 0.80.
    """
    mu, actual = np.asarray(mu, dtype=float), np.asarray(actual, dtype=float)
    total = actual.sum()
    if total <= 0:
        raise DataError("no actual demand in the horizon: WAPE and bias are undefined for this cutoff")
    lower, upper = nb_interval(mu, var)
    coverage = float(np.mean((actual >= lower) & (actual <= upper)))
    bias = float((mu.sum() - total) / total)
    return {
        "wape": float(np.abs(mu - actual).sum() / total),
        "bias": bias,
        "abs_bias": abs(bias),
        "coverage_80": coverage,
        "coverage_80_error": abs(coverage - 0.80),
    }


def metrics_table_markdown(rows: dict[str, dict[str, float]]) -> str:
    """A Markdown table: one row per predictor, one column per metric (4 decimals)."""
    columns = list(dict.fromkeys(k for row in rows.values() for k in row))
    lines = ["| predictor | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name, row in rows.items():
        cells = [f"{row[c]:.4f}" if c in row else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
