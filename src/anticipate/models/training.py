"""Fitting the next-purchase model on rolling-origin windows (the local path; Dask schedules the same steps).

Windows have cutoffs ``until - k*H`` for ``k = windows..1``; the last validates
(early stopping, calibration). ``model.year_ago_windows`` adds training windows around
the same season 364 days earlier (:func:`anticipate.features.build.training_cutoffs`).
A :class:`Fitted` carries the model, its feature columns, the frames it saw and its meta
(the :class:`FeatureSpec` and windows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.config import Config
from anticipate.errors import DataError, UsageError
from anticipate.features.spec import FeatureSpec
from anticipate.storage.files import DataSet

#: Columns of a training frame that are not features: keys, the cutoff and the labels.
NON_FEATURES = ("customer_id", "item", "region", "cutoff", "y", "units")


def windows_that_fit(until: pd.Timestamp, order_ts: pd.Series, horizon_days: int) -> int:
    """How many rolling-origin windows of ``horizon_days`` fit between the first cutoff
    (:func:`anticipate.dates.first_cutoff`: after the history's first day) and ``until``."""
    return max(int((until - dates.first_cutoff(order_ts)).days // horizon_days), 0)


def resolve_until(
    value: str | None, orders: pd.DataFrame, *, horizon_days: int, windows: int
) -> tuple[pd.Timestamp, int]:
    """The training cutoff (data before it is used, labels included) and the windows to train on.

    ``None`` is the last full cutoff, so ``train`` then ``evaluate`` with defaults is
    out of time; ``latest`` is the production cutoff (every labelled window). A short
    history trains on as many windows as fit (at least 2: one to fit, one to validate);
    fewer than 2 raise UsageError naming a non-empty valid range or what would make one.
    """
    ts = orders["order_ts"]
    if value is None:
        until = dates.last_full_cutoff(ts, horizon_days)
    elif value == "latest":
        until = dates.data_end(ts)
    else:
        until = dates.parse_date(value, name="--until")
    usable = min(windows, windows_that_fit(until, ts, horizon_days))
    valid = dates.until_range(ts, horizon_days, 2)
    if value is None and valid is not None and not valid[0] <= until <= valid[1]:
        raise _default_until_error(until, valid, horizon_days)
    check_until(until, ts, horizon_days, 2, configured=windows)  # any date with 2 windows trains
    return until, usable


def check_until(
    until: pd.Timestamp, order_ts: pd.Series, horizon_days: int, windows: int, *,
    configured: int | None = None,
) -> pd.Timestamp:
    """Return ``until`` when ``windows`` training windows of ``horizon_days`` fit before it, else exit 2.

    The message names a non-empty range of valid ``--until`` dates or, when the data is
    too short for any, how many windows fit and what would make a range exist. ``configured``:
    the windows ``model.train_windows`` asks for when ``windows`` is the least a training
    accepts; the message then says from when all of them fit.
    """
    valid = dates.until_range(order_ts, horizon_days, windows)
    if valid is not None and valid[0] <= until <= valid[1]:
        return until
    need = f"{windows} training windows of {horizon_days} days"
    if valid is not None:
        more = configured is not None and configured > windows
        full = dates.until_range(order_ts, horizon_days, configured) if more else None
        note = (f"; from {dates.fmt(full[0])} on it trains on all {configured} of model.train_windows, "
                f"before that on as many as fit" if full is not None else "")
        lower = ", or lower model.train_windows" if configured is None and windows > 2 else ""
        detached = dates.detached_note(order_ts) if until < valid[0] else ""
        raise UsageError(
            f"--until {dates.fmt(until)} leaves no room for {need} inside the data; pass --until between "
            f"{dates.fmt(valid[0])} and {dates.fmt(valid[1])} (or 'latest'){lower}{note}"
            + (f"; {detached}" if detached else "")
        )
    start = dates.history_first_day(order_ts)
    span = (dates.data_end(order_ts) - start).days - 1  # days of cutoffs after the first one
    fits = span // horizon_days
    first, last = dates.fmt(start), dates.fmt(dates.data_end(order_ts) - pd.Timedelta(days=1))
    fix = (f"set model.train_windows to {fits} or less (at least 2), or ingest more history"
           if fits >= 2 else
           f"ingest more history (2 windows need {2 * horizon_days + 1} days) or lower time.horizon_days")
    raise UsageError(
        f"no --until date is valid: the orders run from {first} to {last} ({span + 1} days), too short "
        f"for {need} ({horizon_days * windows + 1} days); {fix}"
    )


def _default_until_error(until: pd.Timestamp, valid: tuple[pd.Timestamp, pd.Timestamp],
                         horizon_days: int) -> UsageError:
    """The history fits 2 windows, but not before the default ``--until`` (the last full cutoff, which
    keeps the last horizon out of training for evaluate): no ``--until`` was given to blame."""
    return UsageError(
        f"the history is too short to train 2 windows of {horizon_days} days before the default --until "
        f"{dates.fmt(until)} (the last full cutoff, which keeps the last horizon out of training so that "
        f"'evaluate' scores out of time); lower time.horizon_days, or train with --until latest (or a date "
        f"from {dates.fmt(valid[0])} to {dates.fmt(valid[1])}) knowing that evaluate's default cutoff is "
        "then inside the training data"
    )


def short_history_warnings(configured: int, usable: int, until: pd.Timestamp) -> list[str]:
    """One line when the history holds fewer windows than ``model.train_windows`` asks for."""
    if usable >= configured:
        return []
    message = (f"the history before {dates.fmt(until)} holds {usable} of the {configured} training windows "
               f"of model.train_windows: training on {usable} "
               f"(set model.train_windows: {usable} to silence this)")
    return [message]  # printed with the result, once


def with_windows(cfg: Config, windows: int) -> Config:
    """``cfg`` with ``model.train_windows`` set to ``windows`` (unchanged when equal)."""
    if windows == cfg.model.train_windows:
        return cfg
    return cfg.model_copy(update={"model": cfg.model.model_copy(update={"train_windows": windows})})


def check_labels(
    frame: pd.DataFrame, what: str, fix: str = "use more training windows or a different horizon"
) -> None:
    """Raise DataError when ``frame`` (named ``what`` in the message) has no rows or a single class;
    ``fix`` ends the single-class message (what the user can change)."""
    if frame.empty:
        raise DataError(
            f"no candidate pairs in the {what}: no customer ordered in the lookback window; "
            "use a later cutoff or a longer time.lookback_days"
        )
    if frame["y"].nunique() < 2:
        kind = "bought" if int(frame["y"].iloc[0]) == 1 else "did not buy"
        raise DataError(
            f"every candidate pair in the {what} {kind} in the horizon (a single-class label set); "
            f"a model cannot learn from it: {fix}"
        )


def downsample(frame: pd.DataFrame, limit: int, seed: int | Sequence[int]) -> pd.DataFrame:
    """At most ``limit`` rows of ``frame``, drawn without replacement (seeded), in their order.

    ``seed`` is an int or a sequence of ints (e.g. ``(seed, window)``: one stream per window).
    """
    if len(frame) <= limit:
        return frame
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(frame), size=limit, replace=False))
    return frame.iloc[keep]


def window_share(limit: int, kept: int, remaining: int) -> int:
    """Rows a training window may keep: what ``limit`` has left after ``kept`` rows, split evenly
    over the ``remaining`` training windows (this one included).

    Windows are taken oldest first, so what a small early window leaves unused goes to the
    later (usually larger) ones; the kept rows never exceed ``limit``.
    """
    return max(limit - kept, 0) // max(remaining, 1)


def compact_features(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its feature columns as float32 (keys, cutoff and labels keep their dtypes).

    Halves a window's memory; LightGBM bins float32 input as it is (no float64 copy).
    """
    cast = {c: np.float32 for c in feature_names(frame) if frame[c].dtype != np.float32}
    return frame.astype(cast, copy=False) if cast else frame


def feature_names(frame: pd.DataFrame) -> list[str]:
    """The model's feature columns of a features frame (everything but keys and labels)."""
    return [c for c in frame.columns if c not in NON_FEATURES]


@dataclass
class Fitted:
    """A model fitted on rolling-origin windows, with the frames it saw (training rows kept, validation)."""

    model: Any
    features: list[str]
    train: pd.DataFrame
    val: pd.DataFrame
    meta: dict[str, Any]


def model_meta(cfg: Config, until: pd.Timestamp, cutoffs: Iterable[pd.Timestamp]) -> dict[str, Any]:
    """What a model was trained with: its :class:`FeatureSpec` (see ``to_meta``), ``until`` and windows.

    ``cutoffs``: the windows' cutoffs (repeats allowed, any order).
    """
    return {
        **FeatureSpec.from_config(cfg).to_meta(),
        "until": dates.fmt(until),
        "train_cutoffs": [dates.fmt(c) for c in sorted(set(pd.to_datetime(list(cutoffs))))],
    }


def training_windows(cfg: Config, ds: DataSet, until: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept training rows, validation window), built one window at a time and freed.

    Each training window is down-sampled to its share of ``model.max_train_pairs``
    (:func:`window_share`; seeded per window, so the same inputs and seed keep the same
    rows) before its features are compacted to float32; the validation window (the last
    cutoff) is kept whole. When every window fits its share nothing is dropped.
    """
    from anticipate.features.build import iter_training_frames, window_cutoffs

    spec = FeatureSpec.from_config(cfg)
    windows, year_ago = cfg.model.train_windows, cfg.model.year_ago_windows
    n = len(window_cutoffs(ds.orders, until, spec.horizon, windows, year_ago=year_ago))
    limit, seed = cfg.model.max_train_pairs, cfg.model.seed
    kept: list[pd.DataFrame] = []
    val = pd.DataFrame()
    rows = 0
    frames = iter_training_frames(
        ds.orders, until, spec, windows=windows, year_ago=year_ago, products=ds.products
    )
    for k, frame in enumerate(frames):
        if k == n - 1:
            val = compact_features(frame)
        else:
            part = compact_features(downsample(frame, window_share(limit, rows, n - 1 - k), (seed, k)))
            rows += len(part)
            kept.append(part)
        del frame  # free the full window before the next one is built
    if not kept:
        return val.iloc[:0], val
    train = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)
    return train, val.reset_index(drop=True)


def fit_on_windows(cfg: Config, ds: DataSet, until: pd.Timestamp) -> Fitted:
    """Build the training windows before ``until`` and fit the next-purchase model (pure after loading).

    The windows are built, down-sampled and compacted one at a time (see
    :func:`training_windows`). Raises DataError when the kept training rows or the
    validation window have no candidates or a single class.
    """
    from anticipate.models.next_purchase import NextPurchaseModel

    train, val = training_windows(cfg, ds, until)
    check_labels(train, "training windows")
    check_labels(val, "validation window")
    features = feature_names(val)
    model = NextPurchaseModel.from_config(cfg.model).fit(
        train[features],
        train["y"].to_numpy(),
        train["units"].to_numpy(),
        X_val=val[features],
        y_val=val["y"].to_numpy(),
        units_val=val["units"].to_numpy(),
        groups_val=val["customer_id"],
    )
    cutoffs = [*train["cutoff"].unique(), *val["cutoff"].unique()]
    return Fitted(model, features, train, val, model_meta(cfg, until, cutoffs))
