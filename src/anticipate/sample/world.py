"""The latent world: regions, SKUs, customers, favourites and the calendar profiles.

Everything here is a parameter of the generative process (drawn once from the seed)
or a deterministic function of those parameters, so the truth can be recomputed at
any cutoff from what :func:`anticipate.sample.write_world` stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anticipate.config import SampleConfig

MU_K = 0.35  # extra lines per browse order: K = 1 + Poisson(MU_K)
AWAY_SHARE = 0.05  # share of orders shipped to a uniformly chosen region instead of home
DOW = (1.05, 1.0, 1.0, 1.05, 1.1, 0.85, 0.95)  # weekday rate multipliers, Monday first (mean 1)
SEASON = {"amp": 0.25, "phase": 80.0, "peak": 0.35, "peak_day": 340.0, "peak_width": 12.0}


@dataclass(frozen=True)
class Latent:
    """The generator's hidden state: enough to compute the truth at any cutoff up to ``days``.

    Day indices count from ``start`` (day 0). Tables (one row per entity):

    * ``regions``: region, lat, lon, population (relative weight).
    * ``skus``: sku, category, base_pop, trend (log popularity change per year), cat_amp,
      cat_phase (days), kappa (replenishment regularity), cycle (typical days between
      replenishments), qty_extra, base_price, unit_volume.
    * ``customers``: customer_id, region, arrival, death (days; alive on ``arrival <= d <
      death``), delta (daily lapse hazard), lam (browse orders per day), affinity (a
      category), boost (its choice multiplier).
    * ``favourites``: customer_id, sku, cycle (mean days between replenishments).
    * ``renewals``: favourite (row of ``favourites``), day: every replenishment event of every
      favourite, from its anchor (before arrival, never an order) while ``day < min(death, days)``.
    """

    start: pd.Timestamp
    days: int
    regions: pd.DataFrame
    skus: pd.DataFrame
    customers: pd.DataFrame
    favourites: pd.DataFrame
    renewals: pd.DataFrame
    dow: np.ndarray = field(default_factory=lambda: np.asarray(DOW) / np.mean(DOW))
    season: dict[str, float] = field(default_factory=lambda: dict(SEASON))
    mu_k: float = MU_K
    away_share: float = AWAY_SHARE


# --------------------------------------------------------------------------- calendar profiles
def day_multiplier(latent: Latent, days: np.ndarray) -> np.ndarray:
    """The browse-rate multiplier (weekday x yearly season) of absolute day indices (any day)."""
    days = np.asarray(days)
    dates = latent.start + pd.to_timedelta(days, unit="D")
    doy = np.asarray(dates.dayofyear, dtype=np.float64)
    s = latent.season
    season = (
        1.0
        + s["amp"] * np.sin(2 * np.pi * (doy - s["phase"]) / 365.25)
        + s["peak"] * np.exp(-(((doy - s["peak_day"]) / s["peak_width"]) ** 2))
    )
    return latent.dow[(latent.start.dayofweek + days) % 7] * season


def weekly_popularity(latent: Latent, weeks: np.ndarray) -> np.ndarray:
    """SKU choice distributions of the given week indices (week ``w`` = days ``7w..7w+6``).

    Returns an array (len(weeks), S) whose rows sum to 1: base popularity x a per-SKU
    log-linear trend x the category's yearly seasonality, all evaluated mid-week.
    """
    sk = latent.skus
    mid = np.asarray(weeks, dtype=np.float64)[:, None] * 7 + 3.5
    doy = (latent.start.dayofyear + mid) % 365.25
    angle = 2 * np.pi * (doy - sk["cat_phase"].to_numpy()) / 365.25
    seasonal = 1.0 + sk["cat_amp"].to_numpy() * np.sin(angle)
    trend = np.exp(sk["trend"].to_numpy() * mid / 365.25)
    w = sk["base_pop"].to_numpy() * trend * seasonal
    return w / w.sum(axis=1, keepdims=True)


def category_bounds(latent: Latent) -> tuple[np.ndarray, pd.Index]:
    """SKUs are sorted by category: ``bounds[k]:bounds[k+1]`` are category ``k``'s SKU rows."""
    cats = pd.Index(sorted(latent.skus["category"].unique()))
    codes = cats.get_indexer(latent.skus["category"])
    return np.searchsorted(codes, np.arange(len(cats) + 1)), cats


# --------------------------------------------------------------------------- parameter draws
def _regions(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Cities clustered around a few hubs in a continent-sized box (lat 36..60, lon -10..30)."""
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
    """SKUs sorted by category; Zipf-like popularity with drift; per-category seasonality."""
    cat = np.sort(rng.integers(0, n_cat, n_skus))
    amp, phase = rng.uniform(0.0, 0.6, n_cat), rng.uniform(0, 365, n_cat)
    width, cw = max(4, len(str(n_skus))), max(2, len(str(n_cat)))
    zipf = 1.0 / np.arange(1, n_skus + 1) ** 0.9
    return pd.DataFrame(
        {
            "sku": [f"S{i + 1:0{width}d}" for i in range(n_skus)],
            "category": [f"C{c + 1:0{cw}d}" for c in cat],
            "base_pop": rng.permutation(zipf) * rng.lognormal(0, 0.3, n_skus),
            "trend": rng.normal(0, 0.6, n_skus),
            "cat_amp": amp[cat],
            "cat_phase": phase[cat],
            "kappa": rng.choice([4.0, 10.0, 20.0], n_skus, p=[0.3, 0.4, 0.3]),
            "cycle": np.clip(rng.lognormal(np.log(35.0), 0.45, n_skus), 8, 150).round(1),
            "qty_extra": rng.choice([0.05, 0.2, 0.6], n_skus, p=[0.6, 0.3, 0.1]),
            "base_price": rng.lognormal(3.0, 0.7, n_skus).round(2),
            "unit_volume": rng.lognormal(0, 0.5, n_skus).round(3),
        }
    )


def _customers(rng: np.random.Generator, cfg: SampleConfig, regions: pd.DataFrame,
               skus: pd.DataFrame) -> pd.DataFrame:
    """Home region by population, arrival, lapse, browse rate and a favourite category."""
    n = cfg.customers
    p_region = regions["population"].to_numpy() / regions["population"].sum()
    region = rng.choice(len(regions), n, p=p_region)
    arrival = np.where(rng.random(n) < 0.6, 0, rng.integers(0, cfg.days, n))
    delta = 1.0 / rng.uniform(150, 900, n)
    cat_pop = skus.groupby("category", sort=True)["base_pop"].sum()
    affinity = rng.choice(len(cat_pop), n, p=(cat_pop / cat_pop.sum()).to_numpy())
    width = max(6, len(str(n)))
    return pd.DataFrame(
        {
            "customer_id": [f"C{i + 1:0{width}d}" for i in range(n)],
            "region": regions["region"].to_numpy()[region],
            "arrival": arrival.astype(np.int64),
            "death": (arrival + rng.geometric(delta)).astype(np.int64),
            "delta": delta,
            "lam": rng.gamma(1.2, 1.0 / 1.2, n) / 40.0,  # one browse order every 40 days on average
            "affinity": cat_pop.index.to_numpy()[affinity],
            "boost": 1.0 + rng.lognormal(np.log(3.0), 0.5, n),
        }
    )


def _favourites(rng: np.random.Generator, customers: pd.DataFrame, skus: pd.DataFrame) -> pd.DataFrame:
    """0-5 distinct favourite SKUs per customer, by popularity, mostly in the affinity category."""
    n = len(customers)
    k = rng.binomial(5, 0.45, n)
    owner = np.repeat(np.arange(n), k)
    pop = skus["base_pop"].to_numpy()
    codes = pd.Index(sorted(skus["category"].unique())).get_indexer(skus["category"])
    bounds = np.searchsorted(codes, np.arange(codes.max() + 2))
    cum = np.cumsum(pop)
    in_cat = rng.random(len(owner)) < 0.6
    aff = pd.Index(sorted(skus["category"].unique())).get_indexer(customers["affinity"].to_numpy()[owner])
    lo = np.where(in_cat, np.concatenate([[0.0], cum])[bounds[aff]], 0.0)
    hi = np.where(in_cat, cum[bounds[aff + 1] - 1], cum[-1])
    target = lo + rng.random(len(owner)) * (hi - lo)
    sku = np.minimum(np.searchsorted(cum, target, side="right"), len(pop) - 1)
    frame = pd.DataFrame({"c": owner, "s": sku}).drop_duplicates().sort_values(["c", "s"])
    c, s = frame["c"].to_numpy(), frame["s"].to_numpy()
    cycle = skus["cycle"].to_numpy()[s] * rng.lognormal(0, 0.3, len(s))
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy()[c],
            "sku": skus["sku"].to_numpy()[s],
            "cycle": np.round(np.maximum(cycle, 4.0), 2),
        }
    )


def draw_latent(cfg: SampleConfig, rng: np.random.Generator) -> Latent:
    """Draw every parameter of the world (no events yet: ``renewals`` is empty)."""
    regions = _regions(rng, cfg.regions)
    skus = _skus(rng, cfg.skus, cfg.categories)
    customers = _customers(rng, cfg, regions, skus)
    favourites = _favourites(rng, customers, skus)
    empty = pd.DataFrame({"favourite": pd.Series(dtype=np.int64), "day": pd.Series(dtype=np.int64)})
    return Latent(start=pd.Timestamp(cfg.start).normalize(), days=cfg.days, regions=regions, skus=skus,
                  customers=customers, favourites=favourites, renewals=empty)
