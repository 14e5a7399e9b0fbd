"""Demand per warehouse x SKU over the horizon: mean ``mu`` and variance ``var``.

Two independent parts, in units:

* **candidates**: each scored pair buys with probability ``p`` and then ``Q`` units,
  ``E[Q] = m`` (the quantity model) and ``Var[Q] = m - 1`` (``Q - 1`` Poisson), so
  its units have mean ``p m`` and variance ``p (Var[Q] + m^2) - (p m)^2``. Pairs are
  independent; a category-level pair is split into SKUs by recent region x
  category SKU shares.
* **new demand** (:mod:`anticipate.demand.new_demand`): the units of pairs that were
  not candidates, from the last horizons: a region's level split over SKUs by their
  shares over all regions (``forecast.new_demand_split``), scaled by the year-ago
  index (``forecast.year_ago_index``).

Demand is placed at the warehouse nearest to the customer's region at the cutoff
(a new customer: the line's ship-to region). ``var >= mu >= 0`` always, and the
variance is multiplied by ``forecast.dispersion`` (>= 1) to calibrate intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.config import ForecastConfig
from anticipate.demand.new_demand import (
    configured_sku_windows,
    new_demand,
    new_demand_windows_at,
    scaled_by_year_ago,
    year_ago_table,
)
from anticipate.features.build import item_column
from anticipate.features.items import sku_items
from anticipate.features.spec import FeatureSpec


def pair_moments(p_buy: np.ndarray, units_given_buy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of a pair's units: Bernoulli(p) times Q, E[Q] = m, Var[Q] = m - 1."""
    p = np.clip(np.asarray(p_buy, float), 0.0, 1.0)
    m = np.maximum(np.asarray(units_given_buy, float), 1.0)
    var_q = m - 1.0
    mean = p * m
    return mean, p * (var_q + m * m) - mean * mean


def sku_shares(
    orders: pd.DataFrame, cutoff: pd.Timestamp, *, window_days: int, products: pd.DataFrame
) -> pd.DataFrame:
    """``region, item (category), sku, share``: each SKU's share of its category's units per region.

    Uses lines in ``[cutoff - window_days, cutoff)`` (days). Besides one row set per
    region, rows with ``region = "*"`` hold the category's shares over all regions, which
    :func:`split_to_skus` applies to a region without history for that category.
    """
    units = recent_units(orders, cutoff, window_days=window_days, products=products)
    return shares_from_units(units, products)


def recent_units(
    orders: pd.DataFrame, cutoff: pd.Timestamp, *, window_days: int, products: pd.DataFrame
) -> pd.DataFrame:
    """``region, item (category), sku, units`` summed over lines in ``[cutoff - window_days, cutoff)``.

    Sums over disjoint sets of orders add up (the Dask path sums them per partition).
    """
    recent = orders[
        (orders["order_ts"] < cutoff) & (orders["order_ts"] >= cutoff - pd.Timedelta(days=window_days))
    ]
    frame = pd.DataFrame(
        {
            "region": recent["region"].astype(str).to_numpy(),
            "item": item_column(recent, "category", products).to_numpy(),
            "sku": recent["sku"].astype(str).to_numpy(),
            "units": recent["quantity"].to_numpy(float),
        }
    )
    return frame.groupby(["region", "item", "sku"], as_index=False)["units"].sum()


def shares_from_units(by_region: pd.DataFrame, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """The shares of :func:`sku_shares` from its unit sums (:func:`recent_units`).

    A category of ``products`` with no units in the window (its customers' candidate demand still
    comes from older lines) gets equal shares over its SKUs in the ``"*"`` rows, so its demand is
    spread, not dropped."""
    by_region = by_region.copy()
    by_region["share"] = by_region["units"] / by_region.groupby(["region", "item"])["units"].transform("sum")
    overall = by_region.groupby(["item", "sku"], as_index=False)["units"].sum()
    overall["share"] = overall["units"] / overall.groupby("item")["units"].transform("sum")
    overall["region"] = "*"
    parts = [by_region, overall]
    if products is not None and "category" in products:
        items = sku_items(products)
        catalogue = pd.DataFrame({"item": items.to_numpy(dtype=str), "sku": items.index.astype(str)})
        unsold = catalogue[~catalogue["item"].isin(overall["item"])]
        parts.append(unsold.assign(share=1.0 / unsold.groupby("item")["sku"].transform("size"), region="*"))
    return pd.concat(parts, ignore_index=True)[["region", "item", "sku", "share"]]


def split_to_skus(pairs: pd.DataFrame, shares: pd.DataFrame) -> pd.DataFrame:
    """Spread category-level pair moments (``region, item, mu, var``) over SKUs by share.

    A pair with SKU share ``s`` contributes ``s * mu`` and ``s^2 * var`` (each SKU
    receives a fixed fraction of the pair's units), preserving total ``mu``.
    """
    regional = pairs.merge(shares, on=["region", "item"], how="inner")
    missing = pairs[
        ~pairs.set_index(["region", "item"]).index.isin(shares.set_index(["region", "item"]).index)
    ]
    fallback = missing.merge(shares[shares["region"] == "*"].drop(columns="region"), on="item", how="inner")
    out = pd.concat([regional, fallback], ignore_index=True)
    return out.assign(mu=out["mu"] * out["share"], var=out["var"] * out["share"] ** 2)[
        ["region", "sku", "mu", "var"]
    ]


def candidate_demand(scored: pd.DataFrame, *, item_level: str, shares: pd.DataFrame | None) -> pd.DataFrame:
    """``region, sku, mu, var`` from scored pairs (``customer_id, item, region, p_buy, units_given_buy``)."""
    mean, var = pair_moments(scored["p_buy"].to_numpy(), scored["units_given_buy"].to_numpy())
    pairs = pd.DataFrame(
        {
            "region": scored["region"].astype(str).to_numpy(),
            "item": scored["item"].astype(str).to_numpy(),
            "mu": mean,
            "var": var,
        }
    )
    if item_level == "category":
        assert shares is not None
        pairs = split_to_skus(pairs, shares)
    else:
        pairs = pairs.rename(columns={"item": "sku"})
    return pairs.groupby(["region", "sku"], as_index=False)[["mu", "var"]].sum()


def to_warehouses(
    parts: list[pd.DataFrame], region_map: pd.DataFrame, *, dispersion: float = 1.0
) -> pd.DataFrame:
    """Sum independent ``region, sku, mu, var`` parts per nearest warehouse; drop centre-served regions."""
    frame = pd.concat(parts, ignore_index=True).merge(
        region_map[["region", "warehouse_id"]], on="region", how="left"
    )
    frame = frame[frame["warehouse_id"].notna()]
    out = frame.groupby(["warehouse_id", "sku"], as_index=False)[["mu", "var"]].sum()
    out["mu"] = out["mu"].clip(lower=0.0)
    out["var"] = np.maximum(out["var"] * dispersion, out["mu"])
    out["warehouse_id"] = out["warehouse_id"].astype(str)
    return out[out["mu"] > 0].sort_values(["warehouse_id", "sku"], kind="stable").reset_index(drop=True)


def forecast_parts(
    scored: pd.DataFrame,
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    item_level: str,
    products: pd.DataFrame | None,
    new_demand_windows: int,
    sku_share_days: int,
    year_ago_index: bool,
    new_demand_sku_windows: int,
    warnings: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The two independent parts, ``{"candidates": ..., "new": ...}``, each ``region, sku, mu, var``.

    Units over ``[cutoff, cutoff + H)``; :func:`to_warehouses` sums them per warehouse.
    The forecast settings have no defaults here: the ``forecast`` config section owns them
    (:func:`forecast_for_spec` passes them). ``new_demand_windows``: horizons of new demand
    averaged; ``sku_share_days``: days of a category's SKU shares;
    ``year_ago_index``: the new demand scaled by :func:`year_ago_factor` (bounded; its warning,
    if any, is appended to ``warnings`` when given);
    ``new_demand_sku_windows``: its SKU split (:func:`~anticipate.demand.new_demand.new_demand`).
    """
    shares = (
        sku_shares(orders, cutoff, window_days=sku_share_days, products=products)
        if item_level == "category"
        else None
    )
    start = dates.history_start(orders["order_ts"], cutoff)  # detached lines left out
    new_demand_windows, new_demand_sku_windows, cap = new_demand_windows_at(
        start, cutoff, horizon_days=horizon_days, lookback_days=lookback_days, windows=new_demand_windows,
        sku_windows=new_demand_sku_windows)
    if cap is not None and warnings is not None:
        warnings.append(cap)
    new = new_demand(
        orders,
        cutoff,
        horizon_days=horizon_days,
        lookback_days=lookback_days,
        windows=new_demand_windows,
        item_level=item_level,
        products=products,
        sku_windows=new_demand_sku_windows,
    )
    if year_ago_index:
        table = year_ago_table(orders, cutoff, horizon_days=horizon_days, lookback_days=lookback_days,
                               windows=new_demand_windows, item_level=item_level, products=products)
        new = scaled_by_year_ago(new, table, start, cutoff, horizon_days=horizon_days,
                                 lookback_days=lookback_days, windows=new_demand_windows, warnings=warnings)
    return {"candidates": candidate_demand(scored, item_level=item_level, shares=shares), "new": new}


def forecast_from_scores(
    scored: pd.DataFrame,
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    item_level: str,
    products: pd.DataFrame | None,
    region_map: pd.DataFrame,
    new_demand_windows: int,
    dispersion: float,
    sku_share_days: int,
    year_ago_index: bool,
    new_demand_sku_windows: int,
    warnings: list[str] | None = None,
) -> pd.DataFrame:
    """The forecast table ``warehouse_id, sku, mu, var`` (units over ``[cutoff, cutoff + H)``).

    The parts of :func:`forecast_parts` (same keywords; its warnings appended to ``warnings``)
    summed per warehouse by :func:`to_warehouses`.
    """
    parts = forecast_parts(
        scored,
        orders,
        cutoff,
        horizon_days=horizon_days,
        lookback_days=lookback_days,
        item_level=item_level,
        products=products,
        new_demand_windows=new_demand_windows,
        sku_share_days=sku_share_days,
        year_ago_index=year_ago_index,
        new_demand_sku_windows=new_demand_sku_windows,
        warnings=warnings,
    )
    return to_warehouses(list(parts.values()), region_map, dispersion=dispersion)


def forecast_for_spec(
    scored: pd.DataFrame,
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    spec: FeatureSpec,
    settings: ForecastConfig,
    *,
    products: pd.DataFrame | None,
    region_map: pd.DataFrame,
    warnings: list[str] | None = None,
) -> pd.DataFrame:
    """:func:`forecast_from_scores` with the model's feature spec and the ``forecast`` config section.

    ``warnings``: a list the forecast's warnings are appended to (the year-ago index out of range).
    """
    return forecast_from_scores(
        scored,
        orders,
        cutoff,
        horizon_days=spec.horizon,
        lookback_days=spec.lookback_days,
        item_level=spec.item_level,
        products=products,
        region_map=region_map,
        new_demand_windows=settings.new_demand_windows,
        dispersion=settings.dispersion,
        sku_share_days=settings.sku_share_days,
        year_ago_index=settings.year_ago_index,
        new_demand_sku_windows=configured_sku_windows(settings),
        warnings=warnings,
    )
