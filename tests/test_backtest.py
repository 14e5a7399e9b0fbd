"""The replay against hand-built worlds whose right answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate._replay_kernels import replay_lines
from anticipate.backtest import Economics, naive_demand, replay, value_captured

ECON = Economics(
    g=pd.Series({"a": 5.0, "b": 3.0}),
    h=pd.Series({"a": 1.0, "b": 0.5}),
    move_cost=pd.Series({"W1": 0.2, "W2": 0.4}),
)


def _lines(rows: list[tuple[str, str, int, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_ts": pd.date_range("2025-01-01", periods=len(rows), freq="h"),
            "customer_id": [f"c{i}" for i in range(len(rows))],
            "sku": [r[1] for r in rows],
            "quantity": np.array([r[2] for r in rows], dtype=np.int64),
            "region": [r[0] for r in rows],
            "warehouse_id": [r[3] for r in rows],
        }
    )


LINES = _lines([("r1", "a", 2, "W1"), ("r1", "b", 1, "W1"), ("r2", "a", 3, "W2"), ("r3", "a", 1, None)])


def _plan(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "warehouse_id": [r[0] for r in rows],
            "sku": [r[1] for r in rows],
            "units": np.array([r[2] for r in rows], dtype=np.int64),
        }
    )


def test_plan_equal_to_actual_demand_captures_exactly_the_oracle_value() -> None:
    exact = _plan([("W1", "a", 2), ("W1", "b", 1), ("W2", "a", 3)])
    result = replay(LINES, exact, ECON)
    expected = (5 * 2 - 0.2 * 2) + (3 * 1 - 0.2 * 1) + (5 * 3 - 0.4 * 3)
    assert result.value == pytest.approx(expected)
    assert value_captured(result.value, expected) == pytest.approx(1.0)
    assert result.local_units == 6 and result.total_units == 7 and result.units_unsold == 0


def test_zero_plan_scores_zero() -> None:
    result = replay(LINES, _plan([]), ECON)
    assert result.value == 0.0 and result.local_units == 0 and result.fill_rate_local == 0.0


def test_plan_in_the_wrong_warehouse_loses_exactly_its_move_and_unsold_costs() -> None:
    wrong = _plan([("W2", "b", 4)])  # b is only ordered near W1
    assert replay(LINES, wrong, ECON).value == pytest.approx(-(0.4 + 0.5) * 4)


def test_lines_served_in_time_order_and_never_more_than_the_plan_holds() -> None:
    lines = _lines([("r1", "a", 2, "W1"), ("r1", "a", 2, "W1"), ("r1", "a", 2, "W1")])
    shuffled = lines.iloc[[2, 0, 1]]  # replay sorts by time itself
    local, left = replay_lines(
        np.zeros(3, dtype=np.int64),
        np.zeros(3, dtype=np.int64),
        lines["quantity"].to_numpy(),
        np.array([[3]]),
    )
    assert local.tolist() == [2, 1, 0] and left.tolist() == [[0]]  # the first line first, partly the second
    result = replay(shuffled, _plan([("W1", "a", 3)]), ECON)
    assert result.local_units == 3 and result.units_unsold == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-1, 2), st.integers(0, 3), st.integers(1, 5)), max_size=40),
    st.integers(0, 10_000),
)
def test_replay_kernel_equals_plain_twin(rows: list[tuple[int, int, int]], seed: int) -> None:
    stock = np.random.default_rng(seed).integers(0, 6, (3, 4))
    w = np.array([r[0] for r in rows], dtype=np.int64)
    s = np.array([r[1] for r in rows], dtype=np.int64)
    q = np.array([r[2] for r in rows], dtype=np.int64)
    fast = replay_lines(w, s, q, stock)
    slow = replay_lines(w, s, q, stock, jit=False)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    assert (fast[1] >= 0).all() and fast[0].sum() == stock.sum() - fast[1].sum()


def test_naive_demand_averages_the_last_windows() -> None:
    history = _lines([("r1", "a", 4, "W1"), ("r1", "a", 4, "W1")])
    history["order_ts"] = pd.to_datetime(["2025-01-01", "2025-01-20"])
    out = naive_demand(history, pd.Timestamp("2025-01-29"), horizon_days=7, windows=4)
    assert out.to_dict("records") == [{"warehouse_id": "W1", "sku": "a", "mu": 2.0, "var": 2.0}]


def test_demo_ends_with_the_headline_from_the_backtest_summary(tmp_path) -> None:
    from anticipate.demo import headline

    path = tmp_path / "summary.json"
    path.write_text('{"overall": {"value_captured": 0.6543, "naive.value_captured": 0.6012}}')
    assert headline(path) == (
        "pre-positioning captured 65% of the value that perfect foresight would have "
        "(the naive last-4-weeks plan: 60%)"
    )


def test_cutoff_lists_are_sorted_deduplicated_and_warned() -> None:
    from anticipate.pipelines.backtest import parse_cutoffs

    got, warnings = parse_cutoffs("2025-12-08,2025-12-01,2025-12-08", None, None, "7d")
    assert [c.strftime("%Y-%m-%d") for c in got] == ["2025-12-01", "2025-12-08"]
    assert warnings == ["1 duplicate cutoff(s) ignored"]
    got, warnings = parse_cutoffs(None, "2025-10-01", "2025-10-29", "14d")
    assert [c.strftime("%Y-%m-%d") for c in got] == ["2025-10-01", "2025-10-15", "2025-10-29"]
    assert warnings == []


@pytest.mark.parametrize(
    ("cutoffs", "start", "end", "every", "message"),
    [
        (None, "2025-10-01", "2025-10-29", "weekly", "--every must be a number of days"),
        (None, "2025-10-01", "2025-10-29", "0d", "--every must be a number of days"),
        (None, "2025-10-29", "2025-10-01", "7d", "is before --from"),
        (None, None, None, "7d", "give --cutoffs"),
    ],
)
def test_bad_cutoff_options_are_usage_errors(
    cutoffs: str | None, start: str | None, end: str | None, every: str, message: str
) -> None:
    from anticipate.errors import UsageError
    from anticipate.pipelines.backtest import parse_cutoffs

    with pytest.raises(UsageError, match=message):
        parse_cutoffs(cutoffs, start, end, every)


def test_overlapping_horizons_warn_and_past_the_data_names_the_last_valid_cutoff() -> None:
    from types import SimpleNamespace

    from anticipate.errors import CutoffError
    from anticipate.pipelines.backtest import check_cutoffs

    ts = pd.Series(pd.date_range("2025-01-01", "2025-03-31 12:00", freq="D"))
    ds = SimpleNamespace(orders=pd.DataFrame({"order_ts": ts}))
    days = [pd.Timestamp(d) for d in ("2025-03-01", "2025-03-04")]
    assert check_cutoffs(days, ds, 7) == ["some cutoffs are less than 7 days apart: their horizons overlap"]
    assert check_cutoffs(days[:1], ds, 7) == []
    with pytest.raises(CutoffError, match="2025-03-25 \\(the last valid cutoff\\)"):
        check_cutoffs([pd.Timestamp("2025-03-30")], ds, 7)


def test_printed_report_has_a_row_per_cutoff_the_mean_and_the_headline() -> None:
    from anticipate.pipelines.backtest import _text

    per_cutoff = {
        "2025-12-01": {"value_captured": 0.7, "naive.value_captured": 0.6, "bias": -0.02},
        "2025-12-08": {"value_captured": 0.8, "naive.value_captured": 0.6, "bias": 0.04},
    }
    overall = {"value_captured": 0.75, "naive.value_captured": 0.6, "bias": 0.01}
    text = _text(per_cutoff, overall).splitlines()
    assert text[1].split() == ["captured", "naive", "bias"]
    assert text[3].split() == ["2025-12-01", "0.700", "0.600", "-0.020"]
    assert text[5].split() == ["mean", "0.750", "0.600", "0.010"]
    assert text[-1] == "pre-positioning captured 75.0% of the value that perfect foresight would have"
