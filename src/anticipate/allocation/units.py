"""Unit increments: every warehouse x SKU cell's positive marginal values, grouped by SKU.

A cell's ``k``-th unit is worth ``m_k = (g + h) P(D >= k) - (c + h)`` (currency), ``D`` its
demand over the horizon (NB with mean ``mu`` and variance ``var``, Poisson when equal);
only positive values are kept, at most the SKU's supply per cell. Layout: :mod:`._kernels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate.allocation import kernels
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
    unfit: int = 0  # positive-value units left out: larger than their warehouse's capacity

    def top_value(self) -> float:
        """The value of the most valuable unit increment (currency; 0 without units): the instance's
        scale, against which a bound is "nothing at stake" (:func:`.plan.certified_gap`)."""
        return float(self.val.max()) if len(self.val) else 0.0

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
    from scipy import stats

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
    """Position of each value in ``ids`` (an integer array): a validated instance's category codes as they
    are (int16/int32, no copy), else an Arrow hash lookup."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.categories.equals(pd.Index(ids)):
        return values.cat.codes.to_numpy()
    found = pc.index_in(pa.array(values.astype(str)), value_set=pa.array(ids.astype(str)))
    if found.null_count:
        raise ValueError("cells name an id missing from its table; build instances with validate_instance")
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def build_units(inst: Instance, *, jit: bool = True) -> Units:
    """Group the cells by SKU and compute each cell's positive marginal values: at most its SKU's supply
    and what its warehouse's capacity can hold (:func:`_cell_kmax`); refused (exit 2) beyond
    :data:`MAX_UNITS` (:func:`_check_size`)."""
    cells, skus = inst.cells, inst.skus
    s_code = _codes(cells["sku"], skus["sku"])
    order, sku_ptr = kernels.group(s_code, len(skus), jit=jit)
    s = np.repeat(np.arange(len(skus), dtype=np.int64), np.diff(sku_ptr))  # the SKU of each grouped cell
    g, h = skus["g"].to_numpy(float), skus["h"].to_numpy(float)
    supply = skus["supply"].to_numpy(np.int64)
    cell_w = _codes(cells["warehouse_id"], inst.warehouses["warehouse_id"])[order].astype(np.int64)
    vol, cap = skus["unit_volume"].to_numpy(float), inst.warehouses["capacity"].to_numpy(float)
    kmax = _cell_kmax(supply[s], cap[cell_w], vol[s])
    mu, var, move = (cells[c].to_numpy(float) for c in ("mu", "var", "move_cost"))
    _check_size(inst, order, mu[order], var[order], (g + h)[s], move[order] + h[s], kmax)
    cell_ptr, val, pre = kernels.unit_values(
        mu, var, (g + h)[s], move, kmax, rows=order, sku=np.arange(len(s)), sku_cost=h[s], jit=jit,
    )
    wh_cells, wh_ptr = kernels.group(cell_w, len(inst.warehouses), jit=jit)
    cell_ptr, val, pre, unfit = _without_unfit(cell_ptr, val, pre, vol[s] > cap[cell_w] * kernels.ROOM)
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
        vol=vol,
        supply=supply,
        cap=cap,
        unfit=unfit,
    )


#: The most unit increments an instance may need (8 bytes each while computed, 16 once stored): beyond it
#: the computation would need several GB, and an instance that large is a unit mistake (demand in grams).
MAX_UNITS = 2**29


def _cell_kmax(supply: np.ndarray, cap: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """Per cell, the most units a plan can ever put there: ``min(supply, capacity / unit_volume)`` (with the
    kernels' ``ROOM``); at least 1 where the SKU has supply, so a unit larger than its warehouse is still
    seen (and counted as ``unfit``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.floor(cap * kernels.ROOM / vol)
    return np.minimum(supply.astype(float), np.maximum(room, 1.0)).astype(np.int64)


def _check_size(inst: Instance, rows: np.ndarray, mu: np.ndarray, var: np.ndarray, gain: np.ndarray,
                cost: np.ndarray, kmax: np.ndarray) -> None:
    """Refuse (:class:`~anticipate.errors.DataError`, exit 2) an instance whose cells may need more than
    :data:`MAX_UNITS` unit increments, before any is computed: the kernels reserve, per cell, the bound
    of :func:`~anticipate.allocation._kernels.unit_values` (Cantelli's, at most ``kmax``), computed here
    the same way (one cell of mean demand 1e9 asked for 16 GB and ended in a MemoryError)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (gain - cost) / np.maximum(cost, 1e-9 * gain)
        est = np.floor(mu + np.sqrt(var * np.maximum(odds, 0.0))) + 2.0
    room = np.where((mu > 0) & (gain > cost) & (kmax > 0), np.minimum(kmax.astype(float), est), 0.0)
    if room.sum() <= MAX_UNITS:
        return
    from anticipate.errors import DataError

    top = int(np.argmax(room))
    cell = inst.cells.iloc[int(rows[top])]
    raise DataError(
        f"the instance may need {room.sum():,.0f} unit increments (one per unit a cell could hold), more "
        f"than {MAX_UNITS:,}: the cell of warehouse {cell['warehouse_id']} and SKU {cell['sku']} "
        f"(mu {cell['mu']:.6g}, var {cell['var']:.6g}) alone up to {room[top]:,.0f}, bounded only by its "
        "demand, its SKU's supply and its warehouse's capacity / unit_volume; check that mu and var count "
        "units (not grams or cents), and lower that SKU's supply or the warehouse's capacity to what can "
        "really be moved", column="mu")


def _without_unfit(
    cell_ptr: np.ndarray, val: np.ndarray, pre: np.ndarray, unfit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(cell_ptr, val, pre, units left out) without the units of the ``unfit`` cells (a unit larger
    than the warehouse's capacity): no plan can hold them, and the bounds then need not price them
    (a unit of volume 11 in a capacity of 10 gave the LP and Lagrangian bounds 10/11 of its value)."""
    per_cell = np.diff(cell_ptr)
    if not (unfit & (per_cell > 0)).any():
        return cell_ptr, val, pre, 0
    keep = np.repeat(~unfit, per_cell)
    kept = np.where(unfit, 0, per_cell)
    return (np.concatenate([[0], np.cumsum(kept)]).astype(np.int64), val[keep], pre[keep],
            int(per_cell[unfit].sum()))
