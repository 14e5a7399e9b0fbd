"""New demand: the units no candidate pair explains, per region x SKU over the horizon.

Units bought in past horizons by pairs that were *not* candidates at that window's
cutoff (new customers, new items for a customer), over the last ``W =
forecast.new_demand_windows`` horizons. Two rules (``forecast.new_demand_split``):

* ``region_x_sku`` (the default): the independence fit of that region x SKU table, a
  region's mean total per horizon times each SKU's share of all regions' units; variance =
  mean (Poisson). A cell holds a fraction of a unit a week, so its own few counts are
  mostly noise; a region's total and a SKU's share over all regions are measured on many.
  Each SKU's total over regions is its own mean, as with ``cell``.
* ``cell``: each cell's own mean over the windows; variance = max(mean, spread).

The functions take the SKU shares' windows ``S`` apart (``sku_windows``; the config
uses ``S = W``, and ``S = 0`` is ``cell``).

The *year-ago index* (``forecast.year_ago_index``) multiplies both moments by the
non-candidate units of the same horizon 52 weeks earlier over their mean in the windows
before it (what the season did to new demand then). It is 1 unless the history holds at
least half a lookback before the first of those windows (:func:`year_ago_ratio`): a
customer is "new" when the lookback before a window holds no line of the pair, so near the
history's start every buyer is new and the index compares a full year-ago horizon with
windows of almost nothing (28x in the sample's first January). The history starts where
:func:`anticipate.dates.history_start` says: lines before four weeks without any order (a
mistyped year) do not count, else one such line a year back passed this rule and the
windows near the real start cut the sample's new demand by 28%. The index is bounded to
:data:`YEAR_AGO_RANGE` (:func:`year_ago_factor`), with a warning naming the year-ago horizon
when the raw ratio falls outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.config import ForecastConfig
from anticipate.features.build import item_column


def capped_windows(start: dates.HistoryStart, cutoff: pd.Timestamp, *, horizon_days: int, windows: int,
                   key: str, what: str, label: str = "cutoff", lookback_days: int = 0
                   ) -> tuple[int, str | None]:
    """``windows`` past horizons, or as many whole ones as the history holds before ``cutoff`` (at least
    1) with a warning then. A horizon before the history's start (``start``, :func:`dates.history_start`)
    counts 0 units; with ``lookback_days`` (new demand) a horizon whose lookback reaches before the
    start counts every returning buyer as new, so those are left out too while at least one horizon
    is clear of it (52 windows on a 393-day shop: new demand +33% in silence, 4 of them clear).

    ``key``: the config key of ``windows``; ``what``: what averages them, for the warning
    (``the naive plan``); ``label``: what the cutoff is (``backtest cutoff``).
    """
    first = (start.first if start.first is not None else pd.Timestamp(cutoff)).normalize()
    days = (pd.Timestamp(cutoff) - first).days
    held = max(1, days // horizon_days)
    why = (f"the history before it holds {{}} horizon(s) of {horizon_days} days" if days >= horizon_days
           else f"the history before it holds {days} day(s), less than one horizon of {horizon_days} days "
                "(averaged as {} horizon)")
    if lookback_days and (days - lookback_days) // horizon_days >= 1:
        held = (days - lookback_days) // horizon_days
        why = (f"{{}} horizon(s) of {horizon_days} days lie after the history's first lookback "
               f"(time.lookback_days {lookback_days} from {dates.fmt(first)}; in that first lookback every "
               "returning buyer counts as new)")
    if held >= windows:
        return windows, None
    return held, (f"{label} {dates.fmt(cutoff)}: {why.format(held)}, so {what} averages {held}, not "
                  f"the {windows} of {key}")


def new_demand_windows_at(start: dates.HistoryStart, cutoff: pd.Timestamp, *, horizon_days: int,
                          lookback_days: int, windows: int, sku_windows: int) -> tuple[int, int, str | None]:
    """``(windows, sku_windows, warning)`` of new demand at ``cutoff``: ``forecast.new_demand_windows``
    capped to the history (:func:`capped_windows`) and its SKU split's windows no more than that; the one
    rule the local forecast and the Dask one share."""
    capped, warning = capped_windows(start, cutoff, horizon_days=horizon_days, windows=windows,
                                     key="forecast.new_demand_windows", what="new demand",
                                     lookback_days=lookback_days)
    return capped, min(sku_windows, capped), warning


def configured_sku_windows(forecast: ForecastConfig) -> int:
    """Horizons whose SKU shares split new demand: ``new_demand_windows`` (``region_x_sku``), 0 (``cell``)."""
    return forecast.new_demand_windows if forecast.new_demand_split == "region_x_sku" else 0


def non_candidate_units(
    orders: pd.DataFrame,
    t: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    item_level: str,
    products: pd.DataFrame | None,
) -> pd.Series:
    """Units per (region, sku) in ``[t, t + H)`` bought by pairs that were not candidates at ``t``.

    A pair is a candidate at ``t`` when it has a line in ``[t - lookback, t)``.
    """
    lines = _Pairs.of(orders, [t], horizon_days=horizon_days, lookback_days=lookback_days,
                      item_level=item_level, products=products)
    return lines.new_units(t)


@dataclass(frozen=True)
class _Pairs:
    """The order lines some windows read, each with a dense code of its (customer, item) pair.

    Coded once for all windows: a window's candidates are then a boolean array over the
    codes (no per-window hash of string keys, no copy of the lines per window).
    """

    orders: pd.DataFrame
    rows: np.ndarray  # positions in ``orders`` of the lines read, ascending
    ts: np.ndarray  # their order_ts, datetime64[ns]
    pair: np.ndarray  # their pair codes, 0 .. n_pairs - 1
    n_pairs: int
    horizon: np.timedelta64
    lookback: np.timedelta64

    @classmethod
    def of(cls, orders: pd.DataFrame, starts: list[pd.Timestamp], *, horizon_days: int, lookback_days: int,
           item_level: str, products: pd.DataFrame | None) -> _Pairs:
        """The lines in ``[min(starts) - lookback, max(starts) + H)``, coded by pair."""
        horizon, lookback = np.timedelta64(horizon_days, "D"), np.timedelta64(lookback_days, "D")
        ts = dates.naive_utc(orders["order_ts"]).to_numpy().astype("datetime64[ns]", copy=False)
        first, last = (_ns(t) for t in (min(starts), max(starts)))
        rows = np.flatnonzero((ts >= first - lookback) & (ts < last + horizon))
        customer = pd.factorize(orders["customer_id"].take(rows).astype(str), use_na_sentinel=False)[0]
        item, items = pd.factorize(item_column(orders[["sku"]].take(rows), item_level, products),
                                   use_na_sentinel=False)
        pair, pairs = pd.factorize(customer.astype(np.int64) * max(len(items), 1) + item)
        return cls(orders, rows, ts[rows], pair, len(pairs), horizon, lookback)

    def new_units(self, t: pd.Timestamp) -> pd.Series:
        """:func:`non_candidate_units` at ``t`` (one of the ``starts`` the lines were cut for)."""
        t64 = _ns(t)
        known = np.zeros(self.n_pairs, dtype=bool)
        known[self.pair[(self.ts < t64) & (self.ts >= t64 - self.lookback)]] = True
        in_horizon = (self.ts >= t64) & (self.ts < t64 + self.horizon)
        new = self.orders.take(self.rows[in_horizon & ~known[self.pair]])
        return new.groupby([new["region"].astype(str), new["sku"].astype(str)])["quantity"].sum()


def _ns(t: pd.Timestamp) -> np.datetime64:
    return np.datetime64(pd.Timestamp(t).to_datetime64(), "ns")


def new_demand(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    windows: int,
    item_level: str,
    products: pd.DataFrame | None,
    sku_windows: int = 0,
) -> pd.DataFrame:
    """``region, sku, mu, var`` of demand no candidate pair explains (:func:`new_demand_from_table`)."""
    table = non_candidate_table(
        orders,
        cutoff,
        horizon_days=horizon_days,
        lookback_days=lookback_days,
        windows=max(windows, sku_windows),
        item_level=item_level,
        products=products,
    )
    return new_demand_from_table(table, windows, sku_windows)


def non_candidate_table(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    windows: int,
    item_level: str,
    products: pd.DataFrame | None,
) -> pd.DataFrame:
    """Non-candidate units per (region, sku) (rows) in each of the last ``windows`` horizons (columns 0..).

    Candidates are per customer, so tables of customer-disjoint orders add up.
    """
    starts = [cutoff - pd.Timedelta(days=horizon_days * k) for k in range(windows, 0, -1)]
    lines = _Pairs.of(orders, starts, horizon_days=horizon_days, lookback_days=lookback_days,
                      item_level=item_level, products=products)
    per_window = [lines.new_units(t) for t in starts]
    return pd.concat(per_window, axis=1, keys=list(range(windows))).fillna(0.0)


def new_demand_from_table(table: pd.DataFrame, windows: int, sku_windows: int = 0) -> pd.DataFrame:
    """``region, sku, mu, var`` (units per horizon) from a :func:`non_candidate_table`.

    ``table``'s columns are ``0 .. max(windows, sku_windows) - 1``, the last the most recent
    horizon; a missing column counts 0 units.
    ``sku_windows = 0``: each cell's mean over the last ``windows`` columns, variance the
    larger of that mean and the spread across them. ``sku_windows > 0``: a region's mean
    total over the last ``windows`` columns times each SKU's share of the last
    ``sku_windows`` columns summed over regions; variance = mean.
    """
    if table.empty:
        return pd.DataFrame(
            {"region": pd.Series(dtype=str), "sku": pd.Series(dtype=str), "mu": [], "var": []}
        )
    n = max(windows, sku_windows)
    table = table.reindex(columns=range(n), fill_value=0.0)
    recent = table.iloc[:, n - windows:]
    if sku_windows > 0:
        return _region_times_sku(recent.sum(axis=1), table.iloc[:, n - sku_windows:].sum(axis=1), windows)
    mu = recent.mean(axis=1)
    var = np.maximum(recent.var(axis=1, ddof=1).fillna(0.0), mu) if windows > 1 else mu
    out = pd.DataFrame({"mu": mu, "var": var}).reset_index()
    out.columns = ["region", "sku", "mu", "var"]
    return out


def _region_times_sku(recent: pd.Series, longer: pd.Series, windows: int) -> pd.DataFrame:
    """``region, sku, mu, var``: ``mu = recent units of the region / windows x the SKU's share of ``longer``.

    Both series are indexed by (region, sku); cells with ``mu = 0`` are left out; ``var = mu``.
    """
    level = recent.groupby(level=0).sum() / windows
    sku = longer.groupby(level=1).sum()
    level, sku = level[level > 0], sku[sku > 0]
    if level.empty or sku.empty:
        return new_demand_from_table(pd.DataFrame(), windows)
    share = sku.to_numpy(float) / float(sku.sum())
    mu = np.outer(level.to_numpy(float), share).ravel()
    return pd.DataFrame({
        "region": np.repeat(level.index.astype(str).to_numpy(), len(sku)),
        "sku": np.tile(sku.index.astype(str).to_numpy(), len(level)),
        "mu": mu,
        "var": mu,
    })


#: Days back to the same horizon last year (52 weeks: the weekday kept).
YEAR_AGO_DAYS = 364


def year_ago_table(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    horizon_days: int,
    lookback_days: int,
    windows: int,
    item_level: str,
    products: pd.DataFrame | None,
) -> pd.DataFrame:
    """The :func:`non_candidate_table` of ``windows + 1`` horizons ending 52 weeks before ``cutoff``'s.

    Column ``windows`` is the year-ago horizon ``[cutoff - 364, cutoff - 364 + H)``, columns
    ``0..windows-1`` the horizons before it; all before ``cutoff`` (tables of
    customer-disjoint orders add up).
    """
    end = pd.Timestamp(cutoff) - pd.Timedelta(days=YEAR_AGO_DAYS - horizon_days)
    return non_candidate_table(orders, end, horizon_days=horizon_days, lookback_days=lookback_days,
                               windows=windows + 1, item_level=item_level, products=products)


#: Share of ``time.lookback_days`` the history must hold before the year-ago windows.
YEAR_AGO_HISTORY_SHARE = 0.5


def year_ago_history_days(first_order: pd.Timestamp, cutoff: pd.Timestamp, *, horizon_days: int,
                          windows: int) -> int:
    """Days of orders (from ``first_order``'s day) before the first horizon of :func:`year_ago_table`.

    ``first_order``: the history's first line, :attr:`anticipate.dates.HistoryStart.first` (not the
    oldest ``order_ts``: a line before a long gap is detached).
    """
    start = pd.Timestamp(cutoff) - pd.Timedelta(days=YEAR_AGO_DAYS + windows * horizon_days)
    return int((start - pd.Timestamp(first_order).normalize()).days)


def year_ago_ratio(table: pd.DataFrame, windows: int, *, history_days: int, lookback_days: int) -> float:
    """Non-candidate units of the year-ago horizon over their mean in the ``windows`` horizons before it.

    ``table`` is a :func:`year_ago_table`; ``history_days`` (:func:`year_ago_history_days`) the
    days of orders before its first horizon. 1.0 when the horizons before it hold no units (no
    history a year back) or when ``history_days`` is under :data:`YEAR_AGO_HISTORY_SHARE` of
    ``lookback_days`` (those windows would count returning customers as new); unbounded (0 for a
    year-ago horizon without units): :func:`year_ago_factor` bounds it.
    """
    if history_days < YEAR_AGO_HISTORY_SHARE * lookback_days:
        return 1.0
    base, now = _year_ago_units(table, windows)
    return float(now / base) if base > 0 else 1.0


def _year_ago_units(table: pd.DataFrame, windows: int) -> tuple[float, float]:
    """Non-candidate units per horizon in the ``windows`` horizons before the year-ago one, and in it."""
    totals = table.reindex(columns=range(windows + 1), fill_value=0.0).sum(axis=0).to_numpy(float)
    return float(totals[:windows].mean()), float(totals[windows])


#: The range the year-ago index is bounded to. Over the sample's second year (every cutoff from
#: 2025-07-29, when the history rule first allows it, to 2025-12-31) the raw index stays within
#: 0.71-1.20: a season rarely halves or doubles one horizon's new customers against the horizons
#: just before it, while a few missing days a year ago (a closure, an export gap) or a one-off
#: campaign do: six missing days (2024-12-25..30) gave 0.11 and a backtest bias of -22%. Bounded, a
#: wrong year-ago horizon can at most halve or double the new demand, and the warning names it.
YEAR_AGO_RANGE = (0.5, 2.0)


def year_ago_factor(
    table: pd.DataFrame, windows: int, *, history_days: int, lookback_days: int, cutoff: pd.Timestamp,
    horizon_days: int,
) -> tuple[float, str | None]:
    """The index new demand is scaled by: :func:`year_ago_ratio` bounded to :data:`YEAR_AGO_RANGE`.

    The warning (None inside the range) names the year-ago horizon of ``cutoff`` and its units
    against the ``windows`` horizons (of ``horizon_days``) before it.
    """
    raw = year_ago_ratio(table, windows, history_days=history_days, lookback_days=lookback_days)
    base, now = _year_ago_units(table, windows)
    low, high = YEAR_AGO_RANGE
    index = min(max(raw, low), high)
    if index == raw:
        return index, None
    day, h = pd.Timedelta(days=1), pd.Timedelta(days=horizon_days)
    start = pd.Timestamp(cutoff) - pd.Timedelta(days=YEAR_AGO_DAYS)
    before = start - windows * h
    return index, (
        f"the year-ago index at {dates.fmt(cutoff)} is {raw:.3g}, outside {low:g} to {high:g}, so new "
        f"demand is scaled by {index:g} instead: new customers bought {now:,.0f} units in the year-ago "
        f"horizon {dates.fmt(start)} to {dates.fmt(start + h - day)} against {base:,.0f} per horizon in the "
        f"{windows} before it ({dates.fmt(before)} to {dates.fmt(start - day)}); a week so far from the "
        f"ones before it is more often a closure, an export gap or a one-off campaign than the season: "
        f"check the orders of those days (forecast.year_ago_index: false turns the index off)"
    )


def with_index(new: pd.DataFrame, index: float) -> pd.DataFrame:
    """New demand ``region, sku, mu, var`` with both moments multiplied by ``index`` (``var >= mu`` kept)."""
    return new.assign(mu=new["mu"] * index, var=new["var"] * index)


def scaled_by_year_ago(new: pd.DataFrame, table: pd.DataFrame, start: dates.HistoryStart,
                       cutoff: pd.Timestamp, *, horizon_days: int, lookback_days: int, windows: int,
                       warnings: list[str] | None = None) -> pd.DataFrame:
    """``new`` demand times the year-ago index of ``table`` (:func:`year_ago_table`'s, summed over
    partitions on Dask), 1 without enough history after ``start`` (:func:`year_ago_history_days`); the
    index's warning, if any, appended to ``warnings``. The one step the local and the Dask forecast share."""
    history = 0 if start.first is None else year_ago_history_days(start.first, cutoff,
                                                                  horizon_days=horizon_days, windows=windows)
    index, warning = year_ago_factor(table, windows, history_days=history, cutoff=cutoff,
                                     lookback_days=lookback_days, horizon_days=horizon_days)
    if warning is not None and warnings is not None:
        warnings.append(warning)
    return with_index(new, index)
