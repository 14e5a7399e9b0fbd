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

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate.features import _kernels as kernels
from anticipate.features.renewal import GAP_SUMS, item_gap_sums, pooled_gaps, renewal_columns

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

    cust: np.ndarray  # customer code (numbered in sorted order of the ids)
    item: np.ndarray  # item code (sorted order)
    order: np.ndarray  # order code (first appearance)
    region: np.ndarray  # ship-to region code (sorted order)
    age: np.ndarray  # days before the cutoff (> 0)
    units: np.ndarray
    spend: np.ndarray
    customers: pd.Index
    items: pd.Index
    regions: pd.Index


def _before(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The columns features read, of the lines strictly before ``cutoff`` (a view when they are a prefix)."""
    wanted = ("order_id", "customer_id", "order_ts", "sku", "quantity", "unit_price", "region")
    frame = orders[[c for c in wanted if c in orders]]
    mask = (frame["order_ts"] < cutoff).to_numpy()
    kept = int(mask.sum())
    if mask[:kept].all():  # a time-sorted log: the history is its head
        return frame.iloc[:kept]
    return frame[mask]


def _arrow(values: pd.Series) -> object | None:
    """The one-chunk pyarrow array behind a pyarrow-backed string Series without nulls, else None."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa

    arr = pa.array(values.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return None if arr.null_count else arr


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values`` as strings, numbered in sorted order of the strings.

    Equals ``pd.factorize(values.astype(str), sort=True)``; pyarrow-backed strings are
    dictionary-encoded by pyarrow directly (the GIL is released, and only the small
    dictionary gets sorted).
    """
    values = values.astype(str)
    arr = _arrow(values)
    if arr is None or len(values) == 0:
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(np.int64), pd.Index(uniques)
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(arr)
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    return codes, pd.Index(pd.array(encoded.dictionary.take(order), dtype=values.dtype))


def _runs_if_sorted(values: pd.Series) -> np.ndarray | None:
    """First-appearance codes of string ``values`` if they never decrease (equal ones contiguous), else None.

    Order ids issued in sequence make this the common case; it spares hashing
    millions of distinct strings.
    """
    if len(values) < 2:
        return None
    import pyarrow.compute as pc

    arr = _arrow(values)
    if arr is None:
        return None
    head, tail = arr.slice(0, len(arr) - 1), arr.slice(1)
    if pc.any(pc.less(tail, head)).as_py():
        return None
    change = pc.not_equal(tail, head).to_numpy(zero_copy_only=False)
    codes = np.zeros(len(arr), dtype=np.int64)
    np.cumsum(change, out=codes[1:])
    return codes


def _order_codes(hist: pd.DataFrame, ts: np.ndarray) -> np.ndarray:
    """Order code per line: its ``order_id``, or else its own (customer, timestamp) order.

    Codes are numbered by first appearance in ``hist`` (the events' tie-break).
    """
    oid = hist["order_id"].astype(str) if "order_id" in hist else pd.Series("", index=hist.index, dtype=str)
    valid = (oid != "").to_numpy() & (hist["order_id"].notna().to_numpy() if "order_id" in hist else False)
    if valid.all():
        runs = _runs_if_sorted(oid)
        return runs if runs is not None else pd.factorize(oid, sort=False)[0].astype(np.int64)
    joint = np.empty(len(hist), dtype=np.int64)
    id_codes, ids = pd.factorize(oid[valid], sort=False)
    joint[valid] = id_codes
    rest = ~valid
    own = hist["customer_id"].astype(str)[rest] + "@" + ts[rest].astype("int64").astype(str)
    joint[rest] = len(ids) + pd.factorize(own, sort=False)[0]
    return pd.factorize(joint, sort=False)[0].astype(np.int64)


def _history(
    orders: pd.DataFrame, cutoff: pd.Timestamp, item_level: str, products: pd.DataFrame | None
) -> _Lines:
    hist = _before(orders, cutoff)
    ts = hist["order_ts"].to_numpy().astype("datetime64[ns]")
    jobs = {
        "cust": lambda: _sorted_codes(hist["customer_id"]),
        "item": lambda: _sorted_codes(item_column(hist, item_level, products)),
        "region": lambda: _sorted_codes(hist["region"]),
        "order": lambda: _order_codes(hist, ts),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:  # pyarrow hashes strings without the GIL
        done = {name: pool.submit(job) for name, job in jobs.items()}
        (cust_codes, customers), (item_codes, item_index), (region_codes, regions) = (
            done[k].result() for k in ("cust", "item", "region")
        )
        order_codes = done["order"].result()
    age = (np.datetime64(pd.Timestamp(cutoff).to_datetime64(), "ns") - ts) / DAY
    qty = hist["quantity"].to_numpy(dtype=np.float64)
    price = hist["unit_price"].to_numpy(dtype=np.float64) if "unit_price" in hist else np.zeros(len(hist))
    return _Lines(
        cust_codes,
        item_codes,
        order_codes,
        region_codes,
        age.astype(np.float64, copy=False),
        qty,
        np.nan_to_num(qty * price, copy=False),
        customers,
        item_index,
        regions,
    )


CUSTOMER_STATS: tuple[str, ...] = (
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
    *(f"cust_{k}_{w}d" for w in CUSTOMER_WINDOWS for k in ("orders", "units")),
)


@dataclass(frozen=True)
class _Customers:
    """Per customer code: sequence statistics (columns :data:`CUSTOMER_STATS`) and last region code."""

    stats: np.ndarray
    region: np.ndarray


@dataclass(frozen=True)
class _Grouped:
    """The history lines reordered by customer code, source order kept within a customer.

    Gathered once, so every later pass reads memory in order instead of hopping
    through a permutation of ten million rows.
    """

    rows: np.ndarray  # source row of each position
    indptr: np.ndarray  # customer ``g`` owns positions ``[indptr[g], indptr[g + 1])``
    item: np.ndarray
    order: np.ndarray
    age: np.ndarray
    units: np.ndarray
    spend: np.ndarray
    region: np.ndarray

    @property
    def positions(self) -> np.ndarray:
        """``0..N-1``: every customer's positions, in order."""
        return np.arange(len(self.rows), dtype=np.int64)


def _group_by_customer(lines: _Lines) -> _Grouped:
    rows, indptr = kernels.group_by_codes(lines.cust, len(lines.customers))
    columns = (lines.item, lines.order, lines.age, lines.units, lines.spend, lines.region)
    return _Grouped(rows, indptr, *(np.take(c, rows) for c in columns))


def _events(
    lines: _Lines, grouped: _Grouped, perm: np.ndarray, indptr: np.ndarray, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One event per (group, order), oldest first within a group: ``indptr, age, units, spend``.

    ``perm``/``indptr`` list each group's positions in ``grouped`` (source order
    within); ``group`` is each source line's group code. The sums are bit-identical
    to pandas' grouped sums over (group, order): those add with ``np.add.reduceat``
    when every (group, order) is one contiguous run of source lines (pandas 3's
    sorted-ids path), else with Kahan compensation (its Cython path, which the
    kernel reproduces).
    """
    ev_indptr, age, units, spend, first = kernels.collapse_events(
        indptr, perm, grouped.order, grouped.age, grouped.units, grouped.spend
    )
    run, at = kernels.runs(group, lines.order)
    if len(at) == len(age):
        ev_run = run[grouped.rows[first]]
        units = np.add.reduceat(lines.units, at)[ev_run]
        spend = np.add.reduceat(lines.spend, at)[ev_run]
    return ev_indptr, age, units, spend


def _customer_table(lines: _Lines, grouped: _Grouped) -> _Customers:
    """Customer statistics and most recent region."""
    everything = grouped.positions
    ev_indptr, age, units, spend = _events(lines, grouped, everything, grouped.indptr, lines.cust)
    stats = kernels.sequence_stats(ev_indptr, age, units, spend, np.array(CUSTOMER_WINDOWS, dtype=np.float64))
    # the most recent line; ties on time go to the later source row
    return _Customers(stats, kernels.most_recent(grouped.indptr, everything, grouped.age, grouped.region))


def _pair_stats(lines: _Lines, grouped: _Grouped) -> dict[str, np.ndarray]:
    """Customer x item statistics of every pair of the history, in (customer, item) code order."""
    by_item = kernels.sort_segments(grouped.indptr, grouped.positions, grouped.item)
    cust = np.repeat(np.arange(len(lines.customers), dtype=np.int64), np.diff(grouped.indptr))
    item = grouped.item[by_item]
    _, starts = kernels.runs(cust, item)
    pair_indptr = np.append(starts, len(by_item))
    pair = lines.cust * len(lines.items) + lines.item
    ev_indptr, age, units, spend = _events(lines, grouped, by_item, pair_indptr, pair)
    del pair
    stats = kernels.sequence_stats(ev_indptr, age, units, spend, np.array(PAIR_WINDOWS, dtype=np.float64))
    table = {
        "cust_code": cust[starts],
        "item_code": item[starts],
        "ci_orders_total": stats[:, 2],
        "ci_days_since_last": stats[:, 0],
        "ci_gap_mean_days": stats[:, 4],
        "ci_recency_over_gap": stats[:, 7],
        "ci_gap_std_days": stats[:, 5],
        "ci_gap_last_days": stats[:, 6],
    }
    for i, w in enumerate(PAIR_WINDOWS):
        table[f"ci_orders_{w}d"] = stats[:, 11 + 2 * i]
        table[f"ci_units_{w}d"] = stats[:, 12 + 2 * i]
    table["ci_repeat_ratio"] = (table["ci_orders_total"] - 1.0) / table["ci_orders_total"]
    return table


def _pair_table(lines: _Lines, grouped: _Grouped, lookback_days: int) -> dict[str, np.ndarray]:
    """The candidate pairs' statistics: renewal columns pooled over every pair, then the lookback cut."""
    table = _pair_stats(lines, grouped)
    _add_renewal(table, len(lines.items))
    keep = table["ci_days_since_last"] <= lookback_days
    return {name: values[keep] for name, values in table.items()}


def _add_renewal(table: dict[str, np.ndarray], n_items: int) -> None:
    """Pooled item gap statistics and the pair's renewal hazard (in place, all pairs of the history)."""
    item, n, pair_mean = table["item_code"], table["ci_orders_total"], table["ci_gap_mean_days"]
    sums = item_gap_sums(item, n, pair_mean, table["ci_gap_std_days"], n_items)
    mean, cv2, overall = pooled_gaps(sums)
    age = table["ci_days_since_last"]
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
    pairs = _pair_stats(lines, _group_by_customer(lines))
    sums = item_gap_sums(
        pairs["item_code"], pairs["ci_orders_total"], pairs["ci_gap_mean_days"], pairs["ci_gap_std_days"],
        len(lines.items),
    )
    return pd.DataFrame(sums, columns=list(GAP_SUMS), index=pd.Index(lines.items, name="item"))


def _windowed_units(
    group: np.ndarray, n_groups: int, age: np.ndarray, units: np.ndarray, window: float
) -> np.ndarray:
    inside = age <= window
    return np.bincount(group[inside], weights=units[inside], minlength=n_groups)


def _trend(u7: np.ndarray, u28: np.ndarray) -> np.ndarray:
    """Daily units in 7 days over daily units in 28 days; NaN when none in 28."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u28 > 0, (u7 / 7.0) / (u28 / 28.0), np.nan)


def _item_table(lines: _Lines) -> dict[str, np.ndarray]:
    n = len(lines.items)
    u7, u28, u365 = (_windowed_units(lines.item, n, lines.age, lines.units, w) for w in (7.0, 28.0, 365.0))
    recent = lines.age <= 28.0
    buyer_pairs = np.unique(lines.item[recent] * len(lines.customers) + lines.cust[recent])
    n_buyers = np.bincount(buyer_pairs // len(lines.customers), minlength=n)
    return {
        "item_units_7d": u7,
        "item_units_28d": u28,
        "item_units_365d": u365,
        "item_trend_7d_28d": _trend(u7, u28),
        "item_buyers_28d": n_buyers.astype(np.float64),
    }


def _region_item_table(lines: _Lines) -> dict[str, np.ndarray]:
    """Per ``region * n_items + item`` code: regional units in 7 and 28 days and their trend."""
    n_items = len(lines.items)
    key = lines.region * n_items + lines.item
    n = len(lines.regions) * n_items
    u7 = _windowed_units(key, n, lines.age, lines.units, 7.0)
    u28 = _windowed_units(key, n, lines.age, lines.units, 28.0)
    return {"ri_units_7d": u7, "ri_units_28d": u28, "ri_trend_7d_28d": _trend(u7, u28)}


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

    Every line is grouped once by customer (a counting sort on integer codes); the
    pairs come from sorting each customer's lines by item, so the rows are born in
    (customer, item) order and no string ever gets sorted or joined.
    """
    cutoff = pd.Timestamp(cutoff)
    columns = feature_columns(families)
    lines = _history(orders, cutoff, item_level, products)
    if len(lines.age) == 0:
        return pd.DataFrame({c: pd.Series(dtype=str if c in KEYS else float) for c in [*KEYS, *columns]})
    grouped = _group_by_customer(lines)
    cust = _customer_table(lines, grouped)
    pairs = _pair_table(lines, grouped, lookback_days)
    del grouped
    return _assemble(lines, cust, pairs, columns, cutoff)


def _ratios(column: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
    """Ratio features trees cannot form themselves, from the candidates' ``column(name)``."""
    days = np.maximum(column("cust_tenure_days"), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "ci_share_of_orders": column("ci_orders_365d") / column("cust_orders_365d"),
            "cust_orders_per_day": column("cust_orders_total") / days,
            "ci_share_all": column("ci_orders_total") / column("cust_orders_total"),
            "ci_orders_per_day": column("ci_orders_total") / days,
        }


def _assemble(
    lines: _Lines, cust: _Customers, pairs: dict[str, np.ndarray], columns: list[str], cutoff: pd.Timestamp
) -> pd.DataFrame:
    """The feature table: every float column written once into one block, then the three keys.

    Each feature is a per-customer, per-pair, per-item or per-(region, item) array
    taken at the candidates' codes; no frame is joined, concatenated or sorted.
    """
    c_idx, i_idx = pairs.pop("cust_code"), pairs.pop("item_code")
    region_idx = cust.region[c_idx]
    ri_idx = region_idx * len(lines.items) + i_idx
    sources: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        name: (cust.stats[:, j], c_idx) for j, name in enumerate(CUSTOMER_STATS)
    }
    sources.update({name: (v, None) for name, v in pairs.items()})
    sources.update({name: (v, i_idx) for name, v in _item_table(lines).items()})
    sources.update({name: (v, ri_idx) for name, v in _region_item_table(lines).items()})

    def column(name: str) -> np.ndarray:
        src, idx = sources[name]
        return src if idx is None else src[idx]

    sources.update({name: (v, None) for name, v in _ratios(column).items()})
    constants = {"cal_dow": float(cutoff.dayofweek), "cal_week": float(cutoff.isocalendar()[1])}
    block = np.empty((len(columns), len(c_idx)))
    for row, name in enumerate(columns):
        if name in constants:
            block[row].fill(constants[name])
        else:
            src, idx = sources[name]
            block[row] = src if idx is None else np.take(src, idx)
    out = pd.DataFrame(block.T, columns=columns, copy=False)
    keys = ((lines.customers, c_idx), (lines.items, i_idx), (lines.regions, region_idx))
    for pos, (name, (labels, idx)) in enumerate(zip(KEYS, keys, strict=True)):
        out.insert(pos, name, labels.take(idx).astype(str).array)
    return out


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
