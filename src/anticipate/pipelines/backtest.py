"""``backtest``: for each cutoff, forecast and allocate, then replay the real orders.

Per cutoff the model is trained on the history before it (or ``--model`` is used as
is), its plan is compared with the zero, naive and oracle plans allocated under the
same constraints, and the forecast and pair metrics are computed
(:mod:`anticipate.backtest`). One MLflow parent run, one child per cutoff; outputs in
``backtest.out_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from anticipate import dates
from anticipate.backtest import report
from anticipate.backtest.context import Context, build_context, run_cutoff
from anticipate.backtest.cutoffs import (
    check_cutoffs,
    check_new_demand_history,
    check_trainable,
    parse_cutoffs,
)
from anticipate.backtest.step import CutoffOutcome
from anticipate.demand.inputs import require_reference_tables
from anticipate.models.honesty import check_backtest_model
from anticipate.models.scoring import as_trained, data_warnings, spec_of, spec_warnings
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import item_warnings, load_data, open_tracker, order_id_warnings
from anticipate.progress import track
from anticipate.storage.files import write_json, write_parquet
from anticipate.storage.publish import DirOutput, check_publishable, staging_dir
from anticipate.tracking import tags

FIGURES = ("value_captured.png", "interval_reliability.png", "fill_rate_by_warehouse.png")
#: What ``backtest --out`` holds; an existing --out holding anything else is refused.
BACKTEST_OUTPUT = DirOutput("backtest", frozenset({"backtest.parquet", "summary.json", *FIGURES}))


def _write_outputs(
    out: Path, table: pd.DataFrame, cells: pd.DataFrame, by_wh: pd.DataFrame, summary: dict[str, Any]
) -> dict[str, str]:
    """Write ``backtest.parquet``, ``summary.json`` and the figures into ``out`` (staged, then renamed)."""
    import matplotlib.pyplot as plt

    from anticipate.plots.plan import fill_rate_by_warehouse, interval_reliability, value_captured_per_cutoff

    figures = dict(zip(FIGURES, (
        value_captured_per_cutoff(table[table["plan"].isin(["model", "naive", "truth", "oracle"])]),
        interval_reliability(report.reliability(cells)),
        fill_rate_by_warehouse(report.fill_by_warehouse(by_wh)),
    ), strict=True))
    with staging_dir(out, BACKTEST_OUTPUT) as stage:
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


def _run_cutoffs(
    ctx: Context, cut_list: list[pd.Timestamp], tracker: Any, parent_id: str, *, progress: bool, digest: str
) -> list[CutoffOutcome]:
    """Backtest each cutoff in turn, logging its metrics to a child run of ``parent_id`` tagged with the
    data's ``digest`` (without it a child compared with its parent was said to use other data)."""
    outcomes = []
    for cutoff in track(cut_list, total=len(cut_list), enabled=progress, description="backtest"):
        outcome = run_cutoff(ctx, cutoff)
        with tracker.run(
            "backtest-cutoff",
            cutoff=dates.fmt(cutoff),
            parent_run_id=parent_id,
            run_name=f"backtest {dates.fmt(cutoff)}",
            extra_tags={tags.TAG_DIGEST: digest},
        ) as child:
            child.log_metrics(outcome.metrics)
        outcomes.append(outcome)
    return outcomes


def _model_and_checks(
    settings: Settings, ds: Any, model: str | None, cut_list: list[pd.Timestamp]
) -> tuple[Any | None, dict[str, str], int, list[str]]:
    """``--model`` loaded (or None: a model trained at each cutoff), the run tags naming it (its URI,
    registry version and train run id; none without --model), the horizon (days) and the warnings; exit 2
    for cutoffs the model saw, horizons outside the data or without orders, and a first cutoff with no
    room for 2 training windows."""
    from anticipate.pipelines._common import load_with_source

    wrapper, uri, source = (load_with_source(settings, model, default_alias=None) if model
                            else (None, "", {}))
    if wrapper is not None:
        check_backtest_model(wrapper.meta, cut_list, uri=uri)
    horizon = spec_of(wrapper).horizon if wrapper else settings.cfg.time.horizon_days
    level = spec_of(wrapper).item_level if wrapper else settings.cfg.model.item_level
    items = item_warnings(ds, level) + order_id_warnings(ds.path)  # or exit 2: no SKU has a category
    origin = f"the model {uri}, trained for it" if wrapper else "the config key time.horizon_days"
    warnings = items + check_cutoffs(cut_list, ds, horizon, horizon_from=origin)
    end = max(cut_list) + pd.Timedelta(days=horizon)
    warnings += dates.partial_day_warnings(ds.orders["order_ts"], until=end)
    warnings += dates.detached_warnings(ds.orders["order_ts"], max(cut_list))
    if wrapper is None:
        check_trainable(cut_list, ds.orders["order_ts"], horizon)
    check_new_demand_history(cut_list, ds.orders["order_ts"], horizon)  # a --model's cutoff may be early
    if wrapper is not None:  # the model fixes horizon, item level and features: where the config differs
        warnings += data_warnings(wrapper.meta, ds) + spec_warnings(wrapper, settings.cfg)
    return wrapper, tags.model_tags(uri, source) if wrapper else {}, horizon, warnings


def _model_keys(model_tags: dict[str, str]) -> dict[str, str | None]:
    """``summary.json``'s ``model`` (the ``--model`` URI, or "trained at each cutoff") and, with --model,
    ``model_version`` and ``model_run_id`` it resolved to (None where unknown), as a plan's summary."""
    if not model_tags:
        return {"model": "trained at each cutoff"}
    return {"model": model_tags[tags.TAG_MODEL_URI], "model_version": model_tags.get(tags.TAG_MODEL_VERSION),
            "model_run_id": model_tags.get(tags.TAG_MODEL_RUN)}


def run_backtest(
    settings: Settings,
    *,
    cutoffs: str | None,
    start: str | None,
    end: str | None,
    every: str | None,
    model: str | None,
    out: Path | None,
) -> Result:
    """Backtest every cutoff; write the table and figures; log a parent run with a child per cutoff."""
    cut_list, warnings = parse_cutoffs(cutoffs, start, end, every)
    first, last = dates.fmt(cut_list[0]), dates.fmt(cut_list[-1])
    out = Path(out) if out else Path(settings.cfg.backtest.out_dir) / f"{first}_{last}"
    check_publishable(out, BACKTEST_OUTPUT)  # before hours of work, not at the end
    ds = load_data(settings)
    require_reference_tables(ds, "backtest")
    wrapper, model_tags, horizon, checked = _model_and_checks(settings, ds, model, cut_list)
    warnings += checked
    for w in warnings:  # said before the cutoffs' hours of work, and not again at the end
        settings.warn_now(w)
    ctx = build_context(settings.cfg, ds, wrapper)
    tracker = open_tracker(settings)
    every_cutoff = tags.cutoffs_value([dates.fmt(c) for c in cut_list])  # runs compare reads all, not `first`
    # with --model, the task the model fixes (its horizon, lookback, item level), not the config's
    cfg = as_trained(settings.cfg, wrapper) if wrapper else settings.cfg
    with tracker.run(
        "backtest", cfg=cfg, cutoff=first, data_digest=ds.digest, data_source=str(ds.path),
        extra_tags={tags.TAG_CUTOFFS: every_cutoff, **model_tags},
    ) as parent:
        outcomes = _run_cutoffs(ctx, cut_list, tracker, parent.run_id, progress=settings.progress,
                                digest=ds.digest)
        warnings += [w for o in outcomes for w in o.warnings]
        by_cutoff = {dates.fmt(c): o.metrics for c, o in zip(cut_list, outcomes, strict=True)}
        overall = report.overall(list(by_cutoff.values()))
        finite = {c: {k: report.finite(v) for k, v in m.items()} for c, m in by_cutoff.items()}
        summary = {"cutoffs": list(by_cutoff), "horizon_days": horizon, "item_level": cfg.model.item_level,
                   **_model_keys(model_tags), "overall": overall, "per_cutoff": finite,
                   **({"warnings": warnings} if warnings else {})}
        outputs = _write_outputs(
            out,
            pd.DataFrame([row for o in outcomes for row in o.rows]),
            pd.concat([o.cells for o in outcomes]),
            pd.concat([o.by_warehouse for o in outcomes]),
            summary,
        )
        parent.log_metrics(overall)
        parent.log_artifact(out, "backtest")
    return Result(
        command="backtest",
        run_id=parent.run_id,
        metrics=overall,
        counts={"cutoffs": len(cut_list)},
        outputs=outputs,
        warnings=warnings,
        text=report.text(by_cutoff, overall),
        extra={"per_cutoff": finite},
    )
