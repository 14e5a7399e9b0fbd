"""The certificate never claims a gap smaller than the real one: the HiGHS LP bound is checked, the LP is
sized by its columns, and unit increments are capped (audit33B A1, B1)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from anticipate.allocation import highs, plan_summary, solve, solve_configured, units, validate_instance
from anticipate.allocation.instance import generate_instance
from anticipate.allocation.units import build_units
from anticipate.config import AllocateConfig
from anticipate.errors import DataError

SKUS = """sku,unit_volume,supply,g,h
S0,0.1,4,5.395,0.015
S1,4.0,0,3.054,2.512
S2,0.1,7,3.847,0.127
S3,0.7,6,3.751,2.573
S4,0.3,1,4.694,0.003
S5,1.0,4,5.027,2.323
S6,2.5,1,4.2089999999999995,1.916
"""
CELLS = """warehouse_id,sku,mu,var,move_cost
W0,S0,0.215908079678929,0.863632318715716,0.242082500747558
W0,S2,2.8907083325857355,4.336062498878603,0.40626745992322654
W0,S3,0.0006604411810671563,0.01981323543201469,1.635293071277236
W0,S4,0.18161705238732673,5.448511571619802,1.2347368150841825
W0,S5,2.0369186466103857,2.0369186466103857,1.2988218390927644
W0,S6,0.0013233481534175554,0.03970044460252666,0.4162673125152752
W1,S0,2.543283368844505,2.543283368844505,1.0336215563736593
W1,S1,3.4778489816706424,13.91139592668257,1.4170218856574538
W1,S2,0.0010699880904558342,0.0010699880904558342,1.1878979204122322
W1,S4,0.28718909977449414,0.4307836496617412,0.2610990508320834
W1,S6,2.990041358934682,2.990041358934682,0.7808306371450595
W2,S0,5.9780691284182215,5.9780691284182215,1.271703362916576
W2,S1,1.573110305670529,2.3596654585057935,1.6745593134647324
W2,S2,2.8271638936573864,11.308655574629546,0.4775616766293456
W2,S4,3.860103730724778,15.440414922899112,1.3889305010328865
W2,S5,1.0900307664699402,1.6350461497049102,0.9432568376221142
W2,S6,12.815152955144619,384.4545886543386,1.2299929898685896
"""


def _audit_instance(currency: float):
    """audit33B's small instance (3 warehouses, 17 cells), every value (g, h, move_cost) x ``currency``."""
    skus, cells = pd.read_csv(io.StringIO(SKUS)), pd.read_csv(io.StringIO(CELLS))
    skus[["g", "h"]] *= currency
    cells["move_cost"] *= currency
    warehouses = pd.DataFrame({"warehouse_id": ["W0", "W1", "W2"], "capacity": [1.0, 0.5, 0.5]})
    return validate_instance(warehouses, skus, cells)


@pytest.mark.parametrize("currency", [1e9, 1e17, 1e-4])
def test_the_bound_holds_in_any_currency_unit(currency: float) -> None:
    # audit33B A1: at x1e9 HiGHS's LP failed ("Not Set") or was wrong, and bound = max(lp, objective) made a
    # plan worth 2.80999e10 "certified" (gap 0) while a plan worth 2.83007e10 exists (true gap 0.71%)
    best = solve_configured(_audit_instance(1.0), AllocateConfig()).objective
    plan = solve_configured(_audit_instance(currency), AllocateConfig())
    assert best == pytest.approx(28.30068034, rel=1e-9)
    assert plan.bound >= best * currency * (1 - 1e-9)
    assert plan.objective / (1 - plan.gap) >= best * currency * (1 - 1e-9)
    assert plan.lp_bound == pytest.approx(29.761699407854856 * currency, rel=1e-7)


@pytest.mark.parametrize(("value", "failure", "why"), [
    (None, "HiGHS ended with status 'Not Set', not Optimal", "status 'Not Set'"),
    (20.0, None, "below the plan's own value"),
    (float("nan"), None, "an LP optimum of nan"),  # audit34: NaN passed the comparison into summary.json
])
def test_a_failed_or_wrong_lp_is_not_used_and_said(
    monkeypatch: pytest.MonkeyPatch, value: float | None, failure: str | None, why: str
) -> None:
    # HiGHS can no longer be made to fail on this instance (its values are scaled), so its answer is replaced
    inst = _audit_instance(1.0)
    lagrangian = solve(inst)
    lp = highs.LpBound(value, failure)
    monkeypatch.setattr(highs, "lp_bound", lambda *_: lp)
    plan = solve(inst, lp_bound=True)
    assert plan.lp_bound is None and plan.bound == lagrangian.bound and plan.gap == lagrangian.gap > 1e-4
    summary = plan_summary(plan, {}, 1e-4)
    assert "the exact LP bound failed and was not used" in summary["warning"] and why in summary["warning"]
    assert summary["lp_bound"] is None


def _certified_instance():
    """One warehouse with room for everything: the Lagrangian bound certifies the plan at once."""
    return validate_instance(
        pd.DataFrame({"warehouse_id": ["W1"], "capacity": [100.0]}),
        pd.DataFrame({"sku": ["S1", "S2"], "unit_volume": [1.0, 1.0], "supply": [50, 50], "g": [4.0, 4.0],
                      "h": [0.5, 0.5]}),
        pd.DataFrame({"warehouse_id": ["W1", "W1"], "sku": ["S1", "S2"], "mu": [3.0, 5.0], "var": [4.0, 5.0],
                      "move_cost": [0.3, 0.3]}),
    )


def test_the_lp_is_skipped_when_the_lagrangian_gap_certifies() -> None:
    # audit33B B1: a small network always got the LP (4 cells of a million units: 2.6 GB), certified or not
    inst = _certified_instance()
    plan = solve_configured(inst, AllocateConfig())
    assert plan.gap <= 1e-4 and plan.lp_bound is None
    assert "already certifies" in plan_summary(plan, {}, 1e-4)["lp_bound_note"]
    asked = solve_configured(inst, AllocateConfig(), lp_bound=True)  # --lp-bound: computed whatever the gap
    assert asked.lp_bound == pytest.approx(asked.objective, rel=1e-9)


def test_the_lp_is_sized_by_its_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = _certified_instance()
    n = len(build_units(inst).val)
    monkeypatch.setattr(highs, "LP_MAX_UNITS", n - 1)
    plan = solve_configured(inst, AllocateConfig(), lp_bound=True)
    assert plan.lp_bound is None
    assert f"would have {n:,} unit increments (columns), more than {n - 1:,}" in plan_summary(
        plan, {}, 1e-4)["warning"]


def test_a_cell_gets_no_more_increments_than_its_warehouse_can_hold() -> None:
    inst = validate_instance(
        pd.DataFrame({"warehouse_id": ["W1", "W2"], "capacity": [7.5, 1e15]}),
        pd.DataFrame({"sku": ["S1"], "unit_volume": [2.5], "supply": [1000], "g": [4.0], "h": [0.0]}),
        pd.DataFrame({"warehouse_id": ["W1", "W2"], "sku": ["S1", "S1"], "mu": [500.0, 500.0],
                      "var": [500.0, 500.0], "move_cost": [0.0, 0.0]}),
    )
    u = build_units(inst)
    per_cell = dict(zip(u.cell_w.tolist(), np.diff(u.cell_ptr).tolist(), strict=True))
    assert per_cell == {0: 3, 1: 1000}  # capacity 7.5 / 2.5; supply 1000 (no h, no move cost: all worth it)


def test_an_instance_needing_too_many_increments_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # audit33B B1: one cell of mean demand 1e9 (capacity, supply unbounded): MemoryError "This is a bug"
    monkeypatch.setattr(units, "MAX_UNITS", 10_000)
    inst = validate_instance(
        pd.DataFrame({"warehouse_id": ["W1"], "capacity": [1e15]}),
        pd.DataFrame({"sku": ["S1"], "unit_volume": [1.0], "supply": [10**9], "g": [4.0], "h": [0.5]}),
        pd.DataFrame({"warehouse_id": ["W1"], "sku": ["S1"], "mu": [1e5], "var": [1.5e5],
                      "move_cost": [0.3]}),
    )
    with pytest.raises(DataError) as refused:
        build_units(inst)
    message = str(refused.value)
    assert "more than 10,000" in message and "warehouse W1 and SKU S1" in message and "(mu 100000" in message
    assert refused.value.exit_code == 2


def _in_currency(inst, factor: float):
    """``inst`` with every value (g, h, move_cost) x ``factor``."""
    skus, cells = inst.skus.copy(), inst.cells.copy()
    skus[["g", "h"]] *= factor
    cells["move_cost"] *= factor
    return validate_instance(inst.warehouses.copy(), skus, cells)


def test_the_plan_is_the_same_in_any_currency_unit() -> None:
    # audit33B B2: HiGHS got raw currency, and its absolute tolerances changed its search: the sample night
    # x1e-4 got 593 units worth 1573.919 against 589 worth 1575.588; scaled by a power of two (the same
    # size of numbers, not the same numbers) this network still got another plan at x1e-7
    inst = generate_instance(3, 40, seed=4, tightness=0.3)
    reference = solve_configured(inst, AllocateConfig())
    assert reference.extra["method"] == "lagrangian+highs-mip"  # the polish ran: HiGHS chose the plan
    for factor in (1e-4, 1e-7, 1e8):
        plan = solve_configured(_in_currency(inst, factor), AllocateConfig())
        pd.testing.assert_frame_equal(plan.units, reference.units)
        assert plan.objective == pytest.approx(reference.objective * factor, rel=1e-9)
        assert plan.gap == pytest.approx(reference.gap, rel=1e-6, abs=1e-12)
