"""``solve``: allocate a standalone instance directory and write the plan and its summary."""

from __future__ import annotations

from pathlib import Path

from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import amount_text
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
    from anticipate.allocation.instance import instance_files

    check_publishable(out, SOLVE_OUTPUT)
    inst = read_instance(instance_dir)
    plan = solve_configured(inst, settings.cfg.allocate, lp_bound=lp_bound)
    # the files read, by exact name: a skus.bak or a cells.orig/ folder beside them is no part of it
    digests = {p.name: file_digest(p) for p in sorted(instance_files(instance_dir).values())}
    summary = plan_summary(plan, digests, settings.cfg.allocate.gap_tolerance)
    warning = summary.get("warning")
    # spaces around ids, a ';'-separated CSV, an edited night's instance: said in the file too
    read = [*inst.read_warnings, *edited_since_night(Path(instance_dir), digests)]
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
            f"plan {out}: {units:,} units in {len(plan.units):,} cells; "
            f"objective {amount_text(plan.objective)}, bound {amount_text(plan.bound)}, gap {plan.gap:.2e} "
            f"({plan.runtime_seconds:.2f} s)"
        ),
    )


def edited_since_night(instance_dir: Path, digests: dict[str, str]) -> list[str]:
    """A warning when ``instance_dir`` is a night's ``plans/DATE/instance/`` whose files (``digests``, by
    name) differ from the ``instance_digests`` its ``../summary.json`` recorded when allocate published
    them: a what-if edited in place, legitimate, but no longer the night's plan. Nothing when there is
    no such summary (a copied instance, a plan from before the digests were recorded)."""
    import json

    night = instance_dir.resolve().parent / "summary.json"
    try:
        recorded = json.loads(night.read_text()).get("instance_digests")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(recorded, dict):
        return []
    edited = sorted(n for n in set(recorded) | set(digests) if recorded.get(n) != digests.get(n))
    if not edited:
        return []
    verb = "differs" if len(edited) == 1 else "differ"
    return [f"instance edited since the night's plan: {', '.join(edited)} {verb} from the digests "
            f"{night} recorded when allocate published {instance_dir} (changed, added or removed): this "
            "plan is a what-if on the edited instance, not the night's plan"]
