"""Property/fuzz test of ingest: for messy CSVs, rows_in == accepted + rejected, no accepted row breaks
the schema, and nothing but a DataError ever escapes. ``FUZZ_EXAMPLES`` raises the count (``make fuzz``)."""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anticipate.config import load_config
from anticipate.errors import DataError
from anticipate.ingest import parse, validate
from anticipate.pipelines import Settings
from anticipate.pipelines.ingest import run_ingest

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
KNOWN_REASONS = set(parse.REASONS.values()) | set(validate.FIXES)

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


def _quote(value: str, delimiter: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in (delimiter, '"', "\n")) else value


def _ragged(draw: st.DrawFn, row: list[str]) -> list[str]:
    """The row as drawn, or (one time in four) a line with a field missing or one extra."""
    shape = draw(st.sampled_from(["ok", "ok", "ok", "ok", "ok", "ok", "short", "long"]))
    return row[:-1] if shape == "short" else [*row, "extra"] if shape == "long" else row


@st.composite
def messy_csv(draw: st.DrawFn) -> tuple[str, str]:
    """(CSV text, delimiter): 0-25 random lines, some with a field too few or too many, sometimes an
    exact duplicate line."""
    n = draw(st.integers(0, 25))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    rows = [_ragged(draw, [draw(strategy) for strategy in cells.values()]) for _ in range(n)]
    if rows and draw(st.booleans()):
        rows.append(list(rows[0]))  # an exact duplicate line
    header = delimiter.join(cells)
    body = "".join(delimiter.join(_quote(v, delimiter) for v in row) + "\n" for row in rows)
    return header + "\n" + body, delimiter


def _check_accepted(orders: pd.DataFrame) -> None:
    assert (orders["customer_id"].astype(str).str.strip() != "").all()
    assert (orders["quantity"] >= 1).all()
    prices = orders["unit_price"].to_numpy(float)
    given_prices = prices[~np.isnan(prices)]  # unit_price is optional: missing stays NaN
    assert (np.isfinite(given_prices) & (given_prices >= 0)).all()
    assert not orders["order_ts"].isna().any()
    assert orders["order_ts"].between(parse.TS_MIN, parse.TS_MAX).all()
    assert (orders["customer_id"].str.len() <= parse.MAX_TEXT_CHARS).all()
    assert str(orders["order_ts"].dtype) == "datetime64[ns]" and str(orders["quantity"].dtype) == "int64"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_csv(), st.sampled_from([1, 3, 1000]), st.booleans(), st.booleans())
def test_nothing_is_lost_and_nothing_bad_is_accepted(
    csv_and_delimiter: tuple[str, str], chunk_rows: int, bom: bool, gz: bool
) -> None:
    body, _ = csv_and_delimiter
    overrides = {"ingest.max_reject_share": 1.0, "ingest.chunk_rows": chunk_rows}
    cfg = load_config(None, overrides=overrides)
    settings_ = Settings(cfg=cfg, data_dir=Path("."), tracking_uri="sqlite:///unused.db", progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / ("orders.csv.gz" if gz else "orders.csv")
        raw = ("\ufeff" if bom else "").encode() + body.encode("utf-8")
        source.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
        try:
            result = run_ingest(settings_, sources={"orders": source}, out=Path(tmp) / "out")
        except DataError as exc:
            assert not (Path(tmp) / "out").exists()  # a refused file writes nothing
            # with max_reject_share 1 only a file without data rows, one none of whose rows is good (an empty
            # orders table is not published), or one whose dates ('01/02/2025') fit both day/month orders,
            # may be refused; a bad row of a file with a good one is quarantined and counted
            ambiguous = "day/month order is ambiguous" in str(exc) and "01/02/2025" in body
            none_good = re.search(r"none of the [\d,]+ orders rows was accepted", str(exc)) is not None
            assert len(body.splitlines()) == 1 or ambiguous or none_good, f"refused a file with rows: {exc}"
            return
        counts = result.counts
        assert counts["rows_in"] == counts["rows_accepted"] + counts["rows_rejected"]
        assert counts["rows_in"] == len(body.splitlines()) - 1
        orders = pd.read_parquet(Path(tmp) / "out" / "orders.parquet")
        rejects = pd.read_parquet(Path(tmp) / "out" / "rejects.parquet")
        assert len(orders) == counts["rows_accepted"]
        assert rejects["row"].nunique() == len(rejects) == counts["rows_rejected"]
        assert rejects["row"].between(1, counts["rows_in"]).all()
        assert set(rejects["reason"]) <= KNOWN_REASONS
        _check_accepted(orders)
