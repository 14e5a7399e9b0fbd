"""The `features` Parquet layout: continuous columns plain, statistics on the keys, values unchanged.

Issue 17: the writer hashed per-customer and per-pair continuous values into a dictionary that overflows
(90,000-1,050,000 distinct values per row group at 10 M lines) and computed min/max statistics nobody
reads; the layout changes, the table read back does not.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anticipate.features.spec import KEYS
from anticipate.pipelines.features import FEATURE_COMPRESSION, FEATURE_PLAIN_COLUMNS
from anticipate.storage.files import write_parquet
from tests.conftest import TrainedWorld, run_cli


def _chunks(path: Path) -> dict[str, list]:
    """Every column's chunk metadata, per row group."""
    meta = pq.ParquetFile(path).metadata
    out: dict[str, list] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            out.setdefault(group.column(c).path_in_schema, []).append(group.column(c))
    return out


def test_the_feature_table_stores_continuous_columns_plain_and_only_the_keys_statistics(
    trained_world: TrainedWorld, tmp_path: Path
) -> None:
    out = tmp_path / "features.parquet"
    done = run_cli(*trained_world.args("features", "--cutoff", "2024-08-20", "--out", str(out)))
    assert done.returncode == 0, done.stderr[-2000:]
    chunks = _chunks(out)
    plain = [c for c in FEATURE_PLAIN_COLUMNS if c in chunks]
    assert len(plain) == len(FEATURE_PLAIN_COLUMNS)  # the default families have every one of them
    for name, parts in chunks.items():
        for chunk in parts:
            assert chunk.has_dictionary_page == (name not in FEATURE_PLAIN_COLUMNS), name
            assert chunk.is_stats_set == (name in KEYS), name
            assert chunk.compression == FEATURE_COMPRESSION.upper(), name
    # the same values as Arrow's default layout of the same table, but the columns without NaN in any row
    # (nan_free: keys, counts, units, ...) stored as required, never null
    table = pd.read_parquet(out)
    default = tmp_path / "default.parquet"
    table.to_parquet(default, index=False)
    got, want = pq.read_table(out), pq.read_table(default)
    required = {f.name for f in got.schema if not f.nullable}
    assert set(KEYS) | {"cust_orders_total", "ci_orders_total", "cal_week"} <= required
    assert not required & {"ci_renewal_hazard_7d", "ci_gap_mean_days"}  # renewal, NaN under two orders
    assert all(got.column(name).null_count == 0 for name in required)
    nullable = [f.with_nullable(True) for f in got.schema]
    assert got.cast(pa.schema(nullable, metadata=got.schema.metadata)).equals(want, check_metadata=True)


def test_write_parquet_layout_options_leave_the_values_alone(tmp_path: Path) -> None:
    frame = pd.DataFrame({"k": ["a", "b", "a"], "x": [0.5, float("nan"), 2.25], "n": [1.0, 1.0, 2.0]})
    write_parquet(frame, tmp_path / "t.parquet", plain=("x",), statistics=("k",), compression="snappy")
    chunks = _chunks(tmp_path / "t.parquet")
    assert [chunks[c][0].has_dictionary_page for c in ("k", "x", "n")] == [True, False, True]
    assert [chunks[c][0].is_stats_set for c in ("k", "x", "n")] == [True, False, False]
    assert {chunks[c][0].compression for c in ("k", "x", "n")} == {"SNAPPY"}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), frame)


def test_frames_written_from_an_empty_iterator_refuse_and_publish_nothing(tmp_path: Path) -> None:
    """write_parquet_frames with no frame raised StopIteration inside the atomic write (a confusing error
    from a context manager); it says what is wrong and leaves no file."""

    from anticipate.storage.parquet_frames import write_parquet_frames

    target = tmp_path / "f.parquet"
    with pytest.raises(ValueError, match="no frame to write"):
        write_parquet_frames(iter([]), target)
    assert not target.exists() and not list(tmp_path.iterdir())
