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

import contextlib
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The environment the commands run in (anticipate.cli sets it when imported, before NumPy, pyarrow
# or OpenMP load): NumPy's arrays fault in 4 KB pages (_hugepages), Arrow allocates through the
# system pool (_arrowpool), idle OpenMP threads sleep (_openmp). Without it, this case measured
# NumPy's huge-page advice: compute_forecast at 10M had 30 s of system time, 5-12 s with it.
from anticipate.cli import _arrowpool, _hugepages, _openmp  # noqa: F401  isort: skip
import pandas as pd  # isort: skip

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _worlds import big_orders, ensure_big_world

from anticipate.config import ComputeConfig, Config

TRAIN_WINDOWS = 4  # 3 training windows + validation (the default 12 takes ~3x the features time)
COMPUTE = ComputeConfig(engine="dask", n_workers=2, threads_per_worker=1, memory_limit="6GB", partitions=16)


def _worker_peak_mb(client) -> float:
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    return float(max(peaks.values()))


def _cutoff(orders: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(orders["order_ts"].max()).normalize() + pd.Timedelta(days=1)


def dask_features_10m(workdir: Path) -> dict:
    from anticipate.distributed.cluster import dask_client, partition_orders
    from anticipate.distributed.schedule import build_features_dask

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


def _ingest(workdir: Path, cfg: Config) -> tuple[Path, float, dict]:
    """``run_ingest`` of the BIG world's tables (Parquet sources) into ``workdir/e2e_<engine>``."""
    from anticipate.pipelines import Settings
    from anticipate.pipelines.ingest import run_ingest

    world = ensure_big_world(workdir)
    out = workdir / f"e2e_{cfg.compute.engine}"
    sources = {t: world / f"{t}.parquet" for t in ("orders", "products", "regions", "warehouses", "supply")}
    settings = Settings(cfg=cfg, data_dir=out, tracking_uri="", progress=False)
    start = time.perf_counter()
    result = run_ingest(settings, sources, out)
    return out, time.perf_counter() - start, result.counts


def _end_to_end(workdir: Path, engine: str) -> dict:
    """Ingest, training windows + fit, forecast (scores reduced to warehouse x SKU) at the production cutoff.

    The Dask case starts one 2 x 6 GB LocalCluster and points every step at its
    address (``compute.scheduler: tcp://...``), so the workers' peak RSS covers all steps.
    The forecast holds the model only, as ``anticipate forecast`` does (training is its own
    process there): the training frames are dropped before it.
    """
    from anticipate.demand.inputs import compute_forecast
    from anticipate.pipelines import Settings
    from anticipate.pipelines._common import load_data
    from anticipate.tracking import NextPurchasePyfunc

    cluster = _local_cluster() if engine == "dask" else contextlib.nullcontext(None)
    with cluster as client:
        compute = COMPUTE.model_dump() | {"engine": engine}
        if client is not None:
            compute["scheduler"] = client.scheduler_info()["address"]
        cfg = Config.model_validate({"compute": compute, "model": {"train_windows": TRAIN_WINDOWS}})
        _note(f"{engine}: ingest ...")
        data, ingest_s, counts = _ingest(workdir, cfg)
        _note(f"ingest {ingest_s:.1f} s")
        assert counts["rows_in"] == counts["rows_accepted"] + counts["rows_rejected"]
        start = time.perf_counter()
        settings = Settings(cfg=cfg, data_dir=data, tracking_uri="", progress=False)
        ds = load_data(settings, cluster=True)  # with the layout: only order_ts on the driver
        cutoff = _cutoff(ds.orders)
        fitted = _fit(cfg, ds, cutoff - pd.Timedelta(days=cfg.time.horizon_days), engine)
        train_s = time.perf_counter() - start
        row = _fit_row(fitted, client)  # the validation AUC is not timed
        _note(f"train {train_s:.1f} s, val AUC {row['val_auc']:.4f}")
        wrapper = NextPurchasePyfunc(fitted.model, fitted.meta)
        del fitted
        forecast_start = time.perf_counter()
        fc = compute_forecast(settings, ds, wrapper, "bench", cutoff)
        forecast_s = time.perf_counter() - forecast_start
        _note(f"forecast {forecast_s:.1f} s")
        if client is not None:
            row["worker_peak_rss_mb"] = _worker_peak_mb(client)
    return row | {
        "train_windows": TRAIN_WINDOWS,
        "seconds": ingest_s + train_s + forecast_s,
        "ingest_seconds": ingest_s,
        "train_seconds": train_s,
        "forecast_seconds": forecast_s,
        "order_lines": counts["orders_rows_in"],
        "forecast_cells": len(fc.table),
    }


def _fit(cfg: Config, ds, until: pd.Timestamp, engine: str):
    """The model fitted on the windows before ``until``, locally or on the cluster."""
    if engine == "dask":
        from anticipate.distributed.schedule import fit_on_windows_dask

        return fit_on_windows_dask(cfg, ds, until)
    from anticipate.models.training import fit_on_windows

    return fit_on_windows(cfg, ds, until)


def _fit_row(fitted, client) -> dict:
    """What the fit reports: training pairs, best iteration, validation AUC (and the cluster's split)."""
    row = {"train_pairs": len(fitted.train), "best_iteration": int(fitted.model.best_iteration_),
           "val_auc": _val_auc(fitted)}
    if client is not None:
        meta = fitted.meta
        row |= {"partitions": meta["dask_partitions"], "orders_from": meta["dask_orders"],
                "train_pairs_full": meta["train_pairs_full"],
                "features_seconds": meta["dask_seconds"]["features"],
                "fit_seconds": meta["dask_seconds"]["fit"], **meta["rounds"]}
    return row


def _val_auc(fitted) -> float:
    """The fitted model's AUC on its validation window (the last training cutoff)."""
    from anticipate.metrics import classification_metrics

    p_val = fitted.model.predict_proba(fitted.val[fitted.features])
    return float(classification_metrics(fitted.val["y"].to_numpy(), p_val)["auc"])


def _note(text: str) -> None:
    """A progress line on stderr and in ``_work/bench_dask.log`` (run.py keeps stdout for the JSON row)."""
    line = f"[bench_dask {time.strftime('%H:%M:%S')}] {text}"
    print(line, file=sys.stderr, flush=True)
    log = Path(__file__).resolve().parent / "_work" / "bench_dask.log"
    with open(log, "a") as fh:
        fh.write(line + "\n")


@contextlib.contextmanager
def _local_cluster() -> Iterator[Any]:
    """A client of a 2-worker LocalCluster with COMPUTE's sizes (closed with the cluster)."""
    from distributed import Client, LocalCluster

    sizes = dict(n_workers=COMPUTE.n_workers, threads_per_worker=COMPUTE.threads_per_worker,
                 memory_limit=COMPUTE.memory_limit)
    with LocalCluster(processes=True, dashboard_address=None, **sizes) as cluster, Client(cluster) as client:
        yield client


CASES = {
    "dask_features_10m": dask_features_10m,
    "dask_end_to_end_10m": lambda workdir: _end_to_end(workdir, "dask"),
    "local_end_to_end_10m": lambda workdir: _end_to_end(workdir, "local"),
}
