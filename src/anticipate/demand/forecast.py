"""Demand per warehouse x SKU over the horizon: mean ``mu`` and variance ``var``.

Two independent parts, in units:

* **candidates**: each scored pair buys with probability ``p`` and then ``Q`` units,
  ``E[Q] = m`` (the quantity model) and ``Var[Q] = m - 1`` (``Q - 1`` Poisson), so
  its units have mean ``p m`` and variance ``p (Var[Q] + m^2) - (p m)^2``. Pairs are
  independent; a category-level pair is split into SKUs by recent region x
  category SKU shares.
* **new demand**: units bought in past horizons by pairs that were *not* candidates
  at that window's cutoff (new customers, new items), averaged over the last
  ``forecast.new_demand_windows`` windows; variance = max(mean, spread across windows).
  With ``forecast.year_ago_index`` both are multiplied by the *year-ago index*: the
  non-candidate units of the same horizon 52 weeks earlier over their mean in the
  windows before it (what the season did to new demand then; 1 without such history).

Demand is placed at the warehouse nearest to the customer's region at the cutoff
(a new customer: the line's ship-to region). ``var >= mu >= 0`` always, and the
variance is multiplied by ``forecast.dispersion`` (>= 1) to calibrate intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anticipate.config import ForecastConfig
from anticipate.features.build import item_column
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

    Uses lines in ``[cutoff - window_days, cutoff)``; a region without history for a
    category gets the category's shares over all regions.
    """
    return shares_from_units(recent_units(orders, cutoff, window_days=window_days, products=products))


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


def shares_from_units(by_region: pd.DataFrame) -> pd.DataFrame:
    """The shares of :func:`sku_shares` from its unit sums (:func:`recent_units`)."""
    by_region = by_region.copy()
    by_region["share"] = by_region["units"] / by_region.groupby(["region", "item"])["units"].transform("sum")
    overall = by_region.groupby(["item", "sku"], as_index=False)["units"].sum()
    overall["share"] = overall["units"] / overall.groupby("item")["units"].transform("sum")
    overall["region"] = "*"
    return pd.concat([by_region, overall], ignore_index=True)[["region", "item", "sku", "share"]]


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


def non_candidate_units(
    orders: pd.DataFrame,
    t: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    item_level: str,
    products: pd.DataFrame | None,
) -> pd.DataFrame:
    """Units per (region, sku) in ``[t, t + H)`` bought by pairs that were not candidates at ``t``."""
    hist = orders[(orders["order_ts"] < t) & (orders["order_ts"] >= t - pd.Timedelta(days=lookback_days))]
    known = pd.MultiIndex.from_arrays(
        [hist["customer_id"].astype(str), item_column(hist, item_level, products)]
    )
    horizon = orders[(orders["order_ts"] >= t) & (orders["order_ts"] < t + pd.Timedelta(days=horizon_days))]
    key = pd.MultiIndex.from_arrays(
        [horizon["customer_id"].astype(str), item_column(horizon, item_level, products)]
    )
    new = horizon[~key.isin(known)]
    return new.groupby([new["region"].astype(str), new["sku"].astype(str)])["quantity"].sum()


def new_demand(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    windows: int,
    item_level: str,
    products: pd.DataFrame | None,
) -> pd.DataFrame:
    """``region, sku, mu, var`` of demand no candidate pair explains, from the last ``windows`` horizons."""
    table = non_candidate_table(
        orders,
        cutoff,
        horizon_days=horizon_days,
        lookback_days=lookback_days,
        windows=windows,
        item_level=item_level,
        products=products,
    )
    return new_demand_from_table(table, windows)


def non_candidate_table(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    windows: int,
    item_level: str,
    products: pd.DataFrame | None,
) -> pd.DataFrame:
    """Non-candidate units per (region, sku) (rows) in each of the last ``windows`` horizons (columns 0..).

    Candidates are per customer, so tables of customer-disjoint orders add up.
    """
    starts = [cutoff - pd.Timedelta(days=horizon_days * k) for k in range(windows, 0, -1)]
    per_window = [
        non_candidate_units(
            orders,
            t,
            horizon_days=horizon_days,
            lookback_days=lookback_days,
            item_level=item_level,
            products=products,
        )
        for t in starts
    ]
    return pd.concat(per_window, axis=1, keys=list(range(windows))).fillna(0.0)


def new_demand_from_table(table: pd.DataFrame, windows: int) -> pd.DataFrame:
    """``region, sku, mu, var`` from a :func:`non_candidate_table`: mean and variance over windows."""
    if table.empty:
        return pd.DataFrame(
            {"region": pd.Series(dtype=str), "sku": pd.Series(dtype=str), "mu": [], "var": []}
        )
    mu = table.mean(axis=1)
    var = np.maximum(table.var(axis=1, ddof=1).fillna(0.0), mu) if windows > 1 else mu
    out = pd.DataFrame({"mu": mu, "var": var}).reset_index()
    out.columns = ["region", "sku", "mu", "var"]
    return out


#: Days back to the same horizon last year (52 weeks: the weekday kept).
YEAR_AGO_DAYS = 364


def year_ago_table(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    windows: int,
    item_level: str,
    products: pd.DataFrame | None,
) -> pd.DataFrame:
    """The :func:`non_candidate_table` of ``windows + 1`` horizons ending 52 weeks before ``cutoff``'s.

    Column ``windows`` is the year-ago horizon ``[cutoff - 364, cutoff - 364 + H)``, columns
    ``0..windows-1`` the horizons before it; all before ``cutoff`` (tables of
    customer-disjoint orders add up).
    """
    end = pd.Timestamp(cutoff) - pd.Timedelta(days=YEAR_AGO_DAYS - horizon_days)
    return non_candidate_table(orders, end, horizon_days=horizon_days, lookback_days=lookback_days,
                               windows=windows + 1, item_level=item_level, products=products)


def year_ago_ratio(table: pd.DataFrame, windows: int) -> float:
    """Non-candidate units of the year-ago horizon over their mean in the ``windows`` horizons before it.

    ``table`` is a :func:`year_ago_table`; 1.0 when either holds no units (no history a year back).
    """
    totals = table.reindex(columns=range(windows + 1), fill_value=0.0).sum(axis=0).to_numpy(float)
    base, now = totals[:windows].mean(), totals[windows]
    return float(now / base) if base > 0 and now > 0 else 1.0


def with_index(new: pd.DataFrame, index: float) -> pd.DataFrame:
    """New demand ``region, sku, mu, var`` with both moments multiplied by ``index`` (``var >= mu`` kept)."""
    return new.assign(mu=new["mu"] * index, var=new["var"] * index)


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
    new_demand_windows: int = 4,
    sku_share_days: int = 90,
    year_ago_index: bool = False,
) -> dict[str, pd.DataFrame]:
    """The two independent parts, ``{"candidates": ..., "new": ...}``, each ``region, sku, mu, var``.

    Units over ``[cutoff, cutoff + H)``; :func:`to_warehouses` sums them per warehouse.
    ``year_ago_index``: the new demand scaled by :func:`year_ago_ratio`.
    """
    shares = (
        sku_shares(orders, cutoff, window_days=sku_share_days, products=products)
        if item_level == "category"
        else None
    )
    new = new_demand(
        orders,
        cutoff,
        horizon_days=horizon_days,
        lookback_days=lookback_days,
        windows=new_demand_windows,
        item_level=item_level,
        products=products,
    )
    if year_ago_index:
        table = year_ago_table(orders, cutoff, horizon_days=horizon_days, lookback_days=lookback_days,
                               windows=new_demand_windows, item_level=item_level, products=products)
        new = with_index(new, year_ago_ratio(table, new_demand_windows))
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
    new_demand_windows: int = 4,
    dispersion: float = 1.0,
    sku_share_days: int = 90,
    year_ago_index: bool = False,
) -> pd.DataFrame:
    """The forecast table ``warehouse_id, sku, mu, var`` (units over ``[cutoff, cutoff + H)``).

    ``year_ago_index``: scale the new demand by :func:`year_ago_ratio`.
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
) -> pd.DataFrame:
    """:func:`forecast_from_scores` with the model's feature spec and the ``forecast`` config section."""
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
    )
