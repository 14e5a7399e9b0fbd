"""Sanity gates a nightly plan passes before it replaces the previous one.

A plan that is empty or absurd for a reason in the data is worse than no plan: the
warehouses would be stocked (or emptied) on it at dawn. ``allocate`` runs
:func:`check_plan` after solving and before publishing; a failed gate raises
:class:`PlanRefused` (exit 2) naming the cause and the fix, and ``plans/DATE/`` keeps
whatever it held. The gates, in order:

0. less than one horizon of orders lies before the date, so the recent demand the
   other gates compare with cannot be measured (e.g. an ingest that replaced the
   history with one night's file instead of appending it);
1. recent orders exist but none comes from a region a warehouse serves (orders
   without a usable ``region``, or every region beyond ``network.max_service_km``), or
   more than :data:`MAX_LOST_SHARE` of their units come from regions missing from the
   regions table (their demand would leave the forecast);
2. the forecast has no warehouse x SKU row, or more than :data:`MAX_LOST_SHARE` of its
   units are for SKUs missing from the products table (the plan cannot stock them);
3. the plan has 0 units although a SKU with supply expects at least one unit in a
   warehouse and the warehouses have capacity;
4. the forecast total is more than ``allocate.max_forecast_ratio`` times (or less
   than its inverse) the units per horizon ordered recently in the served regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.demand.history_gate import history_refusal, recent_window
from anticipate.demand.idle import examples as _examples
from anticipate.demand.idle import far_region_warnings, idle_warehouse_warnings
from anticipate.demand.idle import span as _span
from anticipate.errors import DataError
from anticipate.schema import ORDERS

#: The region ingest gives order lines when the orders file has no region column.
ORDERS_REGION_DEFAULT = str(next(c.default for c in ORDERS if c.name == "region"))
#: The SKU ingest gives order lines when the orders file has no sku column.
ORDERS_SKU_DEFAULT = str(next(c.default for c in ORDERS if c.name == "sku"))

#: The largest share of units (recent orders from regions missing from the regions table, or
#: forecast units of SKUs missing from the products table) a plan may leave out before it is
#: refused: such demand silently leaves the plan.
MAX_LOST_SHARE = 0.05

#: A forecast cell must expect at least this many units (over the horizon) before a plan
#: with 0 units counts as suspicious: below it, stocking nothing can be the optimum.
MIN_CELL_UNITS = 1.0


class PlanRefused(DataError):
    """A plan that failed a sanity gate; it was not published (exit 2)."""


@dataclass(frozen=True)
class RecentDemand:
    """Units ordered in the ``days`` days before ``end``, per horizon of ``horizon_days``.

    ``units``: all lines; ``mapped_units``: lines whose region a warehouse serves
    (what the forecast covers); ``unknown_units``: lines whose region is missing from the
    regions table. ``unknown_regions``: those region values; ``far_regions``: known
    regions served from the centre (beyond ``network.max_service_km``); both most
    frequent first.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    days: int
    horizon_days: int
    units: float
    mapped_units: float
    unknown_units: float
    unknown_regions: list[str]
    far_regions: list[str]


#: Order columns the recent-demand gates read.
RECENT_COLUMNS = ["order_ts", "quantity", "region"]


def recent_demand(
    orders: pd.DataFrame,
    region_map: pd.DataFrame,
    window: tuple[pd.Timestamp, pd.Timestamp] | None,
    *,
    horizon_days: int,
) -> RecentDemand | None:
    """Realised units per horizon (``horizon_days``) of the order lines in ``window`` (:func:`recent_window`).

    ``orders``: ``order_ts, quantity, region`` of at least the window's lines (the Dask path
    reads just those, :data:`RECENT_COLUMNS`); ``region_map``: ``region, warehouse_id``
    (NA = the centre serves it). None when ``window`` is.
    """
    if window is None:
        return None
    start, end = window
    days = (end - start).days
    lines = orders[(orders["order_ts"] >= start) & (orders["order_ts"] < end)]
    region = lines["region"].astype(str)
    qty = lines["quantity"].to_numpy(float)
    served = region_map.loc[region_map["warehouse_id"].notna(), "region"].astype(str)
    known = region.isin(region_map["region"].astype(str))
    mapped = region.isin(served).to_numpy()
    per_horizon = horizon_days / days
    return RecentDemand(
        start=start,
        end=end,
        days=days,
        horizon_days=horizon_days,
        units=float(qty.sum()) * per_horizon,
        mapped_units=float(qty[mapped].sum()) * per_horizon,
        unknown_units=float(qty[~known.to_numpy()].sum()) * per_horizon,
        unknown_regions=region[~known].value_counts().index.tolist(),
        far_regions=region[known & ~mapped].value_counts().index.tolist(),
    )


def _refused(target: Path, cause: str, fix: str) -> PlanRefused:
    return PlanRefused(f"the plan was not published ({target} is left as it was): {cause}; {fix}")


def check_history(
    window: tuple[pd.Timestamp, pd.Timestamp] | None, order_ts: pd.Series, date: pd.Timestamp,
    horizon_days: int, target: Path,
) -> None:
    """Gate 0: less than one horizon of orders before ``date`` (``window`` None) -> PlanRefused
    (:func:`history_refusal`)."""
    said = history_refusal(window, order_ts, date, horizon_days)
    if said is not None:
        raise _refused(target, *said)


def check_mapping(recent: RecentDemand | None, target: Path, data_dir: Path) -> None:
    """Gate 1: recent orders exist but none maps to a warehouse, or more than :data:`MAX_LOST_SHARE` of
    their units come from regions missing from the regions table -> PlanRefused."""
    if recent is None or recent.units <= 0:
        return
    if recent.mapped_units > 0:
        _check_unknown_regions(recent, target, data_dir)
        return
    span = _span(recent)
    orders = data_dir / "orders.parquet"
    if recent.unknown_regions:
        default = _default_note(recent.unknown_regions, ORDERS_REGION_DEFAULT, "region")
        cause = (f"no order in {orders} from {span} comes from a region a warehouse serves: its column "
                 f"'region' holds {_examples(recent.unknown_regions)}{default}, none of them in "
                 f"regions.parquet, so no demand maps to any warehouse")
        fix = f"{REGION_FIX} (the ship-to region of each line), then run allocate again"
    else:
        cause = (f"every order from {span} comes from a region farther than network.max_service_km from "
                 f"every warehouse ({_examples(recent.far_regions)}), so no demand maps to any warehouse")
        fix = "raise network.max_service_km in your config, or check the regions' and warehouses' lat/lon"
    raise _refused(target, cause, fix)


#: How to give order lines a region a warehouse can serve (the fix of gate 1's refusals).
REGION_FIX = "re-ingest the orders with a 'region' column whose values are the regions table's 'region' ids"


def _check_unknown_regions(recent: RecentDemand, target: Path, data_dir: Path) -> None:
    """Gate 1b: more than :data:`MAX_LOST_SHARE` of the recent units from regions missing from the table."""
    if recent.unknown_units <= MAX_LOST_SHARE * recent.units:
        return
    share = recent.unknown_units / recent.units
    note = _default_note(recent.unknown_regions, ORDERS_REGION_DEFAULT, "region")
    cause = (f"{share:.0%} of the units ordered in {data_dir / 'orders.parquet'} from {_span(recent)} come "
             f"from regions not in regions.parquet, {_examples(recent.unknown_regions)}{note}, so their "
             f"demand would be left out of the forecast and the plan (allowed: {MAX_LOST_SHARE:.0%})")
    raise _refused(target, cause, f"{REGION_FIX}, or add the missing regions to it, then run allocate again")


def _default_note(values: list[str], default: str, column: str) -> str:
    """`` ('ALL': what ingest fills in ...)`` when ``default`` is among ``values``, else empty."""
    if default not in values:
        return ""
    return f" ({default!r}: what ingest fills in for orders without a {column} column)"


def _unknown_skus(forecast: pd.DataFrame, products: pd.DataFrame) -> tuple[float, float, list[str]]:
    """The forecast's units in all, those of SKUs missing from ``products``, and those SKUs (most first)."""
    sku = forecast["sku"].astype(str)
    unknown = ~sku.isin(products["sku"].astype(str)).to_numpy()
    lost = float(forecast["mu"].to_numpy(float)[unknown].sum())
    return float(forecast["mu"].sum()), lost, sku[unknown].value_counts().index.tolist()


def check_forecast_skus(forecast: pd.DataFrame, products: pd.DataFrame, target: Path) -> None:
    """Gate 2b: more than :data:`MAX_LOST_SHARE` of the forecast's units for SKUs missing from products."""
    total, lost, skus = _unknown_skus(forecast, products)
    if total <= 0 or lost <= MAX_LOST_SHARE * total:
        return
    cause = (f"{lost / total:.0%} of the forecast's {total:,.0f} units are for SKUs not in products.parquet, "
             f"{_examples(skus)}{_default_note(skus, ORDERS_SKU_DEFAULT, 'sku')}, which the plan cannot "
             f"stock (allowed: {MAX_LOST_SHARE:.0%})")
    fix = ("re-ingest the orders with a 'sku' column whose values are the products table's 'sku' ids, or "
           "add those SKUs to products, then run allocate again")
    raise _refused(target, cause, fix)


def check_forecast_rows(forecast: pd.DataFrame, target: Path, cutoff: pd.Timestamp) -> None:
    """Gate 2: a forecast without a single warehouse x SKU row -> PlanRefused."""
    if len(forecast):
        return
    raise _refused(
        target,
        f"the forecast at {dates.fmt(cutoff)} has no warehouse x SKU row (no demand expected anywhere)",
        "check that --date is close to the end of the order data and that the production model was "
        "trained on this data (anticipate evaluate, then anticipate promote)",
    )


def check_units(
    forecast: pd.DataFrame, plan_units: pd.DataFrame, products: pd.DataFrame, warehouses: pd.DataFrame,
    supply: pd.DataFrame, target: Path, economics: Any = None, empty_cause: str | None = None,
) -> None:
    """Gate 3: 0 units planned while capacity, supply and a cell's demand (>= 1 unit) are positive.

    ``economics``: the config section of the default value_local / cost_unsold, to tell whether
    products' own value_local column is what leaves nothing worth moving; ``empty_cause``: the solver's
    reason for the empty plan (:func:`~anticipate.allocation.plan.empty_plan_cause`), ``move_cost``
    when economics.move_cost_per_km alone makes every unit worthless."""
    if len(plan_units) and plan_units["units"].sum() > 0:
        return
    stock = supply.groupby(supply["sku"].astype(str))["units"].sum()
    busy = forecast[forecast["mu"] >= MIN_CELL_UNITS]
    skus = sorted(s for s in busy["sku"].astype(str).unique() if stock.get(s, 0) > 0)
    capacity = pd.to_numeric(warehouses["capacity"], errors="coerce").fillna(0.0)
    if not skus or capacity.max() <= 0:
        return
    volume = products.set_index(products["sku"].astype(str))["unit_volume"].reindex(skus).to_numpy(float)
    cause = (f"the plan has 0 units although {len(skus)} SKU(s) with central supply expect at least "
             f"{MIN_CELL_UNITS:g} unit in a warehouse ({_examples(skus)}) and the warehouses have "
             f"{capacity.sum():,.6g} of capacity")
    if np.nanmin(volume) > capacity.max():
        fix = (f"every such SKU's unit_volume (smallest {np.nanmin(volume):,.6g}) exceeds the largest "
               f"warehouse capacity ({capacity.max():,.6g}): products.unit_volume and warehouses.capacity "
               f"must use the same volume unit; re-ingest them")
    elif empty_cause == "move_cost" and economics is not None:
        fix = (f"economics.move_cost_per_km ({economics.move_cost_per_km:g} per unit per km) makes moving a "
               "unit from the centre to any warehouse cost at least its value of a local sale "
               f"(economics.value_local {economics.value_local:g}, or products.value_local), so no unit is "
               "worth moving whatever its demand; lower economics.move_cost_per_km in your config (currency "
               "per unit per km, e.g. 0.0005), or raise economics.value_local if that is what is wrong")
    else:
        fix = _value_local_fix(products, skus, economics) or (
            "check products.unit_volume against warehouses.capacity (same volume unit) and that "
            "economics.value_local exceeds economics.cost_unsold")
    raise _refused(target, cause, fix)


def _value_local_fix(products: pd.DataFrame, skus: list[str], economics: Any) -> str | None:
    """The fix when products' own value_local column puts every such SKU's value of a local sale at
    or below its cost_unsold while economics.value_local would not (e.g. a column of zeros), else None."""
    if economics is None or "value_local" not in products:
        return None
    from anticipate.allocation.instance import sku_economics

    gh = sku_economics(products, default_g=economics.value_local, default_h=economics.cost_unsold)
    gh = gh.reindex(skus)
    own = products.set_index(products["sku"].astype(str))["value_local"].reindex(skus)
    if not ((gh["g"] <= gh["h"]) & own.notna() & (gh["h"] < economics.value_local)).all():
        return None
    return (f"products.value_local, which overrides economics.value_local ({economics.value_local:g}) per "
            f"product, is at most cost_unsold for every such SKU ({skus[0]!r}: value_local {own.iloc[0]:g}, "
            f"cost_unsold {gh['h'].iloc[0]:g}), so no unit is worth moving; correct that column and "
            "re-ingest products, or leave it empty to use economics.value_local")


def check_ratio(forecast_units: float, recent: RecentDemand | None, max_ratio: float, target: Path) -> None:
    """Gate 4: the forecast total vs the recent realised units per horizon in the served regions."""
    if recent is None or recent.mapped_units <= 0:
        return
    ratio = forecast_units / recent.mapped_units
    if 1.0 / max_ratio <= ratio <= max_ratio:
        return
    cause = (f"the forecast expects {forecast_units:,.0f} units over the next {recent.horizon_days} days, "
             f"{ratio:.3g} times the {recent.mapped_units:,.0f} units per {recent.horizon_days} days ordered "
             f"in the served regions over the {recent.days} days before {dates.fmt(recent.end)} "
             f"(allocate.max_forecast_ratio = {max_ratio:g} allows {1.0 / max_ratio:.3g} to {max_ratio:g})")
    fix = ("check the production model (anticipate evaluate) and the last ingest (duplicated or missing "
           "orders); if the change in demand is real (a promotion, a season), raise "
           "allocate.max_forecast_ratio in your config")
    raise _refused(target, cause, fix)


def check_plan(
    ds: Any, fc: Any, plan: Any, date: pd.Timestamp, cfg: Any, target: Path,
    recent_lines: pd.DataFrame | None = None,
) -> list[str]:
    """Run the gates on a solved plan before it is published; raise PlanRefused on the first failure.

    ``ds``: the DataSet (orders, products, warehouses, supply, path); ``fc``: the
    forecast output (``table`` of ``warehouse_id, sku, mu, var`` in units over
    ``horizon_days``, ``region_map``, ``cutoff``); ``plan``: the solved plan
    (``units``); ``cfg``: the Config (``forecast.new_demand_windows``,
    ``allocate.max_forecast_ratio``); ``target``: the plan directory (for the message);
    ``recent_lines``: the lines of the :func:`recent_window` (:data:`RECENT_COLUMNS`) when
    ``ds.orders`` holds only ``order_ts`` (the Dask path), else None.
    Returns the warnings of a plan that passed (:func:`left_out_warnings`).
    """
    from anticipate.demand.network import implicit_centre

    horizon = int(fc.horizon_days)
    window = recent_window(ds.orders["order_ts"], date, horizon_days=horizon,
                           windows=cfg.forecast.new_demand_windows)
    check_history(window, ds.orders["order_ts"], date, horizon, target)
    lines = ds.orders if recent_lines is None else recent_lines
    recent = recent_demand(lines, fc.region_map, window, horizon_days=horizon)
    check_mapping(recent, target, Path(ds.path))
    check_forecast_rows(fc.table, target, fc.cutoff)
    check_forecast_skus(fc.table, ds.products, target)
    check_units(fc.table, plan.units, ds.products, ds.warehouses, ds.supply, target, cfg.economics,
                getattr(plan, "extra", {}).get("empty_cause"))
    check_ratio(float(fc.table["mu"].sum()), recent, cfg.allocate.max_forecast_ratio, target)
    return [*left_out_warnings(recent, fc.table, ds.products),
            *far_region_warnings(fc.region_map, recent, cfg.network.max_service_km),
            *idle_warehouse_warnings(fc.region_map, ds.warehouses, recent, cfg.network.max_service_km,
                                     centre=implicit_centre(ds.warehouses, cfg.network, fc.region_map))]


def left_out_warnings(
    recent: RecentDemand | None, forecast: pd.DataFrame, products: pd.DataFrame
) -> list[str]:
    """A warning for demand a published plan leaves out below the refusal's :data:`MAX_LOST_SHARE`:
    recent units from regions missing from the regions table, forecast units of SKUs missing from
    products (none when nothing is left out)."""
    out = []
    if recent is not None and recent.units > 0 and recent.unknown_units > 0:
        share = recent.unknown_units / recent.units
        out.append(f"{share:.1%} of the units ordered from {_span(recent)} come from regions not in "
                   f"regions.parquet, {_examples(recent.unknown_regions)}: their demand is left out of the "
                   f"plan ({REGION_FIX}, or add them to it)")
    total, lost, skus = _unknown_skus(forecast, products)
    if total > 0 and lost > 0:
        out.append(f"{lost / total:.1%} of the forecast's units are for SKUs not in products.parquet, "
                   f"{_examples(skus)}: the plan cannot stock them (add them to products)")
    return out
