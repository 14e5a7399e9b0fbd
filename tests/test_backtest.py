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
