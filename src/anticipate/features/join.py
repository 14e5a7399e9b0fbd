"""The join: a partition's candidates and the combined partials laid out as the feature table.

:func:`join` reads the item, region x item, season and renewal columns of a partition's
candidates from the totals (:func:`~anticipate.features.partials.combine`) and writes every
float column once into one block; :func:`join_blocks` gives the same table as consecutive row
blocks, each made when asked for, so a writer can encode one while the next is made (the
``features`` command). The renewal hazard (SciPy's incomplete gamma and NumPy's loops, which
release the GIL: ~0.6 s of CPU at 1.8 M candidates) runs in a second thread while a block's
other columns are laid out; blocks are cut where it gives its whole-table values bit for bit
(:func:`~anticipate.features.renewal.renewal_cuts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from anticipate.features.partials import BUYERS28, RI_UNITS, U7, U28, U365, YA_BASE, YA_H, Partials, Prepared
from anticipate.features.renewal import (
    RENEWAL_COLUMNS,
    RenewalInputs,
    pooled_gaps,
    renewal_columns,
    renewal_cuts,
)
from anticipate.features.season import YEAR_AGO, days_to_christmas, observed, season_horizon, season_sources
from anticipate.features.sequences import CUSTOMER_COLUMNS, LOOKBACK_ORDERS
from anticipate.features.spec import KEYS, FeatureSpec

#: A column's source: ``values[index]`` per candidate, or ``values`` itself when the index is None.
Source = tuple[np.ndarray, np.ndarray | None]


def _trend(u7: np.ndarray, u28: np.ndarray) -> np.ndarray:
    """Daily units in 7 days over daily units in 28 days; NaN when none in 28."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u28 > 0, (u7 / 7.0) / (u28 / 28.0), np.nan)


def _season_sources(
    prepared: Prepared, totals: Partials, units: np.ndarray, horizon: int
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """The season columns of the candidates, from ``units`` (the totals' item rows at the
    partition's item codes) and the totals' shop-wide and regional year-ago sums."""
    pairs, item_idx = prepared.pairs, prepared.pairs["item_code"]
    at = totals.regions.get_indexer(prepared.regions)
    region_ya = np.zeros((len(at), len(YEAR_AGO)))
    region_ya[at >= 0] = totals.region_ya[at[at >= 0]]
    shop = totals.item_units[:, [YA_H, YA_BASE]].sum(axis=0)
    per = season_sources(units[:, [YA_H, YA_BASE]], units[:, U28], region_ya, shop, horizon, totals.oldest)
    every = np.zeros(len(item_idx), dtype=np.int64)
    pair_ya = pairs["sea_ci_units_ya"] if observed(totals.oldest)[0] else np.full(len(item_idx), np.nan)
    return {
        "sea_shop_lift_ya": (per["sea_shop_lift_ya"], every),
        "sea_region_lift_ya": (per["sea_region_lift_ya"], prepared.cust.region[pairs["cust_code"]]),
        **{name: (per[name], item_idx) for name in ("sea_item_lift_ya", "sea_item_ya_over_recent",
                                                    "sea_item_units_ya")},
        "sea_ci_units_ya": (pair_ya, None),
    }


#: Largest region x item grid :func:`_ri_at` indexes densely (int32 per cell: 64 MB), when it holds at most
#: :data:`RI_DENSE_PER_KEY` cells per candidate; past either, it binary-searches the sorted keys instead.
RI_DENSE_CELLS = 1 << 24
RI_DENSE_PER_KEY = 8


def _ri_at(
    prepared: Prepared, totals: Partials, keys: np.ndarray, *, dense: bool | None = None
) -> np.ndarray:
    """The totals' region x item units (:data:`RI_UNITS`) at the partition's ``region * n_items + item``
    ``keys`` (0 where the pair has none), one row per key.

    A key's row is read from a dense int32 index of the region x item grid (``dense``; by default when
    the grid is at most :data:`RI_DENSE_CELLS` cells and :data:`RI_DENSE_PER_KEY` per key: 200 x 20,000
    cells, 16 MB, for 1.8 M candidates at 10 M lines, 0.16 -> 0.02 s against the binary search of
    1.8 M keys among 167,000), else looked up among the totals' sorted keys. No dense grid of the
    units themselves (64 MB and its trend's temporaries, ~30,000 page faults at 1 M lines).
    """
    n_items = len(prepared.items)
    region = prepared.regions.get_indexer(totals.regions)[totals.ri_region]
    item = prepared.items.get_indexer(totals.items)[totals.ri_item]
    mine = (region >= 0) & (item >= 0)
    known = region[mine].astype(np.int64) * n_items + item[mine]  # distinct: one per region x item
    values = totals.ri_units[mine]
    out = np.zeros((len(keys), len(RI_UNITS)))
    cells = len(prepared.regions) * n_items
    if not len(known) or not len(keys):
        return out
    if dense is None:
        dense = cells <= min(RI_DENSE_CELLS, RI_DENSE_PER_KEY * len(keys))
    dense = dense and keys.min() >= 0 and keys.max() < cells  # (a key off the grid: not found, as searched)
    if dense:
        index = np.full(cells, -1, dtype=np.int32)
        index[known] = np.arange(len(known), dtype=np.int32)
        at = index[keys]
        found = at >= 0
        out[found] = values[at[found]]
        return out
    order = np.argsort(known, kind="stable")
    known, values = known[order], values[order]
    at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    found = known[at] == keys
    out[found] = values[at[found]]
    return out


def _renewal_inputs(prepared: Prepared, totals: Partials) -> RenewalInputs:
    """The per-candidate inputs of :func:`~anticipate.features.renewal.renewal_columns`."""
    pairs, item_idx = prepared.pairs, prepared.pairs["item_code"]
    at = totals.items.get_indexer(prepared.items)  # partition item code -> totals row
    mean, cv2, overall = pooled_gaps(totals.item_gaps)
    return RenewalInputs(pairs["ci_orders_total"], pairs["ci_gap_mean_days"], pairs["ci_days_since_last"],
                         mean[at][item_idx], cv2[at][item_idx], overall)


def _renewal_sources(inputs: RenewalInputs, rows: slice) -> dict[str, Source]:
    """The renewal columns (:data:`~anticipate.features.renewal.RENEWAL_COLUMNS`) of candidates ``rows``."""
    return {name: (values, None) for name, values in renewal_columns(inputs.rows(rows)).items()}


def _item_sources(prepared: Prepared, totals: Partials) -> dict[str, Source]:
    """The item and region x item columns of the candidates, read from ``totals``."""
    pairs, item_idx = prepared.pairs, prepared.pairs["item_code"]
    units = totals.item_units[totals.items.get_indexer(prepared.items)]
    ri_keys = prepared.cust.region[pairs["cust_code"]].astype(np.int64) * len(prepared.items) + item_idx
    ri = _ri_at(prepared, totals, ri_keys)  # int64: regions x items may pass 2**31
    u7, u28 = units[:, U7], units[:, U28]
    return {
        "item_units_7d": (u7, item_idx),
        "item_units_28d": (u28, item_idx),
        "item_units_365d": (units[:, U365], item_idx),
        "item_trend_7d_28d": (_trend(u7, u28), item_idx),
        "item_buyers_28d": (units[:, BUYERS28], item_idx),
        "ri_units_7d": (ri[:, 0], None),
        "ri_units_28d": (ri[:, 1], None),
        "ri_trend_7d_28d": (_trend(ri[:, 0], ri[:, 1]), None),
    }


def _ratios(column: Callable[[str], np.ndarray]) -> dict[str, np.ndarray]:
    """Ratio features trees cannot form themselves, from the candidates' ``column(name)``."""
    days = np.maximum(column("cust_tenure_days"), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "ci_share_of_orders": column("pair_" + LOOKBACK_ORDERS) / column("cust_" + LOOKBACK_ORDERS),
            "cust_orders_per_day": column("cust_orders_total") / days,
            "ci_share_all": column("ci_orders_total") / column("cust_orders_total"),
            "ci_orders_per_day": column("ci_orders_total") / days,
        }


def empty_table(spec: FeatureSpec) -> pd.DataFrame:
    """The feature table with no rows: string keys and float features."""
    return pd.DataFrame({c: pd.Series(dtype=str if c in KEYS else float) for c in [*KEYS, *spec.columns]})


def _sources(prepared: Prepared, totals: Partials, spec: FeatureSpec) -> dict[str, Source]:
    """Every column's :data:`Source` but the renewal ones and the constants."""
    pairs = prepared.pairs
    c_idx = pairs["cust_code"]
    sources = {name: (prepared.cust.column(name), c_idx) for name in CUSTOMER_COLUMNS}
    sources.update({name: (v, None) for name, v in pairs.items() if name.startswith("ci_")})
    sources.update(_item_sources(prepared, totals))
    if "season" in spec.families:  # its pairs' year-ago units are made only then (prepare_history)
        item_rows = totals.item_units[totals.items.get_indexer(prepared.items)]
        sources.update(_season_sources(prepared, totals, item_rows, season_horizon(spec.horizon_days)))
    sources["cust_" + LOOKBACK_ORDERS] = (prepared.cust.lookback_orders, c_idx)
    sources["pair_" + LOOKBACK_ORDERS] = (pairs[LOOKBACK_ORDERS], None)

    def column(name: str) -> np.ndarray:
        src, idx = sources[name]
        return src if idx is None else src[idx]

    sources.update({name: (v, None) for name, v in _ratios(column).items()})
    return sources


def _fill(block: list[np.ndarray], rows: Iterable[int], columns: list[str], sources: dict[str, Source],
          constants: dict[str, float], part: slice) -> None:
    """Write ``block[row]`` for each of ``rows``: the constant, or the column's source at the candidates
    ``part`` (a source without index holds one value per candidate of ``part`` when ``part`` is ``[:]``)."""
    for row in rows:
        name = columns[row]
        if name in constants:
            block[row].fill(constants[name])
        else:
            src, idx = sources[name]
            block[row][...] = src[part] if idx is None else np.take(src, idx[part])


@dataclass(frozen=True)
class _Layout:
    """What every row block of a partition's table reads: the columns' sources (the renewal ones as
    the arguments of their computation), the constants and the keys' labels and codes."""

    columns: list[str]
    sources: dict[str, Source]
    constants: dict[str, float]
    renewal: RenewalInputs
    keys: tuple[tuple[pd.Index, np.ndarray], ...]

    @property
    def rows(self) -> int:
        """The number of candidates."""
        return len(self.keys[0][1])


def _layout(prepared: Prepared, totals: Partials, cutoff: pd.Timestamp, spec: FeatureSpec) -> _Layout:
    """The :class:`_Layout` of ``prepared``'s candidates, their item-level columns read from ``totals``."""
    cutoff = pd.Timestamp(cutoff)
    c_idx = prepared.pairs["cust_code"]
    constants = {"cal_week": float(cutoff.isocalendar()[1]),
                 "sea_days_to_christmas": days_to_christmas(cutoff)}
    keys = ((prepared.customers, c_idx), (prepared.items, prepared.pairs["item_code"]),
            (prepared.regions, prepared.cust.region[c_idx]))
    return _Layout(spec.columns, _sources(prepared, totals, spec), constants,
                   _renewal_inputs(prepared, totals), keys)


def _frame(layout: _Layout, rows: slice) -> pd.DataFrame:
    """The table's candidates ``rows`` (a step-1 slice): keys, then columns; the renewal ones made beside."""
    lo, hi, _ = rows.indices(layout.rows)
    columns = layout.columns
    # one array per column, not one 2-D block: the Complete Journey's first block (46 x 524,288 float64,
    # 193 MB) fit in none of the ~200 MB of heap freed before it (fragments): the heap grew 230 MB
    block = [np.empty(hi - lo) for _ in columns]
    later = [row for row, name in enumerate(columns) if name in RENEWAL_COLUMNS]
    with ThreadPoolExecutor(max_workers=1) as side:  # SciPy's and NumPy's loops release the GIL
        renewal = side.submit(_renewal_sources, layout.renewal, slice(lo, hi))
        first = (row for row in range(len(columns)) if row not in later)
        _fill(block, first, columns, layout.sources, layout.constants, slice(lo, hi))
        _fill(block, later, columns, renewal.result(), layout.constants, slice(None))
    out = pd.DataFrame(dict(zip(columns, block, strict=True)), index=pd.RangeIndex(hi - lo), columns=columns,
                       copy=False)  # (the index: the block's rows also when no column is asked for)
    for pos, (name, (labels, idx)) in enumerate(zip(KEYS, layout.keys, strict=True)):
        out.insert(pos, name, labels.take(idx[lo:hi]).astype(str).array)
    return out


def join(prepared: Prepared, totals: Partials, cutoff: pd.Timestamp, spec: FeatureSpec) -> pd.DataFrame:
    """The partition's feature table: ``customer_id, item, region`` + the columns of ``spec``.

    One row per candidate, in (customer, item) order. Every float column is written
    once into one block (a per-customer, per-pair, per-item or per-(region, item)
    array taken at the candidates' codes); no frame is joined, concatenated or sorted.
    """
    if len(prepared.customers) == 0:
        return empty_table(spec)
    return _frame(_layout(prepared, totals, cutoff, spec), slice(None))


def nan_free(layout: _Layout) -> list[str]:
    """The table's columns that hold no NaN in any row: the keys, the constants that are numbers, and
    the columns whose whole source (every customer's, item's or pair's value, not only the candidates')
    has none; never the renewal ones (computed block by block). A writer may store them as never null."""
    out = [name for name, _ in zip(KEYS, layout.keys, strict=True)]
    for name in layout.columns:
        if name in layout.constants:
            clean = not np.isnan(layout.constants[name])
        elif name in layout.sources:
            src = np.asarray(layout.sources[name][0])  # a sum is NaN where a value is (or +inf meets -inf)
            clean = src.dtype.kind in "iub" or (src.dtype.kind == "f" and not np.isnan(np.add.reduce(src)))
        else:
            clean = False
        if clean:
            out.append(name)
    return out


def table_layout(
    prepared: Prepared, totals: Partials, cutoff: pd.Timestamp, spec: FeatureSpec
) -> _Layout | None:
    """What :func:`layout_blocks` reads, None when the partition has no customer (the empty table)."""
    return None if len(prepared.customers) == 0 else _layout(prepared, totals, cutoff, spec)


def layout_blocks(layout: _Layout | None, spec: FeatureSpec, block_rows: int) -> Iterator[pd.DataFrame]:
    """:func:`join_blocks` of a :func:`table_layout`."""
    if layout is None:
        yield empty_table(spec)
        return
    cuts = renewal_cuts(layout.renewal, block_rows)
    for lo, hi in pairwise(cuts):
        yield _frame(layout, slice(int(lo), int(hi)))


def join_blocks(
    prepared: Prepared, totals: Partials, cutoff: pd.Timestamp, spec: FeatureSpec, block_rows: int
) -> Iterator[pd.DataFrame]:
    """:func:`join`'s table as consecutive frames of about ``block_rows`` rows, in order.

    Each frame is made when the next one is asked for; the columns every block reads are
    computed before the first. The cuts are :func:`~anticipate.features.renewal.renewal_cuts`
    (a frame is at least ``block_rows`` long but the last, and one frame when the candidates are
    too few to cut), so the frames put together are :func:`join`'s table bit for bit. No
    candidate: one frame of no rows (:func:`join`'s).
    """
    return layout_blocks(table_layout(prepared, totals, cutoff, spec), spec, block_rows)
