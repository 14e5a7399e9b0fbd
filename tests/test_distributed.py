"""Scale-out on Dask (issue 6) against a real 2-worker, process-based distributed.LocalCluster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anticipate.config import ComputeConfig, Config
from anticipate.distributed.cluster import dask_client, orders_on_cluster, partition_orders
from anticipate.distributed.schedule import build_features_dask
from anticipate.errors import DataError, ServiceUnavailable, UsageError
from anticipate.features.build import build_features
from anticipate.features.spec import FeatureSpec
from anticipate.pipelines import Settings
from anticipate.storage.files import load_dataset
from anticipate.storage.layout import partition_of, read_all_parts, read_layout, write_customer_layout

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


def assert_features_match(remote: pd.DataFrame, local: pd.DataFrame) -> None:
    """The cluster's features are the local ones: every column bit for bit but the item gap sums' four,
    whose cross-partition float sums differ in the last bits (README: at most 3.4e-13 relative measured)."""
    from anticipate.distributed.schedule import GAP_SUM_COLUMNS

    assert list(remote.columns) == list(local.columns)
    gaps = [c for c in GAP_SUM_COLUMNS if c in local.columns]
    pd.testing.assert_frame_equal(remote.drop(columns=gaps), local.drop(columns=gaps), check_exact=True)
    pd.testing.assert_frame_equal(remote[gaps], local[gaps], check_exact=False, rtol=1e-12, atol=0)


def test_partitions_keep_each_customer_whole_and_are_stable(sample):
    parts = partition_orders(sample.orders, 5)
    assert sum(len(p) for p in parts) == len(sample.orders)
    owners = pd.concat([p[["customer_id"]].assign(k=k) for k, p in enumerate(parts)]).drop_duplicates()
    assert owners["customer_id"].is_unique
    ids = pd.Series(["c1", "c2", "c3"])
    assert np.array_equal(partition_of(ids, 7), partition_of(ids.copy(), 7))


def test_layout_writer_keeps_rows_and_each_customer_in_its_hash_partition(tmp_path):
    source = SAMPLE / "orders.parquet"
    layout = write_customer_layout(source, tmp_path / "orders", 5, batch_rows=7_000)  # many batches
    parts = read_all_parts(layout)
    orders = pd.read_parquet(source)
    assert len(parts) == 5 and layout.part_rows == tuple(len(p) for p in parts)
    assert layout.rows == len(orders)
    for k, part in enumerate(parts):
        assert (partition_of(part["customer_id"], 5) == k).all()
    expected = partition_orders(orders, 5)  # same rows in the same order as the in-memory split
    for got, want in zip(parts, expected, strict=True):
        pd.testing.assert_frame_equal(got, want)


def test_stale_layout_is_a_data_error(tmp_path):
    import shutil

    shutil.copy(SAMPLE / "orders.parquet", tmp_path / "orders.parquet")
    write_customer_layout(tmp_path / "orders.parquet", tmp_path / "orders", 3)
    pd.read_parquet(SAMPLE / "orders.parquet").head(10).to_parquet(tmp_path / "orders.parquet")
    with pytest.raises(DataError, match="stale"):
        read_layout(tmp_path)


def _free_base_port(workers: int) -> int:
    """A base port whose ``workers`` ports and the regressor's (+100) are all free to bind now: a fixed
    12710 failed when a run a minute before left it in TIME_WAIT ("Binding port 12711 failed")."""
    import socket

    def free(port: int) -> bool:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    return next(base for base in range(12710, 14000, 7)
                if all(free(base + k + i) for k in (0, 100) for i in range(workers)))


def _dask_settings(out: Path, partitions: int = 4, scheduler: str = "local-cluster") -> Settings:
    compute = {"engine": "dask", "partitions": partitions, "scheduler": scheduler, "memory_limit": "1GB"}
    cfg = Config.model_validate({"compute": compute, "ingest": {"chunk_rows": 20_000}})
    return Settings(cfg=cfg, data_dir=out, tracking_uri="", progress=False)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The sample ingested with compute.engine: dask from a CSV with a duplicate and a bad date."""
    from anticipate.pipelines.ingest import run_ingest

    root = tmp_path_factory.mktemp("ingested")
    orders = pd.read_parquet(SAMPLE / "orders.parquet")
    csv = orders.astype({"order_ts": str})
    csv = pd.concat([csv, csv.iloc[[5]], csv.iloc[[9]].assign(order_ts="not a date")], ignore_index=True)
    csv.to_csv(root / "orders.csv", index=False)
    sources = {"orders": root / "orders.csv"} | {
        t: SAMPLE / f"{t}.parquet" for t in ("products", "regions", "warehouses", "supply")}
    result = run_ingest(_dask_settings(root / "data"), sources, root / "data")
    return root / "data", result


def test_ingest_with_engine_dask_writes_the_customer_layout_nothing_lost(ingested):
    data, result = ingested
    c = result.counts
    assert c["orders_rows_in"] == c["orders_rows_accepted"] + c["orders_rows_rejected"]
    assert c["orders_rows_rejected"] == 2 and c["orders_partitions"] == 4
    layout = read_layout(data)
    canonical = pd.read_parquet(data / "orders.parquet")  # still written: the local path reads it
    assert layout is not None and layout.rows == c["orders_rows_accepted"] == len(canonical)
    parts = read_all_parts(layout)
    owner = pd.concat([p[["customer_id"]].drop_duplicates().assign(k=k) for k, p in enumerate(parts)])
    assert owner["customer_id"].is_unique  # every customer in exactly one partition ...
    assert set(owner["customer_id"]) == set(canonical["customer_id"])
    assert (partition_of(owner["customer_id"], 4) == owner["k"].to_numpy()).all()  # ... its hash's
    keys = ["order_id", "sku", "order_ts"]
    both = pd.concat(parts).sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(both, canonical.sort_values(keys).reset_index(drop=True))


def test_local_ingest_writes_no_layout(tmp_path):
    from anticipate.pipelines.ingest import run_ingest

    settings = Settings(cfg=Config(), data_dir=tmp_path / "d", tracking_uri="", progress=False)
    result = run_ingest(settings, {"orders": SAMPLE / "orders.parquet"}, tmp_path / "d")
    assert "orders_partitions" not in result.counts and read_layout(tmp_path / "d") is None


def test_dask_features_from_the_layout_equal_local_features(client, ingested):
    from anticipate.pipelines._common import load_data

    data, _ = ingested
    settings = _dask_settings(data)
    ds = load_data(settings, cluster=True)
    assert list(ds.orders.columns) == ["order_ts"]  # the client does not load the orders
    parts, source = orders_on_cluster(client, settings.cfg.compute, ds)
    assert source == "layout" and len(parts) == 4
    local_ds = load_dataset(data)
    cutoff = pd.Timestamp(local_ds.orders["order_ts"].max()).normalize() - pd.Timedelta(days=28)
    kw = dict(lookback_days=365, item_level="sku", products=local_ds.products)
    local = build_features(local_ds.orders, cutoff, **kw)
    assert len(local) > 1000
    assert_features_match(build_features_dask(client, parts, cutoff, **kw), local)


@pytest.fixture(scope="module")
def forecast_model(ingested):
    """``fit(item_level)``: the small model the Dask forecast tests score with, fitted once per item level
    on the ingested sample (the fit reads ``model``, ``time`` and ``features``, never ``forecast``), with
    the cutoff the forecasts are made at (the day after the last order)."""
    from anticipate.models.training import fit_on_windows
    from anticipate.tracking import NextPurchasePyfunc

    local_ds = load_dataset(ingested[0])
    cutoff = pd.Timestamp(local_ds.orders["order_ts"].max()).normalize() + pd.Timedelta(days=1)
    fitted: dict[str, NextPurchasePyfunc] = {}

    def fit(item_level: str) -> tuple[NextPurchasePyfunc, pd.Timestamp]:
        if item_level not in fitted:
            model = {"train_windows": 2, "item_level": item_level, "classifier": {"n_estimators": 20},
                     "regressor": {"n_estimators": 10}}
            cfg = Config.model_validate({"model": model})
            done = fit_on_windows(cfg, local_ds, cutoff - pd.Timedelta(days=cfg.time.horizon_days))
            fitted[item_level] = NextPurchasePyfunc(done.model, done.meta)
        return fitted[item_level], cutoff

    return fit


@pytest.mark.parametrize("item_level", ["sku", "category"])
def test_dask_forecast_from_the_layout_equals_local(client, ingested, forecast_model, item_level):
    from anticipate.demand.inputs import compute_forecast
    from anticipate.pipelines._common import load_data

    data, _ = ingested
    local_ds = load_dataset(data)
    model = {"train_windows": 2, "item_level": item_level, "classifier": {"n_estimators": 20},
             "regressor": {"n_estimators": 10}}
    # the category case also scales new demand by the year-ago index (its own tables on the workers)
    cfg = Config.model_validate({"model": model, "forecast": {"year_ago_index": item_level == "category"}})
    wrapper, cutoff = forecast_model(item_level)
    local_settings = Settings(cfg=cfg, data_dir=data, tracking_uri="", progress=False)
    local = compute_forecast(local_settings, local_ds, wrapper, "m", cutoff).table
    address = client.scheduler_info()["address"]  # the module's cluster, reached over tcp
    dask_cfg = cfg.model_copy(update={"compute": _dask_settings(data, scheduler=address).cfg.compute})
    settings = Settings(cfg=dask_cfg, data_dir=data, tracking_uri="", progress=False)
    remote = compute_forecast(settings, load_data(settings, cluster=True), wrapper, "m", cutoff).table
    assert len(local) > 100 and local["mu"].sum() > 0
    pd.testing.assert_frame_equal(remote, local, rtol=1e-9)


def test_dask_forecast_caps_new_demand_windows_to_the_history_as_local_does(client, ingested, forecast_model):
    """forecast.new_demand_windows past the history is capped, with a warning, by one rule
    (new_demand.new_demand_windows_at): the Dask forecast had kept the configured windows. The forecast
    runs on the module's cluster (over tcp); a cluster of its own added nothing but its start-up."""
    from anticipate.demand.inputs import compute_forecast
    from anticipate.pipelines._common import load_data

    data, _ = ingested
    local_ds = load_dataset(data)
    model = {"train_windows": 2, "classifier": {"n_estimators": 20}, "regressor": {"n_estimators": 10}}
    cfg = Config.model_validate({"model": model, "forecast": {"new_demand_windows": 500}})
    wrapper, cutoff = forecast_model(cfg.model.item_level)
    local = compute_forecast(Settings(cfg=cfg, data_dir=data, tracking_uri="", progress=False), local_ds,
                             wrapper, "m", cutoff)
    address = client.scheduler_info()["address"]
    dask_cfg = cfg.model_copy(update={"compute": _dask_settings(data, scheduler=address).cfg.compute})
    settings = Settings(cfg=dask_cfg, data_dir=data, tracking_uri="", progress=False)
    remote = compute_forecast(settings, load_data(settings, cluster=True), wrapper, "m", cutoff)
    capped = [w for w in local.warnings if "forecast.new_demand_windows" in w]
    assert len(capped) == 1 and "not the 500 of forecast.new_demand_windows" in capped[0]
    assert capped[0] in remote.warnings
    pd.testing.assert_frame_equal(remote.table, local.table, rtol=1e-9)


@pytest.mark.parametrize(
    "spec",
    [
        FeatureSpec(lookback_days=365, item_level="sku"),
        FeatureSpec(90, item_level="category", families=("customer_item", "item", "region_item")),
    ],
)
def test_dask_features_equal_local_features(client, sample, spec):
    cutoff = pd.Timestamp(sample.orders["order_ts"].max()).normalize() - pd.Timedelta(days=28)
    local = build_features(sample.orders, cutoff, spec, products=sample.products)
    parts = client.scatter(partition_orders(sample.orders, 4))
    remote = build_features_dask(client, parts, cutoff, spec, products=sample.products)
    assert len(local) > 1000 and list(remote.columns) == list(local.columns)
    assert_features_match(remote, local)


def test_unreachable_scheduler_is_service_unavailable():
    compute = ComputeConfig(engine="dask", scheduler="tcp://127.0.0.1:1", connect_seconds=1)
    with pytest.raises(ServiceUnavailable, match="unreachable"), dask_client(compute):
        pass


def test_something_else_listening_at_the_scheduler_address_fails_within_connect_seconds(tmp_path):
    """audit24 #4: an HTTP server (the dashboard's port typed for the scheduler's) hung Client forever."""
    import subprocess
    import sys
    import time

    from tests.conftest import free_port, wait_http

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        compute = ComputeConfig(engine="dask", scheduler=f"tcp://127.0.0.1:{port}", connect_seconds=2)
        began = time.monotonic()
        with pytest.raises(ServiceUnavailable, match=rf"tcp://127.0.0.1:{port} but it is not a Dask sched.*"
                           r"dashboard"), dask_client(compute):
            pass
        assert time.monotonic() - began < 6
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_real_tcp_scheduler_passes_the_handshake_check(client):
    from anticipate.distributed.cluster import cluster_size

    with dask_client(ComputeConfig(engine="dask", scheduler=client.scheduler.address)) as remote:
        assert cluster_size(remote) == {"dask_workers": 2, "dask_threads": 2}


def test_lightgbm_dask_model_matches_the_local_model_auc(client, tmp_path):
    from anticipate.config import Config, SampleConfig
    from anticipate.distributed.schedule import downsample_dask, train_dask, training_set_dask
    from anticipate.features.build import training_cutoffs
    from anticipate.metrics import classification_metrics
    from anticipate.models.next_purchase import NextPurchaseModel
    from anticipate.models.training import compact_features, feature_names, fit_on_windows
    from anticipate.sample import generate_world
    from anticipate.storage.files import DataSet

    tables, _ = generate_world(SampleConfig(customers=1500, skus=80, days=300))
    ds = DataSet(tmp_path, tables["orders"], tables["products"], None, None, None, "x")
    cfg = Config.model_validate(
        {"model": {"train_windows": 3, "classifier": {"n_estimators": 100, "learning_rate": 0.1}}}
    )
    until = pd.Timestamp(tables["orders"]["order_ts"].max()).normalize() - pd.Timedelta(days=7)
    local = fit_on_windows(cfg, ds, until)
    auc_local = classification_metrics(local.val["y"].to_numpy(), local.model.predict_proba(local.val))["auc"]

    cutoffs = training_cutoffs(until, cfg.time.horizon_days, cfg.model.train_windows)
    spec = FeatureSpec.from_config(cfg)
    parts = client.scatter(partition_orders(ds.orders, 4))
    train = training_set_dask(client, parts, cutoffs[:-1], spec, products=ds.products)
    val = build_features_dask(client, parts, cutoffs[-1], spec, products=ds.products, labelled=True)
    pd.testing.assert_frame_equal(compact_features(val), local.val.reset_index(drop=True))
    sample, n = downsample_dask(train, 5000, seed=0)
    assert n == len(local.train) and 4000 < len(sample) < 6000
    features = feature_names(val)
    model = train_dask(client, train, sample, val, features, NextPurchaseModel.from_config(cfg.model),
                       listen_port=_free_base_port(2))
    assert type(model.classifier_).__name__ == "LGBMClassifier"  # an ordinary local model
    assert model.classifier_.n_estimators == model.rounds_["classifier"] == model.best_iteration_
    auc_dask = classification_metrics(val["y"].to_numpy(), model.predict_proba(val))["auc"]
    assert abs(auc_dask - auc_local) <= 0.01, (auc_dask, auc_local)


# the path through the cluster is under test, not the model: few trees (the AUC bar stays met)
DASK_CONFIG = """
model:
  train_windows: 3
  classifier: {n_estimators: 20, learning_rate: 0.1}
  regressor: {n_estimators: 10, learning_rate: 0.1}
compute:
  {engine: dask, n_workers: 2, threads_per_worker: 1, memory_limit: 1GB, partitions: 4, connect_seconds: 1}
"""


def test_train_and_allocate_with_scheduler_local_cluster(tmp_path, trained_world):
    import json

    from tests.conftest import WORLD_DATE, run_cli

    (tmp_path / "dask.yaml").write_text(DASK_CONFIG)
    raw = trained_world.data  # the session's sampled world, read only: ingest writes to data/
    names = ("orders", "products", "regions", "warehouses", "supply")
    tables = [a for t in names for a in (f"--{t}", str(raw / f"{t}.parquet"))]
    done = run_cli("--json", "--config", "dask.yaml", "ingest", *tables, "--out", "data", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["counts"]["orders_partitions"] == 4
    assert (tmp_path / "data" / "orders" / "part=3" / "part-0.parquet").is_file()
    base = ("--json", "--data", "data", "--config", "dask.yaml")
    feats = (*base, "features", "--out", "f.parquet", "--scheduler")
    unreachable = run_cli(*feats, "tcp://127.0.0.1:1", cwd=tmp_path)
    assert unreachable.returncode == 3 and "unreachable" in unreachable.stderr, unreachable.stderr[-2000:]
    assert run_cli(*feats, "localhost:8786", cwd=tmp_path).returncode == 2  # not an address form we take
    trained = run_cli(*base, "train", "--scheduler", "local-cluster", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    # Dask worker processes may write LightGBM log lines to the inherited stdout; the JSON is the last
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    assert result["metrics"]["val.auc"] > 0.7, trained.stdout[:2000]
    # audit21: two Dask trains gave val.auc 0.9173 and 0.9143 and nothing said the model is not reproducible
    assert any(w.startswith("trained on Dask: LightGBM's distributed fit depends on which worker")
               for w in result["warnings"])
    from mlflow import MlflowClient

    params = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(result["run_id"]).data.params
    assert params["dask_workers"] == "2" and params["dask_partitions"] == "4"
    assert params["dask_orders"] == "layout"  # the workers read the ingested partitions
    assert run_cli(*base, "promote", "latest", "--alias", "production", cwd=tmp_path).returncode == 0
    done = run_cli(*base, "allocate", "--date", WORLD_DATE, "--allow-stale", "--scheduler", "local-cluster",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    # audit21 #14: the cluster's INFO lines (33 of them) and LightGBM's Python log lines reached stderr
    for said in (trained.stderr, done.stderr):
        assert "INFO distributed" not in said and "will be ignored" not in said, said[-3000:]
        assert "Finding random open ports" not in said, said[-3000:]
    plan = pd.read_parquet(tmp_path / "plans" / WORLD_DATE / "plan.parquet")
    summary = json.loads((tmp_path / "plans" / WORLD_DATE / "summary.json").read_text())
    assert len(plan) > 0 and summary["bound"] >= summary["objective"] > 0


def test_a_too_small_worker_memory_names_the_real_minimum() -> None:
    """audit25 F8: the refusal said '1GB or more' while the check is 512 MiB (and 600MB runs)."""
    from anticipate.distributed.cluster import check_compute

    with pytest.raises(UsageError, match=r"'100MB' is under 512 MiB per worker: .* \(512 MiB or more;"):
        check_compute(ComputeConfig(engine="dask", memory_limit="100MB"))
