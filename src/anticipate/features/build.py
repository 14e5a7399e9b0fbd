"""Point-in-time features at a cutoff, labels and rolling-origin training sets.

Features at cutoff ``t`` read only order lines with ``order_ts < t``: the history is
cut first, and every later step sees nothing else (the leakage test checks this).
The table is the one-partition case of :mod:`anticipate.features.partials`
(per-partition partials plus a join, which the Dask path runs over many
partitions); per-group sequential statistics run in
:mod:`anticipate.features._kernels`; the plain-pandas twin of the whole table is
:mod:`anticipate.features.reference`.

The builders take a :class:`~anticipate.features.spec.FeatureSpec` or its fields as
keywords (``lookback_days=...``, ``item_level=...``, ``families=...``, and
``horizon_days=...`` for labels).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.features import partials as engine
from anticipate.features.history import item_column
from anticipate.features.join import join
from anticipate.features.spec import (
    ALL_FAMILIES,
    CUSTOMER_WINDOWS,
    FAMILY_PREFIX,
    FEATURE_DOCS,
    KEYS,
    PAIR_WINDOWS,
    FeatureSpec,
    feature_columns,
    resolve_spec,
)

__all__ = [  # the names below are defined in spec.py and history.py and re-exported here
    "ALL_FAMILIES",
    "CUSTOMER_WINDOWS",
    "FAMILY_PREFIX",
    "FEATURE_DOCS",
    "KEYS",
    "PAIR_WINDOWS",
    "attach_labels",
    "build_features",
    "build_labels",
    "build_training_frame",
    "build_training_set",
    "feature_columns",
    "item_column",
    "iter_training_frames",
    "table_of",
    "training_cutoffs",
    "window_cutoffs",
]


def build_features(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    spec: FeatureSpec | None = None,
    *,
    products: pd.DataFrame | None = None,
    **fields: Any,
) -> pd.DataFrame:
    """One row per candidate pair at ``cutoff``: ``customer_id, item, region`` + feature columns.

    Candidates are the (customer, item) pairs with an order line in ``[cutoff - L, cutoff)``
    (L = ``spec.lookback_days``); ``region`` is the customer's ship-to region at their
    last order before the cutoff (the region of most units among the lines at that
    instant, ties to the first region id in sort order; never row order). Rows are sorted
    by ``customer_id, item``; columns follow :func:`feature_columns`. ``spec`` or its fields as keywords.

    Every line is grouped once by customer (a counting sort on integer codes); the
    pairs come from sorting each customer's lines by item, so the rows are born in
    (customer, item) order and no string ever gets sorted or joined.
    """
    spec = resolve_spec(spec, fields)
    cutoff = pd.Timestamp(cutoff)
    return table_of(engine.prepare(orders, cutoff, spec, products), cutoff, spec)


def table_of(prepared: engine.Prepared, cutoff: pd.Timestamp, spec: FeatureSpec) -> pd.DataFrame:
    """:func:`build_features` of one prepared partition (:func:`~anticipate.features.partials.prepare`).

    For a caller that frees what it no longer needs between the steps (the ``features``
    command drops the orders frame once :func:`~anticipate.features.history.history`
    cut the lines, and the lines once :func:`~anticipate.features.partials.prepare_history`
    read them: ~0.5 GB and ~0.4 GB at 10 M lines that the later steps would carry).
    """
    return join(prepared, engine.combine([prepared.partials]), pd.Timestamp(cutoff), spec)


def build_labels(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pairs that order in ``[cutoff, cutoff + H)``: ``customer_id, item, y (=1), units``."""
    cutoff = pd.Timestamp(cutoff)
    end = cutoff + pd.Timedelta(days=horizon_days)
    window = orders[(orders["order_ts"] >= cutoff) & (orders["order_ts"] < end)]
    frame = pd.DataFrame(
        {
            "customer_id": window["customer_id"].astype(str).to_numpy(),
            "item": item_column(window, item_level, products).to_numpy(),
            "units": window["quantity"].to_numpy(dtype=np.float64),
        }
    )
    labels = frame.groupby(["customer_id", "item"], as_index=False, sort=True)["units"].sum()
    labels.insert(2, "y", np.int8(1))
    return labels


def attach_labels(
    features: pd.DataFrame,
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    spec: FeatureSpec,
    products: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``features`` with labels ``y`` (0/1), ``units`` (0 when no order) in the horizon and ``cutoff``.

    ``orders`` must hold the whole history of the customers of ``features`` (all
    orders, or their partition); the horizon is ``spec.horizon`` days from ``cutoff``.
    """
    labels = build_labels(
        orders, cutoff, horizon_days=spec.horizon, item_level=spec.item_level, products=products
    )
    # the labels are looked up by the keys alone: merging the whole table would copy every feature
    found = features[["customer_id", "item"]].merge(labels, on=["customer_id", "item"], how="left")
    frame = features.copy(deep=False)  # new columns, the feature block shared (never written)
    frame["y"] = found["y"].fillna(0).astype(np.int8).to_numpy()
    frame["units"] = found["units"].fillna(0.0).to_numpy()
    frame["cutoff"] = pd.Timestamp(cutoff)
    return frame


def build_training_frame(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    spec: FeatureSpec | None = None,
    *,
    products: pd.DataFrame | None = None,
    **fields: Any,
) -> pd.DataFrame:
    """Features at ``cutoff`` with labels ``y`` (0/1) and ``units`` (0 when no order) and ``cutoff``.

    ``spec`` (with a horizon) or its fields as keywords.
    """
    spec = resolve_spec(spec, fields)
    feats = build_features(orders, cutoff, spec, products=products)
    return attach_labels(feats, orders, cutoff, spec, products)


#: Days from a training cutoff back to the same weekday last year (52 weeks): the year-ago windows.
YEAR_AGO_SHIFT_DAYS = 364


def training_cutoffs(
    until: pd.Timestamp,
    horizon_days: int,
    windows: int,
    *,
    year_ago: int = 0,
    not_before: pd.Timestamp | None = None,
) -> list[pd.Timestamp]:
    """Window cutoffs, oldest first (the last validates): ``until - k*H`` for ``k = windows..1``,
    after ``year_ago`` windows of the same season last year.

    The year-ago cutoffs are ``until - 364 + j*H`` for ``j = -(year_ago // 2) ..``, ``year_ago``
    of them (so the season the model forecasts, and the weeks around it, as they were a year
    before, weekday kept): they let a model learn what the time of year did, which the
    recent windows alone never show. Year-ago cutoffs at or after the first recent one,
    or at or before ``not_before`` (the history's first instant: no history), are dropped.
    """
    until = pd.Timestamp(until)
    recent = [until - pd.Timedelta(days=horizon_days * k) for k in range(windows, 0, -1)]
    anchor = until - pd.Timedelta(days=YEAR_AGO_SHIFT_DAYS)
    steps = range(-(year_ago // 2), year_ago - year_ago // 2)
    earlier = [anchor + pd.Timedelta(days=horizon_days * j) for j in steps]
    earlier = [t for t in earlier if t < recent[0] and (not_before is None or t > not_before)]
    return earlier + recent


def window_cutoffs(
    orders: pd.DataFrame, until: pd.Timestamp, horizon_days: int, windows: int, *, year_ago: int = 0
) -> list[pd.Timestamp]:
    """The training cutoffs of ``orders``: :func:`training_cutoffs`, no year-ago one before its history.

    The history before ``until`` starts where :func:`anticipate.dates.history_start` says: a line
    before four weeks without any order (a mistyped year) is not its start.
    """
    start = None
    if year_ago:
        start = dates.history_start(orders["order_ts"], pd.Timestamp(until)).first
        start = pd.Timestamp(until) if start is None else start  # no history: no year-ago window
    return training_cutoffs(until, horizon_days, windows, year_ago=year_ago, not_before=start)


def iter_training_frames(
    orders: pd.DataFrame,
    until: pd.Timestamp,
    spec: FeatureSpec | None = None,
    *,
    windows: int,
    year_ago: int = 0,
    products: pd.DataFrame | None = None,
    **fields: Any,
) -> Iterator[pd.DataFrame]:
    """The rolling-origin training frames one at a time, oldest cutoff first (the last validates).

    Each frame is built only when the caller asks for the next one, so a caller that
    shrinks or drops a window holds one full window in memory at a time. ``spec`` (with
    a horizon) or its fields as keywords; the cutoffs are :func:`training_cutoffs` of
    ``windows`` and ``year_ago`` (those with some history before them).
    """
    spec = resolve_spec(spec, fields)
    for t in window_cutoffs(orders, until, spec.horizon, windows, year_ago=year_ago):
        yield build_training_frame(orders, t, spec, products=products)


def build_training_set(
    orders: pd.DataFrame,
    until: pd.Timestamp,
    spec: FeatureSpec | None = None,
    *,
    windows: int,
    products: pd.DataFrame | None = None,
    **fields: Any,
) -> pd.DataFrame:
    """Rolling-origin training frames concatenated (every label lies before ``until``).

    ``spec`` (with a horizon) or its fields as keywords; ``windows`` cutoffs, see
    :func:`training_cutoffs`. Training itself streams :func:`iter_training_frames`.
    """
    frames = iter_training_frames(orders, until, spec, windows=windows, products=products, **fields)
    return pd.concat(list(frames), ignore_index=True)
