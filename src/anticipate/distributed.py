"""Scale-out on Dask (issue 6): features, training and scoring on a ``distributed`` cluster.

Orders are partitioned by a stable hash of ``customer_id`` so each customer's whole
history is in one partition. Customer and customer x item features depend only on
one customer's history, so each partition runs the SAME local code
(:func:`anticipate.features.build.build_features` with the item families left out);
the item and region x item aggregates are sums over all partitions (a Dask tree
reduction of per-partition partial tables) and are joined back. Training uses
``lightgbm.dask`` with a fixed number of rounds chosen by early stopping on a local
down-sample (``lightgbm.dask`` has no early stopping, LightGBM issue #4493); the
result is an ordinary :class:`~anticipate.models.next_purchase.NextPurchaseModel`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from anticipate.config import ComputeConfig, LightGBMParams
from anticipate.errors import ServiceUnavailable, UsageError
from anticipate.features.build import ALL_FAMILIES, KEYS, feature_columns, item_column, item_gap_table
from anticipate.features.renewal import GAP_SUMS, pooled_gaps, renewal_columns
from anticipate.layout import partition_of, read_layout, read_part

__all__ = ["partition_of"]  # re-exported: the hash of the layout

LOCAL_FAMILIES = ("customer", "customer_item", "calendar")
ITEM_SUMS = ("item_units_7d", "item_units_28d", "item_units_365d", "item_buyers_28d")
RI_SUMS = ("ri_units_7d", "ri_units_28d")


# --------------------------------------------------------------------------- cluster
@contextlib.contextmanager
def dask_client(compute: ComputeConfig) -> Iterator[Any]:
    """A ``distributed.Client`` for ``compute.scheduler`` ('local-cluster' or tcp://HOST:PORT).

    'local-cluster' starts a process-based ``LocalCluster`` with ``n_workers`` x
    ``threads_per_worker`` and ``memory_limit`` per worker, closed on exit. Raises
    ServiceUnavailable when a tcp scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if compute.scheduler == "local-cluster":
        with (
            LocalCluster(
                n_workers=compute.n_workers,
                threads_per_worker=compute.threads_per_worker,
                memory_limit=compute.memory_limit,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(_stdout_to_stderr)  # local workers inherit our stdout, which --json keeps clean
            yield client
        return
    if not compute.scheduler.startswith("tcp://"):
        raise UsageError(
            f"compute.scheduler is {compute.scheduler!r}: it must be 'local-cluster' or tcp://HOST:PORT "
            "(the address a 'dask scheduler' prints); fix --scheduler or compute.scheduler in the config"
        )
    try:
        client = Client(compute.scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ServiceUnavailable(
            f"the Dask scheduler at {compute.scheduler} is unreachable ({exc}); start it with "
            "'dask scheduler' and workers with 'dask worker <address>', or use --scheduler local-cluster"
        ) from exc
    with client:
        yield client


def _stdout_to_stderr() -> None:
    """On a worker: send Python prints (LightGBM's log lines) to stderr."""
    import sys

    sys.stdout = sys.stderr


def cluster_size(client: Any) -> dict[str, int]:
    """``{"dask_workers": n, "dask_threads": total threads}`` of the connected cluster."""
    ncores = client.ncores()
    return {"dask_workers": len(ncores), "dask_threads": int(sum(ncores.values()))}


# --------------------------------------------------------------------------- partitioning
def partition_orders(orders: pd.DataFrame, n_partitions: int) -> list[pd.DataFrame]:
    """Split order lines into ``n_partitions`` frames so each customer's history is in exactly one.

    Row order within a partition follows ``orders``; empty partitions are kept
    (the list always has ``n_partitions`` frames). The same split as the layout
    ``ingest`` writes (:func:`anticipate.layout.write_customer_layout`).
    """
    part = partition_of(orders["customer_id"], n_partitions)
    return [orders[part == k].reset_index(drop=True) for k in range(n_partitions)]


def orders_on_cluster(client: Any, compute: ComputeConfig, ds: Any) -> tuple[list[Any], str]:
    """The customer partitions of the orders held on the workers, and where they came from.

    When the data directory has a customer layout (``ingest`` with
    ``compute.engine: dask``), each worker reads its partitions' Parquet files itself
    (the paths must be readable from the workers: shared storage on a real cluster)
    and the client never holds the orders; the layout's partition count wins over
    ``compute.partitions``. Otherwise the client splits ``ds.orders`` and scatters
    the partitions. Returns ``(futures, "layout" | "scatter")``.
    """
    import dask

    layout = read_layout(ds.path)
    if layout is None:
        return client.scatter(partition_orders(ds.orders, compute.partitions)), "scatter"
    reads = [dask.delayed(read_part)(str(layout.part_file(k))) for k in range(layout.partitions)]
    return client.compute(reads), "layout"


def _as_parts(orders: Any) -> list[Any]:
    """Delayed partitions of a dask DataFrame, or a list of pandas frames or futures as given."""
    if isinstance(orders, list):
        return orders
    return list(orders.to_delayed())


# --------------------------------------------------------------------------- features
def _item_partials(
    part: pd.DataFrame, cutoff: pd.Timestamp, item_level: str, products: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-partition sums: item units 7/28/365 d + distinct 28-day buyers; region x item units 7/28 d."""
    hist = part[part["order_ts"] < cutoff]
    age = (pd.Timestamp(cutoff) - hist["order_ts"]).to_numpy() / np.timedelta64(1, "D")
    qty = hist["quantity"].to_numpy(dtype=np.float64)
    frame = pd.DataFrame(
        {
            "item": item_column(hist, item_level, products).to_numpy(dtype=str),
            "region": hist["region"].astype(str).to_numpy(dtype=str),
            "customer_id": hist["customer_id"].astype(str).to_numpy(dtype=str),
            "u7": np.where(age <= 7.0, qty, 0.0),
            "u28": np.where(age <= 28.0, qty, 0.0),
            "u365": np.where(age <= 365.0, qty, 0.0),
        }
    )
    items = frame.groupby("item", sort=True)[["u7", "u28", "u365"]].sum()
    buyers = frame[age <= 28.0].drop_duplicates(["item", "customer_id"]).groupby("item").size()
    items["buyers"] = buyers.reindex(items.index).fillna(0).astype(np.float64)
    gaps = item_gap_table(part, cutoff, item_level, products).reindex(items.index).fillna(0.0)
    items[list(GAP_SUMS)] = gaps.to_numpy()
    ri = frame.groupby(["region", "item"], sort=True)[["u7", "u28"]].sum()
    return items, ri


def _combine(partials: Sequence[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add partial item and region x item tables (customers are disjoint, so buyer counts add)."""
    items = pd.concat([p[0] for p in partials]).groupby(level=0, sort=True).sum()
    ri = pd.concat([p[1] for p in partials]).groupby(level=[0, 1], sort=True).sum()
    return items, ri


def _trend(u7: np.ndarray, u28: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u28 > 0, (u7 / 7.0) / (u28 / 28.0), np.nan)


def _join_renewal(out: pd.DataFrame, items: pd.DataFrame, families: Sequence[str]) -> None:
    """Recompute the renewal columns from the global item gap sums (in place on a copy)."""
    if "customer_item" not in families and "item" not in families:
        return
    mean, cv2, overall = pooled_gaps(items[list(GAP_SUMS)].to_numpy(dtype=np.float64))
    pos = items.index.get_indexer(out["item"].to_numpy())
    cols = renewal_columns(
        out["ci_orders_total"].to_numpy(),
        out["ci_gap_mean_days"].to_numpy(),
        out["ci_days_since_last"].to_numpy(),
        mean[pos],
        cv2[pos],
        overall,
    )
    family = {"ci_": "customer_item", "item_": "item"}
    for name, values in cols.items():
        if family[name.split("_")[0] + "_"] in families:
            out[name] = values


def _join_items(
    feats: pd.DataFrame, tables: tuple[pd.DataFrame, pd.DataFrame], families: Sequence[str]
) -> pd.DataFrame:
    """Join the global item / region x item tables onto one partition's features (column order of build)."""
    items, ri = tables
    out = feats.copy()
    if "item" in families:
        it = items.reindex(out["item"].to_numpy())
        u7, u28 = it["u7"].fillna(0.0).to_numpy(), it["u28"].fillna(0.0).to_numpy()
        out["item_units_7d"], out["item_units_28d"] = u7, u28
        out["item_units_365d"] = it["u365"].fillna(0.0).to_numpy()
        out["item_trend_7d_28d"] = _trend(u7, u28)
        out["item_buyers_28d"] = it["buyers"].fillna(0.0).to_numpy()
    _join_renewal(out, items, families)
    if "region_item" in families:
        keys = pd.MultiIndex.from_arrays([out["region"].to_numpy(), out["item"].to_numpy()])
        r = ri.reindex(keys)
        u7, u28 = r["u7"].fillna(0.0).to_numpy(), r["u28"].fillna(0.0).to_numpy()
        out["ri_units_7d"], out["ri_units_28d"] = u7, u28
        out["ri_trend_7d_28d"] = _trend(u7, u28)
    extra = [c for c in out.columns if c not in KEYS and c not in feature_columns(ALL_FAMILIES)]
    return out[[*KEYS, *feature_columns(families), *extra]]


def _local_part(
    part: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon_days: int | None,
    common: dict[str, Any],
) -> pd.DataFrame:
    """The per-customer families of one partition (with labels when ``horizon_days`` is given)."""
    from anticipate.features.build import build_features, build_training_frame

    if horizon_days is None:
        return build_features(part, cutoff, **common)
    return build_training_frame(part, cutoff, horizon_days=horizon_days, **common)


def features_delayed(
    orders: Any,
    cutoff: pd.Timestamp,
    *,
    lookback_days: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
    families: Sequence[str] = ALL_FAMILIES,
    horizon_days: int | None = None,
) -> list[Any]:
    """Delayed per-partition feature frames (labelled when ``horizon_days`` is given), not yet computed.

    ``orders`` is a list of customer-partitioned pandas frames or a dask DataFrame
    partitioned by customer. Each frame equals the matching rows of
    :func:`~anticipate.features.build.build_features` on the whole data.
    """
    import dask

    cutoff = pd.Timestamp(cutoff)
    local = [f for f in families if f in LOCAL_FAMILIES]
    common = dict(lookback_days=lookback_days, item_level=item_level, products=products, families=local)
    parts = _as_parts(orders)
    partials = [dask.delayed(_item_partials)(p, cutoff, item_level, products) for p in parts]
    while len(partials) > 1:  # tree reduction, 8 at a time
        partials = [dask.delayed(_combine)(partials[i : i + 8]) for i in range(0, len(partials), 8)]
    tables = partials[0] if len(parts) > 1 else dask.delayed(_combine)(partials)
    feats = [dask.delayed(_local_part)(p, cutoff, horizon_days, common) for p in parts]
    return [dask.delayed(_join_items)(f, tables, list(families)) for f in feats]


def build_features_dask(client: Any, orders: Any, cutoff: pd.Timestamp, **kwargs: Any) -> pd.DataFrame:
    """:func:`build_features` computed on the cluster, gathered and sorted like the local table.

    Keyword arguments are those of :func:`features_delayed`. Returns one row per
    candidate (customer, item) with the same columns and values as the local path.
    """
    frames = client.gather(client.compute(features_delayed(orders, cutoff, **kwargs)))
    frames = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["customer_id", "item"], kind="stable").reset_index(drop=True)


def training_set_dask(
    client: Any, orders: Any, cutoffs: Sequence[pd.Timestamp], *, horizon_days: int, **kwargs: Any
) -> Any:
    """Labelled rolling-origin frames for ``cutoffs`` as a persisted dask DataFrame (one partition each).

    Only what training reads is kept (:func:`slim_training_part`: float32 features,
    ``y``, ``units``), which more than halves the workers' memory per pair.
    """
    import dask
    import dask.dataframe as dd

    delayed = []
    for t in cutoffs:
        for frame in features_delayed(orders, t, horizon_days=horizon_days, **kwargs):
            delayed.append(dask.delayed(slim_training_part)(frame))
    futures = client.compute(delayed)
    sizes = client.gather(client.map(len, futures))
    keep = [f for f, n in zip(futures, sizes, strict=True) if n > 0]
    return dd.from_delayed(keep, verify_meta=False).persist()


def slim_training_part(frame: pd.DataFrame) -> pd.DataFrame:
    """The feature columns as float32 plus ``y`` (int8) and ``units`` (float32); keys dropped."""
    from anticipate.pipelines.model import feature_names

    out = frame[feature_names(frame)].astype(np.float32)
    out["y"] = frame["y"].to_numpy(dtype=np.int8)
    out["units"] = frame["units"].to_numpy(dtype=np.float32)
    return out


# --------------------------------------------------------------------------- training
def _machines(client: Any, listen_port: int | None) -> dict[str, Any]:
    """LightGBM network params: explicit ``machines`` (host:port per worker) when a base port is given."""
    if listen_port is None:
        return {}
    from urllib.parse import urlparse

    workers = sorted(client.scheduler_info()["workers"])
    machines = ",".join(f"{urlparse(w).hostname}:{listen_port + i}" for i, w in enumerate(workers))
    return {"machines": machines}


def _dask_fit(kind: str, kwargs: dict[str, Any], X: Any, y: Any, client: Any) -> Any:
    """Fit a ``lightgbm.dask`` model on dask collections and return its local (ordinary) twin."""
    import lightgbm.dask as lgbd

    est = lgbd.DaskLGBMClassifier(client=client, **kwargs) if kind == "classifier" else (
        lgbd.DaskLGBMRegressor(client=client, objective="poisson", **kwargs)
    )
    return est.fit(X, y).to_local()


def downsample(train: Any, rows: int, seed: int) -> tuple[pd.DataFrame, int]:
    """About ``rows`` rows of the dask frame ``train`` drawn at random (seeded), and its full length."""
    n = int(train.shape[0].compute())
    frac = min(1.0, rows / max(n, 1))
    return (train.sample(frac=frac, random_state=seed).compute() if frac < 1 else train.compute()), n


def train_dask(
    client: Any,
    train: Any,
    sample: pd.DataFrame,
    val: pd.DataFrame,
    features: Sequence[str],
    model: Any,
    *,
    listen_port: int | None = None,
) -> Any:
    """Fit ``model`` (an unfitted NextPurchaseModel) with ``lightgbm.dask`` on the dask frame ``train``.

    The number of rounds of each tree model is chosen by early stopping on the local
    down-sample ``sample`` of ``train`` (see :func:`downsample`, against ``val``); the
    full data is then fitted on the cluster with that fixed count, the local twins
    replace the sample's trees and calibration is re-chosen on ``val``. Returns the
    model (ordinary LightGBM inside), with ``rounds_`` = {"classifier": n, "regressor": n}.
    """
    from anticipate.models.next_purchase import _fold_of, _lgbm_kwargs, _make_calibrator, choose_calibration

    features = list(features)
    y_val, u_val = val["y"].to_numpy(), val["units"].to_numpy()
    model.fit(
        sample[features], sample["y"].to_numpy(), sample["units"].to_numpy(),
        X_val=val[features], y_val=y_val, units_val=u_val, groups_val=val["customer_id"],
    )
    net = _machines(client, listen_port)
    kwargs = _lgbm_kwargs(model.classifier or LightGBMParams(), seed=model.seed, threads=model.threads) | net
    kwargs["n_estimators"] = model.best_iteration_
    model.classifier_ = _dask_fit("classifier", kwargs, train[features], train["y"], client)
    model.rounds_ = {"classifier": model.best_iteration_, "regressor": 0}
    if model.regressor_ is not None:
        buyers = train[train["y"] == 1]
        rnet = _machines(client, None if listen_port is None else listen_port + 100)  # fresh ports
        rkw = _lgbm_kwargs(model.regressor or LightGBMParams(), seed=model.seed, threads=model.threads) | rnet
        rkw["n_estimators"] = int(model.regressor_.best_iteration_ or rkw["n_estimators"])
        model.rounds_["regressor"] = rkw["n_estimators"]
        model.regressor_ = _dask_fit("regressor", rkw, buyers[features], buyers["units"], client)
    raw = model._raw_proba(val[features])
    folds = _fold_of(val["customer_id"])
    model.calibration_ = choose_calibration(raw, y_val, folds, model.calibrate)
    model.calibrator_ = (
        None if model.calibration_ == "none" else _make_calibrator(model.calibration_).fit(raw, y_val)
    )
    return model


# --------------------------------------------------------------------------- pipelines
def fit_on_windows_dask(cfg: Any, ds: Any, until: pd.Timestamp, *, listen_port: int | None = None) -> Any:
    """The Dask twin of :func:`anticipate.pipelines.model.fit_on_windows` (same Fitted result).

    ``Fitted.train`` holds the local down-sample the rounds were chosen on; the meta
    gains ``dask_workers``, ``dask_threads``, ``dask_partitions``, ``dask_orders``
    ("layout" or "scatter", see :func:`orders_on_cluster`), ``train_pairs_full``, ``rounds`` and
    ``dask_seconds`` (wall seconds of the windows' features incl. the down-sample, and of the fits).
    """
    from anticipate.features.build import training_cutoffs
    from anticipate.models.next_purchase import NextPurchaseModel
    from anticipate.pipelines.model import Fitted, _check_labels, feature_names, model_meta

    cutoffs = training_cutoffs(until, cfg.time.horizon_days, cfg.model.train_windows)
    common = dict(
        lookback_days=cfg.time.lookback_days,
        item_level=cfg.model.item_level,
        products=ds.products,
        families=list(cfg.features.families),
    )
    started = time.perf_counter()
    with dask_client(cfg.compute) as client:
        parts, source = orders_on_cluster(client, cfg.compute, ds)
        train = training_set_dask(client, parts, cutoffs[:-1], horizon_days=cfg.time.horizon_days, **common)
        val = build_features_dask(
            client, parts, cutoffs[-1], horizon_days=cfg.time.horizon_days, **common
        )
        sample, n_train = downsample(train, cfg.model.max_train_pairs, cfg.model.seed)
        n_parts = len(parts)
        del parts  # the features are persisted: free the workers' copy of the orders before fitting
        _check_labels(sample, "training windows (a down-sample)")
        _check_labels(val, "validation window")
        features = feature_names(val)
        featurised = time.perf_counter()
        model = NextPurchaseModel.from_config(cfg.model)
        model = train_dask(client, train, sample, val, features, model, listen_port=listen_port)
        size = cluster_size(client)
    seconds = {"features": featurised - started, "fit": time.perf_counter() - featurised}
    meta = model_meta(cfg, until, pd.DataFrame({"cutoff": cutoffs}))
    meta |= {**size, "rounds": model.rounds_, "train_pairs_full": n_train, "dask_orders": source,
             "dask_partitions": n_parts, "dask_seconds": seconds}
    return Fitted(model, features, sample, val, val, meta)


def features_dask(compute: ComputeConfig, ds: Any, cutoff: pd.Timestamp, **kwargs: Any) -> pd.DataFrame:
    """:func:`build_features_dask` on a cluster opened from ``compute``.

    The orders come from :func:`orders_on_cluster` (the layout or scattered partitions).
    """
    with dask_client(compute) as client:
        parts, _ = orders_on_cluster(client, compute, ds)
        return build_features_dask(client, parts, cutoff, **kwargs)


def _sum_tables(tables: Sequence[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Row-wise sum of tables with the same columns, grouped by ``keys`` (index levels when empty list)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame()
    both = pd.concat(tables)
    if keys:
        return both.groupby(keys, as_index=False, sort=True).sum()
    return both.groupby(level=list(range(both.index.nlevels)), sort=True).sum()


def _tree(func: Any, items: list[Any], *args: Any) -> Any:
    """A delayed tree reduction of ``items`` with ``func(list, *args)``, 8 at a time."""
    import dask

    items = list(items)
    while len(items) > 1:
        items = [dask.delayed(func)(items[i : i + 8], *args) for i in range(0, len(items), 8)]
    return dask.delayed(func)(items, *args) if len(items) == 1 else items[0]


def _part_candidates(wrapper: Any, feats: pd.DataFrame, item_level: str, shares: Any) -> pd.DataFrame:
    """One partition's scored candidates reduced to ``region, sku, mu, var``."""
    from anticipate.demand.forecast import candidate_demand
    from anticipate.pipelines.model import score_frame

    return candidate_demand(score_frame(wrapper, feats), item_level=item_level, shares=shares)


def forecast_dask(
    cfg: Any, wrapper: Any, ds: Any, cutoff: pd.Timestamp, region_map: pd.DataFrame
) -> pd.DataFrame:
    """The forecast table of :func:`anticipate.forecast.forecast_from_scores`, computed per partition.

    Each partition is featurised, scored and reduced to region x SKU moments on its
    worker, and so is its non-candidate ("new") demand per window; the sums are
    tree-reduced on the cluster and only the region x SKU tables reach the client,
    which maps them to warehouses. Equal to the local table up to float summation order.
    """
    import dask

    from anticipate.demand.forecast import (
        new_demand_from_table,
        non_candidate_table,
        recent_units,
        shares_from_units,
        to_warehouses,
    )

    meta, fc = wrapper.meta, cfg.forecast
    level, horizon, lookback = meta["item_level"], int(meta["horizon_days"]), int(meta["lookback_days"])
    with dask_client(cfg.compute) as client:
        parts, _ = orders_on_cluster(client, cfg.compute, ds)
        shares = None
        if level == "category":
            units = [dask.delayed(recent_units)(p, cutoff, window_days=fc.sku_share_days,
                                                products=ds.products) for p in parts]
            shares = dask.delayed(shares_from_units)(_tree(_sum_tables, units, ["region", "item", "sku"]))
        feats = features_delayed(parts, cutoff, lookback_days=lookback, item_level=level,
                                 products=ds.products, families=meta["families"])
        w = dask.delayed(wrapper)
        cands = [dask.delayed(_part_candidates)(w, f, level, shares) for f in feats]
        news = [dask.delayed(non_candidate_table)(p, cutoff, horizon_days=horizon, lookback_days=lookback,
                                                  windows=fc.new_demand_windows, item_level=level,
                                                  products=ds.products) for p in parts]
        cand, new = client.gather(client.compute(
            [_tree(_sum_tables, cands, ["region", "sku"]), _tree(_sum_tables, news, [])]))
    new = new_demand_from_table(new.reindex(columns=range(fc.new_demand_windows), fill_value=0.0),
                                fc.new_demand_windows)
    return to_warehouses([cand, new], region_map, dispersion=fc.dispersion)
