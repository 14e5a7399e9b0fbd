"""Solve an allocation instance: an integer plan and a certified Lagrangian upper bound.

The capacity constraints are priced (``lam_w`` per unit of volume); for fixed prices
the problem splits per SKU and the best response is exact: the ``supply`` best units
of positive reduced value ``m_k - lam_w v_s``, found per SKU by a quickselect of the
``supply``-th best value ``nu_s`` (the supply price), warm-started at the previous
iteration's ``nu_s``, so an iteration costs about one pass over the positive units
instead of a sort. So for any ``lam >= 0``

    L(lam) = sum_s best_response_s(lam) + sum_w lam_w Cap_w  >=  LP optimum  >=  integer optimum,

and we minimise ``L``, keeping the best bound. First by smoothed Newton steps
(:mod:`._newton`: with many cells the kinks of ``L`` are dense, and the density of
units at each cell's threshold gives a curvature model whose step balances every
warehouse's volume; a backtracking line search keeps only steps that lower ``L``),
which reach a gap near 1e-4 in a handful of best responses on large tight instances;
where that model stops helping (small instances), by projected subgradient steps with
Polyak step sizes. Best responses made feasible (drop the lowest value per volume from
over-full warehouses, then fill greedily) are the candidate plans (heaps of cells, so
no global sort of units); the best plan's exact expected objective is reported with
``gap = 1 - objective / bound``.

Units are never ranked globally: each cell's marginal values are computed once, in
one Numba pass (pmf recurrences, in logs where ``P(D = k)`` would underflow), and
stored per cell in falling order (:mod:`._kernels` has the layout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from anticipate.allocation import _dual, _newton, _primal
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
    cell_ptr, val, pre = kernels.unit_values(mu, var, (g + h)[s], cost, supply[s], jit=jit)
    cell_w = w_code[order]
    wh_cells, wh_ptr = kernels._group_jit(cell_w, len(inst.warehouses))
    return Units(
        val=val,
        pre=pre,
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
        self.lam = np.zeros(len(units.cap))
        self.nu = np.zeros(len(units.vol))
        self.no_lam = np.zeros(len(units.cap))
        self.no_nu = np.zeros(len(units.vol))
        self.scratch = np.empty(n_cells)
        self.keys = np.empty(n_cells)
        self.ids = np.empty(n_cells, dtype=np.int64)


def best_response(units: Units, lam: np.ndarray, ws: _Workspace, *, warm: bool) -> float:
    """The SKU part of ``L(lam)``: counts into ``ws.x``, volumes ``ws.used``, supply prices ``ws.nu``.

    ``warm`` starts from the previous call's counts and prices (same result, less work).
    """
    ws.lam[:] = lam
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
    units: Units, x: np.ndarray, ws: _Workspace, *, fill: bool = True, prices: bool = True,
    reduced_fill: bool = True,
) -> tuple[np.ndarray, float]:
    """A feasible plan from the counts ``x`` (repair, then greedy fill): (counts, objective).

    With ``prices`` (``x`` is the best response in ``ws``), the repair ranks drops by
    ``(m - nu_s) / v`` (a dropped unit of a supply-bound SKU is placed elsewhere by the
    fill) and, with ``reduced_fill``, the fill ranks additions by the reduced value per
    volume ``(m - nu_s) / v - lam_w`` (best near the optimum of large instances; on small
    ones plain ``m / v`` certifies sooner); without ``prices``, both rank by ``m / v``.
    """
    plan = x.copy()
    _primal._repair_fill_jit(
        plan,
        *units.primal_arrays(),
        ws.keys,
        ws.ids,
        fill,
        ws.lam if prices else ws.no_lam,
        ws.nu if prices else ws.no_nu,
        reduced_fill,
        ws.scratch,
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

BANDWIDTH = 0.1  # first density bandwidth of the Newton model, x the mean marginal value
BANDWIDTH_SHRINK = 0.7  # after each accepted Newton step (the model sharpens as prices settle)
BANDWIDTH_FLOOR = 5e-4  # x the mean marginal value
RIDGE = 1e-3  # added to the Newton system's diagonal, x its mean diagonal (keeps it definite)
LINE_TRIES = 3  # Newton step lengths tried (1, 1/2, 1/4) before the step counts as failed
NEWTON_FAILS = 2  # consecutive failed Newton steps before the subgradient method takes over
PRIMAL_WITHIN = 20  # a Newton step's candidate plan once it improved the bound by <= 20 x tol


def newton_direction(units: Units, lam: np.ndarray, ws: _Workspace, bandwidth: float) -> np.ndarray | None:
    """A step in capacity prices (currency per volume) from the smoothed model of :mod:`._newton`.

    ``ws`` holds the best response at ``lam``. Solves ``(D - A) d = -(Cap - used)`` on
    the active warehouses (priced, or over full); ``None`` when no unit is near any
    threshold (the model is flat there).
    """
    rho = np.empty(len(units.cell_w))
    _newton._density_jit(
        lam, ws.nu, units.val, units.cell_ptr, units.cell_w, units.cell_s, units.vol, units.supply, ws.x,
        bandwidth, rho,
    )
    n_wh = len(units.cap)
    diag, cross = _newton._curvature_jit(rho, units.cell_w, units.sku_ptr, units.vol, ws.nu, n_wh)
    grad = units.cap - ws.used
    active = np.flatnonzero((lam > 0) | (grad < 0))
    hess = np.diag(diag[active]) - cross[np.ix_(active, active)]
    ridge = RIDGE * float(diag[active].mean()) if len(active) else 0.0
    if ridge <= 0.0:
        return None
    hess[np.diag_indices_from(hess)] += ridge
    step = np.zeros(n_wh)
    step[active] = -np.linalg.solve(hess, grad[active])
    return step


class _Search:
    """The best bound and plan so far, and the count of best responses (iterations).

    ``bound_at`` is the iteration whose response gave the best bound, ``plan_from`` the
    iterations whose responses were made candidate plans, ``filled`` whether the best
    plan was filled.
    """

    def __init__(self, units: Units, tol: float) -> None:
        self.units, self.tol = units, tol
        self.ws = _Workspace(units)
        self.result = SolveResult(np.zeros(len(units.cell_w), dtype=np.int64), 0.0, np.inf,
                                  np.zeros(len(units.cap)), 0)
        self.bound_at, self.plan_from, self.filled = 0, set(), True

    def evaluate(self, lam: np.ndarray) -> float:
        """``L(lam)`` (the best response lands in ``ws``); a better bound is kept with its prices."""
        warm = self.result.iterations > 0
        bound = best_response(self.units, lam, self.ws, warm=warm) + float(lam @ self.units.cap)
        self.result.iterations += 1
        if bound < self.result.bound:
            self.result.bound, self.result.prices = bound, lam.copy()
            self.bound_at = self.result.iterations
        return bound

    def candidate(self, *, fill: bool = True, reduced_fill: bool = True) -> None:
        """Make the best response in ``ws`` a feasible plan (:func:`primal`); keep it if it is the best."""
        plan, objective = primal(self.units, self.ws.x, self.ws, fill=fill, reduced_fill=reduced_fill)
        self.plan_from.add(self.result.iterations)
        if objective > self.result.objective:
            self.result.counts, self.result.objective, self.filled = plan, objective, fill

    def done(self) -> bool:
        best = self.result
        return best.bound - best.objective <= self.tol * max(abs(best.bound), 1e-9)

    def finish(self) -> SolveResult:
        """Fill the best plan if it was not; unless done, plans (both fills) from the best bound's response.

        If the gap is still above tolerance, the best plan gets value-raising swaps.
        Returns the result with counts per row of ``inst.cells``.
        """
        best, units, ws = self.result, self.units, self.ws
        if not self.filled:
            plan, objective = primal(units, best.counts, ws, prices=False)
            if objective > best.objective:
                best.counts, best.objective = plan, objective
        if not self.done() and self.bound_at not in self.plan_from:
            best_response(units, best.prices, ws, warm=True)
            self.candidate()
            self.candidate(reduced_fill=False)
        if not self.done():
            best.counts, best.objective = improve(units, best.counts)
        best.counts = units.counts_by_row(best.counts)
        return best


def _newton_phase(search: _Search, max_iter: int) -> np.ndarray:
    """Smoothed Newton steps with a backtracking line search; returns the last accepted prices.

    Stops when the gap is within tolerance, after ``NEWTON_FAILS`` failed steps in a row,
    or at ``max_iter`` best responses.
    """
    units, ws = search.units, search.ws
    lam = np.zeros(len(units.cap))
    bound = search.evaluate(lam)
    scale = float(units.val.mean()) if len(units.val) else 0.0
    bandwidth, fails = BANDWIDTH * scale, 0
    while scale > 0 and fails < NEWTON_FAILS and search.result.iterations < max_iter and not search.done():
        direction = newton_direction(units, lam, ws, bandwidth)
        if direction is None:
            break
        saved = (ws.x.copy(), ws.nu.copy(), ws.used.copy())
        step, accepted = 1.0, False
        for _ in range(LINE_TRIES):
            trial = np.maximum(lam + step * direction, 0.0)
            value = search.evaluate(trial)
            if value < bound:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            ws.x[:], ws.nu[:], ws.used[:] = saved
            bandwidth, fails = bandwidth * 0.5, fails + 1
            continue
        gain, lam, bound, fails = bound - value, trial, value, 0
        bandwidth = max(bandwidth * BANDWIDTH_SHRINK, BANDWIDTH_FLOOR * scale)
        if gain <= PRIMAL_WITHIN * search.tol * abs(bound):
            search.candidate()
    return lam


def _subgradient_phase(search: _Search, lam: np.ndarray, max_iter: int) -> None:
    """Projected subgradient steps with Polyak step sizes from ``lam`` (``ws`` holds its response)."""
    units, ws = search.units, search.ws
    best = search.result
    search.candidate(reduced_fill=False)
    step_scale = 1.0
    bound = best.bound
    for it in range(max_iter - best.iterations):
        grad = units.cap - ws.used
        slack = np.where(lam > 0, grad, np.minimum(grad, 0.0))
        norm = float(slack @ slack)
        if norm <= 1e-18 or search.done():
            return
        lam = np.maximum(lam - step_scale * (bound - best.objective) / norm * grad, 0.0)
        previous = best.bound
        bound = search.evaluate(lam)
        improved = best.bound < previous
        if not improved:
            step_scale *= SHRINK
        if it % PRIMAL_EVERY == 0 or improved:
            close = best.bound - best.objective <= FILL_WITHIN * search.tol * abs(best.bound)
            search.candidate(fill=close, reduced_fill=False)


def lagrangian_solve(units: Units, *, max_iter: int = 300, tol: float = 1e-4) -> SolveResult:
    """Minimise ``L`` over capacity prices; the best bound and the best plan found on the way.

    Smoothed Newton steps first (a handful reach a gap near ``tol`` on large tight
    instances); where the model stops helping, projected subgradient steps with Polyak
    sizes go on. Candidate plans are best responses made feasible (repair, fill); see
    :meth:`_Search.finish` for the last steps.
    """
    search = _Search(units, tol)
    lam = _newton_phase(search, max_iter)
    if not search.done():
        _subgradient_phase(search, lam, max_iter)
    return search.finish()
