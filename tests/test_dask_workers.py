"""The Dask path against workers that see other files or die (audit28 f07, f11): real ``dask scheduler`` /
``dask worker`` processes and a real LocalCluster, no mocks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from anticipate.config import ComputeConfig
from anticipate.distributed.cluster import dask_client, orders_on_cluster, part_fingerprint, read_checked_part
from anticipate.distributed.schedule import build_features_dask
from anticipate.errors import DataError
from anticipate.features.build import build_features
from anticipate.storage.files import load_dataset
from anticipate.storage.layout import write_customer_layout
from tests.conftest import VENV_BIN, free_port

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
pytestmark = pytest.mark.dask


def _shop(root: Path, orders: pd.DataFrame) -> Path:
    """A data directory ``root/shop`` with the sample's tables, ``orders`` and a 3-partition layout."""
    shop = root / "shop"
    shop.mkdir(parents=True)
    for name in ("products", "regions", "warehouses", "supply"):
        shutil.copy(SAMPLE / f"{name}.parquet", shop / f"{name}.parquet")
    orders.to_parquet(shop / "orders.parquet", index=False)
    write_customer_layout(shop / "orders.parquet", shop / "orders", 3)
    return shop


@pytest.fixture(scope="module")
def two_shops(tmp_path_factory):
    """``client/shop`` (the sample) and ``worker/shop`` (another shop: a third of its customers)."""
    root = tmp_path_factory.mktemp("shops")
    orders = pd.read_parquet(SAMPLE / "orders.parquet")
    _shop(root / "client", orders)
    few = orders["customer_id"].drop_duplicates().iloc[::3]
    _shop(root / "worker", orders[orders["customer_id"].isin(few)].reset_index(drop=True))
    return root


@pytest.fixture(scope="module")
def tcp_cluster(two_shops):
    """A ``dask scheduler`` and one ``dask worker`` (1 thread) started in ``worker/``, which holds another
    shop at the relative path ``shop``; yields the scheduler's address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--dashboard-address", ":0"], **quiet)
    worker = subprocess.Popen([str(VENV_BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads",
                               "1", "--memory-limit", "1GB", "--dashboard-address", ":0"],
                              cwd=two_shops / "worker", **quiet)
    try:
        from distributed import Client

        with Client(address, timeout="60s") as probe:
            probe.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            proc.wait(timeout=30)


def test_a_relative_data_dir_reaches_tcp_workers_as_the_clients_absolute_path(two_shops, tcp_cluster,
                                                                               monkeypatch):
    """audit28 f07: the worker opened ``shop/orders/part=K`` in its own directory (another shop's there)
    and the features came from 2,095 pairs instead of 2,982, exit 0."""
    monkeypatch.chdir(two_shops / "client")
    ds = load_dataset(Path("shop"))
    compute = ComputeConfig(engine="dask", scheduler=tcp_cluster)
    cutoff = pd.Timestamp(ds.orders["order_ts"].max()).normalize() - pd.Timedelta(days=28)
    local = build_features(ds.orders, cutoff, lookback_days=365, item_level="sku", products=ds.products)
    with dask_client(compute) as client:
        parts, source = orders_on_cluster(client, compute, ds)
        remote = build_features_dask(client, parts, cutoff, lookback_days=365, item_level="sku",
                                     products=ds.products)
    assert source == "layout" and len(local) > 1000
    pd.testing.assert_frame_equal(remote, local)


def test_a_worker_that_sees_another_file_at_the_path_fails_naming_itself(two_shops, tcp_cluster):
    """The same absolute path holding other bytes on a worker's machine: a DataError (exit 2) naming the
    worker's host and address, the path and the fix, not other orders in the features."""
    from distributed import Client

    ours = two_shops / "client" / "shop" / "orders" / "part=1" / "part-0.parquet"
    theirs = two_shops / "worker" / "shop" / "orders" / "part=1" / "part-0.parquet"
    rows = len(pd.read_parquet(ours))
    with Client(tcp_cluster, timeout="30s") as client:
        assert len(client.submit(read_checked_part, str(ours), rows, part_fingerprint(ours)).result()) == rows
        wrong = client.submit(read_checked_part, str(theirs), rows, part_fingerprint(ours), pure=False)
        with pytest.raises(DataError, match=r"a Dask worker on host \S+ \(tcp://127\.0\.0\.1:\d+\) read "
                           r".*part=1.*which does not match the data the client loaded \(another file\): "
                           r"the workers must see the same files at the same absolute path .*shared "
                           "filesystem"):
            wrong.result()
        missing = client.submit(read_checked_part, str(ours) + ".gone", rows, part_fingerprint(ours))
        with pytest.raises(DataError, match=r"\(it cannot open it: No such file or directory\)"):
            missing.result()
