"""``features``: the candidate pairs and their features at a cutoff, written as Parquet or CSV."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.errors import DataError
from anticipate.features.spec import KEYS
from anticipate.pipelines import Result, Settings
from anticipate.pipelines._common import (
    item_warnings,
    load_data,
    order_id_warnings,
    refuse_out_in_data,
    resolve_cutoff,
)
from anticipate.storage.files import write_table

if TYPE_CHECKING:
    from anticipate.features.partials import Prepared
    from anticipate.features.spec import FeatureSpec

#: Dictionary pages of the feature table's Parquet stop at 256 KiB (Arrow's default: 1 MiB): a float
#: column of many distinct values stops hashing sooner, and plain pages compress better than its
#: large dictionary's indices, while counts and keys keep theirs. 10 M-line world (1.8 M x 49): write
#: 2.1 -> 1.75 s CPU, 118 -> 109 MB; 128 KiB 114 MB, 512 KiB 111 MB. The values are the same.
FEATURE_DICTIONARY_BYTES = 256 * 1024
#: Feature columns of continuous values (days, currency, ratios of them) stored without a dictionary:
#: per customer or per pair, nearly every value is distinct (10 M-line world: 90,000-1,050,000 distinct
#: values in a row group of 1,048,576), so the writer hashed them into a dictionary only to overflow it.
#: The counts, units and per-item and per-region values keep theirs (1-20,000 distinct). A column not
#: named here (a new feature) keeps its dictionary. Only the keys get min/max statistics: no reader
#: filters a feature table by a feature's range. 10 M lines: write 1.46 -> 1.22 s CPU, 108.7 -> 103.7
#: MB; 1 M lines 0.18 -> 0.13 s, 11.3 -> 9.9 MB. The values read back are the same.
FEATURE_PLAIN_COLUMNS = (
    "customer_id", "cust_recency_days", "cust_tenure_days", "cust_spend_365d", "cust_gap_mean_days",
    "cust_gap_std_days", "cust_gap_last_days", "cust_recency_over_gap", "cust_bgnbd_t_x",
    "cust_orders_per_day", "ci_days_since_last", "ci_gap_mean_days", "ci_gap_std_days", "ci_gap_last_days",
    "ci_recency_over_gap", "ci_orders_per_day", "ci_renewal_hazard_7d", "ci_lapse_ratio",
)
#: Parquet codec of the feature table. Arrow's writer encodes in one thread, last in the command: Snappy
#: costs it ~0.2 s less than zstd at 10 M lines (1.20 -> 0.99 s of CPU) for an 18 % larger file (104.5
#: -> 123.3 MB; 1 M lines 10.0 -> 11.9 MB). Snappy is pandas' and Arrow's own default codec, read by
#: every Parquet reader; the values read back are the same.
FEATURE_COMPRESSION = "snappy"
#: Rows per row block (and row group) of the feature table's Parquet: Arrow's writer encodes one block
#: in its thread while the next is made (:func:`_write_prepared`). Smaller blocks overlap more and cost
#: the writer more (10 M-line table: 1.22 s CPU in 2 row groups, +0.09 s in 4, +0.2 s in 7).
FEATURE_BLOCK_ROWS = 1 << 19


def run_features(settings: Settings, *, cutoff: str | None, out: Path) -> Result:
    """Build the feature table at ``cutoff`` (default: the production cutoff) and write it to ``out``."""
    from anticipate.features.history import FEW_IDS, ID_COLUMNS
    from anticipate.features.spec import FeatureSpec

    refuse_out_in_data(out, settings)
    cfg = settings.cfg
    spec = FeatureSpec.from_config(cfg)
    local = cfg.compute.engine != "dask"  # (the Dask path partitions and ships the frame as read)
    ds = load_data(settings, cluster=True, dictionary=ID_COLUMNS if local else (), stored=FEW_IDS)
    warnings = item_warnings(ds, spec.item_level) + order_id_warnings(ds.path)  # or exit 2: no category
    cutoff_ts = resolve_cutoff(
        cutoff, ds.orders, horizon_days=spec.horizon, purpose="production", command="features"
    )
    if not local:
        from anticipate.distributed.schedule import features_dask

        warnings += dates.history_warnings(ds.orders["order_ts"], cutoff_ts)
        table = features_dask(cfg.compute, ds, cutoff_ts, spec)
        _refuse_empty(len(table), cutoff_ts, spec, ds.path)
        counts = _write_whole(table, out)
    else:
        from anticipate.features.history import history
        from anticipate.features.partials import prepare_history

        # the history's start and its last day (NumPy passes over the timestamps, the GIL released: 0.2-0.35 s
        # of one core at 10 M lines) are read beside history(), whose threads keep the 2 cores partly busy
        with ThreadPoolExecutor(max_workers=1) as side:
            detached = side.submit(dates.history_warnings, ds.orders["order_ts"], cutoff_ts)
            lines = history(ds.orders, cutoff_ts, spec.item_level, ds.products)
            warnings += detached.result()
        data_dir = ds.path
        del ds  # the orders frame (10M lines: ~0.5 GB) goes before the pairs are built,
        prepared = prepare_history(lines, spec)
        del lines  # and the lines (~0.4 GB) before the table is
        _refuse_empty(prepared.n_candidates, cutoff_ts, spec, data_dir)
        counts = _write_prepared(prepared, cutoff_ts, spec, out)
    return Result(
        command="features",
        counts=counts,
        outputs={"features": str(out)},
        text=f"{counts['pairs']:,} candidate pairs x {counts['features']} features at "
        f"{dates.fmt(cutoff_ts)} -> {out}",
        warnings=warnings,
    )


def _refuse_empty(pairs: int, cutoff: pd.Timestamp, spec: FeatureSpec, data_dir: Path) -> None:
    """DataError (exit 2) when there is no candidate pair: an empty table is never written. The message
    names the dates that have some (:func:`~anticipate.models.scoring.no_candidates`, as allocate's: "pick
    a later --cutoff" was wrong for a cutoff after the data's end), from ``data_dir``'s order_ts read again
    (the frame is gone by then: only this refusal pays for it)."""
    from anticipate.models.scoring import no_candidates
    from anticipate.storage.files import load_dataset

    if pairs == 0:
        order_ts = load_dataset(data_dir, tables=("orders",), order_columns=["order_ts"]).orders["order_ts"]
        raise DataError(no_candidates(order_ts, cutoff, spec.lookback_days, whose="the config's"))


def _write_whole(table: pd.DataFrame, out: Path) -> dict[str, int]:
    """Write the whole ``table`` to ``out`` (Parquet or CSV); the result's counts."""
    with ThreadPoolExecutor(max_workers=1) as side:  # the counts hash beside the writer (both drop the GIL)
        distinct = side.submit(lambda: [int(table[k].nunique()) for k in ("customer_id", "item")])
        write_table(table, out, dictionary_bytes=FEATURE_DICTIONARY_BYTES, plain=FEATURE_PLAIN_COLUMNS,
                    statistics=KEYS, compression=FEATURE_COMPRESSION)
        customers, items = distinct.result()
    return {"pairs": len(table), "customers": customers, "items": items, "features": table.shape[1] - 3}


def _write_prepared(prepared: Prepared, cutoff: pd.Timestamp, spec: FeatureSpec, out: Path) -> dict[str, int]:
    """Join ``prepared``'s table and write it to ``out``; the result's counts.

    Parquet: in row blocks of about :data:`FEATURE_BLOCK_ROWS`, each encoded by a writer thread while
    the next is made (:func:`~anticipate.storage.parquet_frames.write_parquet_frames`): the same
    table as the whole one, one row group per block. The columns without NaN in any row
    (:func:`~anticipate.features.join.nan_free`: the keys, counts, units, ...) are stored as
    Parquet's *required*, with no definition levels to encode (10 M lines: the writer's 0.29 -> 0.26
    s of CPU per 524,288-row block, the thread the blocks wait for); pandas reads the same table.
    CSV: the whole table.
    """
    from anticipate.features.join import join, layout_blocks, nan_free, table_layout
    from anticipate.storage.parquet_frames import write_parquet_frames

    totals = prepared.partials  # one partition: its partials are the totals
    if out.suffix.lower() not in {".parquet", ".pq"}:
        return _write_whole(join(prepared, totals, cutoff, spec), out)
    layout = table_layout(prepared, totals, cutoff, spec)
    required = nan_free(layout) if layout is not None else ()
    write_parquet_frames(layout_blocks(layout, spec, FEATURE_BLOCK_ROWS), out,
                         dictionary_bytes=FEATURE_DICTIONARY_BYTES, plain=FEATURE_PLAIN_COLUMNS,
                         statistics=KEYS, compression=FEATURE_COMPRESSION, required=required)
    cust, item = prepared.pairs["cust_code"], prepared.pairs["item_code"]
    return {"pairs": len(cust), "customers": int(np.count_nonzero(np.bincount(cust))),
            "items": int(np.count_nonzero(np.bincount(item))), "features": len(spec.columns)}
