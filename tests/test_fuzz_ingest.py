"""Property/fuzz test of ingest: for messy CSVs, rows_in == accepted + rejected, no accepted row breaks
the schema, and nothing but a DataError ever escapes. ``FUZZ_EXAMPLES`` raises the count (``make fuzz``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anticipate.config import load_config
from anticipate.errors import DataError
from anticipate.pipelines import Settings
from anticipate.pipelines.ingest import run_ingest

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))

cells = {
    "order_id": st.sampled_from(["o1", "o2", "", "o,3", 'o"4', "o5"]),
    "customer_id": st.sampled_from(["c1", "c2", "", " ", "c\u00e9", "c" * 300]),
    "order_ts": st.sampled_from(
        [
            "2025-01-01 10:00:00",
            "2025-01-02",
            "01/02/2025",
            "9999-12-31",
            "1900-01-01",
            "yesterday",
            "",
            "2025-02-30",
            "2025-01-03T04:05:06Z",
        ]
    ),
    "sku": st.sampled_from(["s1", "s2", "", "s\u00fc"]),
    "quantity": st.sampled_from(["1", "2", "0", "-1", "1.5", "x", "", "99999999999999999999"]),
    "unit_price": st.sampled_from(["1.0", "0", "-2", "nan", "inf", "1e308", "", "abc", "3,5"]),
    "region": st.sampled_from(["r1", "r2", ""]),
}


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


@st.composite
def messy_csv(draw: st.DrawFn) -> str:
    n = draw(st.integers(0, 25))
    rows = [[draw(strategy) for strategy in cells.values()] for _ in range(n)]
    if rows and draw(st.booleans()):
        rows.append(list(rows[0]))  # an exact duplicate line
    header = ",".join(cells)
    return header + "\n" + "".join(",".join(_quote(v) for v in row) + "\n" for row in rows)


def _check_accepted(orders: pd.DataFrame) -> None:
    assert (orders["customer_id"].astype(str).str.strip() != "").all()
    assert (orders["quantity"] >= 1).all()
    prices = orders["unit_price"].to_numpy(float)
    given_prices = prices[~np.isnan(prices)]  # unit_price is optional: missing stays NaN
    assert (np.isfinite(given_prices) & (given_prices >= 0)).all()
    assert not orders["order_ts"].isna().any()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_csv())
def test_nothing_is_lost_and_nothing_bad_is_accepted(body: str) -> None:
    cfg = load_config(None, overrides={"ingest.max_reject_share": 1.0})
    settings_ = Settings(cfg=cfg, data_dir=Path("."), tracking_uri="sqlite:///unused.db", progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "orders.csv"
        source.write_text(body, encoding="utf-8")
        try:
            result = run_ingest(settings_, sources={"orders": source}, out=Path(tmp) / "out")
        except DataError:
            assert not (Path(tmp) / "out").exists()  # a refused file writes nothing
            return
        counts = result.counts
        assert counts["rows_in"] == counts["rows_accepted"] + counts["rows_rejected"]
        assert counts["rows_in"] == len(body.splitlines()) - 1
        orders = pd.read_parquet(Path(tmp) / "out" / "orders.parquet")
        rejects = pd.read_parquet(Path(tmp) / "out" / "rejects.parquet")
        assert len(orders) == counts["rows_accepted"]
        assert rejects["row"].nunique() == counts["rows_rejected"]
        _check_accepted(orders)
