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
warehouse's volume; a safeguarded line search keeps only steps that lower ``L``: far
from the optimum, e.g. at zero prices on skewed networks, the model can overshoot by
orders of magnitude, so a failed length is cut to the minimum of a quadratic through
the slope, never past each warehouse's price ceiling),
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
from threadpoolctl import threadpool_limits

from anticipate.allocation import kernels
from anticipate.allocation.units import Units, build_units, tail_probabilities

__all__ = ["SolveResult", "Units", "best_response", "build_units", "lagrangian_solve", "tail_probabilities"]


@dataclass
class SolveResult:
    """Counts per row of ``inst.cells``, objective, bound, the prices that certify it, iterations."""

    counts: np.ndarray
    objective: float
    bound: float
    prices: np.ndarray
    iterations: int


class Workspace:
    """Scratch arrays reused across iterations (one slot per cell, warehouse or SKU)."""

    def __init__(self, units: Units) -> None:
        n_cells = len(units.cell_w)
        self.x = np.zeros(n_cells, dtype=np.int64)
        self.used = np.zeros(len(units.cap))
        self.lam = np.zeros(len(units.cap))
        self.nu = np.zeros(len(units.vol))
        self.no_lam = np.zeros(len(units.cap))
        self.no_nu = np.zeros(len(units.vol))
        self.scratch = np.empty(n_cells)
        self.keys = np.empty(n_cells)
        self.ids = np.empty(n_cells, dtype=np.int64)


def best_response(units: Units, lam: np.ndarray, ws: Workspace, *, warm: bool) -> float:
    """The SKU part of ``L(lam)``: counts into ``ws.x``, volumes ``ws.used``, supply prices ``ws.nu``.

    ``warm`` starts from the previous call's counts and prices (same result, less work).
    """
    ws.lam[:] = lam
    if warm:
        return kernels.warm_response(
            lam, units.val, units.pre, units.cell_ptr, units.cell_w, units.sku_ptr, units.vol, units.supply,
            ws.nu, ws.x, ws.used, ws.keys, ws.ids,
        )
    return kernels.cold_response(
        lam, units.val, units.cell_ptr, units.cell_w, units.sku_ptr, units.vol, units.supply, ws.nu, ws.x,
        ws.used,
    )


def primal(
    units: Units, x: np.ndarray, ws: Workspace, *, fill: bool = True, prices: bool = True,
    reduced_fill: bool = True,
) -> tuple[np.ndarray, float]:
    """A feasible plan from the counts ``x`` (repair, then greedy fill): (counts, objective).

    With ``prices`` (``x`` is the best response in ``ws``), the repair ranks drops by
    ``(m - nu_s) / v`` (a dropped unit of a supply-bound SKU is placed elsewhere by the
    fill) and, with ``reduced_fill``, the fill ranks additions by the reduced value per
    volume ``(m - nu_s) / v - lam_w``, else by plain ``m / v`` (what the search tries
    first: at the same prices its plans were 3-75x closer to the bound on the benchmark
    families at 100 x 10,000, e.g. 7e-6 against 5e-4 on volume_spread; the reduced fill
    is the second try once within ``OTHER_FILL_WITHIN`` x tol); without ``prices``, both
    rank by ``m / v``.
    """
    plan = x.copy()
    kernels.repair_fill(
        plan, units.primal_arrays(), ws.keys, ws.ids, ws.lam if prices else ws.no_lam,
        ws.nu if prices else ws.no_nu, ws.scratch, fill=fill, reduced_fill=reduced_fill,
    )
    return plan, kernels.plan_value(plan, units.pre, units.cell_ptr)


SWAP_ROUNDS = 50  # at most this many local-improvement swaps per warehouse on the final plan


def improve(units: Units, x: np.ndarray, *, rounds: int = SWAP_ROUNDS) -> tuple[np.ndarray, float]:
    """The feasible plan ``x`` after value-raising swaps within each warehouse: (counts, objective)."""
    plan = x.copy()
    kernels.swap_pass(plan, units.primal_arrays(), rounds)
    return plan, kernels.plan_value(plan, units.pre, units.cell_ptr)


SHRINK = 0.95  # Polyak steps shrink by this after an iteration without a better bound (0.9 stalled)
PRIMAL_EVERY = 4  # repair a candidate plan every few iterations, and whenever the bound improves
IMPROVE_WITHIN = 3  # a filled candidate within 3 x tol of the bound gets value-raising swaps at once
FILL_WITHIN = 10  # greedy fill (the costly part of a repair) only once the gap is within 10 x tol

BANDWIDTH = 0.1  # first density bandwidth of the Newton model, x the mean marginal value
BANDWIDTH_SHRINK = 0.7  # after each accepted Newton step (the model sharpens as prices settle)
BANDWIDTH_FLOOR = 5e-4  # x the mean marginal value
RIDGE = 1e-3  # added to the Newton system's diagonal, x its mean diagonal (keeps it definite)
LINE_TRIES = 5  # Newton step lengths tried before the step counts as failed
STEP_CUT = (0.05, 0.5)  # after a failed trial, the next length is the quadratic model's, within these shares
STEP_MEMORY = 4.0  # a line search starts at min(1, this x the last accepted length)
NEWTON_FAILS = 2  # consecutive failed Newton steps before the subgradient method takes over
SLOW_GAIN = 0.01  # an accepted Newton step that lowers the bound by < 1% of the gap counts as failed
PRIMAL_WITHIN = 4  # a Newton step's candidate plan once it improved the bound by <= 4 x tol ...
OTHER_FILL_WITHIN = 3.0  # ... and, if still open within 3 x tol, one from the reduced-value fill


def newton_direction(units: Units, lam: np.ndarray, ws: Workspace, bandwidth: float) -> np.ndarray | None:
    """A step in capacity prices (currency per volume) from the smoothed model of :mod:`._newton`.

    ``ws`` holds the best response at ``lam``. Solves ``(D - A) d = -(Cap - used)`` on
    the active warehouses (priced, or over full); ``None`` when no unit is near any
    threshold (the model is flat there). The small dense solve runs on one BLAS thread:
    the same bits whatever the machine's core count, and no idle BLAS threads spinning
    against the Numba kernels' threads.
    """
    rho = kernels.density(
        lam, ws.nu, units.val, units.cell_ptr, units.cell_w, units.cell_s, units.vol, units.supply, ws.x,
        bandwidth,
    )
    n_wh = len(units.cap)
    diag, cross = kernels.curvature(rho, units.cell_w, units.sku_ptr, units.vol, ws.nu, n_wh)
    grad = units.cap - ws.used
    active = np.flatnonzero((lam > 0) | (grad < 0))
    hess = np.diag(diag[active]) - cross[np.ix_(active, active)]
    ridge = RIDGE * float(diag[active].mean()) if len(active) else 0.0
    if ridge <= 0.0:
        return None
    hess[np.diag_indices_from(hess)] += ridge
    step = np.zeros(n_wh)
    with threadpool_limits(1, user_api="blas"):  # idle BLAS threads on a busy machine: ~0.3 s a solve
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
        self.floor = tol * units.top_value()  # a bound this small certifies any plan (plan.certified_gap)
        self.ws = Workspace(units)
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
        best = self.result
        if fill and self.tol * best.bound < best.bound - objective <= IMPROVE_WITHIN * self.tol * best.bound:
            plan, objective = improve(self.units, plan)
        if objective > self.result.objective:
            self.result.counts, self.result.objective, self.filled = plan, objective, fill

    def both_fills(self) -> None:
        """A candidate by the plain fill, then by the reduced-value fill if the gap is still open.

        The second only within ``OTHER_FILL_WITHIN`` x tol: each fill finishes some
        instances the other leaves open (ours seed 3 at 100 x 10,000: 9 -> 7 best responses).
        """
        self.candidate(reduced_fill=False)
        best = self.result
        if not self.done() and best.bound - best.objective <= OTHER_FILL_WITHIN * self.tol * abs(best.bound):
            self.candidate()

    def done(self) -> bool:
        best = self.result
        return best.bound <= self.floor or best.bound - best.objective <= self.tol * abs(best.bound)

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


def price_ceiling(units: Units) -> np.ndarray:
    """Per warehouse, the highest value per volume ``m / v`` of any unit (currency per volume).

    At a higher capacity price the warehouse takes nothing, so ``L`` only grows with
    the price beyond it: clipping prices there never loses bound.
    """
    has = np.diff(units.cell_ptr) > 0
    ratio = units.val[units.cell_ptr[:-1][has]] / units.vol[units.cell_s[has]]
    ceiling = np.zeros(len(units.cap))
    np.maximum.at(ceiling, units.cell_w[has], ratio)
    return ceiling


def _line_search(
    search: _Search, lam: np.ndarray, bound: float, direction: np.ndarray, first: float, ceiling: np.ndarray
) -> tuple[float, np.ndarray, float] | None:
    """Step lengths along ``direction`` from ``first`` until ``L`` falls below ``bound``.

    ``ws`` holds the response at ``lam``, so ``direction . (Cap - used)`` is the slope of
    ``L`` there; after a failed trial the next length minimises the quadratic through
    the slope and the trial's value (cut to ``STEP_CUT`` of the trial's length), so a
    step that overshoots by orders of magnitude is cut in one or two trials, not
    halved for ever; no trial goes past the length at which every rising price is at
    its ceiling. Returns (value, prices, length) or None after ``LINE_TRIES``.
    """
    slope = float(direction @ (search.units.cap - search.ws.used))
    rising = direction > 0
    step = first
    if rising.any():  # beyond this length every rising price is at its ceiling: nothing changes
        step = min(first, float(((ceiling - lam)[rising] / direction[rising]).max()))
    for _ in range(LINE_TRIES):
        trial = np.minimum(np.maximum(lam + step * direction, 0.0), ceiling)
        value = search.evaluate(trial)
        if value < bound:
            return value, trial, step
        rise = value - bound - slope * step
        cut = -slope * step / (2.0 * rise) if slope < 0 and rise > 0 else 0.5
        step *= min(max(cut, STEP_CUT[0]), STEP_CUT[1])
    return None


GUESS_TRUST = 4.0  # a first Newton step past this x the highest price estimate goes to the estimates instead


def _first_direction(units: Units, ws: Workspace, direction: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """The first step from zero prices: the Newton ``direction``, or the per-warehouse estimates.

    At zero prices the local model sees only the units near each threshold and can
    overshoot by orders of magnitude (volumes spread over decades, hot cells); each
    warehouse's own cut (:func:`kernels.price_guess`, ``ws`` holds the response at zero)
    bounds the scale, so a step beyond ``GUESS_TRUST`` x the highest estimate is replaced
    by the estimates.
    """
    guess = kernels.price_guess(ws.x, units.val, units.cell_ptr, units.cell_w, units.sku_ptr, units.vol,
                                units.cap, ceiling)
    if 0.0 < GUESS_TRUST * guess.max() < direction.max():  # no estimate (all fits at zero): keep Newton's
        return guess
    return direction


def _newton_phase(search: _Search, max_iter: int) -> np.ndarray:
    """Smoothed Newton steps with a safeguarded line search; returns the last accepted prices.

    Stops when the gap is within tolerance, after ``NEWTON_FAILS`` failed steps in a row
    (no lower bound found, or one lower by less than ``SLOW_GAIN`` of the gap: on small
    networks the model crawls where subgradient steps do better), or at ``max_iter``
    best responses.
    """
    units, ws = search.units, search.ws
    lam = np.zeros(len(units.cap))
    bound = search.evaluate(lam)
    scale = float(units.val.mean()) if len(units.val) else 0.0
    bandwidth, fails, first = BANDWIDTH * scale, 0, 1.0
    ceiling = price_ceiling(units)
    while scale > 0 and fails < NEWTON_FAILS and search.result.iterations < max_iter and not search.done():
        direction = newton_direction(units, lam, ws, bandwidth)
        if search.result.iterations == 1 and direction is not None:
            direction = _first_direction(units, ws, direction, ceiling)
        if direction is None:
            break
        saved = (ws.x.copy(), ws.nu.copy(), ws.used.copy())
        found = _line_search(search, lam, bound, direction, first, ceiling)
        if found is None:
            ws.x[:], ws.nu[:], ws.used[:] = saved
            bandwidth, fails = bandwidth * 0.5, fails + 1
            continue
        value, lam, step = found
        gain, bound, first = bound - value, value, min(1.0, STEP_MEMORY * step)
        best = search.result
        slow = best.objective > 0 and gain < SLOW_GAIN * (best.bound - best.objective)
        fails = fails + 1 if slow else 0
        bandwidth = max(bandwidth * BANDWIDTH_SHRINK, BANDWIDTH_FLOOR * scale)
        if gain <= PRIMAL_WITHIN * search.tol * abs(bound):
            search.both_fills()
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
