"""Replay the real orders after a cutoff against a plan, and the naive reference demand.

Lines of ``[t, t + H)`` are served in time order: each from its customer's nearest
warehouse while that warehouse still holds plan stock of the SKU (a line larger
than the stock left is served partly; the rest ships from the centre), everything
else from the centre. Realised value, in currency:

    V(x) = sum_s g_s * local_units_s - sum_ws c_ws * x_ws - sum_ws h_s * unsold_ws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate.backtest._kernels import replay_lines


@dataclass(frozen=True)
class Economics:
    """Per-SKU value g and unsold cost h, per-warehouse move cost c (currency per unit)."""

    g: pd.Series  # by sku
    h: pd.Series  # by sku
    move_cost: pd.Series  # by warehouse_id

    @classmethod
    def from_tables(
        cls, products: pd.DataFrame, move_cost: pd.DataFrame, *, default_g: float, default_h: float
    ) -> Economics:
        """The economics the allocator plans with: ``g``/``h`` per SKU as the allocation instance
        derives them from ``products`` (defaults ``economics.value_local``/``cost_unsold``), and
        ``move_cost`` (``warehouse_id, move_cost``, currency per unit moved) per warehouse.
        """
        from anticipate.allocation.instance import sku_economics

        gh = sku_economics(products, default_g=default_g, default_h=default_h)
        return cls(g=gh["g"], h=gh["h"], move_cost=move_cost.set_index("warehouse_id")["move_cost"])


@dataclass(frozen=True)
class ReplayResult:
    """What a plan earned when the real orders arrived."""

    value: float
    local_units: int
    total_units: int
    units_moved: int
    units_unsold: int
    km_saved: float
    by_warehouse: pd.DataFrame  # warehouse_id, demand_units, local_units, fill_rate_local

    @property
    def fill_rate_local(self) -> float:
        """Share of all units ordered in the horizon that were served locally."""
        return self.local_units / self.total_units if self.total_units else 0.0


def replay(
    lines: pd.DataFrame, plan: pd.DataFrame, econ: Economics, *, km_saved_by_region: pd.Series | None = None
) -> ReplayResult:
    """Replay ``lines`` (``order_ts, sku, quantity, region, warehouse_id``; time-ordered) against ``plan``.

    ``plan``: ``warehouse_id, sku, units``. Lines are sorted by time here too (stable),
    so ties keep their given order.
    """
    lines = lines.sort_values("order_ts", kind="stable").reset_index(drop=True)
    warehouses = pd.Index(sorted(set(econ.move_cost.index.astype(str))))
    skus = pd.Index(sorted(set(lines["sku"].astype(str)) | set(plan["sku"].astype(str))))
    stock = np.zeros((len(warehouses), len(skus)), dtype=np.int64)
    pw, ps = (
        warehouses.get_indexer(plan["warehouse_id"].astype(str)),
        skus.get_indexer(plan["sku"].astype(str)),
    )
    np.add.at(stock, (pw, ps), plan["units"].to_numpy(np.int64))
    wh = lines["warehouse_id"]
    line_w = np.where(wh.isna(), -1, warehouses.get_indexer(wh.fillna("").astype(str)))
    local, left = replay_lines(
        line_w, skus.get_indexer(lines["sku"].astype(str)), lines["quantity"].to_numpy(), stock
    )
    g = econ.g.reindex(skus).fillna(0.0).to_numpy()
    h = econ.h.reindex(skus).fillna(0.0).to_numpy()
    c = econ.move_cost.reindex(warehouses).fillna(0.0).to_numpy()
    value = (
        (g[skus.get_indexer(lines["sku"].astype(str))] * local).sum()
        - (c[:, None] * stock).sum()
        - (h[None, :] * left).sum()
    )
    saved = 0.0
    if km_saved_by_region is not None:
        saved = float(
            (km_saved_by_region.reindex(lines["region"].astype(str)).fillna(0.0).to_numpy() * local).sum()
        )
    per_wh = pd.DataFrame({"warehouse_id": lines["warehouse_id"], "qty": lines["quantity"], "local": local})
    per_wh = (
        per_wh[per_wh["warehouse_id"].notna()].groupby("warehouse_id", as_index=False)[["qty", "local"]].sum()
    )
    per_wh = per_wh.rename(columns={"qty": "demand_units", "local": "local_units"})
    per_wh["fill_rate_local"] = per_wh["local_units"] / per_wh["demand_units"].where(
        per_wh["demand_units"] > 0
    )
    return ReplayResult(
        value=float(value),
        local_units=int(local.sum()),
        total_units=int(lines["quantity"].sum()),
        units_moved=int(stock.sum()),
        units_unsold=int(left.sum()),
        km_saved=saved,
        by_warehouse=per_wh,
    )


def naive_demand(
    history_lines: pd.DataFrame, cutoff: pd.Timestamp, *, horizon_days: int, windows: int = 4
) -> pd.DataFrame:
    """``warehouse_id, sku, mu, var``: the average of the last ``windows`` horizon-length windows (Poisson).

    ``history_lines`` are lines before ``cutoff`` with their serving ``warehouse_id``.
    """
    start = cutoff - pd.Timedelta(days=horizon_days * windows)
    recent = history_lines[(history_lines["order_ts"] >= start) & (history_lines["order_ts"] < cutoff)]
    recent = recent[recent["warehouse_id"].notna()]
    mu = recent.groupby([recent["warehouse_id"].astype(str), "sku"])["quantity"].sum() / windows
    out = mu.rename("mu").reset_index()
    out["var"] = out["mu"]
    return out[out["mu"] > 0].reset_index(drop=True)


def value_captured(v_plan: float, v_oracle: float) -> float:
    """``V(plan) / V(oracle)``; NaN when the oracle earns nothing."""
    return float(v_plan / v_oracle) if v_oracle > 0 else float("nan")
