"""The history before a cutoff as flat arrays: integer codes for customers, items, orders, regions.

Features at cutoff ``t`` read only order lines with ``order_ts < t``: :func:`history`
cuts them first, and every later step sees nothing else. An *order* is a distinct
``order_id`` of a customer (a line without order_id is its own order at its
timestamp); ages are days before the cutoff (float); units are summed quantities;
spend is quantity x unit_price (currency).

Window rule, the same in every family: an order happens at its first line's
timestamp, and all its lines before the cutoff count at that instant. An order that
straddles a window edge (first line outside, later lines inside) counts wholly
outside in the customer, customer x item, item and region x item windows alike, and
a pair is a candidate when one of its orders was placed within the lookback.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.features import _kernels as kernels
from anticipate.features._orders import oldest_in_place, oldest_in_runs
from anticipate.features._sums import day_oldest, recode, used_codes
from anticipate.features._textruns import text_runs
from anticipate.features.items import item_column

DAY = np.timedelta64(1, "D")
#: dtype of the line codes (customer, item, order, region): half the memory of int64; any arithmetic
#: that multiplies two codes casts to int64 first (a customer x item key overflows int32).
CODE = np.int32
#: Order columns the engine reads only as codes: a caller may load them as categoricals (one
#: string per distinct id instead of one per line), and the codes come from the categories.
ID_COLUMNS = ("customer_id", "sku", "region")
#: The :data:`ID_COLUMNS` with few distinct values (thousands, not a line's worth): a Parquet writer keeps
#: them dictionary-encoded, and reading those dictionaries is cheaper than encoding the strings again.
FEW_IDS = ("sku", "region")


def regions_at_last_instant(lines: pd.DataFrame) -> pd.Series:
    """Each customer's region (index ``customer_id``) from their lines at their last instant.

    ``lines``: order lines with ``customer_id``, ``order_ts``, ``region``, ``quantity``
    (units), typically those before a cutoff; ``region`` as text or categorical. Among a
    customer's lines at their latest ``order_ts``, the region with the most units, ties to the
    region first in text sort order: content only, so the same lines in any row order give
    the same region; returned as text. The pandas form
    of the rule the feature engine's kernel applies (``cust`` table's ``region``).
    """
    last = lines[lines["order_ts"] == lines.groupby("customer_id")["order_ts"].transform("max")]
    units = last.groupby(["customer_id", "region"])["quantity"].sum().astype(float).reset_index()
    units["region"] = units["region"].astype(str)  # a categorical would sort by its categories' order
    units = units.sort_values(["customer_id", "quantity", "region"], ascending=[True, False, True])
    return units.groupby("customer_id")["region"].first()


@dataclass(frozen=True)
class Lines:
    """History lines before the cutoff as integer codes and float days."""

    cust: np.ndarray  # customer code (numbered in sorted order of the ids), int32 like every code
    item: np.ndarray  # item code (sorted order)
    order: np.ndarray  # order code (first appearance)
    region: np.ndarray  # ship-to region code (sorted order)
    age: np.ndarray  # days before the cutoff (> 0), each line's order's first (the window rule)
    units: np.ndarray
    spend: np.ndarray
    customers: pd.Index
    items: pd.Index
    regions: pd.Index
    days: np.ndarray  # per day before the cutoff (1: the day before), its oldest line's own age; 0: none

    @property
    def empty(self) -> bool:
        """No line before the cutoff."""
        return len(self.age) == 0


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
    """The pyarrow (chunked) array behind a pyarrow-backed string Series without nulls, else None.

    The chunks are kept as read (one per Parquet page run): combining them would copy every
    string (~140 MB of fresh pages per column of the 10 M-line world).
    """
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa

    arr = pa.array(values.array)
    return None if arr.null_count else arr


def _chunk_indices(encoded: object) -> list[np.ndarray]:
    """The int32 dictionary indices of a (chunked) dictionary array, chunk by chunk (zero copy)."""
    chunks = getattr(encoded, "chunks", [encoded])
    return [chunk.indices.to_numpy(zero_copy_only=False) for chunk in chunks]


def _string_order(values: pd.Index) -> np.ndarray:
    """The positions of distinct strings ``values`` in sorted order (code point order, as Python's).

    Arrow sorts the UTF-8 bytes without the GIL (their order is the code points'): 307,000
    customer ids 0.09 s, where ``np.argsort`` of the Python strings held the GIL for 0.3 s.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.array_sort_indices(pa.array(values.to_numpy(dtype=object), type=pa.large_string())).to_numpy()


def _category_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """:func:`_sorted_codes` of a categorical ``values`` of strings without nulls, else None.

    The codes are the categoricals' own, renumbered in sorted order of the categories
    that occur (a category no line uses gets no code): no string is hashed or copied.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype) or len(values) == 0:
        return None
    cats = values.cat.categories
    if not (isinstance(cats.dtype, pd.StringDtype) or cats.dtype == object):
        return None
    codes = values.array.codes  # the categorical's own (int8 to int32), not a copy
    seen, null = used_codes(codes, len(cats))  # one pass: no int64 copy of the codes
    if null:
        return None
    used = np.flatnonzero(seen)
    kept = cats.take(used).astype(str)
    order = _string_order(kept)
    rank = np.zeros(len(cats), dtype=CODE)
    rank[used[order]] = np.arange(len(used), dtype=CODE)
    return recode(codes, rank), pd.Index(kept.take(order))


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values`` as strings, numbered in sorted order of the strings.

    Equals ``pd.factorize(values.astype(str), sort=True)``; categoricals read their codes
    (:func:`_category_codes`), pyarrow-backed strings are dictionary-encoded by pyarrow
    directly (the GIL is released, and only the small dictionary gets sorted).
    """
    from_categories = _category_codes(values)
    if from_categories is not None:
        return from_categories
    values = values.astype(str)
    arr = _arrow(values)
    if arr is None or len(values) == 0:
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(CODE), pd.Index(uniques)
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(arr)  # chunks share one dictionary (Arrow's hash kernel state)
    dictionary = encoded.chunk(0).dictionary if hasattr(encoded, "chunks") else encoded.dictionary
    order = pc.array_sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=CODE)
    rank[order] = np.arange(len(order), dtype=CODE)
    codes, at = np.empty(len(values), dtype=CODE), 0
    for indices in _chunk_indices(encoded):
        np.take(rank, indices, out=codes[at : at + len(indices)], mode="clip")  # "raise" buffers a copy
        at += len(indices)
    return codes, pd.Index(pd.array(dictionary.take(order), dtype=values.dtype))


def _runs_if_sorted(values: pd.Series) -> np.ndarray | None:
    """First-appearance codes of string ``values`` if they never decrease (equal ones contiguous), else None.

    Order ids issued in sequence make this the common case; it spares hashing millions of distinct
    strings. One pass over the Arrow buffers (:func:`~anticipate.features._textruns.text_runs`; 10 M
    lines 0.15 -> 0.04 s of CPU against Arrow's comparisons of the neighbours and a cumulative sum).
    """
    if len(values) < 2:
        return None
    arr = _arrow(values)
    return None if arr is None else text_runs(arr)


def _order_codes(hist: pd.DataFrame) -> np.ndarray:
    """Order code per line: its ``order_id``, or else its own (customer, timestamp) order.

    Codes are numbered by first appearance in ``hist`` (the events' tie-break).
    """
    oid = hist["order_id"].astype(str) if "order_id" in hist else pd.Series("", index=hist.index, dtype=str)
    valid = (oid != "").to_numpy() & (hist["order_id"].notna().to_numpy() if "order_id" in hist else False)
    if valid.all():
        runs = _runs_if_sorted(oid)
        return runs if runs is not None else pd.factorize(oid, sort=False)[0].astype(CODE)
    joint = np.empty(len(hist), dtype=np.int64)
    id_codes, ids = pd.factorize(oid[valid], sort=False)
    joint[valid] = id_codes
    rest = ~valid
    ts = _timestamps(hist["order_ts"][rest])
    own = hist["customer_id"][rest].astype(str) + "@" + ts.astype("int64").astype(str)
    joint[rest] = len(ids) + pd.factorize(own, sort=False)[0]
    return pd.factorize(joint, sort=False)[0].astype(CODE)


def _timestamps(order_ts: pd.Series) -> np.ndarray:
    """``order_ts`` as naive UTC ``datetime64[ns]`` values, in a new array (its callers consume it)."""
    # explicit naive UTC: numpy's cast of zone-aware stamps gives the same instants with a UserWarning
    return dates.naive_utc(order_ts).to_numpy().astype("datetime64[ns]")


def _order_age(cust: np.ndarray, order: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Each line's age replaced by its (customer, order)'s oldest line age (days): the window rule.

    Written over ``age`` (float64, which it consumes) and returned.
    """
    if len(age) == 0 or oldest_in_runs(order, cust, age):  # order ids issued in sequence: no array per order
        return age
    n = int(order.max()) + 1
    if not oldest_in_place(order, cust, age, n):  # an order id shared by customers: number (customer, order)
        order = pd.factorize(cust.astype(np.int64) * n + order, sort=False)[0].astype(CODE)
        oldest_in_place(order, cust, age, int(order.max()) + 1)
    return age


def _age_in_place(ts: np.ndarray, cutoff: pd.Timestamp) -> np.ndarray:
    """Days from each ``datetime64[ns]`` of ``ts`` to ``cutoff``, written over ``ts`` (which it consumes).

    Bit-identical to ``(cutoff - ts) / np.timedelta64(1, "D")`` (nanoseconds over a day's, in float64).
    """
    ns = ts.view(np.int64)
    np.subtract(np.datetime64(pd.Timestamp(cutoff).to_datetime64(), "ns").view(np.int64), ns, out=ns)
    return np.divide(ns, float(DAY / np.timedelta64(1, "ns")), out=ns.view(np.float64))


def history(
    orders: pd.DataFrame, cutoff: pd.Timestamp, item_level: str, products: pd.DataFrame | None
) -> Lines:
    """The order lines strictly before ``cutoff`` as codes and days (see :class:`Lines`)."""
    hist = _before(orders, cutoff)
    jobs = {  # the order codes (Arrow only) first: they run while the other thread sets Numba up (~0.4 s)
        "order": lambda: _order_codes(hist),
        "cust": lambda: _sorted_codes(hist["customer_id"]),
        "item": lambda: _sorted_codes(item_column(hist, item_level, products)),
        "region": lambda: _sorted_codes(hist["region"]),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:  # pyarrow hashes strings without the GIL
        done = {name: pool.submit(job) for name, job in jobs.items()}
        age = _age_in_place(_timestamps(hist["order_ts"]), cutoff)  # meanwhile: a copy of the times, now days
        days = day_oldest(age)  # each line on its own day (as dates.history_start), before the order rule
        qty = hist["quantity"].to_numpy(dtype=np.float64)
        price = hist["unit_price"].to_numpy(dtype=np.float64) if "unit_price" in hist else np.zeros(len(hist))
        spend = np.nan_to_num(qty * price, copy=False)
        (cust_codes, customers), (item_codes, item_index), (region_codes, regions) = (
            done[k].result() for k in ("cust", "item", "region")
        )
        order_codes = done["order"].result()
    age = _order_age(cust_codes, order_codes, age)
    return Lines(
        cust_codes,
        item_codes,
        order_codes,
        region_codes,
        age.astype(np.float64, copy=False),
        qty,
        spend,
        customers,
        item_index,
        regions,
        days,
    )


@dataclass(frozen=True)
class Grouped:
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

    @property
    def positions(self) -> np.ndarray:
        """``0..N-1``: every customer's positions, in order."""
        return np.arange(len(self.rows), dtype=np.int64)


def group_by_customer(lines: Lines) -> Grouped:
    """The lines gathered by customer code (a stable counting sort), see :class:`Grouped`.

    The region codes are not gathered: the customers' regions read them where they are
    (:func:`~anticipate.features._kernels.most_recent`), for their last instant's lines only.
    """
    rows, indptr = kernels.group_by_codes(lines.cust, len(lines.customers))
    columns = (lines.item, lines.order, lines.age, lines.units, lines.spend)
    with ThreadPoolExecutor(max_workers=1) as side:  # np.take releases the GIL: half the gathers each
        later = side.submit(lambda: [np.take(c, rows) for c in columns[3:]])
        first = [np.take(c, rows) for c in columns[:3]]
        return Grouped(rows, indptr, *first, *later.result())
