"""The plan as a planner reads it: ``plan.csv`` with the SKU's category and the expected demand."""

from __future__ import annotations

import pandas as pd

#: plan.csv's columns, in order.
PLAN_CSV_COLUMNS = ("warehouse_id", "sku", "category", "units", "expected_demand")


def planner_table(units: pd.DataFrame, forecast: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """``plan.csv``: one row per planned cell, the units beside what the forecast expects there.

    ``units``: ``warehouse_id, sku, units`` (the plan, units > 0); ``forecast``:
    ``warehouse_id, sku, mu`` (expected units over the horizon); ``products``: ``sku`` and
    optionally ``category``. Returns :data:`PLAN_CSV_COLUMNS`, the plan's row order kept;
    ``expected_demand`` is the forecast mean in units over the horizon, rounded to 0.01
    (0 for a cell the forecast does not list); ``category`` is empty when unknown.
    """
    keys = ["warehouse_id", "sku"]
    out = units[[*keys, "units"]].astype({"warehouse_id": str, "sku": str}).reset_index(drop=True)
    mu = forecast[[*keys, "mu"]].astype({"warehouse_id": str, "sku": str}).drop_duplicates(keys)
    out = out.merge(mu, on=keys, how="left", validate="one_to_one")
    cats = products.set_index(products["sku"].astype(str))
    category = cats["category"].astype(str) if "category" in cats else pd.Series(dtype=str)
    out["category"] = out["sku"].map(category[~category.index.duplicated()]).fillna("")
    out["expected_demand"] = out["mu"].fillna(0.0).round(2)
    return out[list(PLAN_CSV_COLUMNS)]
