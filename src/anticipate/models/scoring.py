"""Scoring with a loaded model: rebuild the features it was trained with, then score them.

A loaded model (the registered pyfunc wrapper) carries ``meta``, whose
:class:`~anticipate.features.spec.FeatureSpec` (:func:`spec_of`) says how its
features are built; ``feature_names`` and ``predict`` do the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from anticipate import dates
from anticipate.errors import DataError
from anticipate.features.spec import KEYS, FeatureSpec
from anticipate.storage.files import DataSet


def spec_of(wrapper: Any) -> FeatureSpec:
    """The feature spec a loaded model was trained with (from its meta; older models' flat keys too)."""
    return FeatureSpec.from_meta(wrapper.meta)


#: The configuration keys a trained model fixes for every later command, by feature spec field.
SPEC_KEYS = {"horizon_days": "time.horizon_days", "lookback_days": "time.lookback_days",
             "item_level": "model.item_level", "families": "features.families"}


#: A model trained on orders that end more than this many days before the date it scores at is
#: reported as old: its customers, items and season have moved on since.
OLD_MODEL_DAYS = 90


def age_warnings(wrapper: Any, date: pd.Timestamp) -> list[str]:
    """A warning when the loaded model's training data (meta ``until``) ends more than
    :data:`OLD_MODEL_DAYS` days before ``date`` (the cutoff it scores at); none without ``until``."""
    until = wrapper.meta.get("until")
    if until is None:
        return []
    age = (pd.Timestamp(date) - pd.Timestamp(until)).days
    if age <= OLD_MODEL_DAYS:
        return []
    return [f"the model was trained on orders up to {until}, {age} days before {dates.fmt(date)} (more "
            f"than {OLD_MODEL_DAYS}): customers, items and seasons have moved since; retrain it (anticipate "
            f"train, evaluate, promote)"]


def spec_warnings(wrapper: Any, cfg: Any) -> list[str]:
    """One warning per key of :data:`SPEC_KEYS` where the config (``cfg``) differs from what the loaded
    model was trained with: the model's value is used (its features must be rebuilt as trained), so a
    changed horizon or lookback in the config does nothing until the model is retrained."""
    model, config = spec_of(wrapper), FeatureSpec.from_config(cfg)
    out = []
    for field, key in SPEC_KEYS.items():
        used, asked = getattr(model, field), getattr(config, field)
        if field == "families":
            used, asked = sorted(used), sorted(asked)
        if used != asked:
            out.append(f"{key} is {asked} in the config but the model was trained with {used}, which is "
                       f"used; retrain (anticipate train, then promote) to use {asked}")
    return out


def as_trained(cfg: Any, wrapper: Any) -> Any:
    """``cfg`` with the keys of :data:`SPEC_KEYS` set to the loaded model's values: what a run scored
    with that model logs as its params, so ``runs compare`` sees the task the model was scored on, not
    the config's (a category/14-day model evaluated under a sku/7-day config was logged as sku/7)."""
    spec = spec_of(wrapper)
    time = cfg.time.model_copy(update={"horizon_days": spec.horizon, "lookback_days": spec.lookback_days})
    model = cfg.model.model_copy(update={"item_level": spec.item_level})
    features = cfg.features.model_copy(update={"families": list(spec.families)})
    return cfg.model_copy(update={"time": time, "model": model, "features": features})


def model_warnings(wrapper: Any, cfg: Any, date: pd.Timestamp, ds: DataSet) -> list[str]:
    """What a command scoring with a loaded model at ``date`` on ``ds`` warns about: data other than the
    model's training data (:func:`data_warnings`), the config against the model's spec
    (:func:`spec_warnings`) and the model's age (:func:`age_warnings`)."""
    return data_warnings(wrapper.meta, ds) + spec_warnings(wrapper, cfg) + age_warnings(wrapper, date)


def data_warnings(meta: dict[str, Any], ds: DataSet) -> list[str]:
    """The one warning that a model scores data other than what it was trained on (audit28 F09: a model
    trained on one shop planned another's night without a word): when the data directory ``ds`` is not
    the model's training directory (meta ``data_dir``, absolute) and its content differs too (meta
    ``data_digest``; a copy of the training data elsewhere is the same data). Nothing for a model
    trained before these keys were recorded, nor for new data ingested into the training directory."""
    trained_dir, trained_digest = meta.get("data_dir"), meta.get("data_digest")
    here = Path(ds.path).resolve()
    if not trained_dir or Path(trained_dir) == here or trained_digest == ds.digest:
        return []
    return [f"the model was trained on the data directory {trained_dir} (digest {str(trained_digest)[:12]}), "
            f"but this command reads {here} (digest {ds.digest[:12]}), other data: its customers, products "
            f"and demand may not be those the model learnt; pass --data {trained_dir}, or train a model on "
            f"this data (anticipate train --data {ds.path}, then promote it)"]


def score_frame(wrapper: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Score a features frame with a loaded model: keys plus p_buy, units_given_buy, expected_units.

    Raises DataError when the frame lacks a feature the model expects.
    """
    missing = [c for c in wrapper.feature_names if c not in frame.columns]
    if missing:
        raise DataError(
            f"the model expects features {missing[:5]} that the data does not produce; "
            "it was trained with other feature families: retrain with 'anticipate train'"
        )
    scores = wrapper.predict(None, frame)
    keys = frame[list(KEYS)].reset_index(drop=True)
    return pd.concat([keys, scores.reset_index(drop=True)], axis=1)


def features_for(wrapper: Any, ds: DataSet, cutoff: pd.Timestamp, *, with_labels: bool) -> pd.DataFrame:
    """Rebuild, at ``cutoff``, exactly the features the model was trained with (its spec).

    With ``with_labels`` the frame also has ``y``, ``units`` and ``cutoff`` over the
    model's horizon. Raises DataError when there is no candidate pair.
    """
    from anticipate.features.build import build_features, build_training_frame

    spec = spec_of(wrapper)
    build = build_training_frame if with_labels else build_features
    frame = build(ds.orders, cutoff, spec, products=ds.products)
    if frame.empty:
        raise DataError(no_candidates(ds.orders["order_ts"], cutoff, spec.lookback_days))
    return frame


def no_candidates(order_ts: pd.Series, cutoff: pd.Timestamp, lookback_days: int,
                  whose: str = "the model's") -> str:
    """Why no (customer, item) pair is a candidate at ``cutoff`` (no order line in the model's
    ``lookback_days`` before it), and the dates that have some: up to the last order before it plus the
    lookback (a date after the data's end: a later one has fewer, audit33B C2), or after the next order.
    ``whose``: whose ``time.lookback_days`` it is (a loaded model's, or the config's)."""
    days = dates.calendar_days(order_ts)
    at = (pd.Timestamp(cutoff) - _EPOCH).days
    before, after = days[days < at], days[days >= at]
    head = f"no candidate pairs at cutoff {dates.fmt(cutoff)}: "
    if not len(days):
        return head + "the orders hold no line; ingest the order history, then run the command again"
    later = f"from {_day(after[0] + 1)} on" if len(after) else ""
    if not len(before):
        return head + f"no order lies before it (the orders begin on {_day(after[0])}); pick a date {later}"
    last, lookback = int(before[-1]), f"{lookback_days} days before it ({whose} time.lookback_days)"
    window = f"from {_day(last + 1)} to {_day(last + lookback_days)}"
    if not len(after):
        return (head + f"no customer ordered in the {lookback}: the orders end on {_day(last)}, "
                f"{at - last} days before it; ingest the orders since, or pick a date {window}")
    return (head + f"no customer ordered in the {lookback}: the last order before it is on {_day(last)} "
            f"and the next on {_day(after[0])}; pick a date {window}, or {later}")


_EPOCH = pd.Timestamp("1970-01-01")


def _day(days_since_epoch: int) -> str:
    """YYYY-MM-DD of a day counted from 1970-01-01 (:func:`anticipate.dates.calendar_days`)."""
    return dates.fmt(_EPOCH + pd.Timedelta(days=int(days_since_epoch)))
