"""One backtest cutoff on a data set: the model at the cutoff, its forecasts, the reference demands.

:func:`build_context` derives what every cutoff shares (region -> warehouse map, move
costs, economics, km saved, the planner); :func:`run_cutoff` forecasts with the model
(given, or trained in memory on the history before the cutoff), adds the naive and,
on synthetic data, the truth demand, and hands them to :func:`~anticipate.backtest.step.evaluate_cutoff`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.backtest.realised import horizon_lines
from anticipate.backtest.reference import Planner, naive_reference, naive_windows_at, truth_demand
from anticipate.backtest.replay import Economics
from anticipate.backtest.step import CutoffOutcome, evaluate_cutoff
from anticipate.storage.files import DataSet


@dataclass(frozen=True)
class Context:
    """Everything per-run the cutoffs share.

    ``region_map``: ``region, warehouse_id`` (NA = centre), ``km_saved``: km saved per
    unit served locally by region; ``wrapper``: the model given with ``--model``, or
    None to train one per cutoff.
    """

    ds: DataSet
    cfg: Any
    region_map: pd.DataFrame
    econ: Economics
    km_saved: pd.Series
    planner: Planner
    wrapper: Any | None


def build_context(cfg: Any, ds: DataSet, wrapper: Any | None) -> Context:
    """The shared context of a backtest of ``ds`` under ``cfg`` (network, economics, allocate).

    Exit 2 when the reference tables break a rule of the allocator (checked here, before
    any cutoff's model is trained).
    """
    from anticipate.demand.network import centre_location, move_costs, nearest_warehouse, region_km_saved

    region_map = nearest_warehouse(ds.regions, ds.warehouses, max_service_km=cfg.network.max_service_km)
    mc = move_costs(ds.warehouses, cfg.network, cfg.economics.move_cost_per_km, region_map)
    planner = Planner.from_config(ds, cfg, mc)
    planner.check()
    econ = Economics.from_tables(
        ds.products, mc, default_g=cfg.economics.value_local, default_h=cfg.economics.cost_unsold
    )
    saved = region_km_saved(ds.regions, region_map, centre_location(ds.warehouses, cfg.network, region_map))
    return Context(ds, cfg, region_map, econ, saved, planner, wrapper)


def model_at(ctx: Context, cutoff: pd.Timestamp) -> tuple[Any, list[str]]:
    """The given model, or one trained in memory on the windows before ``cutoff`` as ``train --until
    CUTOFF`` trains it (as many of ``model.train_windows`` as fit), with the warnings ``train`` would
    print: fewer windows than configured, no skill on the validation window."""
    if ctx.wrapper is not None:
        return ctx.wrapper, []
    from anticipate.metrics import classification_metrics
    from anticipate.models.honesty import no_skill_warning
    from anticipate.models.training import (
        fit_on_windows,
        short_history_warnings,
        windows_that_fit,
        with_windows,
    )
    from anticipate.tracking import NextPurchasePyfunc

    configured = ctx.cfg.model.train_windows
    usable = min(configured, windows_that_fit(cutoff, ctx.ds.orders["order_ts"], ctx.cfg.time.horizon_days))
    fitted = fit_on_windows(with_windows(ctx.cfg, usable), ctx.ds, cutoff)
    y_val = fitted.val["y"].to_numpy()
    auc = classification_metrics(y_val, fitted.model.predict_proba(fitted.val[fitted.features]))["auc"]
    skill = no_skill_warning(y_val, auc)
    warnings = short_history_warnings(configured, usable, cutoff)
    warnings += [f"backtest cutoff {dates.fmt(cutoff)}: {skill}"] if skill else []
    return NextPurchasePyfunc(fitted.model, fitted.meta), warnings


def naive_windows(ctx: Context, cutoff: pd.Timestamp, horizon_days: int) -> tuple[int, list[str]]:
    """The horizons the naive plan averages at ``cutoff`` and the warning when the history holds fewer
    than ``backtest.naive_windows`` (:func:`~anticipate.backtest.reference.naive_windows_at`)."""
    windows, warning = naive_windows_at(ctx.ds.orders["order_ts"], cutoff, horizon_days=horizon_days,
                                        windows=ctx.cfg.backtest.naive_windows)
    return windows, [warning] if warning else []


def model_forecasts(
    ctx: Context, cutoff: pd.Timestamp
) -> tuple[dict[str, pd.DataFrame], dict[str, float], int, list[str]]:
    """The model's warehouse x SKU forecast at ``cutoff``, its pair metrics (model and truth), H (days)
    and the model's warnings (:func:`model_at`).

    On synthetic data the forecasts also hold ``truth_pairs``: the same forecast with the
    model's P(buy) replaced by the generator's true probabilities (quantities, new
    demand and SKU split unchanged), which separates what the pair model loses from
    what the rest of the forecast loses.
    """
    from anticipate.demand.forecast import forecast_for_spec
    from anticipate.models.evaluation import all_metrics, oracle_predictions
    from anticipate.models.scoring import features_for, score_frame, spec_of

    cfg, ds = ctx.cfg, ctx.ds
    wrapper, warnings = model_at(ctx, cutoff)
    spec = spec_of(wrapper)
    frame = features_for(wrapper, ds, cutoff, with_labels=True)
    scored = score_frame(wrapper, frame)
    predictions = {"model": scored["p_buy"].to_numpy()}
    truth_p = oracle_predictions(ds, frame, cutoff, spec)
    if truth_p is not None and np.isfinite(truth_p).all():
        predictions["oracle"] = truth_p
    pair_metrics = all_metrics(frame["y"].to_numpy(), predictions)

    def forecast(pairs: pd.DataFrame, found: list[str] | None = None) -> pd.DataFrame:
        return forecast_for_spec(pairs, ds.orders, cutoff, spec, cfg.forecast,
                                 products=ds.products, region_map=ctx.region_map, warnings=found)

    forecasts = {"model": forecast(scored, warnings)}  # the year-ago index's warning, once
    if "oracle" in predictions:
        forecasts["truth_pairs"] = forecast(scored.assign(p_buy=predictions["oracle"]))
    return forecasts, pair_metrics, spec.horizon, warnings


def reference_demands(
    ctx: Context, cutoff: pd.Timestamp, horizon_days: int, windows: int
) -> dict[str, pd.DataFrame]:
    """The naive demand over ``windows`` horizons and, on synthetic data (a ``latent/`` state), the truth
    demand at ``cutoff``."""
    from anticipate.sample import latent_of

    demands = {
        "naive": naive_reference(
            ctx.ds.orders,
            cutoff,
            horizon_days=horizon_days,
            windows=windows,
            region_map=ctx.region_map,
        )
    }
    latent = latent_of(ctx.ds.path, ctx.ds.orders)
    if latent is not None:
        demands["truth"] = truth_demand(
            latent,
            cutoff,
            horizon_days=horizon_days,
            region_map=ctx.region_map,
            n_regions=len(ctx.ds.regions),
        )
    return demands


def run_cutoff(ctx: Context, cutoff: pd.Timestamp) -> CutoffOutcome:
    """Backtest one cutoff: the model's and the reference plans replayed against the real orders."""
    forecasts, pair_metrics, h, warnings = model_forecasts(ctx, cutoff)
    lines = horizon_lines(ctx.ds.orders, cutoff, h, ctx.region_map)
    windows, naive_note = naive_windows(ctx, cutoff, h)
    demands = {**forecasts, **reference_demands(ctx, cutoff, h, windows)}
    outcome = evaluate_cutoff(
        cutoff, lines, demands, ctx.planner, ctx.econ, km_saved=ctx.km_saved, pair_metrics=pair_metrics
    )
    return replace(outcome, warnings=(*warnings, *naive_note))
