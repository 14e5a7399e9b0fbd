"""The allocator: feasible integer plans, objective <= LP bound <= dual bound, kernels = twins, bad input."""

from __future__ import annotations

import dataclasses
import heapq
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.allocation import (
    generate_instance,
    kernels,
    read_instance,
    solve,
    validate_instance,
    write_instance,
)
from anticipate.allocation.highs import lp_bound
from anticipate.allocation.solver import (
    Workspace,
    best_response,
    build_units,
    price_ceiling,
    tail_probabilities,
)
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
    lp = lp_bound(inst, units).value
    assert lp is not None
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


def _dual_args(units, lam, ws):
    return (lam, units.val, units.cell_ptr, units.cell_w, units.sku_ptr, units.vol, units.supply)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 12), st.integers(0, 10_000))
def test_kernels_equal_plain_twins(n_w: int, n_s: int, seed: int) -> None:
    inst = generate_instance(n_w, n_s, seed=seed, tightness=0.4)
    units, plain = build_units(inst), build_units(inst, jit=False)
    np.testing.assert_array_equal(units.cell_ptr, plain.cell_ptr)
    np.testing.assert_array_equal(units.val, plain.val)
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, 2, n_w)
    results = []
    for jit in (True, False):
        ws = Workspace(units)
        value = kernels.cold_response(*_dual_args(units, lam, ws), ws.nu, ws.x, ws.used, jit=jit)
        results.append((value, ws.x.copy(), ws.used.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    # warm starts from any counts and supply prices reach the cold best response exactly
    per_cell = np.diff(units.cell_ptr)
    start_x = rng.integers(0, per_cell + 1)
    start_nu = rng.uniform(0, 3, n_s) * (rng.random(n_s) < 0.7)
    for jit in (True, False):
        ws = Workspace(units)
        ws.x[:], ws.nu[:] = start_x, start_nu
        value = kernels.warm_response(lam, units.val, units.pre, *_dual_args(units, lam, ws)[2:], ws.nu, ws.x,
                                      ws.used, ws.keys, ws.ids, jit=jit)
        assert value == pytest.approx(results[0][0], rel=1e-12, abs=1e-9)
        np.testing.assert_array_equal(ws.x, results[0][1])
        np.testing.assert_allclose(ws.used, results[0][2], rtol=1e-12, atol=1e-9)
    plans = []
    capacity_prices = rng.uniform(0, 1, n_w) * (rng.random(n_w) < 0.5)
    supply_prices = rng.uniform(0, 1, n_s) * (rng.random(n_s) < 0.5)
    for jit in (True, False):
        x = results[0][1].copy()
        ws = Workspace(units)
        kernels.repair_fill(x, units.primal_arrays(), ws.keys, ws.ids, capacity_prices, supply_prices,
                            ws.scratch, reduced_fill=bool(seed % 2), jit=jit)
        plans.append(x)
    np.testing.assert_array_equal(plans[0], plans[1])
    # the swap pass: twins agree, the plan stays feasible and never loses value
    swapped = []
    for jit in (True, False):
        x = plans[0].copy()
        kernels.swap_pass(x, units.primal_arrays(), 20, jit=jit)
        swapped.append(x)
    np.testing.assert_array_equal(swapped[0], swapped[1])
    for jit in (True, False):
        before = kernels.plan_value(plans[0], units.pre, units.cell_ptr, jit=jit)
        assert kernels.plan_value(swapped[0], units.pre, units.cell_ptr, jit=jit) >= before
    plans[0] = swapped[0]
    used = np.bincount(units.cell_w, weights=plans[0] * units.vol[units.cell_s], minlength=n_w)
    assert (used <= units.cap * (1 + 1e-9)).all()
    assert (np.bincount(units.cell_s, weights=plans[0], minlength=n_s) <= units.supply).all()
    assert (plans[0] <= per_cell).all() and (plans[0] >= 0).all()


def _reference_repair_fill(units, x, lam, nu) -> tuple[np.ndarray, int]:
    """Reference: drop units by sorted (m - nu) / v in over-full warehouses, then fill from one heapq.

    Returns the plan and the number of cells that could take a unit when the fill began.
    """
    x = x.copy()
    vol, cap, val, ptr = units.vol, units.cap, units.val, units.cell_ptr
    used = np.zeros(len(cap))
    for c in range(len(x)):
        used[units.cell_w[c]] += x[c] * vol[units.cell_s[c]]
    for w in range(len(cap)):
        cells = units.wh_cells[units.wh_ptr[w] : units.wh_ptr[w + 1]]
        s_of = units.cell_s
        taken = [((val[ptr[c] + k] - nu[s_of[c]]) / vol[s_of[c]], c) for c in cells for k in range(x[c])]
        for _, c in sorted(taken):  # a cell's last unit has its lowest key, so drops stay prefixes
            if used[w] <= cap[w] * kernels.ROOM:
                break
            x[c] -= 1
            used[w] -= vol[units.cell_s[c]]
    count = np.bincount(units.cell_s, weights=x, minlength=len(vol)).astype(np.int64)
    w_of, s_of = units.cell_w, units.cell_s

    def eligible(c: int) -> bool:
        s = s_of[c]
        return count[s] < units.supply[s] and used[w_of[c]] + vol[s] <= cap[w_of[c]] * kernels.ROOM

    def entry(c: int) -> tuple[float, int]:
        return lam[w_of[c]] - (val[ptr[c] + x[c]] - nu[s_of[c]]) / vol[s_of[c]], c

    heap = [entry(c) for c in range(len(x)) if ptr[c] + x[c] < ptr[c + 1] and eligible(c)]
    candidates = len(heap)
    heapq.heapify(heap)  # Python's own heap of every candidate: no split
    while heap:
        _, c = heapq.heappop(heap)
        if not eligible(c):
            continue
        x[c] += 1
        used[w_of[c]] += vol[s_of[c]]
        count[s_of[c]] += 1
        if ptr[c] + x[c] < ptr[c + 1]:
            heapq.heappush(heap, entry(c))
    return x, candidates


@pytest.mark.parametrize("start", ["over_full", "empty"])
def test_split_heaps_of_repair_and_fill_match_one_plain_heap(start: str) -> None:
    """Warehouses and candidate lists longer than DEFER_MIN: the split heaps change nothing.

    ``over_full``: both warehouses 40% over capacity, so each repair drops from more cells
    than its first eighth holds; ``empty``: nothing taken, every cell a fill candidate.
    """
    inst = generate_instance(2, 5 * kernels.DEFER_MIN, seed=1, tightness=0.5)
    units = build_units(inst)
    rng = np.random.default_rng(1)
    lam = rng.uniform(0, 0.5, 2)
    nu = rng.uniform(0, 1, len(units.vol)) * (rng.random(len(units.vol)) < 0.5)
    full = np.minimum(np.diff(units.cell_ptr), units.supply[units.cell_s] // 2)
    volume = np.bincount(units.cell_w, weights=full * units.vol[units.cell_s], minlength=2)
    units = dataclasses.replace(units, cap=(0.6 if start == "over_full" else 0.3) * volume)
    x = full if start == "over_full" else np.zeros_like(full)
    ws = Workspace(units)
    got = x.copy()
    kernels.repair_fill(got, units.primal_arrays(), ws.keys, ws.ids, lam, nu, ws.scratch)
    expected, candidates = _reference_repair_fill(units, x, lam, nu)
    np.testing.assert_array_equal(got, expected)
    if start == "empty":
        assert candidates > kernels.DEFER_MIN and got.sum() > 0
        return
    for w in range(2):
        cells = units.wh_cells[units.wh_ptr[w] : units.wh_ptr[w + 1]]
        taken = (x[cells] > 0).sum()
        assert taken > kernels.DEFER_MIN and (expected[cells] < x[cells]).sum() > taken / 8


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(2, 30), st.integers(0, 10_000), st.floats(0.01, 2.0))
def test_newton_model_equals_its_definition_and_is_semidefinite(
    n_w: int, n_s: int, seed: int, h: float
) -> None:
    """Densities count units within h of each threshold; D - A is the sum of per-SKU weighted Laplacians."""
    inst = generate_instance(n_w, n_s, seed=seed, tightness=0.4)
    units = build_units(inst)
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, 1, n_w) * (rng.random(n_w) < 0.7)
    ws = Workspace(units)
    best_response(units, lam, ws, warm=False)
    args = (lam, ws.nu, units.val, units.cell_ptr, units.cell_w, units.cell_s, units.vol, units.supply,
            ws.x, h)
    rho = [kernels.density(*args, jit=True), kernels.density(*args, jit=False)]
    np.testing.assert_array_equal(rho[0], rho[1])
    w, s, v, _ = units.columns()
    near = np.abs(units.val - lam[w] * v - ws.nu[s]) < h
    cell = np.repeat(np.arange(len(ws.x)), np.diff(units.cell_ptr))
    counted = np.bincount(cell[near], minlength=len(ws.x)) * (units.supply[units.cell_s] > 0)
    np.testing.assert_allclose(rho[0] * 2 * h, counted, atol=1e-9)
    diag, cross = kernels.curvature(rho[0], units.cell_w, units.sku_ptr, units.vol, ws.nu, n_w)
    plain = kernels.curvature(rho[0], units.cell_w, units.sku_ptr, units.vol, ws.nu, n_w, jit=False)
    np.testing.assert_allclose(diag, plain[0], rtol=1e-12)
    np.testing.assert_allclose(cross, plain[1], rtol=1e-12, atol=1e-12)
    expected = np.zeros((n_w, n_w))
    for k in range(n_s):
        cells = np.arange(units.sku_ptr[k], units.sku_ptr[k + 1])
        r = np.bincount(units.cell_w[cells], weights=rho[0][cells], minlength=n_w)
        expected += units.vol[k] ** 2 * np.diag(r)
        if ws.nu[k] > 0 and r.sum() > 0:
            expected -= units.vol[k] ** 2 * np.outer(r, r) / r.sum()
    hess = np.diag(diag) - cross
    np.testing.assert_allclose(hess, expected, rtol=1e-9, atol=1e-9)
    assert np.linalg.eigvalsh((hess + hess.T) / 2).min() >= -1e-7 * max(1.0, np.abs(hess).max())
    # the first price estimates: twins agree; each over-full warehouse's taken units fit above it, not below
    ceiling = price_ceiling(units)
    guess = [kernels.price_guess(ws.x, units.val, units.cell_ptr, units.cell_w, units.sku_ptr, units.vol,
                                 units.cap, ceiling, jit=jit) for jit in (True, False)]
    np.testing.assert_array_equal(guess[0], guess[1])
    taken = np.arange(len(units.val)) - np.repeat(units.cell_ptr[:-1], np.diff(units.cell_ptr)) < ws.x[cell]
    ratio, volume = units.val / v, np.where(taken, v, 0.0)
    step = kernels.GUESS_RANGE ** (1.0 / kernels.GUESS_BINS)
    for k in np.flatnonzero(guess[0] > 0):
        here = w == k
        assert volume[here & (ratio >= guess[0][k] * step * (1 + 1e-9))].sum() <= units.cap[k] * (1 + 1e-9)
        assert volume[here & (ratio >= guess[0][k] * (1 - 1e-9))].sum() > units.cap[k]
    fits = np.bincount(w, weights=volume, minlength=n_w) <= units.cap
    assert np.all(guess[0][fits] == 0.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 30)), min_size=1, max_size=60))
def test_heap_pops_in_key_then_id_order(entries: list[tuple[int, int]]) -> None:
    for push, pop in ((kernels.heap_push, kernels.heap_pop), (kernels.heap_push_py, kernels.heap_pop_py)):
        keys, ids = np.empty(len(entries)), np.empty(len(entries), dtype=np.int64)
        n = 0
        for key, ident in entries:
            n = push(keys, ids, n, float(key), ident)
        out = []
        while n > 0:
            out.append((keys[0], ids[0]))
            n = pop(keys, ids, n)
        assert out == sorted((float(k), i) for k, i in entries)


def test_unit_values_read_rows_and_skus_in_place_as_the_gathered_columns() -> None:
    """``rows``/``sku`` index the per-row and per-SKU columns: the same values as gathering them first."""
    rng = np.random.default_rng(3)
    n_rows, n_sku = 60, 7
    mu, move = rng.gamma(2.0, 3.0, n_rows), rng.uniform(0.0, 0.6, n_rows)
    var = mu * rng.uniform(1.0, 3.0, n_rows)
    gain, h, kmax = rng.uniform(2.0, 6.0, n_sku), rng.uniform(0.2, 1.0, n_sku), rng.integers(0, 9, n_sku)
    rows, sku = rng.permutation(n_rows)[:45], rng.integers(0, n_sku, 45)
    for jit in (True, False):
        cost = move[rows] + h[sku]
        gathered = kernels.unit_values(mu[rows], var[rows], gain[sku], cost, kmax[sku], jit=jit)
        in_place = kernels.unit_values(mu, var, gain, move, kmax, rows=rows, sku=sku, sku_cost=h, jit=jit)
        assert gathered[0][-1] > 45  # some cells hold several units
        for a, b in zip(gathered, in_place, strict=True):
            np.testing.assert_array_equal(a, b)


def test_unit_values_match_scipy_tails_even_for_large_mu() -> None:
    """The pmf recurrences (in logs where P(D = 0) underflows) agree with scipy's tails."""
    mu = np.array([0.5, 3.0, 40.0, 900.0, 2500.0, 2500.0, 5.0, 7.0])
    var = np.array([0.5, 9.0, 40.0, 900.0, 2500.0, 7500.0, 0.0, 7.0])
    gain, cost = np.full(len(mu), 4.0), np.full(len(mu), 0.5)
    kmax = np.array([10**6] * 7 + [3])
    for jit in (True, False):
        ptr, val, pre = kernels.unit_values(mu, var, gain, cost, kmax, jit=jit)
        cumulative = [np.cumsum(val[ptr[c] : ptr[c + 1]]) for c in range(len(mu))]
        np.testing.assert_allclose(pre, np.concatenate(cumulative), rtol=1e-12)
        for c in range(len(mu)):
            n = ptr[c + 1] - ptr[c]
            k = np.arange(1, n + 2)
            tails = tail_probabilities(np.full(n + 1, mu[c]), np.full(n + 1, var[c]), k)
            expected = gain[c] * tails - cost[c]
            np.testing.assert_allclose(val[ptr[c] : ptr[c + 1]], expected[:n], rtol=1e-9, atol=1e-9)
            assert n == kmax[c] or expected[n] <= 1e-9  # the first unit left out is worth nothing
    assert ptr[-1] - ptr[-2] == 3  # capped at the SKU's supply
    assert ptr[7] - ptr[6] == 5  # known demand of 5: five units, each worth gain - cost


def test_same_inputs_give_byte_identical_plans(tmp_path: Path) -> None:
    inst = generate_instance(8, 300, seed=11)
    first, second = solve(inst), solve(inst)
    first.units.to_parquet(tmp_path / "a.parquet")
    second.units.to_parquet(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert (first.objective, first.bound) == (second.objective, second.bound)
    assert first.iterations == second.iterations


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
    roomy = solve(validate_instance(inst.warehouses.assign(capacity=1e9), inst.skus, inst.cells))
    np.testing.assert_array_equal(plan.units, roomy.units)  # the same plan as a capacity that never binds
    assert plan.objective == pytest.approx(roomy.objective, rel=1e-12)


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
        ("cells", "mu", float("nan"), r"the field is empty \(or a word such as NA\): mu takes a number >= 0"),
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


def test_write_instance_reads_back_number_for_number_and_each_table_once(tmp_path: Path) -> None:
    """allocate's export (warehouses.csv, skus.csv to edit, cells.parquet) is what solve reads: same
    numbers to the bit, ids as text ("007" is not 7), a capped capacity; a table in two formats is refused."""
    inst = generate_instance(3, 40, seed=2)
    ids = {s: f"{i:03d}" for i, s in enumerate(inst.skus["sku"])}  # numeric-looking SKU codes
    inst = validate_instance(
        inst.warehouses.assign(capacity=[1e15, *inst.warehouses["capacity"].iloc[1:]]),
        inst.skus.assign(sku=inst.skus["sku"].map(ids)),
        inst.cells.assign(sku=inst.cells["sku"].astype(str).map(ids)),
    )
    paths = write_instance(inst, tmp_path / "instance")
    assert sorted(p.name for p in paths.values()) == ["cells.parquet", "skus.csv", "warehouses.csv"]
    back = read_instance(tmp_path / "instance")
    for name in ("warehouses", "skus", "cells"):
        text = {c: str for c in ("warehouse_id", "sku") if c in getattr(inst, name)}
        pd.testing.assert_frame_equal(getattr(back, name).astype(text), getattr(inst, name).astype(text))
    assert solve(back).objective == solve(inst).objective

    inst.warehouses.to_parquet(tmp_path / "instance" / "warehouses.parquet")
    with pytest.raises(DataError, match=r"both warehouses\.parquet and warehouses\.csv"):
        read_instance(tmp_path / "instance")


def test_highs_polish_proves_small_plans_optimal() -> None:
    inst = generate_instance(4, 30, seed=9, tightness=0.3)
    plain = solve(inst)
    polished = solve(inst, polish_units=10_000)
    _check_feasible(inst, polished)
    assert polished.objective >= plain.objective - 1e-9
    assert polished.gap <= 1e-6 and polished.bound <= plain.bound + 1e-9
    assert polished.objective == pytest.approx(_expected_objective(inst, polished.units), rel=1e-9)

