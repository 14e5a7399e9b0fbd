"""Planning commands: ``forecast``, ``allocate`` (the nightly plan) and ``backtest``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from anticipate.cli._core import command_body, global_options, main
from anticipate.cli.model import SCHEDULER_OPTION, dask_overrides

_MODEL_HELP = ("Model: a registry version, an alias (@production), a models:/ or runs:/ URI, or a "
               "local model directory (runs without the tracking server). Default: @production.")


@main.command("forecast")
@click.option("--model", default=None, help=_MODEL_HELP)
@click.option("--cutoff", default=None, help="Cutoff (YYYY-MM-DD); default: the day after the last order.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("forecast.parquet"), show_default=True,
              help="Output Parquet: warehouse_id, sku, mu, var.")
@SCHEDULER_OPTION
@global_options
@command_body("forecast")
def forecast_cmd(settings_factory: Any, model: str | None, cutoff: str | None, out: Path,
                 scheduler: str | None) -> Any:
    """Forecast demand per warehouse x SKU over the horizon: mean mu and variance var (units).

    Sums the candidates' expected units (model) and a new-demand component, mapped
    from each region to its nearest warehouse.

    \b
    Examples:
      anticipate forecast
      anticipate forecast --cutoff 2025-12-01 --out fc.parquet --json
    """
    from anticipate.pipelines.plan import run_forecast

    return run_forecast(settings_factory(dask_overrides(scheduler)), model=model, cutoff=cutoff, out=out)


@main.command("allocate")
@click.option("--date", "date", default=None,
              help="Plan date (YYYY-MM-DD), required; the plan goes to plans/DATE/.")
@click.option("--model", default=None, help=_MODEL_HELP)
@click.option("--lp-bound", is_flag=True, help="Also compute the exact HiGHS LP bound (small networks).")
@click.option("--allow-stale", is_flag=True,
              help="Plan even when the order data is older than allocate.max_staleness_days.")
@SCHEDULER_OPTION
@global_options
@command_body("allocate")
def allocate_cmd(settings_factory: Any, date: str | None, model: str | None, lp_bound: bool,
                 allow_stale: bool, scheduler: str | None) -> Any:
    """Nightly: forecast, pre-position stock into warehouses, publish plans/DATE/ atomically.

    Writes plan.parquet, plan.csv, summary.json (objective, bound, gap, capacity used),
    allocation.png and instance/, the instance it solved (warehouses.csv, skus.csv,
    cells.parquet): edit a copy and 'anticipate solve --instance' it for a what-if.
    plan.csv lists each cell's units beside the SKU's category and the expected demand
    (units over the horizon). A plan that fails a sanity gate (no
    demand maps to a warehouse, an empty forecast, 0 units although a warehouse has
    capacity and a cell of a SKU with central supply expects >= 1 unit, or a forecast
    total beyond allocate.max_forecast_ratio of recent orders) is not published and
    the previous plans/DATE/ stays. A second run for the same date exits 75 while the
    first holds the lock. Exit 2: bad input, stale data or a refused plan; exit 3: no
    model / tracking server down.

    \b
    Examples:
      anticipate allocate --date 2025-12-31
      anticipate allocate --date 2025-12-31 --model ./model-copy --tracking-uri sqlite:///mlflow.db
      anticipate allocate --date 2025-12-31 --json -q
    """
    from anticipate.errors import UsageError
    from anticipate.pipelines.plan import run_allocate

    if date is None:  # checked here, not by click, so that --json still prints its one error object
        raise UsageError("allocate needs --date YYYY-MM-DD, the night the plan is for "
                         "(in cron: --date $(date +%F)); the plan goes to plans/DATE/")
    return run_allocate(settings_factory(dask_overrides(scheduler)), date=date, model=model,
                        lp_bound=lp_bound, allow_stale=allow_stale)


@main.command("backtest")
@click.option("--cutoffs", default=None, help="Comma-separated cutoffs (YYYY-MM-DD,YYYY-MM-DD,...).")
@click.option("--from", "start", default=None, help="First cutoff of a range (YYYY-MM-DD).")
@click.option("--to", "end", default=None, help="Last cutoff of a range (YYYY-MM-DD).")
@click.option("--every", default=None, help="Step of the range, in days (e.g. 14d; default 7d).")
@click.option("--model", default=None,
              help="Use this model as is; it must have been trained before every cutoff (exit 2 otherwise). "
                   "Default: train on the history before each cutoff.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output directory (default: backtest.out_dir/<first>_<last>).")
@global_options
@command_body("backtest")
def backtest_cmd(settings_factory: Any, cutoffs: str | None, start: str | None, end: str | None,
                 every: str | None, model: str | None, out: Path | None) -> Any:
    """Replay the real orders after each cutoff against the plan; value captured vs zero, naive, oracle.

    \b
    Examples:
      anticipate backtest --cutoffs 2025-10-06,2025-10-13
      anticipate backtest --from 2025-10-01 --to 2025-12-01 --every 7d
      anticipate backtest --from 2025-10-01 --to 2025-10-29 --model @production --json
    """
    from anticipate.pipelines.backtest import run_backtest

    return run_backtest(settings_factory(), cutoffs=cutoffs, start=start, end=end, every=every,
                        model=model, out=out)
