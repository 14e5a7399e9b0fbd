"""Solve an allocation instance: an integer plan and a certified Lagrangian upper bound.

The capacity constraints are priced (``lam_w`` per unit of volume); for fixed prices
the problem splits per SKU and the best response is exact (the ``supply`` best units
of positive reduced value ``m_k - lam_w v_s``). So for any ``lam >= 0``

    L(lam) = sum_s best_response_s(lam) + sum_w lam_w Cap_w  >=  LP optimum  >=  integer optimum,

and we minimise ``L`` by projected subgradient steps with Polyak step sizes, keeping
the best bound. Each iterate's best response, made feasible (drop the lowest value
per volume from over-full warehouses) and filled greedily, is a candidate plan; the
best plan's exact expected objective is reported with ``gap = 1 - objective / bound``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from anticipate.allocation import _kernels as kernels
from anticipate.allocation.instance import Instance


@dataclass(frozen=True)
class Units:
    """Unit increments of every cell with positive marginal value (see :mod:`._kernels`)."""

    val: np.ndarray
    cell: np.ndarray
    w: np.ndarray
    s: np.ndarray
    vol: np.ndarray
    sku_ptr: np.ndarray


def tail_probabilities(mu: np.ndarray, var: np.ndarray, k: np.ndarray) -> np.ndarray:
    """P(D >= k) for D ~ NB(mean mu, variance var) (Poisson when var == mu; 0 when mu == 0).

    ``var == 0`` with ``mu > 0`` is known demand (the backtest's perfect foresight): D = mu.
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


RECURRENCE_MAX_MU = 300.0  # above this P(D = 0) underflows: those cells use scipy's tails


def build_units(inst: Instance) -> Units:
    """Every positive-value unit increment, sorted by SKU, cell and k."""
    cells = inst.cells
    sku_pos = pd.Index(inst.skus["sku"]).get_indexer(cells["sku"])
    w_pos = pd.Index(inst.warehouses["warehouse_id"]).get_indexer(cells["warehouse_id"])
    g = inst.skus["g"].to_numpy(float)[sku_pos]
    h = inst.skus["h"].to_numpy(float)[sku_pos]
    c = cells["move_cost"].to_numpy(float)
    mu, var = cells["mu"].to_numpy(float), cells["var"].to_numpy(float)
    cap = inst.skus["supply"].to_numpy(np.int64)[sku_pos]
    big = mu > RECURRENCE_MAX_MU
    counts, values = kernels.unit_values(np.where(big, 0.0, mu), var, g + h, c + h, cap)
    cell = np.repeat(np.arange(len(cells)), counts)
    val = values
    if big.any():
        threshold = np.divide(c + h, g + h, out=np.ones_like(g), where=(g + h) > 0)
        kmax = np.zeros(len(mu), dtype=np.int64)
        kmax[big] = _max_units(mu[big], var[big], threshold[big], cap[big])
        big_cell = np.repeat(np.arange(len(cells)), kmax)
        k = np.arange(len(big_cell)) - np.repeat(np.cumsum(kmax) - kmax, kmax) + 1
        big_val = (g + h)[big_cell] * tail_probabilities(mu[big_cell], var[big_cell], k) - (c + h)[big_cell]
        cell, val = np.concatenate([cell, big_cell]), np.concatenate([val, big_val])
    keep = val > 0
    cell, val = cell[keep], val[keep]
    order = np.argsort(sku_pos[cell], kind="stable")  # cells and each cell's k are already in order
    cell, val = cell[order], val[order]
    s = sku_pos[cell].astype(np.int64)
    sku_ptr = np.searchsorted(s, np.arange(len(inst.skus) + 1)).astype(np.int64)
    vol = inst.skus["unit_volume"].to_numpy(float)[s]
    return Units(val, cell.astype(np.int64), w_pos[cell].astype(np.int64), s, vol, sku_ptr)


def _max_units(mu: np.ndarray, var: np.ndarray, threshold: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """Per cell, the last k with P(D >= k) > threshold (so m_k > 0), at most the SKU's supply."""
    out = np.zeros(len(mu), dtype=np.int64)
    known = (mu > 0) & (var <= 0)
    out[known] = np.where(threshold[known] < 1, np.floor(mu[known]), 0)
    live = (mu > 0) & (threshold < 1) & ~known
    pois = live & (var <= mu * (1 + 1e-9))
    out[pois] = stats.poisson.isf(threshold[pois], mu[pois]) + 1
    nb = live & ~pois
    r = mu[nb] ** 2 / (var[nb] - mu[nb])
    out[nb] = stats.nbinom.isf(threshold[nb], r, r / (r + mu[nb])) + 1
    return np.minimum(np.nan_to_num(out, nan=0).astype(np.int64), supply)


@dataclass
class SolveResult:
    """Counts per cell, objective, bound and the prices that certify it."""

    counts: np.ndarray
    objective: float
    bound: float
    prices: np.ndarray
    iterations: int


def _primal(
    take: np.ndarray, units: Units, cap: np.ndarray, supply: np.ndarray, order: np.ndarray, n_cells: int
) -> tuple[np.ndarray, float]:
    feasible = kernels.repair_fill(take, units.val, units.w, units.s, units.vol, cap, supply, order)
    chosen = feasible.astype(bool)
    counts = np.bincount(units.cell[chosen], minlength=n_cells)
    return counts, float(units.val[chosen].sum())


PRIMAL_EVERY = 4  # repair a candidate plan every few iterations, and whenever the bound improves


def lagrangian_solve(inst: Instance, units: Units, *, max_iter: int = 300, tol: float = 1e-4) -> SolveResult:
    """Projected subgradient on capacity prices with Polyak steps; best bound and best plan kept."""
    cap = inst.warehouses["capacity"].to_numpy(float)
    supply = inst.skus["supply"].to_numpy(np.int64)
    n_w, n_cells = len(cap), len(inst.cells)
    order = np.argsort(-units.val / units.vol, kind="stable").astype(np.int64)
    lam = np.zeros(n_w)
    best = SolveResult(np.zeros(n_cells, dtype=np.int64), 0.0, np.inf, lam.copy(), 0)
    step_scale = 1.0
    for it in range(max_iter):
        value, take, used = kernels.select(lam, units.val, units.w, units.vol, units.sku_ptr, supply, n_w)
        bound = value + float(lam @ cap)
        if bound < best.bound:
            best.bound, best.prices = bound, lam.copy()
        else:
            step_scale *= 0.9
        if it % PRIMAL_EVERY == 0 or bound <= best.bound:
            counts, objective = _primal(take, units, cap, supply, order, n_cells)
            if objective > best.objective:
                best.counts, best.objective = counts, objective
        best.iterations = it + 1
        grad = cap - used
        slack = np.where(lam > 0, grad, np.minimum(grad, 0.0))
        norm = float(slack @ slack)
        if norm <= 1e-18 or best.bound - best.objective <= tol * max(abs(best.bound), 1e-9):
            break
        step = step_scale * (bound - best.objective) / norm
        lam = np.maximum(lam - step * grad, 0.0)
    return best
