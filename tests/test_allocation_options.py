"""The configured solve: ``allocate.gap_tolerance`` stops the solver, one rule for small networks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from anticipate.allocation import (
    GAP_TOLERANCE,
    gap_warning,
    generate_instance,
    is_small_network,
    plan_summary,
    solve,
    solve_configured,
    validate_instance,
)
from anticipate.config import AllocateConfig, Config
from anticipate.pipelines import Settings
from anticipate.pipelines.solve import run_solve


def test_the_configured_default_is_the_solvers_tolerance() -> None:
    assert Config().allocate.gap_tolerance == GAP_TOLERANCE


def test_a_looser_gap_tolerance_stops_the_solver_sooner() -> None:
    inst = generate_instance(20, 1000, seed=1)
    strict, loose = solve(inst), solve(inst, gap_tolerance=0.05)
    assert strict.gap <= GAP_TOLERANCE < loose.gap <= 0.05
    assert loose.iterations < strict.iterations


def test_small_networks_get_the_lp_bound_and_the_polish_large_ones_neither() -> None:
    inst = generate_instance(4, 30, seed=9, tightness=0.3)
    assert is_small_network(inst, len(inst.cells)) and not is_small_network(inst, len(inst.cells) - 1)
    options = AllocateConfig(lp_bound_max_cells=len(inst.cells), polish_max_units=10_000)
    small = solve_configured(inst, options)
    assert small.lp_bound is not None and small.extra["method"] == "lagrangian+highs-mip"
    large = solve_configured(inst, AllocateConfig(lp_bound_max_cells=len(inst.cells) - 1))
    assert large.lp_bound is None and large.extra["method"] == "lagrangian"
    asked = solve_configured(inst, AllocateConfig(lp_bound_max_cells=0), lp_bound=True)
    assert asked.lp_bound is not None and asked.extra["method"] == "lagrangian"


def test_anticipate_solve_reads_the_gap_tolerance_from_the_config(tmp_path: Path) -> None:
    inst = generate_instance(20, 1000, seed=1)
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_parquet(tmp_path / f"{name}.parquet")
    iterations = {}
    for tol in (GAP_TOLERANCE, 0.05):
        cfg = Config(allocate=AllocateConfig(gap_tolerance=tol))
        settings = Settings(cfg=cfg, data_dir=tmp_path, tracking_uri="unused")
        run_solve(settings, instance_dir=tmp_path, out=tmp_path / f"plan_{tol}")
        summary = json.loads((tmp_path / f"plan_{tol}" / "summary.json").read_text())
        assert summary["gap"] <= tol and "warning" not in summary  # certified: no warning
        iterations[tol] = summary["iterations"]
    assert iterations[0.05] < iterations[GAP_TOLERANCE]


def test_a_plan_not_certified_within_the_tolerance_is_published_with_a_warning(tmp_path: Path) -> None:
    inst = generate_instance(6, 120, seed=5)  # its gap stays ~1.6e-4 after the 300 best responses
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_parquet(tmp_path / f"{name}.parquet")
    no_polish = AllocateConfig(gap_tolerance=1e-6, lp_bound_max_cells=0)  # 720 cells: not "small" here
    settings = Settings(cfg=Config(allocate=no_polish), data_dir=tmp_path, tracking_uri="unused")
    result = run_solve(settings, instance_dir=tmp_path, out=tmp_path / "plan")
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert summary["gap"] > 1e-6
    assert summary["warning"] == result.warnings[0] == gap_warning(summary["gap"], 1e-6, "off")
    assert "not certified within allocate.gap_tolerance" in summary["warning"]
    # it says what did not run and how to ask for it, not "the polish's nodes"
    assert "the HiGHS integer polish, which certifies small networks, did not run" in summary["warning"]
    assert "allocate.lp_bound_max_cells" in summary["warning"]
    assert "branch-and-bound nodes" in gap_warning(1e-3, 1e-6, "on")
    assert gap_warning(1e-6, 1e-6) is None and gap_warning(0.0, 1e-4) is None


def test_anticipate_solve_polishes_small_networks_as_allocate_does(tmp_path: Path) -> None:
    # audit22 #9: solve never polished, so a plan HiGHS proves optimal carried a gap warning
    inst = generate_instance(6, 120, seed=5)
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_parquet(tmp_path / f"{name}.parquet")
    settings = Settings(cfg=Config(allocate=AllocateConfig(gap_tolerance=1e-6)), data_dir=tmp_path,
                        tracking_uri="unused")
    result = run_solve(settings, instance_dir=tmp_path, out=tmp_path / "plan")
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert summary["method"] == "lagrangian+highs-mip" and summary["lp_bound"] is not None
    assert summary["gap"] <= 1e-6 and "warning" not in summary and not result.warnings


W = pd.DataFrame({"warehouse_id": ["A", "B"], "capacity": [10.0, 5.0]})
S = pd.DataFrame({"sku": ["x", "y"], "unit_volume": [1.0, 2.0], "supply": [4, 3], "g": [3.0, 3.0],
                  "h": [0.5, 0.5]})
C = pd.DataFrame({"warehouse_id": ["A", "B", "A"], "sku": ["x", "x", "y"], "mu": [2.0, 1.0, 3.0],
                  "var": [2.0, 2.0, 4.0], "move_cost": [0.1, 0.2, 0.1]})
EMPTY = {  # an instance whose optimum is 0 units, and the reason its summary gives
    "no capacity": ((W.assign(capacity=0.0), S, C), "every warehouse's capacity is 0"),
    "no supply": ((W, S.assign(supply=0), C), "every SKU's central supply is 0"),
    "no unit worth moving": ((W, S.assign(g=0.3, h=5.0), C), "no cell's first unit is worth moving"),
    "nothing fits": ((W, S.assign(unit_volume=11.0), C), "no unit worth moving fits"),
    # audit28 f14: move_cost_per_km 1000 blamed unit_volume / value_local; the move costs are the cause
    "moves cost more than a sale": ((W, S, C.assign(move_cost=[3.0, 50.0, 3.5])),
                                    "moving a unit costs at least its value of a local sale g"),
}


@pytest.mark.parametrize("case", list(EMPTY))
def test_an_empty_plan_is_published_with_the_reason_in_its_summary(case: str, tmp_path: Path) -> None:
    tables, reason = EMPTY[case]
    for name, frame in zip(("warehouses", "skus", "cells"), tables, strict=True):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    settings = Settings(cfg=Config(), data_dir=tmp_path, tracking_uri="unused")
    result = run_solve(settings, instance_dir=tmp_path, out=tmp_path / "plan")
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert summary["units"] == 0 and summary["warning"] == result.warnings[0]
    assert summary["warning"].startswith(f"the plan is empty (0 units): {reason}")
    assert ("economics.move_cost_per_km" in summary["warning"]) == (case.startswith("moves")
                                                                    or case == "no unit worth moving")


@pytest.mark.parametrize("volume", [11.0, 1e9])
def test_an_empty_plan_whose_optimum_is_0_is_certified(volume: float) -> None:
    # audit22 #10: nothing fits (a unit of 11 or 1e9 in capacities of 10 and 5): the optimum is 0, yet
    # the bound priced a fraction of a unit (2.87, or 1e-7) and the plan reported gap 1.00, "may be up
    # to 100% below the best plan"
    plan = solve(validate_instance(W, S.assign(unit_volume=volume), C))
    assert plan.units.empty and plan.gap == 0.0 and plan.bound <= 1e-4
    warning = plan_summary(plan, {}, GAP_TOLERANCE)["warning"]
    assert warning.startswith("the plan is empty (0 units): no unit worth moving fits")
    assert "not certified" not in warning and "100" not in warning


def test_a_bound_below_the_tolerance_of_one_unit_certifies_any_plan() -> None:
    from anticipate.allocation.plan import certified_gap

    assert certified_gap(0.0, 0.0, 1e-4, 0.0) == 0.0  # no units: nothing is at stake
    assert certified_gap(0.0, 4.4e-7, 1e-4, 0.01) == 0.0  # under 1e-4 of the best unit's 0.01
    assert certified_gap(0.0, 4.4e-7, 1e-4, 1e-6) == 1.0  # the same bound is most of a 1e-6 unit
    assert certified_gap(0.0, 2.87, 1e-4, 3.0) == 1.0
    assert certified_gap(9.0, 10.0, 1e-4, 3.0) == pytest.approx(0.1)


@pytest.mark.parametrize("scale", [1e-7, 1e-10, 1e6])
def test_the_plan_does_not_depend_on_the_currency_unit(scale: float) -> None:
    # audit26: a bound under 1e-4 *currency* certified any plan, so an instance priced in a unit
    # that makes every value ~1e-7 (values in millions) got an empty plan "certified" with gap 0
    base = solve(validate_instance(W, S, C))
    scaled = solve(validate_instance(W, S.assign(g=S["g"] * scale, h=S["h"] * scale),
                                     C.assign(move_cost=C["move_cost"] * scale)))
    assert scaled.units["units"].sum() == base.units["units"].sum() > 0
    assert scaled.objective == pytest.approx(base.objective * scale, rel=1e-9)
    assert scaled.gap == pytest.approx(base.gap, abs=1e-9) and "empty" not in scaled.extra


def test_a_plan_with_units_has_no_empty_warning() -> None:
    plan = solve(validate_instance(W, S, C))
    assert plan.units["units"].sum() > 0 and "empty" not in plan.extra


def test_the_integer_polish_is_bounded_by_nodes_and_the_same_beside_a_cpu_hog() -> None:
    import subprocess
    import sys

    from anticipate.allocation.highs import mip_polish
    from anticipate.allocation.units import build_units

    inst = generate_instance(6, 120, seed=5, tightness=0.3)
    units = build_units(inst)
    alone = mip_polish(inst, units, max_nodes=3)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = mip_polish(inst, units, max_nodes=3)
    finally:
        hog.kill()
        hog.wait()
    assert alone is not None and loaded is not None
    assert (alone[0] == loaded[0]).all() and alone[1:] == loaded[1:]
