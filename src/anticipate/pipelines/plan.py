"""``forecast`` and ``allocate``: demand per warehouse x SKU, then the nightly plan (CONTRACTS 3, 4, 9).

``allocate --date D`` holds a per-date lock, builds features at D with the
``production`` model, forecasts, solves the allocation and publishes ``plans/D/``
atomically (stage, then rename): the directory is at every moment absent, the
previous complete plan or the new complete plan. Same inputs, same bytes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from anticipate import dates
from anticipate.errors import DataError, UsageError
from anticipate.io import (
    DataSet,
    exclusive_lock,
    file_digest,
    staging_dir,
    write_csv,
    write_json,
    write_parquet,
)
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import load_data, open_tracker, resolve_cutoff
from anticipate.pipelines.model import features_for, load_registered, score_frame
from anticipate.progress import stages

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ForecastOutput:
    """A warehouse x SKU forecast and what it was computed from."""

    table: pd.DataFrame  # warehouse_id, sku, mu, var
    region_map: pd.DataFrame  # region, warehouse_id (NA = centre), km
    cutoff: pd.Timestamp
    model_uri: str
    horizon_days: int


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
    """Score the candidates at ``cutoff`` and aggregate them to warehouse x SKU ``mu``, ``var``."""
    from anticipate.forecast import forecast_from_scores
    from anticipate.network import nearest_warehouse

    meta = wrapper.meta
    region_map = nearest_warehouse(
        ds.regions, ds.warehouses, max_service_km=settings.cfg.network.max_service_km
    )
    if settings.cfg.compute.engine == "dask":
        from anticipate.distributed import forecast_dask

        table = forecast_dask(settings.cfg, wrapper, ds, cutoff, region_map)
        return ForecastOutput(table, region_map, cutoff, uri, int(meta["horizon_days"]))
    scored = score_frame(wrapper, features_for(wrapper, ds, cutoff, with_labels=False))
    table = forecast_from_scores(
        scored,
        ds.orders,
        cutoff,
        horizon_days=int(meta["horizon_days"]),
        lookback_days=int(meta["lookback_days"]),
        item_level=meta["item_level"],
        products=ds.products,
        region_map=region_map,
        new_demand_windows=settings.cfg.forecast.new_demand_windows,
        dispersion=settings.cfg.forecast.dispersion,
        sku_share_days=settings.cfg.forecast.sku_share_days,
    )
    return ForecastOutput(table, region_map, cutoff, uri, int(meta["horizon_days"]))


def run_forecast(settings: Settings, *, model: str | None, cutoff: str | None, out: Path) -> Result:
    """Write ``forecast.parquet``: warehouse_id, sku, mu, var over the horizon (units)."""
    ds = load_data(settings, cluster=True)
    require_reference_tables(ds, "forecast")
    wrapper, uri = load_registered(settings, model, default_alias="production")
    cutoff_ts = resolve_cutoff(
        cutoff,
        ds.orders,
        horizon_days=int(wrapper.meta["horizon_days"]),
        purpose="production",
        command="forecast",
    )
    fc = compute_forecast(settings, ds, wrapper, uri, cutoff_ts)
    write_parquet(fc.table, out)
    metrics = {"mu_total": float(fc.table["mu"].sum()), "var_total": float(fc.table["var"].sum())}
    tracker = open_tracker(settings)
    with tracker.run(
        "forecast",
        cfg=settings.cfg,
        cutoff=dates.fmt(cutoff_ts),
        data_digest=ds.digest,
        data_source=str(ds.path),
        extra_tags={"anticipate.model_uri": uri},
    ) as run:
        run.log_metrics(metrics)
        run.log_artifact(out)
    return Result(
        command="forecast",
        run_id=run.run_id,
        metrics=metrics,
        counts={"cells": len(fc.table), "skus": int(fc.table["sku"].nunique())},
        outputs={"forecast": str(out), "model_uri": uri},
        text=f"forecast at {dates.fmt(cutoff_ts)}: {len(fc.table):,} warehouse x SKU cells, "
        f"{metrics['mu_total']:,.0f} units expected -> {out}",
    )


# --------------------------------------------------------------------------- allocate
def check_date(value: str) -> pd.Timestamp:
    """``--date``: a plain YYYY-MM-DD (no path separators, no '..'), used as a directory name."""
    if "/" in value or "\\" in value or ".." in value:
        raise UsageError(f"--date {value!r} must be a plain date YYYY-MM-DD (no path separators)")
    return dates.parse_date(value, name="--date")


def check_staleness(orders: pd.DataFrame, date: pd.Timestamp, *, max_days: int, allow: bool) -> list[str]:
    """Refuse (exit 2) a plan on data whose last order is more than ``max_days`` before ``date``."""
    end = dates.data_end(orders["order_ts"])
    if date < end:
        return []
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


def build_instance(ds: DataSet, forecast: pd.DataFrame, settings: Settings) -> Any:
    """The allocation instance of CONTRACTS section 4 from a forecast and the reference tables."""
    from anticipate.allocation import instance_from_frames
    from anticipate.network import move_costs

    for table, key in (("warehouses", "warehouse_id"), ("products", "sku"), ("supply", "sku")):
        ids = getattr(ds, table)[key].astype(str)
        bad = ids[~ids.map(lambda s: bool(_SAFE_ID.match(s)))]
        if table == "warehouses" and not bad.empty:
            raise DataError(
                f"warehouse_id {bad.iloc[0]!r} has characters that are not allowed in ids "
                "(letters, digits, '_', '-', '.'); rename it",
                file=f"{ds.path}/warehouses.parquet",
                column="warehouse_id",
            )
    econ = settings.cfg.economics
    return instance_from_frames(
        warehouses=ds.warehouses,
        products=ds.products,
        supply=ds.supply,
        forecast=forecast,
        move_cost=move_costs(ds.warehouses, settings.cfg.network, econ.move_cost_per_km),
        default_g=econ.value_local,
        default_h=econ.cost_unsold,
    )


def run_allocate(
    settings: Settings,
    *,
    date: str,
    model: str | None = None,
    lp_bound: bool = False,
    allow_stale: bool = False,
) -> Result:
    """The nightly plan: lock, forecast at the date, allocate, publish ``plans/DATE/`` atomically."""
    date_ts = check_date(date)
    plans_dir = Path(settings.cfg.allocate.plans_dir)
    target = plans_dir / dates.fmt(date_ts)
    started = time.monotonic()
    with exclusive_lock(
        plans_dir / f".{dates.fmt(date_ts)}.lock", command=f"anticipate allocate --date {date}"
    ), stages(5, enabled=settings.progress, description="allocate") as bar:
        bar.step("loading data and model")
        ds = load_data(settings, cluster=True)
        require_reference_tables(ds, "allocate")
        warnings = check_staleness(
            ds.orders, date_ts, max_days=settings.cfg.allocate.max_staleness_days, allow=allow_stale
        )
        wrapper, uri = load_registered(settings, model, default_alias="production")
        bar.step("forecasting")
        fc = compute_forecast(settings, ds, wrapper, uri, date_ts)
        bar.step("allocating")
        plan = _solve(build_instance(ds, fc.table, settings), settings, lp_bound)
        bar.step("recording")
        summary = _summary(plan, ds, uri, fc, started)
        tracker = open_tracker(settings)
        with tracker.run(
            "allocate",
            cfg=settings.cfg,
            cutoff=dates.fmt(date_ts),
            data_digest=ds.digest,
            data_source=str(ds.path),
            extra_tags={"anticipate.model_uri": uri},
        ) as run:
            run.log_metrics({**_summary_metrics(summary), "runtime_seconds": plan.runtime_seconds})
            bar.step("publishing plan")
            _publish(target, plan, summary, fc, ds)
            run.log_artifact(target, "plan")
    counts = {
        "cells": len(plan.units),
        "units": int(plan.units["units"].sum()) if len(plan.units) else 0,
        "warehouses": len(ds.warehouses),
    }
    return Result(
        command="allocate",
        run_id=run.run_id,
        metrics={**_summary_metrics(summary), "runtime_seconds": plan.runtime_seconds},
        counts=counts,
        outputs={"plan_dir": str(target)},
        warnings=warnings,
        extra={"summary": summary},
        text=_allocate_text(target, summary, counts),
    )


def _solve(instance: Any, settings: Settings, lp_bound: bool) -> Any:
    from anticipate.allocation import solve_configured

    return solve_configured(instance, settings.cfg.allocate, lp_bound=lp_bound)


def _summary(plan: Any, ds: DataSet, uri: str, fc: ForecastOutput, started: float) -> dict[str, Any]:
    from anticipate.allocation import plan_summary

    digests = {
        f"{name}.parquet": file_digest(ds.path / f"{name}.parquet")
        for name in ("orders", "products", "regions", "warehouses", "supply")
    }
    summary = plan_summary(plan, digests)
    summary.update(
        {
            "model_uri": uri,
            "cutoff": dates.fmt(fc.cutoff),
            "horizon_days": fc.horizon_days,
            "forecast_units": round(float(fc.table["mu"].sum()), 6),
        }
    )
    # the solver's runtime goes to the MLflow run and --json (metric runtime_seconds), not into
    # summary.json, so that re-running a night with the same inputs gives the same bytes
    summary.pop("runtime_seconds", None)
    return summary


def _summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    keys = ("objective", "bound", "gap", "lp_bound", "units", "forecast_units")
    return {k: float(summary[k]) for k in keys if isinstance(summary.get(k), int | float)}


def _publish(target: Path, plan: Any, summary: dict[str, Any], fc: ForecastOutput, ds: DataSet) -> None:
    import matplotlib.pyplot as plt

    from anticipate.plots.plan import allocation_map

    with staging_dir(target) as stage:
        write_parquet(plan.units, stage / "plan.parquet")
        write_csv(plan.units, stage / "plan.csv")
        write_parquet(fc.table, stage / "forecast.parquet")
        write_json(summary, stage / "summary.json")
        fig = allocation_map(ds.warehouses, plan.units, plan.capacity_used, regions=ds.regions)
        fig.savefig(stage / "allocation.png", dpi=110, metadata={"Software": None})
        plt.close(fig)


def _allocate_text(target: Path, summary: dict[str, Any], counts: dict[str, int]) -> str:
    gap = summary.get("gap")
    return (
        f"plan {target}: {counts['units']:,} units in {counts['cells']:,} warehouse x SKU cells; "
        f"objective {summary.get('objective', 0):,.2f}, bound {summary.get('bound', 0):,.2f}, "
        f"gap {gap:.2e}"
        if isinstance(gap, float)
        else f"plan {target}"
    )
