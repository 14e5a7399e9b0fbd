"""Parquet text columns read as pandas categoricals (one string per distinct value, not per row)."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

#: Rows past which a text column without nulls is encoded as two halves in two threads.
SPLIT_ROWS = 2_000_000


def _encode(column: object, pool: object, split_rows: int) -> tuple[object, np.ndarray]:
    """The first-appearance dictionary of a chunked text column and each row's code (int32, -1: null).

    A column of ``split_rows`` rows or more without nulls, in two or more chunks, is encoded
    as two halves in two threads (Arrow hashes without the GIL; 10 M order lines' customer ids:
    0.93 s of one core). The second half's new strings follow the first's dictionary in their
    order of first appearance, so the dictionary and codes are those of one pass.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = column.chunks
    if len(column) < split_rows or column.null_count or len(chunks) < 2:
        encoded = pc.dictionary_encode(column, memory_pool=pool)
        codes = np.empty(len(encoded), dtype=np.int32)
        at = 0
        for chunk in encoded.chunks:
            indices = chunk.indices if not chunk.null_count else pc.fill_null(chunk.indices, -1)
            codes[at : at + len(chunk)] = indices.to_numpy(zero_copy_only=False)
            at += len(chunk)
        return encoded.chunk(0).dictionary, codes
    cut = max(1, int(np.searchsorted(np.cumsum([len(c) for c in chunks]), len(column) // 2)))
    halves = [pa.chunked_array(chunks[:cut], column.type), pa.chunked_array(chunks[cut:], column.type)]
    with ThreadPoolExecutor(max_workers=1) as side:
        later = side.submit(_encode, halves[1], pool, len(column) + 1)
        (first, codes_a), (second, codes_b) = _encode(halves[0], pool, len(column) + 1), later.result()
    seen = pc.index_in(second, value_set=first, memory_pool=pool)
    new = seen.is_null().to_numpy(zero_copy_only=False)
    remap = np.empty(len(second), dtype=np.int32)
    remap[~new] = seen.drop_null().to_numpy()
    remap[new] = len(first) + np.arange(int(new.sum()), dtype=np.int32)
    dictionary = pa.concat_arrays([first, second.filter(pa.array(new))])
    return dictionary, np.concatenate([codes_a, remap[codes_b]])


def _categorical(column: object, pool: object, split_rows: int = SPLIT_ROWS) -> pd.Categorical:
    """A (chunked) Arrow text column as a pandas categorical, its categories in order of first appearance.

    One dictionary for all chunks (:func:`_encode`), so there is none per chunk to unify; the
    codes are gathered into one int32 array.
    """
    import pyarrow as pa

    if len(column) == 0:
        return pd.Categorical.from_codes(np.zeros(0, dtype=np.int32), pd.Index([], dtype=str))
    dictionary, codes = _encode(column, pool, split_rows)
    categories = pd.Index(dictionary.cast(pa.large_string()).to_pandas(types_mapper=None))
    return pd.Categorical.from_codes(codes, categories.astype(str), validate=False)


def read_with_dictionaries(
    path: Path, columns: list[str] | None, text: list[str], *, stored: bool | Collection[str] = False
) -> pd.DataFrame:
    """Read ``path`` with the ``text`` columns as categoricals, in the system allocator's memory.

    Large files (an allocation instance's 10 M cells) read through Arrow's default mimalloc
    pool spent 1.8-6.0 s of system time in page faults of its huge-page segments on this
    2-core VM, 0.5-1.1 s through the system allocator (wall 1.9-4.4 s -> 1.2-1.9 s).

    A text column not in ``stored`` is read as plain strings and encoded whole, one at a time
    (:func:`_categorical`): where the writer's dictionaries overflowed (order lines' ids),
    Parquet's dictionary read hashes the pages stored plain anyway and then unifies one
    dictionary per chunk (10 M order lines, whole read: the same CPU, 3.0-3.5 s, and a peak
    200 MB lower; their 307,000 customer ids: 1.3 s whole, 2.6 s stored). One in ``stored``
    (``True``: every one) has the file's dictionary pages read as they are, which is cheaper
    where every page is dictionary-encoded (an instance's 200 warehouse and 50,000 SKU ids over
    10 M cells: read + validation 1.8-2.1 s against 2.2-2.7 s encoding whole, load 3; the
    order lines' 20,000 SKUs 0.16 s against 0.45 s and 200 regions 0.11 s against 0.35 s, a
    third of the page faults). The frame is converted a column at a time, each Arrow column
    freed once converted.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    pool = pa.system_memory_pool()
    kept = sorted(set(text) if stored is True else set(text) & set(stored or ()))
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=kept))
    data = ds.dataset(str(path), format=fmt)
    names = columns if columns is not None else data.schema.names
    whole = [c for c in names if c in text and c not in kept]
    table = data.to_table(columns=[c for c in names if c not in whole], memory_pool=pool)
    frame = table.to_pandas(split_blocks=True, self_destruct=True, memory_pool=pool)
    del table
    for name in whole:
        frame[name] = _categorical(data.to_table(columns=[name], memory_pool=pool).column(0), pool)
    return frame[list(names)] if whole else frame
