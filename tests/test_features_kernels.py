"""The Numba kernels agree with their plain-Python twins on random inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.features import _kernels as kernels
from anticipate.features._collapse import collapse_events, event_buffers
from anticipate.features._gaps import item_gap_sums
from anticipate.features._orders import oldest_in_place, oldest_in_runs
from anticipate.features._runs import run_sums, segment_runs
from anticipate.features._sums import recode, used_codes, window_sums
from anticipate.features.reference import item_gap_sums as reference_gap_sums


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
    assert out.shape == (1, 13) and out[:, kernels.RECENCY].flags.c_contiguous  # column-major: whole columns


@st.composite
def lines(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Random order lines: group code, order code, age (days, with ties), units, spend."""
    n = draw(st.integers(0, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_groups = draw(st.integers(1, 6))
    group = rng.integers(0, n_groups, n)
    order = rng.integers(0, max(1, n // 2), n)
    age = rng.integers(1, 20, n).astype(float) / 2.0
    units = rng.integers(1, 5, n).astype(float)
    spend = np.round(rng.uniform(0, 100, n), 2) * units
    return group.astype(np.int64), n_groups, order.astype(np.int64), age, units, spend


@settings(max_examples=150, deadline=None)
@given(lines())
def test_group_by_codes_is_a_stable_sort_and_equals_plain(data: tuple[np.ndarray, ...]) -> None:
    group, n_groups = data[0], data[1]
    perm, indptr = kernels.group_by_codes(group, n_groups)
    slow_perm, slow_indptr = kernels.group_by_codes(group, n_groups, jit=False)
    np.testing.assert_array_equal(perm, np.argsort(group, kind="stable"))
    np.testing.assert_array_equal(indptr, np.searchsorted(group[perm], np.arange(n_groups + 1)))
    np.testing.assert_array_equal(perm, slow_perm)
    np.testing.assert_array_equal(indptr, slow_indptr)


@settings(max_examples=150, deadline=None)
@given(lines())
def test_sort_segments_orders_each_group_by_key_stably(data: tuple[np.ndarray, ...]) -> None:
    group, n_groups, order = data[0], data[1], data[2]
    perm, indptr = kernels.group_by_codes(group, n_groups)
    kept = perm.copy()
    fast = kernels.sort_segments(indptr, perm, order)
    np.testing.assert_array_equal(perm, kept)  # a copy is sorted
    np.testing.assert_array_equal(fast, np.lexsort((np.arange(len(group)), order, group)))
    np.testing.assert_array_equal(fast, kernels.sort_segments(indptr, perm, order, jit=False))
    for jit in (True, False):
        mine = perm.copy()
        assert kernels.sort_segments(indptr, mine, order, jit=jit, in_place=True) is mine
        np.testing.assert_array_equal(mine, fast)


@settings(max_examples=150, deadline=None)
@given(lines())
def test_collapse_events_equals_pandas_groupby_and_plain(data: tuple[np.ndarray, ...]) -> None:
    group, n_groups, order, age, units, spend = data
    perm, indptr = kernels.group_by_codes(group, n_groups)
    fast = collapse_events(indptr, perm, order, age, units, spend)
    slow = collapse_events(indptr, perm, order, age, units, spend, jit=False)
    for f, s in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(f, s)
    for parts in (1, 3, 7):  # runs of groups collapsed side by side: the same arrays, any number of runs
        for how in (True, False):
            got = collapse_events(indptr, perm, order, age, units, spend, jit=how, parts=parts)
            for f, g in zip(fast, got, strict=True):
                np.testing.assert_array_equal(f, g)
    buffers = event_buffers(len(perm) + 2)  # written from their start, returned as views
    got = collapse_events(indptr, perm, order, age, units, spend, out=buffers)
    for f, g in zip(fast, got, strict=True):
        np.testing.assert_array_equal(f, g)
    assert all(np.shares_memory(g, b) for g, b in zip(got[1:], buffers, strict=True) if len(g))
    wrong = (np.zeros(len(perm), dtype=np.int64), *event_buffers(len(perm))[1:])  # ages must be float64
    with pytest.raises(ValueError, match="contiguous float64 x 3 and int64 buffers"):
        collapse_events(indptr, perm, order, age, units, spend, out=wrong)
    # pandas: one event per (group, order), oldest first, ties by order code
    frame = pd.DataFrame(
        {"g": group, "o": order, "age": age, "u": units, "s": spend, "row": np.arange(len(age))}
    )
    ev = frame.groupby(["g", "o"]).agg(age=("age", "max"), u=("u", "sum"), s=("s", "sum"), row=("row", "min"))
    ev = ev.reset_index().sort_values(["g", "age", "o"], ascending=[True, False, True], kind="stable")
    ev_indptr, ev_age, ev_units, ev_spend, ev_row = fast
    np.testing.assert_array_equal(ev_indptr, np.searchsorted(ev["g"].to_numpy(), np.arange(n_groups + 1)))
    np.testing.assert_array_equal(ev_age, ev["age"].to_numpy())
    np.testing.assert_array_equal(ev_units, ev["u"].to_numpy())
    np.testing.assert_allclose(ev_spend, ev["s"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ev_row, ev["row"].to_numpy())


def test_collapse_events_sums_spend_with_kahan_compensation() -> None:
    # 0.1 + 0.2 + 0.3 added naively is 0.6000000000000001; compensated it is 0.6
    spend = np.array([0.1, 0.2, 0.3])
    one = np.zeros(3, dtype=np.int64)
    _, _, _, total, _ = collapse_events(
        np.array([0, 3]), np.arange(3), one, np.ones(3), np.ones(3), spend
    )
    assert total[0] == 0.6


@settings(max_examples=150, deadline=None)
@given(lines())
def test_most_recent_takes_the_most_units_at_the_youngest_age_then_the_smallest_code(
    data: tuple[np.ndarray, ...],
) -> None:
    group, n_groups, _, age, units = data[0], data[1], data[2], data[3], data[4]
    codes = np.arange(len(age), dtype=np.int64) % 3
    perm, indptr = kernels.group_by_codes(group, n_groups)
    fast = kernels.most_recent(indptr, perm, age, units, codes)
    np.testing.assert_array_equal(fast, kernels.most_recent(indptr, perm, age, units, codes, jit=False))
    for jit in (True, False):  # rows gathered by group, their codes read where they were
        where = kernels.most_recent(indptr, np.arange(len(age)), age[perm], units[perm], codes,
                                    code_rows=perm, jit=jit)
        np.testing.assert_array_equal(where, fast)
    shuffled = np.random.default_rng(0).permutation(len(age))
    perm2, indptr2 = kernels.group_by_codes(group[shuffled], n_groups)
    again = kernels.most_recent(indptr2, perm2, age[shuffled], units[shuffled], codes[shuffled])
    np.testing.assert_array_equal(fast, again)  # the same rows in another order: the same codes
    for g in range(n_groups):
        rows = np.flatnonzero(group == g)
        if not len(rows):
            assert fast[g] == -1
            continue
        last = rows[age[rows] == age[rows].min()]
        totals = {c: units[last][codes[last] == c].sum() for c in np.unique(codes[last])}
        top = max(totals.values())
        assert fast[g] == min(c for c, t in totals.items() if t == top)


def _runs(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain NumPy: each row's run number and the runs' first rows (runs of equal ``keys``)."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[:1] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.cumsum(change) - 1, np.flatnonzero(change)


def _runs_of_lengths(rng: np.random.Generator, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """Lines in runs of the given lengths: customer and order codes (each run its own pair), units
    and spend of mixed magnitudes and signs (where the order of the additions shows in the bits)."""
    n = int(lengths.sum())
    run_of = np.repeat(np.arange(len(lengths)), lengths)
    cust = (run_of // 3).astype(np.int32)  # three runs (orders) per customer
    order = run_of.astype(np.int64)
    units = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 12, n)
    spend = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 12, n)
    units[rng.random(n) < 0.05] = -0.0
    return cust, order, units, spend


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_run_sums_equal_reduceat_over_the_runs_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.choice([1, 2, 3, 7, 8, 9, 16, 127, 128, 129, 300, 1100, 2049], size=60)
    cust, order, units, spend = _runs_of_lengths(rng, lengths)
    run, starts = _runs(cust, order)
    rows = rng.permutation(starts)  # the events in any order, each at its run's first line
    want_units = np.add.reduceat(units, starts)[run[rows]]
    want_spend = np.add.reduceat(spend, starts)[run[rows]]
    for jit, parts in ((True, None), (False, None), (True, 1), (True, 5), (False, 3)):
        out = (np.full(len(rows), np.nan), np.full(len(rows), np.nan))
        assert run_sums((cust, order), rows, units, spend, out, jit=jit, parts=parts)
        np.testing.assert_array_equal(out[0].view(np.int64), want_units.view(np.int64))
        np.testing.assert_array_equal(out[1].view(np.int64), want_spend.view(np.int64))
    item = np.zeros(len(cust), dtype=np.int32)  # a third key that splits nothing: the same sums
    out = (np.zeros(len(rows)), np.zeros(len(rows)))
    assert run_sums((cust, item, order), rows, units, spend, out)
    np.testing.assert_array_equal(out[0].view(np.int64), want_units.view(np.int64))


def test_run_sums_leave_the_events_alone_when_an_order_is_split_in_two_runs() -> None:
    cust = np.array([0, 0, 0, 1], dtype=np.int32)
    order = np.array([5, 6, 5, 7], dtype=np.int64)  # customer 0's order 5 comes back after order 6
    rows = np.array([0, 1, 3])  # three events, four runs
    units, spend = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 40.0])
    for jit in (True, False):
        out = (np.full(3, -1.0), np.full(3, -1.0))
        assert not run_sums((cust, order), rows, units, spend, out, jit=jit)
        np.testing.assert_array_equal(out[0], [-1.0, -1.0, -1.0])
    with pytest.raises(ValueError, match="contiguous float64"):
        run_sums((cust, order), rows, units, spend, (np.zeros(3), np.zeros(6)[::2]))


@settings(max_examples=150, deadline=None)
@given(lines())
def test_segment_runs_split_each_group_into_runs_of_equal_keys(data: tuple[np.ndarray, ...]) -> None:
    group, n_groups, key = data[0], data[1], data[2]
    perm, indptr = kernels.group_by_codes(group, n_groups)
    starts, owner = segment_runs(indptr, perm, key)
    slow_starts, slow_owner = segment_runs(indptr, perm, key, jit=False)
    np.testing.assert_array_equal(starts, slow_starts)
    np.testing.assert_array_equal(owner, slow_owner)
    _, whole_starts = _runs(group[perm], key[perm])  # the same runs over the gathered rows
    np.testing.assert_array_equal(starts, whole_starts)
    np.testing.assert_array_equal(owner, group[perm][whole_starts])


@settings(max_examples=60, deadline=None)
@given(lines())
def test_kernels_take_int32_codes_as_they_are_and_agree_with_int64(data: tuple[np.ndarray, ...]) -> None:
    group, n_groups, order, age, units, spend = data
    g32, o32 = group.astype(np.int32), order.astype(np.int32)
    assert kernels.codes_array(g32) is g32  # no copy to int64
    perm, indptr = kernels.group_by_codes(group, n_groups)
    for got, want in zip(kernels.group_by_codes(g32, n_groups), (perm, indptr), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(kernels.sort_segments(indptr, perm, o32),
                                  kernels.sort_segments(indptr, perm, order))
    for got, want in zip(collapse_events(indptr, perm, o32, age, units, spend),
                         collapse_events(indptr, perm, order, age, units, spend), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(kernels.most_recent(indptr, perm, age, units, o32),
                                  kernels.most_recent(indptr, perm, age, units, order))
    for got, want in zip(segment_runs(indptr, perm, o32), segment_runs(indptr, perm, order), strict=True):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=150, deadline=None)
@given(lines())
def test_oldest_in_place_gives_every_line_its_orders_oldest_age(data: tuple[np.ndarray, ...]) -> None:
    group, _, order, age = data[0], data[1], data[2], data[3]
    n = int(order.max(initial=-1)) + 1
    owner = np.full(n, -1)
    owner[order] = group
    shared = not (owner[order] == group).all()
    fast, slow = age.copy(), age.copy()
    assert oldest_in_place(order.astype(np.int32), group, fast, n) is (not shared)
    assert oldest_in_place(order, group, slow, n, jit=False) is (not shared)
    np.testing.assert_array_equal(fast, slow)
    if shared:
        np.testing.assert_array_equal(fast, age)  # untouched
        return
    oldest = np.full(n, -np.inf)
    np.maximum.at(oldest, order, age)
    np.testing.assert_array_equal(fast, oldest[order])


@settings(max_examples=150, deadline=None)
@given(lines(), st.sampled_from(["any", "sorted", "runs"]))
def test_oldest_in_runs_equals_oldest_in_place_when_the_codes_are_runs(
    data: tuple[np.ndarray, ...], kind: str
) -> None:
    group, order, age = data[0], data[2], data[3]
    if kind != "any":  # codes that never decrease (ids issued in sequence)
        at = np.argsort(order, kind="stable")
        group, order, age = group[at], order[at], age[at]
    if kind == "runs":  # and each order one customer's
        owner = np.zeros(int(order.max(initial=-1)) + 1, dtype=np.int64)
        owner[order] = group
        group = owner[order]
    n = int(order.max(initial=-1)) + 1
    runs = bool((np.diff(order) >= 0).all()) and bool((group[1:] == group[:-1])[np.diff(order) == 0].all())
    assert runs or kind != "runs"
    fast, slow, want = age.copy(), age.copy(), age.copy()
    assert oldest_in_runs(order.astype(np.int32), group, fast) is runs
    assert oldest_in_runs(order, group, slow, jit=False) is runs
    np.testing.assert_array_equal(fast, slow)
    if runs:
        assert oldest_in_place(order, group, want, n)
    np.testing.assert_array_equal(fast, want)  # untouched when not in runs


@settings(max_examples=150, deadline=None)
@given(lines())
def test_window_sums_equal_bincount_of_each_window_and_plain(data: tuple[np.ndarray, ...]) -> None:
    group, n_groups, _, age, _, spend = data
    group32 = group.astype(np.int32)  # the history's codes
    lo = np.array([-np.inf, -np.inf, 2.0, 4.5])
    hi = np.array([3.0, 9.5, 4.5, 9.0])
    fast = window_sums(group32, age, spend, lo, hi, n_groups)
    np.testing.assert_array_equal(fast, window_sums(group, age, spend, lo, hi, n_groups, jit=False))
    for k in range(len(lo)):
        inside = (age > lo[k]) & (age <= hi[k])
        want = np.bincount(group[inside], weights=spend[inside], minlength=n_groups)
        np.testing.assert_array_equal(fast[:, k], want)  # the same additions in the same order: equal bits


@settings(max_examples=150, deadline=None)
@given(grouped(), st.integers(0, 2**32 - 1))
def test_sequence_stats_of_some_groups_are_their_rows_of_all(data: tuple[np.ndarray, ...], seed: int) -> None:
    indptr, age, units, spend = data
    windows = np.array([7.0, 30.0])
    every = kernels.sequence_stats(indptr, age, units, spend, windows)
    some = np.flatnonzero(np.random.default_rng(seed).random(len(indptr) - 1) < 0.5)
    for jit in (True, False):
        got = kernels.sequence_stats(indptr, age, units, spend, windows, groups=some, jit=jit)
        np.testing.assert_array_equal(got, every[some])


@settings(max_examples=150, deadline=None)
@given(grouped(), st.integers(0, 2**32 - 1))
def test_item_gap_sums_kernel_equals_the_sums_over_the_statistics(
    data: tuple[np.ndarray, ...], seed: int
) -> None:
    indptr, age, units, spend = data
    n_items = 3
    item = np.random.default_rng(seed).integers(0, n_items, len(indptr) - 1).astype(np.int32)
    stats = kernels.sequence_stats(indptr, age, units, spend, np.array([7.0]))
    n, mean, std = (stats[:, c] for c in (kernels.N_EVENTS, kernels.GAP_MEAN, kernels.GAP_STD))
    want = reference_gap_sums(item, n, mean, std, n_items)
    np.testing.assert_array_equal(item_gap_sums(indptr, age, item, n_items), want)  # the same bits
    np.testing.assert_array_equal(item_gap_sums(indptr, age, item, n_items, jit=False), want)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([np.int8, np.int16, np.int32, np.int64]))
def test_used_codes_and_recode_of_any_integer_codes(seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    n_codes = int(rng.integers(1, 40))
    codes = rng.integers(-1, n_codes, int(rng.integers(0, 80))).astype(dtype)
    for jit in (True, False):
        used, null = used_codes(codes, n_codes, jit=jit)
        np.testing.assert_array_equal(used, np.isin(np.arange(n_codes), codes))
        assert null == bool((codes < 0).any())
    valid = codes[codes >= 0]
    rank = rng.permutation(n_codes).astype(np.int32)
    for jit in (True, False):
        got = recode(valid, rank, jit=jit)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, rank[valid.astype(np.int64)])


