"""``solve``: allocate a standalone instance directory and write the plan and its summary."""

from __future__ import annotations

from pathlib import Path

from anticipate.pipelines import Result, Settings
from anticipate.storage.files import file_digest, write_csv, write_json, write_parquet
from anticipate.storage.publish import DirOutput, check_publishable, staging_dir

#: What ``solve --out`` holds; an existing --out holding anything else is refused.
SOLVE_OUTPUT = DirOutput("solve", frozenset({"plan.parquet", "plan.csv", "summary.json"}))


def run_solve(settings: Settings, *, instance_dir: Path, out: Path, lp_bound: bool = False) -> Result:
    """Read ``warehouses``, ``skus``, ``cells`` from ``instance_dir``; publish plan files in ``out``.

    Solved as ``allocate`` solves (:func:`~anticipate.allocation.solve_configured`): it stops at
    ``allocate.gap_tolerance``, and a network of at most ``allocate.lp_bound_max_cells`` cells
    gets the HiGHS LP bound and integer polish. A standalone instance needs no data
    directory or tracking. An existing ``out`` holding anything but a previous plan is refused
    (:class:`~anticipate.errors.OutputError`, exit 2) before the instance is read.
    """
    from anticipate.allocation import plan_summary, read_instance, solve_configured

    check_publishable(out, SOLVE_OUTPUT)
    inst = read_instance(instance_dir)
    plan = solve_configured(inst, settings.cfg.allocate, lp_bound=lp_bound)
    digests = {
        p.name: file_digest(p)
        for p in sorted(Path(instance_dir).iterdir())
        if p.stem in {"warehouses", "skus", "cells"}
    }
    summary = plan_summary(plan, digests, settings.cfg.allocate.gap_tolerance)
    warning = summary.get("warning")
    read = list(inst.read_warnings)  # spaces around ids, a ';'-separated CSV: said in the file too
    if read:
        summary["input_warnings"] = read
    with staging_dir(out, SOLVE_OUTPUT) as stage:
        write_parquet(plan.units, stage / "plan.parquet")
        write_csv(plan.units, stage / "plan.csv")
        write_json(summary, stage / "summary.json")
    metrics = {
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "runtime_seconds": plan.runtime_seconds,
    }
    if plan.lp_bound is not None:
        metrics["lp_bound"] = plan.lp_bound
    units = int(plan.units["units"].sum()) if len(plan.units) else 0
    return Result(
        command="solve",
        metrics=metrics,
        counts={
            "cells": len(inst.cells),
            "warehouses": len(inst.warehouses),
            "skus": len(inst.skus),
            "units": units,
        },
        outputs={"plan_dir": str(out)},
        warnings=[*read, *([warning] if warning else [])],
        text=(
            f"plan {out}: {units:,} units in {len(plan.units):,} cells; objective {plan.objective:,.2f}"
            f", bound {plan.bound:,.2f}, gap {plan.gap:.2e} ({plan.runtime_seconds:.2f} s)"
        ),
    )
