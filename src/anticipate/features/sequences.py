"""Per-customer and per-(customer, item) sequence statistics: the ``customer`` and ``customer_item`` families.

Each depends on one customer's history only, so a partition holding whole customers
computes them alone. The numbers come from :func:`anticipate.features._kernels.sequence_stats`
over one event per (group, order); its output columns are read by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anticipate.features import _kernels as kernels
from anticipate.features._collapse import collapse_events
from anticipate.features._runs import run_sums, segment_runs
from anticipate.features.history import Grouped, Lines
from anticipate.features.spec import CUSTOMER_WINDOWS, PAIR_WINDOWS

#: Customer feature -> column of the sequence statistics over the customer's orders.
CUSTOMER_COLUMNS: dict[str, int] = {
    "cust_recency_days": kernels.RECENCY,
    "cust_tenure_days": kernels.TENURE,
    "cust_orders_total": kernels.N_EVENTS,
    "cust_spend_365d": kernels.SPEND_365,
    "cust_gap_mean_days": kernels.GAP_MEAN,
    "cust_gap_std_days": kernels.GAP_STD,
    "cust_gap_last_days": kernels.GAP_LAST,
    "cust_recency_over_gap": kernels.RECENCY_OVER_GAP,
    "cust_bgnbd_x": kernels.BGNBD_X,
    "cust_bgnbd_t_x": kernels.BGNBD_T_X,
    **{f"cust_orders_{w}d": kernels.window_count(i) for i, w in enumerate(CUSTOMER_WINDOWS)},
    **{f"cust_units_{w}d": kernels.window_units(i) for i, w in enumerate(CUSTOMER_WINDOWS)},
}

#: Customer x item feature -> column of the sequence statistics over the pair's orders.
PAIR_COLUMNS: dict[str, int] = {
    "ci_orders_total": kernels.N_EVENTS,
    "ci_days_since_last": kernels.RECENCY,
    "ci_gap_mean_days": kernels.GAP_MEAN,
    "ci_recency_over_gap": kernels.RECENCY_OVER_GAP,
    "ci_gap_std_days": kernels.GAP_STD,
    "ci_gap_last_days": kernels.GAP_LAST,
    **{f"ci_orders_{w}d": kernels.window_count(i) for i, w in enumerate(PAIR_WINDOWS)},
    **{f"ci_units_{w}d": kernels.window_units(i) for i, w in enumerate(PAIR_WINDOWS)},
}


#: Name of the per-customer and per-pair order count inside the lookback (not a feature column).
LOOKBACK_ORDERS = "orders_lookback"


@dataclass(frozen=True)
class Customers:
    """Per customer code: sequence statistics (:data:`CUSTOMER_COLUMNS`), last region code, lookback orders.

    ``lookback_orders`` counts the customer's orders placed in the lookback window.
    """

    stats: np.ndarray
    region: np.ndarray
    lookback_orders: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """The per-customer values of customer feature ``name``."""
        return self.stats[:, CUSTOMER_COLUMNS[name]]


def _collapse(
    grouped: Grouped, perm: np.ndarray, indptr: np.ndarray, out: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One event per (group, order), oldest first within a group: ``indptr, age, units, spend, rows``.

    ``perm``/``indptr`` list each group's positions in ``grouped`` (source order within);
    ``rows`` is each event's first source line. The units and spend are Kahan sums (pandas'
    Cython path, which the kernel reproduces); :func:`_run_sums` replaces them where pandas
    would add otherwise. ``out``: the buffers to write into, or None.
    """
    ev_indptr, age, units, spend, first = collapse_events(
        indptr, perm, grouped.order, grouped.age, grouped.units, grouped.spend, out=out
    )
    np.take(grouped.rows, first, out=first, mode="clip")  # each event's source row, in place
    return ev_indptr, age, units, spend, first


def _run_sums(
    lines: Lines, group: tuple[np.ndarray, ...], rows: np.ndarray, units: np.ndarray, spend: np.ndarray
) -> None:
    """Overwrite the events' ``units`` and ``spend`` with ``np.add.reduceat`` sums where pandas uses them.

    ``group`` holds each source line's group key (one code array, or two: customer and
    item), ``rows`` each event's first source line. The sums are then bit-identical to
    pandas' grouped sums over (group, order): those add with ``np.add.reduceat`` when
    every (group, order) is one contiguous run of source lines (pandas 3's sorted-ids
    path), else with Kahan compensation (left as :func:`_collapse` made them). The run
    sums kernel adds each event's run in place: no run number per line and no sums per run.
    """
    run_sums((*group, lines.order), rows, lines.units, lines.spend, (units, spend))


def customer_table(
    lines: Lines, grouped: Grouped, lookback_days: float, buffers: tuple[np.ndarray, ...] | None = None
) -> Customers:
    """Customer statistics, region at the cutoff and lookback orders.

    The region is that of the customer's lines at their last instant (the last order's
    time) with the most units, ties to the region id first in sort order: content
    only, so the same lines in any row order give the same region. ``buffers``:
    :func:`~anticipate.features._collapse.event_buffers` of the lines for the customers'
    events (fresh ones when None), free again when this returns.
    """
    everything = grouped.positions
    # the region codes where the lines are: only those at a customer's last instant are read
    region = kernels.most_recent(grouped.indptr, everything, grouped.age, grouped.units, lines.region,
                                 code_rows=grouped.rows)
    ev_indptr, age, units, spend, rows = _collapse(grouped, everything, grouped.indptr, buffers)
    del everything
    _run_sums(lines, (lines.cust,), rows, units, spend)
    del rows
    windows = np.array([*CUSTOMER_WINDOWS, lookback_days], dtype=np.float64)
    stats = kernels.sequence_stats(ev_indptr, age, units, spend, windows)
    return Customers(stats, region, stats[:, kernels.window_count(len(CUSTOMER_WINDOWS))])


@dataclass(frozen=True)
class PairEvents:
    """Every (customer, item) pair of the history, in (customer, item) code order, and its events.

    ``cust``/``item``: the pair's codes; its events (one per order, oldest first) are
    ``[indptr[p], indptr[p + 1])`` of ``age`` (days), ``units``, ``spend`` and ``rows``
    (first source line). Needs no :class:`Grouped` lines: the caller frees them, then
    :func:`pair_sums`, :func:`pair_stats` and :func:`pair_table` run.
    """

    cust: np.ndarray
    item: np.ndarray
    indptr: np.ndarray
    age: np.ndarray
    units: np.ndarray
    spend: np.ndarray
    rows: np.ndarray


def pair_events(grouped: Grouped, buffers: tuple[np.ndarray, ...] | None = None) -> PairEvents:
    """The pairs of the history and their events (:class:`PairEvents`; Kahan sums until :func:`pair_sums`).

    ``buffers``: :func:`~anticipate.features._collapse.event_buffers` of the lines to write the
    events into (fresh ones when None).
    """
    by_item = kernels.sort_segments(grouped.indptr, grouped.positions, grouped.item, in_place=True)
    starts, cust = segment_runs(grouped.indptr, by_item, grouped.item)
    item = grouped.item[by_item[starts]].astype(np.int64)  # one per pair: the table's codes stay int64
    pair_indptr = np.append(starts, len(by_item))
    del starts
    return PairEvents(cust, item, *_collapse(grouped, by_item, pair_indptr, buffers))


def pair_sums(lines: Lines, events: PairEvents) -> None:
    """Give the pairs' events pandas' sums (:func:`_run_sums`), in place."""
    # the runs kernel compares customer and item codes: no combined key of N int64s
    _run_sums(lines, (lines.cust, lines.item), events.rows, events.units, events.spend)


def candidate_pairs(events: PairEvents, lookback_days: float) -> np.ndarray:
    """Positions (ascending) of the pairs with an order in the lookback: their last event's age <= L days.

    That age is the pair's ``ci_days_since_last`` (:data:`PAIR_COLUMNS`).
    """
    return np.flatnonzero(events.age[events.indptr[1:] - 1] <= lookback_days)


def pair_stats(events: PairEvents, lookback_days: float, pairs: np.ndarray) -> np.ndarray:
    """The sequence statistics of the pairs at positions ``pairs`` (in (customer, item) code order).

    One row per pair: the :func:`~anticipate.features._kernels.sequence_stats` columns over
    the pair's events, windows :data:`~anticipate.features.spec.PAIR_WINDOWS` then the
    lookback; :data:`PAIR_COLUMNS` names them. Column-major (each statistic contiguous).
    """
    windows = np.array([*PAIR_WINDOWS, lookback_days], dtype=np.float64)
    args = (events.indptr, events.age, events.units, events.spend, windows)
    return kernels.sequence_stats(*args, groups=pairs)


def pair_table(events: PairEvents, pairs: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
    """The customer x item columns of the pairs at positions ``pairs``, ``stats`` their :func:`pair_stats`.

    Keys: ``cust_code``, ``item_code``, the :data:`PAIR_COLUMNS` features,
    ``ci_repeat_ratio`` and :data:`LOOKBACK_ORDERS` (the pair's orders placed in the
    lookback window); one value per pair, the statistics views of ``stats``' columns.
    """
    table = {"cust_code": np.take(events.cust, pairs), "item_code": np.take(events.item, pairs)}
    table.update({name: stats[:, col] for name, col in PAIR_COLUMNS.items()})
    table[LOOKBACK_ORDERS] = stats[:, kernels.window_count(len(PAIR_WINDOWS))]
    table["ci_repeat_ratio"] = (table["ci_orders_total"] - 1.0) / table["ci_orders_total"]
    return table
