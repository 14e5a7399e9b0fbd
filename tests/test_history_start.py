"""Where the order history starts (audit26 [A]): lines before four weeks without any order are detached.

One order line with a mistyped year (2023-02-03 for 2024-02-03, 1 of 11,282) made the history look a year
longer: the year-ago index of the forecast passed its "half a lookback of history" rule and was computed
over the history's first weeks, where every buyer is new (index 1.0 -> 0.718, new demand -28%, the
forecast -4.7%, exit 0 and no word), and the season family read the empty year as "sold nothing" (0)
instead of "not observed" (NaN). :func:`anticipate.dates.history_start` owns the rule; the forecast, the
feature engine (its partials), the pandas reference and the year-ago training windows all use it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anticipate import dates
from anticipate.config import SampleConfig
from anticipate.demand.forecast import forecast_parts
from anticipate.features import partials as engine
from anticipate.features._sums import day_oldest
from anticipate.features.build import build_features, window_cutoffs
from anticipate.features.join import join
from anticipate.features.reference import build_features_reference
from anticipate.features.spec import FeatureSpec
from anticipate.sample import generate_world
from tests.conftest import WORLD_DATE, TrainedWorld, run_cli

CUTOFF = pd.Timestamp("2024-03-01")
#: The season columns that read the year-ago horizon alone and those that read its base too.
UNITS = ["sea_item_ya_over_recent", "sea_item_units_ya", "sea_ci_units_ya"]
LIFTS = ["sea_shop_lift_ya", "sea_region_lift_ya", "sea_item_lift_ya"]


def _days(*ks: int) -> np.ndarray:
    """A ``per_day`` array for :func:`dates.attached_day` with a line on each day ``k`` before the cutoff."""
    out = np.zeros(max(ks, default=0) + 1)
    out[list(ks)] = 1.0
    return out


def test_the_history_starts_after_the_newest_run_of_28_days_without_a_line() -> None:
    assert dates.DETACHING_GAP_DAYS == 28
    assert dates.attached_day(_days()) == 0  # no line
    assert dates.attached_day(_days(3)) == 3
    assert dates.attached_day(_days(1, 2, 3)) == 3
    assert dates.attached_day(_days(2, 30)) == 30  # 27 empty days (3..29) between: one history
    assert dates.attached_day(_days(2, 31)) == 2  # 28 empty days (3..30): day 31 is detached
    assert dates.attached_day(_days(1, 5, 40, 41, 100)) == 5  # the gap nearest the cutoff decides
    assert dates.attached_day(_days(60, 61)) == 61  # days between the cutoff and the last line are no gap


def test_history_start_on_timestamps_counts_whole_days_without_an_order() -> None:
    def start(*stamps: str, cutoff: pd.Timestamp | None = CUTOFF) -> dates.HistoryStart:
        return dates.history_start(pd.Series(pd.to_datetime(list(stamps))), cutoff)

    # 27 empty days, 2024-01-02 to 2024-01-28: one history
    assert start("2024-01-01 23:59", "2024-01-29 00:00") == dates.HistoryStart(
        CUTOFF, pd.Timestamp("2024-01-01 23:59"))
    # 28 empty days, 2024-01-02 to 2024-01-29, however close the instants
    found = start("2024-01-01 23:59", "2024-01-01 08:00", "2024-01-30 00:00", "2024-02-10 13:00")
    assert found == dates.HistoryStart(CUTOFF, pd.Timestamp("2024-01-30"), 2,
                                       pd.Timestamp("2024-01-01 08:00"), pd.Timestamp("2024-01-01 23:59"))
    assert start("2024-01-01", "2024-03-01", "2025-01-01").detached == 0  # at the cutoff or after: unread
    assert start("2024-03-01") == dates.HistoryStart(CUTOFF, None)
    assert start("2023-01-01", "2024-01-01", cutoff=None).first == pd.Timestamp("2024-01-01")  # all lines
    utc = pd.Series(pd.to_datetime(["2024-01-01 08:00", "2024-01-30 00:30"]).tz_localize("UTC"))
    tokyo = dates.history_start(utc.dt.tz_convert("Asia/Tokyo"), CUTOFF)
    assert tokyo.first == pd.Timestamp("2024-01-30 00:30") and tokyo.detached == 1
    assert found.warnings() == [
        "2 order lines, from 2024-01-01 to 2024-01-01, lie before 28 days without a single order (2024-01-02 "
        "to 2024-01-29), so the history before 2024-03-01 is taken to start at 2024-01-30: the forecast's "
        "year-ago index, the season features' year-ago windows and the year-ago training windows count from "
        "there (those lines still count as their customers' orders). A mistyped year, a test order or an old "
        "file ingested by mistake does this, and so does a closure of 28 days or more: check the order_ts of "
        "those lines, and correct or remove them"]
    assert start("2024-01-01", "2024-01-29").warnings() == []


def test_the_engines_days_are_the_dates_days() -> None:
    rng = np.random.default_rng(3)
    age = np.concatenate([rng.uniform(1e-6, 400.0, 5000), np.arange(1.0, 30.0)])  # and lines at midnight
    fast, slow = day_oldest(age), day_oldest(age, jit=False)
    np.testing.assert_array_equal(fast, slow)
    k = dates.line_days(age)
    expected = np.zeros(k.max() + 1)
    np.maximum.at(expected, k, age)
    np.testing.assert_array_equal(fast, expected)
    assert dates.line_days(np.array([1.0, 1.5, 2.0, 1e-9])).tolist() == [1, 2, 2, 1]
    np.testing.assert_array_equal(day_oldest(np.zeros(0)), [0.0])


# --------------------------------------------------------------------------- the audit's world
def _world() -> pd.DataFrame:
    """The audit's sample (569 customers, 40 SKUs, 11,281 lines, 2024-01-01 to 2025-02-03)."""
    tables, _ = generate_world(SampleConfig(customers=600, skus=40, categories=6, regions=12, warehouses=4,
                                            days=400, start="2024-01-01", seed=11))
    return tables["orders"]


def _typo(orders: pd.DataFrame) -> pd.DataFrame:
    """``orders`` and a copy of its first line of 2024-02-03 dated a year earlier (the audit's typo)."""
    line = orders[orders["order_ts"] >= "2024-02-03"].iloc[[0]].copy()
    line["order_ts"] = line["order_ts"] - pd.DateOffset(years=1)
    line["order_id"] = "TYPO1"
    return pd.concat([line, orders], ignore_index=True).astype(orders.dtypes.to_dict())


def _moved(orders: pd.DataFrame) -> pd.DataFrame:
    """``orders`` and copies of its first 300 lines 400 days earlier (the audit's old block)."""
    old = orders.iloc[:300].copy()
    old["order_ts"] = old["order_ts"] - pd.Timedelta(days=400)
    old["order_id"] = "OLD" + old["order_id"].astype(str)
    return pd.concat([old, orders], ignore_index=True).astype(orders.dtypes.to_dict())


def _new_demand(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    scored = pd.DataFrame(columns=["customer_id", "item", "region", "p_buy", "units_given_buy"])
    warnings: list[str] = []
    parts = forecast_parts(scored, orders, cutoff, horizon_days=7, lookback_days=365, item_level="sku",
                           products=None, new_demand_windows=4, sku_share_days=90, year_ago_index=True,
                           new_demand_sku_windows=4, warnings=warnings)
    assert warnings == []
    return parts["new"].sort_values(["region", "sku"]).reset_index(drop=True)


def test_a_stray_line_a_year_back_leaves_the_forecasts_new_demand_as_it_was() -> None:
    """The audit: new demand at 2025-02-04 x0.718 (one line) and x0.64 (300 lines 400 days back)."""
    orders, cutoff = _world(), pd.Timestamp("2025-02-04")
    base = _new_demand(orders, cutoff)
    assert base["mu"].sum() == pytest.approx(31.75, abs=0.01)
    for changed in (_typo(orders), _moved(orders)):
        pd.testing.assert_frame_equal(_new_demand(changed, cutoff), base, check_exact=True)


def test_a_stray_line_a_year_back_leaves_the_season_family_unobserved() -> None:
    """At 2024-12-10 the history (from 2024-01-01) does not reach the year-ago windows: NaN, and the typo
    line of 2023-02-03 made them 0 for every pair."""
    orders, cutoff = _world(), pd.Timestamp("2024-12-10")
    spec = FeatureSpec(lookback_days=365, horizon_days=7, families=("season",))
    plain, typo = build_features(orders, cutoff, spec), build_features(_typo(orders), cutoff, spec)
    assert plain[UNITS + LIFTS].isna().all().all() and typo[UNITS + LIFTS].isna().all().all()
    pd.testing.assert_frame_equal(typo, plain, check_exact=True)
    assert build_features(_moved(orders), cutoff, spec)[UNITS].isna().all().all()


def _small_log(seed: int = 2, n: int = 1200) -> pd.DataFrame:
    """Two years of lines of 6 customers (some line every day or two), from 2024-01-01."""
    rng = np.random.default_rng(seed)
    order = rng.integers(0, n // 2, n)
    minute = rng.integers(0, 720 * 24 * 60, n // 2)
    return pd.DataFrame({
        "order_id": [f"O{o}" for o in order],
        "customer_id": [f"C{c}" for c in rng.integers(0, 6, n // 2)[order]],
        "order_ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(minute[order], unit="min"),
        "sku": [f"S{s}" for s in rng.integers(0, 4, n)],
        "quantity": rng.integers(1, 4, n).astype(np.int64),
        "unit_price": np.ones(n),
        "region": [f"R{r}" for r in rng.integers(0, 3, n)],
    })


def test_engine_partitions_and_reference_agree_on_where_a_history_with_a_stray_line_starts() -> None:
    """The partials carry the days with a line (combined by max), so a partition that holds only the
    stray line, or only the real start, gives the whole history's start; the pandas reference uses
    :func:`dates.history_start` itself."""
    log = _small_log()
    stray = log.iloc[[0]].assign(customer_id="C9", order_id="X", order_ts=pd.Timestamp("2023-03-01 10:00"))
    orders = pd.concat([stray, log], ignore_index=True)
    spec = FeatureSpec(lookback_days=120, horizon_days=7)
    for cutoff in (pd.Timestamp("2024-12-20"), pd.Timestamp("2025-02-10")):
        whole = build_features(orders, cutoff, spec)
        pd.testing.assert_frame_equal(whole, build_features_reference(orders, cutoff, lookback_days=120,
                                                                     horizon_days=7), check_dtype=False,
                                      rtol=1e-9)
        parts = [engine.prepare(orders[orders["customer_id"] == c], cutoff, spec)
                 for c in sorted(orders["customer_id"].unique())]
        totals = engine.combine([p.partials for p in parts])
        joined = pd.concat([join(p, totals, cutoff, spec) for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(joined.sort_values(["customer_id", "item"], ignore_index=True), whole,
                                      check_exact=True)
        assert totals.oldest == pytest.approx((cutoff - log["order_ts"].min()) / pd.Timedelta(days=1))
    seen = build_features(orders, pd.Timestamp("2025-02-10"), spec)
    assert seen[UNITS].notna().all().all()  # the real history covers 2024-02-06: observed
    assert build_features(orders, pd.Timestamp("2024-12-20"), spec)[UNITS].isna().all().all()


def test_a_stray_line_brings_back_no_year_ago_training_window_before_the_real_start() -> None:
    until = pd.Timestamp("2024-12-02")  # year-ago cutoffs 2023-11-20 .. 2023-12-11: before the history
    orders = _small_log()
    plain = window_cutoffs(orders, until, 7, 3, year_ago=4)
    assert plain == [pd.Timestamp(d) for d in ("2024-11-11", "2024-11-18", "2024-11-25")]
    stray = orders.iloc[[0]].assign(order_ts=pd.Timestamp("2023-01-05"))
    assert window_cutoffs(pd.concat([stray, orders]), until, 7, 3, year_ago=4) == plain


# --------------------------------------------------------------------------- the commands say so
@pytest.mark.slow
def test_commands_that_read_a_history_with_detached_lines_say_so(trained_world: TrainedWorld,
                                                                  tmp_path: Path) -> None:
    world = trained_world.copy(tmp_path / "world")
    orders = pd.read_parquet(world.data / "orders.parquet")
    shutil.copy(world.data / "orders.parquet", tmp_path / "plain.parquet")
    _typo(orders).to_parquet(world.data / "orders.parquet", index=False)
    said = ("1 order line, on 2023-02-03, lies before 331 days without a single order "
            "(2023-02-04 to 2023-12-31)")
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("model:\n  train_windows: 2\n  classifier: {n_estimators: 5}\n"
                    "  regressor: {n_estimators: 5}\n")
    runs = {
        "forecast": ["forecast", "--cutoff", WORLD_DATE, "--out", str(tmp_path / "fc.parquet")],
        "allocate": ["allocate", "--date", WORLD_DATE],
        "features": ["features", "--out", str(tmp_path / "f.parquet")],
        "evaluate": ["evaluate", "--model", "1", "--cutoff", "2024-08-21", "--in-sample"],
        "train": ["train", "--until", "latest"],
    }
    for name, args in runs.items():
        config = tiny if name == "train" else world.config
        done = run_cli(*world.args("--json", *args, config=config), cwd=tmp_path)
        assert done.returncode == 0, (name, done.stderr[-2000:])
        warned = [w for w in json.loads(done.stdout).get("warnings", []) if w.startswith(said)]
        assert len(warned) == 1 and "taken to start at 2024-01-01" in warned[0], (name, done.stdout[-2000:])
        assert said in done.stderr, name
    summary = json.loads((tmp_path / "plans" / WORLD_DATE / "summary.json").read_text())
    assert any(w.startswith(said) for w in summary["input_warnings"])
    shutil.copy(tmp_path / "plain.parquet", world.data / "orders.parquet")
    quiet = run_cli(*world.args("--json", *runs["features"]), cwd=tmp_path)
    assert quiet.returncode == 0 and "lies before" not in quiet.stdout + quiet.stderr


@pytest.mark.slow
def test_features_and_predict_say_the_last_day_looks_partial_as_forecast_does(trained_world: TrainedWorld,
                                                                              tmp_path: Path) -> None:
    """audit31 B: two lines on the day after the data (00:10, 00:20, an export taken just after midnight):
    forecast and evaluate said the last day looked partial, features and predict said nothing."""
    world = trained_world.copy(tmp_path / "world")
    orders = pd.read_parquet(world.data / "orders.parquet")
    late = orders.iloc[-2:].assign(order_ts=pd.to_datetime(["2024-08-28 00:10", "2024-08-28 00:20"]),
                                   order_id=["LATE1", "LATE2"])
    pd.concat([orders, late], ignore_index=True).astype(orders.dtypes.to_dict()).to_parquet(
        world.data / "orders.parquet", index=False)
    said = "the orders' last day, 2024-08-28 (a Wednesday), holds 2 lines"
    for args in (["features", "--out", str(tmp_path / "f.parquet")],
                 ["predict", "--out", str(tmp_path / "p.parquet")],
                 ["forecast", "--out", str(tmp_path / "fc.parquet")]):
        done = run_cli(*world.args("--json", *args), cwd=tmp_path)
        assert done.returncode == 0, (args[0], done.stderr[-2000:])
        warned = [w for w in json.loads(done.stdout)["warnings"] if w.startswith(said)]
        assert len(warned) == 1 and "looks like a partial export" in warned[0], (args[0], done.stdout[-2000:])
        assert said in done.stderr, args[0]


# --------------------------------------------------------------------------- cutoffs among detached lines
def _first_day_reference(ts: pd.Series) -> pd.Timestamp:
    """Plain Python: the first day of the first stretch (days <= 28 apart) spanning 28 days or more with
    lines in 4 weeks or more (7-day bins since 1970-01-01), else the first line's day."""
    days = sorted({t.normalize() for t in ts})

    def week(day: pd.Timestamp) -> int:
        return (day - pd.Timestamp("1970-01-01")).days // 7

    stretches = [[days[0], days[0], {week(days[0])}]]
    for day in days[1:]:
        if (day - stretches[-1][1]).days > dates.DETACHING_GAP_DAYS:
            stretches.append([day, day, {week(day)}])
        else:
            stretches[-1][1] = day
            stretches[-1][2].add(week(day))
    return next((a for a, b, w in stretches
                 if (b - a).days >= dates.DETACHING_GAP_DAYS and len(w) >= dates.HISTORY_MIN_WEEKS), days[0])


def test_the_history_first_day_agrees_with_its_reference() -> None:
    """:func:`dates.history_first_day` (a sort-free pass over calendar days) against the plain rule."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        days = np.sort(rng.choice(300, rng.integers(1, 80), replace=False))
        seconds = days * 86400 + rng.integers(0, 86400, len(days))
        ts = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(seconds, unit="s"))
        assert dates.history_first_day(ts) == _first_day_reference(ts), days
    utc = pd.Series(pd.to_datetime(["2024-01-01 08:00", "2024-01-30 00:30", "2024-02-20 00:00",
                                       "2024-03-10 00:00", *pd.date_range("2024-02-21", periods=14)]
                                      ).tz_localize("UTC"))  # the second stretch: lines on 17 days
    assert dates.history_first_day(utc.dt.tz_convert("Asia/Tokyo")) == pd.Timestamp("2024-01-30")


@pytest.mark.parametrize(("closed", "first"), [
    (("2024-08-01", "2024-09-04"), "2024-01-01"),  # a 5-week summer closure: the months before it count
    (("2024-12-16", "2025-01-19"), "2024-01-01"),  # a winter closure
])
def test_a_closure_after_months_of_orders_leaves_the_cutoffs_before_it_valid(closed: tuple[str, str],
                                                                            first: str) -> None:
    """audit30 A1: one closure of 28 days or more made every cutoff before it invalid (features, evaluate,
    backtest, train --until exit 2 on seven unbroken months; a plain train exit 2 after a winter closure)."""
    days = pd.date_range("2024-01-01", "2025-02-03", freq="D")
    days = days[(days < closed[0]) | (days > closed[1])]
    ts = pd.Series(days + pd.Timedelta(hours=10))
    assert dates.history_first_day(ts) == pd.Timestamp(first)
    assert dates.detached_note(ts) == ""
    assert dates.check_cutoff(pd.Timestamp("2024-07-01"), ts, 7, "labelled", command="evaluate")
    monthly = pd.Series(pd.date_range("2024-01-01", "2025-02-01", freq="MS"))  # a log billed once a month
    assert dates.history_first_day(monthly) == pd.Timestamp("2024-01-01")


def test_a_sparse_first_stretch_is_no_history_and_a_cutoff_in_a_long_gap_is_warned_of() -> None:
    """audit31 B: three lines on 2023-03-01, 03-20 and 04-05 (19 and 16 days apart, a stretch spanning 35
    days) ahead of 2024's orders made 2023-09-01 a valid cutoff: features exit 0 with '3 candidate pairs',
    forecast '0 units expected', no word. A stretch needs lines in 4 weeks to be history; a cutoff in a gap
    of 28 days or more without a line is warned of, naming the last line before it and the gap."""
    stray = pd.Series(pd.to_datetime(["2023-03-01 10:00", "2023-03-20 10:00", "2023-04-05 10:00"]))
    daily = pd.Series(pd.date_range("2024-01-01", "2024-06-30", freq="D") + pd.Timedelta(hours=9))
    ts = pd.concat([stray, daily], ignore_index=True)
    assert dates.history_first_day(ts) == pd.Timestamp("2024-01-01")
    with pytest.raises(dates.CutoffError) as err:
        dates.check_cutoff(pd.Timestamp("2023-09-01"), ts, 7, "production", command="features")
    assert "(2024-01-02 to 2024-07-01" in str(err.value)
    assert "3 order lines, from 2023-03-01 to 2023-04-05, lie before 270 days" in str(err.value)
    assert "or lines in fewer than 4 weeks" in str(err.value)
    fourteen = pd.Series(pd.date_range("2023-03-01", periods=14, freq="3D") + pd.Timedelta(hours=9))
    assert dates.history_first_day(pd.concat([fourteen, daily])) == pd.Timestamp("2023-03-01")  # history
    # audit32: a shop whose customers order on Mondays, 12 Mondays before a 5-week closure, is history
    mondays = pd.Series(pd.date_range("2024-01-01", "2024-03-18", freq="7D") + pd.Timedelta(hours=9))
    after = pd.Series(pd.date_range("2024-04-22", periods=20, freq="7D") + pd.Timedelta(hours=9))
    assert dates.history_first_day(pd.concat([mondays, after])) == pd.Timestamp("2024-01-01")
    closed = daily[(daily < "2024-03-01") | (daily >= "2024-04-05")]  # a 5-week closure, March
    [said] = dates.detached_warnings(closed, pd.Timestamp("2024-03-15"))
    assert said == (
        "the cutoff 2024-03-15 falls in a gap of 35 days without a single order line (2024-03-01 to "
        "2024-04-04): the last line before it is on 2024-02-29, 14 days earlier, so its features read those "
        "days as a customer base that stopped buying and its new demand as none; a closure, an export that "
        "missed those days or stray lines ahead of the history do this: check the orders around it, or pick "
        "a cutoff outside the gap")
    assert dates.check_cutoff(pd.Timestamp("2024-03-15"), closed, 7, "production", command="forecast")
    [first_day] = dates.detached_warnings(closed, pd.Timestamp("2024-03-01"))  # audit32: was "0 days earlier"
    assert ("(2024-03-01 to 2024-04-04): it is the day after the last line before the gap, so its features "
            "are whole but the horizons after it fall in the gap") in first_day
    [second_day] = dates.detached_warnings(closed, pd.Timestamp("2024-03-02"))
    assert "the last line before it is on 2024-02-29, 1 day earlier, so its features read" in second_day
    assert dates.detached_warnings(closed, pd.Timestamp("2024-02-20")) == []  # before the closure: quiet
    assert dates.detached_warnings(daily, dates.data_end(daily)) == []  # the production cutoff: quiet


def test_a_cutoff_among_detached_lines_is_refused_naming_them() -> None:
    """audit (h31 [2]): the valid range began the day after the first line, detached or not: ``forecast
    --cutoff 2023-06-01`` on a log with one line typed 2023-02-03 (history from 2024-01-01) forecast from
    that line alone (1 cell, 0 units, exit 0, no word of the typo: nothing before 2023-06-01 is detached
    from 2023-06-01), evaluate and backtest blamed "a closure or a gap in the export", and train --until
    2023-12-01 counted 42 windows in the empty year and failed on "a single-class label set"."""
    from anticipate.models.training import check_until, windows_that_fit

    orders = _typo(_world())
    ts = orders["order_ts"]
    assert dates.data_start(ts) == pd.Timestamp("2023-02-03")
    assert dates.valid_range(ts, 7, "production")[0] == pd.Timestamp("2024-01-02")
    said = ("the history starts on 2024-01-01: 1 order line, on 2023-02-03, lies before 331 days without a "
            "single order, detached from it, so a cutoff among them would read those lines alone")
    for purpose, command in (("production", "forecast"), ("labelled", "evaluate")):
        with pytest.raises(dates.CutoffError) as err:
            dates.check_cutoff(pd.Timestamp("2023-06-01"), ts, 7, purpose, command=command)
        assert f"outside the valid range for '{command}' (2024-01-02 to " in str(err.value)
        assert said in str(err.value)
    assert dates.check_cutoff(pd.Timestamp("2024-01-02"), ts, 7, "production", command="forecast")
    assert dates.until_range(ts, 7, 2)[0] == pd.Timestamp("2024-01-16")
    assert windows_that_fit(pd.Timestamp("2024-01-20"), ts, 7) == 2
    with pytest.raises(dates.UsageError) as until:
        check_until(pd.Timestamp("2023-12-01"), ts, 7, 2)
    assert "pass --until between 2024-01-16 and" in str(until.value) and said in str(until.value)
    plain = _world()["order_ts"]
    assert dates.valid_range(plain, 7, "production")[0] == pd.Timestamp("2024-01-02")  # as before


def test_a_plan_date_among_detached_lines_is_refused_by_the_history_gate(tmp_path: Path) -> None:
    """allocate --date 2023-06-01 planned on the one typo'd line (an empty plan, exit 0): its recent window
    reached back to that line; now it starts at the history's first day, and the gate names it."""
    from anticipate.demand.gates import PlanRefused, check_history, recent_window

    ts = _typo(_world())["order_ts"]
    date = pd.Timestamp("2023-06-01")
    window = recent_window(ts, date, horizon_days=7, windows=4)
    assert window is None
    with pytest.raises(PlanRefused) as err:
        check_history(window, ts, date, 7, tmp_path / "plans" / "2023-06-01")
    assert "the orders begin on 2024-01-01, after 2023-06-01: no history before it" in str(err.value)
    said = str(err.value)
    assert "plan a date from 2024-01-08 on" in said and "1 order line, on 2023-02-03" in said
    assert recent_window(ts, pd.Timestamp("2024-01-15"), horizon_days=7, windows=4) == (
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-15"))


def test_a_cutoff_before_the_data_is_not_blamed_on_its_horizon() -> None:
    """audit30 C4: a cutoff before the first order was refused as 'its whole horizon must lie inside'."""
    ts = _world()["order_ts"]
    with pytest.raises(dates.CutoffError) as err:
        dates.check_cutoff(dates.data_start(ts) - pd.Timedelta(days=30), ts, 7, "labelled",
                           command="evaluate")
    assert "a cutoff must have at least one day of orders before it" in str(err.value)
    assert "whole horizon" not in str(err.value)


def test_the_gates_reading_start_agrees_with_history_start() -> None:
    """The history gate's start (calendar days, one pass) is the history's first day or, after a gap of 28
    days or more before the date, the first line after it: as :func:`dates.history_start` finds it."""
    from anticipate.demand.history_gate import reading_start

    rng = np.random.default_rng(3)
    for _ in range(200):
        days = np.sort(rng.choice(300, rng.integers(1, 80), replace=False))
        seconds = days * 86400 + rng.integers(0, 86400, len(days))
        ts = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(seconds, unit="s"))
        for date in pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(1, 320, 4), unit="D"):
            if (ts < date).any():
                since = dates.history_start(ts, date).first.normalize()
                assert reading_start(ts, date) == max(dates.history_first_day(ts), since), (days, date)
