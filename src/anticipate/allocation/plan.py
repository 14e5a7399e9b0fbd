"""``solve(instance) -> Plan``, the small-network rule of the pipelines, and ``summary.json``'s content."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from anticipate.allocation.instance import CAPACITY_CAP, Instance
from anticipate.allocation.solver import lagrangian_solve
from anticipate.allocation.units import Units, build_units
from anticipate.allocation.validation import id_text

if TYPE_CHECKING:
    from anticipate.allocation.highs import Polish

GAP_TOLERANCE = 1e-4  # relative gap 1 - objective / bound at which the solver stops (allocate.gap_tolerance)


@dataclass(frozen=True)
class Plan:
    """An integer allocation with its certificate.

    ``units``: ``warehouse_id, sku, units`` (units > 0 only, sorted); ``objective``: the
    plan's exact expected value (currency); ``bound``: the Lagrangian upper bound;
    ``gap = 1 - objective / bound``; ``lp_bound``: the HiGHS LP bound when computed.
    """

    units: pd.DataFrame
    objective: float
    bound: float
    gap: float
    lp_bound: float | None
    capacity_used: pd.DataFrame  # warehouse_id, capacity, volume_used, share_used
    skus_capped_by_supply: list[str]
    runtime_seconds: float
    iterations: int
    extra: dict[str, str] = field(default_factory=dict)


def solve(
    inst: Instance,
    *,
    lp_bound: bool = False,
    polish_units: int = 0,
    max_iter: int = 300,
    gap_tolerance: float = GAP_TOLERANCE,
    lp_if_uncertified: bool = False,
) -> Plan:
    """Allocate: a feasible integer plan with a certified upper bound.

    The Lagrangian allocator always runs, until its relative gap ``1 - objective /
    bound`` is at most ``gap_tolerance`` or ``max_iter`` best responses. ``lp_bound``
    adds the HiGHS LP bound, ``lp_if_uncertified`` adds it only when the Lagrangian gap is
    above ``gap_tolerance`` (either way not beyond :data:`~anticipate.allocation.highs.LP_MAX_UNITS`
    unit increments; :func:`_exact_lp`); ``polish_units > 0`` lets HiGHS solve the integer model
    exactly when it has at most that many unit increments and the gap is still above
    ``gap_tolerance`` (small networks, where the integrality gap dominates), until its own
    gap is within ``gap_tolerance`` or its node limit; the best plan and the tightest bound
    are kept.
    """
    tol = gap_tolerance
    started = time.perf_counter()
    units = build_units(inst)
    result = lagrangian_solve(units, max_iter=max_iter, tol=tol)
    counts, objective = result.counts, result.objective
    bound = max(result.bound, objective)
    lp, notes, method = None, {}, "lagrangian"
    if lp_bound or lp_if_uncertified:
        lp, bound, notes = _exact_lp(inst, units, objective, bound, tol, asked=lp_bound)
    polish = "on" if 0 < len(units.val) <= polish_units else "off"  # the polish may run when needed
    if polish == "on" and certified_gap(objective, bound, tol, units.top_value()) > tol:
        from anticipate.allocation.highs import mip_polish

        # HiGHS stops once its own gap certifies the tolerance (ours, 1 - objective / bound, is no larger)
        polished = mip_polish(inst, units, rel_gap=tol)
        if polished is not None:
            counts, objective, bound, method = _with_polish(polished, counts, objective, bound)
    runtime = time.perf_counter() - started
    gap = certified_gap(objective, bound, tol, units.top_value())
    plan = _plan(inst, units, counts, objective, bound, gap, lp, runtime, result.iterations)
    plan.extra.update(method=method, polish=polish, **notes)
    if not len(plan.units):
        plan.extra["empty_cause"] = empty_plan_cause(units, inst)
        plan.extra["empty"] = empty_plan_warning(units, inst)
    return plan


def _exact_lp(
    inst: Instance, units: Units, objective: float, bound: float, tol: float, *, asked: bool
) -> tuple[float | None, float, dict[str, str]]:
    """(LP bound or None, bound, notes): the HiGHS LP bound weighed against the plan and the bound so far.

    Not computed (a note, ``lp_note``) when not ``asked`` and the Lagrangian gap already certifies
    ``tol``, or when the model has more than ``LP_MAX_UNITS`` columns (its memory; a warning,
    ``lp_warning``, when ``asked``). Not used (a warning) when HiGHS does not report it Optimal, or
    when it is below the plan's own value by more than :data:`SAME_VALUE`: a relaxation is worth at
    least every plan, so such a value proves HiGHS wrong, and taking ``max(lp, objective)`` turned
    it into a gap of 0. Otherwise ``bound = min(bound, max(lp, objective))``.
    """
    from anticipate.allocation.highs import LP_MAX_UNITS
    from anticipate.allocation.highs import lp_bound as highs_lp_bound

    if not asked and certified_gap(objective, bound, tol, units.top_value()) <= tol:
        return None, bound, {"lp_note": "the HiGHS LP bound was not computed: the Lagrangian bound already "
                                        "certifies the plan within allocate.gap_tolerance"}
    if len(units.val) > LP_MAX_UNITS:
        why = (f"the HiGHS LP bound was not computed: its model would have {len(units.val):,} unit "
               f"increments (columns), more than {LP_MAX_UNITS:,} (memory); the bound is the Lagrangian one")
        return None, bound, {"lp_warning" if asked else "lp_note": why}
    lp = highs_lp_bound(inst, units)
    failure = lp.failure
    if lp.value is not None and not math.isfinite(lp.value):  # (NaN would pass the comparison below)
        failure = f"HiGHS reported an LP optimum of {lp.value}"
    elif lp.value is not None and lp.value < objective - SAME_VALUE * abs(objective):
        failure = (f"HiGHS reported an LP optimum of {lp.value:.9g}, below the plan's own value "
                   f"{objective:.9g}, which no relaxation can be")
    if failure is not None:
        return None, bound, {"lp_warning": f"the exact LP bound failed and was not used ({failure}); the "
                                           "bound and gap are the Lagrangian method's"}
    return lp.value, min(bound, max(lp.value, objective)), {}


def certified_gap(objective: float, bound: float, tol: float, top_value: float) -> float:
    """``1 - objective / bound``; 0 when the bound is at most ``tol`` x ``top_value``.

    ``top_value``: the most valuable unit increment of the instance (currency,
    :meth:`~anticipate.allocation.units.Units.top_value`; 0 without units). A bound that small
    leaves less than ``tol`` of one unit's value at stake, so any plan is optimal to the
    tolerance: an instance where nothing fits has no units and a bound of 0, and its empty plan
    is optimal, not "up to 100% below". The floor scales with the instance: an instance priced
    in millions of currency units per unit value (1e-7 per unit) is not certified empty.
    """
    if bound <= tol * top_value:
        return 0.0
    return max(0.0, 1.0 - objective / bound)


SAME_VALUE = 1e-9  # relative: objectives this close are one value (the same units summed in another order)


def _with_polish(
    polished: Polish, counts: np.ndarray, objective: float, bound: float
) -> tuple[np.ndarray, float, float, str]:
    """(counts, objective, bound, method) once HiGHS's checked plan and its dual bound are weighed.

    Its plan (exactly feasible, value recomputed: :func:`~anticipate.allocation.highs.mip_polish`)
    replaces the Lagrangian one when at least as good up to :data:`SAME_VALUE`; its dual bound
    holds for every integer plan, so it tightens ``bound`` unless it is below the kept plan's
    value by more than that (a bound contradicted by a feasible plan is not used).
    """
    method = "lagrangian"
    if polished.objective >= objective - SAME_VALUE * abs(objective):
        counts, objective = polished.counts, polished.objective
        method = "lagrangian+highs-mip" + ("-repaired" if polished.repaired else "")
    if polished.dual_bound >= objective - SAME_VALUE * abs(objective):
        bound = min(bound, max(polished.dual_bound, objective))
    return counts, objective, bound, method


class SolveOptions(Protocol):
    """What :func:`solve_configured` reads (the ``allocate`` section of the configuration)."""

    lp_bound_max_cells: int
    polish_max_units: int
    gap_tolerance: float


def is_small_network(inst: Instance, max_cells: int) -> bool:
    """A network small enough for HiGHS: at most ``max_cells`` warehouse x SKU cells."""
    return len(inst.cells) <= max_cells


def solve_configured(inst: Instance, options: SolveOptions, *, lp_bound: bool = False) -> Plan:
    """:func:`solve` under the configured rule: small networks get the HiGHS LP bound and integer polish.

    A network of at most ``options.lp_bound_max_cells`` cells gets the exact LP bound when the
    Lagrangian gap is above ``options.gap_tolerance`` and, when it has at most
    ``options.polish_max_units`` unit increments, the HiGHS integer polish; ``lp_bound`` asks for
    the LP bound whatever the size and gap. The LP is built only up to
    :data:`~anticipate.allocation.highs.LP_MAX_UNITS` unit increments (its size is its columns,
    not its cells: 4 cells of a million units each took 2.6 GB). The solver stops at
    ``options.gap_tolerance``.
    """
    small = is_small_network(inst, options.lp_bound_max_cells)
    return solve(
        inst,
        lp_bound=lp_bound,
        lp_if_uncertified=small,
        polish_units=options.polish_max_units if small else 0,
        gap_tolerance=options.gap_tolerance,
    )


def _plan(
    inst: Instance,
    units: Units,
    counts: np.ndarray,
    objective: float,
    bound: float,
    gap: float,
    lp: float | None,
    runtime: float,
    iterations: int,
) -> Plan:
    """The :class:`Plan` of ``counts`` (units per row of ``inst.cells``), aggregated with integer codes."""
    rows = np.flatnonzero(counts > 0)
    plan_units = pd.DataFrame({key: id_text(inst.cells[key], rows) for key in ("warehouse_id", "sku")})
    plan_units["units"] = counts[rows].astype(np.int64)
    grouped = counts[units.cell_id]
    used = np.bincount(units.cell_w, weights=grouped * units.vol[units.cell_s], minlength=len(units.cap))
    capacity = pd.DataFrame(
        {
            "warehouse_id": inst.warehouses["warehouse_id"].to_numpy(),
            "capacity": units.cap,
            "volume_used": used,
        }
    )
    capacity["share_used"] = np.where(
        capacity["capacity"] > 0, capacity["volume_used"] / np.where(units.cap > 0, units.cap, 1.0), 0.0
    )
    moved = np.bincount(units.cell_s, weights=grouped, minlength=len(units.supply))
    capped = inst.skus["sku"].to_numpy()[(moved >= units.supply) & (units.supply > 0)].tolist()
    return Plan(
        plan_units, float(objective), float(bound), float(gap), lp, capacity, sorted(capped), runtime,
        iterations,
    )


def empty_plan_cause(units: Units, inst: Instance) -> str:
    """Why a plan holds no unit, as a word: ``capacity``, ``supply``, ``move_cost`` (every cell with
    supply costs at least its SKU's value of a local sale g to move into: no demand makes a unit worth
    it), ``value`` (no cell's first unit worth moving otherwise), ``volume`` or ``solver``."""
    if not len(units.cap) or units.cap.max() <= 0:
        return "capacity"
    if not len(units.supply) or units.supply.max() <= 0:
        return "supply"
    if len(units.val):
        return "solver"
    if units.unfit:
        return "volume"
    skus = inst.skus.set_index("sku")
    g, supply = inst.cells["sku"].map(skus["g"]), inst.cells["sku"].map(skus["supply"])
    stocked, move = supply.to_numpy(float) > 0, inst.cells["move_cost"].to_numpy(float)
    if stocked.any() and (move[stocked] >= g.to_numpy(float)[stocked]).all():
        return "move_cost"
    return "value"


def empty_plan_warning(units: Units, inst: Instance) -> str:
    """Why a plan holds no unit, read off the instance's unit increments (a warning for the plan's summary).

    In order (:func:`empty_plan_cause`): no capacity anywhere; no central supply; every move costing
    at least the value of a local sale; no cell whose first unit is worth moving
    (``m_1 = (g + h) P(D >= 1) - (c + h) <= 0`` everywhere, docs/allocation.md); no worthwhile
    unit whose volume fits the capacity of its warehouse.
    """
    cause = empty_plan_cause(units, inst)
    if cause == "move_cost":
        cheapest = float(inst.cells["move_cost"].min())
        why = (f"moving a unit costs at least its value of a local sale g in every cell with supply (the "
               f"cheapest move costs {cheapest:,.6g}, the largest g is {float(inst.skus['g'].max()):,.6g}), "
               "so no unit is worth moving whatever its demand; lower the move costs (in anticipate "
               "allocate: economics.move_cost_per_km, currency per unit per km) or, if g is what is wrong, "
               "raise it (economics.value_local or products.value_local)")
    else:
        why = EMPTY_WHY[cause]
    return f"the plan is empty (0 units): {why}"


EMPTY_WHY = {  # empty_plan_warning's reason, by empty_plan_cause (move_cost is worded with its numbers)
    "capacity": "every warehouse's capacity is 0",
    "supply": "every SKU's central supply is 0",
    "value": ("no cell's first unit is worth moving: (g + h) P(demand >= 1) <= move_cost + h in every cell "
              "with supply; check the SKUs' g (value of a local sale: economics.value_local or "
              "products.value_local) against h (economics.cost_unsold) and the move costs "
              "(economics.move_cost_per_km)"),
    "volume": ("no unit worth moving fits: each such SKU's unit_volume exceeds its warehouses' capacity; "
               "check that unit_volume and capacity use the same volume unit"),
    "solver": "the solver placed no unit although some would fit and are worth moving",
}


STOPPED = {  # why an uncertified plan stopped, by ``Plan.extra["polish"]``
    "on": "at its work limits: its best responses, then the HiGHS integer polish's branch-and-bound nodes",
    "off": ("at its limit of best responses; the HiGHS integer polish, which certifies small networks, did "
            "not run: it runs on networks of at most allocate.lp_bound_max_cells cells and "
            "allocate.polish_max_units unit increments (raise them in your config to ask for it)"),
}


def gap_warning(gap: float, tolerance: float, polish: str | None = None) -> str | None:
    """The warning a plan carries when its certified relative gap (objective vs its tightest bound)
    is above ``allocate.gap_tolerance``; ``None`` when the plan is certified within it.
    ``polish``: whether the HiGHS polish could run (``Plan.extra["polish"]``: ``on``/``off``)."""
    if gap <= tolerance:
        return None
    return (f"the plan is feasible but not certified within allocate.gap_tolerance: gap {gap:.2e} > "
            f"{tolerance:.0e} (the solver stopped {STOPPED.get(polish or '', 'at its work limits')}); "
            f"its value may be up to {gap:.2%} below the best plan")


def plan_summary(plan: Plan, digests: dict[str, str], gap_tolerance: float) -> dict[str, object]:
    """The ``summary.json`` content (objective, bound, gap, capacity used ...), rounded for stable bytes,
    with a ``warning`` in the file itself when the plan is empty (:func:`empty_plan_warning`) or its
    gap is above ``gap_tolerance`` (:func:`gap_warning`)."""
    gap = gap_warning(plan.gap, gap_tolerance, plan.extra.get("polish"))
    warning = " ".join(w for w in (plan.extra.get("empty"), plan.extra.get("lp_warning"), gap) if w)
    note = plan.extra.get("lp_note")
    return (_summary_fields(plan, digests) | ({"lp_bound_note": note} if note else {})
            | ({"warning": warning} if warning else {}))


def _summary_fields(plan: Plan, digests: dict[str, str]) -> dict[str, object]:
    cap = plan.capacity_used

    def significant(x: float) -> float:  # 12 significant digits, not 6 decimals: an instance whose values
        return float(f"{x:.12g}")  # are in millions published objective 1e-06 for 8.86e-07 (audit33B C1)

    return {
        "objective": significant(plan.objective),
        "bound": significant(plan.bound),
        "gap": round(plan.gap, 9),
        "lp_bound": None if plan.lp_bound is None else significant(plan.lp_bound),
        "units": int(plan.units["units"].sum()) if len(plan.units) else 0,
        "cells": len(plan.units),
        "capacity_used": {
            w: {
                "capacity": None if c >= CAPACITY_CAP else round(float(c), 6),
                "volume_used": round(float(u), 6),
                "share_used": round(float(s), 6),
            }
            for w, c, u, s in cap[["warehouse_id", "capacity", "volume_used", "share_used"]].itertuples(
                index=False
            )
        },
        "skus_capped_by_supply": plan.skus_capped_by_supply,
        "runtime_seconds": round(plan.runtime_seconds, 3),
        "iterations": plan.iterations,
        "method": plan.extra.get("method", "lagrangian"),
        "inputs": dict(sorted(digests.items())),
    }
