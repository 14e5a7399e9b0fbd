"""Forecast-only backtest: the units per product over the horizon, the model's forecast against the naive.

For logs without geography (every line in one region) or to judge the forecast apart
from allocation. At a cutoff ``t`` with horizon ``H`` (the model's), per SKU:

* **model**: the demand forecast of :mod:`anticipate.demand.forecast` with every region
  served by one warehouse, so a cell is a product: the candidate pairs' expected units
  plus the new-demand part (pairs that are not candidates at ``t``);
* **naive**: the mean units per horizon over the last ``backtest.naive_windows`` horizons
  before ``t`` (:func:`~anticipate.backtest.reference.naive_reference`), as many as the history holds
  (:func:`~anticipate.backtest.reference.naive_windows_at`, as the plan backtest caps them);
* **actual**: the units of every line in ``[t, t + H)``, split into the lines of candidate
  pairs and of the others (what each forecast part stands for).

Bias and WAPE are those of :func:`anticipate.metrics.forecast_metrics` over the union of
products forecast or ordered. No plan is allocated, so no reference tables are needed.

The warnings are those the plan backtest gives at the same cutoff for the same two forecasts: new
demand or the naive capped to a short history, the year-ago index out of its range
(:attr:`ProductForecasts.warnings`; a caller prints them and writes them with its results).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from anticipate.storage.files import DataSet

#: The one warehouse every region maps to in a forecast-only backtest.
ONE_WAREHOUSE = "ALL"


@dataclass(frozen=True)
class ProductForecasts:
    """Per SKU (units over the horizon): ``cells`` = ``sku, model, candidates, new, naive, var,
    naive_var, units, units_new`` over every SKU forecast or ordered (0 where absent); ``warnings``:
    what may make a number wrong (a window capped to the history, the year-ago index bounded)."""

    cutoff: pd.Timestamp
    horizon_days: int
    cells: pd.DataFrame
    warnings: tuple[str, ...] = ()


def one_warehouse(orders: pd.DataFrame) -> pd.DataFrame:
    """``region, warehouse_id, km``: every region of ``orders`` served by :data:`ONE_WAREHOUSE`."""
    regions = sorted(orders["region"].astype(str).unique())
    return pd.DataFrame(
        {"region": regions, "warehouse_id": pd.array([ONE_WAREHOUSE] * len(regions), dtype="string"),
         "km": 0.0}
    )


def _by_sku(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame.groupby(frame["sku"].astype(str))[columns].sum()


def product_cells(
    parts: dict[str, pd.DataFrame], naive: pd.DataFrame, orders: pd.DataFrame, cutoff: pd.Timestamp,
    *, horizon_days: int, lookback_days: int, item_level: str, products: pd.DataFrame | None,
) -> pd.DataFrame:
    """The :class:`ProductForecasts` cells from the forecast's parts (``region, sku, mu, var`` each),
    the naive demand (``warehouse_id, sku, mu, var``) and the orders (actual units after ``cutoff``)."""
    from anticipate.demand.new_demand import non_candidate_units

    end = cutoff + pd.Timedelta(days=horizon_days)
    horizon = orders[(orders["order_ts"] >= cutoff) & (orders["order_ts"] < end)]
    new_units = non_candidate_units(orders, cutoff, horizon_days=horizon_days, lookback_days=lookback_days,
                                    item_level=item_level, products=products)
    columns = {
        "candidates": _by_sku(parts["candidates"], ["mu"])["mu"],
        "new": _by_sku(parts["new"], ["mu"])["mu"],
        "var": _by_sku(pd.concat(list(parts.values())), ["var"])["var"],
        "naive": _by_sku(naive, ["mu"])["mu"],
        "naive_var": _by_sku(naive, ["var"])["var"],
        "units": horizon.groupby(horizon["sku"].astype(str))["quantity"].sum().astype(float),
        "units_new": new_units.groupby(level=1).sum().astype(float),
    }
    cells = pd.DataFrame(columns).fillna(0.0)
    cells.index.name = "sku"
    cells.insert(0, "model", cells["candidates"] + cells["new"])
    return cells.sort_index().reset_index()


def product_forecasts(wrapper: Any, ds: DataSet, cutoff: pd.Timestamp, cfg: Any) -> ProductForecasts:
    """Score the candidates at ``cutoff`` with ``wrapper`` and build the per-product cells.

    ``cfg``: the validated config (its ``forecast`` and ``backtest.naive_windows``). New demand and the
    naive are capped to the history as in the plan backtest, with the same warnings.
    """
    from anticipate.backtest.reference import naive_reference, naive_windows_at
    from anticipate.demand.forecast import forecast_parts
    from anticipate.demand.new_demand import configured_sku_windows
    from anticipate.models.scoring import features_for, score_frame, spec_of

    spec = spec_of(wrapper)
    scored = score_frame(wrapper, features_for(wrapper, ds, cutoff, with_labels=False))
    warnings: list[str] = []
    parts = forecast_parts(scored, ds.orders, cutoff, horizon_days=spec.horizon,
                           lookback_days=spec.lookback_days, item_level=spec.item_level, products=ds.products,
                           new_demand_windows=cfg.forecast.new_demand_windows,
                           sku_share_days=cfg.forecast.sku_share_days,
                           year_ago_index=cfg.forecast.year_ago_index,
                           new_demand_sku_windows=configured_sku_windows(cfg.forecast), warnings=warnings)
    windows, capped = naive_windows_at(ds.orders["order_ts"], cutoff, horizon_days=spec.horizon,
                                       windows=cfg.backtest.naive_windows, what="the naive forecast")
    warnings += [capped] if capped else []
    naive = naive_reference(ds.orders, cutoff, horizon_days=spec.horizon, windows=windows,
                            region_map=one_warehouse(ds.orders))
    cells = product_cells(parts, naive, ds.orders, cutoff, horizon_days=spec.horizon,
                          lookback_days=spec.lookback_days, item_level=spec.item_level, products=ds.products)
    return ProductForecasts(cutoff, spec.horizon, cells, tuple(warnings))


def product_metrics(
    fc: ProductForecasts, *, dispersion: float = 1.0, exclude_skus: Iterable[str] = ()
) -> dict[str, float]:
    """Bias and WAPE per product of the model and the naive forecast, and the parts' totals (units).

    ``model.*`` and ``naive.*`` are :func:`~anticipate.metrics.forecast_metrics` (bias,
    wape, coverage); ``units`` the actual total, ``units_new`` that of non-candidate pairs;
    ``candidates_mu`` and ``new_mu`` the parts' forecast totals and ``candidates_bias``,
    ``new_bias`` each part against the units it stands for. ``exclude_skus`` are left out;
    the model's variance gets ``forecast.dispersion`` as in the plan.
    """
    from anticipate.metrics import forecast_metrics

    cells = fc.cells[~fc.cells["sku"].isin(set(exclude_skus))]
    var = (cells["var"] * dispersion).clip(lower=cells["model"])
    units, units_new = float(cells["units"].sum()), float(cells["units_new"].sum())
    out = {f"model.{k}": v for k, v in forecast_metrics(cells["model"], var, cells["units"]).items()}
    naive = forecast_metrics(cells["naive"], cells["naive_var"], cells["units"])
    out.update({f"naive.{k}": v for k, v in naive.items()})
    cand_mu, new_mu = float(cells["candidates"].sum()), float(cells["new"].sum())
    out.update({
        "units": units, "units_new": units_new, "products": float((cells["units"] > 0).sum()),
        "candidates_mu": cand_mu, "new_mu": new_mu,
        "candidates_bias": _ratio(cand_mu, units - units_new), "new_bias": _ratio(new_mu, units_new),
    })
    return out


def _ratio(forecast: float, actual: float) -> float:
    return forecast / actual - 1.0 if actual > 0 else float("nan")
