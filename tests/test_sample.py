"""The synthetic world: byte-identical regeneration, realistic shape, and a truth that matches simulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from anticipate.config import SampleConfig, load_config
from anticipate.errors import DataError, UsageError
from anticipate.pipelines import Settings
from anticipate.pipelines.sample import run_sample
from anticipate.sample import (
    Latent,
    generate_world,
    load_latent,
    true_probabilities,
    true_region_demand,
)
from anticipate.sample.world import day_multiplier, weekly_popularity
from anticipate.schema import TABLES
from anticipate.storage.files import load_dataset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SMALL = SampleConfig(customers=400, skus=40, categories=5, regions=8, warehouses=3, days=120, seed=3)
KIND_DTYPES = {"string": "str", "timestamp": "datetime64[us]", "int64": "int64", "float64": "float64"}


def _settings(**sample: object) -> Settings:
    cfg = load_config(None, overrides={f"sample.{k}": v for k, v in sample.items()})
    return Settings(cfg=cfg, data_dir=Path("."), tracking_uri="sqlite:///unused.db", progress=False)


def _tree_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small() -> tuple[dict[str, pd.DataFrame], Latent]:
    return generate_world(SMALL)


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    small = {k: v for k, v in SMALL.model_dump().items() if k != "start"}
    run_sample(_settings(**small), out=tmp_path / "a")
    run_sample(_settings(**small), out=tmp_path / "b")
    run_sample(_settings(**{**small, "seed": 4}), out=tmp_path / "c")
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "orders.parquet").read_bytes() != (
        tmp_path / "c" / "orders.parquet"
    ).read_bytes()


def test_committed_sample_regenerates_byte_identically(tmp_path: Path) -> None:
    result = run_sample(_settings(seed=7), out=tmp_path / "sample")
    assert _tree_bytes(tmp_path / "sample") == _tree_bytes(SAMPLE)
    assert result.counts["order_lines"] == len(load_dataset(SAMPLE).orders)


# --------------------------------------------------------------------------- shape
def test_committed_sample_tables_follow_the_schema() -> None:
    ds = load_dataset(SAMPLE)
    for name, columns in TABLES.items():
        frame = getattr(ds, name)
        present = [c for c in columns if c.name in frame.columns]
        assert [c.name for c in present] == list(frame.columns), name
        assert not any(c.required for c in columns if c.name not in frame.columns), name
        for col in present:
            assert str(frame[col.name].dtype) == KIND_DTYPES[col.kind], (name, col.name)
    for name, key in (("products", "sku"), ("regions", "region"), ("warehouses", "warehouse_id")):
        assert getattr(ds, name)[key].is_unique
    assert set(ds.orders["sku"]) <= set(ds.products["sku"])
    assert set(ds.orders["region"]) <= set(ds.regions["region"])
    assert (ds.products["unit_volume"] > 0).all() and (ds.warehouses["capacity"] > 0).all()
    assert ds.regions["lat"].between(-90, 90).all() and ds.regions["lon"].between(-180, 180).all()


def test_committed_sample_has_the_promised_shape() -> None:
    ds = load_dataset(SAMPLE)
    orders = ds.orders
    assert 100_000 <= len(orders) <= 200_000
    assert 4_000 <= orders["customer_id"].nunique() <= 5_000
    assert len(ds.products) == 300 and 15 <= ds.products["category"].nunique() <= 20
    assert len(ds.regions) == 50 and len(ds.warehouses) == 8 and len(ds.supply) == 300
    assert 700 <= (orders["order_ts"].max() - orders["order_ts"].min()).days <= 730
    assert (orders["quantity"] >= 1).all() and 0.05 < (orders["quantity"] > 1).mean() < 0.3
    assert orders["order_ts"].is_monotonic_increasing
    first = orders.drop_duplicates("order_id")["order_id"]
    assert first.is_monotonic_increasing and first.iloc[0] == "O0000001"
    per_order = orders.groupby("order_id").agg(c=("customer_id", "nunique"), t=("order_ts", "nunique"))
    assert (per_order == 1).all().all()
    assert not orders.duplicated(["order_id", "sku"]).any()
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 10 * 1024 * 1024


def test_popularity_is_skewed_customers_rebuy_and_regions_differ() -> None:
    ds = load_dataset(SAMPLE)
    orders = ds.orders
    share = orders["sku"].value_counts(normalize=True)
    assert share.iloc[:30].sum() > 0.3  # the top 10% of SKUs sell more than 30% of lines
    per_pair = orders.groupby(["customer_id", "sku"])["order_id"].nunique()
    assert (per_pair > 1).mean() > 0.2  # many customers re-buy the same SKU
    home = orders.groupby("customer_id")["region"].agg(lambda r: r.value_counts().index[0])
    per_region = home.value_counts()
    assert per_region.max() > 5 * per_region.min()  # population-weighted home regions
    week = orders.groupby(orders["order_ts"].dt.dayofweek).size()
    assert week.max() / week.min() > 1.1  # weekly seasonality


def test_capacity_and_supply_bind_in_a_typical_week() -> None:
    ds = load_dataset(SAMPLE)
    last = ds.orders[ds.orders["order_ts"] >= ds.orders["order_ts"].max() - pd.Timedelta(days=7)]
    units = last.groupby("sku")["quantity"].sum()
    volume = (units * ds.products.set_index("sku")["unit_volume"].reindex(units.index)).sum()
    assert ds.warehouses["capacity"].sum() < volume
    supply = ds.supply.set_index("sku")["units"].reindex(units.index, fill_value=0)
    assert (supply < units).mean() > 0.2


# --------------------------------------------------------------------------- truth vs simulation
def _conditional_gap(
    rng: np.random.Generator, kappa: np.ndarray, cycle: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Gaps ``max(1, ceil(Gamma))`` drawn given ``G > age`` (inverse survival, not the generator's code)."""
    dist = stats.gamma(kappa, scale=cycle / kappa)
    x = dist.isf(rng.random(kappa.shape) * dist.sf(age))
    return np.maximum(np.ceil(x), 1).astype(np.int64)


def _simulate(latent: Latent, customers: np.ndarray, t: int, horizon: int, reps: int,
              rng: np.random.Generator) -> np.ndarray:
    """An independent forward simulation from the state at ``t``: bought[rep, customer, sku]."""
    cust = latent.customers.iloc[customers]
    skus = latent.skus
    n_skus = len(skus)
    bought = np.zeros((reps, len(customers), n_skus), dtype=bool)
    life = rng.geometric(cust["delta"].to_numpy(), (reps, len(customers))) - 1  # alive on days j < life
    life[:, cust["death"].to_numpy() < t] = 0
    for j in range(horizon):
        pop = weekly_popularity(latent, np.array([(t + j) // 7]))[0]
        rate = cust["lam"].to_numpy() * day_multiplier(latent, np.array([t + j]))[0]
        n_orders = rng.poisson(rate, (reps, len(customers))) * (j < life)
        for i in range(len(customers)):
            in_affinity = skus["category"].to_numpy() == cust["affinity"].iloc[i]
            tilt = np.where(in_affinity, cust["boost"].iloc[i], 1.0)
            q = pop * tilt / (pop * tilt).sum()
            n_lines = n_orders[:, i] + rng.poisson(latent.mu_k * n_orders[:, i])
            bought[:, i, :] |= rng.multinomial(n_lines, q) > 0
    fav = latent.favourites.reset_index(drop=True)
    pos = pd.Series(np.arange(len(customers)), index=cust["customer_id"].to_numpy())
    fav = fav[fav["customer_id"].isin(pos.index)]
    ren = latent.renewals[latent.renewals["day"] < t]
    last = ren.groupby("favourite")["day"].max().reindex(fav.index).to_numpy()
    kappa = skus.set_index("sku")["kappa"].reindex(fav["sku"]).to_numpy()
    c_pos, s_pos = pos.reindex(fav["customer_id"]).to_numpy(), pd.Index(skus["sku"]).get_indexer(fav["sku"])
    cycle = fav["cycle"].to_numpy()
    shape = (reps, len(fav))
    day = last + _conditional_gap(rng, np.broadcast_to(kappa, shape), np.broadcast_to(cycle, shape),
                                  np.broadcast_to(t - 1 - last, shape).astype(float))
    while (day < t + horizon).any():
        hit = (day < t + horizon) & (day - t < life[:, c_pos])
        r, f = np.nonzero(hit)
        bought[r, c_pos[f], s_pos[f]] = True
        gap = rng.gamma(kappa, cycle / kappa, shape)
        day = np.where(day < t + horizon, day + np.maximum(np.ceil(gap), 1).astype(np.int64), day)
    return bought


def test_p_true_matches_an_independent_simulation(small: tuple[dict[str, pd.DataFrame], Latent]) -> None:
    tables, latent = small
    cutoff, horizon, reps = pd.Timestamp("2024-04-10"), 7, 3000
    t = (cutoff - latent.start).days
    rng = np.random.default_rng(11)
    sku_truth = true_probabilities(latent, tables["orders"], cutoff, horizon_days=horizon, lookback_days=90)
    ids = rng.choice(sku_truth["customer_id"].unique(), 60, replace=False)
    customers = pd.Index(latent.customers["customer_id"]).get_indexer(ids)
    bought = _simulate(latent, customers, t, horizon, reps, rng)
    cats = latent.skus["category"].to_numpy()
    for level in ("sku", "category"):
        truth = true_probabilities(latent, tables["orders"], cutoff, horizon_days=horizon, lookback_days=90,
                                   item_level=level)
        truth = truth[truth["customer_id"].isin(ids)].reset_index(drop=True)
        c = pd.Index(ids).get_indexer(truth["customer_id"])
        if level == "sku":
            freq = bought[:, c, pd.Index(latent.skus["sku"]).get_indexer(truth["item"])].mean(axis=0)
        else:
            per_cat = np.stack([bought[:, :, cats == k].any(axis=2) for k in truth["item"].unique()], axis=2)
            k = pd.Index(truth["item"].unique()).get_indexer(truth["item"])
            freq = per_cat[:, c, k].mean(axis=0)
        p = truth["p_true"].to_numpy()
        se = np.sqrt(np.clip(p * (1 - p), 1e-4, None) / reps)
        assert len(truth) > 100 and p.max() > 0.3
        assert np.abs((freq - p) / se).max() < 4.5, level
        assert abs(freq.sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum() / reps) + 1e-3, level


def _horizon(orders: pd.DataFrame, cutoff: pd.Timestamp, days: int = 7) -> pd.DataFrame:
    return orders[(orders["order_ts"] >= cutoff) & (orders["order_ts"] < cutoff + pd.Timedelta(days=days))]


def test_realised_labels_agree_with_truth_on_average() -> None:
    ds = load_dataset(SAMPLE)
    latent = load_latent(SAMPLE)
    assert latent is not None
    category = ds.products.set_index("sku")["category"]
    for level in ("sku", "category"):
        p_sum = y_sum = var = 0.0
        for cutoff in pd.date_range("2025-01-06", periods=12, freq="28D"):
            truth = true_probabilities(latent, ds.orders, cutoff, horizon_days=7, lookback_days=365,
                                       item_level=level)
            h = _horizon(ds.orders, cutoff)
            item = h["sku"] if level == "sku" else category.reindex(h["sku"]).to_numpy()
            bought = pd.MultiIndex.from_arrays([h["customer_id"].to_numpy(), np.asarray(item)])
            y = pd.MultiIndex.from_frame(truth[["customer_id", "item"]]).isin(bought)
            p_sum, y_sum = p_sum + truth["p_true"].sum(), y_sum + y.sum()
            var += (truth["p_true"] * (1 - truth["p_true"])).sum()
        assert abs(y_sum - p_sum) < 4 * np.sqrt(var), level


def test_true_region_demand_matches_realised_units() -> None:
    ds = load_dataset(SAMPLE)
    latent = load_latent(SAMPLE)
    assert latent is not None
    true_units, real_units = [], []
    for cutoff in pd.date_range("2025-03-03", periods=20, freq="14D"):
        demand = true_region_demand(latent, cutoff, horizon_days=7)
        assert len(demand) == 50 * 300 and (demand["mu_true"] >= 0).all()
        true_units.append(demand.groupby("region")["mu_true"].sum())
        h = _horizon(ds.orders, cutoff)
        real_units.append(h.groupby("region")["quantity"].sum().reindex(true_units[-1].index, fill_value=0))
    mu, real = sum(true_units), sum(real_units)
    assert abs(mu.sum() - real.sum()) / real.sum() < 0.03
    assert np.corrcoef(mu, real)[0, 1] > 0.98


def test_category_truth_is_at_least_the_sku_truth(small: tuple[dict[str, pd.DataFrame], Latent]) -> None:
    tables, latent = small
    cutoff = pd.Timestamp("2024-03-04")
    sku = true_probabilities(latent, tables["orders"], cutoff, horizon_days=7, lookback_days=60)
    cat = true_probabilities(latent, tables["orders"], cutoff, horizon_days=7, lookback_days=60,
                             item_level="category")
    cat_of = latent.skus.set_index("sku")["category"]
    by_cat = sku.assign(item=cat_of.reindex(sku["item"]).to_numpy())
    joined = by_cat.groupby(["customer_id", "item"])["p_true"]
    merged = cat.set_index(["customer_id", "item"])["p_true"].reindex(joined.max().index)
    assert (merged.to_numpy() >= joined.max().to_numpy() - 1e-12).all()
    assert cat["p_true"].between(0, 1).all() and sku["p_true"].between(0, 1).all()


# --------------------------------------------------------------------------- the files
def test_sample_writes_truth_files_at_a_cutoff(tmp_path: Path) -> None:
    small = {k: v for k, v in SMALL.model_dump().items() if k != "start"}
    result = run_sample(_settings(**small), out=tmp_path / "w", truth_cutoff="2024-03-04")
    truth = pd.read_parquet(result.outputs["truth"])
    demand = pd.read_parquet(result.outputs["truth_demand"])
    assert list(truth.columns) == ["customer_id", "item", "p_true"] and truth["p_true"].between(0, 1).all()
    assert list(demand.columns) == ["region", "sku", "mu_true"] and len(demand) == 8 * 40
    latent = load_latent(tmp_path / "w")
    orders = pd.read_parquet(tmp_path / "w" / "orders.parquet")
    again = true_probabilities(latent, orders, pd.Timestamp("2024-03-04"), horizon_days=7, lookback_days=365)
    pd.testing.assert_frame_equal(truth, again)


def test_truth_refuses_cutoffs_outside_the_world(small: tuple[dict[str, pd.DataFrame], Latent],
                                                 tmp_path: Path) -> None:
    tables, latent = small
    with pytest.raises(UsageError, match="2024-01-02 to 2024-04-30"):
        true_probabilities(latent, tables["orders"], pd.Timestamp("2024-06-01"), horizon_days=7,
                           lookback_days=30)
    with pytest.raises(UsageError, match="--truth-cutoff"):
        run_sample(_settings(customers=50, skus=10, days=30), out=tmp_path / "x", truth_cutoff="2024/01/05")
    assert not (tmp_path / "x").exists()


def test_load_latent_is_none_for_real_data_and_refuses_other_formats(tmp_path: Path) -> None:
    assert load_latent(tmp_path) is None
    (tmp_path / "latent").mkdir()
    (tmp_path / "latent" / "world.json").write_text(json.dumps({"start": "2024-01-01", "days": 10}))
    with pytest.raises(DataError, match="anticipate sample --out"):
        load_latent(tmp_path)


def test_a_world_that_does_not_describe_the_orders_is_refused_not_read() -> None:
    """An update carries latent/ over; another shop's orders must not get the world's true
    probabilities as if they were its own, while nights appended after its days still do."""
    from anticipate.sample import latent_of

    orders = load_dataset(SAMPLE).orders.astype({"customer_id": str})
    assert latent_of(SAMPLE, orders) is not None
    night = orders.tail(200).assign(order_ts=lambda f: f["order_ts"] + pd.Timedelta(days=7))
    appended = pd.concat([orders, night])
    assert latent_of(SAMPLE, appended) is not None  # a continuation, past the world's days
    other = orders.assign(customer_id="shop-b-" + orders["customer_id"])
    with pytest.raises(DataError, match=r"come from customers it does not know or are dated before it began"):
        latent_of(SAMPLE, other)
    older = orders.assign(order_ts=orders["order_ts"] - pd.Timedelta(days=365))
    with pytest.raises(DataError, match=r"\(2024-01-01\)"):
        latent_of(SAMPLE, older)


def test_a_world_with_no_order_line_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """audit21: 'sample --customers 1 --days 30' wrote its tables, then exited 1 ('NaTType does not support
    strftime'); train and allocate on it exited 1 too."""
    with pytest.raises(UsageError, match=r"the world of 1 customer\(s\) over 30 days holds no order line"):
        run_sample(_settings(customers=1, days=30), out=tmp_path / "w")
    assert not (tmp_path / "w").exists()
