"""Model pipelines: ``train``, ``evaluate``, ``predict`` and ``promote`` (CONTRACTS sections 2, 6, 8)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.config import Config
from anticipate.errors import DataError, UsageError
from anticipate.io import DataSet, write_table
from anticipate.models.honesty import train_hint
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import load_data, log, open_tracker, resolve_cutoff
from anticipate.progress import stages

NON_FEATURES = ("customer_id", "item", "region", "cutoff", "y", "units")


# --------------------------------------------------------------------------- train
def resolve_until(
    value: str | None, orders: pd.DataFrame, *, horizon_days: int, windows: int
) -> pd.Timestamp:
    """The training cutoff: data before it is used (labels included).

    ``None`` is the last full cutoff, so ``train`` then ``evaluate`` with defaults is
    out of time; ``latest`` is the production cutoff (every labelled window).
    """
    ts = orders["order_ts"]
    if value is None:
        until = dates.last_full_cutoff(ts, horizon_days)
    elif value == "latest":
        until = dates.data_end(ts)
    else:
        until = dates.parse_date(value, name="--until")
    dates.check_until(until, ts, horizon_days, windows)
    return until


def _split_windows(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = frame["cutoff"].max()
    return frame[frame["cutoff"] < last], frame[frame["cutoff"] == last]


def _check_labels(frame: pd.DataFrame, what: str) -> None:
    if frame.empty:
        raise DataError(
            f"no candidate pairs in the {what}: no customer ordered in the lookback window; "
            "use a later cutoff or a longer time.lookback_days"
        )
    if frame["y"].nunique() < 2:
        kind = "bought" if int(frame["y"].iloc[0]) == 1 else "did not buy"
        raise DataError(
            f"every candidate pair in the {what} {kind} in the horizon (a single-class label set); "
            "a model cannot learn from it: use more training windows or a different horizon"
        )


def _downsample(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if len(frame) <= limit:
        return frame
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(frame), size=limit, replace=False))
    return frame.iloc[keep]


def feature_names(frame: pd.DataFrame) -> list[str]:
    """The model's feature columns of a features frame (everything but keys and labels)."""
    return [c for c in frame.columns if c not in NON_FEATURES]


@dataclass
class Fitted:
    """A model fitted on rolling-origin windows, with the frames it saw."""

    model: Any
    features: list[str]
    train: pd.DataFrame
    val: pd.DataFrame
    frame: pd.DataFrame
    meta: dict[str, Any]


def fit_on_windows(cfg: Config, ds: DataSet, until: pd.Timestamp) -> Fitted:
    """Build the training windows before ``until`` and fit the next-purchase model (pure after loading).

    Raises DataError when a window has no candidates or a single class.
    """
    from anticipate.features.build import build_training_set
    from anticipate.models.next_purchase import NextPurchaseModel

    frame = build_training_set(
        ds.orders,
        until,
        horizon_days=cfg.time.horizon_days,
        lookback_days=cfg.time.lookback_days,
        windows=cfg.model.train_windows,
        item_level=cfg.model.item_level,
        products=ds.products,
        families=list(cfg.features.families),
    )
    train, val = _split_windows(frame)
    _check_labels(train, "training windows")
    _check_labels(val, "validation window")
    train = _downsample(train, cfg.model.max_train_pairs, cfg.model.seed)
    features = feature_names(frame)
    model = NextPurchaseModel.from_config(cfg.model).fit(
        train[features],
        train["y"].to_numpy(),
        train["units"].to_numpy(),
        X_val=val[features],
        y_val=val["y"].to_numpy(),
        units_val=val["units"].to_numpy(),
        groups_val=val["customer_id"],
    )
    return Fitted(model, features, train, val, frame, model_meta(cfg, until, frame))


def run_train(
    settings: Settings,
    *,
    until: str | None = None,
    parent_run_id: str | None = None,
    register: bool = True,
) -> Result:
    """Train the next-purchase model on rolling-origin windows and register it in MLflow.

    Windows have cutoffs ``until - k*H`` for ``k = windows..1``; the last is the
    validation window (early stopping, calibration). Returns the run id, the
    validation metrics and the model URI (registered unless ``register=False``,
    as experiment children do; ``parent_run_id`` nests the run).
    """
    from anticipate.metrics import classification_metrics

    cfg = settings.cfg
    with stages(3, enabled=settings.progress, description="train") as bar:
        bar.step("loading data")
        ds = load_data(settings, cluster=True)
        until_ts = resolve_until(
            until, ds.orders, horizon_days=cfg.time.horizon_days, windows=cfg.model.train_windows
        )
        bar.step("building features and fitting LightGBM")
        if cfg.compute.engine == "dask":
            from anticipate.distributed import fit_on_windows_dask

            fitted = fit_on_windows_dask(cfg, ds, until_ts)
        else:
            fitted = fit_on_windows(cfg, ds, until_ts)
        y_val, p_val = fitted.val["y"].to_numpy(), fitted.model.predict_proba(fitted.val[fitted.features])
        metrics = {f"val.{k}": v for k, v in classification_metrics(y_val, p_val).items()}
        metrics["best_iteration"] = float(fitted.model.best_iteration_)
        bar.step("logging to MLflow")
        run_id, version, model_uri = _log_training(
            settings, ds, until_ts, fitted, metrics, parent_run_id=parent_run_id, register=register
        )
    hint = train_hint(fitted.meta, dates.last_full_cutoff(ds.orders["order_ts"], cfg.time.horizon_days))
    counts = {
        "train_pairs": len(fitted.train),
        "val_pairs": len(fitted.val),
        "features": len(fitted.features),
        "model_version": int(version) if version else 0,
    }
    return Result(
        command="train",
        run_id=run_id,
        metrics=metrics,
        counts=counts,
        outputs={"model_uri": model_uri},
        text=_train_text(run_id, model_uri, metrics, len(fitted.train), len(fitted.val), fitted.meta, hint),
    )


def _log_training(
    settings: Settings,
    ds: DataSet,
    until: pd.Timestamp,
    fitted: Fitted,
    metrics: dict[str, float],
    *,
    parent_run_id: str | None,
    register: bool,
) -> tuple[str, str | None, str]:
    """One ``train`` run: metrics, params, features, importance and the model (registered if asked)."""
    from anticipate.plots.model import gain_importance
    from anticipate.tracking import NextPurchasePyfunc

    cfg = settings.cfg
    tracker = open_tracker(settings)
    with tracker.run(
        "train",
        cfg=cfg,
        cutoff=dates.fmt(until),
        data_digest=ds.digest,
        data_source=str(ds.path),
        parent_run_id=parent_run_id,
    ) as run:
        run.log_metrics(metrics)
        run.log_params(
            {
                "train_pairs": len(fitted.train),
                "val_pairs": len(fitted.val),
                "n_features": len(fitted.features),
                "train_cutoffs": ",".join(fitted.meta["train_cutoffs"]),
                "calibration": getattr(fitted.model, "calibration_", "none"),
            }
        )
        dask_keys = ("dask_workers", "dask_threads", "dask_partitions", "dask_orders", "train_pairs_full")
        run.log_params({k: fitted.meta[k] for k in dask_keys if k in fitted.meta})
        if "rounds" in fitted.meta:
            run.log_params({f"rounds_{k}": v for k, v in fitted.meta["rounds"].items()})
        run.log_dict({"features": fitted.features, "meta": fitted.meta}, "features.json")
        run.log_figure(gain_importance(fitted.model.gain_importance()), "gain_importance.png")
        wrapper = NextPurchasePyfunc(fitted.model, fitted.meta)
        example = fitted.val[fitted.features].head(5)
        version, model_uri = tracker.log_model(
            run,
            wrapper,
            input_example=example,
            output_example=wrapper.predict(None, example),
            registered_name=cfg.model.registered_name if register else None,
        )
    return run.run_id, version, model_uri


def model_meta(cfg: Config, until: pd.Timestamp, frame: pd.DataFrame) -> dict[str, Any]:
    """What a model was trained with: item level, horizon, lookback, families and windows."""
    return {
        "item_level": cfg.model.item_level,
        "horizon_days": cfg.time.horizon_days,
        "lookback_days": cfg.time.lookback_days,
        "families": list(cfg.features.families),
        "until": dates.fmt(until),
        "train_cutoffs": [dates.fmt(c) for c in sorted(frame["cutoff"].unique())],
    }


def _train_text(
    run_id: str, uri: str, metrics: dict[str, float], n_train: int, n_val: int, meta: dict[str, Any],
    hint: str,
) -> str:
    lines = [
        f"trained on {n_train:,} pairs ({len(meta['train_cutoffs']) - 1} windows), "
        f"validated on {n_val:,} pairs at {meta['train_cutoffs'][-1]}",
        f"run {run_id}; registered {uri}",
    ]
    shown = ("val.auc", "val.ap", "val.logloss", "val.ece", "val.lift_at_10pct", "best_iteration")
    lines += [f"  {k:20} {metrics[k]:.4f}" for k in shown if k in metrics]
    lines.append(hint)
    return "\n".join(lines)


# --------------------------------------------------------------------------- shared scoring
def load_registered(settings: Settings, model: str | None, *, default_alias: str | None) -> tuple[Any, str]:
    """Load ``--model`` (a version, ``@alias``, URI or local path) -> (NextPurchasePyfunc, uri)."""
    tracker = open_tracker(settings)
    uri = tracker.resolve_model_uri(
        model, name=settings.cfg.model.registered_name, default_alias=default_alias
    )
    return tracker.load_model(uri), uri


def score_frame(wrapper: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Score a features frame with a loaded model: keys plus p_buy, units_given_buy, expected_units."""
    missing = [c for c in wrapper.feature_names if c not in frame.columns]
    if missing:
        raise DataError(
            f"the model expects features {missing[:5]} that the data does not produce; "
            "it was trained with other feature families: retrain with 'anticipate train'"
        )
    scores = wrapper.predict(None, frame)
    keys = frame[["customer_id", "item", "region"]].reset_index(drop=True)
    return pd.concat([keys, scores.reset_index(drop=True)], axis=1)


def features_for(wrapper: Any, ds: DataSet, cutoff: pd.Timestamp, *, with_labels: bool) -> pd.DataFrame:
    """Rebuild, at ``cutoff``, exactly the features the model was trained with (its meta)."""
    from anticipate.features.build import build_features, build_training_frame

    meta = wrapper.meta
    common = dict(
        lookback_days=meta["lookback_days"],
        item_level=meta["item_level"],
        products=ds.products,
        families=meta["families"],
    )
    if with_labels:
        frame = build_training_frame(ds.orders, cutoff, horizon_days=meta["horizon_days"], **common)
    else:
        frame = build_features(ds.orders, cutoff, **common)
    if frame.empty:
        raise DataError(
            f"no candidate pairs at cutoff {dates.fmt(cutoff)}: no customer ordered in the "
            f"{meta['lookback_days']} days before it; pick a later cutoff"
        )
    return frame


# --------------------------------------------------------------------------- predict
def run_predict(settings: Settings, *, model: str | None, cutoff: str | None, out: Path) -> Result:
    """Write per-pair scores ``customer_id, item, p_buy, expected_units`` at a cutoff (Parquet or CSV)."""
    if Path(out).suffix.lower() not in {".parquet", ".csv"}:
        raise UsageError(f"--out {out} must end in .parquet or .csv")
    ds = load_data(settings)
    wrapper, uri = load_registered(settings, model, default_alias=None)
    horizon = int(wrapper.meta["horizon_days"])
    cutoff_ts = resolve_cutoff(
        cutoff, ds.orders, horizon_days=horizon, purpose="production", command="predict"
    )
    scored = score_frame(wrapper, features_for(wrapper, ds, cutoff_ts, with_labels=False))
    table = scored[["customer_id", "item", "p_buy", "expected_units"]]
    write_table(table, out)
    return Result(
        command="predict",
        metrics={
            "mean_p_buy": float(table["p_buy"].mean()),
            "expected_units": float(table["expected_units"].sum()),
        },
        counts={"pairs": len(table), "customers": int(table["customer_id"].nunique())},
        outputs={"predictions": str(out), "model_uri": uri},
        text=f"scored {len(table):,} pairs at {dates.fmt(cutoff_ts)} with {uri} -> {out}",
    )


# --------------------------------------------------------------------------- promote
def run_promote(settings: Settings, *, run_or_version: str, alias: str) -> Result:
    """Point a registry alias (``production``) at a model version, a run's version or ``latest``."""
    tracker = open_tracker(settings)
    name = settings.cfg.model.registered_name
    version = tracker.set_alias(name, alias, run_or_version)
    uri = f"models:/{name}@{alias}"
    return Result(
        command="promote",
        counts={"model_version": int(version)},
        outputs={"model_uri": uri},
        text=f"{uri} -> version {version}",
    )


def log_warning(message: str) -> None:
    """Log a warning on stderr (pipelines never print)."""
    log.warning(message)
