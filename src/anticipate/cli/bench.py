"""The engineer's bench: ``runs list``, ``runs compare``, ``experiment run`` and ``ui``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from anticipate.cli._core import command_body, global_options, main


@main.group("runs")
def runs_group() -> None:
    """Read MLflow runs back: list recent runs, compare runs side by side.

    \b
    Examples:
      anticipate runs list --command allocate
      anticipate runs compare RUN_A RUN_B --out compare.png
    """


@runs_group.command("list")
@click.option("--command", "command_name", default=None,
              help="Only runs of this command: train, evaluate, forecast, allocate, backtest, "
                   "backtest-cutoff, experiment or experiment-child; several separated by commas "
                   "(train,evaluate).")
@click.option("--since", default=None, help="Only runs started on or after this date (YYYY-MM-DD).")
@click.option("--filter", "filter_string", default=None,
              help="An MLflow search filter, e.g. \"metrics.auc > 0.8\".")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many runs at most.")
@click.option("--all-experiments", is_flag=True,
              help="Search every experiment, not only tracking.experiment.")
@global_options
@command_body("runs list")
def runs_list_cmd(settings_factory: Any, command_name: str | None, since: str | None,
                  filter_string: str | None, limit: int, all_experiments: bool) -> Any:
    """List recent runs, newest first: command, cutoff, status, duration, headline metrics.

    A run scored by evaluate --in-sample is marked "[in-sample: not a test score]"
    ("in_sample": true in --json).

    \b
    Examples:
      anticipate runs list
      anticipate runs list --command train --since 2025-11-01
      anticipate runs list --command train,evaluate
      anticipate runs list --filter "metrics.auc > 0.8" --json
    """
    from anticipate.pipelines.runs import run_runs_list

    return run_runs_list(settings_factory(), command=command_name, since=since, filter_string=filter_string,
                         limit=limit, all_experiments=all_experiments)


@runs_group.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Write a PNG overlaying the runs' calibration and gain curves here.")
@global_options
@command_body("runs compare")
def runs_compare_cmd(settings_factory: Any, run_ids: tuple[str, ...], out: Path | None) -> Any:
    """Compare runs: params that differ, metrics side by side with deltas and the winner.

    Warns when the runs used different data or cutoffs (a backtest's every cutoff),
    predict different things (model.item_level, time.horizon_days, time.lookback_days),
    value their plans in other money (allocate, backtest: economics.*, network.*; allocate
    also forecast.* and the model), are a run and its own child, scored in sample, or
    come from different commands. Runs that are not like for like get the table but no
    winner (--json: winner null, no_winner the reason).

    \b
    Examples:
      anticipate runs compare 1f2e3d4c 9a8b7c6d
      anticipate runs compare RUN_A RUN_B RUN_C --out compare.png
    """
    from anticipate.pipelines.runs import run_runs_compare

    return run_runs_compare(settings_factory(), run_ids=list(run_ids), out=out)


@main.group("experiment")
def experiment_group() -> None:
    """Sweeps over config keys as MLflow parent and child runs.

    \b
    Examples:
      anticipate experiment run experiments/feature_ablation.yaml
      anticipate experiment run experiments/horizon_sweep.yaml --json
    """


@experiment_group.command("run")
@click.argument("spec", type=click.Path(path_type=Path))
@global_options
@command_body("experiment run")
def experiment_run_cmd(settings_factory: Any, spec: Path) -> Any:
    """Run (or resume) a sweep described in YAML: a grid or a seeded random search.

    Children already FINISHED with the same params are skipped, so an interrupted
    sweep resumes where it stopped. Ends with the best child compared to the base: chosen
    on the file's metric over each child's validation window (val.auc for metric: auc) and
    reported with its test score at the evaluation cutoff (select_on: test chooses on the
    test score, with a warning that it is then a selection score). A grid may vary only
    time.*, features.* and model.* keys: every child runs on --data, so any other key
    (data.dir, forecast.*, economics.*, ...) exits 2. A sweep over time.horizon_days,
    time.lookback_days or model.item_level scores each child on other pairs: it shows
    every child's scores and names no best child, saying why.

    \b
    Examples:
      anticipate experiment run experiments/horizon_sweep.yaml
      anticipate experiment run experiments/feature_ablation.yaml --json
    """
    from anticipate.pipelines.evaluate import run_evaluate
    from anticipate.pipelines.experiment import Steps, run_experiment
    from anticipate.pipelines.model import run_train

    steps = Steps(train=run_train, evaluate=run_evaluate)
    return run_experiment(settings_factory(), spec_path=spec, steps=steps)


@main.command("ui")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default, or 0: a free one).")
@global_options
@command_body("ui")
def ui_cmd(settings_factory: Any, port: int | None) -> Any:
    """Start the MLflow UI on the configured store and print its URL; Ctrl-C or SIGTERM stops it.

    \b
    Examples:
      anticipate ui
      anticipate ui --port 5000
    """
    from anticipate.pipelines.ui import run_ui

    return run_ui(settings_factory(), port=port,
                  on_ready=lambda url: click.echo(f"MLflow UI: {url}  (Ctrl-C to stop)", err=True))
