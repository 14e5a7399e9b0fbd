"""The allocator on tight instances: time after JIT warm-up, certified gap, and the HiGHS LP side by side.

Targets: 100 x 10,000 <= 1 s, 200 x 50,000 <= 10 s, certified gap <= 1e-3 everywhere,
objective >= (1 - 1e-4) x LP bound on 20 x 1,000 and 100 x 10,000.
"""

from __future__ import annotations

import time
from pathlib import Path


def _warm() -> None:
    from anticipate.allocation import generate_instance, solve

    solve(generate_instance(3, 20, seed=0))


def _case(n_w: int, n_s: int, *, with_lp: bool) -> dict:
    from anticipate.allocation import generate_instance, solve
    from anticipate.allocation.highs import lp_bound
    from anticipate.allocation.solver import build_units

    _warm()
    inst = generate_instance(n_w, n_s, seed=1)
    started = time.perf_counter()
    plan = solve(inst)
    row = {"seconds": time.perf_counter() - started, "cells": len(inst.cells), "gap": plan.gap,
           "iterations": plan.iterations, "objective": plan.objective, "bound": plan.bound}
    if with_lp:
        units = build_units(inst)
        started = time.perf_counter()
        lp = lp_bound(inst, units)
        row.update({"highs_seconds": time.perf_counter() - started, "lp_bound": lp,
                    "objective_over_lp": plan.objective / lp})
        row["highs_over_ours"] = row["highs_seconds"] / row["seconds"]
    return row


def small_20x1000(workdir: Path) -> dict:
    return {**_case(20, 1_000, with_lp=True), "target_gap": 1e-3}


def medium_100x10000(workdir: Path) -> dict:
    return {**_case(100, 10_000, with_lp=True), "target_seconds": 1.0}


def large_200x50000(workdir: Path) -> dict:
    return {**_case(200, 50_000, with_lp=False), "target_seconds": 10.0}


CASES = {
    "small_20x1000": small_20x1000,
    "medium_100x10000": medium_100x10000,
    "large_200x50000": large_200x50000,
}
