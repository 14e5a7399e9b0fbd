"""The plans the model's plan is measured against, and the allocator that makes every plan.

* **zero**: nothing pre-positioned (value 0).
* **naive**: allocated on the average of the last ``backtest.naive_windows`` horizons.
* **truth** (synthetic data only): allocated on the generator's expected demand, what a
  perfect *probabilistic* forecast could capture: the ceiling for any model.
* **oracle** (perfect foresight): allocated on the units actually ordered, known exactly;
  its value is the denominator of every value captured.

Every plan is ``warehouse_id, sku, units`` allocated under the same constraints
(capacity in volume, supply in units) by :class:`Planner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from anticipate.backtest.realised import horizon_lines
from anticipate.backtest.replay import naive_demand

if TYPE_CHECKING:
    from anticipate.allocation.plan import SolveOptions


@dataclass(frozen=True)
class Planner:
    """Allocates a plan on a demand forecast under the data's warehouses, products and supply.

    ``move_cost``: ``warehouse_id, move_cost`` (currency per unit); ``value_local`` and
    ``cost_unsold`` the default g and h (currency per unit); ``allocate`` the ``allocate``
    config section (gap tolerance, the small-network rule of :func:`solve_configured`).
    """

    warehouses: pd.DataFrame
    products: pd.DataFrame
    supply: pd.DataFrame
    move_cost: pd.DataFrame
    value_local: float
    cost_unsold: float
    allocate: SolveOptions

    @classmethod
    def from_config(cls, ds: Any, cfg: Any, move_cost: pd.DataFrame) -> Planner:
        """The planner of a data set (its reference tables) and a config (economics, allocate)."""
        return cls(
            warehouses=ds.warehouses,
            products=ds.products,
            supply=ds.supply,
            move_cost=move_cost,
            value_local=cfg.economics.value_local,
            cost_unsold=cfg.economics.cost_unsold,
            allocate=cfg.allocate,
        )

    def instance(self, demand: pd.DataFrame) -> Any:
        """The allocation instance on ``demand`` (``warehouse_id, sku, mu, var``, units).

        Exit 2 (:class:`~anticipate.errors.DataError`) naming the file, row and column when
        the reference tables break a rule of the allocator.
        """
        from anticipate.allocation import instance_from_frames

        return instance_from_frames(
            warehouses=self.warehouses,
            products=self.products,
            supply=self.supply,
            forecast=demand[["warehouse_id", "sku", "mu", "var"]],
            move_cost=self.move_cost,
            default_g=self.value_local,
            default_h=self.cost_unsold,
        )

    def check(self) -> None:
        """Exit 2 now, before any model is trained, when the reference tables cannot be planned on."""
        self.instance(pd.DataFrame(columns=["warehouse_id", "sku", "mu", "var"]))

    def __call__(self, demand: pd.DataFrame, *, known: bool = False) -> pd.DataFrame:
        """The plan (``warehouse_id, sku, units``) allocated on ``demand`` (``warehouse_id, sku, mu[, var]``).

        ``known``: perfect foresight, a point mass at ``mu`` units. Being the denominator
        of every value captured, that plan is also handed to HiGHS (integer model, LP
        bound) under the small-network rule of ``allocate``: the Lagrangian plan
        alone is up to ~0.5% below the optimum there, which would inflate every ratio.
        """
        from anticipate.allocation import solve, solve_configured
        from anticipate.allocation.instance import Instance

        inst = self.instance(demand.assign(var=demand["mu"]) if known else demand)
        if not known:
            return solve(inst, gap_tolerance=self.allocate.gap_tolerance).units
        inst = Instance(inst.warehouses, inst.skus, inst.cells.assign(var=0.0))
        return solve_configured(inst, self.allocate).units


def zero_plan() -> pd.DataFrame:
    """The empty plan: nothing pre-positioned."""
    return pd.DataFrame({"warehouse_id": [], "sku": [], "units": pd.Series([], dtype=np.int64)})


def oracle_demand(actual: pd.DataFrame) -> pd.DataFrame:
    """Perfect foresight's demand ``warehouse_id, sku, mu`` from the units ordered (``units``)."""
    return actual.rename(columns={"units": "mu"})


def naive_reference(
    orders: pd.DataFrame, cutoff: pd.Timestamp, *, horizon_days: int, windows: int, region_map: pd.DataFrame
) -> pd.DataFrame:
    """``warehouse_id, sku, mu, var``: the naive demand from the last ``windows`` horizons before ``cutoff``.

    Lines are placed at the warehouse serving their customer's region at the window's
    start (as :func:`~anticipate.backtest.realised.horizon_lines` places them).
    """
    history = horizon_lines(
        orders, cutoff - pd.Timedelta(days=horizon_days * windows), horizon_days * windows, region_map
    )
    return naive_demand(history, cutoff, horizon_days=horizon_days, windows=windows)


def naive_windows_at(
    order_ts: pd.Series, cutoff: pd.Timestamp, *, horizon_days: int, windows: int,
    what: str = "the naive plan",
) -> tuple[int, str | None]:
    """The horizons the naive demand averages at ``cutoff``: ``windows`` (``backtest.naive_windows``), or
    as many whole horizons (of ``horizon_days``) as the history before it holds (at least 1), with a
    warning then (``what``: what averages them): dividing two weeks of orders by four would halve the
    naive's demand (:func:`~anticipate.demand.new_demand.capped_windows`). The one rule the plan backtest
    and the per-product backtest share."""
    from anticipate import dates
    from anticipate.demand.new_demand import capped_windows

    return capped_windows(dates.history_start(order_ts, cutoff), cutoff, horizon_days=horizon_days,
                          windows=windows, key="backtest.naive_windows", what=what, label="backtest cutoff")


def truth_demand(
    latent: Any, cutoff: pd.Timestamp, *, horizon_days: int, region_map: pd.DataFrame, n_regions: int
) -> pd.DataFrame:
    """``warehouse_id, sku, mu, var``: the generator's expected units per warehouse x SKU (Poisson).

    ``latent``: the synthetic world's latent state (:func:`anticipate.sample.load_latent`);
    regions served by the centre are left out, as are cells with no expected demand.
    """
    from anticipate.sample import true_region_demand

    demand = true_region_demand(latent, cutoff, horizon_days=horizon_days, n_regions=n_regions)
    mapped = demand.merge(region_map[["region", "warehouse_id"]], on="region", how="inner")
    mapped = mapped[mapped["warehouse_id"].notna()]
    out = mapped.groupby([mapped["warehouse_id"].astype(str), "sku"], as_index=False)["mu_true"].sum()
    out = out.rename(columns={"mu_true": "mu"})
    out["var"] = out["mu"]
    return out[out["mu"] > 0]
