"""Seeded allocation instance families, each stressing one property of real networks.

``instance(family, n_warehouses, n_skus, seed)`` builds an :class:`~anticipate.allocation.Instance`
on the fly (every warehouse x SKU cell listed). ``ours`` is the project's own generator;
the others start from one plain base (log-normal popularity and volumes, Poisson-ish
cells, tight capacity and supply) and change one thing:

- ``zipf``: Zipf-like SKU popularity (rank^-1.1) times warehouse size: a few hot cells
  hold hundreds of units;
- ``volume_spread``: unit volumes log-uniform over 0.01-40 (three orders of magnitude);
- ``slack``: a tenth of the warehouses with 3x the capacity they need (price 0 at the optimum);
- ``zeros``: a tenth of the SKUs with zero supply, a tenth of the cells with zero mean;
- ``dispersion``: 40% Poisson cells, the rest negative binomial with r in 0.5-50;
- ``move_cost``: per-cell move cost = volume x distance from a central depot (km) x rate;
- ``tightness``: per-warehouse capacity 0.3-1.4 of its unconstrained need;
- ``short_supply``: half the SKUs get 0.2-0.6 of their demand, the other half 1.5-3x;
- ``combined``: all of the above at once.

Units: ``mu``/``var`` units over the horizon, ``capacity`` and ``unit_volume`` volume,
``g``/``h``/``move_cost`` currency per unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROPERTIES = (
    "zipf", "volume_spread", "slack", "zeros", "dispersion", "move_cost", "tightness", "short_supply",
)
FAMILIES = ("ours", *PROPERTIES, "combined")


def _popularity(rng: np.random.Generator, n_s: int, zipf: bool) -> np.ndarray:
    """Expected units per SKU summed over warehouses of mean size 1."""
    if not zipf:
        return rng.lognormal(0.0, 0.8, n_s) * 2.0
    rank = rng.permutation(n_s) + 1.0
    return 400.0 * rank**-1.1 + rng.lognormal(0.0, 0.8, n_s)


def _cells(rng: np.random.Generator, n_w: int, n_s: int, props: set[str]) -> dict[str, np.ndarray]:
    """Per cell (warehouse-major): w, s, mu, var, and per SKU vol; per warehouse x, y (km)."""
    vol = np.exp(rng.uniform(np.log(0.01), np.log(40.0), n_s)) if "volume_spread" in props else (
        rng.lognormal(0.0, 0.5, n_s))
    pop = _popularity(rng, n_s, "zipf" in props)
    size = rng.uniform(0.5, 2.0, n_w)
    w = np.repeat(np.arange(n_w), n_s)
    s = np.tile(np.arange(n_s), n_w)
    mu = pop[s] * size[w] * rng.lognormal(0.0, 0.3, len(w))
    if "zeros" in props:
        mu[rng.random(len(w)) < 0.1] = 0.0
    if "dispersion" in props:
        r = np.exp(rng.uniform(np.log(0.5), np.log(50.0), len(w)))
        var = np.where(rng.random(len(w)) < 0.4, mu, mu + mu * mu / r)
    else:
        var = mu * rng.uniform(1.0, 3.0, len(w))
    xy = rng.uniform(-500.0, 500.0, (n_w, 2))
    return {"w": w, "s": s, "mu": mu, "var": var, "vol": vol, "xy": xy}


def _move_cost(rng: np.random.Generator, c: dict[str, np.ndarray], props: set[str]) -> np.ndarray:
    if "move_cost" not in props:
        return rng.uniform(0.05, 0.6, len(c["w"]))
    km = np.hypot(c["xy"][:, 0], c["xy"][:, 1])
    return 0.02 + 0.0008 * c["vol"][c["s"]] * km[c["w"]]


def _capacity_share(rng: np.random.Generator, n_w: int, props: set[str]) -> np.ndarray:
    """Capacity as a share of each warehouse's unconstrained need (see :func:`_unconstrained_need`)."""
    share = rng.uniform(0.3, 1.4, n_w) if "tightness" in props else 0.5 * rng.uniform(0.7, 1.3, n_w)
    if "slack" in props:
        share = np.where(rng.random(n_w) < 0.1, 3.0, share)
    return share


def _unconstrained_need(inst: object) -> np.ndarray:
    """Volume per warehouse of the best plan without capacity limits (supply still binds)."""
    from anticipate.allocation.solver import Workspace, best_response, build_units

    units = build_units(inst)
    ws = Workspace(units)
    best_response(units, np.zeros(len(units.cap)), ws, warm=False)
    return ws.used.copy()


def _supply(rng: np.random.Generator, c: dict[str, np.ndarray], n_s: int, props: set[str]) -> np.ndarray:
    demand = np.bincount(c["s"], weights=c["mu"], minlength=n_s)
    if "short_supply" in props:
        share = np.where(rng.random(n_s) < 0.5, rng.uniform(0.2, 0.6, n_s), rng.uniform(1.5, 3.0, n_s))
    else:
        share = 0.5 * rng.uniform(0.6, 1.4, n_s)
    supply = np.floor(demand * share).astype(np.int64)
    if "zeros" in props:
        supply[rng.random(n_s) < 0.1] = 0
    return supply


def frames(family: str, n_w: int, n_s: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(warehouses, skus, cells) frames of one family's instance, valid and sorted as validation sorts them.

    Cells' ids are categoricals over the tables' ids, as validation returns them.

    Capacities are a share of each warehouse's unconstrained need (the volume its
    cells would take with supply as the only limit), so capacity binds as intended
    whatever the family does to demand and supply.
    """
    from anticipate.allocation import Instance

    if family not in FAMILIES or family == "ours":
        raise ValueError(f"family {family!r} is not one of {FAMILIES[1:]}")
    props = set(PROPERTIES) if family == "combined" else {family}
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    c = _cells(rng, n_w, n_s, props)
    wids = np.array([f"W{i:04d}" for i in range(n_w)])
    sids = np.array([f"S{i:06d}" for i in range(n_s)])
    cells = pd.DataFrame({"warehouse_id": pd.Categorical.from_codes(c["w"], categories=pd.Index(wids)),
                          "sku": pd.Categorical.from_codes(c["s"], categories=pd.Index(sids)),
                          "mu": c["mu"], "var": c["var"], "move_cost": _move_cost(rng, c, props)})
    skus = pd.DataFrame({"sku": sids, "unit_volume": c["vol"], "supply": _supply(rng, c, n_s, props),
                         "g": rng.uniform(2.0, 6.0, n_s), "h": rng.uniform(0.2, 1.0, n_s)})
    c.clear()  # the frames hold their own copies: the 10 M-entry draws are not kept through the solve below
    share = _capacity_share(rng, n_w, props)
    unlimited = pd.DataFrame({"warehouse_id": wids, "capacity": np.full(n_w, 1e15)})
    need = _unconstrained_need(Instance(unlimited, skus, cells))
    warehouses = pd.DataFrame({"warehouse_id": wids, "capacity": np.round(need * share, 2)})
    return warehouses, skus, cells


def instance(family: str, n_w: int, n_s: int, seed: int, *, validate: bool = False) -> object:
    """The instance of ``family`` at ``n_w`` warehouses x ``n_s`` SKUs (all cells listed).

    The frames are built valid and sorted, so validation (seconds at 10 M cells) is
    optional; ``validate`` runs it (tests do).
    """
    from anticipate.allocation import Instance, generate_instance, validate_instance

    if family == "ours":
        return generate_instance(n_w, n_s, seed=seed)
    parts = frames(family, n_w, n_s, seed)
    return validate_instance(*parts) if validate else Instance(*parts)
