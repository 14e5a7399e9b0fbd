"""Fitting the next-purchase model on rolling-origin windows (the local path; Dask schedules the same steps).

Windows have cutoffs ``until - k*H`` for ``k = windows..1``; the last validates
(early stopping, calibration). A :class:`Fitted` carries the model, its feature
columns, the frames it saw and its meta (the :class:`FeatureSpec` and windows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.config import Config
from anticipate.errors import DataError
from anticipate.features.spec import FeatureSpec
from anticipate.storage.files import DataSet

#: Columns of a training frame that are not features: keys, the cutoff and the labels.
NON_FEATURES = ("customer_id", "item", "region", "cutoff", "y", "units")


def windows_that_fit(until: pd.Timestamp, order_ts: pd.Series, horizon_days: int) -> int:
    """How many rolling-origin windows of ``horizon_days`` fit between the first cutoff and ``until``."""
    first_cutoff = dates.data_start(order_ts) + pd.Timedelta(days=1)
    return max(int((until - first_cutoff).days // horizon_days), 0)


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
    dates.check_until(until, ts, horizon_days, max(usable, 2))
    return until, usable


def split_windows(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training windows, validation window): the rows before the last cutoff, and at it."""
    last = frame["cutoff"].max()
    return frame[frame["cutoff"] < last], frame[frame["cutoff"] == last]


def check_labels(frame: pd.DataFrame, what: str) -> None:
    """Raise DataError when ``frame`` (named ``what`` in the message) has no rows or a single class."""
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


def downsample(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most ``limit`` rows of ``frame``, drawn without replacement (seeded), in their order."""
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


def model_meta(cfg: Config, until: pd.Timestamp, frame: pd.DataFrame) -> dict[str, Any]:
    """What a model was trained with: its :class:`FeatureSpec` (see ``to_meta``), ``until`` and windows."""
    return {
        **FeatureSpec.from_config(cfg).to_meta(),
        "until": dates.fmt(until),
        "train_cutoffs": [dates.fmt(c) for c in sorted(frame["cutoff"].unique())],
    }


def fit_on_windows(cfg: Config, ds: DataSet, until: pd.Timestamp) -> Fitted:
    """Build the training windows before ``until`` and fit the next-purchase model (pure after loading).

    Raises DataError when a window has no candidates or a single class.
    """
    from anticipate.features.build import build_training_set
    from anticipate.models.next_purchase import NextPurchaseModel

    spec = FeatureSpec.from_config(cfg)
    frame = build_training_set(ds.orders, until, spec, windows=cfg.model.train_windows, products=ds.products)
    train, val = split_windows(frame)
    check_labels(train, "training windows")
    check_labels(val, "validation window")
    train = downsample(train, cfg.model.max_train_pairs, cfg.model.seed)
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
