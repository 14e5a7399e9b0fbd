"""The allocator on every instance family of :mod:`families`, three seeds, after JIT warm-up.

Per family and size: ``build_seconds`` (unit values, :func:`build_units`) and
``solve_seconds`` (the Lagrangian search and its plan) apart, medians over the seeds
with every seed's value beside them; best responses; certified gap ``1 - objective /
bound``; and ``objective / HiGHS LP bound`` (and ``bound / LP``, >= 1 when our bound is
valid) where HiGHS runs: every seed at 20 x 1,000, and seed 1 of every family at 100 x
10,000 in its own case ``medium_lp_100x10000`` (each LP in a child process, minutes each,
given up after ``BENCH_HIGHS_SECONDS``; its timings are not the allocator's).
``load_1min`` is the load average while measured (the machine is shared), and
``*_cpu_seconds`` the process CPU time of each part (all threads), which a loaded
machine inflates less than the wall time. Kernel threads sleep when idle, as in
``anticipate solve``.
Instance generation is not timed. ``seconds`` (the harness's key) is the median of
build + solve.

Run one size alone, e.g. ``python experiments/benchmarks/run.py -k families:small --repeat 1``
(``BENCH_FAMILY_SEEDS=1`` for one seed per family instead of three);
``python experiments/benchmarks/bench_families.py FAMILY N_W N_S SEED`` prints one row.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The OpenMP wait policy `anticipate solve` and `allocate` run with (anticipate.cli._openmp sets it when
# imported, before Numba loads OpenMP): idle kernel threads sleep between parallel regions instead of
# spinning, which on a shared 2-core machine inflated the solve's CPU seconds by ~30%.
# And NumPy's arrays fault in 4 KB pages, as there (anticipate.cli._hugepages).
from anticipate.cli import _hugepages, _openmp  # noqa: F401  isort: skip
from families import FAMILIES, instance

SEEDS = tuple(int(s) for s in os.environ.get("BENCH_FAMILY_SEEDS", "1,2,3").split(","))  # "1": a quick look


def _warm() -> None:
    """Load or compile every kernel the solver may call (a small solve skips some of them)."""
    import numpy as np

    from anticipate.allocation import generate_instance, solve
    from anticipate.allocation.solver import (
        Workspace,
        best_response,
        build_units,
        improve,
        newton_direction,
        primal,
    )

    inst = generate_instance(3, 20, seed=0)
    solve(inst)
    units = build_units(inst)
    ws = Workspace(units)
    lam = np.full(3, 0.1)
    best_response(units, lam, ws, warm=False)
    best_response(units, lam, ws, warm=True)
    newton_direction(units, lam, ws, 0.1)
    for fill, reduced in ((True, True), (True, False), (False, True)):
        plan, _ = primal(units, ws.x, ws, fill=fill, reduced_fill=reduced)
    improve(units, plan)


def measure(family: str, n_w: int, n_s: int, seed: int, *, with_lp: bool = False) -> dict:
    """One instance: seconds of the unit build and of the solve, best responses, gap, objective / LP."""
    from anticipate.allocation import GAP_TOLERANCE
    from anticipate.allocation.solver import build_units, lagrangian_solve

    inst = instance(family, n_w, n_s, seed)
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    units = build_units(inst)
    built, built_cpu = time.perf_counter(), time.process_time()
    result = lagrangian_solve(units, tol=GAP_TOLERANCE)
    done, done_cpu = time.perf_counter(), time.process_time()
    row = {
        "family": family, "seed": seed, "cells": len(inst.cells), "units": len(units.val),
        "build_seconds": built - started, "solve_seconds": done - built,
        "build_cpu_seconds": built_cpu - cpu, "solve_cpu_seconds": done_cpu - built_cpu,
        "iterations": result.iterations, "gap": 1.0 - result.objective / result.bound,
        "load_1min": round(max(load, os.getloadavg()[0]), 2),
    }
    if with_lp:
        from anticipate.allocation.highs import lp_bound

        started = time.perf_counter()
        lp = lp_bound(inst, units).value
        row.update(lp_bound=lp, highs_seconds=time.perf_counter() - started,
                   objective_over_lp=result.objective / lp if lp > 0 else 1.0,
                   bound_over_lp=result.bound / lp if lp > 0 else 1.0)
    return row


def _family_rows(n_w: int, n_s: int, *, lp_seeds: tuple[int, ...]) -> dict:
    """Every family at one size: per family the medians over seeds and the per-seed values."""
    _warm()
    out: dict = {}
    for family in FAMILIES:
        rows = [measure(family, n_w, n_s, seed, with_lp=seed in lp_seeds) for seed in SEEDS]
        keys = ("build_seconds", "solve_seconds", "build_cpu_seconds", "solve_cpu_seconds", "iterations",
                "gap", "load_1min")
        summary = {key: [row[key] for row in rows] for key in keys}
        totals = [r["build_seconds"] + r["solve_seconds"] for r in rows]
        summary["total_seconds_median"] = statistics.median(totals)
        summary["units_median"] = statistics.median(r["units"] for r in rows)
        lp_rows = [r for r in rows if "objective_over_lp" in r]
        if lp_rows:
            summary["objective_over_lp"] = [r["objective_over_lp"] for r in lp_rows]
            summary["highs_seconds"] = [r["highs_seconds"] for r in lp_rows]
        out[family] = summary
    seconds = statistics.median(f["total_seconds_median"] for f in out.values())
    return {"seconds": seconds, "seeds": list(SEEDS), "families": out}


def small_20x1000(workdir: Path) -> dict:
    return {**_family_rows(20, 1_000, lp_seeds=SEEDS), "target_gap": 1e-4}


def medium_100x10000(workdir: Path) -> dict:
    return {**_family_rows(100, 10_000, lp_seeds=()), "target_seconds": 1.0, "target_gap": 1e-4}


HIGHS_SECONDS = float(os.environ.get("BENCH_HIGHS_SECONDS", "1800"))  # per LP, then recorded as unfinished


def _lp_row(family: str, n_w: int, n_s: int, seed: int) -> dict:
    """One instance with its HiGHS LP, in a child process (this file's ``__main__``) killed after
    ``HIGHS_SECONDS``: the row, or ``{"highs_unfinished_after_seconds": ...}``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), family, str(n_w), str(n_s), str(seed)]
    try:
        done = subprocess.run(cmd, env={**os.environ, "WITH_LP": "1"}, capture_output=True, text=True,
                              timeout=HIGHS_SECONDS, check=True)
    except subprocess.TimeoutExpired:
        return {"family": family, "seed": seed, "highs_unfinished_after_seconds": HIGHS_SECONDS}
    except subprocess.CalledProcessError as exc:  # one family's failure is its row, not the case's end
        last = (exc.stderr or "").strip().splitlines()[-1:] or ["failed"]
        return {"family": family, "seed": seed, "error": last[0]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def medium_lp_100x10000(workdir: Path) -> dict:
    """Seed 1 of every family at 100 x 10,000 against HiGHS's exact LP bound (not a timing case).

    Each row is also appended to ``workdir/lp_check_100x10000.jsonl`` as it comes (the case
    runs for hours; an interrupted run keeps what finished, and :func:`lp_summary` of the
    logged rows is the same result).
    """
    log = Path(workdir) / "lp_check_100x10000.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    rows = {}
    for family in FAMILIES:
        rows[family] = _lp_row(family, 100, 10_000, 1)
        with log.open("a") as out:
            out.write(json.dumps(rows[family]) + "\n")
    return lp_summary(rows)


def lp_summary(rows: dict[str, dict]) -> dict:
    """The LP check's result from its rows per family: ``seconds`` is the median HiGHS time (an
    unfinished LP counted as ``HIGHS_SECONDS``, a failed family left out and named), the smallest
    objective / LP and bound / LP."""
    finished = [r for r in rows.values() if "objective_over_lp" in r]
    return {
        "seconds": statistics.median([r.get("highs_seconds", HIGHS_SECONDS) for r in rows.values()
                                      if "error" not in r] or [0.0]),
        "families_failed": sorted(f for f, r in rows.items() if "error" in r),
        "lp_check": rows, "families_finished": len(finished),
        "min_objective_over_lp": min((r["objective_over_lp"] for r in finished), default=None),
        "min_bound_over_lp": min((r["bound_over_lp"] for r in finished), default=None),
        "target_objective_over_lp": 0.9999,
    }


def large_200x50000(workdir: Path) -> dict:
    return {**_family_rows(200, 50_000, lp_seeds=()), "target_seconds": 10.0, "target_gap": 1e-4}


REPEAT = 1  # each case already runs three seeds per family
TIMEOUTS = {  # 30 instances of 10 M cells, generation included; ten LPs of up to HIGHS_SECONDS
    "large_200x50000": 4 * 3600.0, "medium_lp_100x10000": 10 * (HIGHS_SECONDS + 120.0),
}

CASES = {
    "small_20x1000": small_20x1000,
    "medium_100x10000": medium_100x10000,
    "medium_lp_100x10000": medium_lp_100x10000,
    "large_200x50000": large_200x50000,
}


if __name__ == "__main__":
    _warm()
    family, n_w, n_s, seed = sys.argv[1], *map(int, sys.argv[2:5])
    print(json.dumps(measure(family, n_w, n_s, seed, with_lp=os.environ.get("WITH_LP") == "1")))
