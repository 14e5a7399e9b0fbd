"""``evaluate``: the model's metrics at a labelled cutoff beside baselines and, on synthetic data, the truth.

Metric names: the model's are bare (``auc``), the baselines' are prefixed ``baseline_rf.``,
``baseline_bgnbd.``, ``baseline_pair_rate.`` and ``baseline_pair_logreg.``, the generator's true
probabilities ``oracle.``; ``oracle_gap.auc = oracle.auc - auc`` (:mod:`anticipate.models.evaluation`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.models import honesty
from anticipate.models.evaluation import (
    all_metrics,
    baseline_predictions,
    curve_points,
    metrics_table,
    oracle_predictions,
)
from anticipate.models.scoring import as_trained, features_for, model_warnings, spec_of
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import (
    item_warnings,
    load_data,
    load_with_source,
    open_tracker,
    order_id_warnings,
    resolve_cutoff,
)
from anticipate.progress import stages
from anticipate.storage.files import DataSet
from anticipate.tracking import tags


def _figures(
    y: np.ndarray, predictions: dict[str, np.ndarray], importance: pd.Series, metrics: dict[str, float]
) -> dict[str, Any]:
    """The evaluate figures; the legends' AUC and AP come from ``metrics`` (not computed twice)."""
    from anticipate.plots import model as plots

    def per_name(metric: str) -> dict[str, float]:
        return {name: metrics[f"{'' if name == 'model' else name + '.'}{metric}"] for name in predictions}

    return {
        "calibration.png": plots.calibration_curve(y, predictions),
        "roc.png": plots.roc_curves(y, predictions, per_name("auc")),
        "pr.png": plots.pr_curves(y, predictions, per_name("ap")),
        "lift.png": plots.lift_chart(y, predictions),
        "gain_importance.png": plots.gain_importance(importance),
    }


def _predictions(
    wrapper: Any, ds: DataSet, frame: pd.DataFrame, cutoff: pd.Timestamp, *, seed: int
) -> dict[str, np.ndarray]:
    """P(buy) per pair of the model, every baseline and, on synthetic data, the truth (``oracle``)."""
    spec = spec_of(wrapper)
    predictions = {"model": wrapper.predict_p_buy(frame).to_numpy()}
    predictions.update(baseline_predictions(ds, frame, cutoff, spec, seed=seed))
    oracle = oracle_predictions(ds, frame, cutoff, spec)
    if oracle is not None:
        predictions["oracle"] = oracle
    return predictions


def _warnings(ds: DataSet, wrapper: Any, cfg: Any, cutoff: pd.Timestamp, seen: bool) -> list[str]:
    """What evaluate warns about: an in-sample score, a partial last day in the horizon scored at
    ``cutoff`` (dates.partial_day_warnings), lines before a long gap (dates.detached_warnings), the config
    against the model (scoring.model_warnings)."""
    end = cutoff + pd.Timedelta(days=spec_of(wrapper).horizon)
    partial = dates.partial_day_warnings(ds.orders["order_ts"], until=end)
    detached = dates.detached_warnings(ds.orders["order_ts"], cutoff)
    return [*([honesty.IN_SAMPLE_NOTE] if seen else []), *partial, *detached,
            *model_warnings(wrapper, cfg, cutoff, ds)]


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
        wrapper, uri, source = load_with_source(settings, model, default_alias=None)
        spec = spec_of(wrapper)
        items = item_warnings(ds, spec.item_level) + order_id_warnings(ds.path)  # or exit 2: no category
        cutoff_ts = resolve_cutoff(cutoff, ds.orders, horizon_days=spec.horizon, purpose="labelled",
                                   command="evaluate")
        last_full = dates.last_full_cutoff(ds.orders["order_ts"], spec.horizon)
        seen = honesty.check_evaluate_cutoff(wrapper.meta, cutoff_ts, last_full, uri=uri, allow=in_sample)
        bar.step("building features")
        frame = features_for(wrapper, ds, cutoff_ts, with_labels=True)
        y = frame["y"].to_numpy()
        bar.step("scoring model and baselines")
        predictions = _predictions(wrapper, ds, frame, cutoff_ts, seed=settings.cfg.model.seed)
        metrics = all_metrics(y, predictions)
        table = honesty.label_table(metrics_table(metrics, list(predictions)), seen)
        bar.step("logging to MLflow")
        tracker = open_tracker(settings)
        with tracker.run(
            "evaluate",
            cfg=as_trained(settings.cfg, wrapper),
            cutoff=dates.fmt(cutoff_ts),
            data_digest=ds.digest,
            data_source=str(ds.path),
            extra_tags={**tags.model_tags(uri, source), tags.TAG_IN_SAMPLE: str(seen).lower()},
            parent_run_id=parent_run_id,
        ) as run:
            run.log_metrics(metrics)
            run.log_params({"model_uri": uri, "pairs": len(frame), "positives": int(y.sum())})
            run.log_text(table, "metrics.md")
            run.log_dict(curve_points(y, predictions["model"]), "curves.json")
            for name, fig in _figures(y, predictions, wrapper.model.gain_importance(), metrics).items():
                run.log_figure(fig, name)
        bar.step("done")
    return Result(
        command="evaluate",
        run_id=run.run_id,
        metrics=metrics,
        counts={"pairs": len(frame), "positives": int(y.sum())},
        outputs={"model_uri": uri, **{k: v for k, v in tags.source_keys(source).items() if v}},
        extra={"cutoff": dates.fmt(cutoff_ts), "in_sample": seen},
        warnings=items + _warnings(ds, wrapper, settings.cfg, cutoff_ts, seen),
        text=f"evaluate {uri} at {dates.fmt(cutoff_ts)} (horizon {spec.horizon} days): {len(frame):,} "
        f"candidate pairs, {int(y.sum()):,} bought\n\n{table}\nrun {run.run_id}",
    )
