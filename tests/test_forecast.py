"""Forecast moments: formulas against simulation, var >= mu >= 0, new demand, category splits."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anticipate.backtest.realised import customer_regions, horizon_lines
from anticipate.config import ForecastConfig
from anticipate.demand.forecast import (
    candidate_demand,
    forecast_from_scores,
    pair_moments,
    shares_from_units,
    split_to_skus,
    to_warehouses,
)
from anticipate.demand.new_demand import (
    configured_sku_windows,
    new_demand,
    new_demand_from_table,
    non_candidate_table,
    year_ago_factor,
    year_ago_history_days,
    year_ago_ratio,
    year_ago_table,
)


def test_pair_moments_match_simulation() -> None:
    rng = np.random.default_rng(0)
    p, m = 0.3, 2.5
    buy = rng.random(400_000) < p
    units = np.where(buy, 1 + rng.poisson(m - 1, 400_000), 0)
    mean, var = pair_moments(np.array([p]), np.array([m]))
    assert mean[0] == pytest.approx(units.mean(), rel=0.01)
    assert var[0] == pytest.approx(units.var(), rel=0.02)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.5, 6)), min_size=1, max_size=30), st.floats(1.0, 3.0))
def test_warehouse_forecast_has_var_at_least_mu(pairs: list[tuple[float, float]], dispersion: float) -> None:
    scored = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(pairs))],
            "item": ["s1", "s2"] * 15 if len(pairs) == 30 else ["s1"] * len(pairs),
            "region": "r1",
            "p_buy": [p for p, _ in pairs],
            "units_given_buy": [m for _, m in pairs],
        }
    )
    cand = candidate_demand(scored, item_level="sku", shares=None)
    out = to_warehouses(
        [cand], pd.DataFrame({"region": ["r1"], "warehouse_id": ["W1"]}), dispersion=dispersion
    )
    assert (out["mu"] >= 0).all() and (out["var"] >= out["mu"] - 1e-12).all()
    assert out["mu"].sum() == pytest.approx(sum(p * max(m, 1.0) for p, m in pairs))


def test_centre_served_regions_add_nothing() -> None:
    part = pd.DataFrame({"region": ["near", "far"], "sku": ["s", "s"], "mu": [1.0, 5.0], "var": [1.0, 5.0]})
    region_map = pd.DataFrame(
        {"region": ["near", "far"], "warehouse_id": pd.array(["W1", None], dtype="string")}
    )
    out = to_warehouses([part], region_map)
    assert out.to_dict("records") == [{"warehouse_id": "W1", "sku": "s", "mu": 1.0, "var": 1.0}]


def test_category_split_preserves_total_mu() -> None:
    pairs = pd.DataFrame({"region": ["r", "q"], "item": ["c1", "c1"], "mu": [2.0, 1.0], "var": [3.0, 1.0]})
    shares = pd.DataFrame(
        {
            "region": ["r", "r", "*", "*"],
            "item": ["c1"] * 4,
            "sku": ["a", "b", "a", "b"],
            "share": [0.25, 0.75, 0.5, 0.5],
        }
    )
    out = split_to_skus(pairs, shares)
    assert out["mu"].sum() == pytest.approx(3.0)
    assert out[(out["region"] == "q")]["mu"].tolist() == [0.5, 0.5]  # q has no history: global shares


def test_a_category_unsold_in_the_share_window_spreads_its_demand_over_its_skus() -> None:
    """audit21: a category with candidates but no units in forecast.sku_share_days lost its demand."""
    units = pd.DataFrame({"region": ["r"], "item": ["c1"], "sku": ["a"], "units": [4.0]})
    products = pd.DataFrame({"sku": ["a", "b", "x", "y", "z"], "category": ["c1", "c1", "c2", "c2", None]})
    shares = shares_from_units(units, products)
    pairs = pd.DataFrame({"region": ["r", "r"], "item": ["c1", "c2"], "mu": [2.0, 3.0], "var": [2.0, 4.0]})
    out = split_to_skus(pairs, shares).set_index("sku")
    assert out["mu"].to_dict() == {"a": 2.0, "x": 1.5, "y": 1.5}  # c1 by its sales, c2 evenly (was lost)
    assert out.loc["x", "var"] == pytest.approx(1.0)  # s^2 var
    assert shares[shares["item"] == "ALL"]["sku"].tolist() == ["z"]  # no category: 'ALL', as item_column


def _log(rows: list[tuple[str, str, str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "order_ts": pd.to_datetime([r[1] for r in rows]),
            "sku": [r[2] for r in rows],
            "quantity": np.array([r[3] for r in rows], dtype=np.int64),
            "unit_price": 1.0,
            "region": [r[4] for r in rows],
        }
    )


def _steady(start: str, end: str) -> list[tuple[str, str, str, int, str]]:
    """A line of customer ``z`` (item ``t``) every 20 days from ``start`` to ``end``: a hand-made log's
    months between its lines of interest would otherwise be 28 days without any order, which detach
    the lines before them from the history (dates.history_start). ``z`` is a candidate at each line
    after its first, so these lines are never new demand."""
    days = pd.date_range(start, end, freq="20D")
    return [("z", f"{d:%Y-%m-%d}", "t", 1, "r") for d in days]


def test_new_demand_counts_only_pairs_that_were_not_candidates() -> None:
    orders = _log(
        [
            ("old", "2025-01-01", "s", 1, "r"),  # makes (old, s) a candidate later
            ("old", "2025-01-10", "s", 5, "r"),  # candidate pair: not new demand
            ("new", "2025-01-11", "s", 2, "r"),  # new customer: new demand
            ("old", "2025-01-12", "t", 3, "r"),
        ]
    )  # new item for an old customer: new demand
    out = new_demand(
        orders,
        pd.Timestamp("2025-01-15"),
        horizon_days=7,
        lookback_days=30,
        windows=1,
        item_level="sku",
        products=None,
    ).set_index("sku")
    assert out.loc["s", "mu"] == 2.0 and out.loc["t", "mu"] == 3.0


def _non_candidate_reference(orders: pd.DataFrame, t: pd.Timestamp, item: pd.Series) -> dict:
    """Plain-Python non-candidate units at ``t`` (horizon 7, lookback 30 days): a set of the known pairs."""
    rows = list(zip(orders["customer_id"], item, orders["order_ts"], orders["region"], orders["sku"],
                    orders["quantity"], strict=True))
    known = {(c, i) for c, i, ts, *_ in rows if t - pd.Timedelta(days=30) <= ts < t}
    out: dict = {}
    for c, i, ts, region, sku, q in rows:
        if t <= ts < t + pd.Timedelta(days=7) and (c, i) not in known:
            out[(region, sku)] = out.get((region, sku), 0) + q
    return out


@pytest.mark.parametrize("item_level", ["sku", "category"])
def test_non_candidate_table_equals_a_set_of_the_known_pairs_per_window(item_level: str) -> None:
    rng = np.random.default_rng(17)
    n = 600  # half of the lines at midnight: on the window edges too
    days = rng.integers(0, 120, n)
    orders = pd.DataFrame({
        "customer_id": rng.choice([f"c{k}" for k in range(25)], n),
        "order_ts": pd.Timestamp("2025-01-01")
        + pd.to_timedelta(days * 86400 + rng.integers(0, 86400, n) * (rng.random(n) < 0.5), "s"),
        "sku": rng.choice([f"s{k}" for k in range(8)], n),
        "quantity": rng.integers(1, 5, n),
        "region": rng.choice(["r1", "r2", "r3"], n),
    })
    edge = pd.DataFrame({  # a candidate through a line exactly 30 days before the last window
        "customer_id": "e", "order_ts": pd.to_datetime(["2025-03-24", "2025-04-24"]), "sku": "s0",
        "quantity": [1, 2], "region": "r1",
    })
    orders = pd.concat([orders, edge], ignore_index=True)
    products = pd.DataFrame({"sku": [f"s{k}" for k in range(8)], "category": list("AABBCCDD")})
    item = orders["sku"] if item_level == "sku" else orders["sku"].map(products.set_index("sku")["category"])
    cutoff = pd.Timestamp("2025-04-30")
    table = non_candidate_table(orders, cutoff, horizon_days=7, lookback_days=30, windows=4,
                                item_level=item_level, products=products)
    for k in range(4):
        t = cutoff - pd.Timedelta(days=7 * (4 - k))
        got = {key: v for key, v in table[k].items() if v != 0}
        assert got == _non_candidate_reference(orders, t, item)
    assert table.to_numpy().sum() > 0


def test_new_demand_splits_each_regions_level_by_the_skus_shares_over_all_regions() -> None:
    orders = _log(
        [
            ("n1", "2025-01-02", "b", 6, "q"),  # the older window: only the SKU shares see it
            ("n2", "2025-01-09", "a", 2, "r"),  # the last window: each region's level
            ("n3", "2025-01-10", "a", 2, "q"),
        ]
    )
    kw = {"horizon_days": 7, "lookback_days": 30, "windows": 1, "item_level": "sku", "products": None}
    cutoff = pd.Timestamp("2025-01-15")
    split = new_demand(orders, cutoff, sku_windows=2, **kw).set_index(["region", "sku"])
    # level 2 units in r and in q; SKU shares over both windows: a 4/10, b 6/10
    assert split["mu"].to_dict() == pytest.approx(
        {("q", "a"): 0.8, ("q", "b"): 1.2, ("r", "a"): 0.8, ("r", "b"): 1.2}
    )
    assert (split["var"] == split["mu"]).all()
    own = new_demand(orders, cutoff, sku_windows=0, **kw).set_index(["region", "sku"])
    assert own["mu"].to_dict() == {("q", "a"): 2.0, ("r", "a"): 2.0}
    assert new_demand_from_table(pd.DataFrame(), 4, 12).empty


def test_the_configs_new_demand_split_takes_the_sku_shares_over_the_same_windows() -> None:
    assert configured_sku_windows(ForecastConfig(new_demand_windows=6)) == 6
    assert configured_sku_windows(ForecastConfig(new_demand_windows=6, new_demand_split="cell")) == 0


def test_year_ago_index_scales_new_demand_by_what_the_same_horizon_did_last_year() -> None:
    cutoff = pd.Timestamp("2025-12-01")  # its horizon 52 weeks back: [2024-12-02, 2024-12-09)
    orders = _log(
        [
            ("u0", "2024-10-25", "t", 1, "r"),  # the history starts over half a lookback before them
            ("u1", "2024-11-20", "s", 2, "r"),  # the two horizons before it: 2 units each
            ("u2", "2024-11-26", "s", 2, "r"),
            ("u3", "2024-12-03", "s", 3, "r"),  # the year-ago horizon: 1.5x
            ("u4", "2024-12-09", "s", 50, "r"),  # just after it
            ("n1", "2025-11-20", "s", 1, "r"),  # new demand now: mean 2 per horizon
            ("n2", "2025-11-27", "s", 3, "r"),
            *_steady("2024-12-20", "2025-11-10"),  # no four weeks without an order in between
        ]
    )
    kw = {"horizon_days": 7, "lookback_days": 30, "windows": 2, "item_level": "sku", "products": None}
    history = year_ago_history_days(orders["order_ts"].min(), cutoff, horizon_days=7, windows=2)
    assert history == 24  # 2024-10-25 to 2024-11-18, the first of the year-ago table's horizons
    ratio = partial(year_ago_ratio, windows=2, lookback_days=30)
    assert ratio(year_ago_table(orders, cutoff, **kw), history_days=history) == 1.5
    recent = orders[orders["order_ts"] > "2025-01-01"]
    assert ratio(year_ago_table(recent, cutoff, **kw), history_days=0) == 1.0
    region_map = pd.DataFrame({"region": ["r"], "warehouse_id": ["w"]})
    scored = pd.DataFrame(columns=["customer_id", "item", "region", "p_buy", "units_given_buy"])
    plain, seasonal = (
        forecast_from_scores(scored, orders, cutoff, horizon_days=7, lookback_days=30, item_level="sku",
                             products=None, region_map=region_map, new_demand_windows=2, year_ago_index=on,
                             dispersion=1.0, sku_share_days=90, new_demand_sku_windows=0)
        for on in (False, True)
    )
    assert plain["mu"].tolist() == [2.0] and seasonal["mu"].tolist() == [3.0]
    assert (seasonal["var"] >= seasonal["mu"]).all()


def test_year_ago_index_is_bounded_and_a_week_outside_the_range_is_named() -> None:
    """audit22 #3: six days missing a year ago (2024-12-25..30, a closure or an export gap) gave an index
    of 0.11 and a backtest bias of -22.1% (+4.9% on the full data), without a word."""
    cutoff = pd.Timestamp("2025-12-01")  # year-ago horizon [2024-12-02, 2024-12-09)
    base = [("u0", "2024-10-25", "t", 1, "r"), ("u1", "2024-11-20", "s", 4, "r"),
            ("u2", "2024-11-26", "s", 4, "r"), ("n1", "2025-11-20", "s", 2, "r"),
            ("n2", "2025-11-27", "s", 2, "r"), *_steady("2024-12-20", "2025-11-10")]
    kw = {"horizon_days": 7, "lookback_days": 30, "windows": 2, "item_level": "sku", "products": None}
    history = year_ago_history_days(pd.Timestamp("2024-10-25"), cutoff, horizon_days=7, windows=2)
    factor = partial(year_ago_factor, windows=2, history_days=history, lookback_days=30, cutoff=cutoff,
                     horizon_days=7)
    found = {}
    for units in (0, 1, 4, 8, 12):
        orders = _log([*base, ("u3", "2024-12-03", "s", units, "r")] if units else base)
        found[units] = factor(year_ago_table(orders, cutoff, **kw))
    assert {u: f[0] for u, f in found.items()} == {0: 0.5, 1: 0.5, 4: 1.0, 8: 2.0, 12: 2.0}
    assert found[4][1] is None and found[8][1] is None  # 2.0 is inside the range
    assert found[1][1] == (
        "the year-ago index at 2025-12-01 is 0.25, outside 0.5 to 2, so new demand is scaled by 0.5 "
        "instead: new customers bought 1 units in the year-ago horizon 2024-12-02 to 2024-12-08 against 4 "
        "per horizon in the 2 before it (2024-11-18 to 2024-12-01); a week so far from the ones before it "
        "is more often a closure, an export gap or a one-off campaign than the season: check the orders of "
        "those days (forecast.year_ago_index: false turns the index off)")
    assert "is 0, outside" in str(found[0][1]) and "is 3, outside" in str(found[12][1])
    warnings: list[str] = []
    region_map = pd.DataFrame({"region": ["r"], "warehouse_id": ["w"]})
    scored = pd.DataFrame(columns=["customer_id", "item", "region", "p_buy", "units_given_buy"])
    table = forecast_from_scores(scored, _log([*base, ("u3", "2024-12-03", "s", 1, "r")]), cutoff,
                                 region_map=region_map, new_demand_windows=2, year_ago_index=True,
                                 dispersion=1.0, sku_share_days=90, new_demand_sku_windows=0,
                                 warnings=warnings, **{k: v for k, v in kw.items() if k != "windows"})
    assert table["mu"].tolist() == [1.0] and warnings == [found[1][1]]  # 2 units a horizon, halved


def test_year_ago_index_needs_half_a_lookback_of_history_before_its_windows() -> None:
    """Near the history's start every buyer is new: a year-ago horizon of the first weeks against windows
    before the first order gave the sample's first January 28x its new demand (12,485 units, 1,475 sold)."""
    cutoff = pd.Timestamp("2025-01-06")  # year-ago horizon [2024-01-08, 2024-01-15), history from 2024-01-01
    orders = _log([("a", "2024-01-02", "s", 1, "r"), ("b", "2024-01-09", "s", 30, "r"),
                   ("n1", "2024-12-24", "s", 2, "r"), ("n2", "2024-12-31", "s", 2, "r")])
    table = year_ago_table(orders, cutoff, horizon_days=7, lookback_days=30, windows=2, item_level="sku",
                           products=None)
    assert table.sum(axis=0).tolist() == [0.0, 1.0, 30.0]  # a raw index of 60
    history = year_ago_history_days(orders["order_ts"].min(), cutoff, horizon_days=7, windows=2)
    assert history == -8  # the table starts 2023-12-25, 8 days before the first order
    assert year_ago_ratio(table, 2, history_days=history, lookback_days=30) == 1.0
    assert year_ago_ratio(table, 2, history_days=15, lookback_days=30) == 60.0  # half a lookback: used
    assert year_ago_ratio(table, 2, history_days=14, lookback_days=30) == 1.0


def test_horizon_lines_use_the_customers_region_at_the_cutoff() -> None:
    orders = _log(
        [
            ("c", "2025-01-01", "s", 1, "home"),
            ("c", "2025-01-09", "s", 1, "away"),
            ("n", "2025-01-09", "s", 1, "away"),
        ]
    )
    region_map = pd.DataFrame({"region": ["home", "away"], "warehouse_id": ["W_home", "W_away"]})
    lines = horizon_lines(orders, pd.Timestamp("2025-01-05"), 7, region_map)
    assert lines.set_index("customer_id")["warehouse_id"].to_dict() == {"c": "W_home", "n": "W_away"}


def test_the_replays_region_at_the_cutoff_is_the_features_rule_in_any_row_order() -> None:
    """Lines at the customer's last instant: most units decide, then the region first in sort order."""
    from anticipate.features.build import build_features

    orders = _log(
        [
            ("a", "2025-01-01", "s", 5, "r3"),  # older: never decides
            ("a", "2025-01-03", "s", 1, "r2"),
            ("a", "2025-01-03", "t", 3, "r1"),  # a's last instant: r1 has the most units
            ("b", "2025-01-02", "s", 2, "r2"),
            ("b", "2025-01-02", "t", 2, "r1"),  # b's tie: r1 first in sort order
            ("b", "2025-01-06", "s", 9, "r3"),  # after the cutoff
        ]
    )
    cutoff = pd.Timestamp("2025-01-05")
    backwards = pd.CategoricalDtype(["r3", "r2", "r1"])  # a categorical's own order never decides the tie
    for order in (orders, orders.iloc[::-1], orders.astype({"region": backwards})):
        assert customer_regions(order, cutoff).to_dict() == {"a": "r1", "b": "r1"}
    feats = build_features(orders, cutoff, horizon_days=7, lookback_days=30)
    assert feats.groupby("customer_id")["region"].first().astype(str).to_dict() == {"a": "r1", "b": "r1"}


@pytest.mark.parametrize("configured", [10, 500])
def test_new_demand_windows_past_the_history_are_capped_with_a_warning(configured: int) -> None:
    """audit28 f03: windows before the history's start counted 0 units and windows in its first lookback
    counted every returning buyer as new (+33% new demand with 52 windows on a 393-day shop), no warning.

    History 2025-01-01 to 2025-02-04, lookback 14 days, horizon 7: three horizons (from 2025-01-15) are
    clear of the first lookback. A daily buyer is new only in the horizon from 2025-01-01 (7 units); a
    new customer buys 6 units in the last one."""
    days = pd.date_range("2025-01-01", "2025-02-04", freq="D").strftime("%Y-%m-%d")
    orders = _log([*(("a", d, "s", 1, "r") for d in days), ("n", "2025-01-30", "s", 6, "r")])
    cutoff = pd.Timestamp("2025-02-05")
    region_map = pd.DataFrame({"region": ["r"], "warehouse_id": ["w"]})
    scored = pd.DataFrame(columns=["customer_id", "item", "region", "p_buy", "units_given_buy"])
    warnings: list[str] = []
    out = forecast_from_scores(scored, orders, cutoff, horizon_days=7, lookback_days=14, item_level="sku",
                               products=None, region_map=region_map, new_demand_windows=configured,
                               year_ago_index=False, dispersion=1.0, sku_share_days=90,
                               new_demand_sku_windows=configured, warnings=warnings)
    assert out["mu"].tolist() == [2.0]  # 6 units over the 3 clean horizons (uncapped: 13 / 10, 13 / 500)
    assert warnings == [
        "cutoff 2025-02-05: 3 horizon(s) of 7 days lie after the history's first lookback "
        "(time.lookback_days 14 from 2025-01-01; in that first lookback every returning buyer counts as "
        f"new), so new demand averages 3, not the {configured} of forecast.new_demand_windows"]
    quiet: list[str] = []
    forecast_from_scores(scored, orders, cutoff, horizon_days=7, lookback_days=14, item_level="sku",
                         products=None, region_map=region_map, new_demand_windows=3, year_ago_index=False,
                         dispersion=1.0, sku_share_days=90, new_demand_sku_windows=3, warnings=quiet)
    assert quiet == []
