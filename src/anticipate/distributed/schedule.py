"""Features, training and scoring on a Dask cluster: scheduling of the local functions, nothing more.

Features: each customer partition runs :func:`anticipate.features.partials.prepare`,
the partials are tree-reduced with :func:`~anticipate.features.partials.combine`
and every partition is finished with :func:`~anticipate.features.join.join`;
the local table is the one-partition case of the same functions. Training fits
``lightgbm.dask`` with the rounds that early stopping chose on a local down-sample
(``lightgbm.dask`` has no early stopping, LightGBM issue #4493) and hands the
boosters to :meth:`~anticipate.models.next_purchase.NextPurchaseModel.refit_from_boosters`;
the result is an ordinary model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.config import ComputeConfig
from anticipate.distributed.cluster import (
    as_parts,
    cluster_size,
    dask_client,
    orders_on_cluster,
    sum_tables,
    tree_reduce,
)
from anticipate.features import partials as engine
from anticipate.features.build import attach_labels, window_cutoffs
from anticipate.features.join import join
from anticipate.features.spec import FeatureSpec, resolve_spec
from anticipate.models.scoring import score_frame, spec_of
from anticipate.models.training import Fitted, check_labels, compact_features, feature_names, model_meta

# --------------------------------------------------------------------------- features
#: The feature columns that come from per-item sums of fractional gap days added across partitions, so
#: that the cluster's differ from the local path's in the last bits (measured at most 3.4e-13 relative).
GAP_SUM_COLUMNS = ("item_gap_mean_days", "item_gap_cv", "ci_renewal_hazard_7d", "ci_lapse_ratio")


def features_delayed(
    orders: Any,
    cutoff: pd.Timestamp,
    spec: FeatureSpec,
    *,
    products: pd.DataFrame | None = None,
    labelled: bool = False,
) -> list[Any]:
    """Delayed per-partition feature frames (with labels over ``spec.horizon`` when ``labelled``).

    ``orders`` is a list of customer-partitioned pandas frames (or futures) or a dask
    DataFrame partitioned by customer. Each frame equals the matching rows of
    :func:`~anticipate.features.build.build_features` on the whole data up to float summation order
    in the item gap columns (:data:`GAP_SUM_COLUMNS`, ~1e-13 relative); every other column bit for bit.
    """
    import dask

    cutoff = pd.Timestamp(cutoff)
    parts = as_parts(orders)
    prepared = [dask.delayed(engine.prepare)(p, cutoff, spec, products) for p in parts]
    totals = tree_reduce(engine.combine, [dask.delayed(engine.partials_of)(p) for p in prepared])
    feats = [dask.delayed(join)(p, totals, cutoff, spec) for p in prepared]
    if not labelled:
        return feats
    label = dask.delayed(attach_labels)
    return [label(f, p, cutoff, spec, products) for f, p in zip(feats, parts, strict=True)]


def build_features_dask(
    client: Any,
    orders: Any,
    cutoff: pd.Timestamp,
    spec: FeatureSpec | None = None,
    *,
    products: pd.DataFrame | None = None,
    labelled: bool = False,
    **fields: Any,
) -> pd.DataFrame:
    """:func:`~anticipate.features.build.build_features` computed on the cluster, gathered and sorted.

    ``spec`` or its fields as keywords. Returns one row per candidate (customer,
    item) with the same columns and values as the local path (with labels and
    ``cutoff`` when ``labelled``, as :func:`~anticipate.features.build.build_training_frame`),
    bit for bit except :data:`GAP_SUM_COLUMNS` (float summation order).
    """
    spec = resolve_spec(spec, fields)
    frames = client.gather(client.compute(features_delayed(orders, cutoff, spec, products=products,
                                                           labelled=labelled)))
    frames = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["customer_id", "item"], kind="stable").reset_index(drop=True)


def features_dask(compute: ComputeConfig, ds: Any, cutoff: pd.Timestamp, spec: FeatureSpec) -> pd.DataFrame:
    """:func:`build_features_dask` of ``ds`` on a cluster opened from ``compute``.

    The orders come from :func:`~anticipate.distributed.cluster.orders_on_cluster`
    (the layout or scattered partitions).
    """
    with dask_client(compute) as client:
        parts, _ = orders_on_cluster(client, compute, ds)
        return build_features_dask(client, parts, cutoff, spec, products=ds.products)


def slim_training_part(frame: pd.DataFrame) -> pd.DataFrame:
    """The feature columns as float32 plus ``y`` (int8) and ``units`` (float32); keys dropped."""
    out = frame[feature_names(frame)].astype(np.float32)
    out["y"] = frame["y"].to_numpy(dtype=np.int8)
    out["units"] = frame["units"].to_numpy(dtype=np.float32)
    return out


def training_set_dask(
    client: Any, orders: Any, cutoffs: Sequence[pd.Timestamp], spec: FeatureSpec, *,
    products: pd.DataFrame | None = None,
) -> Any:
    """Labelled rolling-origin frames for ``cutoffs`` as a persisted dask DataFrame.

    Only what training reads is kept (:func:`slim_training_part`: float32 features,
    ``y``, ``units``), which more than halves the workers' memory per pair; empty
    partitions are dropped.
    """
    import dask
    import dask.dataframe as dd

    delayed = []
    for t in cutoffs:
        for frame in features_delayed(orders, t, spec, products=products, labelled=True):
            delayed.append(dask.delayed(slim_training_part)(frame))
    futures = client.compute(delayed)
    sizes = client.gather(client.map(len, futures))
    keep = [f for f, n in zip(futures, sizes, strict=True) if n > 0]
    return dd.from_delayed(keep, verify_meta=False).persist()


def downsample_dask(train: Any, rows: int, seed: int) -> tuple[pd.DataFrame, int]:
    """About ``rows`` rows of the dask frame ``train`` drawn at random (seeded), and its full length.

    The local sample has float32 features like the local path's windows
    (:func:`~anticipate.models.training.compact_features`). It draws one rate over the
    union of the training windows (each window keeps its proportional part) rather than
    the local path's per-window shares; both keep every row when ``train`` fits ``rows``.
    """
    n = int(train.shape[0].compute())
    frac = min(1.0, rows / max(n, 1))
    sample = train.sample(frac=frac, random_state=seed).compute() if frac < 1 else train.compute()
    return compact_features(sample), n

# --------------------------------------------------------------------------- training
#: What a Dask-trained model carries: LightGBM's data-parallel fit depends on which rows land on
#: which worker, and Dask places the partitions anew on every run.
NOT_REPRODUCIBLE = ("trained on Dask: LightGBM's distributed fit depends on which worker holds which "
                    "partition, so the same data and seed give a slightly different model each run "
                    "(val.auc within ~0.003 in our runs); train with compute.engine: local for a model "
                    "that reproduces bit for bit")


def _machines(client: Any, listen_port: int | None) -> dict[str, Any]:
    """LightGBM network params: explicit ``machines`` (host:port per worker) when a base port is given."""
    if listen_port is None:
        return {}
    from urllib.parse import urlparse

    workers = sorted(live_workers(client))
    machines = ",".join(f"{urlparse(w).hostname}:{listen_port + i}" for i, w in enumerate(workers))
    return {"machines": machines}


def live_workers(client: Any) -> list[str]:
    """The addresses of the cluster's workers, asked of the scheduler now.

    Not ``client.scheduler_info()["workers"]``: that returns the client's cached identity, which
    its periodic refresh (asking for no workers) can overwrite between the fetch and the read; under
    load the list came back empty and LightGBM got ``machines=''`` (a ValueError in its fit).
    """
    return list(client.sync(client.scheduler.identity, n_workers=-1)["workers"])


def _lightgbm_to_logging(level: int) -> None:
    """Send LightGBM's messages (its Python warnings and the native library's lines, such as the
    lines that reach its callback) to the ``lightgbm`` logger at ``level``, not to print() and
    warnings.warn: ``-q`` and the default then keep them off stderr. The network set-up's
    ``[Info]`` lines on the workers still print: the native library logs them from the task's
    thread, where no callback is registered, before it reads ``verbose``."""
    import lightgbm

    logger = logging.getLogger("lightgbm")
    logger.setLevel(level)
    lightgbm.register_logger(logger)


def _boosters_on_cluster(
    client: Any, params: dict[str, dict[str, Any] | None], train: Any, features: list[str],
    listen_port: int | None,
) -> tuple[Any, Any | None]:
    """``lightgbm.dask`` fits of the classifier (and regressor on the buyers) with ``params``; local twins."""
    import lightgbm.dask as lgbd

    level = logging.getLogger("lightgbm").getEffectiveLevel()
    _lightgbm_to_logging(level)
    client.run(_lightgbm_to_logging, level)
    cls_kw = params["classifier"] | _machines(client, listen_port)
    classifier = lgbd.DaskLGBMClassifier(client=client, **cls_kw).fit(train[features], train["y"]).to_local()
    if params["regressor"] is None:
        return classifier, None
    buyers = train[train["y"] == 1]
    reg_kw = params["regressor"] | _machines(client, None if listen_port is None else listen_port + 100)
    regressor = lgbd.DaskLGBMRegressor(client=client, **reg_kw).fit(buyers[features], buyers["units"])
    return classifier, regressor.to_local()


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

    The model is fitted on the local down-sample ``sample`` of ``train`` (see
    :func:`downsample_dask`), which fixes the rounds by early stopping against
    ``val``; the full data is then fitted on the cluster with those rounds and the
    model takes the boosters and recalibrates (``refit_from_boosters``). Returns
    the model, with ``rounds_`` = {"classifier": n, "regressor": n}.
    """
    features = list(features)
    model.fit(
        sample[features], sample["y"].to_numpy(), sample["units"].to_numpy(),
        X_val=val[features], y_val=val["y"].to_numpy(), units_val=val["units"].to_numpy(),
        groups_val=val["customer_id"],
    )
    classifier, regressor = _boosters_on_cluster(client, model.fixed_round_params(), train, features,
                                                 listen_port)
    return model.refit_from_boosters(
        classifier, regressor, X_val=val[features], y_val=val["y"].to_numpy(), groups_val=val["customer_id"]
    )


def fit_on_windows_dask(cfg: Any, ds: Any, until: pd.Timestamp, *, listen_port: int | None = None) -> Fitted:
    """The Dask twin of :func:`anticipate.models.training.fit_on_windows` (same Fitted result).

    ``Fitted.train`` holds the local down-sample the rounds were chosen on; the meta
    gains ``dask_workers``, ``dask_threads``, ``dask_partitions``, ``dask_orders``
    ("layout" or "scatter", see ``orders_on_cluster``), ``train_pairs_full``, ``rounds`` and
    ``dask_seconds`` (wall seconds of the windows' features incl. the down-sample, and of the fits).
    """
    from anticipate.models.next_purchase import NextPurchaseModel

    spec = FeatureSpec.from_config(cfg)
    cutoffs = window_cutoffs(ds.orders, until, spec.horizon, cfg.model.train_windows,
                             year_ago=cfg.model.year_ago_windows)
    started = time.perf_counter()
    with dask_client(cfg.compute) as client:
        parts, source = orders_on_cluster(client, cfg.compute, ds)
        train = training_set_dask(client, parts, cutoffs[:-1], spec, products=ds.products)
        val = build_features_dask(client, parts, cutoffs[-1], spec, products=ds.products, labelled=True)
        sample, n_train = downsample_dask(train, cfg.model.max_train_pairs, cfg.model.seed)
        n_parts = len(parts)
        del parts  # the features are persisted: free the workers' copy of the orders before fitting
        check_labels(sample, "training windows (a down-sample)")
        check_labels(val, "validation window")
        features = feature_names(val)
        featurised = time.perf_counter()
        model = NextPurchaseModel.from_config(cfg.model)
        model = train_dask(client, train, sample, val, features, model, listen_port=listen_port)
        size = cluster_size(client)
    seconds = {"features": featurised - started, "fit": time.perf_counter() - featurised}
    meta = model_meta(cfg, until, cutoffs)
    meta |= {**size, "rounds": model.fit_summary()["rounds"], "train_pairs_full": n_train,
             "dask_orders": source, "dask_partitions": n_parts, "dask_seconds": seconds}
    return Fitted(model, features, sample, val, meta)


# --------------------------------------------------------------------------- forecast
def _part_candidates(wrapper: Any, feats: pd.DataFrame, item_level: str, shares: Any) -> pd.DataFrame:
    """One partition's scored candidates reduced to ``region, sku, mu, var``."""
    from anticipate.demand.forecast import candidate_demand

    return candidate_demand(score_frame(wrapper, feats), item_level=item_level, shares=shares)


def forecast_dask(
    cfg: Any, wrapper: Any, ds: Any, cutoff: pd.Timestamp, region_map: pd.DataFrame,
    warnings: list[str] | None = None,
) -> pd.DataFrame:
    """The forecast table of :func:`anticipate.demand.forecast.forecast_from_scores`, computed per partition
    (its warnings appended to ``warnings``).

    Each partition is featurised, scored and reduced to region x SKU moments on its
    worker, and so is its non-candidate ("new") demand per window; the sums are
    tree-reduced on the cluster and only the region x SKU tables reach the client,
    which maps them to warehouses. Equal to the local table up to float summation order.
    """
    import dask

    from anticipate.demand.forecast import recent_units, shares_from_units, to_warehouses
    from anticipate.demand.new_demand import (
        configured_sku_windows,
        new_demand_from_table,
        new_demand_windows_at,
        non_candidate_table,
        scaled_by_year_ago,
        year_ago_table,
    )

    spec, fc = spec_of(wrapper), cfg.forecast
    level, horizon, lookback = spec.item_level, spec.horizon, spec.lookback_days
    first = dates.history_start(ds.orders["order_ts"], cutoff)  # the client holds order_ts
    windows, sku_windows, cap = new_demand_windows_at(
        first, cutoff, horizon_days=horizon, lookback_days=lookback, windows=fc.new_demand_windows,
        sku_windows=configured_sku_windows(fc))
    new_windows = max(windows, sku_windows)
    if cap is not None and warnings is not None:
        warnings.append(cap)
    with dask_client(cfg.compute) as client:
        parts, _ = orders_on_cluster(client, cfg.compute, ds)
        shares = None
        if level == "category":
            units = [dask.delayed(recent_units)(p, cutoff, window_days=fc.sku_share_days,
                                                products=ds.products) for p in parts]
            by_sku = tree_reduce(sum_tables, units, ["region", "item", "sku"])
            shares = dask.delayed(shares_from_units)(by_sku, ds.products)
        feats = features_delayed(parts, cutoff, spec, products=ds.products)
        w = dask.delayed(wrapper)
        cands = [dask.delayed(_part_candidates)(w, f, level, shares) for f in feats]
        news = [dask.delayed(non_candidate_table)(p, cutoff, horizon_days=horizon, lookback_days=lookback,
                                                  windows=new_windows, item_level=level,
                                                  products=ds.products) for p in parts]
        yas = [dask.delayed(year_ago_table)(p, cutoff, horizon_days=horizon, lookback_days=lookback,
                                            windows=windows, item_level=level,
                                            products=ds.products) for p in parts] if fc.year_ago_index else []
        cand, new, *ya = client.gather(client.compute(
            [tree_reduce(sum_tables, cands, ["region", "sku"]), tree_reduce(sum_tables, news, []),
             *([tree_reduce(sum_tables, yas, [])] if yas else [])]))
    new = new_demand_from_table(new, windows, sku_windows)
    if ya:
        new = scaled_by_year_ago(new, ya[0], first, cutoff, horizon_days=horizon, lookback_days=lookback,
                                 windows=windows, warnings=warnings)
    return to_warehouses([cand, new], region_map, dispersion=fc.dispersion)
