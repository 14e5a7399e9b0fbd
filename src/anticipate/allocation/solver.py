"""Solve an allocation instance: an integer plan and a certified Lagrangian upper bound.

The capacity constraints are priced (``lam_w`` per unit of volume); for fixed prices
the problem splits per SKU and the best response is exact: the ``supply`` best units
of positive reduced value ``m_k - lam_w v_s``, found per SKU by a quickselect of the
``supply``-th best value ``nu_s`` (the supply price), warm-started at the previous
iteration's ``nu_s``, so an iteration costs about one pass over the positive units
instead of a sort. So for any ``lam >= 0``

    L(lam) = sum_s best_response_s(lam) + sum_w lam_w Cap_w  >=  LP optimum  >=  integer optimum,

and we minimise ``L`` by projected subgradient steps with Polyak step sizes, keeping
the best bound. Each few iterates' best response, made feasible (drop the lowest value
per volume from over-full warehouses) and, once the gap is small, filled greedily by
value per volume, is a candidate plan (heaps of cells, so no global sort of units);
the best plan's exact expected objective is reported with ``gap = 1 - objective / bound``.

Units are never ranked globally: each cell's marginal values are computed once, in
one Numba pass (pmf recurrences, in logs where ``P(D = k)`` would underflow), and
stored per cell in falling order (:mod:`._kernels` has the layout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from anticipate.allocation import _dual, _primal
from anticipate.allocation import _kernels as kernels
from anticipate.allocation.instance import Instance


@dataclass(frozen=True)
class Units:
    """Every cell's positive marginal values, cells grouped by SKU (see :mod:`._kernels`).

    ``wh_cells[wh_ptr[w]:wh_ptr[w + 1]]`` lists warehouse ``w``'s (grouped) cells.
    ``cell_id`` maps a grouped cell to its row of ``inst.cells``; ``vol`` (volume per
    unit) and ``supply`` (units) are per SKU, ``cap`` (volume) per warehouse.
    """

    val: np.ndarray
    pre: np.ndarray
    cell_ptr: np.ndarray
    cell_w: np.ndarray
    cell_s: np.ndarray
    cell_id: np.ndarray
    sku_ptr: np.ndarray
    wh_cells: np.ndarray
    wh_ptr: np.ndarray
    vol: np.ndarray
    supply: np.ndarray
    cap: np.ndarray

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One entry per unit: (warehouse, SKU, volume, row of ``inst.cells``), e.g. for an LP."""
        per_cell = np.diff(self.cell_ptr)
        w, s = np.repeat(self.cell_w, per_cell), np.repeat(self.cell_s, per_cell)
        return w, s, self.vol[s], np.repeat(self.cell_id, per_cell)

    def primal_arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays the plan kernels (repair/fill, swaps) take after the counts, in their order."""
        return (self.val, self.cell_ptr, self.cell_w, self.cell_s, self.wh_cells, self.wh_ptr, self.vol,
                self.cap, self.supply)

    def counts_by_row(self, x: np.ndarray) -> np.ndarray:
        """Counts per grouped cell -> counts per row of ``inst.cells`` (int64)."""
        out = np.zeros(len(x), dtype=np.int64)
        out[self.cell_id] = x
        return out


def tail_probabilities(mu: np.ndarray, var: np.ndarray, k: np.ndarray) -> np.ndarray:
    """P(D >= k) for D ~ NB(mean mu, variance var) (Poisson when var == mu; 0 when mu == 0), by scipy.

    ``var == 0`` with ``mu > 0`` is known demand (the backtest's perfect foresight): D = mu.
    The reference the kernels' recurrences are tested against.
    """
    mu, var, k = (np.asarray(a, float) for a in (mu, var, k))
    out = np.zeros(np.broadcast(mu, k).shape)
    pos = mu > 0
    known = pos & (var <= 0)
    out[known] = (k[known] <= mu[known]).astype(float)
    pos &= ~known
    pois = pos & (var <= mu * (1 + 1e-9))
    out[pois] = stats.poisson.sf(k[pois] - 1, mu[pois])
    nb = pos & ~pois
    r = mu[nb] ** 2 / (var[nb] - mu[nb])
    out[nb] = stats.nbinom.sf(k[nb] - 1, r, r / (r + mu[nb]))
    return out


def _codes(values: pd.Series, ids: pd.Series) -> np.ndarray:
    """Position of each value in ``ids`` (a hash lookup in Arrow; the instance has no unknown ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(pa.array(values.astype(str)), value_set=pa.array(ids.astype(str)))
    if found.null_count:
        raise ValueError("cells name an id missing from its table; build instances with validate_instance")
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def build_units(inst: Instance, *, jit: bool = True) -> Units:
    """Group the cells by SKU and compute each cell's positive marginal values (at most its SKU's supply)."""
    cells, skus = inst.cells, inst.skus
    s_code = _codes(cells["sku"], skus["sku"])
    w_code = _codes(cells["warehouse_id"], inst.warehouses["warehouse_id"])
    order, sku_ptr = kernels._group_jit(s_code, len(skus))
    s = s_code[order]
    g, h = skus["g"].to_numpy(float), skus["h"].to_numpy(float)
    supply = skus["supply"].to_numpy(np.int64)
    cost = cells["move_cost"].to_numpy(float)[order] + h[s]
    mu, var = cells["mu"].to_numpy(float)[order], cells["var"].to_numpy(float)[order]
    cell_ptr, val = kernels.unit_values(mu, var, (g + h)[s], cost, supply[s], jit=jit)
    cell_w = w_code[order]
    wh_cells, wh_ptr = kernels._group_jit(cell_w, len(inst.warehouses))
    return Units(
        val=val,
        pre=kernels._cell_prefix_jit(val, cell_ptr),
        cell_ptr=cell_ptr,
        cell_w=cell_w,
        cell_s=s,
        cell_id=order,
        sku_ptr=sku_ptr,
        wh_cells=wh_cells,
        wh_ptr=wh_ptr,
        vol=skus["unit_volume"].to_numpy(float),
        supply=supply,
        cap=inst.warehouses["capacity"].to_numpy(float),
    )


@dataclass
class SolveResult:
    """Counts per row of ``inst.cells``, objective, bound, the prices that certify it, iterations."""

    counts: np.ndarray
    objective: float
    bound: float
    prices: np.ndarray
    iterations: int


class _Workspace:
    """Scratch arrays reused across iterations (one slot per cell / per SKU's units)."""

    def __init__(self, units: Units) -> None:
        n_cells = len(units.cell_w)
        self.buf = np.empty(len(units.val))  # one slot per unit: SKUs select in parallel
        self.x = np.zeros(n_cells, dtype=np.int64)
        self.used = np.zeros(len(units.cap))
        self.nu = np.zeros(len(units.vol))
        self.no_prices = np.zeros(len(units.vol))
        self.keys = np.empty(n_cells)
        self.ids = np.empty(n_cells, dtype=np.int64)


def best_response(units: Units, lam: np.ndarray, ws: _Workspace, *, warm: bool) -> float:
    """The SKU part of ``L(lam)``: counts into ``ws.x``, volumes ``ws.used``, supply prices ``ws.nu``.

    ``warm`` starts from the previous call's counts and prices (same result, less work).
    """
    if warm:
        return float(
            _dual._warm_jit(
                lam,
                units.val,
                units.pre,
                units.cell_ptr,
                units.cell_w,
                units.sku_ptr,
                units.vol,
                units.supply,
                ws.nu,
                ws.x,
                ws.used,
                ws.keys,
                ws.ids,
            )
        )
    return float(
        _dual._cold_jit(
            lam,
            units.val,
            units.cell_ptr,
            units.cell_w,
            units.sku_ptr,
            units.vol,
            units.supply,
            ws.nu,
            ws.x,
            ws.used,
            ws.buf,
        )
    )


def primal(
    units: Units, x: np.ndarray, ws: _Workspace, *, fill: bool = True, supply_prices: bool = True
) -> tuple[np.ndarray, float]:
    """A feasible plan from the counts ``x`` (repair, then greedy fill): (counts, objective).

    With ``supply_prices``, the repair ranks drops by ``(m - nu_s) / v``, ``nu = ws.nu``
    the supply prices of the best response behind ``x`` (a dropped unit of a
    supply-bound SKU is placed elsewhere by the fill); without, by ``m / v``.
    """
    plan = x.copy()
    _primal._repair_fill_jit(
        plan,
        *units.primal_arrays(),
        ws.keys,
        ws.ids,
        fill,
        ws.nu if supply_prices else ws.no_prices,
    )
    return plan, float(kernels._plan_value_jit(plan, units.pre, units.cell_ptr))


SWAP_ROUNDS = 50  # at most this many local-improvement swaps per warehouse on the final plan


def improve(units: Units, x: np.ndarray, *, rounds: int = SWAP_ROUNDS) -> tuple[np.ndarray, float]:
    """The feasible plan ``x`` after value-raising swaps within each warehouse: (counts, objective)."""
    plan = x.copy()
    _primal._swap_pass_jit(plan, *units.primal_arrays(), rounds)
    return plan, float(kernels._plan_value_jit(plan, units.pre, units.cell_ptr))


SHRINK = 0.95  # Polyak steps shrink by this after an iteration without a better bound (0.9 stalled)
PRIMAL_EVERY = 4  # repair a candidate plan every few iterations, and whenever the bound improves
FILL_WITHIN = 10  # greedy fill (the costly part of a repair) only once the gap is within 10 x tol


def lagrangian_solve(units: Units, *, max_iter: int = 300, tol: float = 1e-4) -> SolveResult:
    """Projected subgradient on capacity prices with Polyak steps; best bound and best plan kept.

    Far from the optimum, candidate plans are only repaired (feasible, a cheap lower
    bound for the Polyak step); near it they are also filled. The best plan is filled
    at the end in any case.
    """
    cap = units.cap
    ws = _Workspace(units)
    lam = np.zeros(len(cap))
    best_x = np.zeros(len(units.cell_w), dtype=np.int64)
    best = SolveResult(best_x, 0.0, np.inf, lam.copy(), 0)
    step_scale = 1.0
    for it in range(max_iter):
        bound = best_response(units, lam, ws, warm=it > 0) + float(lam @ cap)
        improved = bound < best.bound
        if improved:
            best.bound, best.prices = bound, lam.copy()
        else:
            step_scale *= SHRINK
        if it % PRIMAL_EVERY == 0 or improved:
            fill = best.bound - best.objective <= FILL_WITHIN * tol * abs(best.bound)
            plan, objective = primal(units, ws.x, ws, fill=fill, supply_prices=fill)
            if objective > best.objective:
                best.counts, best.objective = plan, objective
        best.iterations = it + 1
        grad = cap - ws.used
        slack = np.where(lam > 0, grad, np.minimum(grad, 0.0))
        norm = float(slack @ slack)
        if norm <= 1e-18 or best.bound - best.objective <= tol * max(abs(best.bound), 1e-9):
            break
        step = step_scale * (bound - best.objective) / norm
        lam = np.maximum(lam - step * grad, 0.0)
    plan, objective = primal(units, best.counts, ws, supply_prices=False)  # no-op if the best was filled
    if objective > best.objective:
        best.counts, best.objective = plan, objective
    best_response(units, best.prices, ws, warm=True)  # the response behind the bound: one more candidate
    plan, objective = primal(units, ws.x, ws)
    if objective > best.objective:
        best.counts, best.objective = plan, objective
    best.counts, best.objective = improve(units, best.counts)
    best.counts = units.counts_by_row(best.counts)
    return best
