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
from tests.test_distributed import assert_features_match

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
    assert_features_match(remote, local)


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


# --------------------------------------------------------------------------- lost workers (audit28 f11)
def _die(_: int) -> None:
    """A task that kills its own worker process, as the nanny's memory limit or a ``kill -9`` does."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


LOST = (r"the Dask cluster lost worker tcp://127\.0\.0\.1:\d+ while this command ran \({}: .*\); a worker "
        r"dies when it goes over its memory limit \(compute\.memory_limit '1GB' per worker: .*Raise "
        r"compute\.memory_limit .*more, smaller partitions .*check the worker's log")


def test_a_task_that_kills_its_workers_is_cluster_lost_exit_3():
    """audit28 f11: exit 1 'unexpected failure: ... This is a bug' when a worker died (KilledWorker here)."""
    import dask
    import distributed  # noqa: F401  (its defaults enter dask.config on import; set() must not hide them)

    from anticipate.distributed.lost import ClusterLost

    compute = ComputeConfig(engine="dask", n_workers=2, threads_per_worker=1, memory_limit="1GB")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            pytest.raises(ClusterLost, match=LOST.format("KilledWorker")) as caught, \
            dask_client(compute) as client:  # the first death is final
        client.submit(_die, 1).result()
    assert caught.value.exit_code == 3


def test_a_worker_lost_with_the_only_copy_of_its_data_is_cluster_lost():
    """A killed worker that held scattered partitions (a data directory without the layout):
    FutureCancelledError on the client, the same exit 3 naming that worker."""
    import os
    import signal

    from anticipate.distributed.lost import ClusterLost

    compute = ComputeConfig(engine="dask", n_workers=2, threads_per_worker=1, memory_limit="1GB")
    with pytest.raises(ClusterLost, match=LOST.format("FutureCancelledError")) as caught, \
            dask_client(compute) as client:
        [part] = client.scatter([pd.DataFrame({"x": [1, 2]})])
        [holder] = client.who_has(part)[part.key]
        os.kill(client.run(os.getpid, workers=[holder])[holder], signal.SIGKILL)
        client.gather(part)
    assert holder in str(caught.value)


KILLER = '''
import os
import signal

from distributed import WorkerPlugin


class DieOnTask(WorkerPlugin):
    """Kill this worker process (SIGKILL, as the OOM killer or 'kill -9') as soon as a task starts."""

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing":
            os.kill(os.getpid(), signal.SIGKILL)


async def dask_setup(worker):
    await worker.plugin_add(DieOnTask())
'''


def test_cli_on_a_cluster_whose_worker_dies_exits_3_and_keeps_the_previous_output(two_shops, tmp_path):
    """audit28 f11 end to end: a real 'dask scheduler' (no retries) and a 'dask worker' that dies on its first
    task; 'features' exits 3 with the one paragraph (no 'This is a bug') and the earlier output stays."""
    import json
    import os

    from tests.conftest import run_cli

    (tmp_path / "killer.py").write_text(KILLER)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    env = os.environ | {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    scheduler = subprocess.Popen([str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--dashboard-address", ":0"], env=env, **quiet)
    worker = subprocess.Popen([str(VENV_BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads",
                               "1", "--memory-limit", "1GB", "--dashboard-address", ":0", "--preload",
                               str(tmp_path / "killer.py")], cwd=tmp_path, **quiet)
    shop = two_shops / "client" / "shop"
    out = tmp_path / "f.parquet"
    try:
        from distributed import Client

        with Client(address, timeout="60s") as probe:
            probe.wait_for_workers(1, timeout=60)
        args = ("--json", "features", "--data", str(shop), "--cutoff", "2025-12-01", "--out", str(out))
        assert run_cli(*args, cwd=tmp_path).returncode == 0  # the previous output, made locally
        before = out.read_bytes()
        done = run_cli(*args, "--scheduler", address, cwd=tmp_path)
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            proc.wait(timeout=30)
    assert done.returncode == 3, done.stderr[-2000:]
    error = json.loads(done.stdout.strip().splitlines()[-1])["error"]
    assert "This is a bug" not in error and "--memory-limit its 'dask worker' was started with" in error
    assert error.startswith("the Dask cluster lost worker tcp://127.0.0.1:"), error
    assert out.read_bytes() == before  # nothing published over it


# --------------------------------------------------------------------------- worker memory chatter
HOG = '''
import sys
import time

from anticipate.cli._core import _configure_logging
from anticipate.config import ComputeConfig
from anticipate.distributed.cluster import dask_client

HELD = []


def hog(mib):
    """Hold ``mib`` MiB of unmanaged memory (not a Dask result) for 2.5 s: over the worker's spill
    threshold (70 % of 512 MiB), under its pause threshold (80 %)."""
    HELD.append(b"x" * (mib * 2**20))
    time.sleep(2.5)
    HELD.clear()
    return mib


if __name__ == "__main__":
    _configure_logging(int(sys.argv[1]))
    compute = ComputeConfig(engine="dask", n_workers=1, threads_per_worker=1, memory_limit="512MiB")
    with dask_client(compute) as client:
        base = client.run(lambda: __import__("psutil").Process().memory_info().rss)
        want = (int(0.75 * 512 * 2**20) - next(iter(base.values()))) // 2**20
        print("held", client.submit(hog, want).result(), file=sys.stderr)
'''


@pytest.mark.parametrize("verbosity", [0, 1])
def test_dask_worker_memory_advice_shows_only_with_v(tmp_path, verbosity):
    """audit28: 'Unmanaged memory use is high' (distributed.worker.memory) reached stderr without -v,
    though Dask's own log lines are hidden by default (docs/cli.md)."""
    import os
    import sys

    (tmp_path / "hog.py").write_text(HOG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_LOGGING")}
    done = subprocess.run([sys.executable, "hog.py", str(verbosity)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "held" in done.stderr, done.stderr[-3000:]
    assert ("Unmanaged memory use is high" in done.stderr) == (verbosity == 1), done.stderr[-3000:]
