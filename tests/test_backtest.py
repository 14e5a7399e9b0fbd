"""The replay against hand-built worlds whose right answers are known by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.backtest import Economics, naive_demand, replay, value_captured
from anticipate.backtest._kernels import replay_lines

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
    from anticipate.backtest.cutoffs import parse_cutoffs

    got, warnings = parse_cutoffs("2025-12-08,2025-12-01,2025-12-08", None, None, None)
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
        ("2025-12-24", "2025-10-01", "2025-12-24", "7d",
         "not both: --cutoffs 2025-12-24 was given with --from 2025-10-01 --to 2025-12-24 --every 7d"),
        ("2025-12-24", None, None, "14d", "not both: --cutoffs 2025-12-24 was given with --every 14d;"),
        ("2025-12-24", "2025-10-01", None, None, "not both: .* with --from 2025-10-01;"),
    ],
)
def test_bad_cutoff_options_are_usage_errors(
    cutoffs: str | None, start: str | None, end: str | None, every: str, message: str
) -> None:
    from anticipate.backtest.cutoffs import parse_cutoffs
    from anticipate.errors import UsageError

    with pytest.raises(UsageError, match=message):
        parse_cutoffs(cutoffs, start, end, every)


def test_cutoffs_with_a_range_exit_2_before_anything_runs(tmp_path) -> None:
    """audit33B B3: ``--cutoffs D --from A --to B --every 7d`` backtested D alone and said nothing of the
    range; both forms at once are refused (one paragraph, exit 2) before the data is read or out/ made."""
    from tests.conftest import ROOT, run_cli

    store = f"sqlite:///{tmp_path / 'm.db'}"
    done = run_cli("--data", str(ROOT / "data" / "sample"), "--tracking-uri", store, "backtest",
                   "--cutoffs", "2025-12-24", "--from", "2025-10-01", "--to", "2025-12-24", "--every", "7d",
                   "--out", str(tmp_path / "bt"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "give --cutoffs or --from/--to/--every, not both" in " ".join(done.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_overlapping_horizons_warn_and_past_the_data_names_the_last_valid_cutoff() -> None:
    from types import SimpleNamespace

    from anticipate.backtest.cutoffs import check_cutoffs
    from anticipate.errors import CutoffError

    ts = pd.Series(pd.date_range("2025-01-01", "2025-03-31 12:00", freq="D"))
    ds = SimpleNamespace(orders=pd.DataFrame({"order_ts": ts}))
    days = [pd.Timestamp(d) for d in ("2025-03-01", "2025-03-04")]
    assert check_cutoffs(days, ds, 7) == ["some cutoffs are less than 7 days apart: their horizons overlap"]
    assert check_cutoffs(days[:1], ds, 7) == []
    with pytest.raises(CutoffError, match="2025-03-25 \\(the last valid cutoff\\)"):
        check_cutoffs([pd.Timestamp("2025-03-30")], ds, 7)


def test_printed_report_has_a_row_per_cutoff_the_mean_and_the_headline() -> None:
    from anticipate.backtest.report import text

    per_cutoff = {
        "2025-12-01": {"value_captured": 0.7, "naive.value_captured": 0.6, "bias": -0.02},
        "2025-12-08": {"value_captured": 0.8, "naive.value_captured": 0.6, "bias": 0.04},
    }
    overall = {"value_captured": 0.75, "naive.value_captured": 0.6, "bias": 0.01}
    lines = text(per_cutoff, overall).splitlines()
    assert lines[1].split() == ["captured", "naive", "bias"]
    assert lines[3].split() == ["2025-12-01", "0.700", "0.600", "-0.020"]
    assert lines[5].split() == ["mean", "0.750", "0.600", "0.010"]
    assert lines[-1] == "pre-positioning captured 75.0% of the value that perfect foresight would have"


# --------------------------------------------------------------------------- the per-cutoff step
CUTOFF = pd.Timestamp("2025-01-01")


def _demand(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "warehouse_id": [r[0] for r in rows],
            "sku": [r[1] for r in rows],
            "mu": [float(r[2]) for r in rows],
            "var": [float(r[2]) for r in rows],
        }
    )


def _round_solver(calls: list[tuple[float, bool]]):
    """A stand-in allocator: the plan holds round(mu) units of every cell; records (total mu, known)."""

    def solve(demand: pd.DataFrame, *, known: bool = False) -> pd.DataFrame:
        calls.append((float(demand["mu"].sum()), known))
        units = np.round(demand["mu"].to_numpy(float)).astype(np.int64)
        return pd.DataFrame({"warehouse_id": demand["warehouse_id"], "sku": demand["sku"], "units": units})

    return solve


def test_step_scores_each_plan_against_perfect_foresight_by_hand() -> None:
    from anticipate.backtest.step import evaluate_cutoff

    # LINES: W1 orders 2 a then 1 b, W2 orders 3 a, the centre serves 1 a; oracle = actual units
    demands = {"model": _demand([("W1", "a", 3), ("W2", "a", 1)]), "naive": _demand([("W1", "b", 1)])}
    calls: list[tuple[float, bool]] = []
    out = evaluate_cutoff(
        CUTOFF,
        LINES,
        demands,
        _round_solver(calls),
        ECON,
        km_saved=pd.Series({"r1": 10.0, "r2": 20.0}),
        pair_metrics={"auc": 0.9},
    )
    assert calls == [(4.0, False), (1.0, False), (6.0, True)]  # model, naive, then the oracle on 6 units
    rows = {row["plan"]: row for row in out.rows}
    assert list(rows) == ["model", "naive", "oracle", "zero"]
    v_oracle = (5 * 2 - 0.2 * 2) + (3 * 1 - 0.2 * 1) + (5 * 3 - 0.4 * 3)  # 26.2
    # model: W1 serves 2 a (1 a left unsold), W2 serves 1 of 3 a; moved 3 to W1 and 1 to W2
    v_model = 5 * 3 - (0.2 * 3 + 0.4 * 1) - 1.0 * 1  # 13.0
    v_naive = 3 * 1 - 0.2 * 1  # the b line served at W1
    assert rows["oracle"]["value"] == pytest.approx(v_oracle)
    assert rows["model"]["value"] == pytest.approx(v_model)
    assert rows["model"]["value_captured"] == pytest.approx(v_model / v_oracle)
    assert rows["naive"]["value_captured"] == pytest.approx(v_naive / v_oracle)
    assert rows["oracle"]["value_captured"] == pytest.approx(1.0)
    assert rows["zero"]["value"] == 0.0 and rows["zero"]["value_captured"] == 0.0
    model = rows["model"]
    counts = [model[k] for k in ("local_units", "total_units", "units_moved", "units_unsold")]
    assert counts == [3, 7, 4, 1]
    assert model["fill_rate_local"] == pytest.approx(3 / 7)
    assert model["km_saved"] == pytest.approx(10.0 * 2 + 20.0 * 1)
    # forecast metrics over the cells forecast or ordered: W1 a (3 vs 2), W2 a (1 vs 3), W1 b (0 vs 1)
    assert model["bias"] == pytest.approx((4 - 6) / 6) and model["wape"] == pytest.approx((1 + 2 + 1) / 6)
    assert rows["naive"]["bias"] == pytest.approx((1 - 6) / 6)
    assert rows["naive"]["wape"] == pytest.approx((2 + 3 + 0) / 6)
    assert np.isnan(rows["oracle"]["wape"]) and np.isnan(rows["zero"]["bias"])


def test_step_metrics_are_the_models_unprefixed_and_the_references_prefixed() -> None:
    from anticipate.backtest.step import evaluate_cutoff
    from anticipate.metrics import forecast_metrics

    demands = {"model": _demand([("W1", "a", 3), ("W2", "a", 1)]), "naive": _demand([("W1", "b", 1)])}
    out = evaluate_cutoff(CUTOFF, LINES, demands, _round_solver([]), ECON, pair_metrics={"auc": 0.9})
    m = out.metrics
    hand = forecast_metrics(np.array([3.0, 1.0, 0.0]), np.array([3.0, 1.0, 0.0]), np.array([2.0, 3.0, 1.0]))
    assert m["auc"] == 0.9
    assert m["coverage_80"] == pytest.approx(hand["coverage_80"])
    assert m["wape"] == pytest.approx(4 / 6) and m["naive.wape"] == pytest.approx(5 / 6)
    assert m["value_captured"] == pytest.approx(13.0 / 26.2)
    assert m["naive.value_captured"] == pytest.approx(2.8 / 26.2)
    counts = [m[k] for k in ("units_moved", "units_unsold", "naive.units_moved", "naive.units_unsold")]
    assert counts == [4, 1, 1, 0]
    assert m["km_saved"] == 0.0  # no km saved given
    assert not any(k.startswith(("oracle.", "zero.", "truth.")) for k in m)
    cells = out.cells.sort_values(["warehouse_id", "sku"]).reset_index(drop=True)
    assert cells[["warehouse_id", "sku", "mu", "units"]].values.tolist() == [
        ["W1", "a", 3.0, 2.0],
        ["W1", "b", 0.0, 1.0],
        ["W2", "a", 1.0, 3.0],
    ]
    assert set(out.cells["cutoff"]) == {"2025-01-01"}
    by_wh = out.by_warehouse.set_index("warehouse_id")
    assert by_wh.loc["W1", "local_units"] == 2 and by_wh.loc["W1", "demand_units"] == 3
    assert by_wh.loc["W2", "fill_rate_local"] == pytest.approx(1 / 3)


def _tiny_world(value_local: bool) -> SimpleNamespace:
    products = pd.DataFrame({"sku": ["a", "b"], "unit_volume": [1.0, 1.0]})
    if value_local:
        products = products.assign(value_local=[5.0, 3.0], cost_unsold=[1.0, 0.5])
    return SimpleNamespace(
        warehouses=pd.DataFrame({"warehouse_id": ["W1", "W2"], "capacity": [100.0, 100.0]}),
        products=products,
        supply=pd.DataFrame({"sku": ["a", "b"], "units": [50, 50]}),
    )


def test_economics_are_the_allocators_g_and_h_with_the_config_defaults() -> None:
    mc = pd.DataFrame({"warehouse_id": ["W1", "W2"], "move_cost": [0.2, 0.4]})
    econ = Economics.from_tables(_tiny_world(True).products, mc, default_g=4.0, default_h=0.25)
    assert econ.g.to_dict() == {"a": 5.0, "b": 3.0} and econ.h.to_dict() == {"a": 1.0, "b": 0.5}
    assert econ.move_cost.to_dict() == {"W1": 0.2, "W2": 0.4}
    econ = Economics.from_tables(_tiny_world(False).products, mc, default_g=4.0, default_h=0.25)
    assert econ.g.to_dict() == {"a": 4.0, "b": 4.0} and econ.h.to_dict() == {"a": 0.25, "b": 0.25}


def test_perfect_foresight_with_room_to_spare_plans_exactly_the_units_ordered() -> None:
    from anticipate.backtest.reference import Planner
    from anticipate.backtest.step import evaluate_cutoff

    mc = pd.DataFrame({"warehouse_id": ["W1", "W2"], "move_cost": [0.2, 0.4]})
    world = _tiny_world(True)
    cfg = SimpleNamespace(
        economics=SimpleNamespace(value_local=4.0, cost_unsold=0.5),
        allocate=SimpleNamespace(lp_bound_max_cells=20_000, polish_max_units=50_000, gap_tolerance=1e-4),
    )
    planner = Planner.from_config(world, cfg, mc)
    plan = planner(_demand([("W1", "a", 2), ("W1", "b", 1), ("W2", "a", 3)]).drop(columns="var"), known=True)
    assert sorted(map(tuple, plan[["warehouse_id", "sku", "units"]].values.tolist())) == [
        ("W1", "a", 2),
        ("W1", "b", 1),
        ("W2", "a", 3),
    ]
    econ = Economics.from_tables(world.products, mc, default_g=4.0, default_h=0.5)
    out = evaluate_cutoff(CUTOFF, LINES, {"model": _demand([("W1", "a", 2)])}, planner, econ)
    oracle = next(r for r in out.rows if r["plan"] == "oracle")
    assert oracle["value"] == pytest.approx(26.2) and oracle["units_unsold"] == 0


def test_naive_reference_places_history_at_the_customers_warehouse() -> None:
    from anticipate.backtest.reference import naive_reference

    orders = pd.DataFrame(
        {
            "order_ts": pd.to_datetime(["2025-01-02", "2025-01-20", "2025-01-25", "2025-01-30"]),
            "customer_id": ["c1", "c1", "c2", "c1"],
            "sku": ["a", "a", "b", "a"],
            "quantity": np.array([4, 4, 2, 9], dtype=np.int64),
            "region": ["r1", "r1", "r3", "r1"],
        }
    )
    region_map = pd.DataFrame({"region": ["r1", "r3"], "warehouse_id": ["W1", None]})
    cutoff = pd.Timestamp("2025-01-29")
    out = naive_reference(orders, cutoff, horizon_days=7, windows=4, region_map=region_map)
    # both c1 lines fall in the 28 days before the cutoff (8 units / 4 windows); c2 is served
    # by the centre; the last line is after the cutoff
    assert out.to_dict("records") == [{"warehouse_id": "W1", "sku": "a", "mu": 2.0, "var": 2.0}]


def test_planner_refuses_reference_tables_the_allocator_cannot_plan_on_before_any_cutoff() -> None:
    from anticipate.backtest.reference import Planner
    from anticipate.errors import DataError

    world = _tiny_world(True)
    world.products = world.products.assign(unit_volume=[1.0, 0.0])
    mc = pd.DataFrame({"warehouse_id": ["W1", "W2"], "move_cost": [0.2, 0.4]})
    from anticipate.config import AllocateConfig

    planner = Planner(world.warehouses, world.products, world.supply, mc, 4.0, 0.5, AllocateConfig())
    with pytest.raises(DataError, match="unit_volume") as err:
        planner.check()
    assert err.value.row == 2  # the second product


def test_a_backtest_says_what_train_would_say_and_what_the_model_fixes(world_copy, tmp_path) -> None:
    """audit22 #5, #6, #12: at a cutoff with 2 weeks of history the backtest trained on 2 of the
    configured windows and averaged the naive over 2 weeks divided by 4, without a word; at one with
    less it blamed an empty lookback; with --model of another horizon it said nothing."""
    import json

    from tests.conftest import run_cli

    early = run_cli(*world_copy.args("backtest", "--cutoffs", "2024-01-14", "--out", "bt0"), cwd=tmp_path)
    said = " ".join(early.stderr.split())
    assert early.returncode == 2, said
    assert "cutoff 2024-01-14 leaves no room for 2 training windows of 7 days before it" in said
    assert "the first cutoff it can train at is 2024-01-16" in said
    done = run_cli(*world_copy.args("backtest", "--cutoffs", "2024-01-20", "--out", "bt"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text())
    assert summary["warnings"][0] == (
        "the history before 2024-01-20 holds 2 of the 4 training windows of model.train_windows: training "
        "on 2 (set model.train_windows: 2 to silence this)")
    assert summary["warnings"][1].startswith("backtest cutoff 2024-01-20: the model shows no skill on its "
                                             "validation window: val.auc 0.5")
    assert summary["warnings"][2:4] == [  # new demand (audit28 f03) and the naive plan capped alike
        "cutoff 2024-01-20: the history before it holds 2 horizon(s) of 7 days, so new demand averages 2, "
        "not the 4 of forecast.new_demand_windows",
        "backtest cutoff 2024-01-20: the history before it holds 2 horizon(s) of 7 days, so the naive plan "
        "averages 2, not the 4 of backtest.naive_windows"]
    assert (summary["horizon_days"], summary["model"]) == (7, "trained at each cutoff")
    (tmp_path / "h14.yaml").write_text("time: {horizon_days: 14}\nmodel: {train_windows: 4}\n")
    given = run_cli(*world_copy.args("backtest", "--model", "@production", "--cutoffs", "2024-08-21", "--out",
                                     "bm", config=tmp_path / "h14.yaml"), cwd=tmp_path)
    assert given.returncode == 0, given.stderr[-2000:]
    summary = json.loads((tmp_path / "bm" / "summary.json").read_text())
    assert summary["horizon_days"] == 7 and summary["model"].endswith("@production")
    assert any("horizon" in w and "14" in w for w in summary["warnings"]), summary.get("warnings")
    # audit28: said before the cutoffs' work (a log record) and again at the end: once now
    spec = "time.horizon_days is 14 in the config but the model was trained with 7"
    assert " ".join(given.stderr.split()).count(spec) == 1, given.stderr[-3000:]
    assert sum(spec in w for w in summary["warnings"]) == 1


def test_evaluate_and_backtest_repeat_the_last_ingests_reused_order_id_warning(world_copy, tmp_path) -> None:
    """features and train repeated ingest's 'order_id reused' warning (their counts go wrong with it), but
    evaluate and backtest, whose scores rest on the same features, said nothing."""
    import json

    from tests.conftest import run_cli

    said = ("orders: order_id reused: 3 order(s) (one customer_id + order_id) have lines more than 24 h "
            "apart, e.g. customer 'C1', order '1'")
    report = world_copy.data / "ingest_report.json"
    doc = json.loads(report.read_text()) if report.exists() else {}
    report.write_text(json.dumps({**doc, "warnings": [*doc.get("warnings", []), said]}))
    repeated = f"the last ingest of {world_copy.data} warned: {said}"
    for command in (("evaluate", "--model", "1", "--cutoff", "2024-08-21"),
                    ("backtest", "--model", "1", "--cutoffs", "2024-08-21", "--out", "bt")):
        done = run_cli(*world_copy.args(*command), cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert repeated in " ".join(done.stderr.split()), (command, done.stderr[-2000:])
