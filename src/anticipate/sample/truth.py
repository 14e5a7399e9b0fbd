"""The exact truth of a latent world at a cutoff ``t`` (a midnight; day index ``t`` from ``start``).

Given the latent state at ``t`` (who is alive, each favourite's last replenishment
before ``t``), the horizon's purchases are independent across customers:

* a browse order on day ``d`` is Poisson with mean ``lam * m(d)`` (``m`` = weekday x
  season) and contains item ``i`` with probability ``pi = 1 - (1 - q) exp(-MU_K q)``
  (``K = 1 + Poisson(MU_K)`` lines, each item ``i`` with probability ``q``);
* favourite ``f`` is replenished on the days of a discrete renewal process with gap
  survival ``S(n) = P(G > n) = Q(kappa, n kappa / cycle)`` (regularised upper gamma);
  having gone ``a = t - 1 - last`` days without an event, it has none on days
  ``t .. t+k-1`` with probability ``S(a + k) / S(a)``;
* the customer, alive through day ``t - 1``, lapses at the start of horizon day ``k``
  with probability ``delta (1 - delta)^k`` (memoryless).

So ``P(no order of i) = sum_k delta (1-delta)^k exp(-C_k) R_k + (1-delta)^H exp(-C_H) R_H``
with ``C_k`` the browse mean of days ``< k`` and ``R_k`` the product over the
customer's favourites in ``i`` of ``S(a + k) / S(a)``: exact, no Monte Carlo.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaincc

from anticipate.errors import DataError, UsageError

from .world import Latent, category_bounds, day_multiplier, weekly_popularity


def cutoff_day(latent: Latent, cutoff: pd.Timestamp) -> int:
    """The day index of ``cutoff`` (its midnight), checked to lie in ``1 .. days``.

    Raises
    ------
    UsageError
        The cutoff is before the world's second day or after its last day + 1, where
        the latent replenishment events are not known.
    """
    t = (pd.Timestamp(cutoff).normalize() - latent.start).days
    if not 1 <= t <= latent.days:
        first = (latent.start + pd.Timedelta(days=1)).date()
        last = (latent.start + pd.Timedelta(days=latent.days)).date()
        raise UsageError(
            f"the truth of this synthetic world is known for cutoffs {first} to {last}; "
            f"got {pd.Timestamp(cutoff).date()}: pass a cutoff inside the generated days"
        )
    return t


def _survival(n: np.ndarray, kappa: np.ndarray, cycle: np.ndarray) -> np.ndarray:
    """``P(G > n)`` for gaps ``G = max(1, ceil(Gamma(kappa, cycle / kappa)))`` (n >= 0, days)."""
    return gammaincc(kappa, np.maximum(n, 0) * kappa / cycle)


def _codes(latent: Latent) -> tuple[pd.Index, pd.Index]:
    return pd.Index(latent.customers["customer_id"]), pd.Index(latent.skus["sku"])


def favourite_state(latent: Latent, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Per favourite row: the day of its last renewal before ``t`` and whether it has one.

    Where there is none (the anchor is on or after ``t``: a customer arriving later),
    the day returned is the anchor's.
    """
    ren = latent.renewals
    r_fav = ren["favourite"].to_numpy()
    day = ren["day"].to_numpy()
    n_fav = len(latent.favourites)
    anchor = np.full(n_fav, np.iinfo(np.int64).max)
    np.minimum.at(anchor, r_fav, day)
    before = day < t
    last = np.full(n_fav, np.iinfo(np.int64).min)
    np.maximum.at(last, r_fav[before], day[before])
    has = last > np.iinfo(np.int64).min
    return np.where(has, last, anchor), has


def _item_weekly_popularity(
    latent: Latent, weeks: np.ndarray, item_level: str
) -> tuple[np.ndarray, pd.Index]:
    """Weekly choice distribution over SKUs or (summed) categories, and the item labels."""
    pop = weekly_popularity(latent, weeks)
    if item_level == "sku":
        return pop, pd.Index(latent.skus["sku"])
    bounds, cats = category_bounds(latent)
    cum0 = np.concatenate([np.zeros((len(weeks), 1)), np.cumsum(pop, axis=1)], axis=1)
    return cum0[:, bounds[1:]] - cum0[:, bounds[:-1]], cats


def browse_choice(latent: Latent, cust: np.ndarray, item: np.ndarray, weeks: np.ndarray,
                  item_level: str) -> np.ndarray:
    """``q``: the chance one browse line of customer ``cust[p]`` is item ``item[p]`` in each week.

    ``item`` are positions in the SKU table (``sku``) or in the sorted categories
    (``category``). Returns (len(cust), len(weeks)).
    """
    pop, _ = _item_weekly_popularity(latent, weeks, item_level)
    cat_pop, cats = _item_weekly_popularity(latent, weeks, "category")
    aff = cats.get_indexer(latent.customers["affinity"].to_numpy()[cust])
    boost = latent.customers["boost"].to_numpy()[cust][:, None]
    z = 1.0 + (boost - 1.0) * cat_pop[:, aff].T
    if item_level == "category":
        item_cat = item
    else:
        item_cat = cats.get_indexer(latent.skus["category"].to_numpy()[item])
    tilt = np.where(item_cat == aff, boost[:, 0], 1.0)[:, None]
    return pop[:, item].T * tilt / z


def _candidates(
    orders: pd.DataFrame, cutoff: pd.Timestamp, lookback_days: int, item_of: pd.Series
) -> pd.DataFrame:
    """Distinct (customer_id, item) with a line in ``[cutoff - L, cutoff)``, sorted."""
    ts = orders["order_ts"]
    window = orders[(ts >= cutoff - pd.Timedelta(days=lookback_days)) & (ts < cutoff)]
    pairs = pd.DataFrame({"customer_id": window["customer_id"].astype(str).to_numpy(),
                          "item": item_of.reindex(window["sku"].astype(str).to_numpy()).to_numpy()})
    if pairs["item"].isna().any():
        bad = window["sku"].to_numpy()[pairs["item"].isna().to_numpy()][0]
        raise DataError(f"orders name SKU {bad!r}, which this synthetic world does not have; pass the "
                        "orders of the same data directory as the latent state", column="sku")
    pairs = pairs.drop_duplicates().sort_values(["customer_id", "item"], kind="stable")
    return pairs.reset_index(drop=True).astype({"customer_id": "str", "item": "str"})


def _renewal_log_ratio(latent: Latent, t: int, horizon_days: int, fav_rows: np.ndarray) -> np.ndarray:
    """``log S(a + k) - log S(a)`` for k = 0..H, per favourite row (their last event is before t)."""
    last, _ = favourite_state(latent, t)
    kappa = latent.skus.set_index("sku")["kappa"].reindex(latent.favourites["sku"].to_numpy()[fav_rows])
    kappa = kappa.to_numpy()[:, None]
    cycle = latent.favourites["cycle"].to_numpy()[fav_rows][:, None]
    age = (t - 1 - last[fav_rows])[:, None] + np.arange(horizon_days + 1)[None, :]
    log_s = np.log(np.maximum(_survival(age, kappa, cycle), 1e-300))
    return log_s - log_s[:, :1]


def _browse_cumulative(latent: Latent, cust: np.ndarray, item: np.ndarray, t: int, horizon_days: int,
                       item_level: str) -> np.ndarray:
    """``C_k``: expected browse orders containing the item on horizon days ``< k``, k = 0..H."""
    days = t + np.arange(horizon_days)
    weeks, week_of_day = np.unique(days // 7, return_inverse=True)
    q = browse_choice(latent, cust, item, weeks, item_level)[:, week_of_day]
    contains = 1.0 - (1.0 - q) * np.exp(-latent.mu_k * q)
    lam = latent.customers["lam"].to_numpy()[cust][:, None]
    rate = lam * day_multiplier(latent, days)[None, :] * contains
    return np.concatenate([np.zeros((len(cust), 1)), np.cumsum(rate, axis=1)], axis=1)


def _pair_renewal_log_ratio(latent: Latent, pairs: pd.DataFrame, item_of: pd.Series, alive: np.ndarray,
                            t: int, horizon_days: int) -> np.ndarray:
    """``log R_k``: log P(no replenishment of the pair's favourites on horizon days ``< k``), k = 0..H."""
    fav = latent.favourites
    pair_key = pd.MultiIndex.from_frame(pairs[["customer_id", "item"]])
    fav_pair = pair_key.get_indexer(pd.MultiIndex.from_arrays(
        [fav["customer_id"].to_numpy(), item_of.reindex(fav["sku"].to_numpy()).to_numpy()]))
    rows = np.flatnonzero(fav_pair >= 0)
    rows = rows[alive[fav_pair[rows]]]  # only the living have a last event before t on record
    log_r = np.zeros((len(pairs), horizon_days + 1))
    np.add.at(log_r, fav_pair[rows], _renewal_log_ratio(latent, t, horizon_days, rows))
    return log_r


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
    """Exact P(the pair orders in ``[cutoff, cutoff + H)``) for every candidate pair at ``cutoff``.

    Parameters
    ----------
    latent
        The generator's state (:func:`anticipate.sample.load_latent`).
    orders
        Canonical orders; only lines in ``[cutoff - L, cutoff)`` are read, to list the
        candidates (docs/data-contract.md#cutoffs-and-labels).
    cutoff
        A midnight inside the world (see :func:`cutoff_day`).
    horizon_days, lookback_days
        ``H`` and ``L``, days.
    item_level
        ``sku`` or ``category``.
    products
        Unused (the latent SKU table knows each SKU's category); accepted for symmetry.

    Returns
    -------
    DataFrame ``customer_id, item, p_true`` sorted by ``customer_id, item``.
    """
    del products
    cutoff = pd.Timestamp(cutoff).normalize()
    t = cutoff_day(latent, cutoff)
    item_of = pd.Series(latent.skus["sku" if item_level == "sku" else "category"].to_numpy(),
                        index=latent.skus["sku"].to_numpy())
    pairs = _candidates(orders, cutoff, lookback_days, item_of)
    customers, _ = _codes(latent)
    cust = customers.get_indexer(pairs["customer_id"])
    if (cust < 0).any():
        raise DataError(f"orders name customer {pairs['customer_id'][cust < 0].iloc[0]!r}, unknown to this "
                        "synthetic world; pass the orders of the same data directory", column="customer_id")
    items = pd.Index(np.unique(item_of.to_numpy()))
    cum = _browse_cumulative(latent, cust, items.get_indexer(pairs["item"]), t, horizon_days, item_level)
    alive = latent.customers["death"].to_numpy()[cust] >= t
    log_r = _pair_renewal_log_ratio(latent, pairs, item_of, alive, t, horizon_days)
    delta = latent.customers["delta"].to_numpy()[cust][:, None]
    k = np.arange(horizon_days + 1)[None, :]
    weight = np.where(k < horizon_days, delta * (1 - delta) ** k, (1 - delta) ** horizon_days)
    p_none = (weight * np.exp(log_r - cum)).sum(axis=1)
    return pairs.assign(p_true=np.where(alive, np.clip(1.0 - p_none, 0.0, 1.0), 0.0))


def _alive_probability(latent: Latent, t: int, horizon_days: int) -> np.ndarray:
    """P(customer alive on day ``t + j``) given the state at ``t``: (customers, H)."""
    c = latent.customers
    arrival, death = c["arrival"].to_numpy()[:, None], c["death"].to_numpy()[:, None]
    delta = c["delta"].to_numpy()[:, None]
    d = t + np.arange(horizon_days)[None, :]
    before = (arrival < t) & (death >= t)
    p_old = np.where(before, (1 - delta) ** (d - t + 1), 0.0)
    p_new = np.where((arrival >= t) & (d >= arrival), (1 - delta) ** np.maximum(d - arrival, 0), 0.0)
    return np.where(arrival < t, p_old, p_new)


def _renewal_density(latent: Latent, t: int, horizon_days: int) -> np.ndarray:
    """Expected replenishment events of each favourite on each horizon day, ignoring death: (F, H)."""
    fav = latent.favourites
    ref, has = favourite_state(latent, t)
    kappa = latent.skus.set_index("sku")["kappa"].reindex(fav["sku"].to_numpy()).to_numpy()[:, None]
    cycle = fav["cycle"].to_numpy()[:, None]
    j = np.arange(horizon_days + 1)[None, :]
    s = _survival((t - 1 - ref)[:, None] + j, kappa, cycle)
    first = np.where(has[:, None], (s[:, :-1] - s[:, 1:]) / np.maximum(s[:, :1], 1e-300), 0.0)
    at = ref - t  # an anchor inside the horizon counts as an event (its customer is not alive yet)
    inside = ~has & (at < horizon_days)
    first[np.flatnonzero(inside), at[inside]] = 1.0
    gap_s = _survival(np.arange(horizon_days + 1)[None, :], kappa, cycle)
    gap = gap_s[:, :-1] - gap_s[:, 1:]  # gap[:, n - 1] = P(G = n)
    r = np.zeros_like(first)
    for day in range(horizon_days):
        r[:, day] = first[:, day] + (r[:, :day] * gap[:, day - 1::-1][:, :day]).sum(axis=1)
    return r


def true_region_demand(
    latent: Latent, cutoff: pd.Timestamp, *, horizon_days: int, n_regions: int | None = None
) -> pd.DataFrame:
    """Expected units per ship-to region and SKU in ``[cutoff, cutoff + H)`` given the latent state.

    Counts customers alive through the day before the cutoff and those arriving during
    the horizon (on their latent arrival day); ``AWAY_SHARE`` of every order ships to a
    uniformly chosen region.

    Parameters
    ----------
    n_regions
        Ignored (the latent region table is used); kept for callers that pass it.

    Returns
    -------
    DataFrame ``region, sku, mu_true`` (units) for every region and SKU, sorted.
    """
    del n_regions
    t = cutoff_day(latent, pd.Timestamp(cutoff))
    c, skus = latent.customers, latent.skus
    days = t + np.arange(horizon_days)
    alive = _alive_probability(latent, t, horizon_days)
    region = pd.Index(latent.regions["region"]).get_indexer(c["region"])
    bounds, cats = category_bounds(latent)
    aff = cats.get_indexer(c["affinity"])
    boost = c["boost"].to_numpy()
    n_r, n_s = len(latent.regions), len(skus)
    lines = np.zeros((n_r, n_s))
    weeks, week_of_day = np.unique(days // 7, return_inverse=True)
    pop = weekly_popularity(latent, weeks)
    cat_of_sku = np.repeat(np.arange(len(cats)), np.diff(bounds))
    cat_pop, _ = _item_weekly_popularity(latent, weeks, "category")
    orders = c["lam"].to_numpy()[:, None] * day_multiplier(latent, days)[None, :] * alive
    for w in range(len(weeks)):
        e = orders[:, week_of_day == w].sum(axis=1) / (1.0 + (boost - 1.0) * cat_pop[w, aff])
        g1 = np.bincount(region, weights=e, minlength=n_r)
        g2 = np.bincount(region * len(cats) + aff, weights=e * (boost - 1.0), minlength=n_r * len(cats))
        lines += pop[w][None, :] * (g1[:, None] + g2.reshape(n_r, len(cats))[:, cat_of_sku])
    lines *= 1.0 + latent.mu_k
    fav = latent.favourites
    f_cust = pd.Index(c["customer_id"]).get_indexer(fav["customer_id"])
    events = (_renewal_density(latent, t, horizon_days) * alive[f_cust]).sum(axis=1)
    np.add.at(lines, (region[f_cust], pd.Index(skus["sku"]).get_indexer(fav["sku"])), events)
    units = lines * (1.0 + skus["qty_extra"].to_numpy())[None, :]
    mu = units * (1 - latent.away_share) + units.sum(axis=0)[None, :] * latent.away_share / n_r
    return pd.DataFrame(
        {
            "region": np.repeat(latent.regions["region"].to_numpy(), n_s),
            "sku": np.tile(skus["sku"].to_numpy(), n_r),
            "mu_true": mu.ravel(),
        }
    )
