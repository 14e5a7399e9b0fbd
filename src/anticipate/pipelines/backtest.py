"""``backtest``: for each cutoff, forecast and allocate, then replay the real orders (CONTRACTS section 5).

Per cutoff the model is trained on the history before it (or ``--model`` is used as
is), its plan is compared with the zero, naive and oracle plans allocated under the
same constraints, and the forecast and pair metrics are computed. One MLflow parent
run, one child per cutoff; outputs in ``backtest.out_dir``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.errors import CutoffError, UsageError
from anticipate.io import DataSet, staging_dir, write_json, write_parquet
from anticipate.models.honesty import check_backtest_model
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import load_data, log, open_tracker
from anticipate.progress import track


def parse_cutoffs(
    cutoffs: str | None, start: str | None, end: str | None, every: str
) -> tuple[list[pd.Timestamp], list[str]]:
    """The sorted, de-duplicated cutoffs of ``--cutoffs`` or ``--from/--to/--every``, and warnings."""
    if cutoffs:
        values = [dates.parse_date(c, name="--cutoffs") for c in cutoffs.split(",") if c.strip()]
    elif start and end:
        match = re.fullmatch(r"(\d+)d", every.strip())
        if not match or int(match.group(1)) < 1:
            raise UsageError(f"--every must be a number of days like 7d, got {every!r}")
        first, last = dates.parse_date(start, name="--from"), dates.parse_date(end, name="--to")
        if last < first:
            raise UsageError(f"--to {end} is before --from {start}")
        values = list(pd.date_range(first, last, freq=f"{int(match.group(1))}D"))
    else:
        raise UsageError("give --cutoffs D1,D2,... or --from D --to D [--every 7d]")
    if not values:
        raise UsageError("no cutoffs given")
    unique = sorted(set(values))
    warnings = []
    if len(unique) < len(values):
        warnings.append(f"{len(values) - len(unique)} duplicate cutoff(s) ignored")
    return unique, warnings


def check_cutoffs(cutoffs: list[pd.Timestamp], ds: DataSet, horizon_days: int) -> list[str]:
    """Exit 2 naming the last valid cutoff when a horizon runs past the data; warn on overlaps."""
    first, last = dates.valid_range(ds.orders["order_ts"], horizon_days, "labelled")
    bad = [c for c in cutoffs if not first <= c <= last]
    if bad:
        raise CutoffError(
            f"cutoff {dates.fmt(bad[0])} has a horizon outside the data: the valid cutoffs run "
            f"from {dates.fmt(first)} to {dates.fmt(last)} (the last valid cutoff) with a "
            f"{horizon_days}-day horizon"
        )
    gaps = np.diff([c.value for c in cutoffs]) / 86_400e9
    if (gaps < horizon_days).any():
        return [f"some cutoffs are less than {horizon_days} days apart: their horizons overlap"]
    return []


@dataclass
class Context:
    """Everything per-run the cutoffs share."""

    ds: DataSet
    settings: Settings
    region_map: pd.DataFrame
    move_cost: pd.DataFrame
    econ: Any
    km_saved: pd.Series
    wrapper: Any | None


def _context(settings: Settings, ds: DataSet, wrapper: Any | None) -> Context:
    from anticipate.allocation import instance_from_frames
    from anticipate.backtest import Economics
    from anticipate.network import centre_location, move_costs, nearest_warehouse, region_km_saved

    cfg = settings.cfg
    region_map = nearest_warehouse(ds.regions, ds.warehouses, max_service_km=cfg.network.max_service_km)
    mc = move_costs(ds.warehouses, cfg.network, cfg.economics.move_cost_per_km)
    probe = instance_from_frames(
        warehouses=ds.warehouses,
        products=ds.products,
        supply=ds.supply,
        forecast=pd.DataFrame(columns=["warehouse_id", "sku", "mu", "var"]),
        move_cost=mc,
        default_g=cfg.economics.value_local,
        default_h=cfg.economics.cost_unsold,
    )
    econ = Economics(
        g=probe.skus.set_index("sku")["g"],
        h=probe.skus.set_index("sku")["h"],
        move_cost=mc.set_index("warehouse_id")["move_cost"],
    )
    saved = region_km_saved(ds.regions, region_map, centre_location(ds.warehouses, cfg.network))
    return Context(ds, settings, region_map, mc, econ, saved, wrapper)


def _model_for(ctx: Context, cutoff: pd.Timestamp) -> Any:
    """The given model, or one trained in memory on the windows before ``cutoff``."""
    if ctx.wrapper is not None:
        return ctx.wrapper
    from anticipate.pipelines.model import fit_on_windows
    from anticipate.tracking import NextPurchasePyfunc

    fitted = fit_on_windows(ctx.settings.cfg, ctx.ds, cutoff)
    return NextPurchasePyfunc(fitted.model, fitted.meta)


def _solve_demand(ctx: Context, demand: pd.DataFrame, *, known: bool = False) -> pd.DataFrame:
    """Allocate a plan (``warehouse_id, sku, units``) on ``demand`` under the data's constraints.

    ``known``: perfect foresight, a point mass at the actual units. Being the
    denominator of every value captured, that plan is also handed to HiGHS (integer
    model, LP bound) when it has at most ``allocate.polish_max_units`` increments: the
    Lagrangian plan alone is up to ~0.5% below the optimum there, which would inflate
    every ratio.
    """
    from anticipate.allocation import instance_from_frames, solve
    from anticipate.allocation.instance import Instance

    cfg = ctx.settings.cfg
    base = demand.assign(var=demand["mu"]) if known else demand
    inst = instance_from_frames(
        warehouses=ctx.ds.warehouses,
        products=ctx.ds.products,
        supply=ctx.ds.supply,
        forecast=base[["warehouse_id", "sku", "mu", "var"]],
        move_cost=ctx.move_cost,
        default_g=cfg.economics.value_local,
        default_h=cfg.economics.cost_unsold,
    )
    if not known:
        return solve(inst).units
    inst = Instance(inst.warehouses, inst.skus, inst.cells.assign(var=0.0))
    small = len(inst.cells) <= cfg.allocate.lp_bound_max_cells
    return solve(inst, lp_bound=small, polish_units=cfg.allocate.polish_max_units if small else 0).units


def _truth_demand(ctx: Context, cutoff: pd.Timestamp, horizon_days: int) -> pd.DataFrame | None:
    """On synthetic data: the generator's expected demand per warehouse x SKU (Poisson), else None.

    A plan allocated on it is what a perfect *probabilistic* forecast could capture: the
    ceiling for any model, below the oracle that knows the realised orders.
    """
    from anticipate.sample import load_latent, true_region_demand

    latent = load_latent(ctx.ds.path)
    if latent is None:
        return None
    demand = true_region_demand(latent, cutoff, horizon_days=horizon_days, n_regions=len(ctx.ds.regions))
    mapped = demand.merge(ctx.region_map[["region", "warehouse_id"]], on="region", how="inner")
    mapped = mapped[mapped["warehouse_id"].notna()]
    out = mapped.groupby([mapped["warehouse_id"].astype(str), "sku"], as_index=False)["mu_true"].sum()
    out = out.rename(columns={"mu_true": "mu"})
    out["var"] = out["mu"]
    return out[out["mu"] > 0]


def _model_forecast(
    ctx: Context, cutoff: pd.Timestamp
) -> tuple[dict[str, pd.DataFrame], dict[str, float], int]:
    """The model's warehouse x SKU forecast at ``cutoff``, its pair metrics (model and truth), and H.

    On synthetic data the forecasts also hold ``truth_pairs``: the same forecast with the
    model's P(buy) replaced by the generator's true probabilities (quantities, new
    demand and SKU split unchanged), which separates what the pair model loses from
    what the rest of the forecast loses.
    """
    from anticipate.forecast import forecast_from_scores
    from anticipate.pipelines.evaluate import all_metrics, oracle_predictions
    from anticipate.pipelines.model import features_for, score_frame

    cfg, ds = ctx.settings.cfg, ctx.ds
    wrapper = _model_for(ctx, cutoff)
    meta = wrapper.meta
    h = int(meta["horizon_days"])
    frame = features_for(wrapper, ds, cutoff, with_labels=True)
    scored = score_frame(wrapper, frame)
    predictions = {"model": scored["p_buy"].to_numpy()}
    truth_p = oracle_predictions(ds, frame, cutoff, meta)
    if truth_p is not None and np.isfinite(truth_p).all():
        predictions["oracle"] = truth_p
    pair_metrics = all_metrics(frame["y"].to_numpy(), predictions)

    def forecast(pairs: pd.DataFrame) -> pd.DataFrame:
        return forecast_from_scores(
            pairs,
            ds.orders,
            cutoff,
            horizon_days=h,
            lookback_days=int(meta["lookback_days"]),
            item_level=meta["item_level"],
            products=ds.products,
            region_map=ctx.region_map,
            new_demand_windows=cfg.forecast.new_demand_windows,
            dispersion=cfg.forecast.dispersion,
            sku_share_days=cfg.forecast.sku_share_days,
        )

    forecasts = {"model": forecast(scored)}
    if "oracle" in predictions:
        forecasts["truth_pairs"] = forecast(scored.assign(p_buy=predictions["oracle"]))
    return forecasts, pair_metrics, h


def _demands(
    ctx: Context, cutoff: pd.Timestamp, h: int, forecasts: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The demand forecasts the plans are allocated on: model, naive and, on synthetic data, truth."""
    from anticipate.backtest import naive_demand
    from anticipate.forecast import horizon_lines

    windows = ctx.settings.cfg.backtest.naive_windows
    history = horizon_lines(
        ctx.ds.orders, cutoff - pd.Timedelta(days=h * windows), h * windows, ctx.region_map
    )
    demands = {**forecasts, "naive": naive_demand(history, cutoff, horizon_days=h, windows=windows)}
    truth = _truth_demand(ctx, cutoff, h)
    if truth is not None:
        demands["truth"] = truth
    return demands


def _cells(forecast: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """``warehouse_id, sku, mu, var, units`` over the cells forecast or ordered (missing = 0)."""
    return (
        forecast[["warehouse_id", "sku", "mu", "var"]]
        .merge(actual, on=["warehouse_id", "sku"], how="outer")
        .fillna({"mu": 0.0, "var": 0.0, "units": 0.0})
    )


def _plan_row(
    cutoff: pd.Timestamp, name: str, r: Any, v_oracle: float, fc: dict[str, float]
) -> dict[str, Any]:
    from anticipate.backtest import value_captured

    return {
        "cutoff": dates.fmt(cutoff),
        "plan": name,
        "value": r.value,
        "value_captured": value_captured(r.value, v_oracle),
        "fill_rate_local": r.fill_rate_local,
        "local_units": r.local_units,
        "total_units": r.total_units,
        "units_moved": r.units_moved,
        "units_unsold": r.units_unsold,
        "km_saved": r.km_saved,
        **{k: fc.get(k, float("nan")) for k in FORECAST_COLUMNS},
    }


#: Forecast metrics stored per plan row of backtest.parquet (NaN for the oracle and zero plans).
FORECAST_COLUMNS = ("bias", "wape", "coverage_80", "coverage_80_closed")


def run_cutoff(ctx: Context, cutoff: pd.Timestamp) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Backtest one cutoff: a row per plan, the cutoff's metrics, and the model's cells for reliability.

    Metrics: the model's pair metrics (and ``oracle.*`` from the true probabilities on
    synthetic data), the model's forecast and replay metrics unprefixed, and
    ``naive.*`` / ``truth.*`` for the reference plans' forecast and value captured.
    """
    from anticipate.backtest import replay
    from anticipate.forecast import actual_demand, horizon_lines
    from anticipate.metrics import forecast_metrics

    forecasts, pair_metrics, h = _model_forecast(ctx, cutoff)
    lines = horizon_lines(ctx.ds.orders, cutoff, h, ctx.region_map)
    actual = actual_demand(lines)
    demands = _demands(ctx, cutoff, h, forecasts)
    cells = {name: _cells(d, actual) for name, d in demands.items()}
    fc = {
        name: forecast_metrics(c["mu"].to_numpy(), c["var"].to_numpy(), c["units"].to_numpy())
        for name, c in cells.items()
    }
    plans = {name: _solve_demand(ctx, d) for name, d in demands.items()}
    plans["oracle"] = _solve_demand(ctx, actual.rename(columns={"units": "mu"}), known=True)
    plans["zero"] = pd.DataFrame({"warehouse_id": [], "sku": [], "units": pd.Series([], dtype=np.int64)})
    results = {
        name: replay(lines, plan, ctx.econ, km_saved_by_region=ctx.km_saved) for name, plan in plans.items()
    }
    v_oracle = results["oracle"].value
    rows = [_plan_row(cutoff, name, r, v_oracle, fc.get(name, {})) for name, r in results.items()]
    by_plan = {row["plan"]: row for row in rows}
    metrics: dict[str, float] = {**pair_metrics, **fc["model"]}
    for name in ("model", *(n for n in ("naive", "truth", "truth_pairs") if n in by_plan)):
        prefix = "" if name == "model" else f"{name}."
        metrics.update({f"{prefix}{k}": float(by_plan[name][k]) for k in PLAN_METRICS})
        if name != "model":
            metrics.update({f"{prefix}{k}": v for k, v in fc[name].items()})
    extra = {
        "cells": cells["model"].assign(cutoff=dates.fmt(cutoff)),
        "by_warehouse": results["model"].by_warehouse.assign(cutoff=dates.fmt(cutoff)),
    }
    return rows, {"metrics": metrics, **extra}


#: Replay figures logged per plan (the model's unprefixed).
PLAN_METRICS = ("value_captured", "fill_rate_local", "units_moved", "units_unsold", "km_saved")


def _reliability(cells: pd.DataFrame) -> pd.DataFrame:
    """``level, coverage, coverage_closed``: observed coverage of central intervals at levels 0.1..0.9.

    ``coverage`` is the PIT coverage of counts (:func:`anticipate.metrics.pit_interval_coverage`),
    on the diagonal for a calibrated forecast; ``coverage_closed`` the closed quantile interval's.
    """
    from anticipate.metrics import closed_interval_coverage, pit_interval_coverage

    mu, var, units = (cells[c].to_numpy(float) for c in ("mu", "var", "units"))
    levels = np.round(np.arange(0.1, 1.0, 0.1), 1)
    return pd.DataFrame(
        {
            "level": levels,
            "coverage": [float(pit_interval_coverage(mu, var, units, level=lv).mean()) for lv in levels],
            "coverage_closed": [
                float(closed_interval_coverage(mu, var, units, level=lv).mean()) for lv in levels
            ],
        }
    )


def _overall(per_cutoff: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted(set.intersection(*(set(m) for m in per_cutoff)))
    return {k: float(np.nanmean([m[k] for m in per_cutoff])) for k in keys}


def _write_outputs(
    out: Path, table: pd.DataFrame, cells: pd.DataFrame, by_wh: pd.DataFrame, summary: dict[str, Any]
) -> dict[str, str]:
    import matplotlib.pyplot as plt

    from anticipate.plots.plan import fill_rate_by_warehouse, interval_reliability, value_captured_per_cutoff

    reliability = _reliability(cells)
    fill = by_wh.groupby("warehouse_id", as_index=False)[["demand_units", "local_units"]].sum()
    fill["fill_rate_local"] = fill["local_units"] / fill["demand_units"]
    figures = {
        "value_captured.png": value_captured_per_cutoff(
            table[table["plan"].isin(["model", "naive", "truth", "oracle"])]
        ),
        "interval_reliability.png": interval_reliability(reliability),
        "fill_rate_by_warehouse.png": fill_rate_by_warehouse(fill),
    }
    with staging_dir(out) as stage:
        write_parquet(table, stage / "backtest.parquet")
        write_json(summary, stage / "summary.json")
        for name, fig in figures.items():
            fig.savefig(stage / name, dpi=110, metadata={"Software": None})
            plt.close(fig)
    return {
        "dir": str(out),
        "table": str(out / "backtest.parquet"),
        **{name.removesuffix(".png"): str(out / name) for name in figures},
    }


def run_backtest(
    settings: Settings,
    *,
    cutoffs: str | None,
    start: str | None,
    end: str | None,
    every: str,
    model: str | None,
    out: Path | None,
) -> Result:
    """Backtest every cutoff; write the table and figures; log a parent run with a child per cutoff."""
    from anticipate.pipelines.model import load_registered
    from anticipate.pipelines.plan import require_reference_tables

    cut_list, warnings = parse_cutoffs(cutoffs, start, end, every)
    ds = load_data(settings)
    require_reference_tables(ds, "backtest")
    wrapper, uri = load_registered(settings, model, default_alias=None) if model else (None, "")
    if wrapper is not None:
        check_backtest_model(wrapper.meta, cut_list, uri=uri)
    horizon = int(wrapper.meta["horizon_days"]) if wrapper else settings.cfg.time.horizon_days
    warnings += check_cutoffs(cut_list, ds, horizon)
    for w in warnings:
        log.warning(w)
    ctx = _context(settings, ds, wrapper)
    out = (
        Path(out)
        if out
        else Path(settings.cfg.backtest.out_dir) / f"{dates.fmt(cut_list[0])}_{dates.fmt(cut_list[-1])}"
    )
    tracker = open_tracker(settings)
    rows, per_cutoff, cells, by_wh = [], [], [], []
    with tracker.run(
        "backtest",
        cfg=settings.cfg,
        cutoff=dates.fmt(cut_list[0]),
        data_digest=ds.digest,
        data_source=str(ds.path),
    ) as parent:
        for cutoff in track(cut_list, total=len(cut_list), enabled=settings.progress, description="backtest"):
            cut_rows, info = run_cutoff(ctx, cutoff)
            with tracker.run(
                "backtest-cutoff",
                cutoff=dates.fmt(cutoff),
                parent_run_id=parent.run_id,
                run_name=f"backtest {dates.fmt(cutoff)}",
            ) as child:
                child.log_metrics(info["metrics"])
            rows += cut_rows
            per_cutoff.append(info["metrics"])
            cells.append(info["cells"])
            by_wh.append(info["by_warehouse"])
        overall = _overall(per_cutoff)
        table = pd.DataFrame(rows)
        by_cutoff = {dates.fmt(c): m for c, m in zip(cut_list, per_cutoff, strict=True)}
        finite = {c: {k: _finite(v) for k, v in m.items()} for c, m in by_cutoff.items()}
        summary = {"cutoffs": list(by_cutoff), "overall": overall, "per_cutoff": finite}
        outputs = _write_outputs(out, table, pd.concat(cells), pd.concat(by_wh), summary)
        parent.log_metrics(overall)
        parent.log_artifact(out, "backtest")
    return Result(
        command="backtest",
        run_id=parent.run_id,
        metrics=overall,
        counts={"cutoffs": len(cut_list)},
        outputs=outputs,
        warnings=warnings,
        text=_text(by_cutoff, overall),
        extra={"per_cutoff": finite},
    )


def _finite(value: float) -> float | None:
    """``value``, or None when it is NaN or infinite (JSON has no NaN)."""
    return float(value) if np.isfinite(value) else None


#: Columns of the printed per-cutoff table (metric name -> short label), in order.
TEXT_COLUMNS = {
    "value_captured": "captured",
    "naive.value_captured": "naive",
    "truth.value_captured": "truth",
    "truth_pairs.value_captured": "truth_pairs",
    "fill_rate_local": "fill",
    "units_moved": "moved",
    "units_unsold": "unsold",
    "km_saved": "km_saved",
    "bias": "bias",
    "wape": "wape",
    "coverage_80": "cov80",
    "coverage_80_closed": "cov80_closed",
    "auc": "auc",
}


def _text(per_cutoff: dict[str, dict[str, float]], overall: dict[str, float]) -> str:
    """The printed report: one row per cutoff and the overall mean, then the headline sentence."""
    frame = pd.DataFrame(per_cutoff).T
    frame.loc["mean"] = pd.Series(overall)
    frame = frame[[c for c in TEXT_COLUMNS if c in frame.columns]].astype(float).rename(columns=TEXT_COLUMNS)
    frame.index.name = "cutoff"

    def get(key: str) -> float:
        return overall.get(key, float("nan"))

    truth = (
        f"; a plan on the true demand distributions captured {get('truth.value_captured'):.1%}"
        if "truth.value_captured" in overall
        else ""
    )
    return "\n".join(
        [
            "per cutoff: value captured (share of perfect foresight's value) by the model's plan and the "
            "naive/truth ones; the model's fill rate, units, km saved and forecast metrics:",
            frame.to_string(float_format=lambda v: f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"),
            "",
            f"naive plan captured {get('naive.value_captured'):.1%}{truth}",
            f"pre-positioning captured {get('value_captured'):.1%} of the value that perfect foresight "
            "would have",
        ]
    )
