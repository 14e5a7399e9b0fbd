"""A seeded synthetic retail world whose true purchase probabilities are known.

The generative process (day resolution, ``D`` days from ``start``):

* **Regions** are ``R`` points in a continent-sized box (lat 36..60, lon -10..30),
  clustered around a few hubs, each with a lognormal population weight.
  **Warehouses** sit at the ``W`` most populous regions.
* **Products**: ``S`` SKUs in ``C`` categories; SKU popularity is Zipf-like and
  drifts over time (a per-SKU log-linear trend), each category has its own yearly
  seasonality; ``popularity[w, s]`` is the weekly choice distribution over SKUs.
  Unit volumes are lognormal; each SKU has a base price and a mean extra quantity.
* **Customers**: a home region (by population); an arrival day (60% exist at the
  start, the rest arrive uniformly); a purchase rate ``lam`` (orders/day, Gamma,
  heterogeneous); a daily lapse hazard ``delta`` (a customer who lapses never
  returns); 1..6 favourite SKUs in one or two favourite categories with weights,
  and a loyalty ``rho`` (the share of lines that go to a favourite).
* **Orders**: on each day a living customer places ``Poisson(lam * dow[d] *
  season[d])`` orders; an order has ``K = 1 + Poisson(mu_k)`` lines; each line
  picks a favourite (by weight) with probability ``rho``, else a SKU from that
  week's popularity; quantity ``1 + Poisson(qty_extra[s])``; price = base price
  with 2% noise. Lines of one order with the same SKU are merged (quantities add).
  5% of orders ship to a region other than home.

**Truth.** With ``q = rho * fav_share + (1 - rho) * popularity[week]`` the chance
an order contains item ``i`` is ``pi = 1 - (1 - q) exp(-mu_k q)``, so orders
containing ``i`` on day ``d`` are Poisson with mean ``lam * dow * season * pi``.
Given the latent state at the cutoff (alive or not; lapse is memoryless), the
probability of at least one order of ``i`` in ``[t, t + H)`` is exact:
``1 - sum_k P(lapse on horizon day k) exp(-sum_{j<k} Lambda_j)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from anticipate.config import SampleConfig

MU_K = 0.35  # extra lines per order: K = 1 + Poisson(MU_K)
AWAY_SHARE = 0.05  # share of orders shipped to a region other than home
LATENT_DIR = "latent"


@dataclass(frozen=True)
class Latent:
    """The generator's hidden state, enough to compute the truth at any cutoff."""

    start: pd.Timestamp
    days: int
    customers: pd.DataFrame  # customer_id, region, arrival, death, delta, lam, rho
    favourites: pd.DataFrame  # customer_id, sku, weight
    popularity: np.ndarray  # (weeks, S) weekly SKU choice distribution
    skus: pd.DataFrame  # sku, category, qty_extra, base_price
    dow: np.ndarray  # (7,) weekday multipliers, Monday first
    season: np.ndarray  # (days,) yearly multiplier per day


# --------------------------------------------------------------------------- the world
def _regions(rng: np.random.Generator, n: int) -> pd.DataFrame:
    hubs = np.column_stack([rng.uniform(38, 58, 6), rng.uniform(-8, 28, 6)])
    which = rng.integers(0, len(hubs), n)
    lat = np.clip(hubs[which, 0] + rng.normal(0, 2.5, n), 36, 60)
    lon = np.clip(hubs[which, 1] + rng.normal(0, 3.5, n), -10, 30)
    width = max(2, len(str(n)))
    return pd.DataFrame(
        {
            "region": [f"R{i + 1:0{width}d}" for i in range(n)],
            "lat": lat.round(4),
            "lon": lon.round(4),
            "population": rng.lognormal(0, 0.9, n),
        }
    )


def _skus(rng: np.random.Generator, n_skus: int, n_cat: int) -> pd.DataFrame:
    cat = np.sort(rng.integers(0, n_cat, n_skus))
    width = max(4, len(str(n_skus)))
    cw = max(2, len(str(n_cat)))
    return pd.DataFrame(
        {
            "sku": [f"S{i + 1:0{width}d}" for i in range(n_skus)],
            "category": [f"C{c + 1:0{cw}d}" for c in cat],
            "cat_index": cat,
            "base_pop": 1.0 / np.arange(1, n_skus + 1) ** 0.9 * rng.lognormal(0, 0.3, n_skus),
            "trend": rng.normal(0, 0.5, n_skus),  # log-popularity change per year
            "unit_volume": rng.lognormal(0, 0.5, n_skus).round(3),
            "base_price": rng.lognormal(3.0, 0.7, n_skus).round(2),
            "qty_extra": rng.choice([0.05, 0.2, 0.6], n_skus, p=[0.6, 0.3, 0.1]),
        }
    )


def _profiles(
    rng: np.random.Generator, start: pd.Timestamp, days: int, n_cat: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dow = np.array([1.05, 1.0, 1.0, 1.05, 1.1, 0.85, 0.95])
    dow = dow / dow.mean()
    doy = (start + pd.to_timedelta(np.arange(days), unit="D")).dayofyear.to_numpy()
    season = (
        1.0 + 0.25 * np.sin(2 * np.pi * (doy - 80) / 365.25) + 0.35 * np.exp(-(((doy - 340) / 12.0) ** 2))
    )
    cat_amp = rng.uniform(0.0, 0.6, n_cat)
    cat_phase = rng.uniform(0, 365, n_cat)
    return dow, season, (cat_amp, cat_phase)  # type: ignore[return-value]


def _weekly_popularity(skus: pd.DataFrame, start: pd.Timestamp, days: int, cat_season: tuple) -> np.ndarray:
    weeks = days // 7 + 1
    mid = np.arange(weeks) * 7 + 3.5
    amp, phase = cat_season
    doy = ((start.dayofyear + mid) % 365.25)[:, None]
    cat = skus["cat_index"].to_numpy()
    seasonal = 1.0 + amp[cat][None, :] * np.sin(2 * np.pi * (doy - phase[cat][None, :]) / 365.25)
    trend = np.exp(skus["trend"].to_numpy()[None, :] * (mid[:, None] / 365.25))
    w = skus["base_pop"].to_numpy()[None, :] * trend * seasonal
    return w / w.sum(axis=1, keepdims=True)


def _customers(
    rng: np.random.Generator, cfg: SampleConfig, regions: pd.DataFrame, skus: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    n = cfg.customers
    p_region = regions["population"].to_numpy() / regions["population"].sum()
    region = rng.choice(len(regions), n, p=p_region)
    arrival = np.where(rng.random(n) < 0.6, 0, rng.integers(0, cfg.days, n))
    delta = 1.0 / rng.uniform(150, 900, n)
    death = arrival + rng.geometric(delta)
    lam = rng.gamma(1.2, 1.0 / 1.2, n) / 16.0  # mean one order every 16 days
    rho = rng.beta(4, 2, n)
    fav, fav_w = _favourites(rng, n, skus)
    width = max(6, len(str(n)))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i + 1:0{width}d}" for i in range(n)],
            "region": regions["region"].to_numpy()[region],
            "region_index": region,
            "arrival": arrival,
            "death": death,
            "delta": delta,
            "lam": lam,
            "rho": rho,
        }
    )
    return frame, fav, fav_w


def _favourites(rng: np.random.Generator, n: int, skus: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Up to 6 favourite SKUs per customer (-1 = none), drawn by popularity within 1-2 categories."""
    n_cat = int(skus["cat_index"].max()) + 1
    cat = skus["cat_index"].to_numpy()
    pop = skus["base_pop"].to_numpy()
    cat_pop = np.bincount(cat, weights=pop, minlength=n_cat)
    fav_cats = rng.choice(n_cat, (n, 2), p=cat_pop / cat_pop.sum())
    k = rng.integers(1, 7, n)
    order = np.argsort(cat, kind="stable")
    bounds = np.searchsorted(cat[order], np.arange(n_cat + 1))
    fav = np.full((n, 6), -1, dtype=np.int64)
    for j in range(6):
        c = fav_cats[np.arange(n), (j % 2) * (rng.random(n) < 0.5)]
        lo, hi = bounds[c], bounds[c + 1]
        u = rng.random(n)
        fav[:, j] = order[np.minimum(lo + (u * (hi - lo)).astype(np.int64), np.maximum(hi - 1, lo))]
    fav[np.arange(6)[None, :] >= k[:, None]] = -1
    w = rng.dirichlet(np.ones(6), n) * (fav >= 0)
    return fav, w / w.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- simulation
def _simulate_orders(
    rng: np.random.Generator, cust: pd.DataFrame, days: int, dow0: int, dow: np.ndarray, season: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, day) of every order, day by day."""
    lam = cust["lam"].to_numpy()
    arrival, death = cust["arrival"].to_numpy(), cust["death"].to_numpy()
    who, when = [], []
    for d in range(days):
        alive = np.flatnonzero((arrival <= d) & (d < death))
        n = rng.poisson(lam[alive] * dow[(dow0 + d) % 7] * season[d])
        hit = n > 0
        who.append(np.repeat(alive[hit], n[hit]))
        when.append(np.full(int(n[hit].sum()), d, dtype=np.int64))
    return np.concatenate(who), np.concatenate(when)


def _choose_skus(
    rng: np.random.Generator,
    line_cust: np.ndarray,
    line_day: np.ndarray,
    rho: np.ndarray,
    fav: np.ndarray,
    fav_w: np.ndarray,
    popularity: np.ndarray,
) -> np.ndarray:
    """The SKU of each line: a favourite with probability rho, else from the week's popularity."""
    n = len(line_cust)
    sku = np.empty(n, dtype=np.int64)
    use_fav = rng.random(n) < rho[line_cust]
    idx = np.flatnonzero(use_fav)
    for chunk in np.array_split(idx, max(1, len(idx) // 1_000_000)):
        cum = np.cumsum(fav_w[line_cust[chunk]], axis=1)
        j = (cum < rng.random(len(chunk))[:, None] * cum[:, -1:]).sum(axis=1)
        sku[chunk] = fav[line_cust[chunk], np.minimum(j, 5)]
    rest = np.flatnonzero(~use_fav)
    week = line_day[rest] // 7
    cum_pop = np.cumsum(popularity, axis=1)
    u = rng.random(len(rest))
    order = np.argsort(week, kind="stable")
    bounds = np.searchsorted(week[order], np.arange(popularity.shape[0] + 1))
    for w in range(popularity.shape[0]):
        sel = order[bounds[w] : bounds[w + 1]]
        sku[rest[sel]] = np.minimum(
            np.searchsorted(cum_pop[w], u[sel] * cum_pop[w, -1]), popularity.shape[1] - 1
        )
    return sku


def _order_lines(
    rng: np.random.Generator,
    cfg: SampleConfig,
    start: pd.Timestamp,
    cust: pd.DataFrame,
    fav: np.ndarray,
    fav_w: np.ndarray,
    skus: pd.DataFrame,
    regions: pd.DataFrame,
    popularity: np.ndarray,
    dow: np.ndarray,
    season: np.ndarray,
) -> pd.DataFrame:
    o_cust, o_day = _simulate_orders(rng, cust, cfg.days, start.dayofweek, dow, season)
    n_orders = len(o_cust)
    seconds = rng.integers(6 * 3600, 23 * 3600, n_orders)
    ship = cust["region_index"].to_numpy()[o_cust]
    away = rng.random(n_orders) < AWAY_SHARE
    ship[away] = rng.integers(0, len(regions), int(away.sum()))
    k = 1 + rng.poisson(MU_K, n_orders)
    line_order = np.repeat(np.arange(n_orders), k)
    sku = _choose_skus(
        rng, o_cust[line_order], o_day[line_order], cust["rho"].to_numpy(), fav, fav_w, popularity
    )
    qty = 1 + rng.poisson(skus["qty_extra"].to_numpy()[sku])
    lines = (
        pd.DataFrame({"o": line_order, "s": sku, "q": qty})
        .groupby(["o", "s"], sort=True, as_index=False)["q"]
        .sum()
    )
    o, s = lines["o"].to_numpy(), lines["s"].to_numpy()
    ts = start + pd.to_timedelta(o_day[o] * 86400 + seconds[o], unit="s")
    price = skus["base_price"].to_numpy()[s] * (1 + rng.normal(0, 0.02, len(s)))
    frame = pd.DataFrame(
        {
            "order_ts": ts,
            "o": o,
            "customer_id": cust["customer_id"].to_numpy()[o_cust[o]],
            "sku": skus["sku"].to_numpy()[s],
            "quantity": lines["q"].to_numpy().astype(np.int64),
            "unit_price": np.round(price, 2),
            "region": regions["region"].to_numpy()[ship[o]],
        }
    )
    frame = frame.sort_values(["order_ts", "customer_id", "o", "sku"], kind="stable").reset_index(drop=True)
    first = frame["o"].drop_duplicates()
    rank = pd.Series(np.arange(1, len(first) + 1), index=first.to_numpy())
    width = max(7, len(str(len(first))))
    frame["order_id"] = ["O" + str(i).zfill(width) for i in rank.loc[frame["o"].to_numpy()].to_numpy()]
    return frame[["order_id", "customer_id", "order_ts", "sku", "quantity", "unit_price", "region"]]


def _reference_tables(
    rng: np.random.Generator,
    cfg: SampleConfig,
    orders: pd.DataFrame,
    skus: pd.DataFrame,
    regions: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """Warehouses at the most populous regions; capacities and supply sized so both bind."""
    top = regions.sort_values("population", ascending=False, kind="stable").head(cfg.warehouses)
    last = orders["order_ts"] >= orders["order_ts"].max() - pd.Timedelta(days=28)
    recent = orders.loc[last].groupby("sku")["quantity"].sum() / 4.0
    weekly_units = recent.reindex(skus["sku"], fill_value=0.0).to_numpy()
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
    products = skus[["sku", "category", "unit_volume"]].reset_index(drop=True)
    return {
        "products": products,
        "regions": regions[["region", "lat", "lon"]].reset_index(drop=True),
        "warehouses": warehouses,
        "supply": supply,
    }


def generate_world(cfg: SampleConfig) -> tuple[dict[str, pd.DataFrame], Latent]:
    """Generate every table and the latent state from ``cfg`` (seeded; same cfg, same world).

    Returns ``({orders, products, regions, warehouses, supply}, latent)``.
    """
    rng = np.random.default_rng(np.random.PCG64(cfg.seed))
    start = pd.Timestamp(cfg.start).normalize()
    regions = _regions(rng, cfg.regions)
    skus = _skus(rng, cfg.skus, cfg.categories)
    dow, season, cat_season = _profiles(rng, start, cfg.days, cfg.categories)
    popularity = _weekly_popularity(skus, start, cfg.days, cat_season)
    cust, fav, fav_w = _customers(rng, cfg, regions, skus)
    orders = _order_lines(rng, cfg, start, cust, fav, fav_w, skus, regions, popularity, dow, season)
    tables = {"orders": orders, **_reference_tables(rng, cfg, orders, skus, regions)}
    rows, cols = np.nonzero(fav >= 0)
    favourites = pd.DataFrame(
        {
            "customer_id": cust["customer_id"].to_numpy()[rows],
            "sku": skus["sku"].to_numpy()[fav[rows, cols]],
            "weight": fav_w[rows, cols],
        }
    )
    favourites = favourites.groupby(["customer_id", "sku"], as_index=False, sort=True)["weight"].sum()
    latent = Latent(
        start=start,
        days=cfg.days,
        customers=cust[["customer_id", "region", "arrival", "death", "delta", "lam", "rho"]],
        favourites=favourites,
        popularity=popularity,
        skus=skus[["sku", "category", "qty_extra", "base_price"]],
        dow=dow,
        season=season,
    )
    return tables, latent


# --------------------------------------------------------------------------- persistence
def write_world(tables: dict[str, pd.DataFrame], latent: Latent, out: Path) -> None:
    """Write the canonical tables and ``latent/`` into ``out`` (a staging directory)."""
    from anticipate.io import write_json, write_parquet

    for name, frame in tables.items():
        write_parquet(frame, out / f"{name}.parquet")
    lat = out / LATENT_DIR
    write_parquet(latent.customers, lat / "customers.parquet")
    write_parquet(latent.favourites, lat / "favourites.parquet")
    write_parquet(latent.skus, lat / "skus.parquet")
    weeks, n = latent.popularity.shape
    write_parquet(
        pd.DataFrame(
            {
                "week": np.repeat(np.arange(weeks), n),
                "sku": np.tile(latent.skus["sku"].to_numpy(), weeks),
                "p": latent.popularity.ravel(),
            }
        ),
        lat / "popularity.parquet",
    )
    write_json(
        {
            "start": str(latent.start.date()),
            "days": latent.days,
            "dow": latent.dow.tolist(),
            "season": latent.season.tolist(),
            "mu_k": MU_K,
        },
        lat / "world.json",
    )


def load_latent(data_dir: str | Path) -> Latent | None:
    """The latent state of a synthetic data directory, or None when it is not synthetic."""
    lat = Path(data_dir) / LATENT_DIR
    if not (lat / "world.json").is_file():
        return None
    world = json.loads((lat / "world.json").read_text())
    skus = pd.read_parquet(lat / "skus.parquet")
    pop = pd.read_parquet(lat / "popularity.parquet")
    weeks = int(pop["week"].max()) + 1
    return Latent(
        start=pd.Timestamp(world["start"]),
        days=int(world["days"]),
        customers=pd.read_parquet(lat / "customers.parquet"),
        favourites=pd.read_parquet(lat / "favourites.parquet"),
        popularity=pop["p"].to_numpy().reshape(weeks, len(skus)),
        skus=skus,
        dow=np.asarray(world["dow"]),
        season=np.asarray(world["season"]),
    )


# --------------------------------------------------------------------------- truth
def _item_of_sku(latent: Latent, item_level: str) -> pd.Series:
    skus = latent.skus.set_index("sku")
    return skus.index.to_series() if item_level == "sku" else skus["category"]


def _day_factors(latent: Latent, t_idx: int, horizon_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per horizon day: the day's rate multiplier (dow x season) and its popularity week."""
    days = t_idx + np.arange(horizon_days)
    dow0 = latent.start.dayofweek
    mult = latent.dow[(dow0 + days) % 7] * latent.season[np.minimum(days, latent.days - 1)]
    week = np.minimum(days // 7, latent.popularity.shape[0] - 1)
    return mult, week


def _item_popularity(latent: Latent, item_level: str) -> tuple[np.ndarray, pd.Index]:
    items = _item_of_sku(latent, item_level)
    codes, uniques = pd.factorize(items.to_numpy(), sort=True)
    pop = np.zeros((latent.popularity.shape[0], len(uniques)))
    np.add.at(pop.T, codes, latent.popularity.T)
    return pop, pd.Index(uniques)


def true_probabilities(
    latent: Latent,
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Exact P(pair orders in ``[cutoff, cutoff + H)``) for every candidate pair at ``cutoff``.

    Parameters
    ----------
    latent
        The generator's state (:func:`load_latent`).
    orders
        Canonical orders; only lines in ``[cutoff - L, cutoff)`` are read (to list candidates).
    cutoff
        Midnight; ``horizon_days`` H and ``lookback_days`` L in days.

    Returns
    -------
    DataFrame ``customer_id, item, p_true`` sorted by ``customer_id, item``.
    """
    del products  # the latent SKU table knows the categories
    cutoff = pd.Timestamp(cutoff)
    window = orders[
        (orders["order_ts"] >= cutoff - pd.Timedelta(days=lookback_days)) & (orders["order_ts"] < cutoff)
    ]
    item_map = _item_of_sku(latent, item_level)
    pairs = pd.DataFrame(
        {
            "customer_id": window["customer_id"].to_numpy(),
            "item": item_map.reindex(window["sku"].to_numpy()).to_numpy(),
        }
    )
    pairs = pairs.drop_duplicates().sort_values(["customer_id", "item"], kind="stable").reset_index(drop=True)
    cust = latent.customers.set_index("customer_id").reindex(pairs["customer_id"].to_numpy())
    t_idx = (cutoff.normalize() - latent.start).days
    mult, week = _day_factors(latent, t_idx, horizon_days)
    pop, items = _item_popularity(latent, item_level)
    fav = latent.favourites.assign(item=item_map.reindex(latent.favourites["sku"].to_numpy()).to_numpy())
    fav_share = fav.groupby(["customer_id", "item"])["weight"].sum()
    share = fav_share.reindex(pd.MultiIndex.from_frame(pairs[["customer_id", "item"]]), fill_value=0.0)
    rho = cust["rho"].to_numpy()[:, None]
    q = rho * share.to_numpy()[:, None] + (1 - rho) * pop[week][:, items.get_indexer(pairs["item"])].T
    contains = 1.0 - (1.0 - q) * np.exp(-MU_K * q)
    lam_day = cust["lam"].to_numpy()[:, None] * mult[None, :] * contains
    p_none = _p_no_order(lam_day, cust["delta"].to_numpy())
    alive = cust["death"].to_numpy() >= t_idx
    return pairs.assign(p_true=np.where(alive, 1.0 - p_none, 0.0))


def _p_no_order(rate: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """P(no event) when the customer lapses at the start of a day with prob ``delta`` (rows = pairs)."""
    n, h = rate.shape
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(rate, axis=1)], axis=1)  # C_0..C_H
    k = np.arange(h)
    d = delta[:, None]
    lapse = d * (1 - d) ** k[None, :]  # lapse at the start of horizon day k
    return (lapse * np.exp(-cum[:, :h])).sum(axis=1) + (1 - delta) ** h * np.exp(-cum[:, h])


def true_region_demand(
    latent: Latent, cutoff: pd.Timestamp, *, horizon_days: int, n_regions: int | None = None
) -> pd.DataFrame:
    """Expected units per ship-to region and SKU in ``[cutoff, cutoff + H)`` given the latent state.

    Counts customers alive at the cutoff and those arriving during the horizon;
    5% of orders ship to a uniformly chosen region (``n_regions`` of them).
    """
    cutoff = pd.Timestamp(cutoff)
    t_idx = (cutoff.normalize() - latent.start).days
    mult, week = _day_factors(latent, t_idx, horizon_days)
    c = latent.customers
    days = t_idx + np.arange(horizon_days)
    arrival, death, delta = (c[k].to_numpy()[:, None] for k in ("arrival", "death", "delta"))
    from_day = np.maximum(arrival, t_idx)
    alive_start = (death >= t_idx) | (arrival >= t_idx)
    p_alive = np.where(
        days[None, :] >= from_day, (1 - delta) ** (days[None, :] - from_day + (arrival < t_idx)), 0
    )
    e_orders = c["lam"].to_numpy()[:, None] * mult[None, :] * p_alive * alive_start
    units_per_line = 1.0 + latent.skus["qty_extra"].to_numpy()
    e_lines = 1.0 + MU_K
    sku_index = pd.Index(latent.skus["sku"])
    regions = pd.Index(sorted(c["region"].unique()))
    r_code = regions.get_indexer(c["region"])
    demand = np.zeros((len(regions), len(sku_index)))
    rho = c["rho"].to_numpy()
    fav = latent.favourites
    fc = c.set_index("customer_id").index.get_indexer(fav["customer_id"])
    fs = sku_index.get_indexer(fav["sku"])
    for w in np.unique(week):
        e = e_orders[:, week == w].sum(axis=1)
        np.add.at(demand, (r_code[fc], fs), (e * rho)[fc] * fav["weight"].to_numpy())
        pop_part = np.bincount(r_code, weights=e * (1 - rho), minlength=len(regions))
        demand += pop_part[:, None] * latent.popularity[w][None, :]
    demand *= e_lines * units_per_line[None, :]
    n_regions = n_regions or len(regions)
    spread = demand.sum(axis=0) * AWAY_SHARE / n_regions
    mu = demand * (1 - AWAY_SHARE) + spread[None, :]
    out = pd.DataFrame(mu, index=regions, columns=sku_index).stack().rename("mu_true").reset_index()
    return out.rename(columns={"level_0": "region", "level_1": "sku"})
