"""The customer-partitioned orders layout that ``ingest`` writes for ``compute.engine: dask`` (issue 6).

A data directory may hold, beside the canonical ``orders.parquet`` (which every
command, local or Dask, keeps reading for what it needs), the same rows split by a
stable hash of ``customer_id``::

    orders/_layout.json          partitions, rows per partition, the hash rule
    orders/part=K/part-0.parquet one file per partition K = 0..partitions-1 (maybe empty)

so every customer's whole history is in exactly one partition and a Dask worker can
read one partition straight from shared storage. The layout is written from the
final staged ``orders.parquet`` (after duplicates and the future tail are removed),
so its rows are exactly the accepted orders; it is published with the rest of the
data directory in one rename. Nothing here imports Dask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anticipate.errors import DataError

LAYOUT_DIR = "orders"
MARKER = "_layout.json"
FORMAT = 1
HASH_RULE = "pandas.util.hash_array(customer_id as str, categorize=True) % partitions"
ROW_GROUP_ROWS = 131_072


def partition_of(customer_id: pd.Series, n_partitions: int) -> np.ndarray:
    """The partition (0..n-1) of each customer: a stable hash of the id string (same on every run).

    Parameters
    ----------
    customer_id
        Customer ids (any dtype; compared as strings).
    n_partitions
        Number of partitions, >= 1.

    Returns
    -------
    numpy.ndarray
        int64 partition numbers, one per element of ``customer_id``.
    """
    values = customer_id.astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_array(values, categorize=True)
    return (hashed % np.uint64(n_partitions)).astype(np.int64)


@dataclass(frozen=True)
class Layout:
    """A customer-partitioned orders dataset: its directory, partition count and rows per partition."""

    directory: Path
    partitions: int
    part_rows: tuple[int, ...]

    @property
    def rows(self) -> int:
        """Order lines in all partitions."""
        return int(sum(self.part_rows))

    def part_file(self, k: int) -> Path:
        """The Parquet file of partition ``k``."""
        return self.directory / f"part={k}" / "part-0.parquet"


class _PartWriters:
    """One ParquetWriter per partition, fed row-group-sized slices (bounded buffering)."""

    def __init__(self, directory: Path, n: int, schema: pa.Schema) -> None:
        self.writers = []
        for k in range(n):
            (directory / f"part={k}").mkdir(parents=True, exist_ok=True)
            self.writers.append(pq.ParquetWriter(directory / f"part={k}" / "part-0.parquet", schema,
                                                 compression="zstd"))
        self.buffers: list[list[pa.Table]] = [[] for _ in range(n)]
        self.buffered = np.zeros(n, dtype=np.int64)
        self.rows = np.zeros(n, dtype=np.int64)

    def add(self, k: int, table: pa.Table) -> None:
        self.buffers[k].append(table)
        self.buffered[k] += table.num_rows
        self.rows[k] += table.num_rows
        if self.buffered[k] >= ROW_GROUP_ROWS:
            self.flush(k)

    def flush(self, k: int) -> None:
        if self.buffers[k]:
            self.writers[k].write_table(pa.concat_tables(self.buffers[k]))
        self.buffers[k], self.buffered[k] = [], 0

    def flush_all_if_over(self, limit: int) -> None:
        if self.buffered.sum() >= limit:
            for k in range(len(self.writers)):
                self.flush(k)

    def close(self) -> None:
        for k, writer in enumerate(self.writers):
            self.flush(k)
            writer.close()


def write_customer_layout(orders_file: Path, directory: Path, n_partitions: int, *,
                          batch_rows: int = 1_000_000) -> Layout:
    """Split ``orders_file`` into ``directory/part=K/part-0.parquet`` by customer hash, streaming.

    Parameters
    ----------
    orders_file
        A canonical ``orders.parquet``.
    directory
        Where the layout goes (normally ``<staging data dir>/orders``); created.
    n_partitions
        Number of partitions (``compute.partitions``), >= 1.
    batch_rows
        Rows read per batch; memory stays within a few batches whatever the file's size.

    Returns
    -------
    Layout
        The written layout (also recorded in ``directory/_layout.json``). Row order
        within a partition follows ``orders_file``.
    """
    source = pq.ParquetFile(orders_file)
    parts = _PartWriters(directory, n_partitions, source.schema_arrow)
    try:
        for batch in source.iter_batches(batch_size=batch_rows):
            table = pa.Table.from_batches([batch])
            part = partition_of(table["customer_id"].to_pandas(), n_partitions)
            order = np.argsort(part, kind="stable")
            bounds = np.searchsorted(part[order], np.arange(n_partitions + 1))
            ordered = table.take(pa.array(order))
            for k in np.flatnonzero(np.diff(bounds)):
                parts.add(int(k), ordered.slice(bounds[k], bounds[k + 1] - bounds[k]))
            parts.flush_all_if_over(4 * batch_rows)
    finally:
        parts.close()
    layout = Layout(directory, n_partitions, tuple(int(n) for n in parts.rows))
    doc = {"format": FORMAT, "key": "customer_id", "hash": HASH_RULE, "partitions": n_partitions,
           "rows": layout.rows, "part_rows": list(layout.part_rows), "source": orders_file.name}
    (directory / MARKER).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return layout


def read_layout(data_dir: Path) -> Layout | None:
    """The customer layout of ``data_dir``, or None when the directory has none.

    Raises
    ------
    DataError
        The marker is unreadable, a partition file is missing, or the layout's rows
        differ from ``orders.parquet`` (the layout is stale: re-run ingest).
    """
    directory = Path(data_dir) / LAYOUT_DIR
    marker = directory / MARKER
    if not marker.is_file():
        return None
    fix = "re-run 'anticipate ingest' with compute.engine: dask to rewrite it, or delete the directory"
    try:
        doc = json.loads(marker.read_text())
        layout = Layout(directory, int(doc["partitions"]), tuple(int(n) for n in doc["part_rows"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"the customer layout marker is unreadable ({exc}); {fix}",
                        file=str(marker)) from None
    missing = [k for k in range(layout.partitions) if not layout.part_file(k).is_file()]
    if missing or len(layout.part_rows) != layout.partitions:
        raise DataError(f"the customer layout lacks partition file(s) {missing[:5]}; {fix}",
                        file=str(directory))
    canonical = Path(data_dir) / "orders.parquet"
    if canonical.is_file() and pq.read_metadata(canonical).num_rows != layout.rows:
        raise DataError(f"the customer layout holds {layout.rows:,} order lines but orders.parquet holds "
                        f"{pq.read_metadata(canonical).num_rows:,}: the layout is stale; {fix}",
                        file=str(directory))
    return layout


def read_part(path: str | Path) -> pd.DataFrame:
    """One partition's order lines (the canonical orders columns), as pandas."""
    return pd.read_parquet(path, engine="pyarrow")


def read_all_parts(layout: Layout) -> list[pd.DataFrame]:
    """Every partition of ``layout`` in partition order (one frame each, maybe empty)."""
    return [read_part(layout.part_file(k)) for k in range(layout.partitions)]
