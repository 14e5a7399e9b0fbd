"""The vectorised CSV writer: the bytes of ``DataFrame.to_csv(index=False)``, or a fallback to pandas."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from anticipate.storage.csv_text import write_csv_fast
from anticipate.storage.files import write_csv


def _fast(df: pd.DataFrame, chunk_rows: int = 3) -> bytes | None:
    fh = io.BytesIO()
    return fh.getvalue() if write_csv_fast(df, fh, chunk_rows=chunk_rows) else None


def _mixed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1, -2, 2**62, 0, -(2**63)],
            "f": [0.1, np.nan, -1e-5, 1e16, 1 / 3],
            "g": [np.inf, -np.inf, 123456789.123456789, 5e-324, 1.7976931348623157e308],
            "s": ["x", "", None, "é ü", "  sp "],
            "b": [True, False, True, True, False],
            "c": pd.Categorical(["p", None, "q", "p", "r"]),
            "u": np.array([1, 2, 3, 4, 255], np.uint8),
        }
    )


def test_numbers_and_plain_text_take_the_fast_path_with_pandas_bytes() -> None:
    df = _mixed()
    assert _fast(df) == df.to_csv(index=False).encode()


def test_many_float_magnitudes_and_large_ints_match_pandas() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal(5000) * 10.0 ** rng.integers(-300, 300, 5000)
    df = pd.DataFrame({"x": x, "y": rng.integers(-(10**15), 10**15, 5000), "z": x.astype(str)})
    assert _fast(df, chunk_rows=777) == df.to_csv(index=False).encode()


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"s": ["a,b", "x"], "n": [1, 2]}),
        pd.DataFrame({"s": ['say "hi"', "x"], "n": [1, 2]}),
        pd.DataFrame({"s": ["two\nlines", "x"], "n": [1, 2]}),
        pd.DataFrame({"only": [1, 2]}),
        pd.DataFrame({"n": pd.Series([1, None], dtype="Int64"), "m": [1, 2]}),
        pd.DataFrame({"d": pd.to_datetime(["2020-01-01", "2021-02-03"]), "m": [1, 2]}),
        pd.DataFrame({"o": ["a", 1], "m": [1, 2]}),
        pd.DataFrame({"f": np.array([1.1, 2.5], np.float32), "m": [1, 2]}),
        pd.DataFrame({"a,b": [1, 2], "m": [1, 2]}),
    ],
)
def test_frames_pandas_would_quote_or_format_otherwise_fall_back(df: pd.DataFrame) -> None:
    assert _fast(df) is None


@pytest.mark.parametrize("quoted", [False, True])
def test_write_csv_publishes_pandas_bytes_either_way(tmp_path, quoted: bool) -> None:
    df = _mixed()
    if quoted:
        df["s"] = ["a,b", 'q"', "x", None, "y"]
    path = write_csv(df, tmp_path / "t.csv")
    assert path.read_bytes() == df.to_csv(index=False).encode()
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_a_million_float_rows_in_one_chunk_match_pandas() -> None:
    """Arrow turns ~920k float texts of a NumPy array into a chunked array; the writer crashed on it
    (AttributeError, exit 1) when a CSV output had that many rows of unrounded floats."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"p": rng.lognormal(0, 3, 1_000_000), "k": np.arange(1_000_000)})
    assert _fast(df, chunk_rows=1 << 20) == df.to_csv(index=False).encode()
