"""The feature table in row blocks (issue 17): the blocks put together are the whole table, bit for bit.

``features`` writes its Parquet from :func:`~anticipate.features.join.join_blocks` so Arrow's single-threaded
encoding of one block overlaps the making of the next. The renewal hazard's tail quadrature runs through
one BLAS matrix product per chunk of long-overdue pairs, and BLAS may round a row by where it sits in its
chunk: blocks cut anywhere else than at a chunk's start changed last bits (1 value of 1.8 M at 10 M lines).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from anticipate.config import SampleConfig
from anticipate.features import renewal
from anticipate.features.join import join, join_blocks
from anticipate.features.partials import prepare
from anticipate.features.spec import FeatureSpec
from anticipate.sample import generate_world
from anticipate.storage.files import write_parquet
from anticipate.storage.parquet_frames import arrow_table, write_parquet_frames

SPEC = FeatureSpec(lookback_days=365)  # 2,481 candidates, 1,238 of them long overdue (the tail)
CUTOFF = pd.Timestamp("2025-01-20")


@pytest.fixture(scope="module")
def prepared():
    tables, _ = generate_world(SampleConfig(customers=400, skus=60, categories=6, regions=8, warehouses=3,
                                            days=400, start="2024-01-01", seed=5))
    return prepare(tables["orders"], CUTOFF, SPEC)


def _bits(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy().view(np.int64) if frame[c].dtype == float else frame[c].to_numpy(dtype=str)
            for c in frame.columns}


@pytest.mark.parametrize("chunk", [3, 7, 64])
@pytest.mark.parametrize("rows", [1, 50, 333])
def test_blocks_put_together_are_the_whole_table_bit_for_bit(prepared, monkeypatch, chunk: int, rows: int):
    monkeypatch.setattr(renewal, "_TAIL_BLOCK", chunk)  # many chunks of the tail quadrature in a small world
    whole = join(prepared, prepared.partials, CUTOFF, SPEC)
    blocks = list(join_blocks(prepared, prepared.partials, CUTOFF, SPEC, rows))
    assert len(blocks) > 1 and all(len(b) for b in blocks)
    assert all(len(b) >= rows for b in blocks[:-1])
    together = pd.concat(blocks, ignore_index=True)
    assert list(together.columns) == list(whole.columns) and len(together) == len(whole)
    for column, values in _bits(whole).items():
        np.testing.assert_array_equal(_bits(together)[column], values, err_msg=column)


def test_a_block_starts_only_where_a_chunk_of_the_tail_quadrature_does(prepared, monkeypatch):
    monkeypatch.setattr(renewal, "_TAIL_BLOCK", 5)
    pairs = prepared.pairs
    n, pair_mean, age = pairs["ci_orders_total"], pairs["ci_gap_mean_days"], pairs["ci_days_since_last"]
    item_mean, item_cv2 = np.full(len(n), 20.0), np.full(len(n), 0.5)
    cuts = renewal.renewal_cuts(renewal.RenewalInputs(n, pair_mean, age, item_mean, item_cv2, 0.5), rows=40)
    shape, x0 = renewal._scaled_age(age, renewal._shrunk_gap(n, pair_mean, item_mean), item_cv2)
    tail = renewal._tail_rows(shape, x0)
    assert cuts[0] == 0 and cuts[-1] == len(n) and (np.diff(cuts) > 0).all() and len(cuts) > 3
    for cut in cuts[1:-1]:
        assert np.count_nonzero(tail < cut) % 5 == 0 and cut in tail  # a chunk's first long-overdue pair


def test_frames_written_as_they_come_are_the_table_written_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"k": [f"c{i % 17}" for i in range(1000)], "x": rng.normal(size=1000),
                          "n": rng.integers(0, 5, 1000).astype(float)})
    frame.loc[::7, "x"] = np.nan
    parts = (frame.iloc[lo:lo + 300].reset_index(drop=True) for lo in range(0, 1000, 300))
    write_parquet_frames(parts, tmp_path / "parts.parquet", plain=("x",), statistics=("k",))
    write_parquet(frame, tmp_path / "whole.parquet", plain=("x",), statistics=("k",))
    parts_table = pq.read_table(tmp_path / "parts.parquet")
    assert parts_table.equals(pq.read_table(tmp_path / "whole.parquet"), check_metadata=True)
    meta = pq.ParquetFile(tmp_path / "parts.parquet").metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [300, 300, 300, 100]


def test_a_frame_of_another_schema_publishes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    frames = iter([pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": ["text"]})])
    with pytest.raises(ValueError, match="schema"):
        write_parquet_frames(frames, target)
    assert not target.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("other", [None, np.arange(6), pd.Categorical(list("abcabc")), [b"x"] * 6])
def test_the_frames_arrow_tables_are_pandas_conversions(other: object) -> None:
    import pyarrow as pa

    frame = pd.DataFrame({"key": pd.array(list("abcdef"), dtype="str"),
                          "x": [1.5, np.nan, -0.0, np.inf, 2.0, np.nan], "none": np.full(6, np.nan),
                          "whole": np.arange(6.0)})
    if other is not None:  # a column of another kind: the whole frame through pandas' conversion
        frame["other"] = other
    table, want = arrow_table(frame), pa.Table.from_pandas(frame, preserve_index=False)
    assert table.equals(want, check_metadata=True)
    assert [c.null_count for c in table.columns] == [c.null_count for c in want.columns]
    assert table.column("x").null_count == 2 and table.column("none").null_count == 6


def test_required_columns_are_never_null_and_read_back_the_same() -> None:
    frame = pd.DataFrame({"key": pd.array(list("abc"), dtype="str"), "x": [1.0, np.nan, 2.0],
                          "n": [1.0, 2.0, 3.0]})
    table = arrow_table(frame, required=("key", "n"))
    assert [f.nullable for f in table.schema] == [False, True, False]
    assert table.to_pandas().equals(frame) and table.column("x").null_count == 1
    assert table.schema.metadata == arrow_table(frame).schema.metadata
    with pytest.raises(ValueError, match="'x' is required"):
        arrow_table(frame, required=("x",))
