"""Training builds its windows one at a time: per-window down-sampling and float32 features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anticipate.config import Config, SampleConfig
from anticipate.features.build import build_training_set
from anticipate.features.spec import FeatureSpec
from anticipate.models.training import (
    NON_FEATURES,
    compact_features,
    feature_names,
    training_windows,
    window_share,
)
from anticipate.sample import generate_world
from anticipate.storage.files import DataSet


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tables, _ = generate_world(SampleConfig(customers=400, skus=40, days=200))
    ds = DataSet(tmp_path_factory.mktemp("w"), tables["orders"], tables["products"], None, None, None, "x")
    until = pd.Timestamp(tables["orders"]["order_ts"].max()).normalize() - pd.Timedelta(days=7)
    return ds, until


def _cfg(limit: int) -> Config:
    return Config.model_validate({"model": {"train_windows": 4, "max_train_pairs": limit}})


def _full(ds: DataSet, until: pd.Timestamp, cfg: Config) -> pd.DataFrame:
    spec = FeatureSpec.from_config(cfg)
    return build_training_set(ds.orders, until, spec, windows=cfg.model.train_windows, products=ds.products)


def test_window_share_splits_what_is_left_evenly() -> None:
    assert window_share(900, 0, 3) == 300
    assert window_share(900, 100, 2) == 400  # a small early window leaves its rest to later ones
    assert window_share(900, 900, 1) == 0


def test_validation_window_is_kept_whole_and_each_window_keeps_at_most_its_share(world) -> None:
    ds, until = world
    cfg = _cfg(1000)
    full = _full(ds, until, cfg)
    last = full["cutoff"].max()
    sizes = full[full["cutoff"] < last].groupby("cutoff").size().sort_index()
    assert sizes.sum() > 1000, "the world must be larger than the limit for this test"
    train, val = training_windows(cfg, ds, until)
    assert len(val) == int((full["cutoff"] == last).sum())
    assert (val["cutoff"] == last).all()
    kept = train.groupby("cutoff").size().reindex(sizes.index, fill_value=0)
    rows = 0
    for k, (cutoff, n) in enumerate(sizes.items()):
        share = window_share(1000, rows, len(sizes) - k)
        assert kept[cutoff] == min(n, share), (cutoff, n, share)
        rows += kept[cutoff]
    assert len(train) <= 1000


def test_per_window_down_sampling_is_deterministic_and_a_subset(world) -> None:
    ds, until = world
    a, _ = training_windows(_cfg(1000), ds, until)
    b, _ = training_windows(_cfg(1000), ds, until)
    pd.testing.assert_frame_equal(a, b)
    other = Config.model_validate({"model": {"train_windows": 4, "max_train_pairs": 1000, "seed": 8}})
    c, _ = training_windows(other, ds, until)
    assert not a[["customer_id", "item", "cutoff"]].equals(c[["customer_id", "item", "cutoff"]])
    full = compact_features(_full(ds, until, _cfg(1000)))
    rows = a.merge(full, on=["customer_id", "item", "cutoff"], suffixes=("", "_full"))
    assert len(rows) == len(a)  # every kept row is a row of its window, with the same values
    np.testing.assert_array_equal(rows["y"], rows["y_full"])


def test_nothing_is_dropped_under_the_limit_and_features_are_float32(world) -> None:
    ds, until = world
    cfg = _cfg(10_000_000)
    full = _full(ds, until, cfg)
    train, val = training_windows(cfg, ds, until)
    last = full["cutoff"].max()
    expected = compact_features(full[full["cutoff"] < last]).reset_index(drop=True)
    pd.testing.assert_frame_equal(train, expected)
    assert all(train[c].dtype == np.float32 for c in feature_names(train))
    for c in NON_FEATURES:
        assert val[c].dtype == full[c].dtype, c
