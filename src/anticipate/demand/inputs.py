"""What planning reads: the reference tables, the model's forecast at a cutoff, the allocation instance.

Shared by ``forecast``, ``allocate`` and ``backtest``: the checks on the data a plan is
built from (reference tables present, orders not stale, safe ids) and the steps from a
loaded model to a warehouse x SKU forecast and from a forecast to the instance the
allocator solves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from anticipate import dates
from anticipate.errors import DataError
from anticipate.schema import PLANNING_ID, PLANNING_ID_TEXT
from anticipate.storage.files import DataSet

if TYPE_CHECKING:
    from anticipate.pipelines import Settings

_SAFE_ID = re.compile(PLANNING_ID)


@dataclass(frozen=True)
class ForecastOutput:
    """A warehouse x SKU forecast and what it was computed from."""

    table: pd.DataFrame  # warehouse_id, sku, mu, var
    region_map: pd.DataFrame  # region, warehouse_id (NA = centre), km
    cutoff: pd.Timestamp
    model_uri: str
    horizon_days: int
    warnings: tuple[str, ...] = ()  # about the forecast itself (the year-ago index out of range)


def require_reference_tables(ds: DataSet, command: str) -> None:
    """Planning needs products, regions, warehouses and supply; exit 2 naming what is missing."""
    missing = [n for n in ("products", "regions", "warehouses", "supply") if getattr(ds, n) is None]
    if missing:
        raise DataError(
            f"'{command}' needs the reference tables {', '.join(missing)} in {ds.path}; ingest them with "
            f"'anticipate ingest --orders ... "
            + " ".join(f"--{m} FILE" for m in missing)
            + f" --out {ds.path}'"
        )


def compute_forecast(
    settings: Settings, ds: DataSet, wrapper: Any, uri: str, cutoff: pd.Timestamp
) -> ForecastOutput:
    """Score the candidates at ``cutoff`` and aggregate them to warehouse x SKU ``mu``, ``var`` (and the
    forecast's warnings)."""
    from anticipate.demand.forecast import forecast_for_spec
    from anticipate.demand.network import nearest_warehouse
    from anticipate.models.scoring import features_for, score_frame, spec_of

    spec = spec_of(wrapper)
    region_map = nearest_warehouse(
        ds.regions, ds.warehouses, max_service_km=settings.cfg.network.max_service_km
    )
    found: list[str] = []
    if settings.cfg.compute.engine == "dask":
        from anticipate.distributed.schedule import forecast_dask

        table = forecast_dask(settings.cfg, wrapper, ds, cutoff, region_map, warnings=found)
    else:
        scored = score_frame(wrapper, features_for(wrapper, ds, cutoff, with_labels=False))
        table = forecast_for_spec(scored, ds.orders, cutoff, spec, settings.cfg.forecast,
                                  products=ds.products, region_map=region_map, warnings=found)
    return ForecastOutput(table, region_map, cutoff, uri, spec.horizon, tuple(found))


def check_staleness(orders: pd.DataFrame, date: pd.Timestamp, *, max_days: int, allow: bool) -> list[str]:
    """Refuse (exit 2) a plan whose ``date`` is more than ``max_days`` days after the data's end.

    The end is the midnight after the last order's day (:func:`anticipate.dates.data_end`):
    with the last order on 12-29 the end is 12-30, so with ``max_days = 2`` the date 01-01
    is accepted and 01-02 refused. ``allow`` turns the refusal into a returned warning.
    A ``date`` more than ``max_days`` days *before* the end is a returned warning: a past
    night re-planned, or a date typed wrong in a crontab, planned with today's supply,
    capacity and products.
    """
    end = dates.data_end(orders["order_ts"])
    if date < end:
        early = (end - date).days
        if early <= max_days:
            return []
        return [f"--date {dates.fmt(date)} is {early} days before {dates.fmt(end)}, the night after the last "
                f"order ({dates.fmt(end - pd.Timedelta(days=1))}; allocate.max_staleness_days = {max_days}): "
                f"the plan forecasts from {dates.fmt(date)} but stocks today's supply and capacity; for "
                f"tonight's plan pass --date {dates.fmt(end)}"]
    stale = (date - end).days
    if stale <= max_days:
        return []
    message = (
        f"the order data ends {dates.fmt(end - pd.Timedelta(days=1))}, {stale} days before --date "
        f"{dates.fmt(date)} (allocate.max_staleness_days = {max_days})"
    )
    if allow:
        return [message + "; planning anyway because of --allow-stale"]
    raise DataError(message + "; ingest last night's orders first, or pass --allow-stale to plan on old data")


def build_instance(ds: DataSet, fc: ForecastOutput, settings: Settings) -> Any:
    """The allocation instance from a forecast (``fc.table``: ``warehouse_id, sku, mu, var``; its
    ``region_map`` places the implicit centre) and the reference tables.

    Exit 2 (:class:`DataError`) when a warehouse_id has characters not allowed in ids.
    """
    from anticipate.allocation import instance_from_frames
    from anticipate.demand.network import move_costs

    ids = ds.warehouses["warehouse_id"].astype(str)
    bad = ids[~ids.map(lambda s: bool(_SAFE_ID.match(s)))]
    if not bad.empty:
        raise DataError(
            f"warehouse_id {bad.iloc[0]!r} has characters a plan's ids may not have (only "
            f"{PLANNING_ID_TEXT}); rename it in the warehouses file and ingest again",
            file=f"{ds.path}/warehouses.parquet",
            column="warehouse_id",
        )
    econ = settings.cfg.economics
    return instance_from_frames(
        warehouses=ds.warehouses,
        products=ds.products,
        supply=ds.supply,
        forecast=fc.table,
        move_cost=move_costs(ds.warehouses, settings.cfg.network, econ.move_cost_per_km, fc.region_map),
        default_g=econ.value_local,
        default_h=econ.cost_unsold,
    )
