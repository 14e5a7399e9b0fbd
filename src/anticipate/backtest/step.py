"""One cutoff of the backtest over in-memory frames: plans, replay, value captured, forecast metrics.

Given the demand forecasts of a cutoff (the model's and the reference ones), the lines
really ordered in its horizon and the economics, :func:`evaluate_cutoff` allocates a
plan on each forecast (and perfect foresight's on the actual units), replays the
lines against every plan, and returns a row per plan and the cutoff's metrics. The
allocator is passed in (``solve``), so the step runs on hand-made frames too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from anticipate import dates
from anticipate.backtest.realised import actual_demand
from anticipate.backtest.reference import oracle_demand, zero_plan
from anticipate.backtest.replay import Economics, ReplayResult, replay, value_captured

#: Forecast metrics stored per plan row of backtest.parquet (NaN for the oracle and zero plans).
FORECAST_COLUMNS = ("bias", "wape", "coverage_80", "coverage_80_closed")

#: Replay figures logged per plan (the model's unprefixed).
PLAN_METRICS = ("value_captured", "fill_rate_local", "units_moved", "units_unsold", "km_saved")

#: ``solve(demand, known=...)`` -> plan ``warehouse_id, sku, units`` (see ``reference.Planner``).
Solver = Callable[..., pd.DataFrame]


@dataclass(frozen=True)
class CutoffOutcome:
    """What one cutoff produced.

    ``rows``: one dict per plan (``cutoff, plan, value`` in currency, ``value_captured``,
    fill rate, units, km saved and the forecast metrics); ``metrics``: the cutoff's
    metrics by name; ``cells``: the model's ``warehouse_id, sku, mu, var, units, cutoff``;
    ``by_warehouse``: the model plan's ``warehouse_id, demand_units, local_units,
    fill_rate_local, cutoff``; ``warnings``: what makes the cutoff's figures doubtful (its model
    trained on fewer windows than configured or without skill, a naive on less history).
    """

    rows: list[dict[str, Any]]
    metrics: dict[str, float]
    cells: pd.DataFrame
    by_warehouse: pd.DataFrame
    warnings: tuple[str, ...] = ()


def forecast_cells(forecast: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """``warehouse_id, sku, mu, var, units`` over the cells forecast or ordered (missing = 0 units)."""
    return (
        forecast[["warehouse_id", "sku", "mu", "var"]]
        .merge(actual, on=["warehouse_id", "sku"], how="outer")
        .fillna({"mu": 0.0, "var": 0.0, "units": 0.0})
    )


def forecast_scores(
    demands: dict[str, pd.DataFrame], actual: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, float]]]:
    """Each forecast's cells against the actual units and its forecast metrics (bias, WAPE, coverage)."""
    from anticipate.metrics import forecast_metrics

    cells = {name: forecast_cells(d, actual) for name, d in demands.items()}
    fc = {
        name: forecast_metrics(c["mu"].to_numpy(), c["var"].to_numpy(), c["units"].to_numpy())
        for name, c in cells.items()
    }
    return cells, fc


def plan_row(
    cutoff: pd.Timestamp, name: str, r: ReplayResult, v_oracle: float, fc: dict[str, float]
) -> dict[str, Any]:
    """The ``backtest.parquet`` row of plan ``name``: its replay, value captured and forecast metrics."""
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


def cutoff_metrics(
    pair_metrics: dict[str, float], fc: dict[str, dict[str, float]], rows: list[dict[str, Any]]
) -> dict[str, float]:
    """The cutoff's metrics: pair metrics, the model's forecast and replay figures unprefixed, and
    ``naive.*`` / ``truth.*`` / ``truth_pairs.*`` for the reference plans present."""
    by_plan = {row["plan"]: row for row in rows}
    metrics: dict[str, float] = {**pair_metrics, **fc["model"]}
    for name in ("model", *(n for n in ("naive", "truth", "truth_pairs") if n in by_plan)):
        prefix = "" if name == "model" else f"{name}."
        metrics.update({f"{prefix}{k}": float(by_plan[name][k]) for k in PLAN_METRICS})
        if name != "model":
            metrics.update({f"{prefix}{k}": v for k, v in fc[name].items()})
    return metrics


def evaluate_cutoff(
    cutoff: pd.Timestamp,
    lines: pd.DataFrame,
    demands: dict[str, pd.DataFrame],
    solve: Solver,
    econ: Economics,
    *,
    km_saved: pd.Series | None = None,
    pair_metrics: dict[str, float] | None = None,
) -> CutoffOutcome:
    """Plan on every forecast and on perfect foresight, replay ``lines`` against each, score them.

    ``lines``: the horizon's lines (``order_ts, sku, quantity, region, warehouse_id``,
    :func:`~anticipate.backtest.realised.horizon_lines`); ``demands``: name ->
    ``warehouse_id, sku, mu, var`` (units), ``model`` first and required; ``km_saved``:
    km saved per unit served locally, by region. Plans ``oracle`` (on the actual units)
    and ``zero`` are added; value captured is each plan's value over the oracle's.
    """
    actual = actual_demand(lines)
    cells, fc = forecast_scores(demands, actual)
    plans = {name: solve(d) for name, d in demands.items()}
    plans["oracle"] = solve(oracle_demand(actual), known=True)
    plans["zero"] = zero_plan()
    results = {name: replay(lines, plan, econ, km_saved_by_region=km_saved) for name, plan in plans.items()}
    v_oracle = results["oracle"].value
    rows = [plan_row(cutoff, name, r, v_oracle, fc.get(name, {})) for name, r in results.items()]
    label = dates.fmt(cutoff)
    return CutoffOutcome(
        rows=rows,
        metrics=cutoff_metrics(pair_metrics or {}, fc, rows),
        cells=cells["model"].assign(cutoff=label),
        by_warehouse=results["model"].by_warehouse.assign(cutoff=label),
    )
