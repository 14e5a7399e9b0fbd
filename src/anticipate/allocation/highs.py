"""The exact reference: the unit-increment LP solved with HiGHS (through ``highspy``).

Variables ``0 <= y_u <= 1`` per positive-value unit increment, maximise
``sum m_u y_u`` subject to warehouse volume and SKU supply. Its optimum is the LP
bound of CONTRACTS section 4 (>= any integer plan, <= every Lagrangian bound).
Affordable for small instances only (tests, ``--lp-bound``).
"""

from __future__ import annotations

import numpy as np

from anticipate.allocation.instance import Instance
from anticipate.allocation.solver import Units


def lp_bound(inst: Instance, units: Units) -> float:
    """The optimum of the unit-increment LP relaxation (currency)."""
    import highspy

    n = len(units.val)
    if n == 0:
        return 0.0
    n_w, n_s = len(inst.warehouses), len(inst.skus)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
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
    # column-wise: each unit has its volume in its warehouse row and 1 in its SKU row
    rows = np.empty(2 * n, dtype=np.int32)
    rows[0::2] = units.w
    rows[1::2] = n_w + units.s
    values = np.empty(2 * n)
    values[0::2] = units.vol
    values[1::2] = 1.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * n + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = rows
    lp.a_matrix_.value_ = values
    h.passModel(lp)
    h.run()
    return float(h.getInfo().objective_function_value)
