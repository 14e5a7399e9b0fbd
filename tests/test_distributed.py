"""Scale-out on Dask (issue 6) against a real 2-worker, process-based distributed.LocalCluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anticipate.config import ComputeConfig
from anticipate.distributed import (
    build_features_dask,
    dask_client,
    partition_of,
    partition_orders,
    read_partitioned_orders,
    write_partitioned_orders,
)
from anticipate.errors import ServiceUnavailable
from anticipate.features.build import build_features
from anticipate.io import load_dataset

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def client():
    compute = ComputeConfig(engine="dask", n_workers=2, threads_per_worker=1, memory_limit="1GB")
    with dask_client(compute) as c:
        yield c


@pytest.fixture(scope="module")
def sample():
    return load_dataset(SAMPLE)


def test_partitions_keep_each_customer_whole_and_are_stable(sample):
    parts = partition_orders(sample.orders, 5)
    assert sum(len(p) for p in parts) == len(sample.orders)
    owners = pd.concat([p[["customer_id"]].assign(k=k) for k, p in enumerate(parts)]).drop_duplicates()
    assert owners["customer_id"].is_unique
    ids = pd.Series(["c1", "c2", "c3"])
    assert np.array_equal(partition_of(ids, 7), partition_of(ids.copy(), 7))


def test_partitioned_parquet_roundtrip(tmp_path, sample):
    orders = sample.orders.head(2000)
    write_partitioned_orders(orders, tmp_path / "orders", 3)
    back = read_partitioned_orders(tmp_path / "orders")
    assert len(back) <= 3 and sum(len(p) for p in back) == len(orders)
    for i, p in enumerate(back):
        assert not any(p["customer_id"].isin(q["customer_id"]).any() for q in back[i + 1 :])


def test_dask_features_equal_local_features(client, sample):
    cutoff = pd.Timestamp(sample.orders["order_ts"].max()).normalize() - pd.Timedelta(days=28)
    kw = dict(lookback_days=365, item_level="sku", products=sample.products)
    local = build_features(sample.orders, cutoff, **kw)
    parts = client.scatter(partition_orders(sample.orders, 4))
    remote = build_features_dask(client, parts, cutoff, **kw)
    assert len(local) > 1000
    pd.testing.assert_frame_equal(remote, local)


def test_unreachable_scheduler_is_service_unavailable():
    compute = ComputeConfig(engine="dask", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ServiceUnavailable, match="unreachable"), dask_client(compute):
        pass


def test_lightgbm_dask_model_matches_the_local_model_auc(client, tmp_path):
    from anticipate.config import Config, SampleConfig
    from anticipate.distributed import downsample, train_dask, training_set_dask
    from anticipate.features.build import training_cutoffs
    from anticipate.io import DataSet
    from anticipate.metrics import classification_metrics
    from anticipate.models.next_purchase import NextPurchaseModel
    from anticipate.pipelines.model import feature_names, fit_on_windows
    from anticipate.sample import generate_world

    tables, _ = generate_world(SampleConfig(customers=1500, skus=80, days=300))
    ds = DataSet(tmp_path, tables["orders"], tables["products"], None, None, None, "x")
    cfg = Config.model_validate(
        {"model": {"train_windows": 3, "classifier": {"n_estimators": 100, "learning_rate": 0.1}}}
    )
    until = pd.Timestamp(tables["orders"]["order_ts"].max()).normalize() - pd.Timedelta(days=7)
    local = fit_on_windows(cfg, ds, until)
    auc_local = classification_metrics(local.val["y"].to_numpy(), local.model.predict_proba(local.val))["auc"]

    cutoffs = training_cutoffs(until, cfg.time.horizon_days, cfg.model.train_windows)
    kw = dict(lookback_days=cfg.time.lookback_days, item_level="sku", products=ds.products)
    parts = client.scatter(partition_orders(ds.orders, 4))
    train = training_set_dask(client, parts, cutoffs[:-1], horizon_days=cfg.time.horizon_days, **kw)
    val = build_features_dask(client, parts, cutoffs[-1], horizon_days=cfg.time.horizon_days, **kw)
    pd.testing.assert_frame_equal(val, local.val.reset_index(drop=True))
    sample, n = downsample(train, 5000, seed=0)
    assert n == len(local.frame) - len(local.val) and 4000 < len(sample) < 6000
    features = feature_names(val)
    model = train_dask(client, train, sample, val, features, NextPurchaseModel.from_config(cfg.model),
                       listen_port=12710)
    assert type(model.classifier_).__name__ == "LGBMClassifier"  # an ordinary local model
    assert model.classifier_.n_estimators == model.rounds_["classifier"] == model.best_iteration_
    auc_dask = classification_metrics(val["y"].to_numpy(), model.predict_proba(val))["auc"]
    assert abs(auc_dask - auc_local) <= 0.01, (auc_dask, auc_local)


DASK_CONFIG = """
model:
  train_windows: 3
  classifier: {n_estimators: 60, learning_rate: 0.1}
  regressor: {n_estimators: 30, learning_rate: 0.1}
compute: {n_workers: 2, threads_per_worker: 1, memory_limit: 1GB, partitions: 4}
"""


def test_train_and_allocate_with_scheduler_local_cluster(tmp_path):
    import json

    from tests.conftest import run_cli

    (tmp_path / "dask.yaml").write_text(DASK_CONFIG)
    sample_args = ("sample", "--out", "data", "--customers", "700", "--skus", "50", "--days", "300")
    done = run_cli(*sample_args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    base = ("--json", "--data", "data", "--config", "dask.yaml")
    trained = run_cli(*base, "train", "--scheduler", "local-cluster", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    # Dask worker processes may write LightGBM log lines to the inherited stdout; the JSON is the last
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    assert result["metrics"]["val.auc"] > 0.7, trained.stdout[:2000]
    assert run_cli(*base, "promote", "latest", "--alias", "production", cwd=tmp_path).returncode == 0
    done = run_cli(*base, "allocate", "--date", "2024-10-27", "--allow-stale", "--scheduler", "local-cluster",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    plan = pd.read_parquet(tmp_path / "plans" / "2024-10-27" / "plan.parquet")
    summary = json.loads((tmp_path / "plans" / "2024-10-27" / "summary.json").read_text())
    assert len(plan) > 0 and summary["bound"] >= summary["objective"] > 0
