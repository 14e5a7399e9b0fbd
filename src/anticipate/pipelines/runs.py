"""``runs list`` and ``runs compare``: reading MLflow runs back for engineers.

``compare`` shows only the params that differ, the metrics side by side with the
delta to the first run and which run is better (by each metric's direction), warns
when the runs saw different data or cutoffs, and writes one PNG overlaying the runs'
calibration and lift curves (from their ``curves.json`` artifacts).
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
DIGEST_TAGS = ("anticipate.data_digest", "anticipate.cutoff")


def higher_is_better(metric: str) -> bool | None:
    """Direction of a metric by its last dotted part (``baseline_rf.auc`` -> auc); None if unknown."""
    from anticipate.metrics import HIGHER_IS_BETTER

    return HIGHER_IS_BETTER.get(metric.rsplit(".", 1)[-1])


def build_filter(command: str | None, since: str | None, extra: str | None) -> str:
    """An MLflow search filter from ``--command``, ``--since`` (YYYY-MM-DD) and ``--filter``."""
    from anticipate.dates import parse_date

    clauses = []
    if command:
        clauses.append(f"tags.`anticipate.command` = '{command}'")
    if since:
        start = parse_date(since, name="--since").to_pydatetime().replace(tzinfo=dt.UTC)
        clauses.append(f"attributes.start_time >= {int(start.timestamp() * 1000)}")
    if extra:
        clauses.append(f"({extra})" if " or " in extra.lower() else extra)
    return " and ".join(clauses)


def run_runs_list(
    settings: Settings,
    *,
    command: str | None = None,
    since: str | None = None,
    filter_string: str | None = None,
    limit: int = 20,
    all_experiments: bool = False,
) -> Result:
    """The recent runs, newest first: command, cutoff, status, duration, headline metrics."""
    from anticipate.tracking import RunReader

    reader = RunReader(open_tracker(settings))
    runs = reader.search(
        build_filter(command, since, filter_string), all_experiments=all_experiments, max_results=limit
    )
    rows = [_list_row(r) for r in runs]
    return Result(
        command="runs list", counts={"runs": len(rows)}, text=_list_text(rows), extra={"runs": rows}
    )


def _list_row(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "command": run.command,
        "cutoff": run.tags.get("anticipate.cutoff", ""),
        "status": run.status,
        "started": dt.datetime.fromtimestamp(run.start_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "duration_s": None if run.duration_s is None else round(run.duration_s, 1),
        "metrics": {k: run.metrics[k] for k in HEADLINE_METRICS if k in run.metrics},
    }


def _list_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs match; run 'anticipate train' first or loosen the filters"
    lines = [f"{'run_id':32}  {'command':10} {'cutoff':10} {'status':8} {'started':16} {'secs':>7}  metrics"]
    for r in rows:
        secs = "" if r["duration_s"] is None else f"{r['duration_s']:.1f}"
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in r["metrics"].items())
        lines.append(
            f"{r['run_id']:32}  {r['command']:10} {r['cutoff']:10} {r['status']:8} {r['started']:16} "
            f"{secs:>7}  {metrics}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- compare
def differing_params(runs: list[Any]) -> dict[str, list[str | None]]:
    """Params whose values are not the same in every run (missing counts as a value)."""
    keys = sorted(set().union(*(r.params for r in runs)))
    out = {}
    for key in keys:
        values = [r.params.get(key) for r in runs]
        if len(set(values)) > 1:
            out[key] = values
    return out


def compare_metrics(runs: list[Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Shared metrics side by side: values, delta to the first run, index of the best run.

    Returns the table and the metrics left out because not every run has them.
    """
    shared = sorted(set.intersection(*(set(r.metrics) for r in runs)))
    union = sorted(set().union(*(r.metrics for r in runs)))
    table: dict[str, dict[str, Any]] = {}
    for name in shared:
        values = [float(r.metrics[name]) for r in runs]
        direction = higher_is_better(name)
        best = None
        if direction is not None and len(set(values)) > 1:
            best = max(range(len(values)), key=lambda i: values[i] if direction else -values[i])
        table[name] = {
            "values": values,
            "delta": [v - values[0] for v in values],
            "higher_is_better": direction,
            "best": best,
        }
    return table, [m for m in union if m not in shared]


def data_warnings(runs: list[Any]) -> list[str]:
    """Warnings when the runs used different data digests, cutoffs or commands."""
    warnings = []
    for tag in DIGEST_TAGS:
        values = {r.tags.get(tag) for r in runs}
        if len(values) > 1:
            what = "data" if tag.endswith("digest") else "cutoffs"
            warnings.append(
                f"the runs used different {what} ({tag}: "
                f"{', '.join(sorted(str(v)[:12] for v in values))}); their metrics are not like for like"
            )
    commands = {r.command for r in runs}
    if len(commands) > 1:
        warnings.append(
            f"the runs come from different commands ({', '.join(sorted(commands))}); "
            "only the metrics they share are compared"
        )
    return warnings


def run_runs_compare(settings: Settings, *, run_ids: list[str], out: Path | None = None) -> Result:
    """Compare two or more runs: differing params, metrics with deltas and winners, one overlay PNG."""
    from anticipate.tracking import RunReader

    if len(run_ids) < 2:
        raise UsageError(
            "runs compare needs at least two run ids, e.g. 'anticipate runs compare RUN_A RUN_B'"
        )
    reader = RunReader(open_tracker(settings))
    runs = [reader.get(r) for r in run_ids]
    params = differing_params(runs)
    table, left_out = compare_metrics(runs)
    warnings = data_warnings(runs)
    if left_out:
        warnings.append(
            f"{len(left_out)} metrics are not in every run and are left out: "
            f"{', '.join(left_out[:8])}{' ...' if len(left_out) > 8 else ''}"
        )
    outputs = {}
    if out is not None:
        curves = {r.run_id[:8]: reader.load_json_artifact(r.run_id, "curves.json") for r in runs}
        outputs["figure"] = str(_write_overlay(curves, out))
    wins = _wins(table, len(runs))
    text = _compare_text(runs, params, table, wins)
    return Result(
        command="runs compare",
        counts={"runs": len(runs), "differing_params": len(params), "shared_metrics": len(table)},
        outputs=outputs,
        text=text,
        warnings=warnings,
        extra={"params": params, "comparison": table, "wins": wins},
    )


def _wins(table: dict[str, dict[str, Any]], n: int) -> list[int]:
    wins = [0] * n
    for row in table.values():
        if row["best"] is not None:
            wins[row["best"]] += 1
    return wins


def _compare_text(
    runs: list[Any], params: dict[str, list[Any]], table: dict[str, dict[str, Any]], wins: list[int]
) -> str:
    ids = [r.run_id[:8] for r in runs]
    head = f"{'':34}" + "".join(f"{i:>14}" for i in ids)
    lines = [
        f"runs: {', '.join(f'{i} ({r.command})' for i, r in zip(ids, runs, strict=True))}",
        "",
        "params that differ:" if params else "params: identical",
    ]
    lines += [f"  {k:32}" + "".join(f"{str(v)[:13]:>14}" for v in vals) for k, vals in params.items()]
    lines += ["", "metrics (delta to the first run; * = better):", head]
    for name, row in table.items():
        cells = []
        for i, (v, d) in enumerate(zip(row["values"], row["delta"], strict=True)):
            mark = "*" if row["best"] == i else " "
            cells.append(f"{v:>9.4g}{'' if i == 0 else f'({d:+.3g})':>0}{mark}".rjust(14))
        lines.append(f"  {name:32}" + "".join(cells))
    best = max(range(len(wins)), key=lambda i: wins[i])
    lines += [
        "",
        f"wins: {', '.join(f'{i}={w}' for i, w in zip(ids, wins, strict=True))}; "
        f"run {ids[best]} is better on the most metrics",
    ]
    return "\n".join(lines)


def _write_overlay(curves: dict[str, dict[str, Any] | None], out: Path) -> Path:
    from anticipate.io import atomic_path
    from anticipate.plots.compare import overlay_curves

    fig = overlay_curves(curves)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out
