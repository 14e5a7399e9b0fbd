"""``solve``: re-solve a standalone allocation instance (what-ifs, checks against other solvers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from anticipate.cli._core import command_body, global_options, main


@main.command("solve")
@click.option("--instance", "instance_dir", type=click.Path(path_type=Path), required=True,
              help="Directory with warehouses, skus and cells (.parquet or .csv).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Directory to publish the plan in.")
@click.option("--lp-bound", is_flag=True,
              help="Also compute the exact HiGHS LP bound above allocate.lp_bound_max_cells cells.")
@global_options
@command_body("solve")
def solve_cmd(settings_factory: Any, instance_dir: Path, out: Path, lp_bound: bool) -> Any:
    """Solve an allocation instance: plan.parquet, plan.csv and summary.json (objective, bound, gap).

    Instance files: warehouses (warehouse_id, capacity), skus (sku, unit_volume, supply,
    g, h), cells (warehouse_id, sku, mu, var, move_cost), each .parquet or .csv (not both;
    other files there are ignored). A CSV saved by a spreadsheet is read with a warning (';'
    or tabs between fields, empty rows at the end) or refused naming file, row and column.
    Solved as allocate solves: up to allocate.lp_bound_max_cells cells, with the HiGHS LP
    bound and integer polish. A night's plans/DATE/instance/ solved with the night's --config
    gives the night's plan; for a what-if, edit a copy (a capacity in warehouses.csv, a
    supply in skus.csv) and solve that.

    \b
    Examples:
      cp -r plans/2025-12-31/instance what-if   # then edit what-if/warehouses.csv
      anticipate solve --instance what-if/ --out what-if/plan
      anticipate solve --instance small/ --out small/plan --lp-bound --json
    """
    from anticipate.pipelines.solve import run_solve

    return run_solve(settings_factory(), instance_dir=instance_dir, out=out, lp_bound=lp_bound)
