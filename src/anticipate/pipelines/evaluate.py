"""``evaluate``: the model's metrics at a labelled cutoff beside baselines and, on synthetic data, the truth.

Metric names follow CONTRACTS section 6: the model's are bare (``auc``), the
baselines' are prefixed ``baseline_rf.`` and ``baseline_bgnbd.``, the generator's
true probabilities ``oracle.``; ``oracle_gap.auc = oracle.auc - auc``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.io import DataSet
from anticipate.models import honesty
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import load_data, open_tracker, resolve_cutoff
from anticipate.pipelines.model import features_for, load_registered
from anticipate.progress import stages

HEADLINE = ("auc", "ap", "logloss", "brier", "ece", "precision_at_10pct", "lift_at_10pct")


def baseline_predictions(
    ds: DataSet, frame: pd.DataFrame, cutoff: pd.Timestamp, meta: dict[str, Any], *, seed: int
) -> dict[str, np.ndarray]:
    """P(buy) per pair from the recency/frequency logistic and from BG/NBD.

    The logistic baseline is fitted on the previous window (features at
    ``cutoff - H``, labels in ``[cutoff - H, cutoff)``), so it sees no label at or
    after ``cutoff``; BG/NBD is fitted on the customers' (x, t_x, T) at the cutoff.
    """
    from anticipate.features.build import build_training_frame
    from anticipate.models.baselines import BGNBDBaseline, RecencyFrequencyBaseline

    prev = build_training_frame(
        ds.orders,
        cutoff - pd.Timedelta(days=int(meta["horizon_days"])),
        horizon_days=int(meta["horizon_days"]),
        lookback_days=int(meta["lookback_days"]),
        item_level=meta["item_level"],
        products=ds.products,
        families=meta["families"],
    )
    rf = RecencyFrequencyBaseline(random_state=seed).fit(prev, prev["y"].to_numpy())
    bgnbd = BGNBDBaseline(horizon_days=float(meta["horizon_days"])).fit(frame)
    return {"baseline_rf": rf.predict_proba(frame), "baseline_bgnbd": bgnbd.predict_proba(frame)}


def oracle_predictions(
    ds: DataSet, frame: pd.DataFrame, cutoff: pd.Timestamp, meta: dict[str, Any]
) -> np.ndarray | None:
    """The generator's true P(buy) per pair, or None when the data is not synthetic."""
    from anticipate.sample import load_latent, true_probabilities

    latent = load_latent(ds.path)
    if latent is None:
        return None
    truth = true_probabilities(
        latent,
        ds.orders,
        cutoff,
        horizon_days=int(meta["horizon_days"]),
        lookback_days=int(meta["lookback_days"]),
        item_level=meta["item_level"],
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


def _figures(y: np.ndarray, predictions: dict[str, np.ndarray], importance: pd.Series) -> dict[str, Any]:
    from anticipate.plots import model as plots

    return {
        "calibration.png": plots.calibration_curve(y, predictions),
        "roc.png": plots.roc_curves(y, predictions),
        "pr.png": plots.pr_curves(y, predictions),
        "lift.png": plots.lift_chart(y, predictions),
        "gain_importance.png": plots.gain_importance(importance),
    }


def run_evaluate(
    settings: Settings,
    *,
    model: str | None = None,
    cutoff: str | None = None,
    parent_run_id: str | None = None,
    in_sample: bool = False,
) -> Result:
    """Score a registered model at a labelled cutoff against baselines (and the truth); log it all.

    A cutoff before the model's training end is refused (exit 2) unless ``in_sample``.
    """
    with stages(5, enabled=settings.progress, description="evaluate") as bar:
        bar.step("loading data and model")
        ds = load_data(settings)
        wrapper, uri = load_registered(settings, model, default_alias=None)
        meta = wrapper.meta
        cutoff_ts = resolve_cutoff(
            cutoff, ds.orders, horizon_days=int(meta["horizon_days"]), purpose="labelled", command="evaluate"
        )
        last_full = dates.last_full_cutoff(ds.orders["order_ts"], int(meta["horizon_days"]))
        seen = honesty.check_evaluate_cutoff(meta, cutoff_ts, last_full, uri=uri, allow=in_sample)
        bar.step("building features")
        frame = features_for(wrapper, ds, cutoff_ts, with_labels=True)
        y = frame["y"].to_numpy()
        bar.step("scoring model and baselines")
        predictions = {"model": wrapper.predict(None, frame)["p_buy"].to_numpy()}
        predictions.update(baseline_predictions(ds, frame, cutoff_ts, meta, seed=settings.cfg.model.seed))
        oracle = oracle_predictions(ds, frame, cutoff_ts, meta)
        if oracle is not None:
            predictions["oracle"] = oracle
        metrics = all_metrics(y, predictions)
        table = honesty.label_table(metrics_table(metrics, list(predictions)), seen)
        bar.step("logging to MLflow")
        tracker = open_tracker(settings)
        with tracker.run(
            "evaluate",
            cfg=settings.cfg,
            cutoff=dates.fmt(cutoff_ts),
            data_digest=ds.digest,
            data_source=str(ds.path),
            extra_tags={"anticipate.model_uri": uri, honesty.TAG_IN_SAMPLE: str(seen).lower()},
            parent_run_id=parent_run_id,
        ) as run:
            run.log_metrics(metrics)
            run.log_params({"model_uri": uri, "pairs": len(frame), "positives": int(y.sum())})
            run.log_text(table, "metrics.md")
            run.log_dict(curve_points(y, predictions["model"]), "curves.json")
            for name, fig in _figures(y, predictions, wrapper.model.gain_importance()).items():
                run.log_figure(fig, name)
        bar.step("done")
    text = (
        f"evaluate {uri} at {dates.fmt(cutoff_ts)} (horizon {meta['horizon_days']} days): "
        f"{len(frame):,} candidate pairs, {int(y.sum()):,} bought\n\n{table}\nrun {run.run_id}"
    )
    return Result(
        command="evaluate",
        run_id=run.run_id,
        metrics=metrics,
        counts={"pairs": len(frame), "positives": int(y.sum())},
        outputs={"model_uri": uri},
        extra={"cutoff": dates.fmt(cutoff_ts), "in_sample": seen},
        warnings=[honesty.IN_SAMPLE_NOTE] if seen else [],
        text=text,
    )
