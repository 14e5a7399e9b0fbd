"""The synthetic world: byte-identical regeneration, realistic shape, and a truth that matches simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anticipate.config import SampleConfig, load_config
from anticipate.io import load_dataset
from anticipate.pipelines import Settings
from anticipate.pipelines.sample import run_sample
from anticipate.sample import (
    MU_K,
    Latent,
    generate_world,
    load_latent,
    true_probabilities,
    true_region_demand,
)
from anticipate.schema import column_names

ROOT = Path(__file__).resolve().parents[1]
SMALL = SampleConfig(customers=400, skus=40, categories=5, regions=8, warehouses=3, days=120, seed=3)


def _settings(**sample: object) -> Settings:
    cfg = load_config(None, overrides={f"sample.{k}": v for k, v in sample.items()})
    return Settings(cfg=cfg, data_dir=Path("."), tracking_uri="sqlite:///unused.db", progress=False)


def _tree_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


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
    run_sample(_settings(seed=7), out=tmp_path / "sample")
    assert _tree_bytes(tmp_path / "sample") == _tree_bytes(ROOT / "data" / "sample")


def test_committed_sample_has_the_promised_shape() -> None:
    ds = load_dataset(ROOT / "data" / "sample")
    orders = ds.orders
    assert 100_000 <= len(orders) <= 200_000
    assert list(orders.columns) == column_names("orders")
    assert 4_000 <= orders["customer_id"].nunique() <= 5_000
    assert ds.products is not None and len(ds.products) == 300
    assert 15 <= ds.products["category"].nunique() <= 20
    assert ds.regions is not None and len(ds.regions) == 50
    assert ds.warehouses is not None and len(ds.warehouses) == 8
    span = (orders["order_ts"].max() - orders["order_ts"].min()).days
    assert 700 <= span <= 730
    assert (orders["quantity"] >= 1).all() and (orders["quantity"] > 1).mean() > 0.05
    size = sum(p.stat().st_size for p in (ROOT / "data" / "sample").rglob("*") if p.is_file())
    assert size < 10 * 1024 * 1024


def test_popularity_is_skewed_and_customers_rebuy() -> None:
    orders = load_dataset(ROOT / "data" / "sample").orders
    share = orders["sku"].value_counts(normalize=True)
    assert share.iloc[:30].sum() > 0.3  # the top 10% of SKUs sell more than 30% of lines
    per_pair = orders.groupby(["customer_id", "sku"])["order_id"].nunique()
    assert (per_pair > 1).mean() > 0.2  # many customers re-buy the same SKU


# --------------------------------------------------------------------------- truth vs simulation
def _simulate(
    latent: Latent,
    pairs: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizon: int,
    reps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """An independent forward simulation: the share of reps in which each pair orders."""
    cust = latent.customers.set_index("customer_id")
    t = (cutoff - latent.start).days
    ids = pairs["customer_id"].unique()
    c = cust.loc[ids]
    alive0 = c["death"].to_numpy() >= t
    fav = latent.favourites[latent.favourites["customer_id"].isin(ids)]
    skus = latent.skus["sku"].to_numpy()
    hits = np.zeros(len(pairs))
    key = pd.MultiIndex.from_frame(pairs[["customer_id", "item"]])
    for _ in range(reps):
        life = rng.geometric(c["delta"].to_numpy()) - 1  # alive on horizon days j < life
        bought: set[tuple[str, str]] = set()
        for j in range(horizon):
            d = t + j
            rate = c["lam"].to_numpy() * latent.dow[(latent.start.dayofweek + d) % 7] * latent.season[d]
            n = rng.poisson(rate * (alive0 & (j < life)))
            for ci in np.flatnonzero(n):
                cid = ids[ci]
                f = fav[fav["customer_id"] == cid]
                for _order in range(n[ci]):
                    for _line in range(1 + rng.poisson(MU_K)):
                        if rng.random() < c["rho"].iloc[ci]:
                            s = rng.choice(f["sku"].to_numpy(), p=f["weight"].to_numpy() / f["weight"].sum())
                        else:
                            s = skus[rng.choice(len(skus), p=latent.popularity[d // 7])]
                        bought.add((cid, s))
        hits += key.isin(list(bought))
    return hits / reps


@pytest.mark.slow
def test_p_true_matches_simulated_frequencies() -> None:
    tables, latent = generate_world(SMALL)
    cutoff = pd.Timestamp("2024-04-01")
    truth = true_probabilities(latent, tables["orders"], cutoff, horizon_days=7, lookback_days=60)
    rng = np.random.default_rng(11)
    sample = truth.sample(n=min(150, len(truth)), random_state=1).reset_index(drop=True)
    reps = 400
    freq = _simulate(latent, sample, cutoff, 7, reps, rng)
    se = np.sqrt(np.clip(sample["p_true"] * (1 - sample["p_true"]), 1e-4, None) / reps)
    z = (freq - sample["p_true"].to_numpy()) / se
    assert np.abs(z).max() < 4.5
    assert abs(freq.mean() - sample["p_true"].mean()) < 3 * np.sqrt((se**2).sum()) / len(sample) + 1e-3


def test_realised_labels_agree_with_truth_on_average() -> None:
    ds = load_dataset(ROOT / "data" / "sample")
    latent = load_latent(ROOT / "data" / "sample")
    assert latent is not None
    for cutoff in (pd.Timestamp("2025-06-02"), pd.Timestamp("2025-11-03")):
        truth = true_probabilities(latent, ds.orders, cutoff, horizon_days=7, lookback_days=365)
        horizon = ds.orders[
            (ds.orders["order_ts"] >= cutoff) & (ds.orders["order_ts"] < cutoff + pd.Timedelta(days=7))
        ]
        bought = pd.MultiIndex.from_frame(horizon[["customer_id", "sku"]].drop_duplicates())
        y = pd.MultiIndex.from_frame(truth[["customer_id", "item"]]).isin(bought)
        se = np.sqrt((truth["p_true"] * (1 - truth["p_true"])).sum()) / len(truth)
        assert abs(y.mean() - truth["p_true"].mean()) < 5 * se


def test_true_region_demand_matches_realised_units_in_total() -> None:
    ds = load_dataset(ROOT / "data" / "sample")
    latent = load_latent(ROOT / "data" / "sample")
    assert latent is not None
    total_true, total_real = 0.0, 0.0
    for week in range(8):
        cutoff = pd.Timestamp("2025-09-01") + pd.Timedelta(days=7 * week)
        total_true += true_region_demand(latent, cutoff, horizon_days=7, n_regions=50)["mu_true"].sum()
        h = ds.orders[
            (ds.orders["order_ts"] >= cutoff) & (ds.orders["order_ts"] < cutoff + pd.Timedelta(days=7))
        ]
        total_real += h["quantity"].sum()
    assert abs(total_true - total_real) / total_real < 0.05


def test_category_truth_is_at_least_the_sku_truth() -> None:
    tables, latent = generate_world(SMALL)
    cutoff = pd.Timestamp("2024-03-04")
    sku = true_probabilities(latent, tables["orders"], cutoff, horizon_days=7, lookback_days=60)
    cat = true_probabilities(
        latent, tables["orders"], cutoff, horizon_days=7, lookback_days=60, item_level="category"
    )
    cat_of = latent.skus.set_index("sku")["category"]
    joined = (
        sku.assign(item=cat_of.reindex(sku["item"]).to_numpy())
        .groupby(["customer_id", "item"])["p_true"]
        .max()
    )
    merged = cat.set_index(["customer_id", "item"])["p_true"].reindex(joined.index)
    assert (merged.to_numpy() >= joined.to_numpy() - 1e-12).all()
    assert ((cat["p_true"] >= 0) & (cat["p_true"] <= 1)).all()
