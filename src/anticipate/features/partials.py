"""The feature engine as additive partials per partition plus a join.

A *partition* is any set of order lines that holds each of its customers' whole
history (all of it, or a hash partition by ``customer_id`` on a cluster). Per
partition, :func:`prepare` computes

* the customer and customer x item families of its candidates (they read one
  customer's history only), and
* :class:`Partials`: per-item and per-(region, item) sums (units in windows, distinct
  recent buyers, the renewal gap sums) that add up across partitions because the
  customers are disjoint.

:func:`combine` adds partials; :func:`anticipate.features.join.join` reads the item,
region x item and renewal features of a partition's candidates from the combined totals
and lays out the table. The local :func:`anticipate.features.build.build_features` is the
one-partition case (``join(p, combine([p.partials]))``); the Dask path schedules
the same three functions over many partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.features._collapse import event_buffers
from anticipate.features._gaps import item_gap_sums
from anticipate.features._sums import window_sums
from anticipate.features.history import Lines, group_by_customer, history
from anticipate.features.renewal import GAP_SUMS
from anticipate.features.season import (
    YEAR_AGO,
    pair_year_ago_units,
    season_horizon,
    year_ago_units,
    year_ago_windows,
)
from anticipate.features.sequences import (
    Customers,
    candidate_pairs,
    customer_table,
    pair_events,
    pair_stats,
    pair_sums,
    pair_table,
)
from anticipate.features.spec import FeatureSpec

#: Columns of :attr:`Partials.item_units`: units in 7/28/365 days, distinct buyers in 28 days and the
#: year-ago sums of the season family (:data:`~anticipate.features.season.YEAR_AGO`).
ITEM_UNITS = ("units_7d", "units_28d", "units_365d", "buyers_28d", *YEAR_AGO)
#: Columns of :attr:`Partials.ri_units`: a region's units of an item in 7 and 28 days.
RI_UNITS = ("units_7d", "units_28d")
U7, U28, U365, BUYERS28, YA_H, YA_BASE = range(len(ITEM_UNITS))


@dataclass(frozen=True)
class Partials:
    """Additive sums of one partition (or of several, once combined), keyed by label.

    ``item_units`` (n_items, :data:`ITEM_UNITS`) and ``item_gaps`` (n_items,
    :data:`~anticipate.features.renewal.GAP_SUMS`) are per item of ``items`` (sorted
    labels); ``ri_units`` (m, :data:`RI_UNITS`) is per (``regions[ri_region]``,
    ``items[ri_item]``) pair with a line in the last 28 days (absent pairs sum to 0);
    ``region_ya`` (n_regions, :data:`~anticipate.features.season.YEAR_AGO`) is per
    region of ``regions``, all items. ``days`` (:attr:`~anticipate.features.history.Lines.days`) holds
    per day before the cutoff the age of the partition's oldest line on it (0 on a day without
    one): combined by ``max``, the whole history's days, which say where the history starts
    (:attr:`oldest`).
    """

    items: pd.Index
    item_units: np.ndarray
    item_gaps: np.ndarray
    regions: pd.Index
    ri_region: np.ndarray
    ri_item: np.ndarray
    ri_units: np.ndarray
    region_ya: np.ndarray
    days: np.ndarray

    @property
    def oldest(self) -> float:
        """The age (days before the cutoff) of the history's first line, 0 without one: the first line
        after the last :data:`~anticipate.dates.DETACHING_GAP_DAYS` days without an order
        (:func:`anticipate.dates.attached_day`). It says whether the season family's year-ago windows
        are observed (:func:`~anticipate.features.season.observed`)."""
        start = dates.attached_day(self.days)
        return float(self.days[start]) if start else 0.0


@dataclass(frozen=True)
class Prepared:
    """One partition before the join: its label indexes, customers, candidate pairs and partials.

    ``pairs`` holds one array per candidate (``cust_code``, ``item_code`` and the
    customer x item columns), in (customer, item) order.
    """

    customers: pd.Index
    items: pd.Index
    regions: pd.Index
    cust: Customers
    pairs: dict[str, np.ndarray]
    partials: Partials

    @property
    def n_candidates(self) -> int:
        """Candidate pairs of the partition."""
        return len(self.pairs["cust_code"])


def _item_units(lines: Lines, horizon: int) -> np.ndarray:
    """Per item code: units in 7, 28 and 365 days, distinct buyers in 28 days, year-ago sums.

    The columns of :data:`ITEM_UNITS`; ``horizon``: the year-ago horizon's length (days).
    The windowed units are one pass of :func:`~anticipate.features._sums.window_sums`.
    """
    n = len(lines.items)
    ya_lo, ya_hi = year_ago_windows(horizon)
    lo = np.concatenate([np.full(3, -np.inf), ya_lo])
    hi = np.concatenate([[7.0, 28.0, 365.0], ya_hi])
    sums = window_sums(lines.item, lines.age, lines.units, lo, hi, n)
    recent = lines.age <= 28.0
    buyer_pairs = np.unique(lines.item[recent].astype(np.int64) * len(lines.customers) + lines.cust[recent])
    n_buyers = np.bincount(buyer_pairs // len(lines.customers), minlength=n)
    return np.column_stack([sums[:, :3], n_buyers.astype(np.float64), sums[:, 3:]])


def _ri_units(lines: Lines) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (region code, item code) pairs with a line in 28 days and their units in 7 and 28 days."""
    n_items = len(lines.items)
    recent = lines.age <= 28.0  # the key of these lines only (not of every line; same sums, same order)
    key = lines.region[recent].astype(np.int64)
    key *= n_items
    key += lines.item[recent]
    n = len(lines.regions) * n_items
    units, week = lines.units[recent], lines.age[recent] <= 7.0
    u7 = np.bincount(key[week], weights=units[week], minlength=n)
    u28 = np.bincount(key, weights=units, minlength=n)
    seen = np.unique(key)
    return seen // n_items, seen % n_items, np.column_stack([u7[seen], u28[seen]])


def _empty_partials(lines: Lines) -> Partials:
    none, units = np.zeros(0, dtype=np.int64), np.zeros((0, len(ITEM_UNITS)))
    gaps, ri = np.zeros((0, len(GAP_SUMS))), np.zeros((0, len(RI_UNITS)))
    region_ya = np.zeros((0, len(YEAR_AGO)))
    return Partials(lines.items, units, gaps, lines.regions, none, none, ri, region_ya, np.zeros(1))


def prepare(
    orders: pd.DataFrame, cutoff: pd.Timestamp, spec: FeatureSpec, products: pd.DataFrame | None = None
) -> Prepared:
    """One partition's candidates (customer and customer x item columns) and its additive partials.

    ``orders`` must hold each of its customers' whole history. Candidates are the
    (customer, item) pairs with a line in ``[cutoff - spec.lookback_days, cutoff)``;
    the renewal gap sums pool every pair of the history, candidate or not.
    """
    return prepare_history(history(orders, pd.Timestamp(cutoff), spec.item_level, products), spec)


def _line_sums(lines: Lines, horizon: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """The partials read from the lines alone: per-region year-ago sums, item units, region x item units."""
    region_ya = year_ago_units(lines.region, len(lines.regions), lines, horizon)
    return region_ya, _item_units(lines, horizon), _ri_units(lines)


def prepare_history(lines: Lines, spec: FeatureSpec) -> Prepared:
    """:func:`prepare` of the lines :func:`~anticipate.features.history.history` cut at the cutoff.

    The orders frame is no longer needed here: a caller that holds nothing else of it may
    free it first. The sums over the lines alone (item, region and region x item units) run
    in a second thread meanwhile (NumPy's loops and the kernels release the GIL); they
    read what nothing here writes, so the numbers do not depend on the threads. (The
    customer table and the pairs in two threads would save more time, but their
    temporaries together raised the peak by ~0.5 GB at 10 M lines.)
    """
    if lines.empty:
        cust = Customers(np.zeros((0, 0)), np.zeros(0, dtype=np.int64), np.zeros(0))
        pairs = {"cust_code": np.zeros(0, dtype=np.int64), "item_code": np.zeros(0, dtype=np.int64)}
        return Prepared(lines.customers, lines.items, lines.regions, cust, pairs, _empty_partials(lines))
    horizon = season_horizon(spec.horizon_days)
    with ThreadPoolExecutor(max_workers=1) as side:
        sums_job = side.submit(_line_sums, lines, horizon)
        grouped = group_by_customer(lines)
        buffers = event_buffers(len(lines.age))  # the customers' events, then the pairs': pages faulted once
        cust = customer_table(lines, grouped, spec.lookback_days, buffers)
        events = pair_events(grouped, buffers)
        del buffers
        del grouped  # the lines by customer (6 arrays of N) go before the pairs' sums and statistics
        pair_sums(lines, events)
        gaps = item_gap_sums(events.indptr, events.age, events.item, len(lines.items))  # every pair
        keep = candidate_pairs(events, spec.lookback_days)
        pairs = pair_table(events, keep, pair_stats(events, spec.lookback_days, keep))
        del events, keep
        region_ya, item_units, ri = sums_job.result()
    partials = Partials(lines.items, item_units, gaps, lines.regions, *ri, region_ya, lines.days)
    if "season" in spec.families:  # (10 M lines: 0.08 s in the main thread, for a column not asked for)
        pairs["sea_ci_units_ya"] = pair_year_ago_units(lines, pairs["cust_code"], pairs["item_code"], horizon)
    return Prepared(lines.customers, lines.items, lines.regions, cust, pairs, partials)


def partials_of(prepared: Prepared) -> Partials:
    """The additive partials of a prepared partition (what travels to the reduction)."""
    return prepared.partials


def _union(indexes: Sequence[pd.Index]) -> pd.Index:
    """The sorted union of label indexes."""
    return indexes[0].append(list(indexes[1:])).unique().sort_values()


def combine(parts: Sequence[Partials]) -> Partials:
    """The sum of partials of disjoint customer sets (distinct buyers add because customers do).

    One partial comes back unchanged, so the one-partition case is exact.
    """
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    items, regions = _union([p.items for p in parts]), _union([p.regions for p in parts])
    units, gaps = np.zeros((len(items), len(ITEM_UNITS))), np.zeros((len(items), len(GAP_SUMS)))
    region_ya = np.zeros((len(regions), len(YEAR_AGO)))
    ri_keys, ri_values = [], []
    for p in parts:
        at = items.get_indexer(p.items)
        units[at] += p.item_units
        gaps[at] += p.item_gaps
        region_ya[regions.get_indexer(p.regions)] += p.region_ya
        ri_keys.append(regions.get_indexer(p.regions)[p.ri_region] * len(items) + at[p.ri_item])
        ri_values.append(p.ri_units)
    keys, inverse = np.unique(np.concatenate(ri_keys), return_inverse=True)
    values = np.concatenate(ri_values)
    ri = np.column_stack(
        [np.bincount(inverse, weights=values[:, j], minlength=len(keys)) for j in range(len(RI_UNITS))]
    )
    ri = ri.reshape(-1, len(RI_UNITS))
    days = np.zeros(max(len(p.days) for p in parts))
    for p in parts:
        np.maximum(days[: len(p.days)], p.days, out=days[: len(p.days)])
    return Partials(items, units, gaps, regions, keys // len(items), keys % len(items), ri, region_ya, days)
