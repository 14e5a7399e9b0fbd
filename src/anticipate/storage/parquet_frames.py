"""A Parquet file written from consecutive frames while they are being made."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from anticipate.storage.files import atomic_path
from anticipate.storage.parquet_layout import parquet_options


def write_parquet_frames(
    frames: Iterable[pd.DataFrame],
    target: str | Path,
    *,
    dictionary_bytes: int | None = None,
    plain: Collection[str] = (),
    statistics: Collection[str] | None = None,
    compression: str = "zstd",
) -> Path:
    """Write consecutive frames (same columns and dtypes, at least one) to one Parquet file atomically.

    The file holds the table ``pd.concat(frames)`` (index dropped) with the schema and metadata
    :func:`~anticipate.storage.files.write_parquet` gives it; each frame becomes its own row
    group(s). Arrow's Parquet writer encodes a row group's columns one after another in one
    thread (10 M-line feature table: ~1.2 s of one core); here that thread encodes a frame, the
    GIL released, while the caller's iterator makes the next one. ``dictionary_bytes``, ``plain``,
    ``statistics``, ``compression``: see :func:`~anticipate.storage.files.write_parquet` (taken
    from the first frame's columns). A frame whose schema differs from the first's raises ``ValueError``; on
    any exception nothing is published.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = (pa.Table.from_pandas(frame, preserve_index=False) for frame in frames)
    first = next(tables, None)
    if first is None:  # a file of no frame would have no schema: never publish it
        raise ValueError(f"no frame to write to {target}")
    with atomic_path(target) as tmp:
        opts = parquet_options(first.schema.names, dictionary_bytes, plain, statistics)
        # the executor closes first: a frame still being written is finished before the writer closes
        with pq.ParquetWriter(tmp, first.schema, compression=compression, **opts) as writer, \
                ThreadPoolExecutor(max_workers=1) as side:
            pending = side.submit(writer.write_table, first)
            for table in tables:  # made and converted while the writer encodes the one before
                pending.result()
                pending = side.submit(writer.write_table, table)
            pending.result()
    return Path(target)
