"""Issue 14: everyday paths that gave a wrong answer with exit 0 now refuse (exit 2) or say the truth.

One copy of the session's trained world per module (``world``): a synthetic sample, a model
trained with the default ``--until`` (the last full cutoff) and promoted, and the plan for the
night after the data. Each test names the case of the issue it covers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from anticipate import dates
from anticipate.demand import gates
from anticipate.demand.idle import idle_warehouse_warnings
from anticipate.demand.plan_table import PLAN_CSV_COLUMNS, planner_table
from anticipate.errors import UsageError
from anticipate.models import honesty
from anticipate.models.training import check_until
from anticipate.tracking.tags import TAG_IN_SAMPLE
from tests.conftest import TrainedWorld, run_cli

DATA_END = "2024-08-28"  # the sample below runs 2024-01-01 to 2024-08-27: the production cutoff
LAST_FULL = "2024-08-21"  # the last full cutoff (7-day horizon) = the default model's --until
PLAN_FILES = ("allocation.png", "forecast.parquet", "plan.csv", "plan.parquet", "summary.json",
              "instance/cells.parquet", "instance/skus.csv", "instance/warehouses.csv")


@pytest.fixture(scope="module")
def world(trained_world: TrainedWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's trained world (<dir>/data, small.yaml, the model promoted in
    <dir>/mlflow.db) with the plan for the night after the data in plans/DATA_END/."""
    root = trained_world.copy(tmp_path_factory.mktemp("no-silent-wrong") / "world").root
    done = run_cli("-q", "--data", "data", "--config", "small.yaml", "allocate", "--date", DATA_END, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    return root


def _plan_bytes(root: Path, date: str = DATA_END) -> dict[str, bytes]:
    return {name: (root / "plans" / date / name).read_bytes() for name in PLAN_FILES}


def _one_json(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line on stdout, got: {stdout[:500]!r}"
    return json.loads(lines[0])


# --------------------------------------------------------------------------- 2. an empty plan
@pytest.mark.slow
def test_orders_without_region_do_not_replace_the_previous_plan(world: Path, tmp_path: Path) -> None:
    """Issue 14.2: orders ingested without `region` (all five tables present): exit 2, plans/D/ kept."""
    sources = {}
    for name in ("orders", "products", "regions", "warehouses", "supply"):
        frame = pd.read_parquet(world / "data" / f"{name}.parquet")
        if name == "orders":
            frame = frame.drop(columns="region")
        sources[name] = tmp_path / f"{name}.csv"
        frame.to_csv(sources[name], index=False)
    ingest = ["ingest", "--out", str(tmp_path / "noregion")]
    ingest += [arg for name, path in sources.items() for arg in (f"--{name}", str(path))]
    done = run_cli("-q", *ingest, cwd=world)
    assert done.returncode == 0, done.stderr[-2000:]
    before = _plan_bytes(world)
    done = run_cli("--data", str(tmp_path / "noregion"), "--config", "small.yaml", "--json", "allocate",
                   "--date", DATA_END, cwd=world)
    assert done.returncode == 2, done.stderr[-2000:]
    error = _one_json(done.stdout)["error"]
    assert "not published" in error and "region" in error and "'ALL'" in error and "re-ingest" in error, error
    assert _plan_bytes(world) == before  # the previous night's plan, byte for byte
    assert sorted(p.name for p in (world / "plans").iterdir() if not p.name.startswith(".")) == [DATA_END]


@pytest.mark.slow
def test_forecast_far_from_recent_orders_is_not_published(world: Path) -> None:
    """Issue 14 gates: allocate.max_forecast_ratio is read from the config; beyond it the plan is refused."""
    tight = world / "tight.yaml"
    tight.write_text((world / "small.yaml").read_text() + "allocate:\n  max_forecast_ratio: 1.0001\n")
    before = _plan_bytes(world)
    done = run_cli("--data", "data", "--config", str(tight), "-q", "allocate", "--date", DATA_END, cwd=world)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "allocate.max_forecast_ratio = 1.0001" in done.stderr and "not published" in done.stderr
    assert _plan_bytes(world) == before


def _recent(units: float, mapped: float, unknown: float = 0.0) -> gates.RecentDemand:
    ts = pd.Timestamp("2024-08-28")
    unknown_regions = ["ALL"] if unknown else []
    return gates.RecentDemand(ts - pd.Timedelta(days=28), ts, 28, 7, units, mapped, unknown, unknown_regions,
                              ["R9"])


def test_gates_refuse_each_kind_of_wrong_plan(tmp_path: Path) -> None:
    """The four gates as pure functions: each refuses its case and lets a sane plan through."""
    target = tmp_path / "plans" / "2024-08-28"
    with pytest.raises(gates.PlanRefused, match=r"network\.max_service_km"):
        gates.check_mapping(_recent(100.0, 0.0), target, tmp_path)
    gates.check_mapping(_recent(100.0, 60.0), target, tmp_path)
    empty = pd.DataFrame({"warehouse_id": [], "sku": [], "mu": [], "var": []})
    with pytest.raises(gates.PlanRefused, match="no warehouse x SKU row"):
        gates.check_forecast_rows(empty, target, pd.Timestamp("2024-08-28"))
    forecast = pd.DataFrame({"warehouse_id": ["W1"], "sku": ["S1"], "mu": [5.0], "var": [5.0]})
    products = pd.DataFrame({"sku": ["S1"], "unit_volume": [2000.0]})
    warehouses = pd.DataFrame({"warehouse_id": ["W1"], "capacity": [15.0]})
    supply = pd.DataFrame({"sku": ["S1"], "units": [9]})
    no_units = pd.DataFrame({"warehouse_id": [], "sku": [], "units": []})
    with pytest.raises(gates.PlanRefused, match="same volume unit"):  # litres against cubic metres
        gates.check_units(forecast, no_units, products, warehouses, supply, target)
    no_supply = supply.assign(units=0)
    gates.check_units(forecast, no_units, products, warehouses, no_supply, target)  # nothing to place: fine
    with pytest.raises(gates.PlanRefused, match=r"expects 400 units .* 4 times the 100 units"):
        gates.check_ratio(400.0, _recent(100.0, 100.0), 3.0, target)
    with pytest.raises(gates.PlanRefused, match=r"0\.1 times"):
        gates.check_ratio(10.0, _recent(100.0, 100.0), 3.0, target)
    gates.check_ratio(290.0, _recent(100.0, 100.0), 3.0, target)
    gates.check_ratio(290.0, None, 3.0, target)  # not measurable (e.g. the Dask path): no verdict


def test_an_empty_plan_from_products_value_local_names_that_column(tmp_path: Path) -> None:
    """audit22 #11: every product's value_local 0 advised checking economics.value_local > cost_unsold
    (the defaults, 4 > 0.5, already fine); the per-product column that overrides them is the cause."""
    from anticipate.config import EconomicsConfig

    target = tmp_path / "plans" / "2024-08-28"
    forecast = pd.DataFrame({"warehouse_id": ["W1"], "sku": ["S1"], "mu": [5.0], "var": [5.0]})
    warehouses = pd.DataFrame({"warehouse_id": ["W1"], "capacity": [15.0]})
    supply, no_units = pd.DataFrame({"sku": ["S1"], "units": [9]}), pd.DataFrame({"units": []})
    zero = pd.DataFrame({"sku": ["S1"], "unit_volume": [1.0], "value_local": [0.0]})
    named = (r"products\.value_local, which overrides economics\.value_local \(4\) per product, is at most "
             r"cost_unsold .*'S1': value_local 0, cost_unsold 0\.5")
    with pytest.raises(gates.PlanRefused, match=named):
        gates.check_units(forecast, no_units, zero, warehouses, supply, target, EconomicsConfig())
    unset = zero.assign(value_local=float("nan"))  # the defaults apply: the economics keys, as before
    with pytest.raises(gates.PlanRefused, match=r"economics\.value_local exceeds economics\.cost_unsold"):
        gates.check_units(forecast, no_units, unset, warehouses, supply, target, EconomicsConfig())


def test_gates_refuse_demand_left_out_of_the_plan_and_a_history_too_short_to_check(tmp_path: Path) -> None:
    """Orders whose region or SKU was defaulted to 'ALL' (a nightly file without the column) lose their
    demand from the plan: refused past 5% of the units; a replaced history of one night cannot be checked."""
    target = tmp_path / "plans" / "2024-08-28"
    gates.check_mapping(_recent(100.0, 95.0, unknown=5.0), target, tmp_path)  # 5%: allowed
    left_out = r"39% of the units .* not in regions\.parquet, 'ALL' \('ALL': .*without a region column"
    with pytest.raises(gates.PlanRefused, match=left_out):
        gates.check_mapping(_recent(100.0, 61.0, unknown=39.0), target, tmp_path)
    products = pd.DataFrame({"sku": ["S1", "S2"]})
    forecast = pd.DataFrame({"warehouse_id": ["W1", "W1", "W2"], "sku": ["S1", "ALL", "S2"],
                             "mu": [50.0, 40.0, 10.0], "var": [50.0, 40.0, 10.0]})
    with pytest.raises(gates.PlanRefused, match=r"40% of the forecast's 100 units .*, 'ALL' \('ALL'.*a sku"):
        gates.check_forecast_skus(forecast, products, target)
    gates.check_forecast_skus(forecast.assign(sku=["S1", "S1", "S2"]), products, target)
    few = forecast.assign(mu=[50.0, 2.0, 48.0])  # 2% of the units: published, but said
    (region_left, sku_left) = gates.left_out_warnings(_recent(100.0, 95.0, unknown=5.0), few, products)
    assert region_left.startswith("5.0% of the units ordered from 2024-07-31 to 2024-08-27 come from regions")
    assert sku_left.startswith("2.0% of the forecast's units are for SKUs not in products.parquet, 'ALL'")
    assert gates.left_out_warnings(_recent(100.0, 100.0), few.assign(sku=["S1", "S1", "S2"]), products) == []
    one_night = pd.Series(pd.date_range("2024-08-27 08:00", periods=5, freq="2h"))
    window = gates.recent_window(one_night, pd.Timestamp("2024-08-28"), horizon_days=7, windows=4)
    assert window is None
    too_short = r"only 2024-08-27 to 2024-08-27 before 2024-08-28: less than one horizon \(7 days\).*--append"
    with pytest.raises(gates.PlanRefused, match=too_short):
        gates.check_history(window, one_night, pd.Timestamp("2024-08-28"), 7, target)
    week = pd.Series(pd.date_range("2024-08-20", periods=8, freq="D"))
    window = gates.recent_window(week, pd.Timestamp("2024-08-28"), horizon_days=7, windows=4)
    gates.check_history(window, week, pd.Timestamp("2024-08-28"), 7, target)


def test_the_gates_read_the_recent_lines_when_only_order_times_are_loaded(tmp_path: Path) -> None:
    """The Dask path loads only ``order_ts``: the gates read their window from the file; gate 1 fires."""
    from anticipate.pipelines.plan import gate_lines
    from anticipate.storage.files import DataSet, write_parquet

    orders = pd.DataFrame({
        "order_ts": pd.date_range("2024-07-01", "2024-08-27 12:00", freq="12h"),
        "customer_id": "c", "sku": "S1", "quantity": 2,
    }).assign(region=lambda f: ["R1" if ts.month == 7 else "R_far" for ts in f["order_ts"]])
    write_parquet(orders, tmp_path / "orders.parquet")
    date = pd.Timestamp(DATA_END)
    ds = DataSet(tmp_path, orders[["order_ts"]], None, None, None, None, "digest")
    lines = gate_lines(ds, date, 7, 2)  # the 14 days before 2024-08-28
    expected = orders.loc[orders["order_ts"] >= "2024-08-14", list(gates.RECENT_COLUMNS)]
    pd.testing.assert_frame_equal(lines.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)
    window = gates.recent_window(ds.orders["order_ts"], date, horizon_days=7, windows=2)
    region_map = pd.DataFrame({"region": ["R1", "R_far"], "warehouse_id": ["W1", None]})
    recent = gates.recent_demand(lines, region_map, window, horizon_days=7)
    assert recent is not None and recent.units == 28.0 and recent.mapped_units == 0.0
    with pytest.raises(gates.PlanRefused, match="R_far"):  # every recent order is beyond the network
        gates.check_mapping(recent, tmp_path / "plans" / DATA_END, tmp_path)
    assert gate_lines(DataSet(tmp_path, orders, None, None, None, None, "d"), date, 7, 2) is None


# --------------------------------------------------------------------------- a plan a planner reads
@pytest.mark.slow
def test_the_sample_plan_passes_the_gates_and_reads_well(world: Path) -> None:
    """plan.csv: the category and the expected demand beside the units; the PNG is a full figure."""
    plan_dir = world / "plans" / DATA_END
    table = pd.read_csv(plan_dir / "plan.csv", dtype={"warehouse_id": str, "sku": str, "category": str})
    assert tuple(table.columns) == PLAN_CSV_COLUMNS
    units = pd.read_parquet(plan_dir / "plan.parquet")
    assert table[["warehouse_id", "sku", "units"]].equals(units.astype({"units": "int64"}))
    products = pd.read_parquet(world / "data" / "products.parquet").set_index("sku")
    assert (table["category"] == table["sku"].map(products["category"])).all()
    forecast = pd.read_parquet(plan_dir / "forecast.parquet").set_index(["warehouse_id", "sku"])["mu"]
    expected = forecast.reindex(pd.MultiIndex.from_frame(table[["warehouse_id", "sku"]])).round(2).to_numpy()
    assert table["expected_demand"].to_numpy() == pytest.approx(expected)
    assert table["expected_demand"].sum() > 0 and table["units"].sum() > 0
    assert (plan_dir / "allocation.png").stat().st_size > 50_000


@pytest.mark.slow
def test_the_nights_instance_re_solves_to_its_plan_and_a_capacity_what_if_changes_it(
    world: Path, tmp_path: Path
) -> None:
    """The README's what-if: ``solve --instance plans/DATE/instance`` is the night's plan (same units, same
    objective); the same instance with one capacity edited in warehouses.csv gives another plan."""
    night = world / "plans" / DATA_END
    night_summary = json.loads((night / "summary.json").read_text())
    common = ["-q", "--config", str(world / "small.yaml"), "solve"]
    assert night_summary["instance_digests"] == {  # what allocate published, to tell an edit by
        name: hashlib.sha256((night / "instance" / name).read_bytes()).hexdigest()
        for name in ("cells.parquet", "skus.csv", "warehouses.csv")}
    done = run_cli(*common, "--instance", str(night / "instance"), "--out", str(tmp_path / "same"), cwd=world)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "instance edited" not in done.stderr
    again = json.loads((tmp_path / "same" / "summary.json").read_text())
    assert again["objective"] == pytest.approx(night_summary["objective"], rel=1e-9, abs=0)
    assert again["units"] == night_summary["units"] > 0
    assert pd.read_parquet(tmp_path / "same" / "plan.parquet").equals(pd.read_parquet(night / "plan.parquet"))

    whatif = tmp_path / "what-if"
    shutil.copytree(night / "instance", whatif)
    warehouses = pd.read_csv(whatif / "warehouses.csv", dtype={"warehouse_id": str})
    full = max(night_summary["capacity_used"], key=lambda w: night_summary["capacity_used"][w]["volume_used"])
    warehouses.loc[warehouses["warehouse_id"] == full, "capacity"] /= 4  # the planner's edit: one cell
    warehouses.to_csv(whatif / "warehouses.csv", index=False)
    done = run_cli(*common, "--instance", str(whatif), "--out", str(whatif / "plan"), cwd=world)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "instance edited" not in done.stderr  # a copy: no night's summary beside it
    changed = json.loads((whatif / "plan" / "summary.json").read_text())
    assert changed["objective"] < night_summary["objective"]
    used, was = changed["capacity_used"][full], night_summary["capacity_used"][full]
    assert used["capacity"] == pytest.approx(was["capacity"] / 4)
    assert used["volume_used"] <= used["capacity"] + 1e-9 < was["volume_used"]

    # the same edit in a night's own instance/ (here a copy of the whole night): solved, with a warning
    edited = tmp_path / "night"
    shutil.copytree(night, edited)
    shutil.copy(whatif / "warehouses.csv", edited / "instance" / "warehouses.csv")
    done = run_cli(*common, "--instance", str(edited / "instance"), "--out", str(tmp_path / "p"), cwd=world)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (f"warning: instance edited since the night's plan: warehouses.csv differs from the digests "
            f"{edited / 'summary.json'} recorded when allocate published") in done.stderr
    assert "instance edited since the night's plan" in json.loads(
        (tmp_path / "p" / "summary.json").read_text())["input_warnings"][0]


def test_planner_table_keeps_the_plan_rows_and_fills_unknowns() -> None:
    units = pd.DataFrame({"warehouse_id": ["W2", "W1"], "sku": ["S1", "S9"], "units": [3, 1]})
    forecast = pd.DataFrame({"warehouse_id": ["W1", "W2"], "sku": ["S1", "S1"], "mu": [0.5, 2.345]})
    products = pd.DataFrame({"sku": ["S1", "S9"], "category": ["C7", "C8"]})
    table = planner_table(units, forecast, products)
    assert table.to_dict("list") == {
        "warehouse_id": ["W2", "W1"], "sku": ["S1", "S9"], "category": ["C7", "C8"], "units": [3, 1],
        "expected_demand": [2.35, 0.0],  # S9 is not in the forecast at W1
    }
    assert planner_table(units, forecast, products.drop(columns="category"))["category"].tolist() == ["", ""]


def test_allocation_png_says_date_totals_and_coverage(tmp_path: Path) -> None:
    """The title carries the date and totals; the colour is coverage (informative when all are full)."""
    from anticipate.plots.plan import allocation_map

    warehouses = pd.DataFrame({"warehouse_id": ["W1", "W2"], "lat": [50.0, 52.0], "lon": [0.0, 4.0],
                               "capacity": [5.0, 5.0]})
    regions = pd.DataFrame({"region": ["R1", "R2", "R3"], "lat": [50.5, 52.5, 60.0], "lon": [0.5, 4.5, 30.0]})
    region_map = pd.DataFrame({"region": ["R1", "R2", "R3"], "warehouse_id": pd.array(["W1", "W2", None])})
    plan = pd.DataFrame({"warehouse_id": ["W1", "W2"], "sku": ["S1", "S1"], "units": [5, 5]})
    full = pd.DataFrame({"warehouse_id": ["W1", "W2"], "share_used": [1.0, 1.0]})
    forecast = pd.DataFrame({"warehouse_id": ["W1", "W2"], "sku": ["S1", "S1"], "mu": [5.0, 20.0]})
    products = pd.DataFrame({"sku": ["S1"], "category": ["C1"]})
    fig = allocation_map(warehouses, plan, full, regions=regions, forecast=forecast, region_map=region_map,
                         products=products, date="2024-08-28", horizon_days=7)
    title = fig._suptitle.get_text()
    assert "2024-08-28" in title and "10 units" in title and "expected demand 25 units over 7 days" in title
    assert "2 of 2 warehouses full" in title
    squares = fig.axes[0].collections[-2]  # the warehouses (the last is the legend's proxy)
    assert squares.get_array().tolist() == [1.0, 0.25]  # W1 covers its demand, W2 a quarter: both full
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "regions served by W1 (1)" in legend and "regions served from the centre (1)" in legend
    assert fig.axes[1].get_yticklabels()[0].get_text() == "S1 (C1)"
    fig.savefig(tmp_path / "a.png")


# --------------------------------------------------------------------------- 5. validation reported as a test
@pytest.mark.slow
def test_evaluate_refuses_an_in_sample_cutoff_unless_asked(world: Path) -> None:
    """Issue 14.5: the default model saw labels up to LAST_FULL; a week earlier is its validation window."""
    week_before = "2024-08-14"
    done = run_cli("--data", "data", "--config", "small.yaml", "evaluate", "--model", "1", "--cutoff",
                   week_before, cwd=world)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"cutoff {week_before} is in-sample" in done.stderr
    assert f"out-of-sample cutoffs for it run from {LAST_FULL} to {LAST_FULL}" in done.stderr
    done = run_cli("--data", "data", "--config", "small.yaml", "evaluate", "--model", "1", "--cutoff",
                   week_before, "--in-sample", cwd=world)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "IN-SAMPLE" in done.stdout.split("|")[0]  # the label heads the table
    run_id = done.stdout.strip().splitlines()[-1].split()[-1]
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{world / 'mlflow.db'}")
    assert client.get_run(run_id).data.tags[TAG_IN_SAMPLE] == "true"
    md = Path(client.download_artifacts(run_id, "metrics.md", str(world)))
    assert md.read_text().startswith(honesty.IN_SAMPLE_NOTE)


@pytest.mark.slow
def test_backtest_refuses_a_fixed_model_trained_past_its_cutoffs(world: Path) -> None:
    """Issue 14.5: backtest --model trained until LAST_FULL at earlier cutoffs used answers it saw."""
    done = run_cli("--data", "data", "--config", "small.yaml", "backtest", "--model", "@production",
                   "--cutoffs", "2024-08-07,2024-08-14", cwd=world)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "2024-08-07, 2024-08-14 lie before the end of the fixed model's training" in done.stderr
    assert f"use cutoffs from {LAST_FULL} on" in done.stderr
    assert not (world / "backtests").exists()


@pytest.mark.slow
def test_train_until_latest_hints_promote_and_evaluate_refuses_it(world: Path) -> None:
    """Issue 14.5: a model that saw every labelled window has nothing left to be evaluated on."""
    tiny = world / "tiny.yaml"  # the rule does not depend on the model's size: the fewest trees that train
    tiny.write_text("model:\n  train_windows: 2\n"
                    "  classifier: {n_estimators: 5}\n  regressor: {n_estimators: 5}\n")
    latest = ["--data", "data", "--config", str(tiny), "--tracking-uri", "sqlite:///latest.db"]
    done = run_cli(*latest, "train", "--until", "latest", cwd=world)
    assert done.returncode == 0, done.stderr[-2000:]
    hint = [line for line in done.stdout.splitlines() if line.startswith("next:")]
    assert hint and hint[0].startswith("next: anticipate promote latest")
    assert "evaluate" not in hint[0].split("(")[0]
    done = run_cli(*latest, "evaluate", cwd=world)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "no cutoff in this data is out-of-sample" in done.stderr and "--in-sample" in done.stderr


@pytest.mark.slow
def test_a_partial_last_day_is_a_warning_wherever_a_command_reads_it(world: Path, tmp_path: Path) -> None:
    """audit22 #4: an export taken in the morning (the sample cut at 2025-12-30 10:00) counted its last day
    as a full one: backtest bias +16.3% against +4.9%, and no command said a word."""

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    data = tmp_path / "partial"
    shutil.copytree(world / "data", data)
    orders = pq.read_table(data / "orders.parquet")
    cut = pd.Timestamp("2024-08-27 08:00")  # the last day, 2024-08-27, exported at 08:00
    kept = orders.filter(pc.less(orders["order_ts"], pa_scalar(cut, orders)))
    pq.write_table(kept, data / "orders.parquet")
    said = "the orders' last day, 2024-08-27 (a Tuesday), holds "
    common = ["--data", str(data), "--config", str(world / "small.yaml"), "--json",
              "--tracking-uri", f"sqlite:///{world / 'mlflow.db'}"]
    runs = {
        "evaluate": ["evaluate", "--model", "1", "--cutoff", LAST_FULL],
        "forecast": ["forecast", "--cutoff", DATA_END, "--out", str(tmp_path / "fc.parquet")],
        "allocate": ["allocate", "--date", DATA_END],
        "earlier": ["evaluate", "--model", "1", "--cutoff", "2024-08-20", "--in-sample"],  # ends a day early
    }
    warned = {}
    for name, args in runs.items():
        done = run_cli(*common, *args, cwd=tmp_path)  # allocate's plans/ there
        assert done.returncode == 0, done.stderr[-2000:]
        warned[name] = [w for w in _one_json(done.stdout).get("warnings", []) if w.startswith(said)]
    assert all(len(warned[name]) == 1 for name in ("evaluate", "forecast", "allocate")), warned
    assert "pick a cutoff one day earlier" in warned["evaluate"][0] and warned["earlier"] == []
    summary = json.loads((tmp_path / "plans" / DATA_END / "summary.json").read_text())
    assert warned["allocate"][0] in summary["input_warnings"]
    own = json.loads((world / "plans" / DATA_END / "summary.json").read_text())
    assert not any(said[:24] in w for w in own.get("input_warnings", []))  # the whole day: quiet
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("model:\n  train_windows: 2\n  classifier: {n_estimators: 5}\n"
                    "  regressor: {n_estimators: 5}\n")
    done = run_cli("--data", str(data), "--config", str(tiny), "--tracking-uri", f"sqlite:///{tmp_path}/t.db",
                   "--json", "train", "--until", "latest", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(w.startswith(said) for w in _one_json(done.stdout)["warnings"])


def pa_scalar(ts: pd.Timestamp, table: object) -> object:
    """``ts`` as an Arrow scalar of ``table``'s ``order_ts`` type."""
    import pyarrow as pa

    return pa.scalar(ts, type=table.schema.field("order_ts").type)  # type: ignore[attr-defined]


def test_honesty_rules_on_a_model_meta() -> None:
    meta = {"until": "2024-08-21", "horizon_days": 7, "train_cutoffs": ["2024-07-24", "2024-08-14"]}
    assert honesty.in_sample(meta, pd.Timestamp("2024-08-20"))
    assert not honesty.in_sample(meta, pd.Timestamp("2024-08-21"))
    old = {"horizon_days": 7, "train_cutoffs": ["2024-08-14"]}  # a meta without 'until'
    assert honesty.trained_until(old) == pd.Timestamp("2024-08-21")
    assert not honesty.in_sample({}, pd.Timestamp("2024-01-01"))  # unknown training end: no verdict
    assert honesty.check_evaluate_cutoff(meta, pd.Timestamp("2024-08-14"), pd.Timestamp("2024-08-21"),
                                         uri="m", allow=True)
    assert "evaluate" in honesty.train_hint(meta, pd.Timestamp("2024-08-21"))
    assert honesty.train_hint(meta, pd.Timestamp("2024-08-20")).startswith("next: anticipate promote")


# --------------------------------------------------------------------------- 7. smaller breaks
@pytest.mark.parametrize("date", ["9999-12-31", "2262-04-12"])
def test_allocate_refuses_a_date_beyond_what_it_supports(world: Path, date: str) -> None:
    """Issue 14.7: exit 2 with a message, no plan and no traceback, even with --allow-stale."""
    done = run_cli("--data", "data", "--config", "small.yaml", "allocate", "--date", date, "--allow-stale",
                   cwd=world)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"--date {date} is outside the dates anticipate supports" in done.stderr
    assert "Traceback" not in done.stderr and not (world / "plans" / date).exists()


DATE_MESSAGES = {  # audit33B C2: both said "no candidate pairs ...; pick a later cutoff"
    # before the first order: gate 0 comes before the forecast and names the first date to plan
    "2023-06-01": ("the orders begin on 2024-01-01, after 2023-06-01: no history before it",
                   "plan a date from 2024-01-08 on (the orders run 2024-01-01 to 2024-08-27)"),
    # a year after the data's end (--allow-stale): a later date has fewer candidates, not more
    "2025-09-30": ("no customer ordered in the 365 days before it (the model's time.lookback_days): the "
                   "orders end on 2024-08-27, 399 days before it",
                   "pick a date from 2024-08-28 to 2025-08-27"),
}


@pytest.mark.parametrize("date", list(DATE_MESSAGES))
def test_allocate_at_a_date_the_data_cannot_serve_says_which_dates_it_can(world: Path, date: str) -> None:
    done = run_cli("--data", "data", "--config", "small.yaml", "allocate", "--date", date, "--allow-stale",
                   cwd=world)
    said = " ".join(done.stderr.split())
    assert done.returncode == 2 and "Traceback" not in said, said[-2000:]
    assert all(part in said for part in DATE_MESSAGES[date]), said
    assert "pick a later" not in said and not (world / "plans" / date).exists()


def test_no_candidates_names_the_dates_that_have_some() -> None:
    """The dates named are exact: the last one has candidate pairs, the day after has none."""
    from anticipate.features.build import build_features
    from anticipate.models.scoring import no_candidates

    orders = pd.DataFrame({"customer_id": ["a", "b", "a"], "sku": ["S1", "S2", "S1"], "quantity": 1.0,
                           "region": "R", "order_ts": pd.to_datetime(["2024-01-05 23:30", "2024-01-10 08:00",
                                                                      "2024-06-02 10:00"])})
    ts = orders["order_ts"]
    gap = no_candidates(ts, pd.Timestamp("2024-03-01"), 30)
    assert gap.endswith("the last order before it is on 2024-01-10 and the next on 2024-06-02; pick a date "
                        "from 2024-01-11 to 2024-02-09, or from 2024-06-03 on")
    assert no_candidates(ts, pd.Timestamp("2024-01-01"), 30).endswith(
        "no order lies before it (the orders begin on 2024-01-05); pick a date from 2024-01-06 on")
    assert "orders end on 2024-06-02, 31 days before it; ingest the orders since, or pick a date from " \
           "2024-06-03 to 2024-07-02" in no_candidates(ts, pd.Timestamp("2024-07-03"), 30)
    assert "the orders hold no line" in no_candidates(ts[:0], pd.Timestamp("2024-07-03"), 30)
    for last, after in (("2024-02-09", "2024-02-10"), ("2024-07-02", "2024-07-03")):
        assert len(build_features(orders, pd.Timestamp(last), lookback_days=30, horizon_days=7)) > 0
        assert build_features(orders, pd.Timestamp(after), lookback_days=30, horizon_days=7).empty


def test_features_without_candidates_names_the_dates_that_have_some(tmp_path: Path) -> None:
    """features at a cutoff whose lookback holds no order said "pick a later --cutoff", as allocate did
    before audit33B C2; it names the dates with candidates now, as allocate does."""
    from click.testing import CliRunner

    from anticipate.cli import main

    days = [*pd.date_range("2024-01-01", "2024-03-31"), *pd.date_range("2024-08-01", "2024-09-30")]
    lines = [f"o{i},c{i % 3},{d:%Y-%m-%d} 10:00:00,S1,1,2.0,R1\n" for i, d in enumerate(days)]
    (tmp_path / "o.csv").write_text("order_id,customer_id,order_ts,sku,quantity,unit_price,region\n"
                                    + "".join(lines))
    (tmp_path / "c.yaml").write_text("time:\n  lookback_days: 30\n")
    data = str(tmp_path / "d")
    ingested = CliRunner().invoke(main, ["ingest", "--orders", str(tmp_path / "o.csv"), "--out", data])
    assert ingested.exit_code == 0, ingested.output
    done = CliRunner().invoke(main, ["--data", data, "--config", str(tmp_path / "c.yaml"), "features",
                                     "--cutoff", "2024-06-15", "--out", str(tmp_path / "f.parquet")])
    said = " ".join(done.output.split())
    assert done.exit_code == 2 and "pick a later" not in said, said
    assert ("no customer ordered in the 30 days before it (the config's time.lookback_days): the last order "
            "before it is on 2024-03-31 and the next on 2024-08-01; pick a date from 2024-04-01 to "
            "2024-04-30, or from 2024-08-02 on") in said
    assert not (tmp_path / "f.parquet").exists()


def test_parse_date_bounds() -> None:
    assert dates.parse_date("2199-12-31") == pd.Timestamp("2199-12-31")
    for bad in ("2200-01-01", "1899-12-31", "9999-12-31"):
        with pytest.raises(UsageError, match="outside the dates anticipate supports"):
            dates.parse_date(bad, name="--date")


def test_allocate_json_without_date_prints_its_error_object(tmp_path: Path) -> None:
    """Issue 14.7: `allocate --json` with no --date printed nothing on stdout."""
    done = run_cli("allocate", "--json", cwd=tmp_path)
    assert done.returncode == 2
    result = _one_json(done.stdout)
    assert result["status"] == "error" and result["exit_code"] == 2 and "--date" in result["error"]


SHORT = pd.Series(pd.date_range("2025-11-01 10:00", "2025-12-30 10:00", freq="D"))  # 60 days of orders


def test_train_on_a_short_history_names_no_empty_range() -> None:
    """Issue 14.7: 'pass --until between 2026-02-23 and 2025-12-31' was an empty range."""
    with pytest.raises(UsageError) as err:
        check_until(dates.data_end(SHORT), SHORT, 7, 12)
    message = str(err.value)
    assert "no --until date is valid" in message and "between" not in message
    assert "2025-11-01 to 2025-12-30 (60 days)" in message and "85 days" in message
    assert "set model.train_windows to 8 or less" in message
    with pytest.raises(UsageError, match="between 2025-11-30 and 2025-12-31"):  # 4 windows fit: a real range
        check_until(pd.Timestamp("2025-11-15"), SHORT, 7, 4)
    with pytest.raises(UsageError, match=r"ingest more history \(2 windows need 61 days\)"):
        check_until(dates.data_end(SHORT), SHORT, 30, 2)
    assert check_until(pd.Timestamp("2025-12-01"), SHORT, 7, 4) == pd.Timestamp("2025-12-01")


def test_a_default_until_too_late_for_two_windows_blames_no_until_the_user_passed() -> None:
    """audit21 #10: 'train' with no --until on 60 days at a 20-day horizon said '--until 2024-02-10 leaves no
    room', and the dates it offered put evaluate's default cutoff inside the training data unsaid."""
    from anticipate.models.training import resolve_until

    orders = pd.DataFrame({"order_ts": pd.date_range("2024-01-01", "2024-02-29", freq="D")})
    with pytest.raises(UsageError) as err:
        resolve_until(None, orders, horizon_days=20, windows=12)
    said = str(err.value)
    assert said.startswith("the history is too short to train 2 windows of 20 days before the default "
                           "--until 2024-02-10 (the last full cutoff")
    assert "--until latest (or a date from 2024-02-11 to 2024-03-01)" in said
    assert "inside the training data" in said
    assert resolve_until("latest", orders, horizon_days=20, windows=12) == (pd.Timestamp("2024-03-01"), 2)


def test_the_until_range_in_a_message_is_every_date_train_accepts() -> None:
    """train accepts any --until with 2 windows (fewer than configured, with a warning): the range it
    names starts there, not where all 12 fit (2024-01-20 trained although the message said 2024-03-26)."""
    from anticipate.models.training import resolve_until

    orders = pd.DataFrame({"order_ts": pd.date_range("2024-01-01", "2025-12-30", freq="D")})
    assert resolve_until("2024-01-20", orders, horizon_days=7, windows=12) == (pd.Timestamp("2024-01-20"), 2)
    with pytest.raises(UsageError) as err:
        resolve_until("2026-03-01", orders, horizon_days=7, windows=12)
    said = "between 2024-01-16 and 2025-12-31 (or 'latest'); from 2024-03-26 on it trains on all 12 of model"
    assert said in str(err.value)
    assert resolve_until("2024-01-16", orders, horizon_days=7, windows=12)[1] == 2


def test_the_last_ingests_warnings_travel_with_the_plan(tmp_path: Path) -> None:
    """A plan on a defaulted unit_volume rests on that default: allocate repeats the ingest's warnings
    (stderr, --json and summary.json's input_warnings); no report or an unreadable one: none."""
    from anticipate.pipelines.plan import _ingest_warnings

    assert _ingest_warnings(tmp_path) == []
    (tmp_path / "ingest_report.json").write_text("{not json")
    assert _ingest_warnings(tmp_path) == []
    said = "products: no column found for unit_volume, so every row gets the same value (unit_volume = 1.0)"
    (tmp_path / "ingest_report.json").write_text(json.dumps({"warnings": [said], "rows_in": 3}))
    assert _ingest_warnings(tmp_path) == [f"the last ingest of {tmp_path} warned: {said}"]


# --------------------------------------------------------------------------- dates and a network typed wrong
def test_a_date_early_in_the_data_is_refused_as_too_early_not_as_a_short_history(tmp_path: Path) -> None:
    """allocate --date 2024-01-03 on orders from 2024-01-01 blamed a missing --append (whole data quoted)."""
    orders = pd.Series(pd.date_range("2024-01-01", "2025-12-30", freq="D"))
    date = pd.Timestamp("2024-01-03")
    window = gates.recent_window(orders, date, horizon_days=7, windows=4)
    early = (r"begin on 2024-01-01, 2 days before 2024-01-03: less than one horizon \(7 days\).*"
             r"plan a date from 2024-01-08 on \(the orders run 2024-01-01 to 2025-12-30\)")
    with pytest.raises(gates.PlanRefused, match=early) as refused:
        gates.check_history(window, orders, date, 7, tmp_path / "plans" / "2024-01-03")
    assert "--append" not in str(refused.value)


@pytest.mark.slow
def test_a_forecast_at_a_cutoff_early_in_the_data_is_refused_as_allocate_refuses_that_date(
    world: Path, tmp_path: Path
) -> None:
    """audit31 A: forecast --cutoff 2024-01-02 on orders from 2024-01-01 gave exit 0 and a fraction of the
    units (one day's new demand averaged as a horizon), warning that the history held '1 horizon(s) of 7
    days'; allocate refused the same date with its history gate, which forecast now goes through."""
    out = tmp_path / "fc.parquet"
    done = run_cli("--data", "data", "--config", "small.yaml", "--json", "forecast", "--model", "@production",
                   "--cutoff", "2024-01-02", "--out", str(out), cwd=world)
    assert done.returncode == 2, done.stderr[-2000:]
    error = _one_json(done.stdout)["error"]  # the valid range it names is the one the gate holds to (audit32)
    assert error == ("cutoff 2024-01-02 is outside the valid range for 'forecast' (2024-01-08 to "
                     "2024-08-28 with a 7-day horizon; a cutoff must have at least 7 days of orders before "
                     "it, one horizon to measure new demand on); pass --cutoff within that range"), error
    assert not out.exists()


def test_the_valid_range_of_forecast_and_backtest_starts_where_the_history_gate_lets_them() -> None:
    """audit32: forecast's refusal listed 2024-01-02 as the first valid cutoff, and a cutoff there was then
    refused by the history gate, which wants one horizon (7 days) of orders before it: 2024-01-08."""
    from anticipate.backtest.cutoffs import check_cutoffs
    from anticipate.demand.history_gate import require_history
    from anticipate.errors import CutoffError
    from anticipate.storage.files import DataSet

    orders = pd.Series(pd.date_range("2024-01-01", "2024-06-30", freq="D"))
    assert dates.valid_range(orders, 7, "production", min_history_days=7)[0] == pd.Timestamp("2024-01-08")
    assert dates.valid_range(orders, 7, "production")[0] == pd.Timestamp("2024-01-02")  # features, predict
    require_history(orders, pd.Timestamp("2024-01-08"), 7, 4, "forecast", "refused")  # the first passes
    with pytest.raises(CutoffError, match=r"outside the valid range for 'forecast' \(2024-01-08 to"):
        dates.check_cutoff(pd.Timestamp("2024-01-07"), orders, 7, "production", command="forecast",
                           min_history_days=7)
    ds = DataSet(path=Path("."), orders=pd.DataFrame({"order_ts": orders}), products=None, regions=None,
                 supply=None, warehouses=None, digest="")
    first = r"2024-01-05 lies before the first valid cutoff: the valid cutoffs run from 2024-01-08"

    with pytest.raises(CutoffError, match=first):
        check_cutoffs([pd.Timestamp("2024-01-05")], ds, 7)


def test_a_backtest_cutoff_early_in_the_data_is_refused_and_no_warning_claims_a_horizon() -> None:
    """audit31 A: a backtest of a --model (trained on other data) at a cutoff a day into the history would
    average that day as a horizon of new demand; capped_windows said the history held '1 horizon(s)'."""
    from anticipate.backtest.cutoffs import check_new_demand_history
    from anticipate.demand.history_gate import HistoryRefused
    from anticipate.demand.new_demand import capped_windows

    orders = pd.Series(pd.date_range("2024-01-01", "2024-06-30", freq="D"))
    early = (r"^the backtest was not run: cutoff 2024-01-03: the orders begin on 2024-01-01, 2 days before "
             r"2024-01-03.*backtest cutoffs from 2024-01-08 on")
    with pytest.raises(HistoryRefused, match=early):
        check_new_demand_history([pd.Timestamp("2024-01-03"), pd.Timestamp("2024-03-01")], orders, 7)
    check_new_demand_history([pd.Timestamp("2024-01-08")], orders, 7)  # one horizon before it: fine

    start = dates.history_start(orders, pd.Timestamp("2024-01-03"))
    held, said = capped_windows(start, pd.Timestamp("2024-01-03"), horizon_days=7, windows=4,
                                key="forecast.new_demand_windows", what="new demand")
    assert held == 1 and said is not None and "holds 2 day(s), less than one horizon of 7 days" in said


def test_a_cutoff_a_day_after_a_closure_is_refused_by_the_history_gate() -> None:
    """audit32 A: after a 40-day closure the gate counted horizons from the history's first day while new
    demand counted them from the reopening: forecast and backtest the day after it passed, averaged that
    one day as a horizon (285 units expected, 1,042 ordered) and exited 0."""
    from anticipate.backtest.cutoffs import check_new_demand_history
    from anticipate.demand.history_gate import HistoryRefused, recent_window

    days = pd.date_range("2024-01-01", "2024-06-30", freq="D")
    orders = pd.Series(days[(days < "2024-04-01") | (days >= "2024-05-10")])  # closed 2024-04-01 to 05-09
    reopened = (r"cutoff 2024-05-11: after a gap of 28 days or more without an order line, the orders start "
                r"again on 2024-05-10, 1 day before 2024-05-11: less than one horizon \(7 days\).*"
                r"backtest cutoffs from 2024-05-17 on")
    with pytest.raises(HistoryRefused, match=reopened):
        check_new_demand_history([pd.Timestamp("2024-05-11")], orders, 7)
    assert recent_window(orders, pd.Timestamp("2024-05-17"), horizon_days=7, windows=4) == (
        pd.Timestamp("2024-05-10"), pd.Timestamp("2024-05-17"))  # one horizon after the reopening: fine
    assert recent_window(orders, pd.Timestamp("2024-03-15"), horizon_days=7, windows=4) == (
        pd.Timestamp("2024-02-16"), pd.Timestamp("2024-03-15"))  # before the closure: as before



def test_a_date_months_before_the_data_end_is_planned_with_a_warning() -> None:
    """A crontab's year typed wrong or a forgotten manual re-run planned a past night in silence."""
    from anticipate.demand.inputs import check_staleness

    orders = pd.DataFrame({"order_ts": pd.date_range("2025-01-01", "2025-12-30 12:00", freq="D")})
    assert check_staleness(orders, pd.Timestamp("2025-12-31"), max_days=2, allow=False) == []
    assert check_staleness(orders, pd.Timestamp("2025-12-29"), max_days=2, allow=False) == []  # a re-run
    (past,) = check_staleness(orders, pd.Timestamp("2025-06-03"), max_days=2, allow=False)
    assert past.startswith("--date 2025-06-03 is 211 days before 2025-12-31, the night after the last order "
                           "(2025-12-30;")
    assert past.endswith("for tonight's plan pass --date 2025-12-31")


def test_a_warehouse_that_serves_no_region_is_a_warning_with_the_demand_sent_to_the_centre() -> None:
    """W5's lat and lon swapped: it served no region, its capacity stayed empty and 3% of the demand
    went to the centre, exit 0 and no word."""
    region_map = pd.DataFrame({"region": ["R1", "R2", "R9"], "warehouse_id": pd.array(["W1", "W1", None],
                                                                                        dtype="string")})
    warehouses = pd.DataFrame({"warehouse_id": ["W1", "W5", "W6"], "capacity": [10.0, 49.9, 0.0],
                               "lat": [51.0, -1.2, 52.0], "lon": [-1.0, 51.3, 0.0]})
    (idle,) = idle_warehouse_warnings(region_map, warehouses, _recent(100.0, 97.0), 500.0)
    assert idle.startswith("warehouse 'W5' with capacity is the nearest warehouse of no region within "
                           "network.max_service_km (500 km)")
    assert "3.0% of the units ordered from 2024-07-31 to 2024-08-27 go to the centre: check its lat" in idle
    serving = region_map.assign(warehouse_id=pd.array(["W1", "W5", None], dtype="string"))
    assert idle_warehouse_warnings(serving, warehouses, None, 500.0) == []  # W6 has no capacity


def test_regions_beyond_the_service_radius_are_a_warning_naming_them_and_their_share() -> None:
    """audit33 F4: two busy regions with lat and lon swapped (7,644 km from every warehouse, 12.5% of the
    units) took the plan from 593 to 544 units with exit 0 and no word of them; the centre serves such
    regions by design, so the plan is published, with a warning naming them, their distance and share."""
    from anticipate.demand.idle import far_region_warnings

    region_map = pd.DataFrame({"region": ["R1", "R9"], "warehouse_id": pd.array(["W1", None], dtype="string"),
                               "km": [120.0, 7644.2]})
    (far,) = far_region_warnings(region_map, _recent(100.0, 87.5), 1500.0)
    assert far.startswith("12.5% of the units ordered from 2024-07-31 to 2024-08-27 come from regions "
                          "farther than network.max_service_km (1,500 km) from every warehouse with capacity "
                          "('R9' at 7,644 km): the centre serves them"), far
    assert far_region_warnings(region_map, _recent(100.0, 100.0), 1500.0) == []  # none of their units
    assert far_region_warnings(region_map, None, 1500.0) == []


def test_the_idle_warehouse_warning_says_it_is_left_out_of_the_implicit_centre() -> None:
    """audit22 #2: W9 far from every region moved the implicit centre ~2,000 km and cut the plan's value
    36%, while the warning said only that it 'stocks nothing; 0.0% of the units go to the centre'. It is
    now left out of the centre; the warning says so and where the centre is, to pin it."""
    region_map = pd.DataFrame({"region": ["R1"], "warehouse_id": pd.array(["W1"], dtype="string")})
    warehouses = pd.DataFrame({"warehouse_id": ["W1", "W9"], "capacity": [10.0, 80.0],
                               "lat": [51.0, -45.0], "lon": [-1.0, 170.0]})
    (idle,) = idle_warehouse_warnings(region_map, warehouses, _recent(100.0, 100.0), 1500.0,
                                            centre=(51.2126919, -1.99786))
    assert ("go to the centre; it is left out of the centre's location (network.centre_lat/lon unset: the "
            "capacity-weighted centroid of the warehouses that serve a region, now 51.2127, -1.9979; set "
            "them to pin it): check its lat and lon") in idle
    (pinned,) = idle_warehouse_warnings(region_map, warehouses, None, 1500.0)
    assert "centre" not in pinned  # a pinned centre does not move


def test_warehouses_sharing_a_site_are_named_as_such_not_as_swapped_coordinates() -> None:
    """audit22 #14: all warehouses at W1's location; W1 took every region and the warning suggested
    swapped lat and lon for the other seven."""
    region_map = pd.DataFrame({"region": ["R1", "R2"],
                               "warehouse_id": pd.array(["W1", None], dtype="string")})
    warehouses = pd.DataFrame({"warehouse_id": ["W1", "W2", "W3", "W9"], "capacity": [10.0, 5.0, 5.0, 5.0],
                               "lat": [51.0, 51.0, 51.0, -45.0], "lon": [-1.0, -1.0, -1.0, 170.0]})
    site, far = idle_warehouse_warnings(region_map, warehouses, _recent(100.0, 60.0), 1500.0)
    assert site == ("warehouses 'W2', 'W3' with capacity share the location of 'W1', which serves every "
                    "region nearest to that site (exact ties go to the smaller warehouse_id), so the plan "
                    "stocks nothing in them: if they are one site, give 'W1' their capacity in "
                    "warehouses.parquet; if not, check their lat and lon (a geocoder's default, a copied "
                    "row)")
    assert far.startswith("warehouse 'W9' with capacity is the nearest warehouse of no region")


def test_a_model_with_no_skill_on_its_validation_window_is_a_train_warning() -> None:
    """audit21 #5: a 5-customer sample gave val.auc 0.50 on 12 pairs; trained, registered and promoted
    without a word."""
    y = [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    (said,) = [w for w in [honesty.no_skill_warning(y, 0.50)] if w]
    assert said.startswith("the model shows no skill on its validation window: val.auc 0.500 is within two")
    assert "with 2 buyers among 12 pairs" in said
    assert honesty.no_skill_warning(y, 0.95) is None  # two buyers, but ranked near the top
    assert "val.auc 0.800 is within two standard errors (0.203)" in str(honesty.no_skill_warning(y, 0.80))
    many = [1] * 200 + [0] * 20_000  # the sample's scale: 0.60 is already far from chance there
    assert honesty.no_skill_warning(many, 0.60) is None and honesty.no_skill_warning(many, 0.52) is not None


def test_an_empty_plan_from_move_costs_names_move_cost_per_km(tmp_path: Path) -> None:
    """audit28 f14: economics.move_cost_per_km 1000 left every unit worthless, and the refusal told the
    user to check unit_volume and value_local > cost_unsold (both fine)."""
    from anticipate.config import EconomicsConfig

    target = tmp_path / "plans" / "2024-08-28"
    forecast = pd.DataFrame({"warehouse_id": ["W1"], "sku": ["S1"], "mu": [5.0], "var": [5.0]})
    warehouses = pd.DataFrame({"warehouse_id": ["W1"], "capacity": [15.0]})
    supply, no_units = pd.DataFrame({"sku": ["S1"], "units": [9]}), pd.DataFrame({"units": []})
    products = pd.DataFrame({"sku": ["S1"], "unit_volume": [1.0]})
    economics = EconomicsConfig(move_cost_per_km=1000.0)
    with pytest.raises(gates.PlanRefused) as err:
        gates.check_units(forecast, no_units, products, warehouses, supply, target, economics, "move_cost")
    assert "economics.move_cost_per_km (1000 per unit per km)" in str(err.value)
    assert "unit_volume" not in str(err.value)
