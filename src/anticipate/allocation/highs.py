"""HiGHS (through ``highspy``) on the unit-increment model: the exact LP bound and a MIP polish.

Variables ``0 <= y_u <= 1`` per positive-value unit increment, maximise
``sum m_u y_u`` subject to warehouse volume and SKU supply. The LP optimum is the LP
bound (>= any integer plan, <= every Lagrangian bound). With
``y_u`` integer the same model is the allocation itself: for small networks HiGHS
solves it within a fixed number of branch-and-bound nodes (its dual bound certifies
the plan; at the node limit, the best plan found so far).

The model has one column per positive-value unit increment (at most the SKU's supply
per cell, which :func:`~anticipate.allocation.solver.build_units` already enforces)
and two nonzeros per column; that is the unit-increment LP itself, so there is no
smaller equivalent to pass. HiGHS's default (dual simplex) is kept: measured on a
loaded 2-core machine, 20 x 1,000 took 1.1 s (IPM 1.8 s, PDLP 7.0 s, primal simplex
7.0 s) and 50 x 4,000 took 73 s (IPM 96 s).

**Units.** HiGHS's feasibility tolerances are absolute (~1e-6 on a row), so a warehouse row
in the caller's volume unit meant 1e-6 m3 in one unit and a whole carton in another: with
volumes 1e6 times smaller its integer plans overfilled warehouses by up to 16% and put a
unit in a warehouse of capacity 0. Each warehouse row is therefore divided by its capacity
(coefficients ``unit_volume / capacity``, right-hand side 1): the tolerance is then 1e-6
of a capacity in every unit, and the model is the same numbers whatever the volume unit.
A unit larger than its warehouse (every unit of a capacity-0 warehouse) is fixed at 0
(:func:`~anticipate.allocation.units.build_units` already leaves such units out), and a
warehouse whose every unit of the model fits at once has no row (it cannot bind).
Whatever HiGHS returns is still checked exactly (:func:`exact_plan`).

**Currency.** HiGHS's optimality tolerances are absolute too (~1e-7 on a reduced cost), so the
values are passed divided by the largest one (:func:`_value_scale`): the model is then the same
numbers, up to the last bit, in any currency unit, and so is HiGHS's search. In raw currency the
sample night with values x1e-4 got another, worse plan (593 units, 1573.919 scaled back, against
589 and 1575.588), x1e8 made the dual simplex fail and x1e-13 report a wrong optimum; a power of
two (exact, but only the same size of numbers, not the same numbers) still gave x1e-4 another plan
than x1. Its results are scaled back.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

import numpy as np

from anticipate.allocation import kernels
from anticipate.allocation.instance import Instance
from anticipate.allocation.units import Units

#: Relative slack a plan's volume may have over a capacity (floating sums of volumes in another order).
CAPACITY_SLACK = 1e-9


def _quiet_highs() -> object:
    """A ``highspy.Highs`` whose constructor banner (printed by C++ on stdout, fd 1) goes to /dev/null.

    ``--json`` commands must print exactly one line on stdout.
    """
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


#: The most unit increments (columns) the LP bound is built for: HiGHS needs ~650 bytes a column
#: (4 million took 2.6 GB), so a model this large would cost ~0.65 GB.
LP_MAX_UNITS = 1_000_000

POLISH_NODES = 100  # branch-and-bound nodes of the integer polish: a work limit, the same on any machine


def _rows(units: Units, w: np.ndarray, vol: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model in capacity-relative units: (warehouse-row coefficients, warehouse-row upper bounds,
    column upper bounds); see the module's **Units**."""
    import highspy

    cap = units.cap
    fits = vol <= cap[w] * kernels.ROOM  # a unit larger than its warehouse can never be placed there
    load = np.bincount(w, weights=vol * fits, minlength=len(cap))
    scale = np.where(cap > 0, cap, 1.0)
    upper = np.where(load > cap * kernels.ROOM, 1.0, highspy.kHighsInf)
    return vol / scale[w], upper, fits.astype(float)


def _value_scale(val: np.ndarray) -> float:
    """What the values are divided by for HiGHS: the largest in magnitude (1 without values)."""
    top = float(np.abs(val).max()) if len(val) else 0.0
    return top if top > 0 else 1.0


def _highs(
    inst: Instance, units: Units, *, integer: bool, max_nodes: int | None = None, rel_gap: float = 1e-7
) -> tuple[object, float]:
    """HiGHS run on the unit-increment model, and ``scale``: its values are ``units.val / scale``."""
    import highspy

    n = len(units.val)
    n_w, n_s = len(inst.warehouses), len(inst.skus)
    h = _quiet_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    if integer:
        h.setOptionValue("mip_rel_gap", float(rel_gap))
        if max_nodes is not None:
            h.setOptionValue("mip_max_nodes", int(max_nodes))
    w, s, vol, _ = units.columns()
    coef, wh_upper, col_upper = _rows(units, w, vol)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, n_w + n_s
    lp.sense_ = highspy.ObjSense.kMaximize
    scale = _value_scale(units.val)
    lp.col_cost_ = units.val.astype(float) / scale
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = col_upper
    lp.row_lower_ = np.full(n_w + n_s, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([wh_upper, units.supply.astype(float)])
    rows = np.empty(2 * n, dtype=np.int32)  # column-wise: volume share in the warehouse row, 1 in the SKU row
    rows[0::2] = w
    rows[1::2] = n_w + s
    values = np.empty(2 * n)
    values[0::2] = coef
    values[1::2] = 1.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * n + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = rows
    lp.a_matrix_.value_ = values
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    h.run()
    return h, scale


class LpBound(NamedTuple):
    """The LP relaxation's optimum (currency), or ``None`` with why HiGHS did not prove one."""

    value: float | None
    failure: str | None = None


def lp_bound(inst: Instance, units: Units) -> LpBound:
    """The optimum of the unit-increment LP relaxation (currency), when HiGHS reports it Optimal.

    Any other status (e.g. "Not Set" after a failed ratio test) gives no value: HiGHS's
    ``objective_function_value`` is then whatever its last iterate was worth, no bound.
    """
    import highspy

    if len(units.val) == 0:
        return LpBound(0.0)
    h, scale = _highs(inst, units, integer=False)
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return LpBound(None, f"HiGHS ended with status '{h.modelStatusToString(status)}', not Optimal")
    return LpBound(float(h.getInfo().objective_function_value) * scale)


class Polish(NamedTuple):
    """HiGHS's integer plan after the exact check: counts per row of ``inst.cells``, its objective
    (recomputed by :func:`~anticipate.allocation.kernels.plan_value`), HiGHS's dual bound plus its
    pruning tolerance (a bound on every integer plan), and whether the check had to repair HiGHS's
    plan (it broke a capacity or a supply)."""

    counts: np.ndarray
    objective: float
    dual_bound: float
    repaired: bool


def mip_polish(
    inst: Instance, units: Units, *, max_nodes: int = POLISH_NODES, rel_gap: float = 1e-7
) -> Polish | None:
    """Solve the integer model: its plan checked exactly (:func:`exact_plan`), or None without a solution.

    Stops when HiGHS's relative gap (dual bound - objective) / objective is at most
    ``rel_gap``, or after ``max_nodes`` branch-and-bound nodes; never by seconds (single
    thread, fixed seed): the same plan on a fast or a slow, idle or loaded machine.
    HiGHS's own objective is not used: the plan's value is recomputed from its counts.
    """
    import highspy

    if len(units.val) == 0:
        return None
    h, scale = _highs(inst, units, integer=True, max_nodes=max_nodes, rel_gap=rel_gap)
    if h.getInfo().primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return None
    chosen = np.round(np.asarray(h.getSolution().col_value)) >= 1
    x, repaired = exact_plan(units, chosen)
    if x is None:
        return None
    objective = kernels.plan_value(x, units.pre, units.cell_ptr)
    # HiGHS prunes every node that cannot beat its incumbent by its mip_feasibility_tolerance (absolute,
    # in the model's scaled values): its dual bound holds up to that much (seen: optimum 3.8e-7 above a
    # "proven" plan)
    dual = float(h.getInfo().mip_dual_bound) + float(h.getOptionValue("mip_feasibility_tolerance")[1])
    dual *= scale
    return Polish(units.counts_by_row(x), objective, dual, repaired)


def exact_plan(units: Units, chosen: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """A 0/1 choice of unit increments as counts per grouped cell, made exactly feasible: (counts, repaired).

    A cell keeps as many units as were chosen there, its best ones (values fall within a
    cell). A SKU over its supply keeps its ``supply`` best units; a warehouse over its
    capacity (beyond the kernels' ``ROOM``) loses its lowest values per volume. The room and
    supply left are then filled greedily (:func:`~anticipate.allocation.kernels.repair_fill`,
    no prices): HiGHS leaves out units worth less than its tolerance (948 units worth 3.8e-7 in
    all on one instance). ``repaired``: the choice broke a limit. Counts ``None`` if the result
    still breaks a capacity by more than :data:`CAPACITY_SLACK` (never seen; the caller keeps its plan).
    """
    n = len(units.cell_w)
    x = np.bincount(np.repeat(np.arange(n), np.diff(units.cell_ptr))[chosen], minlength=n).astype(np.int64)
    taken = int(x.sum())
    _keep_supply(units, x)
    repaired = int(x.sum()) < taken or bool((_volume(units, x) > units.cap * kernels.ROOM).any())
    no_lam, no_nu = np.zeros(len(units.cap)), np.zeros(len(units.supply))
    kernels.repair_fill(x, units.primal_arrays(), np.empty(n), np.empty(n, dtype=np.int64), no_lam, no_nu,
                        np.empty(n))
    fits = (_volume(units, x) <= units.cap * (1 + CAPACITY_SLACK)).all()
    within = (np.bincount(units.cell_s, weights=x, minlength=len(units.supply)) <= units.supply).all()
    return (x if fits and within else None), repaired


def _volume(units: Units, x: np.ndarray) -> np.ndarray:
    """Volume used per warehouse by the counts ``x`` per grouped cell."""
    return np.bincount(units.cell_w, weights=x * units.vol[units.cell_s], minlength=len(units.cap))


def _keep_supply(units: Units, x: np.ndarray) -> None:
    """In place: every SKU over its supply keeps its ``supply`` best units (ties to the earlier unit)."""
    moved = np.bincount(units.cell_s, weights=x, minlength=len(units.supply))
    for s in np.flatnonzero(moved > units.supply):
        cells = np.arange(units.sku_ptr[s], units.sku_ptr[s + 1])
        owner = np.repeat(cells, x[cells])
        values = np.concatenate([units.val[units.cell_ptr[c]:units.cell_ptr[c] + x[c]] for c in cells])
        keep = np.argsort(-values, kind="stable")[: units.supply[s]]
        x[cells] = np.bincount(owner[keep] - cells[0], minlength=len(cells))
