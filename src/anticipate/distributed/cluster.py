"""The Dask cluster and data movement: the client, the customer partitions, tree reductions.

Orders are partitioned by a stable hash of ``customer_id`` so each customer's whole
history is in one partition (:func:`anticipate.storage.layout.partition_of`, the same split
``ingest`` writes). Nothing here defines a feature or a model.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from anticipate.config import ComputeConfig
from anticipate.errors import DataError, ServiceUnavailable, UsageError
from anticipate.storage.layout import partition_of, read_layout, read_part

TREE_FAN_IN = 8  # partial results added per task of a tree reduction
#: The smallest ``compute.memory_limit`` per worker, bytes: Dask pauses and kills smaller workers
#: before the first partition fits. Measured (distributed 2026.8, LocalCluster, 1 thread): an idle worker
#: holds 137 MiB RSS, 273 MiB once a task has imported pandas, LightGBM and the feature code, so 512 MiB
#: leaves ~140 MiB for data before Dask pauses the worker at 80 % (410 MiB); kept, not raised. A worker
#: that outgrows its limit anyway is a ClusterLost (exit 3) naming compute.memory_limit (distributed.lost).
MIN_WORKER_BYTES = 512 * 2**20


def check_compute(compute: ComputeConfig) -> None:
    """UsageError (exit 2) naming the key for a ``compute.scheduler`` that is neither 'local-cluster'
    nor tcp://HOST:PORT with a port in 1-65535, and a ``compute.memory_limit`` that is no size (Dask's
    ``parse_bytes``) nor 'auto', or under :data:`MIN_WORKER_BYTES` (before any cluster starts)."""
    from urllib.parse import urlsplit

    fix = "fix --scheduler or compute.scheduler in the config"
    if compute.scheduler != "local-cluster":
        try:
            parts = urlsplit(compute.scheduler)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme != "tcp" or not parts.hostname or not port or parts.path:
            raise UsageError(f"compute.scheduler is {compute.scheduler!r}: it must be 'local-cluster' or "
                             "tcp://HOST:PORT (the address 'dask scheduler' prints, e.g. "
                             f"tcp://10.0.0.5:8786); {fix}")
    size = _worker_bytes(compute)
    if size is None or size < MIN_WORKER_BYTES:
        what = "is no size" if size is None else f"is under {MIN_WORKER_BYTES // 2**20} MiB per worker"
        if size is not None and _auto(compute):
            what = f"gives {size / 2**20:,.0f} MiB per worker here, under {MIN_WORKER_BYTES // 2**20}"
        raise UsageError(f"compute.memory_limit {compute.memory_limit!r} {what}: give a size such as '6GB' "
                         f"or '1500MiB' per worker ({MIN_WORKER_BYTES // 2**20} MiB or more; Dask pauses and "
                         "kills smaller workers), or 'auto' (Dask shares the machine's memory among the "
                         "workers by their threads)")


def _auto(compute: ComputeConfig) -> bool:
    return compute.memory_limit.strip().lower() == "auto"


def _worker_bytes(compute: ComputeConfig) -> int | None:
    """The bytes per worker ``compute.memory_limit`` gives: a size (Dask's ``parse_bytes``), or 'auto', which
    Dask resolves as the machine's (or container's) memory times threads_per_worker / cores, capped at all
    of it; None when it is neither."""
    from dask.utils import parse_bytes

    if _auto(compute):
        from dask.system import CPU_COUNT
        from distributed.system import MEMORY_LIMIT

        return int(MEMORY_LIMIT * min(1.0, compute.threads_per_worker / max(CPU_COUNT, 1)))
    try:
        return int(parse_bytes(compute.memory_limit))
    except (ValueError, TypeError):
        return None


@contextlib.contextmanager
def dask_client(compute: ComputeConfig) -> Iterator[Any]:
    """A ``distributed.Client`` for ``compute.scheduler`` ('local-cluster' or tcp://HOST:PORT).

    'local-cluster' starts a process-based ``LocalCluster`` with ``n_workers`` x
    ``threads_per_worker`` and ``memory_limit`` per worker, closed on exit. Raises
    UsageError for another scheduler form and ServiceUnavailable when a tcp
    scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    check_compute(compute)
    if compute.scheduler == "local-cluster":
        with (
            LocalCluster(
                n_workers=compute.n_workers,
                threads_per_worker=compute.threads_per_worker,
                memory_limit="auto" if _auto(compute) else compute.memory_limit,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(_stdout_to_stderr)  # local workers inherit our stdout, which --json keeps clean
            with _lost_is_told(client, compute):
                yield client
        return
    start = "start it with 'dask scheduler' and workers with 'dask worker <address>', or use --scheduler " \
        "local-cluster"
    try:
        _probe_scheduler(compute.scheduler, compute.connect_seconds)
        client = Client(compute.scheduler, timeout=f"{compute.connect_seconds}s")
    except (OSError, TimeoutError) as exc:
        where = compute.scheduler
        raise ServiceUnavailable(f"the Dask scheduler at {where} is unreachable ({exc}); {start}") from exc
    with client, _lost_is_told(client, compute):
        yield client


@contextlib.contextmanager
def _lost_is_told(client: Any, compute: ComputeConfig) -> Iterator[None]:
    """Turn Dask's errors for a worker lost in the block into ClusterLost (exit 3, :mod:`.lost`),
    naming the worker and ``compute.memory_limit``."""
    from anticipate.distributed.lost import cluster_lost, lost_errors, workers_now

    before = workers_now(client)
    try:
        yield
    except lost_errors() as exc:
        raise cluster_lost(exc, compute, before, workers_now(client)) from exc


def _probe_scheduler(address: str, seconds: float) -> None:
    """Raise ServiceUnavailable (exit 3) within about ``seconds`` when something other than a Dask scheduler
    listens at ``address``; nothing when nobody listens (``Client`` retries then).

    Dask bounds the TCP connect by its timeout but not the handshake that follows: against a server that
    accepts and never answers in Dask's protocol (an HTTP server, e.g. the dashboard on 8787 typed for
    the scheduler's 8786) ``Client`` waits forever. The same handshake runs here under a deadline first.
    """
    import asyncio
    import socket
    import time
    from urllib.parse import urlsplit

    from distributed.comm import connect

    parts = urlsplit(address)
    began = time.monotonic()
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=seconds).close()
    except OSError:
        return  # nobody there (yet): Client retries for its timeout, then says unreachable

    async def handshake() -> None:
        comm = await connect(address, timeout=seconds)
        comm.abort()

    left = max(seconds - (time.monotonic() - began), 1.0)
    try:
        asyncio.run(asyncio.wait_for(handshake(), left))
    except Exception as exc:  # a timeout, a closed stream or garbage: no Dask scheduler speaks there
        raise ServiceUnavailable(
            f"something listens at {address} but it is not a Dask scheduler (no Dask handshake within "
            f"{seconds:g} s: {type(exc).__name__}); is it the Dask dashboard (port 8787; the scheduler's "
            "default is 8786) or another service? fix --scheduler or compute.scheduler to the address "
            "'dask scheduler' prints"
        ) from None


def _stdout_to_stderr() -> None:
    """On a worker: send Python prints (LightGBM's log lines) to stderr."""
    import sys

    sys.stdout = sys.stderr


def cluster_size(client: Any) -> dict[str, int]:
    """``{"dask_workers": n, "dask_threads": total threads}`` of the connected cluster."""
    ncores = client.ncores()
    return {"dask_workers": len(ncores), "dask_threads": int(sum(ncores.values()))}


def partition_orders(orders: pd.DataFrame, n_partitions: int) -> list[pd.DataFrame]:
    """Split order lines into ``n_partitions`` frames so each customer's history is in exactly one.

    Row order within a partition follows ``orders``; empty partitions are kept
    (the list always has ``n_partitions`` frames). The same split as the layout
    ``ingest`` writes (:func:`anticipate.storage.layout.write_customer_layout`).
    """
    part = partition_of(orders["customer_id"], n_partitions)
    return [orders[part == k].reset_index(drop=True) for k in range(n_partitions)]


def orders_on_cluster(client: Any, compute: ComputeConfig, ds: Any) -> tuple[list[Any], str]:
    """The customer partitions of the orders held on the workers, and where they came from.

    When the data directory has a customer layout (``ingest`` with
    ``compute.engine: dask``), each worker reads its partitions' Parquet files itself
    (by absolute path: the same files must be there on every worker, shared storage on a real
    cluster; each worker checks its file's footer digest and rows, :func:`read_checked_part`)
    and the client never holds the orders; the layout's partition count wins over
    ``compute.partitions``. Otherwise the client splits ``ds.orders`` and scatters
    the partitions. Returns ``(futures, "layout" | "scatter")``.
    """
    import dask

    from anticipate.storage.files import check_unchanged

    check_unchanged(ds)  # a directory published anew since ds was loaded has other partitions (or none)
    # absolute before it leaves this process: a worker opens a relative path in ITS working directory
    layout = read_layout(Path(os.path.abspath(ds.path)))
    if layout is None:
        return client.scatter(partition_orders(ds.orders, compute.partitions)), "scatter"
    reads = []
    for k in range(layout.partitions):
        path = layout.part_file(k)
        expect = (layout.part_rows[k], part_fingerprint(path))
        reads.append(dask.delayed(read_checked_part)(str(path), *expect))
    return client.compute(reads), "layout"


def part_fingerprint(path: str | Path) -> str:
    """A digest of a Parquet file's size and footer (its schema, row groups, offsets and column statistics):
    the same bytes give the same digest, another file almost surely another; reads the footer only."""
    import hashlib

    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(size - 8, 0))
        tail = fh.read(8)
        footer = int.from_bytes(tail[:4], "little") if len(tail) == 8 and tail[4:] == b"PAR1" else 0
        fh.seek(max(size - 8 - footer, 0))
        return hashlib.sha256(size.to_bytes(8, "little") + fh.read(footer + 8)).hexdigest()


def read_checked_part(path: str, rows: int, fingerprint: str) -> pd.DataFrame:
    """On a worker: partition ``path`` after checking it is the file the client loaded (``fingerprint``, see
    :func:`part_fingerprint`, and ``rows`` order lines); DataError (exit 2) naming the worker when not.

    A worker on another machine, or one whose directory holds another shop's data at that path, would
    otherwise feed other orders into the features with nothing said (audit28 f07).
    """
    try:
        seen = "another file" if part_fingerprint(path) != fingerprint else None
    except OSError as exc:
        seen = f"it cannot open it: {exc.strerror or type(exc).__name__}"
    frame = read_part(path) if seen is None else None
    if frame is not None and len(frame) != rows:
        seen = f"{len(frame):,} order lines where the client's layout has {rows:,}"
    if seen is not None:
        raise DataError(
            f"a Dask worker {_worker_name()} read {path}, which does not match the data the client loaded "
            f"({seen}): the workers must see the same files at the same absolute path as the client; use a "
            "shared filesystem mounted at that path on every worker machine (or --scheduler local-cluster)")
    return frame


def _worker_name() -> str:
    """'on host H (tcp://...)' for the worker running this task, 'on host H' outside one."""
    import socket

    from distributed import get_worker

    try:
        return f"on host {socket.gethostname()} ({get_worker().address})"
    except ValueError:
        return f"on host {socket.gethostname()}"


def as_parts(orders: Any) -> list[Any]:
    """Delayed partitions of a dask DataFrame, or a list of pandas frames or futures as given."""
    if isinstance(orders, list):
        return orders
    return list(orders.to_delayed())


def tree_reduce(func: Callable[..., Any], items: Sequence[Any], *args: Any) -> Any:
    """A delayed ``func(list, *args)`` over ``items`` (one or more), reduced :data:`TREE_FAN_IN` at a time.

    ``func`` must take a list of its own results as well as of ``items``; it is
    applied once more to the last single result.
    """
    import dask

    items = list(items)
    while len(items) > 1:
        step = TREE_FAN_IN
        items = [dask.delayed(func)(items[i : i + step], *args) for i in range(0, len(items), step)]
    return dask.delayed(func)(items, *args)


def sum_tables(tables: Sequence[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Row-wise sum of tables with the same columns, grouped by ``keys`` (index levels when empty list)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame()
    both = pd.concat(tables)
    if keys:
        return both.groupby(keys, as_index=False, sort=True).sum()
    return both.groupby(level=list(range(both.index.nlevels)), sort=True).sum()
