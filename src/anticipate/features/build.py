"""Point-in-time features at a cutoff (CONTRACTS section 2), labels and rolling-origin training sets.

Features at cutoff ``t`` read only order lines with ``order_ts < t``: the history is
cut first, and every later step sees nothing else (the leakage test checks this).
Per-group sequential statistics run in :mod:`anticipate.features._kernels`; the
plain-pandas twin of this whole table is :mod:`anticipate.features.reference`.

An *order* is a distinct ``order_id`` of a customer (a line without order_id is its
own order at its timestamp); ages and gaps are in days (float); units are summed
quantities; spend is quantity x unit_price (currency).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate.features import _kernels as kernels

ALL_FAMILIES: tuple[str, ...] = ("customer", "customer_item", "item", "region_item", "calendar")
CUSTOMER_WINDOWS: tuple[int, ...] = (7, 30, 90, 365)
PAIR_WINDOWS: tuple[int, ...] = (90, 365)
KEYS = ("customer_id", "item", "region")
DAY = np.timedelta64(1, "D")

FEATURE_DOCS: dict[str, str] = {
    "cust_recency_days": "days from the customer's last order to the cutoff",
    "cust_tenure_days": "days from the customer's first order to the cutoff",
    "cust_orders_total": "orders the customer placed before the cutoff",
    **{f"cust_orders_{w}d": f"orders in the last {w} days" for w in CUSTOMER_WINDOWS},
    **{f"cust_units_{w}d": f"units ordered in the last {w} days" for w in CUSTOMER_WINDOWS},
    "cust_spend_365d": "spend (quantity x unit_price) in the last 365 days",
    "cust_orders_per_day": "orders per day since the first order (orders / max(tenure, 1))",
    "cust_gap_mean_days": "mean days between consecutive orders",
    "cust_gap_std_days": "standard deviation of the gaps (ddof 1; needs 3 orders)",
    "cust_gap_last_days": "days between the last two orders",
    "cust_recency_over_gap": "days since the last order divided by the mean gap",
    "cust_bgnbd_x": "BG/NBD x: repeat orders (orders - 1)",
    "cust_bgnbd_t_x": "BG/NBD t_x: days from the first to the last order",
    "cust_bgnbd_T": "BG/NBD T: days from the first order to the cutoff",
    "ci_orders_total": "orders of this item by this customer before the cutoff",
    **{f"ci_orders_{w}d": f"orders of the item by the customer in the last {w} days" for w in PAIR_WINDOWS},
    **{
        f"ci_units_{w}d": f"units of the item bought by the customer in the last {w} days"
        for w in PAIR_WINDOWS
    },
    "ci_days_since_last": "days since the customer last ordered the item",
    "ci_gap_mean_days": "mean days between the customer's orders of the item",
    "ci_recency_over_gap": "days since the last order of the item divided by its mean gap",
    "ci_share_of_orders": "share of the customer's orders (365 days) that contained the item",
    "ci_repeat_ratio": "share of the customer's orders of the item that were repeats: (n - 1) / n",
    "ci_share_all": "share of all the customer's orders that contained the item",
    "ci_orders_per_day": "orders of the item per day since the customer's first order",
    "ci_gap_std_days": "standard deviation of the gaps between the customer's orders of the item (needs 3)",
    "ci_gap_last_days": "days between the customer's last two orders of the item",
    "ci_renewal_hazard_7d": (
        "P(next order of the item within 7 days | none for ci_days_since_last days) under a Gamma gap "
        "with the item's pooled CV and the pair's mean gap shrunk to the item's by one gap"
    ),
    "item_units_7d": "units of the item sold to anyone in the last 7 days",
    "item_units_28d": "units of the item sold in the last 28 days",
    "item_units_365d": "units of the item sold in the last 365 days",
    "item_trend_7d_28d": "daily units in 7 days over daily units in 28 days (NaN when none in 28)",
    "item_buyers_28d": "distinct customers who bought the item in the last 28 days",
    "item_gap_mean_days": "mean days between a customer's orders of the item, pooled over customers",
    "item_gap_cv": "coefficient of variation of those gaps, pooled over customers with 3+ orders of it",
    "ri_units_7d": "units of the item shipped to the customer's region in the last 7 days",
    "ri_units_28d": "units of the item shipped to the customer's region in the last 28 days",
    "ri_trend_7d_28d": "regional daily units in 7 days over those in 28 days",
    "cal_dow": "the cutoff's day of week (Monday = 0)",
    "cal_week": "the cutoff's ISO week of year",
}

FAMILY_PREFIX = {
    "customer": "cust_",
    "customer_item": "ci_",
    "item": "item_",
    "region_item": "ri_",
    "calendar": "cal_",
}


def feature_columns(families: Sequence[str] = ALL_FAMILIES) -> list[str]:
    """The feature columns of ``families``, in table order (pinned by tests)."""
    return [name for name in FEATURE_DOCS if any(name.startswith(FAMILY_PREFIX[f]) for f in families)]


def item_column(orders: pd.DataFrame, item_level: str, products: pd.DataFrame | None) -> pd.Series:
    """The item of each order line: its ``sku``, or its product ``category`` (``ALL`` if unknown)."""
    if item_level == "sku":
        return orders["sku"].astype(str)
    if products is None or "category" not in products:
        return pd.Series("ALL", index=orders.index, dtype=str)
    category = products.set_index("sku")["category"]
    return pd.Series(
        category.reindex(orders["sku"].to_numpy()).fillna("ALL").to_numpy(dtype=str), index=orders.index
    )


@dataclass(frozen=True)
class _Lines:
    """History lines before the cutoff as integer codes and float days."""

    cust: np.ndarray  # customer code
    item: np.ndarray  # item code
    order: np.ndarray  # order code
    region: np.ndarray  # ship-to region code
    age: np.ndarray  # days before the cutoff (> 0)
    units: np.ndarray
    spend: np.ndarray
    customers: pd.Index
    items: pd.Index
    regions: pd.Index


def _history(
    orders: pd.DataFrame, cutoff: pd.Timestamp, item_level: str, products: pd.DataFrame | None
) -> _Lines:
    hist = orders[orders["order_ts"] < cutoff]
    items = item_column(hist, item_level, products)
    cust_codes, customers = pd.factorize(hist["customer_id"].astype(str), sort=True)
    item_codes, item_index = pd.factorize(items, sort=True)
    region_codes, regions = pd.factorize(hist["region"].astype(str), sort=True)
    ts = hist["order_ts"].to_numpy().astype("datetime64[ns]")
    if "order_id" in hist:
        oid = (
            hist["order_id"]
            .astype(str)
            .where(hist["order_id"].notna() & (hist["order_id"].astype(str) != ""))
        )
    else:
        oid = pd.Series(np.nan, index=hist.index)
    own = hist["customer_id"].astype(str) + "@" + pd.Series(ts.astype("int64"), index=hist.index).astype(str)
    order_codes, _ = pd.factorize(oid.fillna("\x00" + own), sort=False)
    age = (np.datetime64(pd.Timestamp(cutoff).to_datetime64(), "ns") - ts) / DAY
    qty = hist["quantity"].to_numpy(dtype=np.float64)
    price = hist["unit_price"].to_numpy(dtype=np.float64) if "unit_price" in hist else np.zeros(len(hist))
    return _Lines(
        cust_codes.astype(np.int64),
        item_codes.astype(np.int64),
        order_codes.astype(np.int64),
        region_codes.astype(np.int64),
        age.astype(np.float64),
        qty,
        np.nan_to_num(qty * price),
        pd.Index(customers),
        pd.Index(item_index),
        pd.Index(regions),
    )


def _events(
    group: np.ndarray, order: np.ndarray, age: np.ndarray, units: np.ndarray, spend: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Collapse lines to one event per (group, order), sorted by group then oldest first.

    Returns the event arrays ``group, age, units, spend`` and ``indptr`` over all
    group codes ``0..max(group)``.
    """
    frame = pd.DataFrame({"g": group, "o": order, "age": age, "u": units, "s": spend})
    ev = frame.groupby(["g", "o"], sort=False).agg(age=("age", "max"), u=("u", "sum"), s=("s", "sum"))
    ev = ev.reset_index().sort_values(["g", "age", "o"], ascending=[True, False, True], kind="stable")
    g = ev["g"].to_numpy(np.int64)
    n_groups = int(group.max()) + 1 if len(group) else 0
    indptr = np.searchsorted(g, np.arange(n_groups + 1)).astype(np.int64)
    return g, ev["age"].to_numpy(), ev["u"].to_numpy(), ev["s"].to_numpy(), indptr


def _customer_table(lines: _Lines) -> pd.DataFrame:
    _, age, units, spend, indptr = _events(lines.cust, lines.order, lines.age, lines.units, lines.spend)
    stats = kernels.sequence_stats(indptr, age, units, spend, np.array(CUSTOMER_WINDOWS, dtype=np.float64))
    names = [
        "cust_recency_days",
        "cust_tenure_days",
        "cust_orders_total",
        "cust_spend_365d",
        "cust_gap_mean_days",
        "cust_gap_std_days",
        "cust_gap_last_days",
        "cust_recency_over_gap",
        "cust_bgnbd_x",
        "cust_bgnbd_t_x",
        "cust_bgnbd_T",
    ]
    for w in CUSTOMER_WINDOWS:
        names += [f"cust_orders_{w}d", f"cust_units_{w}d"]
    table = pd.DataFrame(stats, columns=names)
    # the most recent line; ties on time go to the later source row
    order = np.lexsort((np.arange(len(lines.age)), -lines.age, lines.cust))
    last_region = kernels.last_value(
        np.searchsorted(lines.cust[order], np.arange(len(lines.customers) + 1)), lines.region[order]
    )
    table["region"] = lines.regions.to_numpy()[last_region]
    return table


def _pair_table(lines: _Lines, lookback_days: int) -> pd.DataFrame:
    n_items = len(lines.items)
    pair = lines.cust * n_items + lines.item
    pair_codes, pair_keys = pd.factorize(pair, sort=True)
    _, age, units, spend, indptr = _events(
        pair_codes.astype(np.int64), lines.order, lines.age, lines.units, lines.spend
    )
    stats = kernels.sequence_stats(indptr, age, units, spend, np.array(PAIR_WINDOWS, dtype=np.float64))
    table = pd.DataFrame(
        {
            "cust_code": pair_keys // n_items,
            "item_code": pair_keys % n_items,
            "ci_orders_total": stats[:, 2],
            "ci_days_since_last": stats[:, 0],
            "ci_gap_mean_days": stats[:, 4],
            "ci_recency_over_gap": stats[:, 7],
            "ci_gap_std_days": stats[:, 5],
            "ci_gap_last_days": stats[:, 6],
        }
    )
    for i, w in enumerate(PAIR_WINDOWS):
        table[f"ci_orders_{w}d"] = stats[:, 11 + 2 * i]
        table[f"ci_units_{w}d"] = stats[:, 12 + 2 * i]
    table["ci_repeat_ratio"] = (table["ci_orders_total"] - 1.0) / table["ci_orders_total"]
    _add_renewal(table, n_items)
    return table[table["ci_days_since_last"] <= lookback_days].reset_index(drop=True)


# --------------------------------------------------------------------------- renewal cycles
RENEWAL_WINDOW_DAYS = 7.0
MIN_GAP_CV2 = 0.01  # the Gamma shape is at most 100


GAP_SUMS = ("gap_n", "gap_span", "gap_w", "gap_wcv2")


def item_gap_sums(
    item: np.ndarray, n: np.ndarray, gap_mean: np.ndarray, gap_std: np.ndarray, n_items: int
) -> np.ndarray:
    """Per item, additive sums over its pairs (:data:`GAP_SUMS`): (n_items, 4).

    ``gap_n = sum (n-1)`` and ``gap_span = sum (n-1) mean`` over pairs with ``n >= 2``
    orders; ``gap_w = sum (n-2)`` and ``gap_wcv2 = sum (n-2) (std / mean)^2`` over pairs
    with ``n >= 3`` and a positive mean gap. Sums add across customer partitions.
    """
    gaps = np.where(n >= 2, n - 1.0, 0.0)
    span = np.where(n >= 2, np.nan_to_num(gap_mean) * gaps, 0.0)
    ok = (n >= 3) & (np.nan_to_num(gap_mean) > 0)
    w = np.where(ok, n - 2.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv2 = np.where(ok, (gap_std / np.where(ok, gap_mean, 1.0)) ** 2, 0.0)
    return np.column_stack(
        [np.bincount(item, weights=v, minlength=n_items) for v in (gaps, span, w, w * cv2)]
    ).reshape(n_items, 4)


def pooled_gaps(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """From :func:`item_gap_sums`: per item the pooled mean gap (days) and CV^2; the all-item CV^2.

    NaN where no pair qualifies; the all-item CV^2 is 1 (exponential gaps) when none does.
    """
    g, span, w, wcv2 = sums.T
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(g > 0, span / g, np.nan)
        cv2 = np.where(w > 0, wcv2 / w, np.nan)
    overall = float(wcv2.sum() / w.sum()) if w.sum() > 0 else 1.0
    return mean, cv2, overall


def item_gap_pool(
    item: np.ndarray, n: np.ndarray, gap_mean: np.ndarray, gap_std: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per item: the pooled mean gap (days), the pooled squared CV of gaps; and the all-item CV^2."""
    return pooled_gaps(item_gap_sums(item, n, gap_mean, gap_std, n_items))


def renewal_hazard(
    age: np.ndarray, mean_gap: np.ndarray, cv2: np.ndarray, window: float = RENEWAL_WINDOW_DAYS
) -> np.ndarray:
    """``P(G <= age + window | G > age)`` for ``G ~ Gamma(1 / cv2, mean_gap * cv2)`` (days).

    1 where the survival at ``age`` underflows (long overdue); NaN where the mean gap is.
    """
    from scipy.special import gammaincc

    shape = 1.0 / np.maximum(cv2, MIN_GAP_CV2)
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = gammaincc(shape, age * shape / mean_gap)
        s1 = gammaincc(shape, (age + window) * shape / mean_gap)
        hazard = np.where(s0 > 1e-12, (s0 - s1) / s0, 1.0)
    return np.where(np.isnan(mean_gap), np.nan, hazard)


def renewal_columns(
    n: np.ndarray,
    pair_mean: np.ndarray,
    age: np.ndarray,
    item_mean: np.ndarray,
    item_cv2: np.ndarray,
    overall_cv2: float,
) -> dict[str, np.ndarray]:
    """``item_gap_mean_days``, ``item_gap_cv`` and ``ci_renewal_hazard_7d`` per pair (item stats per pair)."""
    prior = np.where(np.isnan(item_mean), pair_mean, item_mean)
    shrunk = (np.nan_to_num(pair_mean) * (n - 1.0) + prior) / n
    shrunk = np.where(np.isnan(prior), np.nan, shrunk)
    hazard = renewal_hazard(age, shrunk, np.where(np.isnan(item_cv2), overall_cv2, item_cv2))
    return {"item_gap_mean_days": item_mean, "item_gap_cv": np.sqrt(item_cv2), "ci_renewal_hazard_7d": hazard}


def _add_renewal(table: pd.DataFrame, n_items: int) -> None:
    """Pooled item gap statistics and the pair's renewal hazard (in place, all pairs of the history)."""
    item = table["item_code"].to_numpy()
    n = table["ci_orders_total"].to_numpy()
    pair_mean = table["ci_gap_mean_days"].to_numpy()
    sums = item_gap_sums(item, n, pair_mean, table["ci_gap_std_days"].to_numpy(), n_items)
    mean, cv2, overall = pooled_gaps(sums)
    age = table["ci_days_since_last"].to_numpy()
    cols = renewal_columns(n, pair_mean, age, mean[item], cv2[item], overall)
    for name, values in cols.items():
        table[name] = values


def item_gap_table(
    orders: pd.DataFrame, cutoff: pd.Timestamp, item_level: str, products: pd.DataFrame | None
) -> pd.DataFrame:
    """:func:`item_gap_sums` of the history before ``cutoff``, indexed by item label (for Dask partials)."""
    lines = _history(orders, pd.Timestamp(cutoff), item_level, products)
    if len(lines.age) == 0:
        return pd.DataFrame(columns=list(GAP_SUMS), dtype=float)
    pairs = _pair_table(lines, 10**9)
    sums = item_gap_sums(
        pairs["item_code"].to_numpy(),
        pairs["ci_orders_total"].to_numpy(),
        pairs["ci_gap_mean_days"].to_numpy(),
        pairs["ci_gap_std_days"].to_numpy(),
        len(lines.items),
    )
    return pd.DataFrame(sums, columns=list(GAP_SUMS), index=pd.Index(lines.items, name="item"))


def _windowed_units(
    group: np.ndarray, n_groups: int, age: np.ndarray, units: np.ndarray, window: float
) -> np.ndarray:
    inside = age <= window
    return np.bincount(group[inside], weights=units[inside], minlength=n_groups)


def _item_table(lines: _Lines) -> pd.DataFrame:
    n = len(lines.items)
    u7, u28, u365 = (_windowed_units(lines.item, n, lines.age, lines.units, w) for w in (7.0, 28.0, 365.0))
    recent = lines.age <= 28.0
    buyers = pd.DataFrame({"i": lines.item[recent], "c": lines.cust[recent]}).drop_duplicates()
    n_buyers = np.bincount(buyers["i"].to_numpy(), minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(u28 > 0, (u7 / 7.0) / (u28 / 28.0), np.nan)
    return pd.DataFrame(
        {
            "item_units_7d": u7,
            "item_units_28d": u28,
            "item_units_365d": u365,
            "item_trend_7d_28d": trend,
            "item_buyers_28d": n_buyers.astype(np.float64),
        }
    )


def _region_item_table(lines: _Lines) -> pd.DataFrame:
    n_items = len(lines.items)
    key = lines.region * n_items + lines.item
    n = len(lines.regions) * n_items
    u7 = _windowed_units(key, n, lines.age, lines.units, 7.0)
    u28 = _windowed_units(key, n, lines.age, lines.units, 28.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(u28 > 0, (u7 / 7.0) / (u28 / 28.0), np.nan)
    return pd.DataFrame({"ri_units_7d": u7, "ri_units_28d": u28, "ri_trend_7d_28d": trend})


def _add_rates(out: pd.DataFrame) -> None:
    """Ratio features trees cannot form themselves (in place on a fresh frame)."""
    days = np.maximum(out["cust_tenure_days"].to_numpy(), 1.0)
    out["cust_orders_per_day"] = out["cust_orders_total"].to_numpy() / days
    out["ci_share_all"] = out["ci_orders_total"].to_numpy() / out["cust_orders_total"].to_numpy()
    out["ci_orders_per_day"] = out["ci_orders_total"].to_numpy() / days


def build_features(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    lookback_days: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
    families: Sequence[str] = ALL_FAMILIES,
) -> pd.DataFrame:
    """One row per candidate pair at ``cutoff``: ``customer_id, item, region`` + feature columns.

    Candidates are the (customer, item) pairs with an order line in ``[cutoff - L, cutoff)``;
    ``region`` is the customer's ship-to region on their most recent line before the
    cutoff. Rows are sorted by ``customer_id, item``; columns follow :func:`feature_columns`.
    """
    cutoff = pd.Timestamp(cutoff)
    columns = feature_columns(families)
    lines = _history(orders, cutoff, item_level, products)
    if len(lines.age) == 0:
        return pd.DataFrame({c: pd.Series(dtype=str if c in KEYS else float) for c in [*KEYS, *columns]})
    cust = _customer_table(lines)
    pairs = _pair_table(lines, lookback_days)
    c_idx, i_idx = pairs["cust_code"].to_numpy(), pairs["item_code"].to_numpy()
    out = pd.DataFrame(
        {
            "customer_id": lines.customers.to_numpy()[c_idx].astype(str),
            "item": lines.items.to_numpy()[i_idx].astype(str),
            "region": cust["region"].to_numpy()[c_idx].astype(str),
        }
    )
    cust_part = cust.drop(columns="region").iloc[c_idx].reset_index(drop=True)
    out = pd.concat([out, cust_part, pairs.drop(columns=["cust_code", "item_code"])], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ci_share_of_orders"] = out["ci_orders_365d"] / out["cust_orders_365d"]
    _add_rates(out)
    out = pd.concat([out, _item_table(lines).iloc[i_idx].reset_index(drop=True)], axis=1)
    region_code = lines.regions.get_indexer(out["region"])
    ri = _region_item_table(lines).iloc[region_code * len(lines.items) + i_idx].reset_index(drop=True)
    out = pd.concat([out, ri], axis=1)
    out["cal_dow"] = float(cutoff.dayofweek)
    out["cal_week"] = float(cutoff.isocalendar()[1])
    return out[[*KEYS, *columns]].sort_values(["customer_id", "item"], kind="stable").reset_index(drop=True)


def build_labels(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pairs that order in ``[cutoff, cutoff + H)``: ``customer_id, item, y (=1), units``."""
    cutoff = pd.Timestamp(cutoff)
    end = cutoff + pd.Timedelta(days=horizon_days)
    window = orders[(orders["order_ts"] >= cutoff) & (orders["order_ts"] < end)]
    frame = pd.DataFrame(
        {
            "customer_id": window["customer_id"].astype(str).to_numpy(),
            "item": item_column(window, item_level, products).to_numpy(),
            "units": window["quantity"].to_numpy(dtype=np.float64),
        }
    )
    labels = frame.groupby(["customer_id", "item"], as_index=False, sort=True)["units"].sum()
    labels.insert(2, "y", np.int8(1))
    return labels


def build_training_frame(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
    families: Sequence[str] = ALL_FAMILIES,
) -> pd.DataFrame:
    """Features at ``cutoff`` with labels ``y`` (0/1) and ``units`` (0 when no order) and ``cutoff``."""
    feats = build_features(
        orders,
        cutoff,
        lookback_days=lookback_days,
        item_level=item_level,
        products=products,
        families=families,
    )
    labels = build_labels(orders, cutoff, horizon_days=horizon_days, item_level=item_level, products=products)
    frame = feats.merge(labels, on=["customer_id", "item"], how="left")
    frame["y"] = frame["y"].fillna(0).astype(np.int8)
    frame["units"] = frame["units"].fillna(0.0)
    frame["cutoff"] = pd.Timestamp(cutoff)
    return frame


def training_cutoffs(until: pd.Timestamp, horizon_days: int, windows: int) -> list[pd.Timestamp]:
    """Window cutoffs ``until - k*H`` for ``k = windows..1``, oldest first (the last validates)."""
    return [pd.Timestamp(until) - pd.Timedelta(days=horizon_days * k) for k in range(windows, 0, -1)]


def build_training_set(
    orders: pd.DataFrame,
    until: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    windows: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
    families: Sequence[str] = ALL_FAMILIES,
) -> pd.DataFrame:
    """Rolling-origin training frames concatenated (every label lies before ``until``)."""
    frames = [
        build_training_frame(
            orders,
            t,
            horizon_days=horizon_days,
            lookback_days=lookback_days,
            item_level=item_level,
            products=products,
            families=families,
        )
        for t in training_cutoffs(until, horizon_days, windows)
    ]
    return pd.concat(frames, ignore_index=True)
