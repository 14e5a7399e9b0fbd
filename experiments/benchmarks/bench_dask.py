"""Scale-out on Dask (issue 6): the ~10M-line world on a 2-worker LocalCluster (6 GB per worker).

Cases (protocol of ``run.py``; ``seconds`` is the timed part):

* ``dask_features_10m``: features at one cutoff, partitioned by customer hash, item and
  region x item sums reduced on the cluster; beside ``features:features_10m`` (local).
* ``dask_end_to_end_10m`` / ``local_end_to_end_10m``: features for the training windows,
  training (lightgbm.dask with rounds from a local early-stopped sample vs the local
  model) and forecast scoring at the production cutoff.

``peak_rss_mb`` (run.py) is the driver process; ``worker_peak_rss_mb`` is the largest
peak RSS among the Dask workers (what the 6 GB limit applies to).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _worlds import big_orders, ensure_big_world

from anticipate.config import ComputeConfig, Config

COMPUTE = ComputeConfig(engine="dask", n_workers=2, threads_per_worker=1, memory_limit="6GB", partitions=16)


def _worker_peak_mb(client) -> float:
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    return float(max(peaks.values()))


def _cutoff(orders: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(orders["order_ts"].max()).normalize() + pd.Timedelta(days=1)


def dask_features_10m(workdir: Path) -> dict:
    from anticipate.distributed import build_features_dask, dask_client, partition_orders

    orders = big_orders(workdir)
    cutoff = _cutoff(orders)
    with dask_client(COMPUTE) as client:
        start = time.perf_counter()
        parts = client.scatter(partition_orders(orders, COMPUTE.partitions))
        table = build_features_dask(client, parts, cutoff, lookback_days=365)
        seconds = time.perf_counter() - start
        peak = _worker_peak_mb(client)
    return {
        "seconds": seconds,
        "order_lines": len(orders),
        "pairs": len(table),
        "partitions": COMPUTE.partitions,
        "lines_per_worker_s": len(orders) / seconds / COMPUTE.n_workers,
        "worker_peak_rss_mb": peak,
    }


def _end_to_end(workdir: Path, engine: str) -> dict:
    from anticipate.io import load_dataset
    from anticipate.pipelines.model import fit_on_windows, score_frame
    from anticipate.tracking import NextPurchasePyfunc

    ds = load_dataset(ensure_big_world(workdir))
    cfg = Config.model_validate({"compute": COMPUTE.model_dump() | {"engine": engine}})
    cutoff = _cutoff(ds.orders)
    until = cutoff - pd.Timedelta(days=cfg.time.horizon_days)
    start = time.perf_counter()
    if engine == "dask":
        from anticipate.distributed import fit_on_windows_dask, score_dask

        fitted = fit_on_windows_dask(cfg, ds, until)
        trained = time.perf_counter()
        scored = score_dask(cfg.compute, NextPurchasePyfunc(fitted.model, fitted.meta), ds, cutoff)
    else:
        from anticipate.features.build import build_features

        fitted = fit_on_windows(cfg, ds, until)
        trained = time.perf_counter()
        wrapper = NextPurchasePyfunc(fitted.model, fitted.meta)
        feats = build_features(ds.orders, cutoff, lookback_days=cfg.time.lookback_days, products=ds.products)
        scored = score_frame(wrapper, feats)
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "train_seconds": trained - start,
        "score_seconds": end - trained,
        "order_lines": len(ds.orders),
        "scored_pairs": len(scored),
        "best_iteration": int(fitted.model.best_iteration_),
    }


CASES = {
    "dask_features_10m": dask_features_10m,
    "dask_end_to_end_10m": lambda workdir: _end_to_end(workdir, "dask"),
    "local_end_to_end_10m": lambda workdir: _end_to_end(workdir, "local"),
}
