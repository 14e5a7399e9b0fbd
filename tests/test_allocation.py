"""The allocator: feasible integer plans, objective <= LP bound <= dual bound, kernels = twins, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.allocation import _kernels as kernels
from anticipate.allocation import generate_instance, read_instance, solve, validate_instance
from anticipate.allocation.highs import lp_bound
from anticipate.allocation.solver import build_units, tail_probabilities
from anticipate.errors import DataError


def _expected_objective(inst, units_frame: pd.DataFrame) -> float:
    """Brute force: sum over cells of (g + h) E[min(D, x)] - (c + h) x, from the definition."""
    cells = inst.cells.merge(units_frame, on=["warehouse_id", "sku"], how="left").fillna({"units": 0})
    sk = inst.skus.set_index("sku")
    total = 0.0
    for row in cells.itertuples(index=False):
        x = int(row.units)
        g, h = sk.loc[row.sku, "g"], sk.loc[row.sku, "h"]
        tails = tail_probabilities(np.full(x, row.mu), np.full(x, row.var), np.arange(1, x + 1))
        total += (g + h) * tails.sum() - (row.move_cost + h) * x
    return total


def _check_feasible(inst, plan) -> None:
    units = plan.units
    assert (units["units"] > 0).all() and units["units"].dtype == np.int64
    vol = inst.skus.set_index("sku")["unit_volume"]
    used = (units["units"] * vol.reindex(units["sku"]).to_numpy()).groupby(units["warehouse_id"]).sum()
    cap = inst.warehouses.set_index("warehouse_id")["capacity"]
    assert (used <= cap.reindex(used.index) * (1 + 1e-9)).all()
    moved = units.groupby("sku")["units"].sum()
    assert (moved <= inst.skus.set_index("sku")["supply"].reindex(moved.index)).all()


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6), st.integers(1, 25), st.integers(0, 10_000), st.floats(0.05, 1.5), st.floats(0.3, 1.0)
)
def test_random_instances_feasible_and_bounded(
    n_w: int, n_s: int, seed: int, tightness: float, density: float
) -> None:
    inst = generate_instance(n_w, n_s, seed=seed, tightness=tightness, density=density)
    if inst.cells.empty:
        return
    plan = solve(inst, lp_bound=True)
    _check_feasible(inst, plan)
    units = build_units(inst)
    lp = lp_bound(inst, units)
    no_lp = solve(inst)
    assert plan.objective <= lp * (1 + 1e-7) + 1e-7
    assert lp <= no_lp.bound * (1 + 1e-7) + 1e-7
    assert plan.objective == pytest.approx(_expected_objective(inst, plan.units), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_near_the_lp_optimum_and_certified(seed: int) -> None:
    inst = generate_instance(20, 1000, seed=seed)  # the small benchmark size
    plan = solve(inst, lp_bound=True)
    assert plan.objective >= (1 - 1e-4) * plan.lp_bound
    assert solve(inst).gap <= 1e-3


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 12), st.integers(0, 10_000))
def test_kernels_equal_plain_twins(n_w: int, n_s: int, seed: int) -> None:
    inst = generate_instance(n_w, n_s, seed=seed, tightness=0.4)
    units = build_units(inst)
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, 2, n_w)
    supply = inst.skus["supply"].to_numpy(np.int64)
    fast = kernels.select(lam, units.val, units.w, units.vol, units.sku_ptr, supply, n_w)
    slow = kernels.select(lam, units.val, units.w, units.vol, units.sku_ptr, supply, n_w, jit=False)
    assert fast[0] == pytest.approx(slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    order = np.argsort(-units.val / units.vol, kind="stable").astype(np.int64)
    cap = inst.warehouses["capacity"].to_numpy(float)
    args = (fast[1], units.val, units.w, units.s, units.vol, cap, supply, order)
    np.testing.assert_array_equal(kernels.repair_fill(*args), kernels.repair_fill(*args, jit=False))


def test_poisson_and_nb_tails() -> None:
    assert tail_probabilities(np.array([2.0]), np.array([2.0]), np.array([1]))[0] == pytest.approx(
        1 - np.exp(-2)
    )
    assert tail_probabilities(np.array([0.0]), np.array([0.0]), np.array([1]))[0] == 0.0
    nb = tail_probabilities(np.array([2.0]), np.array([6.0]), np.array([1]))[0]
    r = 2.0**2 / 4.0
    assert nb == pytest.approx(1 - (r / (r + 2.0)) ** r)


def test_huge_capacity_is_effectively_infinite() -> None:
    inst = generate_instance(2, 10, seed=4)
    big = validate_instance(inst.warehouses.assign(capacity=1e308), inst.skus, inst.cells)
    plan = solve(big)
    _check_feasible(big, plan)
    assert np.isfinite(plan.bound) and plan.gap <= 1e-3


def _write(tmp: Path, inst) -> Path:
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_csv(tmp / f"{name}.csv", index=False)
    return tmp


@pytest.mark.parametrize(
    ("table", "column", "value", "match"),
    [
        ("warehouses", "capacity", -1.0, "capacity >=0"),
        ("skus", "supply", -3, "supply >=0"),
        ("skus", "unit_volume", 0.0, "unit_volume >0"),
        ("cells", "mu", float("nan"), "mu >=0"),
        ("cells", "var", 0.0, "var must be >= mu"),
    ],
)
def test_bad_numbers_name_file_row_and_column(
    tmp_path: Path, table: str, column: str, value: float, match: str
) -> None:
    inst = generate_instance(2, 5, seed=1)
    frame = getattr(inst, table).copy()
    frame.loc[1, column] = value
    d = _write(tmp_path, inst)
    frame.to_csv(d / f"{table}.csv", index=False)
    with pytest.raises(DataError, match=match) as err:
        read_instance(d)
    assert f"{table}.csv" in str(err.value) and "row 2" in str(err.value) and column in str(err.value)


def test_duplicate_ids_and_unknown_references(tmp_path: Path) -> None:
    inst = generate_instance(2, 5, seed=1)
    d = _write(tmp_path, inst)
    pd.concat([inst.warehouses, inst.warehouses.head(1)]).to_csv(d / "warehouses.csv", index=False)
    with pytest.raises(DataError, match="duplicate id"):
        read_instance(d)
    _write(tmp_path, inst)
    inst.cells.assign(sku=["S_missing", *list(inst.cells["sku"].iloc[1:])]).to_csv(
        d / "cells.csv", index=False
    )
    with pytest.raises(DataError, match="not in the skus table"):
        read_instance(d)


def test_highs_polish_proves_small_plans_optimal() -> None:
    inst = generate_instance(4, 30, seed=9, tightness=0.3)
    plain = solve(inst)
    polished = solve(inst, polish_units=10_000)
    _check_feasible(inst, polished)
    assert polished.objective >= plain.objective - 1e-9
    assert polished.gap <= 1e-6 and polished.bound <= plain.bound + 1e-9
    assert polished.objective == pytest.approx(_expected_objective(inst, polished.units), rel=1e-9)

