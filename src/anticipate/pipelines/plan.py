"""``forecast`` and ``allocate``: demand per warehouse x SKU, then the nightly plan.

``allocate --date D`` holds a per-date lock, builds features at D with the
``production`` model, forecasts, solves the allocation and publishes ``plans/D/``
atomically (stage, then rename): the directory is at every moment absent, the
previous complete plan or the new complete plan. Same inputs, same bytes. The plan
directory holds the instance it solved (``instance/``, as ``solve --instance`` reads it), so
a planner can re-solve the night with a changed capacity or supply (a what-if).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from anticipate import dates
from anticipate.demand.gates import RECENT_COLUMNS, check_history, check_plan, recent_window
from anticipate.demand.history_gate import require_history
from anticipate.demand.inputs import (
    ForecastOutput,
    build_instance,
    check_staleness,
    compute_forecast,
    require_reference_tables,
)
from anticipate.demand.plan_table import planner_table
from anticipate.errors import UsageError
from anticipate.models import honesty
from anticipate.models.scoring import as_trained, model_warnings, spec_of
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import (
    amount_text,
    item_warnings,
    load_data,
    load_with_source,
    open_tracker,
    refuse_out_in_data,
    require_model_store,
    resolve_cutoff,
)
from anticipate.progress import stages
from anticipate.storage.files import (
    DataSet,
    check_unchanged,
    file_digest,
    read_parquet_checked,
    write_csv,
    write_json,
    write_parquet,
)
from anticipate.storage.publish import DirOutput, check_publishable, dir_lock, leftovers, staging_dir
from anticipate.tracking import tags

#: What ``plans/DATE/`` holds; an existing one holding anything else is refused.
PLAN_NAMES = frozenset({"plan.parquet", "plan.csv", "forecast.parquet", "summary.json", "allocation.png",
                        "instance"})


def plans_dir_fix(plans: Path) -> str:
    """The advice of every refusal to write under ``allocate.plans_dir`` (``plans``): its lock, the staging
    and the publishing of ``plans/DATE/`` say the same, naming the config key and its value, as allocate
    has no output option."""
    return f"set allocate.plans_dir in the config (now {plans}) to a directory you can write to"


def plan_output(plans: Path) -> DirOutput:
    """``plans/DATE/`` as a directory output under ``plans`` (``allocate.plans_dir``): the entries it holds
    (:data:`PLAN_NAMES`) and the advice of its refusals (:func:`plans_dir_fix` when a write fails)."""
    return DirOutput("allocate", PLAN_NAMES, label="the plan directory",
                     fix="move that entry out of it, or set allocate.plans_dir to another directory",
                     write_fix=plans_dir_fix(plans))


def run_forecast(settings: Settings, *, model: str | None, cutoff: str | None, out: Path) -> Result:
    """Write ``forecast.parquet``: warehouse_id, sku, mu, var over the horizon (units)."""
    refuse_out_in_data(out, settings)
    ds = load_data(settings, cluster=True)
    require_reference_tables(ds, "forecast")
    wrapper, uri, source = load_with_source(settings, model, default_alias="production")
    items = item_warnings(ds, spec_of(wrapper).item_level)  # or exit 2: no SKU has a category
    cutoff_ts = resolve_cutoff(
        cutoff,
        ds.orders,
        horizon_days=spec_of(wrapper).horizon,
        purpose="production",
        command="forecast",
        min_history_days=spec_of(wrapper).horizon,  # the range the history gate below holds to
    )
    require_history(ds.orders["order_ts"], cutoff_ts, spec_of(wrapper).horizon,
                    settings.cfg.forecast.new_demand_windows, "forecast",
                    f"the forecast was not written ({out} is left as it was)")  # allocate's gate 0
    seen = honesty.in_sample_warning(wrapper.meta, cutoff_ts, uri=uri, what="this forecast is",
                                     name="cutoff", option="--cutoff")
    fc = compute_forecast(settings, ds, wrapper, uri, cutoff_ts)
    write_parquet(fc.table, out)
    metrics = {"mu_total": float(fc.table["mu"].sum()), "var_total": float(fc.table["var"].sum())}
    tracker = open_tracker(settings)
    with tracker.run(
        "forecast",
        cfg=as_trained(settings.cfg, wrapper),  # the task the model fixes, not the config's (runs compare)
        cutoff=dates.fmt(cutoff_ts),
        data_digest=ds.digest,
        data_source=str(ds.path),
        extra_tags=_scoring_tags(uri, source, seen is not None),
    ) as run:
        run.log_metrics(metrics)
        run.log_artifact(out)
    return Result(
        command="forecast",
        run_id=run.run_id,
        metrics=metrics,
        counts={"cells": len(fc.table), "skus": int(fc.table["sku"].nunique())},
        outputs={"forecast": str(out), "model_uri": uri,
                 **{k: v for k, v in tags.source_keys(source).items() if v}},
        text=f"forecast at {dates.fmt(cutoff_ts)}: {len(fc.table):,} warehouse x SKU cells, "
        f"{metrics['mu_total']:,.0f} units expected -> {out}",
        warnings=[*([seen] if seen else []), *items, *model_warnings(wrapper, settings.cfg, cutoff_ts, ds),
                  *fc.warnings,
                  *dates.history_warnings(ds.orders["order_ts"], cutoff_ts),
                  *dates.future_cutoff_warnings(cutoff_ts, now=settings.started_at, name="the cutoff",
                                                order_ts=ds.orders["order_ts"])],
    )


# --------------------------------------------------------------------------- allocate
def check_date(value: str) -> pd.Timestamp:
    """``--date``: a plain YYYY-MM-DD (no path separators, no '..'), used as a directory name."""
    if "/" in value or "\\" in value or ".." in value:
        raise UsageError(f"--date {value!r} must be a plain date YYYY-MM-DD (no path separators)")
    return dates.parse_date(value, name="--date")


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
    target = Path(settings.cfg.allocate.plans_dir) / dates.fmt(date_ts)
    require_model_store(settings, model)  # before the lock creates plans/: a wrong store creates nothing
    with _night(target, date, progress=settings.progress) as bar:
        bar.step("loading data and model")
        ds = load_data(settings, cluster=True)
        require_reference_tables(ds, "allocate")
        stale = check_staleness(ds.orders, date_ts, max_days=settings.cfg.allocate.max_staleness_days,
                                allow=allow_stale)
        wrapper, uri, source = load_with_source(settings, model, default_alias="production")
        _history_gate(settings, ds, wrapper, date_ts, target)  # gate 0 first: it names the first date
        warnings = [*settings.said, *stale, *dates.history_warnings(ds.orders["order_ts"], date_ts)]
        warnings += _rests_on(settings, ds, wrapper, date_ts, uri)
        bar.step("forecasting")
        fc = compute_forecast(settings, ds, wrapper, uri, date_ts)
        warnings += fc.warnings
        bar.step("allocating")
        plan = _solve(instance := build_instance(ds, fc, settings), settings, lp_bound)  # instance: published
        recent = gate_lines(ds, date_ts, int(fc.horizon_days), settings.cfg.forecast.new_demand_windows)
        warnings += check_plan(ds, fc, plan, date_ts, settings.cfg, target, recent)  # or exit 2, unpublished
        bar.step("recording")
        summary = _summary(plan, ds, {"model_uri": uri, **tags.source_keys(source)}, fc, settings.cfg,
                           warnings)
        warnings += [summary["warning"]] if "warning" in summary else []
        tracker = open_tracker(settings)
        with tracker.run(
            "allocate",
            cfg=as_trained(settings.cfg, wrapper),  # the model's horizon, lookback, item level, families
            cutoff=dates.fmt(date_ts),
            data_digest=ds.digest, data_source=str(ds.path),
            extra_tags=_scoring_tags(uri, source, honesty.in_sample(wrapper.meta, date_ts)),
        ) as run:
            run.log_metrics({**_summary_metrics(summary), "runtime_seconds": plan.runtime_seconds})
            bar.step("publishing plan")
            warnings += _publish(target, plan, instance, summary, fc, ds, dates.fmt(date_ts))
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
        outputs={"plan_dir": str(target), "instance": str(target / "instance")},
        warnings=warnings,
        extra={"summary": summary},
        text=_allocate_text(target, summary, counts),
    )


def _scoring_tags(uri: str, source: dict[str, str | None], in_sample: bool) -> dict[str, str]:
    """A forecast's or plan's run tags: the model it used, and whether that model was trained past the
    run's date (IN-SAMPLE), which ``runs list`` and ``runs compare`` read as they read evaluate's."""
    return {**tags.model_tags(uri, source), tags.TAG_IN_SAMPLE: str(in_sample).lower()}


@contextlib.contextmanager
def _night(target: Path, date: str, *, progress: bool) -> Iterator[Any]:
    """The night's lock (``plans/.DATE.lock``) and progress stages, once ``target`` may be replaced:
    a plan directory holding anything else is refused before the night's work, not at its end.

    A night that fails leaves no ``plans/`` it created for its lock (a wrong alias or an unreachable
    server would leave an empty one, which looks like a night that published nothing)."""
    plans = target.parent
    made = not plans.exists()
    try:
        with dir_lock(target, command=f"anticipate allocate --date {date}", fix=plans_dir_fix(plans)), stages(
            5, enabled=progress, description="allocate"
        ) as bar:
            check_publishable(target, plan_output(plans))
            yield bar
    except BaseException:
        if made:
            with contextlib.suppress(OSError):  # not empty: another night's lock or plan is in it
                plans.rmdir()
        raise


def gate_lines(ds: DataSet, date: pd.Timestamp, horizon_days: int, windows: int) -> pd.DataFrame | None:
    """The recent lines the gates read, from ``orders.parquet``, when ``ds.orders`` holds only ``order_ts``.

    On the Dask path the workers read the orders and the client loads just their times; the
    gates' window (a few horizons) is read here so that no gate goes unchecked. None when
    ``ds.orders`` already has the columns or less than one horizon of orders precedes ``date``.
    """
    if set(RECENT_COLUMNS) <= set(ds.orders.columns):
        return None
    window = recent_window(ds.orders["order_ts"], date, horizon_days=horizon_days, windows=windows)
    if window is None:  # too little history: gate 0 refuses the plan before these lines are read
        return None
    start, end = window
    lines = read_parquet_checked(Path(ds.path) / "orders.parquet", columns=RECENT_COLUMNS,
                                 filters=[("order_ts", ">=", start), ("order_ts", "<", end)])
    check_unchanged(ds)  # these lines, and the workers' partitions read before, are of the data loaded
    return lines


def _solve(instance: Any, settings: Settings, lp_bound: bool) -> Any:
    from anticipate.allocation import solve_configured

    return solve_configured(instance, settings.cfg.allocate, lp_bound=lp_bound)


def _summary(
    plan: Any, ds: DataSet, model: dict[str, str | None], fc: ForecastOutput, cfg: Any, rests_on: list[str]
) -> dict[str, Any]:
    """``summary.json``: the plan's summary, its inputs' digests and forecast, the model (``model``: its
    ``model_uri``, ``model_version``, ``model_run_id``), where the centre is, a
    ``warning`` when the plan is not certified within ``allocate.gap_tolerance`` or empty, and
    ``input_warnings`` (``rests_on``: staleness, model, ingest) when there are any: published in the
    file itself, not only on stderr."""
    from anticipate.allocation import plan_summary
    from anticipate.demand.network import centre_summary

    # the digests of the bytes loaded (DataSet.files), not of the files there now: an ingest may have
    # published new data since, which this plan was not built from
    summary = plan_summary(plan, dict(ds.files), cfg.allocate.gap_tolerance)
    summary.update(
        {
            **model,
            "cutoff": dates.fmt(fc.cutoff),
            "horizon_days": fc.horizon_days,
            "forecast_units": round(float(fc.table["mu"].sum()), 6),
            "centre": centre_summary(ds.warehouses, cfg.network, fc.region_map),
        }
    )
    # the solver's runtime goes to the MLflow run and --json (metric runtime_seconds), not into
    # summary.json, so that re-running a night with the same inputs gives the same bytes
    summary.pop("runtime_seconds", None)
    if rests_on:
        summary["input_warnings"] = list(rests_on)
    return summary


def _history_gate(settings: Settings, ds: DataSet, wrapper: Any, date: pd.Timestamp, target: Path) -> None:
    """The plan's gate 0 (:func:`~anticipate.demand.gates.check_history`) before the forecast, not after the
    solve: a date before the first order came to the forecast's "no candidate pairs" first, which named no
    date to plan from (audit33B C2); the gate names the first one."""
    horizon, order_ts = spec_of(wrapper).horizon, ds.orders["order_ts"]
    windows = settings.cfg.forecast.new_demand_windows
    window = recent_window(order_ts, date, horizon_days=horizon, windows=windows)
    check_history(window, order_ts, date, horizon, target)


def _rests_on(settings: Settings, ds: DataSet, wrapper: Any, date: pd.Timestamp, uri: str) -> list[str]:
    """The warnings about what a plan at ``date`` rests on: a model trained past ``date`` (it has seen the
    plan's future), SKUs without a category at the model's category level (or exit 2 when none has
    one), the model against the config and the date, the last ingest's warnings, and a ``date`` that
    has not begun in UTC when the night started."""
    seen = honesty.in_sample_warning(wrapper.meta, date, uri=uri, what="this plan is", name="plan date",
                                     option="--date")
    items = ([seen] if seen else []) + item_warnings(ds, spec_of(wrapper).item_level)
    return (items + model_warnings(wrapper, settings.cfg, date, ds) + _ingest_warnings(ds.path)
            + dates.future_cutoff_warnings(date, now=settings.started_at, order_ts=ds.orders["order_ts"]))


def _ingest_warnings(data_dir: Path) -> list[str]:
    """The last ingest's warnings (``ingest_report.json``), which a plan on this data rests on: a
    defaulted ``unit_volume`` or ``quantity``, orders without a region, ...; none without a report."""
    import json

    try:
        doc = json.loads((Path(data_dir) / "ingest_report.json").read_text())
    except (OSError, ValueError):
        return []
    found = doc.get("warnings", []) if isinstance(doc, dict) else []
    return [f"the last ingest of {data_dir} warned: {w}" for w in found if isinstance(w, str)]


def _summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    keys = ("objective", "bound", "gap", "lp_bound", "units", "forecast_units")
    return {k: float(summary[k]) for k in keys if isinstance(summary.get(k), int | float)}


def _publish(
    target: Path, plan: Any, instance: Any, summary: dict[str, Any], fc: ForecastOutput, ds: DataSet,
    date: str,
) -> list[str]:
    """Stage the night's files, the solved instance among them (``instance/``), and publish them at once;
    a warning naming each copy of a previous plan left beside it (one that could not be deleted).

    ``summary`` gets ``instance_digests`` (SHA-256 of each ``instance/`` file as published), by which
    ``solve --instance`` tells an edited instance from the night's."""
    import matplotlib.pyplot as plt

    from anticipate.allocation import write_instance
    from anticipate.plots.plan import allocation_map

    with staging_dir(target, plan_output(target.parent), locked=True) as stage:  # run_allocate holds it
        write_parquet(plan.units, stage / "plan.parquet")
        paths = write_instance(instance, stage / "instance")
        summary["instance_digests"] = {p.name: file_digest(p) for p in sorted(paths.values())}
        write_csv(planner_table(plan.units, fc.table, ds.products), stage / "plan.csv")
        write_parquet(fc.table, stage / "forecast.parquet")
        write_json(summary, stage / "summary.json")
        fig = allocation_map(ds.warehouses, plan.units, plan.capacity_used, regions=ds.regions,
                             forecast=fc.table, region_map=fc.region_map, products=ds.products, date=date,
                             horizon_days=fc.horizon_days)
        fig.savefig(stage / "allocation.png", dpi=110, metadata={"Software": None})
        plt.close(fig)
    return [f"{target} is published, but a previous plan set aside as {old} could not be deleted (owned by "
            "another user, or not writable): delete it by hand; it takes space and would be put back if "
            f"{target} went missing" for old in leftovers(target)]


def _allocate_text(target: Path, summary: dict[str, Any], counts: dict[str, int]) -> str:
    gap = summary.get("gap")
    return (
        f"plan {target}: {counts['units']:,} units in {counts['cells']:,} warehouse x SKU cells; "
        f"objective {amount_text(summary.get('objective', 0))}, "
        f"bound {amount_text(summary.get('bound', 0))}, gap {gap:.2e}"
        if isinstance(gap, float)
        else f"plan {target}"
    )
