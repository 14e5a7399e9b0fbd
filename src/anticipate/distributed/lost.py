"""A Dask worker lost mid-run, told as such (audit28 f11): not 'FutureCancelledError ... This is a bug'.

A worker dies when it goes over its memory limit (the nanny kills and restarts it), when something kills
it, or when its machine goes; Dask then raises one of several errors on the client, depending on what the
lost worker held: ``KilledWorker`` (a task killed every worker it ran on), ``FutureCancelledError`` (a
result only that worker held, such as scattered data), ``CommClosedError`` (the connection went). Each
becomes :class:`ClusterLost` (exit 3) naming the worker(s), ``compute.memory_limit`` and what to do.
"""

from __future__ import annotations

from typing import Any

from anticipate.config import ComputeConfig
from anticipate.errors import ServiceUnavailable


class ClusterLost(ServiceUnavailable):
    """A Dask worker (or the scheduler) was lost while the command ran (exit 3)."""


def lost_errors() -> tuple[type[BaseException], ...]:
    """The exception types with which Dask reports a lost worker or connection on the client."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return (KilledWorker, CancelledError, CommClosedError)


def workers_now(client: Any) -> set[str]:
    """The worker addresses the scheduler knows now; empty when it cannot be asked."""
    try:
        return set(client.sync(client.scheduler.identity, n_workers=-1)["workers"])
    except Exception:  # the scheduler itself may be gone: nothing to name then
        return set()


def cluster_lost(exc: BaseException, compute: ComputeConfig, before: set[str],
                 after: set[str]) -> ClusterLost:
    """The one-paragraph :class:`ClusterLost` for Dask's ``exc``; ``before``/``after``: worker addresses at
    the start and now (the ones gone are named; a restarted worker has a new address)."""
    from distributed import KilledWorker

    gone = sorted(before - after)
    if isinstance(exc, KilledWorker):
        gone = sorted(set(gone) | {exc.last_worker.address})
    who = f"worker {', '.join(gone)}" if gone else "a worker"
    said = (str(exc).splitlines() or [""])[0][:200] or "no message"
    limit = f"compute.memory_limit {compute.memory_limit!r} per worker"
    if compute.scheduler != "local-cluster":  # 'dask worker --memory-limit' sets a tcp cluster's limit
        limit = f"the --memory-limit its 'dask worker' was started with; {limit} is for local-cluster"
    return ClusterLost(
        f"the Dask cluster lost {who} while this command ran ({type(exc).__name__}: {said}); a worker dies "
        f"when it goes over its memory limit ({limit}: Dask's nanny kills it at 95 %) or when it is killed "
        "or its machine goes, and what it held is lost; nothing was published and earlier outputs are as "
        "they were. Raise compute.memory_limit (or add workers), split the orders into more, smaller "
        "partitions (compute.partitions, then re-run 'anticipate ingest'), and check the worker's log (the "
        "nanny logs 'exceeded 95% memory budget' when memory was the cause); then re-run the command")
