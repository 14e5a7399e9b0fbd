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
"""

from __future__ import annotations

import os
import sys

import numpy as np

from anticipate.allocation.instance import Instance
from anticipate.allocation.units import Units


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


POLISH_NODES = 100  # branch-and-bound nodes of the integer polish: a work limit, the same on any machine


def _highs(
    inst: Instance, units: Units, *, integer: bool, max_nodes: int | None = None, rel_gap: float = 1e-7
) -> object:
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
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, n_w + n_s
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = units.val.astype(float)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.full(n_w + n_s, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate(
        [inst.warehouses["capacity"].to_numpy(float), inst.skus["supply"].to_numpy(float)]
    )
    w, s, vol, _ = units.columns()
    rows = np.empty(2 * n, dtype=np.int32)  # column-wise: volume in the warehouse row, 1 in the SKU row
    rows[0::2] = w
    rows[1::2] = n_w + s
    values = np.empty(2 * n)
    values[0::2] = vol
    values[1::2] = 1.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * n + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = rows
    lp.a_matrix_.value_ = values
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    h.run()
    return h


def lp_bound(inst: Instance, units: Units) -> float:
    """The optimum of the unit-increment LP relaxation (currency)."""
    if len(units.val) == 0:
        return 0.0
    return float(_highs(inst, units, integer=False).getInfo().objective_function_value)


def mip_polish(
    inst: Instance, units: Units, *, max_nodes: int = POLISH_NODES, rel_gap: float = 1e-7
) -> tuple[np.ndarray, float, float] | None:
    """Solve the integer model: (counts per cell, objective, HiGHS dual bound), or None without a solution.

    Stops when HiGHS's relative gap (dual bound - objective) / objective is at most
    ``rel_gap``, or after ``max_nodes`` branch-and-bound nodes; never by seconds (single
    thread, fixed seed): the same plan on a fast or a slow, idle or loaded machine.
    """
    import highspy

    if len(units.val) == 0:
        return None
    h = _highs(inst, units, integer=True, max_nodes=max_nodes, rel_gap=rel_gap)
    if h.getInfo().primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return None
    y = np.round(np.asarray(h.getSolution().col_value)).astype(bool)
    counts = np.bincount(units.columns()[3][y], minlength=len(inst.cells))
    return counts, float(units.val[y].sum()), float(h.getInfo().mip_dual_bound)
