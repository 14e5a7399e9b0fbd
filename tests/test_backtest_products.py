"""Forecast-only backtest per product: the cells, the split into candidate and new units, the metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anticipate.backtest.products import (
    ONE_WAREHOUSE,
    ProductForecasts,
    one_warehouse,
    product_cells,
    product_metrics,
)

CUTOFF = pd.Timestamp("2025-01-15")


def _orders() -> pd.DataFrame:
    rows = [  # customer, timestamp, sku, quantity, region
        ("c1", "2025-01-02", "s1", 1, "r"),  # makes (c1, s1) a candidate at the cutoff
        ("c1", "2025-01-16", "s1", 2, "r"),  # a candidate pair's units
        ("c2", "2025-01-17", "s2", 3, "q"),  # a new customer's units
        ("c1", "2025-01-25", "s1", 9, "r"),  # after the horizon
    ]
    return pd.DataFrame({
        "order_id": [f"o{i}" for i in range(len(rows))],
        "customer_id": [r[0] for r in rows],
        "order_ts": pd.to_datetime([r[1] for r in rows]),
        "sku": [r[2] for r in rows],
        "quantity": np.array([r[3] for r in rows], dtype=np.int64),
        "unit_price": 1.0,
        "region": [r[4] for r in rows],
    })


def _forecasts() -> ProductForecasts:
    parts = {
        "candidates": pd.DataFrame({"region": ["r"], "sku": ["s1"], "mu": [1.5], "var": [2.0]}),
        "new": pd.DataFrame({"region": ["q", "r"], "sku": ["s2", "s2"], "mu": [2.0, 1.0], "var": [2.0, 1.0]}),
    }
    naive = pd.DataFrame({"warehouse_id": [ONE_WAREHOUSE], "sku": ["s1"], "mu": [0.25], "var": [0.25]})
    cells = product_cells(parts, naive, _orders(), CUTOFF, horizon_days=7, lookback_days=30,
                          item_level="sku", products=None)
    return ProductForecasts(CUTOFF, 7, cells)


def test_one_warehouse_serves_every_region() -> None:
    region_map = one_warehouse(_orders())
    assert region_map["region"].tolist() == ["q", "r"]
    assert region_map["warehouse_id"].tolist() == [ONE_WAREHOUSE, ONE_WAREHOUSE]


def test_cells_sum_regions_per_product_and_split_the_actual_units() -> None:
    cells = _forecasts().cells.set_index("sku")
    assert cells.loc["s1", ["model", "candidates", "new", "naive", "units", "units_new"]].tolist() == [
        1.5, 1.5, 0.0, 0.25, 2.0, 0.0]
    assert cells.loc["s2", ["model", "candidates", "new", "naive", "units", "units_new"]].tolist() == [
        3.0, 0.0, 3.0, 0.0, 3.0, 3.0]
    assert cells.loc["s2", "var"] == 3.0


def test_metrics_score_model_and_naive_per_product() -> None:
    m = product_metrics(_forecasts())
    assert m["units"] == 5.0 and m["units_new"] == 3.0 and m["products"] == 2.0
    assert m["model.bias"] == pytest.approx(-0.1) and m["model.wape"] == pytest.approx(0.1)
    assert m["naive.bias"] == pytest.approx(-0.95) and m["naive.wape"] == pytest.approx(0.95)
    assert m["candidates_bias"] == pytest.approx(-0.25) and m["new_bias"] == pytest.approx(0.0)


def test_excluded_products_leave_every_total() -> None:
    m = product_metrics(_forecasts(), exclude_skus=["s2"])
    assert m["units"] == 2.0 and m["new_mu"] == 0.0
    assert m["model.bias"] == pytest.approx(-0.25) and m["naive.bias"] == pytest.approx(-0.875)


def test_a_short_history_caps_new_demand_and_the_naive_as_the_plan_backtest_does(trained_world) -> None:
    """audit (h31 [1]): at a cutoff 19 days into the history the per-product backtest divided the naive's
    two weeks of units by the 4 of backtest.naive_windows (half the demand) and dropped the warning that
    forecast.new_demand_windows was capped, which the plan backtest gives at the same cutoff."""
    from anticipate.backtest.products import product_forecasts
    from anticipate.config import load_config
    from anticipate.storage.files import load_dataset
    from anticipate.tracking.runs import Tracker

    cfg = load_config(trained_world.config)
    wrapper = Tracker.from_config(cfg, trained_world.tracking_uri, quiet=True).load_model(
        trained_world.train["outputs"]["model_uri"])
    ds = load_dataset(trained_world.data)
    cutoff = pd.Timestamp("2024-01-20")  # the history starts 2024-01-01: 2 whole weeks before it
    fc = product_forecasts(wrapper, ds, cutoff, cfg)
    assert fc.warnings == (
        "cutoff 2024-01-20: the history before it holds 2 horizon(s) of 7 days, so new demand averages 2, "
        "not the 4 of forecast.new_demand_windows",
        "backtest cutoff 2024-01-20: the history before it holds 2 horizon(s) of 7 days, so the naive "
        "forecast averages 2, not the 4 of backtest.naive_windows")
    ts = ds.orders["order_ts"]
    two_weeks = ds.orders.loc[(ts >= cutoff - pd.Timedelta(days=14)) & (ts < cutoff), "quantity"].sum()
    assert fc.cells["naive"].sum() == pytest.approx(two_weeks / 2)
