"""Scoring a next-purchase model at a labelled cutoff: baselines, the truth, metrics, curves.

Metric names: the model's are bare (``auc``), the baselines' are prefixed
``baseline_rf.``, ``baseline_bgnbd.`` (customer level), ``baseline_pair_rate.`` and
``baseline_pair_logreg.`` (pair level), the generator's true probabilities
``oracle.``; ``oracle_gap.auc = oracle.auc - auc``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anticipate.features.spec import FeatureSpec
from anticipate.storage.files import DataSet

#: The metrics of the printed table, in order.
HEADLINE = ("auc", "ap", "logloss", "brier", "ece", "precision_at_10pct", "lift_at_10pct")


def baseline_predictions(
    ds: DataSet, frame: pd.DataFrame, cutoff: pd.Timestamp, spec: FeatureSpec, *, seed: int
) -> dict[str, np.ndarray]:
    """P(buy) per pair from the customer-level and the pair-level baselines.

    The two logistic baselines (customer recency/frequency, pair recency/frequency/gap)
    are fitted on the previous window (features at ``cutoff - H``, labels in
    ``[cutoff - H, cutoff)``), so they see no label at or after ``cutoff``; BG/NBD is
    fitted on the customers' (x, t_x, T) at the cutoff; the pair rate fits nothing.
    """
    from anticipate import dates
    from anticipate.features.build import build_training_frame
    from anticipate.models.baselines import (
        BGNBDBaseline,
        PairLogisticBaseline,
        PairRateBaseline,
        RecencyFrequencyBaseline,
    )
    from anticipate.models.training import check_labels

    h = spec.horizon
    spec, frame = _with_baseline_families(ds, frame, cutoff, spec)
    start = cutoff - pd.Timedelta(days=h)
    prev = build_training_frame(ds.orders, start, spec, products=ds.products)
    check_labels(prev, f"window the baselines are fitted on (features at {dates.fmt(start)}, labels to "
                 f"{dates.fmt(cutoff)})", fix="evaluate at a later --cutoff, with more orders before it")
    y_prev = prev["y"].to_numpy()
    on_previous_window = {"baseline_rf": RecencyFrequencyBaseline(random_state=seed),
                          "baseline_pair_logreg": PairLogisticBaseline(random_state=seed)}
    on_cutoff = {"baseline_bgnbd": BGNBDBaseline(horizon_days=float(h)),
                 "baseline_pair_rate": PairRateBaseline(horizon_days=float(h))}
    out = {name: model.fit(prev, y_prev).predict_proba(frame) for name, model in on_previous_window.items()}
    out.update({name: model.fit(frame).predict_proba(frame) for name, model in on_cutoff.items()})
    return {name: out[name] for name in ("baseline_rf", "baseline_bgnbd", "baseline_pair_rate",
                                         "baseline_pair_logreg")}


#: The feature families the baselines read (customer recency/frequency, BG/NBD's x, t_x, T; the pair's).
BASELINE_FAMILIES = ("customer", "customer_item")


def _with_baseline_families(
    ds: DataSet, frame: pd.DataFrame, cutoff: pd.Timestamp, spec: FeatureSpec
) -> tuple[FeatureSpec, pd.DataFrame]:
    """``spec`` and ``frame`` with :data:`BASELINE_FAMILIES` added when the model was trained without
    them (its frame lacked the columns the baselines read: evaluate crashed on a KeyError). The
    columns are joined by pair, so ``frame``'s rows and their order stay the model's."""
    from dataclasses import replace

    from anticipate.features.build import build_training_frame

    missing = [f for f in BASELINE_FAMILIES if f not in spec.families]
    if not missing:
        return spec, frame
    full = replace(spec, families=(*spec.families, *missing))
    extra = build_training_frame(ds.orders, cutoff, full, products=ds.products)
    added = [c for c in extra.columns if c not in frame.columns]
    keys = ["customer_id", "item"]
    return full, frame.merge(extra[keys + added], on=keys, how="left", validate="one_to_one")


def oracle_predictions(
    ds: DataSet, frame: pd.DataFrame, cutoff: pd.Timestamp, spec: FeatureSpec
) -> np.ndarray | None:
    """The generator's true P(buy) per pair, or None when the data is not synthetic."""
    from anticipate.sample import latent_of, true_probabilities

    latent = latent_of(ds.path, ds.orders)
    if latent is None:
        return None
    truth = true_probabilities(
        latent,
        ds.orders,
        cutoff,
        horizon_days=spec.horizon,
        lookback_days=spec.lookback_days,
        item_level=spec.item_level,
        products=ds.products,
    )
    merged = frame[["customer_id", "item"]].merge(truth, on=["customer_id", "item"], how="left")
    return merged["p_true"].to_numpy(dtype=float)


def all_metrics(y: np.ndarray, predictions: dict[str, np.ndarray]) -> dict[str, float]:
    """Contract metrics per predictor, prefixed by name (the model's unprefixed)."""
    from anticipate.metrics import classification_metrics

    out: dict[str, float] = {}
    for name, p in predictions.items():
        prefix = "" if name == "model" else f"{name}."
        out.update({f"{prefix}{k}": v for k, v in classification_metrics(y, p).items()})
    if "oracle" in predictions:
        out["oracle_gap.auc"] = out["oracle.auc"] - out["auc"]
    return out


def metrics_table(metrics: dict[str, float], names: list[str]) -> str:
    """A Markdown table: one row per predictor, one column per headline metric."""
    from anticipate.metrics import metrics_table_markdown

    rows = {}
    for name in names:
        prefix = "" if name == "model" else f"{name}."
        rows[name] = {k: metrics[f"{prefix}{k}"] for k in HEADLINE if f"{prefix}{k}" in metrics}
    return metrics_table_markdown(rows)


def curve_points(y: np.ndarray, p: np.ndarray, *, bins: int = 15, points: int = 50) -> dict[str, Any]:
    """Calibration (15 equal-width bins) and cumulative-gain points, for ``curves.json``.

    ``calibration``: mean predicted p and observed rate of each non-empty bin;
    ``gain``: share of buyers captured when targeting the top share of pairs by p.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    nonempty = count > 0
    p_mean = np.bincount(idx, weights=p, minlength=bins)[nonempty] / count[nonempty]
    rate = np.bincount(idx, weights=y, minlength=bins)[nonempty] / count[nonempty]
    order = np.argsort(-p, kind="stable")
    captured = np.concatenate([[0.0], np.cumsum(y[order]) / max(y.sum(), 1.0)])
    at = np.linspace(0, len(p), points + 1).astype(int)
    return {
        "calibration": {"p_mean": p_mean.tolist(), "rate": rate.tolist(), "count": count[nonempty].tolist()},
        "gain": {"share_targeted": (at / max(len(p), 1)).tolist(), "share_captured": captured[at].tolist()},
    }
