"""Simulating the order lines of a latent world (vectorised numpy; ~10M lines in well under a minute).

Integer codes throughout: customers, SKUs and regions are row numbers of the latent
tables (whose ids sort in the same order), days count from ``start``. Strings are
built once at the end, as Arrow arrays.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anticipate.config import SampleConfig

from .world import Latent, category_bounds, day_multiplier, draw_latent, weekly_popularity


def _strings(values: pd.Series | np.ndarray, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a pandas ``str`` Series, without one Python object per row."""
    taken = pc.take(pa.array(np.asarray(values, dtype=object), type=pa.large_string()), pa.array(codes))
    return pd.Series(taken, dtype="str")


def _browse_orders(rng: np.random.Generator, latent: Latent) -> tuple[np.ndarray, np.ndarray]:
    """(customer, day) of every browse order: Poisson with rate ``lam * multiplier(day)`` while alive.

    Drawn as a Poisson total per customer over its alive days and then spread over those
    days in proportion to the multiplier (the same law as independent daily counts).
    """
    c = latent.customers
    cum = np.concatenate([[0.0], np.cumsum(day_multiplier(latent, np.arange(latent.days)))])
    lo = c["arrival"].to_numpy()
    hi = np.minimum(c["death"].to_numpy(), latent.days)
    mass = np.where(hi > lo, cum[np.maximum(hi, lo)] - cum[lo], 0.0)
    n = rng.poisson(c["lam"].to_numpy() * mass)
    who = np.repeat(np.arange(len(c)), n)
    u = cum[lo[who]] + rng.random(len(who)) * mass[who]
    day = np.clip(np.searchsorted(cum, u, side="right") - 1, lo[who], hi[who] - 1)
    return who, day


def _browse_skus(rng: np.random.Generator, latent: Latent, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The SKU of each browse line: the week's popularity, tilted by ``boost`` to the affinity category.

    A mixture: with probability ``1 / Z`` a draw from the whole week's popularity, else a
    draw from the affinity category's SKUs, where ``Z = 1 + (boost - 1) * share(category)``.
    """
    weeks = np.arange(latent.days // 7 + 1)
    pop = weekly_popularity(latent, weeks)
    cum = np.cumsum(pop, axis=1)
    cum0 = np.concatenate([np.zeros((len(weeks), 1)), cum], axis=1)  # cum0[w, k] = mass of SKUs < k
    bounds, cats = category_bounds(latent)
    aff = cats.get_indexer(latent.customers["affinity"].to_numpy())[cust]
    boost = latent.customers["boost"].to_numpy()[cust]
    w = day // 7
    a_lo, a_hi = cum0[w, bounds[aff]], cum0[w, bounds[aff + 1]]
    z = 1.0 + (boost - 1.0) * (a_hi - a_lo)
    u = rng.random(len(cust))
    in_cat = rng.random(len(cust)) * z >= 1.0
    target = np.where(in_cat, a_lo + u * (a_hi - a_lo), u) + w  # rows of cum0 shifted by the week
    flat = (cum0[:, 1:] + weeks[:, None]).ravel()
    s = np.searchsorted(flat, target, side="right") - w * pop.shape[1]
    lo = np.where(in_cat, bounds[aff], 0)
    hi = np.where(in_cat, bounds[aff + 1], pop.shape[1]) - 1
    return np.clip(s, lo, hi)


def _favourite_codes(latent: Latent) -> tuple[np.ndarray, np.ndarray]:
    """Customer and SKU row of each favourite."""
    fav = latent.favourites
    return (pd.Index(latent.customers["customer_id"]).get_indexer(fav["customer_id"]),
            pd.Index(latent.skus["sku"]).get_indexer(fav["sku"]))


def _renewals(rng: np.random.Generator, latent: Latent, f_cust: np.ndarray,
              f_sku: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every replenishment event (favourite row, day), from each favourite's anchor before arrival.

    Gaps are ``max(1, ceil(Gamma(kappa, cycle / kappa)))`` days. The anchor sits
    ``1 + floor(U * 2 * cycle)`` days before arrival; events stop at ``min(death, days)``.
    """
    c = latent.customers
    arrival = c["arrival"].to_numpy()[f_cust]
    end = np.minimum(c["death"].to_numpy()[f_cust], latent.days)
    kappa = latent.skus["kappa"].to_numpy()[f_sku]
    cycle = latent.favourites["cycle"].to_numpy()
    t = arrival - 1 - np.floor(rng.random(len(cycle)) * 2 * cycle).astype(np.int64)
    rows, days = [np.arange(len(cycle))], [t.copy()]
    active = np.arange(len(cycle))
    while len(active):
        gap = np.maximum(np.ceil(rng.gamma(kappa[active], cycle[active] / kappa[active])), 1).astype(np.int64)
        t[active] += gap
        active = active[t[active] < end[active]]
        rows.append(active)
        days.append(t[active])
    return np.concatenate(rows), np.concatenate(days)


def _browse_lines(rng: np.random.Generator, latent: Latent) -> dict[str, np.ndarray]:
    """Browse orders (customer, day) and their lines sorted by (order, SKU); repeats merged."""
    n_skus = len(latent.skus)
    cust, day = _browse_orders(rng, latent)
    k = 1 + rng.poisson(latent.mu_k, len(cust))
    line_order = np.repeat(np.arange(len(cust)), k)
    sku = _browse_skus(rng, latent, cust[line_order], day[line_order])
    qty = 1 + rng.poisson(latent.skus["qty_extra"].to_numpy()[sku])
    key, inverse = np.unique(line_order * n_skus + sku, return_inverse=True)
    return {"cust": cust, "day": day, "o": key // n_skus, "s": key % n_skus,
            "q": np.bincount(inverse.ravel(), weights=qty).astype(np.int64)}


def _renewal_lines(rng: np.random.Generator, latent: Latent, rows: np.ndarray,
                   days: np.ndarray) -> dict[str, np.ndarray]:
    """Replenishment orders: a customer's events of one day form one order; lines by (order, SKU)."""
    f_cust, f_sku = _favourite_codes(latent)
    seen = days >= latent.customers["arrival"].to_numpy()[f_cust[rows]]  # not the latent past
    cust, sku, day = f_cust[rows[seen]], f_sku[rows[seen]], days[seen]
    group = cust * (latent.days + 1) + day
    order = np.argsort(group * len(latent.skus) + sku)
    cust, sku, day, group = cust[order], sku[order], day[order], group[order]
    new = np.concatenate([[True], group[1:] != group[:-1]]) if len(group) else np.zeros(0, bool)
    first = np.flatnonzero(new)
    return {"cust": cust[first], "day": day[first], "o": np.cumsum(new) - 1, "s": sku,
            "q": 1 + rng.poisson(latent.skus["qty_extra"].to_numpy()[sku])}


Sim = dict[str, dict[str, np.ndarray]]


def _lines(rng: np.random.Generator, latent: Latent) -> tuple[Sim, tuple[np.ndarray, np.ndarray]]:
    """All orders (per-order arrays) and lines (sorted by order, then SKU), and the renewal events."""
    browse = _browse_lines(rng, latent)
    renewals = _renewals(rng, latent, *_favourite_codes(latent))
    renew = _renewal_lines(rng, latent, *renewals)
    n_b = len(browse["cust"])
    orders = {k: np.concatenate([browse[k], renew[k]]) for k in ("cust", "day")}
    n_orders = len(orders["cust"])
    orders["sec"] = rng.integers(6 * 3600, 23 * 3600, n_orders)
    ship = pd.Index(latent.regions["region"]).get_indexer(latent.customers["region"])[orders["cust"]]
    away = rng.random(n_orders) < latent.away_share
    ship[away] = rng.integers(0, len(latent.regions), int(away.sum()))
    orders["ship"] = ship
    lines = {"o": np.concatenate([browse["o"], n_b + renew["o"]]),
             "s": np.concatenate([browse["s"], renew["s"]]),
             "q": np.concatenate([browse["q"], renew["q"]])}
    price = latent.skus["base_price"].to_numpy()[lines["s"]] * (1 + rng.normal(0, 0.02, len(lines["s"])))
    lines["price"] = np.round(price, 2)
    lines["day"] = orders["day"][lines["o"]]
    return {"orders": orders, "lines": lines}, renewals


def _order_ids(rank: np.ndarray, n_orders: int) -> pd.Series:
    """``O`` + ``rank`` zero-padded to ``max(7, digits of n_orders)``: a ``str`` Series from one buffer."""
    digits = max(7, len(str(n_orders)))
    n = len(rank)
    buf = np.empty((n, digits + 1), dtype=np.uint8)
    buf[:, 0] = ord("O")
    rank = rank.copy()
    for k in range(digits):
        buf[:, digits - k] = 48 + rank % 10
        rank //= 10
    offsets = np.arange(0, (n + 1) * (digits + 1), digits + 1, dtype=np.int64)
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf.ravel()))
    return pd.Series(arr, dtype="str")


def _orders_frame(latent: Latent, sim: Sim) -> pd.DataFrame:
    """The canonical orders table sorted by (time, customer, order, SKU); order ids by first appearance.

    Lines arrive sorted by (order, SKU), so ordering the orders is the only sort needed.
    """
    orders, lines = sim["orders"], sim["lines"]
    n_cust = len(latent.customers)
    when = (orders["day"] * 86_400 + orders["sec"]) * n_cust + orders["cust"]
    by_time = np.argsort(when, kind="stable")  # ties (same customer, same second): the order index
    counts = np.bincount(lines["o"], minlength=len(when))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    c = counts[by_time]
    shift = starts[by_time] - np.concatenate([[0], np.cumsum(c)[:-1]])
    perm = np.repeat(shift, c) + np.arange(len(lines["o"]))  # line rows in output order
    per_line = np.repeat(by_time, c)
    ts_us = (orders["day"] * 86_400 + orders["sec"])[per_line] * 1_000_000 + latent.start.value // 1000
    return pd.DataFrame(
        {
            "order_id": _order_ids(np.repeat(np.arange(1, len(when) + 1), c), len(when)),
            "customer_id": _strings(latent.customers["customer_id"], orders["cust"][per_line]),
            "order_ts": ts_us.astype("datetime64[us]"),
            "sku": _strings(latent.skus["sku"], lines["s"][perm]),
            "quantity": lines["q"][perm],
            "unit_price": lines["price"][perm],
            "region": _strings(latent.regions["region"], orders["ship"][per_line]),
        }
    )


def _reference_tables(rng: np.random.Generator, cfg: SampleConfig, latent: Latent,
                      sim: Sim) -> dict[str, pd.DataFrame]:
    """Warehouses beside the most populous regions; capacity and supply sized so both bind."""
    regions, skus = latent.regions, latent.skus
    top = regions.sort_values("population", ascending=False, kind="stable").head(cfg.warehouses)
    lines = sim["lines"]
    last = lines["day"] >= latent.days - 28
    weekly_units = np.bincount(lines["s"][last], weights=lines["q"][last], minlength=len(skus)) / 4.0
    weekly_volume = float((weekly_units * skus["unit_volume"].to_numpy()).sum())
    share = top["population"].to_numpy() / regions["population"].sum()
    warehouses = pd.DataFrame(
        {
            "warehouse_id": [f"W{i + 1}" for i in range(len(top))],
            "lat": (top["lat"].to_numpy() + rng.normal(0, 0.05, len(top))).round(4),
            "lon": (top["lon"].to_numpy() + rng.normal(0, 0.05, len(top))).round(4),
            "capacity": np.round(
                weekly_volume * np.maximum(share, 0.02) * rng.uniform(0.5, 0.9, len(top)), 1
            ),
        }
    )
    supply = pd.DataFrame(
        {
            "sku": skus["sku"].to_numpy(),
            "units": np.ceil(weekly_units * rng.uniform(0.4, 1.5, len(skus))).astype(np.int64),
        }
    )
    return {
        "products": skus[["sku", "category", "unit_volume"]].reset_index(drop=True),
        "regions": regions[["region", "lat", "lon"]].reset_index(drop=True),
        "warehouses": warehouses,
        "supply": supply,
    }


def generate_world(cfg: SampleConfig) -> tuple[dict[str, pd.DataFrame], Latent]:
    """Generate every table and the latent state from ``cfg`` (seeded: same cfg, same world).

    Parameters
    ----------
    cfg
        Sizes (customers, SKUs, categories, regions, warehouses), ``days`` of history
        from ``start`` and the ``seed`` of ``numpy.random.Generator(PCG64(seed))``.

    Returns
    -------
    ``({orders, products, regions, warehouses, supply}, latent)``: the canonical tables
    (docs/data-contract.md#input-tables) and the :class:`Latent` state including every renewal event.
    """
    rng = np.random.Generator(np.random.PCG64(cfg.seed))
    latent = draw_latent(cfg, rng)
    sim, renewals = _lines(rng, latent)
    tables = {"orders": _orders_frame(latent, sim), **_reference_tables(rng, cfg, latent, sim)}
    row, day = renewals
    order = np.lexsort((day, row))
    renew = pd.DataFrame({"favourite": row[order].astype(np.int64), "day": day[order].astype(np.int64)})
    return tables, replace(latent, renewals=renew)
