"""The Numba kernels agree with their plain-Python twins on random inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.features import _kernels as kernels


@st.composite
def grouped(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    sizes = draw(st.lists(st.integers(0, 6), min_size=1, max_size=8))
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    age = (
        np.concatenate([np.sort(rng.uniform(0.01, 500, s))[::-1] for s in sizes])
        if sum(sizes)
        else np.zeros(0)
    )
    units = rng.integers(1, 5, len(age)).astype(float)
    spend = rng.uniform(0, 100, len(age))
    return indptr, age, units, spend


@settings(max_examples=150, deadline=None)
@given(grouped())
def test_sequence_stats_jit_equals_plain(data: tuple[np.ndarray, ...]) -> None:
    indptr, age, units, spend = data
    windows = np.array([7.0, 30.0, 365.0])
    fast = kernels.sequence_stats(indptr, age, units, spend, windows)
    slow = kernels.sequence_stats(indptr, age, units, spend, windows, jit=False)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(grouped())
def test_last_value_jit_equals_plain(data: tuple[np.ndarray, ...]) -> None:
    indptr = data[0]
    codes = np.arange(indptr[-1], dtype=np.int64) * 3
    fast, slow = kernels.last_value(indptr, codes), kernels.last_value(indptr, codes, jit=False)
    np.testing.assert_array_equal(fast, slow)


def test_sequence_stats_hand_example() -> None:
    # one group: orders 10, 6 and 1 days before the cutoff (gaps 4 and 5)
    indptr = np.array([0, 3])
    age = np.array([10.0, 6.0, 1.0])
    units, spend = np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0])
    out = kernels.sequence_stats(indptr, age, units, spend, np.array([7.0]))
    recency, tenure, n, spend, gap_mean, gap_std, gap_last, rog, x, t_x, big_t, n7, u7 = out[0]
    assert (recency, tenure, n, spend) == (1.0, 10.0, 3.0, 15.0)
    assert gap_mean == 4.5 and gap_last == 5.0
    assert abs(gap_std - np.std([4.0, 5.0], ddof=1)) < 1e-12
    assert abs(rog - 1.0 / 4.5) < 1e-12
    assert (x, t_x, big_t) == (2.0, 9.0, 10.0)
    assert (n7, u7) == (2.0, 5.0)
