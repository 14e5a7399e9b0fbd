"""What was really ordered after a cutoff: the horizon's lines with their serving warehouse.

A line is served by the warehouse nearest its customer's region *at the cutoff* (the
region of most units among their lines at their last instant before it, as the features
place them; a new customer: the line's own ship-to region),
or by the centre (warehouse NA) when no warehouse is within ``network.max_service_km``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anticipate.features.history import regions_at_last_instant


def customer_regions(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.Series:
    """Each customer's region at ``cutoff`` (index: customer id as text), the features' rule.

    Among the customer's lines at their last instant before ``cutoff``, the region with the
    most units, ties to the region first in sort order
    (:func:`~anticipate.features.history.regions_at_last_instant`): the region the forecast
    placed the customer's demand in, and the same for any row order of the lines.
    """
    hist = orders.loc[orders["order_ts"] < cutoff, ["customer_id", "order_ts", "region", "quantity"]]
    regions = regions_at_last_instant(hist)
    regions.index = regions.index.astype(str)
    return regions


def horizon_lines(
    orders: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, region_map: pd.DataFrame
) -> pd.DataFrame:
    """The actual lines in ``[cutoff, cutoff + H)`` in time order, each with its serving warehouse.

    The warehouse is the one nearest the customer's region at the cutoff (a new
    customer: the line's own region); NA when the centre serves it.
    """
    lines = orders[
        (orders["order_ts"] >= cutoff) & (orders["order_ts"] < cutoff + pd.Timedelta(days=horizon_days))
    ]
    lines = lines.sort_values(
        ["order_ts", "order_id"] if "order_id" in lines else ["order_ts"], kind="stable"
    )
    regions = customer_regions(orders, cutoff)
    region = regions.reindex(lines["customer_id"].astype(str).to_numpy()).to_numpy(dtype=object)
    own = lines["region"].astype(str).to_numpy()
    region = np.where(pd.isna(region), own, region)
    wh = region_map.set_index("region")["warehouse_id"].reindex(region)
    return pd.DataFrame(
        {
            "order_ts": lines["order_ts"].to_numpy(),
            "customer_id": lines["customer_id"].astype(str).to_numpy(),
            "sku": lines["sku"].astype(str).to_numpy(),
            "quantity": lines["quantity"].to_numpy(np.int64),
            "region": region.astype(str),
            "warehouse_id": wh.to_numpy(),
        }
    )


def actual_demand(lines: pd.DataFrame) -> pd.DataFrame:
    """``warehouse_id, sku, units`` actually ordered (locally servable lines only)."""
    local = lines[lines["warehouse_id"].notna()]
    out = local.groupby([local["warehouse_id"].astype(str), "sku"], as_index=False)["quantity"].sum()
    return out.rename(columns={"quantity": "units"})
