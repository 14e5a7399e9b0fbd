"""Model pipelines: ``train``, ``predict`` and ``promote`` (reading data, MLflow tracking, the Result).

Fitting lives in :mod:`anticipate.models.training`, scoring in
:mod:`anticipate.models.scoring`; these functions add the I/O around them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from anticipate import dates
from anticipate.errors import UsageError
from anticipate.models import honesty
from anticipate.models.honesty import no_skill_warning, train_hint
from anticipate.models.scoring import features_for, model_warnings, score_frame, spec_of
from anticipate.models.training import (
    Fitted,
    fit_on_windows,
    resolve_until,
    short_history_warnings,
    with_windows,
)
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import (
    item_warnings,
    load_data,
    load_with_source,
    open_tracker,
    order_id_warnings,
    refuse_out_in_data,
    require_model_store,
    require_tracking_store,
    resolve_cutoff,
)
from anticipate.progress import stages
from anticipate.storage.files import (
    DataSet,
    atomic_path,
    file_digest,
    write_csv,
    write_json,
    write_parquet,
)
from anticipate.tracking import tags


# --------------------------------------------------------------------------- train
def run_train(
    settings: Settings,
    *,
    until: str | None = None,
    parent_run_id: str | None = None,
    register: bool = True,
) -> Result:
    """Train the next-purchase model on rolling-origin windows and register it in MLflow.

    Windows have cutoffs ``until - k*H`` for ``k = windows..1``; the last is the
    validation window (early stopping, calibration); ``model.year_ago_windows`` adds
    training windows around the same season 364 days earlier. Returns the run id, the
    validation metrics and the model URI (registered unless ``register=False``,
    as experiment children do; ``parent_run_id`` nests the run).
    """
    from anticipate.features.history import FEW_IDS, ID_COLUMNS

    cfg = settings.cfg
    require_tracking_store(settings)  # before hours of loading and fitting (audit28: after, and exit 1)
    with stages(3, enabled=settings.progress, description="train") as bar:
        bar.step("loading data")
        local = cfg.compute.engine != "dask"  # ids as categoricals locally, as `features` loads them
        ds = load_data(settings, cluster=True, dictionary=ID_COLUMNS if local else (), stored=FEW_IDS)
        items = item_warnings(ds, cfg.model.item_level)  # or exit 2: no SKU has a category
        items += order_id_warnings(ds.path)
        until_ts, windows = resolve_until(
            until, ds.orders, horizon_days=cfg.time.horizon_days, windows=cfg.model.train_windows
        )
        warnings = items + short_history_warnings(cfg.model.train_windows, windows, until_ts)
        warnings += dates.history_warnings(ds.orders["order_ts"], until_ts)
        cfg = with_windows(cfg, windows)
        settings = replace(settings, cfg=cfg)  # MLflow logs the windows trained on
        tracker = open_tracker(settings)  # a store it cannot open or write fails here, not after the fit
        bar.step("building features and fitting LightGBM")
        fitted, engine = _fit(cfg, ds, until_ts)
        metrics, skill = _validation_metrics(fitted)
        warnings += engine + skill
        bar.step("logging to MLflow")
        run_id, version, model_uri = _log_training(
            settings, tracker, (ds, until_ts), fitted, metrics, parent_run_id=parent_run_id, register=register
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
        outputs={"model_uri": model_uri, "data_dir": str(ds.path)},
        warnings=warnings,
        text=_train_text(run_id, model_uri, metrics, fitted, hint, ds.path),
    )


def _fit(cfg: Any, ds: DataSet, until: pd.Timestamp) -> tuple[Fitted, list[str]]:
    """The model fitted on the windows before ``until``, locally or on Dask (``compute.engine``), and the
    engine's warning (a Dask fit is not reproducible bit for bit)."""
    if cfg.compute.engine == "dask":
        from anticipate.distributed.schedule import NOT_REPRODUCIBLE, fit_on_windows_dask

        return fit_on_windows_dask(cfg, ds, until), [NOT_REPRODUCIBLE]
    return fit_on_windows(cfg, ds, until), []


def _validation_metrics(fitted: Fitted) -> tuple[dict[str, float], list[str]]:
    """The model's ``val.*`` metrics on its validation window and ``best_iteration``, and a warning when
    the window shows no skill (:func:`~anticipate.models.honesty.no_skill_warning`)."""
    from anticipate.metrics import classification_metrics

    y_val, p_val = fitted.val["y"].to_numpy(), fitted.model.predict_proba(fitted.val[fitted.features])
    metrics = {f"val.{k}": v for k, v in classification_metrics(y_val, p_val).items()}
    metrics["best_iteration"] = float(fitted.model.fit_summary()["best_iteration"])
    return metrics, [w for w in [no_skill_warning(y_val, metrics["val.auc"])] if w]


def _log_training(
    settings: Settings,
    tracker: Any,
    trained_on: tuple[DataSet, pd.Timestamp],
    fitted: Fitted,
    metrics: dict[str, float],
    *,
    parent_run_id: str | None,
    register: bool,
) -> tuple[str, str | None, str]:
    """One ``train`` run on ``tracker`` (opened before the fit): metrics, params, features, importance and
    the model (registered if asked); ``trained_on``: the data set and the training end (``--until``)."""
    from anticipate.plots.model import gain_importance
    from anticipate.tracking import NextPurchasePyfunc

    cfg, (ds, until) = settings.cfg, trained_on
    # the model says what it was trained on, for scoring.data_warnings (audit28 F09)
    fitted.meta.update({"data_dir": str(Path(ds.path).resolve()), "data_digest": ds.digest})
    with tracker.run(
        "train",
        cfg=cfg,
        cutoff=dates.fmt(until),
        data_digest=ds.digest,
        data_source=str(ds.path),
        parent_run_id=parent_run_id,
        extra_tags={tags.TAG_DATA_DIR: fitted.meta["data_dir"]},
    ) as run:
        run.log_metrics(metrics)
        run.log_params(
            {
                "train_pairs": len(fitted.train),
                "val_pairs": len(fitted.val),
                "n_features": len(fitted.features),
                "train_cutoffs": ",".join(fitted.meta["train_cutoffs"]),
                "calibration": fitted.model.fit_summary()["calibration"],
            }
        )
        dask_keys = ("dask_workers", "dask_threads", "dask_partitions", "dask_orders", "train_pairs_full")
        run.log_params({k: fitted.meta[k] for k in dask_keys if k in fitted.meta})
        if "rounds" in fitted.meta:
            run.log_params({f"rounds_{k}": v for k, v in fitted.meta["rounds"].items()})
        run.log_dict({"features": fitted.features, "meta": fitted.meta}, "features.json")
        run.log_figure(gain_importance(fitted.model.gain_importance()), "gain_importance.png")
        wrapper = NextPurchasePyfunc(fitted.model, fitted.meta)
        # the signature describes what scoring feeds the model: build_features' float64 columns
        # (training compacts its windows to float32; a float64 schema accepts both)
        example = fitted.val[fitted.features].head(5).astype("float64")
        version, model_uri = tracker.log_model(
            run,
            wrapper,
            input_example=example,
            output_example=wrapper.predict(None, example),
            registered_name=cfg.model.registered_name if register else None,
        )
    return run.run_id, version, model_uri


def _train_text(
    run_id: str, uri: str, metrics: dict[str, float], fit: Fitted, hint: str, data_dir: Path
) -> str:
    """``train``'s lines; the first names the data directory (``--data`` or data.dir): the README tour's
    ``train`` without ``--data`` after ingesting into data/shop trained on data/sample in silence."""
    n_train, n_val, meta = len(fit.train), len(fit.val), fit.meta
    fitted = len(meta["train_cutoffs"]) - 1  # model.train_windows counts the validation window too
    lines = [
        f"trained on {data_dir}: {n_train:,} pairs ({fitted} window{'' if fitted == 1 else 's'} before the "
        f"validation window), validated on {n_val:,} pairs at {meta['train_cutoffs'][-1]}",
        f"run {run_id}; registered {uri}",
    ]
    shown = ("val.auc", "val.ap", "val.logloss", "val.ece", "val.lift_at_10pct", "best_iteration")
    lines += [f"  {k:20} {metrics[k]:.4f}" for k in shown if k in metrics]
    lines.append(hint)
    return "\n".join(lines)


# --------------------------------------------------------------------------- predict
def run_predict(settings: Settings, *, model: str | None, cutoff: str | None, out: Path) -> Result:
    """Write per-pair scores ``customer_id, item, p_buy, expected_units`` at a cutoff (Parquet or CSV).

    The file says what it holds (:func:`prediction_facts`): in its Parquet schema metadata, or in the
    sidecar ``<out>.json`` beside a CSV. A cutoff before the model's training end is scored with a
    loud warning (:func:`~anticipate.models.honesty.predict_in_sample_warning`), there and on stderr.
    """
    if Path(out).suffix.lower() not in {".parquet", ".csv"}:
        raise UsageError(f"--out {out} must end in .parquet or .csv")
    refuse_out_in_data(out, settings)
    ds = load_data(settings)
    wrapper, uri, source = load_with_source(settings, model, default_alias=None)
    items = item_warnings(ds, spec_of(wrapper).item_level)
    cutoff_ts = resolve_cutoff(
        cutoff, ds.orders, horizon_days=spec_of(wrapper).horizon, purpose="production", command="predict"
    )
    scored = score_frame(wrapper, features_for(wrapper, ds, cutoff_ts, with_labels=False))
    table = scored[["customer_id", "item", "p_buy", "expected_units"]]
    seen = honesty.predict_in_sample_warning(wrapper.meta, cutoff_ts, uri=uri)
    warnings = [*([seen] if seen else []), *items, *model_warnings(wrapper, settings.cfg, cutoff_ts, ds),
                *dates.history_warnings(ds.orders["order_ts"], cutoff_ts),
                *dates.future_cutoff_warnings(cutoff_ts, now=settings.started_at, name="the cutoff",
                                              order_ts=ds.orders["order_ts"])]
    facts = prediction_facts(wrapper, cutoff_ts, uri, source, warnings)
    known = {k: facts[k] for k in ("model_version", "model_run_id") if facts[k]}  # --json: none as "None"
    outputs = {"predictions": str(out), "model_uri": uri, **known, **write_predictions(table, out, facts)}
    mark = " (IN-SAMPLE: see the warning)" if seen else ""
    return Result(
        command="predict",
        metrics={
            "mean_p_buy": float(table["p_buy"].mean()),
            "expected_units": float(table["expected_units"].sum()),
        },
        counts={"pairs": len(table), "customers": int(table["customer_id"].nunique())},
        outputs=outputs,
        extra={"cutoff": facts["cutoff"], "in_sample": facts["in_sample"]},
        text=f"scored {len(table):,} pairs at {dates.fmt(cutoff_ts)}{mark} with {uri} -> {out}",
        warnings=warnings,
    )


def prediction_facts(
    wrapper: Any, cutoff: pd.Timestamp, uri: str, source: dict[str, str | None], warnings: list[str]
) -> dict[str, Any]:
    """What a predictions file holds (docs/data-contract.md#predictions): the cutoff and horizon (days)
    its scores are for, the item level of its ``item`` column, the model (URI, registry version and
    train run id, None where unknown; its training end ``trained_until``), whether the cutoff is
    in-sample for it, and the command's warnings."""
    spec = spec_of(wrapper)
    until = honesty.trained_until(wrapper.meta)
    return {
        "cutoff": dates.fmt(cutoff),
        "horizon_days": spec.horizon,
        "item_level": spec.item_level,
        "model_uri": uri,
        "model_version": source.get("version"),
        "model_run_id": source.get("run_id"),
        "trained_until": dates.fmt(until) if until is not None else None,
        "in_sample": honesty.in_sample(wrapper.meta, cutoff),
        "warnings": list(warnings),
    }


def write_predictions(table: pd.DataFrame, out: Path, facts: dict[str, Any]) -> dict[str, str]:
    """Write ``table`` to ``out`` atomically with ``facts``; return the extra outputs (the sidecar).

    Parquet: each fact is a key of the schema metadata, its value text (``in_sample`` ``true``/``false``,
    ``warnings`` a JSON list, an unknown value ""). CSV, which has no place for them: the sidecar
    ``<out>.json`` (the facts with their JSON types, plus the CSV's ``rows`` and ``sha256`` so that a
    sidecar separated from its CSV is told apart), written after the CSV, atomically too.
    """
    if Path(out).suffix.lower() == ".parquet":
        write_parquet(table, out, metadata={k: _meta_text(v) for k, v in facts.items()})
        return {}
    sidecar = Path(f"{out}.json")
    with atomic_path(out) as staged:  # the CSV is published only once its sidecar is (audit25 F2)
        write_csv(table, staged)
        write_json({**facts, "file": Path(out).name, "rows": len(table), "sha256": file_digest(staged)},
                   sidecar)
    return {"metadata": str(sidecar)}


def _meta_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, list) else str(value)


# --------------------------------------------------------------------------- promote
def run_promote(settings: Settings, *, run_or_version: str, alias: str) -> Result:
    """Point a registry alias (``production``) at a model version, a run's version or ``latest``."""
    require_model_store(settings, None)  # a store that does not exist holds no version to promote
    tracker = open_tracker(settings)
    name = settings.cfg.model.registered_name
    before = tracker.registry.alias_version(name, alias)
    version = tracker.set_alias(name, alias, run_or_version)
    uri = f"models:/{name}@{alias}"
    new = tracker.registry.version_facts(name, version)
    old = tracker.registry.version_facts(name, before) if before not in (None, version) else None
    return Result(
        command="promote",
        counts={"model_version": int(version)},
        outputs={"model_uri": uri},
        text=f"{uri} -> {_described(new)}" + (f" (was {_described(old)})" if old else ""),
        warnings=promotion_warnings(new, old, alias),
    )


def _described(facts: dict[str, Any]) -> str:
    auc = facts.get("val_auc")
    return (f"version {facts['version']} (trained until {facts.get('cutoff') or '?'}, val.auc "
            f"{'?' if auc is None else f'{auc:.4f}'})")


def promotion_warnings(new: dict[str, Any], old: dict[str, Any] | None, alias: str) -> list[str]:
    """A warning when the promoted version was trained on older data than the one ``alias`` pointed at
    (``promote latest`` after a short experimental ``train --until``): an older model now serves.

    ``new``/``old``: :meth:`~anticipate.tracking.registry.Registry.version_facts` of each version.
    """
    if old is None or not new.get("cutoff") or not old.get("cutoff") or new["cutoff"] >= old["cutoff"]:
        return []
    return [f"@{alias} now points at version {new['version']}, trained until {new['cutoff']}, before version "
            f"{old['version']} (until {old['cutoff']}) it pointed at: an older model now serves; if that was "
            f"not meant, run 'anticipate promote {old['version']} --alias {alias}'"]

