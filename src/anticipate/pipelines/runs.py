"""``runs list`` and ``runs compare``: reading MLflow runs back for engineers.

``list`` shows each run's duration from its start to its end time. ``compare``
shows only the params that differ and the model's own metrics side by side (not the
baselines' or the oracle's), with the delta to the first run and which run is
better by each metric's direction; ties have no winner. Runs that are not like for like
(:func:`anticipate.tracking.compare.unlike_reasons`: different data, cutoffs, prediction task,
economics, a parent and its child, or scored in sample) get the table and the warnings but no
winner, and the output says why. It can write one PNG
overlaying the runs' calibration and lift curves (from their ``curves.json`` artifacts). Run
ids may be given as any unique prefix, such as the 8 characters ``runs list`` prints.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from anticipate.errors import UsageError
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import open_tracker

HEADLINE_METRICS = (
    "auc",
    "logloss",
    "ece",
    "val.auc",
    "gap",
    "objective",
    "value_captured",
    "wape",
    "coverage_80",
)

#: What ``runs list`` prints after the metrics of a run scored in sample (``evaluate --in-sample``).
IN_SAMPLE_MARK = "[in-sample: not a test score]"


def build_filters(command: str | None, since: str | None, extra: str | None) -> list[str]:
    """The MLflow search filters of ``runs list``, one per command of ``--command`` (one of
    ``tags.TRACKED_COMMANDS`` or a comma-separated list of them, else exit 2; MLflow's filters have no
    ``or``), each with ``--since`` (YYYY-MM-DD) and ``--filter``."""
    from anticipate.dates import parse_date
    from anticipate.tracking import tags

    commands: list[str | None] = list(tags.parse_commands(command)) if command is not None else [None]
    start_ms = None
    if since:
        start = parse_date(since, name="--since").to_pydatetime().replace(tzinfo=dt.UTC)
        start_ms = int(start.timestamp() * 1000)
    return [
        tags.all_of(
            tags.command_is(name) if name else None,
            tags.started_since(start_ms) if start_ms is not None else None,
            extra,
        )
        for name in commands
    ]


def run_runs_list(
    settings: Settings,
    *,
    command: str | None = None,
    since: str | None = None,
    filter_string: str | None = None,
    limit: int = 20,
    all_experiments: bool = False,
) -> Result:
    """The recent runs, newest first: command, cutoff, status, duration (s), headline metrics, and
    :data:`IN_SAMPLE_MARK` (``in_sample`` in the JSON) on a run scored in sample.

    ``command``: one command or several separated by commas (``train,evaluate``): the newest ``limit``
    runs of any of them (one search per command, merged by start time).
    """
    from anticipate.tracking import RunReader
    from anticipate.tracking.store import new_store_warning, require_store

    filters = build_filters(command, since, filter_string)  # a mistyped command: exit 2 before the store
    require_store(settings.tracking_uri)
    created = new_store_warning(settings.tracking_uri)
    reader = RunReader(open_tracker(settings, writes=False))
    runs = [r for f in filters for r in reader.search(f, all_experiments=all_experiments, max_results=limit)]
    if len(filters) > 1:  # each search is newest first; merged, the newest of all (stable: ties keep order)
        runs = sorted(runs, key=lambda r: -r.start_ms)[:limit]
    rows = [_list_row(r) for r in runs]
    return Result(
        command="runs list", counts={"runs": len(rows)}, text=_list_text(rows), extra={"runs": rows},
        warnings=[created] if created else [],
    )


def _list_row(run: Any) -> dict[str, Any]:
    """One run of ``runs list``; ``in_sample``: scored by ``evaluate --in-sample`` at a cutoff its model
    saw, so its metrics are not test scores (they were listed unmarked beside test scores: audit28 f13)."""
    from anticipate.tracking.tags import TAG_CUTOFF, TAG_IN_SAMPLE

    return {
        "run_id": run.run_id,
        "command": run.command,
        "cutoff": run.tags.get(TAG_CUTOFF, ""),
        "status": run.status,
        "started": dt.datetime.fromtimestamp(run.start_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "duration_s": None if run.duration_s is None else round(run.duration_s, 1),
        "metrics": {k: run.metrics[k] for k in HEADLINE_METRICS if k in run.metrics},
        "in_sample": run.tags.get(TAG_IN_SAMPLE) == "true",
    }


def _list_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs match; run 'anticipate train' first or loosen the filters"
    lines = [f"{'run_id':32}  {'command':10} {'cutoff':10} {'status':8} {'started':16} {'secs':>7}  metrics"]
    for r in rows:
        secs = "" if r["duration_s"] is None else f"{r['duration_s']:.1f}"
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in r["metrics"].items())
        metrics += f"  {IN_SAMPLE_MARK}" if r["in_sample"] else ""
        lines.append(
            f"{r['run_id']:32}  {r['command']:10} {r['cutoff']:10} {r['status']:8} {r['started']:16} "
            f"{secs:>7}  {metrics}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- compare
def run_runs_compare(
    settings: Settings, *, run_ids: list[str], out: Path | None = None, decide_by: str | None = None
) -> Result:
    """Compare two or more runs (ids or unique prefixes): differing params, model metrics, winner.

    ``decide_by`` names the metric that decides the winner (a sweep's metric);
    without it the run better on the most metrics wins, and a tie has no winner. Runs that
    are not like for like have no winner either; ``no_winner`` in the JSON says why.
    """
    from anticipate.tracking import RunReader
    from anticipate.tracking.compare import compare_runs, comparison_text, no_winner

    if len(run_ids) < 2:
        raise UsageError(
            "runs compare needs at least two run ids, e.g. 'anticipate runs compare RUN_A RUN_B'"
        )
    from anticipate.tracking.store import require_store

    require_store(settings.tracking_uri)
    reader = RunReader(open_tracker(settings, writes=False))
    runs = [reader.get(r) for r in run_ids]
    if len({r.run_id for r in runs}) < len(runs):
        raise UsageError(f"runs compare got the same run twice ({', '.join(run_ids)}); name different runs")
    c = compare_runs(runs, decide_by=decide_by)
    outputs = {}
    if out is not None:
        curves = {r.run_id[:8]: reader.load_json_artifact(r.run_id, "curves.json") for r in runs}
        outputs["figure"] = str(_write_overlay(curves, out))
    return Result(
        command="runs compare",
        counts={"runs": len(runs), "differing_params": len(c.params), "shared_metrics": len(c.table)},
        outputs=outputs,
        text=comparison_text(c),
        warnings=c.warnings,
        extra={
            "run_ids": [r.run_id for r in runs],
            "params": c.params,
            "comparison": c.table,
            "wins": c.wins,
            "winner": None if c.verdict is None else runs[c.verdict].run_id,
            "no_winner": no_winner(c),  # why winner is null (not like for like, a tie); null with a winner
        },
    )


def _write_overlay(curves: dict[str, dict[str, Any] | None], out: Path) -> Path:
    from anticipate.plots.compare import overlay_curves
    from anticipate.storage.files import atomic_path

    fig = overlay_curves(curves)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out
