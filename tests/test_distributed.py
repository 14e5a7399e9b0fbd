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
    with dask_client(ComputeConfig(engine="dask", n_workers=2, threads_per_worker=1, memory_limit="1GB")) as c:
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
    assert all(p["customer_id"].isin(q["customer_id"]).sum() == 0 for i, p in enumerate(back) for q in back[i + 1 :])


def test_dask_features_equal_local_features(client, sample):
    cutoff = pd.Timestamp(sample.orders["order_ts"].max()).normalize() - pd.Timedelta(days=28)
    kw = dict(lookback_days=365, item_level="sku", products=sample.products)
    local = build_features(sample.orders, cutoff, **kw)
    parts = client.scatter(partition_orders(sample.orders, 4))
    remote = build_features_dask(client, parts, cutoff, **kw)
    assert len(local) > 1000
    pd.testing.assert_frame_equal(remote, local)


def test_unreachable_scheduler_is_service_unavailable():
    with pytest.raises(ServiceUnavailable, match="unreachable"):
        with dask_client(ComputeConfig(engine="dask", scheduler="tcp://127.0.0.1:1")):
            pass
