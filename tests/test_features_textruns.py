"""The order-id runs kernel: codes of never-decreasing strings, read straight from the Arrow buffers."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.features._textruns import text_runs

WORDS = st.text(alphabet=st.sampled_from(["a", "b", "O", "0", "9", "é", "ü", "€", "😀", "\x00"]), max_size=10)


def _expected(values: list[str]) -> np.ndarray | None:
    """The runs' numbers when the strings never decrease (in code point order), else None."""
    if any(b < a for a, b in pairwise(values)):
        return None
    return pd.factorize(pd.Series(values, dtype=object), sort=False)[0].astype(np.int32)


@settings(max_examples=200, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=40), st.booleans(), st.lists(st.integers(0, 40), max_size=4),
       st.booleans(), st.integers(0, 3))
def test_text_runs_number_the_runs_of_sorted_strings_and_refuse_unsorted(
    values: list[str], sort: bool, cuts: list[int], large: bool, skip: int
) -> None:
    values = sorted(values) if sort else values
    kind = pa.large_string() if large else pa.string()
    padded = pa.array(["zz"] * skip + values, type=kind).slice(skip)  # a sliced array: offsets not from 0
    edges = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    chunked = pa.chunked_array([padded.slice(a, b - a) for a, b in pairwise(edges)]
                               or [padded], type=kind)
    want = _expected(values)
    for column in (padded, chunked):
        fast, slow = text_runs(column), text_runs(column, jit=False)
        if want is None:
            assert fast is None and slow is None
        else:
            np.testing.assert_array_equal(fast, want)
            np.testing.assert_array_equal(slow, want)


def test_text_runs_of_order_ids_issued_in_sequence() -> None:
    ids = pa.chunked_array([["O0000001", "O0000001", "O0000002"], [], ["O0000002", "O0000010", "O00000100"]])
    assert text_runs(ids).tolist() == [0, 0, 1, 1, 2, 3]
    assert text_runs(pa.chunked_array([["O0000002"], ["O0000001"]])) is None  # decreasing across chunks
    assert text_runs(pa.array(["b", "ab"])) is None  # byte order, not length first
    assert text_runs(pa.array(["a", "b"], type=pa.string_view())) is None  # no offsets: left to hashing
