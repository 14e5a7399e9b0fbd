"""Model figures: calibration, ROC, precision-recall, cumulative lift and gain importance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def calibration_curve(y: np.ndarray, predictions: dict[str, np.ndarray], bins: int = 15) -> Any:
    """Observed buy rate against mean predicted P(buy) in equal-width bins, one line per predictor."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect")
    for name, p in predictions.items():
        idx = np.minimum((np.clip(p, 0, 1) * bins).astype(int), bins - 1)
        count = np.bincount(idx, minlength=bins)
        keep = count > 0
        mean_p = np.bincount(idx, weights=p, minlength=bins)[keep] / count[keep]
        rate = np.bincount(idx, weights=y, minlength=bins)[keep] / count[keep]
        ax.plot(mean_p, rate, marker="o", ms=3, label=name)
    ax.set(title="Calibration", xlabel="mean predicted P(buy)", ylabel="observed buy rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def roc_curves(y: np.ndarray, predictions: dict[str, np.ndarray], auc: dict[str, float] | None = None) -> Any:
    """ROC curves with their AUC in the legend (``auc`` per name when already computed)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    for name, p in predictions.items():
        fpr, tpr, _ = roc_curve(y, p)
        area = auc[name] if auc and name in auc else roc_auc_score(y, p)
        ax.plot(fpr, tpr, label=f"{name} (auc {area:.3f})")
    ax.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pr_curves(y: np.ndarray, predictions: dict[str, np.ndarray], ap: dict[str, float] | None = None) -> Any:
    """Precision-recall curves with average precision in the legend (``ap`` per name if computed)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, p in predictions.items():
        precision, recall, _ = precision_recall_curve(y, p)
        score = ap[name] if ap and name in ap else average_precision_score(y, p)
        ax.plot(recall, precision, label=f"{name} (ap {score:.3f})")
    ax.axhline(float(np.mean(y)), color="grey", ls="--", lw=1, label="base rate")
    ax.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def lift_chart(y: np.ndarray, predictions: dict[str, np.ndarray], points: int = 20) -> Any:
    """Cumulative lift: buy rate among the top share of pairs over the overall rate."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    base = float(np.mean(y))
    shares = np.linspace(1 / points, 1, points)
    for name, p in predictions.items():
        ordered = np.asarray(y)[np.argsort(-np.asarray(p), kind="stable")]
        lift = [ordered[: max(1, int(np.ceil(s * len(ordered))))].mean() / base for s in shares]
        ax.plot(shares, lift, marker="o", ms=3, label=name)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set(title="Cumulative lift", xlabel="share of pairs targeted (by score)", ylabel="lift")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gain_importance(importance: pd.Series, top: int = 25) -> Any:
    """Horizontal bars of the ``top`` features by total split gain."""
    plt = _plt()
    shown = importance.sort_values(ascending=False).head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * len(shown) + 1.2))
    ax.barh(shown.index.astype(str), shown.to_numpy())
    ax.set(title="Gain importance", xlabel="total split gain")
    fig.tight_layout()
    return fig
