"""Ingest: nothing lost, and every kind of bad input named by file, row, column and fix (exit 2)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from anticipate.cli import main

HEADER = "order_id,customer_id,order_ts,sku,quantity,unit_price,region\n"
GOOD = [
    "o1,c1,2025-01-01 10:00:00,s1,1,2.50,r1\n",
    "o2,c2,2025-01-02 11:00:00,s2,2,3.00,r1\n",
    "o3,c1,2025-01-03 12:00:00,s1,1,2.50,r2\n",
]


def _ingest(tmp_path: Path, orders: Path, *extra: str) -> tuple[int, str, dict]:
    result = CliRunner().invoke(
        main, ["--json", "ingest", "--orders", str(orders), "--out", str(tmp_path / "out"), *extra]
    )
    lines = [ln for ln in result.stdout.strip().splitlines() if ln.startswith("{")]
    return result.exit_code, result.output, json.loads(lines[-1]) if lines else {}


def _csv(tmp_path: Path, body: str, name: str = "orders.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode(encoding) if isinstance(body, str) else body)
    return path


def test_good_file_is_ingested_and_counted(tmp_path: Path) -> None:
    code, _, out = _ingest(tmp_path, _csv(tmp_path, HEADER + "".join(GOOD)))
    assert code == 0
    assert out["counts"]["rows_in"] == 3 and out["counts"]["rows_accepted"] == 3
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["quantity"].tolist() == [1, 2, 1] and str(orders["order_ts"].dtype).startswith("datetime64")
    assert pd.read_parquet(tmp_path / "out" / "rejects.parquet").empty


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        ("o9,c9,2025-01-04 10:00:00,s1,-1,2.50,r1\n", "quantity", "returns are not orders"),
        ("o9,c9,2025-01-04 10:00:00,s1,0,2.50,r1\n", "quantity", "non-positive quantity"),
        ("o9,c9,2025-01-04 10:00:00,s1,1,nan,r1\n", "unit_price", ""),
        ("o9,c9,2025-01-04 10:00:00,s1,1,inf,r1\n", "unit_price", ""),
        ("o9,c9,not a date,s1,1,2.5,r1\n", "order_ts", "date"),
        ("o9,c9,2025-01-04 10:00:00,s1,one,2.5,r1\n", "quantity", ""),
        ("o9,,2025-01-04 10:00:00,s1,1,2.5,r1\n", "customer_id", ""),
    ],
)
def test_bad_row_fails_the_run_naming_file_row_and_column(
    tmp_path: Path, line: str, column: str, reason: str
) -> None:
    path = _csv(tmp_path, HEADER + "".join(GOOD) + line)
    code, output, _ = _ingest(tmp_path, path)
    assert code == 2  # 1 of 4 rows rejected is more than the default 1%
    assert "orders.csv" in output and "row 4" in output and column in output and reason in output
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_bad_rows_under_the_share_are_quarantined_and_counted(tmp_path: Path) -> None:
    body = HEADER + "".join(f"x{i}," + g.split(",", 1)[1] for i, g in enumerate(GOOD * 40))
    body += "o9,c9,2025-01-04 10:00:00,s1,-1,2.50,r1\n"
    code, _, out = _ingest(tmp_path, _csv(tmp_path, body), "--config", str(_share(tmp_path, 0.05)))
    assert code == 0
    assert out["counts"] == {**out["counts"], "rows_in": 121, "rows_accepted": 120, "rows_rejected": 1}
    rejects = pd.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects[["row", "column"]].to_dict("records") == [{"row": 121, "column": "quantity"}]
    assert rejects["file"].iloc[0].endswith("orders.csv") and rejects["value"].iloc[0] == "-1"


def _share(tmp_path: Path, share: float) -> Path:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"ingest:\n  max_reject_share: {share}\n")
    return cfg


def test_exact_duplicate_lines_are_rejected_as_duplicate(tmp_path: Path) -> None:
    body = HEADER + "".join(GOOD) + GOOD[0]
    code, _, out = _ingest(tmp_path, _csv(tmp_path, body), "--config", str(_share(tmp_path, 0.5)))
    assert code == 0 and out["counts"]["rows_rejected"] == 1
    assert pd.read_parquet(tmp_path / "out" / "rejects.parquet")["reason"].tolist() == ["duplicate"]


def test_unknown_sku_and_region_when_tables_are_given(tmp_path: Path) -> None:
    products = _csv(tmp_path, "sku,category,unit_volume\ns1,c,1.0\n", "products.csv")
    regions = _csv(tmp_path, "region,lat,lon\nr1,50,5\nr2,51,6\n", "regions.csv")
    code, output, _ = _ingest(
        tmp_path,
        _csv(tmp_path, HEADER + "".join(GOOD)),
        "--products",
        str(products),
        "--regions",
        str(regions),
    )
    assert code == 2 and "row 2" in output and "sku" in output


@pytest.mark.parametrize("case", ["missing_column", "empty", "header_only", "directory", "not_there"])
def test_unusable_files_exit_2_with_a_message(tmp_path: Path, case: str) -> None:
    make = {
        "missing_column": lambda: _csv(tmp_path, "order_id,customer_id,sku\no1,c1,s1\n"),
        "empty": lambda: _csv(tmp_path, ""),
        "header_only": lambda: _csv(tmp_path, HEADER),
        "directory": lambda: tmp_path,
        "not_there": lambda: tmp_path / "nope.csv",
    }
    code, output, _ = _ingest(tmp_path, make[case]())
    assert code == 2
    assert "Traceback" not in output and "error:" in output
    if case == "missing_column":
        assert "order_ts" in output


def test_bom_semicolons_gzip_and_a_minimal_log(tmp_path: Path) -> None:
    body = "\ufeffcustomer;date;qty;amount\nc1;2025-01-01;2;10.0\nc2;2025-01-02;1;5.0\n"
    path = tmp_path / "log.csv.gz"
    path.write_bytes(gzip.compress(body.encode("utf-8")))
    code, output, out = _ingest(tmp_path, path)
    assert code == 0, output
    assert out["counts"]["rows_accepted"] == 2
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert set(orders["sku"]) == {"ALL"} and set(orders["region"]) == {"ALL"}
    assert orders["unit_price"].tolist() == [5.0, 5.0]  # amount / quantity


def test_long_field_and_non_utf8_byte_are_quarantined_not_crashing(tmp_path: Path) -> None:
    long_id = "c" * 10_000
    body = (HEADER + "".join(GOOD) + f"o8,{long_id},2025-01-04 10:00:00,s1,1,2.5,r1\n").encode()
    body += b"o9,c\xff9,2025-01-05 10:00:00,s1,1,2.5,r1\n"
    code, output, out = _ingest(tmp_path, _csv(tmp_path, body), "--config", str(_share(tmp_path, 0.9)))
    assert code == 0, output
    counts = out["counts"]
    assert counts["rows_in"] == counts["rows_accepted"] + counts["rows_rejected"] == 5
