"""Ingest: nothing lost, and every kind of bad input named by file, row, column and fix (exit 2)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
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


# --------------------------------------------------------------------------- more bad input, both outcomes
def _many_good(n: int = 200, tag: str = "o") -> str:
    return "".join(f"{tag}{i},c{i % 7},2025-01-{1 + i % 28:02d} 10:00:00,s1,1,2.50,r1\n" for i in range(n))


def _rejects(tmp_path: Path) -> list[dict]:
    return pd.read_parquet(tmp_path / "out" / "rejects.parquet").to_dict("records")


def test_on_error_fail_stops_at_the_first_bad_row_with_value_and_fix(tmp_path: Path) -> None:
    body = HEADER + _many_good(50) + "o9,c9,2025-01-04 10:00:00,s1,-3,2.50,r1\n" + "o9,,x,s1,1,1,r1\n"
    code, output, out = _ingest(tmp_path, _csv(tmp_path, body), "--on-error", "fail")
    assert code == 2 and out["status"] == "error"
    assert "row 51, column 'quantity'" in output and "'-3'" in output and "returns are not orders" in output
    assert "Fix:" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("line", "reason", "value"),
    [
        ("o9,c9,9999-12-31,s1,1,2.5,r1\n", "out of range", "9999-12-31"),
        ("o9,c9,1900-01-01,s1,1,2.5,r1\n", "out of range", "1900-01-01"),
        ("o9,c9,2025-01-04,s1,1,-inf,r1\n", "not finite (NaN or inf)", "-inf"),
        ("o9,c9,2025-01-04,s1,1,€2,r1\n", "not a number", "€2"),
        (f"o9,{'z' * 10_000},2025-01-04,s1,1,2.5,r1\n", "value too long", "z" * 200),
    ],
)
def test_a_bad_row_under_the_share_is_quarantined_with_its_value(
    tmp_path: Path, line: str, reason: str, value: str
) -> None:
    code, output, out = _ingest(tmp_path, _csv(tmp_path, HEADER + _many_good() + line))
    assert code == 0, output
    assert out["counts"]["rows_rejected"] == 1 and out["counts"]["rows_accepted"] == 200
    assert [(r["row"], r["reason"], r["value"]) for r in _rejects(tmp_path)] == [(201, reason, value)]
    assert "warning" in output and "1 of 201 rows" in output  # reported, not silent


def test_non_utf8_byte_rejects_that_row_as_encoding(tmp_path: Path) -> None:
    body = (HEADER + _many_good()).encode() + b"o9,c\xe99,2025-01-05 10:00:00,s1,1,2.5,r1\n"
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, body))
    assert code == 0, output
    [reject] = _rejects(tmp_path)
    assert (reject["row"], reject["column"], reject["reason"], reject["value"]) == (
        201, "customer_id", "encoding", "c\\xe99")
    latin1 = (HEADER + "o1,Zoë,2025-01-01,s1,1,1,r1\no2,Chloé,2025-01-02,s1,1,1,r1\n").encode("latin-1")
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, latin1, "latin.csv"))
    assert code == 2 and "encoding" in output and "UTF-8" in output and "latin.csv" in output


def test_plain_bom_and_semicolons_with_decimal_commas(tmp_path: Path) -> None:
    body = "\ufeffCustomerID;InvoiceDate;Qty;Price\nc1;2025-01-01;2;3,5\nc2;2025-01-02;1;4\n"
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, body))
    assert code == 0, output
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["customer_id"].tolist() == ["c1", "c2"] and orders["unit_price"].tolist() == [3.5, 4.0]
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())["tables"]["orders"]
    assert report["bom"] and report["delimiter"] == ";" and report["columns"]["order_ts"] == "InvoiceDate"


def test_wrong_field_counts_and_multiline_fields_keep_row_numbers_exact(tmp_path: Path) -> None:
    body = (HEADER + GOOD[0] + "o2,c2,2025-01-02,s1,1\n" + '"o3\nstill o3",c3,2025-01-03,s1,1,1,r1\n'
            + "o4,c4,2025-01-04,s1,0,1,r1\n")
    code, output, out = _ingest(tmp_path, _csv(tmp_path, body), "--config", str(_share(tmp_path, 0.9)))
    assert code == 0, output
    assert out["counts"]["rows_in"] == 4 and out["counts"]["rows_accepted"] == 2
    assert [(r["row"], r["reason"]) for r in _rejects(tmp_path)] == [
        (2, "wrong number of fields"), (4, "non-positive quantity (returns are not orders)")]


def test_a_far_future_typo_is_after_the_datas_own_max(tmp_path: Path) -> None:
    body = HEADER + _many_good() + "o9,c9,2205-01-04 10:00:00,s1,1,2.5,r1\n" + _many_good(5, "late")
    code, output, out = _ingest(tmp_path, _csv(tmp_path, body), "--config", str(_share(tmp_path, 0.05)))
    assert code == 0, output
    assert [(r["row"], r["reason"]) for r in _rejects(tmp_path)] == [
        (201, "after the data's own max + 1 day")]
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert len(orders) == out["counts"]["rows_accepted"] == 205 and orders["order_ts"].max().year == 2025


def test_small_chunks_give_the_same_output_as_one_chunk(tmp_path: Path) -> None:
    body = HEADER + _many_good(60) + GOOD[0] + _many_good(30, "p") + GOOD[0] + "o1,c1,2025-01-01,s1,x,1,r1\n"
    src = _csv(tmp_path, body)
    cfg = tmp_path / "small.yaml"
    cfg.write_text("ingest:\n  chunk_rows: 7\n  max_reject_share: 0.5\n")
    results = []
    for name, extra in (("big", ["--config", str(_share(tmp_path, 0.5))]), ("small", ["--config", str(cfg)])):
        out = tmp_path / name
        args = ["--json", "ingest", "--orders", str(src), "--out", str(out), *extra]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        results.append((pd.read_parquet(out / "orders.parquet"), pd.read_parquet(out / "rejects.parquet")))
    pd.testing.assert_frame_equal(results[0][0], results[1][0])
    pd.testing.assert_frame_equal(results[0][1], results[1][1])
    assert results[0][1][["row", "reason"]].values.tolist() == [[92, "duplicate"], [93, "not an integer"]]


def test_parquet_in_and_broken_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"customer_id": ["c1", "c2", "c1"], "order_ts": pd.to_datetime(
        ["2025-01-01", "2025-01-02", "2025-01-01"]).tz_localize("Europe/Paris"), "quantity": [1, 2, 1]})
    frame.to_parquet(tmp_path / "o.parquet")
    code, output, _ = _ingest(tmp_path, tmp_path / "o.parquet", "--config", str(_share(tmp_path, 0.5)))
    assert code == 0, output
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["order_ts"].tolist() == [pd.Timestamp("2024-12-31 23:00"), pd.Timestamp("2025-01-01 23:00")]
    assert _rejects(tmp_path)[0]["reason"] == "duplicate"
    broken = tmp_path / "broken.parquet"
    broken.write_bytes((tmp_path / "o.parquet").read_bytes()[:-40])
    code, output, _ = _ingest(tmp_path, broken)
    assert code == 2 and "broken.parquet" in output and "truncated or corrupt" in output


@pytest.mark.parametrize(("name", "content", "said"), [
    ("orders.json", b'{"customer_id": "c1", "order_ts": "2025-01-01"}\n', "this is JSON, not CSV"),
    ("orders.json.gz", gzip.compress(b'[\n {"customer_id": "c1"}\n]\n', mtime=0), "this is JSON, not CSV"),
    ("orders.csv.bz2", b"BZh91AY&SY\x93\x01", "this is bzip2-compressed: decompress it (bunzip2)"),
    ("orders.csv.zst", b"\x28\xb5\x2f\xfd\x04\x00", "this is zstd-compressed"),
    ("orders.xls", b"\xd0\xcf\x11\xe0\xa1\xb1", "this is an old Excel workbook (.xls)"),
    ("orders.feather", b"ARROW1\x00\x00", "this is an Arrow IPC (Feather) file"),
])
def test_a_file_in_another_format_is_named_as_such(tmp_path: Path, name: str, content: bytes,
                                                   said: str) -> None:
    """A JSON-lines or bzip2 export was read as CSV and failed on a 'missing customer_id column'
    whose 'columns found' were the file's raw first bytes."""
    path = tmp_path / name
    path.write_bytes(content)
    code, output, _ = _ingest(tmp_path, path)
    output = " ".join(output.split())
    assert code == 2 and f"file {path}: {said}" in output, output
    assert "ingest reads CSV (UTF-8, optionally gzip) and Parquet" in output and "customer_id" not in output


def test_a_directory_of_part_files_says_how_to_combine_them(tmp_path: Path) -> None:
    """A Spark/Hive export is a directory of parts; the message said only 'pass the file inside it'."""
    parts = tmp_path / "export"
    parts.mkdir()
    for k in range(4):
        _csv(parts, HEADER + GOOD[k % 3], name=f"part-{k}.csv")
    (parts / "_SUCCESS").write_text("")
    code, output, _ = _ingest(tmp_path, parts)
    output = " ".join(output.split())
    assert code == 2 and (f"file {parts}: this is a directory of 4 part files (part-0.csv, part-1.csv, "
                          "part-2.csv, ...), and ingest reads one file") in output, output
    assert f"ds.dataset('{parts}')" in output and "add each other one with --append" in output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "pass the CSV or Parquet file inside it" in " ".join(_ingest(tmp_path, empty)[1].split())


def test_sql_server_bracketed_names_are_still_csv(tmp_path: Path) -> None:
    path = _csv(tmp_path, "[order_id],[customer_id],[order_ts],[sku],[quantity],[unit_price],[region]\n"
                + "".join(GOOD))
    code, output, out = _ingest(tmp_path, path)
    assert code == 0 and out["counts"]["rows_accepted"] == 3, output  # names unbracketed, not refused

def test_two_exports_concatenated_with_another_column_order_are_refused(tmp_path: Path) -> None:
    """`cat sepoct.csv novdec.csv` where the second export lists customer_id before order_id: its header
    line was one 'unparseable date' reject and every line after it was accepted with the two ids swapped
    (exit 0). Now exit 2 naming the row and both column orders, and nothing is written."""
    swapped = "customer_id,order_id,order_ts,sku,quantity,unit_price,region\n"
    later = ["c7,o7,2025-02-01 10:00:00,s1,1,2.50,r1\n", "c8,o8,2025-02-02 10:00:00,s2,1,2.50,r1\n"]
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, HEADER + "".join(GOOD) + swapped + "".join(later)),
                              "--max-reject-share", "1")
    output = " ".join(output.split())
    said = "row 4: this data row is a header line, with the file's columns in another order"
    assert code == 2 and said in output, output
    assert ("the header reads 'order_id', 'customer_id', 'order_ts'" in output
            and "row 4 reads 'customer_id', 'order_id', 'order_ts'" in output), output
    assert "split the file at this row" in output and "--append" in output and "Traceback" not in output
    assert not (tmp_path / "out").exists()
    # a second export with one more column: its header line is a record with the wrong number of fields
    wider = HEADER.strip() + ",channel\n"
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, HEADER + "".join(GOOD) + wider
                                             + "o9,c9,2025-02-01 10:00:00,s1,1,2.50,r1,web\n"),
                              "--max-reject-share", "1")
    output = " ".join(output.split())
    assert code == 2 and "row 4: this data row is a header line, with other columns than the file's" in (
        output), output
    assert "'region', 'channel'" in output and not (tmp_path / "out").exists()
    # ... and most of the file: the reader stopped at the wrong field counts and named the delimiter
    many = [f"o{i},c{i},2025-02-01 10:00:00,s1,1,2.50,r1,web\n" for i in range(1200)]
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, HEADER + "".join(GOOD) + wider + "".join(many)))
    output = " ".join(output.split())
    assert code == 2 and "row 4: most records have a different number of fields than the header's 7, " in (
        output) and "a header line with 8 columns (two exports concatenated" in output, output
    products = _csv(tmp_path, "sku,category,unit_volume\ns1,a,1\ns2,b,2\ncategory,sku,unit_volume\nc,s3,1\n",
                    name="products.csv")
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, HEADER + "".join(GOOD)), "--products", str(products))
    output = " ".join(output.split())
    assert code == 2 and f"file {products}, row 3: this data row is a header line" in output, output
    assert "put the second part's columns in the header's order" in output


def test_a_header_line_repeated_in_the_same_order_is_rejected_as_such(tmp_path: Path) -> None:
    """Files concatenated with their headers in one layout: each repeated header line was rejected as an
    'unparseable date' (value 'order_ts'); it now has its own reason, and the rows around it are kept."""
    body = HEADER + GOOD[0] + HEADER + GOOD[1] + HEADER.upper() + GOOD[2]
    code, output, out = _ingest(tmp_path, _csv(tmp_path, body), "--max-reject-share", "1")
    assert code == 0 and out["counts"]["rows_accepted"] == 3, output
    rejects = pd.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects[["row", "column", "value", "reason"]].to_dict("records") == [
        {"row": 2, "column": "", "value": HEADER.strip(), "reason": "repeated header line"},
        {"row": 4, "column": "", "value": HEADER.strip().upper(), "reason": "repeated header line"}]
    assert "rejected (repeated header line x 2)" in " ".join(output.split())
    assert pd.read_parquet(tmp_path / "out" / "orders.parquet")["order_id"].tolist() == ["o1", "o2", "o3"]


@pytest.mark.parametrize(("first", "name"), [("sep=;\n", "orders.csv"), ("\ufeffsep=;\r\n", "orders.csv"),
                                           ('"sep=;"\n', "orders.csv"), ("sep=;\n", "orders.csv.gz")])
def test_excels_separator_line_is_honoured(tmp_path: Path, first: str, name: str) -> None:
    """An Excel CSV starting with `sep=;` was read with the columns 'sep=' and 'column_2' (exit 2, no
    hint): the line names the delimiter, the header is the next line, rows are counted after it."""
    lines = [ln.replace(",", ";").replace("2.50", "2,50") for ln in [HEADER, *GOOD]]
    lines.insert(3, "o9;c9;2025-01-04 10:00:00;s1;1;2,50;r1;extra\n")
    body = (first + "".join(lines)).encode()
    path = _csv(tmp_path, gzip.compress(body) if name.endswith(".gz") else body, name=name)
    code, output, out = _ingest(tmp_path, path, "--max-reject-share", "1")
    assert code == 0 and out["counts"]["rows_accepted"] == 3, output
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["unit_price"].tolist() == [2.5, 3.0, 2.5]
    assert orders["customer_id"].tolist() == ["c1", "c2", "c1"]
    rejects = pd.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects[["row", "reason"]].to_dict("records") == [{"row": 3, "reason": "wrong number of fields"}]
    assert any("is Excel's separator hint: read ';' as the delimiter" in w for w in out["warnings"]), out
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, "sep=\n" + "".join(lines)))
    output = " ".join(output.split())
    assert code == 2 and "the first line 'sep=' looks like Excel's separator hint, but names no usable" in (
        output), output


def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    """A header with `quantity` twice used the first and only listed the other as ignored: which one is
    the quantity must be said, not guessed."""
    twice = HEADER.strip() + ",quantity\n"
    rows = [ln.strip() + ",5\n" for ln in GOOD]
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, twice + "".join(rows)))
    output = " ".join(output.split())
    said = (f"file {tmp_path / 'orders.csv'}, column 'quantity': the header names the same column twice: "
            "'quantity' (fields 5 and 8), both orders.quantity")
    assert code == 2 and said in output, output
    assert "delete the wrong one, or rename one of them" in output and not (tmp_path / "out").exists()
    spelled = _csv(tmp_path, HEADER.strip() + ",Quantity\n" + "".join(rows))
    code, output, _ = _ingest(tmp_path, spelled)
    output = " ".join(output.split())
    assert code == 2 and "'quantity' and 'Quantity' (fields 5 and 8)" in output, output
    assert "--map orders.quantity=<name>" in output
    code, output, _ = _ingest(tmp_path, spelled, "--map", "orders.quantity=Quantity")
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "orders.parquet")["quantity"].tolist() == [5, 5, 5]


def test_truncated_gzip_exits_2(tmp_path: Path) -> None:
    data = gzip.compress((HEADER + _many_good(3000)).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    code, output, _ = _ingest(tmp_path, path)
    assert code == 2 and "cut.csv.gz" in output and "gzip" in output and "Traceback" not in output


def test_truncated_gzip_names_the_rows_before_the_break(tmp_path: Path) -> None:
    import zlib

    data = gzip.compress((HEADER + _many_good(70_000)).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    readable = zlib.decompressobj(wbits=31).decompress(path.read_bytes())
    complete = readable.count(b"\n") - 1  # data lines wholly before the break
    assert complete > 40_000
    code, output, _ = _ingest(tmp_path, path)
    assert code == 2 and f"after data row {complete:,}" in output, output


def test_a_million_columns_and_a_100mb_line_exit_2_quickly(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n" + "1," * 999_999 + "1\n")
    code, output, _ = _ingest(tmp_path, wide)
    assert code == 2 and "2,000 columns" in output
    long = tmp_path / "long.csv"
    with open(long, "w") as fh:
        fh.write(HEADER + _many_good(10) + "o1,")
        for _ in range(100):
            fh.write("x" * (1 << 20))
        fh.write(",2025-01-01,s1,1,1,r1\n")
    code, output, _ = _ingest(tmp_path, long)
    assert code == 2 and "longer than 4 MiB" in output and "after row 10" in output


def test_reference_tables_are_validated_and_checked_against(tmp_path: Path) -> None:
    products = _csv(tmp_path, "sku,category\ns1,a\ns2,b\ns2 ,b\n", "products.csv")
    warehouses = _csv(tmp_path, "warehouse_id,lat,lon,capacity\nw1,50,5,1e308\nw2,95,5,10\n", "wh.csv")
    supply = _csv(tmp_path, "sku,units\ns1,10\nzz,5\n", "supply.csv")
    body = HEADER + "".join(GOOD) + "o4,c4,2025-01-04 10:00:00,s9,1,2.50,r1\n"
    args = ["--products", str(products), "--warehouses", str(warehouses), "--supply", str(supply),
            "--config", str(_share(tmp_path, 0.5))]
    code, output, out = _ingest(tmp_path, _csv(tmp_path, body), *args)
    assert code == 0, output
    reasons = {(r["table"], r["row"], r["reason"]) for r in _rejects(tmp_path)}
    assert reasons == {("products", 3, "duplicate key"), ("warehouses", 2, "latitude out of range"),
                       ("supply", 2, "unknown sku"), ("orders", 4, "unknown sku")}
    assert out["counts"]["warehouses_rows_accepted"] == 1 and "effectively unlimited" in output
    assert out["counts"]["rows_in"] == out["counts"]["rows_accepted"] + out["counts"]["rows_rejected"] == 11
    warnings = json.loads((tmp_path / "out" / "ingest_report.json").read_text())["warnings"]
    assert [w.split(" (")[0] for w in warnings if "rejected (" in w] == [
        "products: 1 of 3 rows", "warehouses: 1 of 2 rows", "supply: 1 of 2 rows"]  # a plan repeats them
    assert any(w.startswith("products: 1 row(s) repeat the sku") and "rows 2 and 3" in w for w in warnings)


def test_out_is_replaced_whole_or_left_alone(tmp_path: Path) -> None:
    good = _csv(tmp_path, HEADER + "".join(GOOD))
    assert _ingest(tmp_path, good)[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    bad = _csv(tmp_path, HEADER + "o1,c1,never,s1,1,1,r1\n", "bad.csv")
    assert _ingest(tmp_path, bad)[0] == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert sorted(before) == ["ingest_report.json", "orders.parquet", "rejects.parquet"]
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.txt").write_text("precious")
    result = CliRunner().invoke(main, ["ingest", "--orders", str(good), "--out", str(home)])
    assert result.exit_code == 2 and "not a data directory" in result.output
    assert (home / "thesis.txt").read_text() == "precious"
    result = CliRunner().invoke(main, ["ingest", "--orders", str(good), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "contains the orders input" in result.output


def test_column_mapping_per_table_from_config(tmp_path: Path) -> None:
    cfg = tmp_path / "map.yaml"
    cfg.write_text("ingest:\n  columns:\n    orders: {customer_id: Kunde, order_ts: Wann}\n")
    body = "Kunde,Wann,date\nk1,2025-03-01,garbage\nk2,2025-03-02,garbage\n"
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, body), "--config", str(cfg))
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "orders.parquet")["customer_id"].tolist() == ["k1", "k2"]
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    assert report["tables"]["orders"]["columns"] == {"customer_id": "Kunde", "order_ts": "Wann"}
    assert report["rows_in"] == 2 and len(report["tables"]["orders"]["sha256"]) == 64


def test_wide_parquet_is_read_in_byte_bounded_chunks_with_exact_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anticipate.ingest import read

    n = 300
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)],
                          "order_ts": pd.date_range("2025-01-01", periods=n, freq="h"),
                          "quantity": [1] * n})
    frame.loc[249, "quantity"] = 0
    frame.loc[120] = frame.loc[7]
    for j in range(60):
        frame[f"extra_{j}"] = f"filler-{j}"
    frame.to_parquet(tmp_path / "wide.parquet", row_group_size=n)
    monkeypatch.setattr(read, "MAX_CHUNK_BYTES", 16_000)  # ~20 rows per chunk
    code, output, out = _ingest(tmp_path, tmp_path / "wide.parquet", "--config", str(_share(tmp_path, 0.5)))
    assert code == 0, output
    assert [(r["row"], r["reason"], r["value"]) for r in _rejects(tmp_path)] == [
        (121, "duplicate", "duplicate of row 8"),
        (250, "non-positive quantity (returns are not orders)", "0")]
    assert out["counts"]["rows_accepted"] == n - 2
    assert pq.ParquetFile(tmp_path / "out" / "orders.parquet").num_row_groups >= 10  # one per chunk


def _tables(tmp_path: Path, *args: str) -> tuple[int, str, dict]:
    result = CliRunner().invoke(main, ["--json", "ingest", *args, "--out", str(tmp_path / "out")])
    lines = [ln for ln in result.stdout.strip().splitlines() if ln.startswith("{")]
    return result.exit_code, result.output, json.loads(lines[-1]) if lines else {}


@pytest.mark.parametrize(("body", "capacity", "mark"), [
    ("warehouse_id\tlat\tlon\tcapacity\nW1\t40.71\t-74.00\t1,500\nW2\t41.88\t-87.63\t12,250\n",
     [1500.0, 12250.0], "."),
    ("warehouse_id;lat;lon;capacity\nW1;52,52;13,40;1.500\nW2;48,13;11,58;2.250,5\n", [1500.0, 2250.5], ","),
])
def test_thousands_separators_follow_the_decimal_mark_the_file_settles(
    tmp_path: Path, body: str, capacity: list, mark: str
) -> None:
    code, output, _ = _tables(tmp_path, "--warehouses", str(_csv(tmp_path, body, "wh.csv")))
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "warehouses.parquet")["capacity"].tolist() == capacity
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    assert (report["tables"]["warehouses"]["decimal"], report["tables"]["warehouses"]["decimal_source"]) == (
        mark, "detected")
    assert any("row 1" in w and "--decimal" in w and "lat" in w for w in report["warnings"])


def test_a_number_no_mark_settles_exits_2_until_the_mark_is_stated(tmp_path: Path) -> None:
    supply = str(_csv(tmp_path, "sku;units\nS1;2.000\nS2;1.500\nS3;7\n", "supply.csv"))
    code, output, _ = _tables(tmp_path, "--supply", supply)
    assert code == 2 and "supply.csv" in output and "row 1" in output and "'units'" in output
    assert "'2.000' could be 2 (decimal) or 2000" in output and "--decimal ','" in output
    assert not (tmp_path / "out").exists()
    code, output, _ = _tables(tmp_path, "--supply", supply, "--decimal", ",")
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "supply.parquet")["units"].tolist() == [2000, 1500, 7]


def test_a_file_using_both_marks_refuses_its_ambiguous_numbers(tmp_path: Path) -> None:
    body = "customer_id;order_ts;quantity;unit_price\nc1;2025-01-01;1;3,20\nc2;2025-01-02;1;4.75\n" \
           "c3;2025-01-03;1;1.500\n"
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, body))
    assert code == 2 and "row 3" in output and "both marks" in output and "'4.75'" in output


def test_supply_lots_of_one_sku_are_summed_with_a_warning(tmp_path: Path) -> None:
    supply = _csv(tmp_path, "sku,units\nS5,14\nS8,6\nS9,1\nS5,40\nS8,25\n", "supply.csv")
    code, output, out = _tables(tmp_path, "--supply", str(supply))
    assert code == 0, output
    got = pd.read_parquet(tmp_path / "out" / "supply.parquet")
    assert got.to_dict("list") == {"sku": ["S5", "S8", "S9"], "units": [54, 31, 1]}
    assert out["counts"]["supply_rows_accepted"] == 5
    warnings = json.loads((tmp_path / "out" / "ingest_report.json").read_text())["warnings"]
    assert len(warnings) == 1 and "2 sku(s)" in warnings[0] and "'S5' on rows 1, 4" in warnings[0]
    assert "(14 + 40 = 54)" in warnings[0] and warnings[0].startswith("supply: ")


@pytest.mark.parametrize(("table", "body", "said"), [
    ("products", "sku,unit_volume\ns1,1\ns2,0.5\ns1,2\n", "sku 's1' appears on rows 1 and 3"),
    ("warehouses", "warehouse_id,lat,lon,capacity\nW1,50,5,10\nW1,50,5,99\n",
     "warehouse_id 'W1' appears on rows 1 and 2 with different values (capacity 10.0 vs 99.0)"),
])
def test_a_key_repeated_with_different_values_exits_2_naming_both_rows(
    tmp_path: Path, table: str, body: str, said: str
) -> None:
    code, output, _ = _tables(tmp_path, f"--{table}", str(_csv(tmp_path, body, f"{table}.csv")))
    assert code == 2 and said in output and "keep one row per" in output and f"{table}.csv" in output
    assert not (tmp_path / "out").exists()


def test_whole_number_float_ids_get_one_text_in_csv_and_parquet(tmp_path: Path) -> None:
    head = "InvoiceNo,CustomerID,InvoiceDate,StockCode,Quantity,UnitPrice,Country\n"
    lines = "1,17850.0,2025-01-01,85123.0,1,1.0,UK\n2,12345.0,2025-01-02,85123.0,1,1.0,UK\n"
    first = _csv(tmp_path, head + lines)
    code, output, _ = _ingest(tmp_path, first)
    assert code == 0, output
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    assert any(w.startswith("orders: customer_id: every value of column 'CustomerID'") and "'17850'" in w
               for w in report["warnings"])
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, head + "4,17850,2025-01-04,85123,1,1.0,UK\n", "n.csv"),
                              "--append")
    assert code == 0, output
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["customer_id"].tolist() == ["17850", "12345", "17850"] and set(orders["sku"]) == {"85123"}
    frame = pd.DataFrame({"customer_id": [17850.0, None, 123456789012.0], "order_ts": ["2025-01-01"] * 3})
    frame.to_parquet(tmp_path / "o.parquet")
    code, output, _ = _ingest(tmp_path, tmp_path / "o.parquet", "--max-reject-share", "0.5", "--replace")
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "orders.parquet")["customer_id"].tolist() == [
        "17850", "123456789012"]
    body = HEADER + "o1,17850.0,2025-01-01,1.0,1,1,r1\no2,C7,2025-01-02,1.5,1,1,r1\n"  # not all whole floats
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, body), "--replace")
    assert code == 0, output
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["customer_id"].tolist() == ["17850.0", "C7"] and orders["sku"].tolist() == ["1.0", "1.5"]


def test_append_onto_ids_stored_with_dot_zero_before_rewrites_them(tmp_path: Path) -> None:
    """Data ingested before whole-number float ids lost their '.0' held '17850.0': an --append of '17850'
    made one customer two, and a re-sent export without order ids was counted twice."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from anticipate.ingest.validate import SCHEMAS

    head = "CustomerID,InvoiceDate,StockCode,Quantity,UnitPrice,Country\n"
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, head + "C1,2025-01-01,85123,1,1.0,UK\n"))
    assert code == 0, output
    legacy = pa.table({"order_id": [None, None], "customer_id": ["17850.0", "12345.0"],
                       "order_ts": pd.to_datetime(["2025-01-01", "2025-01-02"]), "sku": ["85123", "85123"],
                       "quantity": [1, 1], "unit_price": [1.0, 1.0], "region": ["UK", "UK"]},
                      schema=SCHEMAS["orders"])
    pq.write_table(legacy, tmp_path / "out" / "orders.parquet")
    resent = head + "17850,2025-01-01,85123,1,1.0,UK\n17850,2025-01-04,85123,1,1.0,UK\n"
    code, output, _ = _ingest(tmp_path, _csv(tmp_path, resent, "n.csv"), "--append")
    assert code == 0, output
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["customer_id"].tolist() == ["17850", "12345", "17850"]  # the re-sent line dropped
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    assert any("customer_id: every existing value was a whole number written as a float" in w
               for w in report["warnings"])


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
def test_three_decimals_settled_by_the_file_are_not_worth_a_warning(tmp_path: Path, sep: str) -> None:
    """'1.502' beside '0.864' can only be a decimal; the note repeated in every nightly plan (verify20 R2)."""
    body = sep.join(["sku", "category", "unit_volume"]) + "\n" + "\n".join(
        sep.join(row) for row in [("s1", "a", "0.864"), ("s2", "a", "1.502")]) + "\n"
    code, output, _ = _tables(tmp_path, "--products", str(_csv(tmp_path, body, "products.csv")))
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "products.parquet")["unit_volume"].tolist() == [0.864, 1.502]
    assert not json.loads((tmp_path / "out" / "ingest_report.json").read_text())["warnings"]


def test_grouped_numbers_read_on_the_comma_files_default_are_said(tmp_path: Path) -> None:
    """Quoted '1,250' in a comma CSV is 1250 by the file's default '.'; it went in without a word, although a
    European export would have meant 1.25 (verify20 R3)."""
    body = 'sku,category,unit_volume\nS1,C1,"1,250"\nS2,C1,"2,500"\nS3,C1,3\n'
    code, output, _ = _tables(tmp_path, "--products", str(_csv(tmp_path, body, "products.csv")))
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "products.parquet")["unit_volume"].tolist() == [1250, 2500, 3]
    (warning,) = [w for w in json.loads((tmp_path / "out" / "ingest_report.json").read_text())["warnings"]
                  if "thousands-grouped" in w]
    assert "2 number(s) such as '1,250' (unit_volume, row 1) were read as thousands-grouped (1250)" in warning
    assert "the default of a comma-delimited file" in warning and "--decimal ','" in warning


def test_three_decimals_in_a_comma_file_read_as_decimals_without_a_warning(tmp_path: Path) -> None:
    products = _csv(tmp_path, "sku,category,unit_volume\ns1,a,0.864\ns2,a,1.502\n", "products.csv")
    code, output, _ = _tables(tmp_path, "--products", str(products))
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "products.parquet")["unit_volume"].tolist() == [0.864, 1.502]
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    assert report["tables"]["products"]["decimal"] == "." and not report["warnings"]


def test_legacy_float_ids_read_a_column_whole_only_when_its_first_lines_all_end_in_dot_zero(
        tmp_path: Path) -> None:
    """The check runs on every --append: a probe of the first lines, then the candidates whole; a text id
    after the probe keeps its column as it is, an empty file has none."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from anticipate.ingest.append import PROBE_ROWS, legacy_float_ids
    from anticipate.ingest.validate import SCHEMAS

    def orders(customers: list[str]) -> Path:
        n = len(customers)
        table = pa.table({"order_id": [None] * n, "customer_id": customers,
                          "order_ts": pd.to_datetime(["2025-01-01"] * n), "sku": ["S1"] * n,
                          "quantity": [1] * n, "unit_price": [1.0] * n, "region": ["R"] * n},
                         schema=SCHEMAS["orders"])
        pq.write_table(table, tmp_path / "orders.parquet")
        return tmp_path / "orders.parquet"

    floats = ["17850.0"] * (2 * PROBE_ROWS)
    assert legacy_float_ids(orders([*floats, "12.0"]), PROBE_ROWS) == {"customer_id"}
    assert legacy_float_ids(orders([*floats, "C7"]), PROBE_ROWS) == frozenset()
    assert legacy_float_ids(orders(["C7", *floats]), PROBE_ROWS) == frozenset()
    assert legacy_float_ids(orders([]), PROBE_ROWS) == frozenset()


def test_a_warehouse_id_allocate_would_refuse_is_kept_with_a_warning(tmp_path: Path) -> None:
    """Ingest keeps 'Köln' (a letter, but not ASCII) and says allocate will refuse it (audit26 #3)."""
    body = "warehouse_id,lat,lon,capacity\nKöln,50.94,6.96,100\nW2,48.13,11.58,200\n"
    code, output, _ = _tables(tmp_path, "--warehouses", str(_csv(tmp_path, body, "wh.csv")))
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "out" / "warehouses.parquet")["warehouse_id"].tolist() == ["Köln", "W2"]
    report = json.loads((tmp_path / "out" / "ingest_report.json").read_text())
    [warning] = [w for w in report["warnings"] if "warehouse_id" in w]
    assert "1 warehouse_id value(s) ('Köln')" in warning and "ASCII letters" in warning
    assert "allocate refuses" in warning


def test_allocate_names_the_ascii_rule_for_a_warehouse_id_it_refuses(tmp_path: Path) -> None:
    from anticipate.demand.inputs import build_instance
    from anticipate.errors import DataError
    from anticipate.storage.files import DataSet

    ds = DataSet(path=tmp_path, orders=pd.DataFrame(), products=None, regions=None, supply=None, digest="",
                 warehouses=pd.DataFrame({"warehouse_id": ["W1", "Köln"]}))
    with pytest.raises(DataError, match=r"'Köln' has characters .*only ASCII letters") as err:
        build_instance(ds, None, None)  # type: ignore[arg-type]
    assert err.value.file == f"{tmp_path}/warehouses.parquet"


def _lines_with_quantities(quantities: dict[int, str], n: int = 200) -> str:
    """``n`` good order lines of five customers in January 2025, line i's quantity replaced by
    ``quantities[i]`` where given."""
    return "".join(f"o{i},c{i % 5},2025-01-{1 + i % 28:02d} 10:00:00,s1,{quantities.get(i, 1 + i % 3)},"
                   "2.50,r1\n" for i in range(n))


def test_a_line_above_max_quantity_is_rejected_and_an_overflowing_directory_refused(tmp_path: Path) -> None:
    """'quantity 1000000000000' was accepted, and two lines of 5e18 wrapped a backtest's realised demand
    around int64 (fill -0.000, exit 0): a line above ingest.max_quantity (default 1,000,000) is a bad row
    with row, column and reason; the key raises it; a data directory whose units would overflow a sum
    (another tool's, or an older ingest's) is refused at load."""
    from anticipate.errors import DataError
    from anticipate.storage.files import load_dataset

    src = _csv(tmp_path, HEADER + _lines_with_quantities({7: "1000000000000", 9: "5000000000000000000",
                                                          11: "1500000"}))
    code, output, doc = _ingest(tmp_path, src, "--max-reject-share", "0.05")
    assert code == 0, output
    rejects = pd.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects[["row", "column", "value", "reason"]].to_dict("records") == [
        {"row": r, "column": "quantity", "value": v, "reason": "quantity above ingest.max_quantity"}
        for r, v in ((8, "1000000000000"), (10, "5000000000000000000"), (12, "1500000"))]
    assert pd.read_parquet(tmp_path / "out" / "orders.parquet")["quantity"].max() == 3
    cfg = tmp_path / "big.yaml"
    cfg.write_text("ingest:\n  max_quantity: 2000000\n")
    code, output, doc = _ingest(tmp_path, src, "--max-reject-share", "0.05", "--config", str(cfg))
    assert code == 0 and doc["counts"]["orders_rows_rejected"] == 2, output
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert orders["quantity"].max() == 1_500_000
    orders.loc[[3, 4], "quantity"] = 5_000_000_000_000_000_000  # as written by another tool
    orders.to_parquet(tmp_path / "out" / "orders.parquet")
    said = r"quantities total 1e\+19 units .*the 9,007,199,254,740,992 \(2\*\*53\).*ingest.max_quantity"
    with pytest.raises(DataError, match=said) as caught:
        load_dataset(tmp_path / "out")
    assert caught.value.column == "quantity" and caught.value.file.endswith("orders.parquet")
    with pytest.raises(DataError, match=said):  # the Dask path loads order_ts alone: it was not checked
        load_dataset(tmp_path / "out", order_columns=["order_ts"])
    orders.loc[[3, 4], "quantity"] = 2  # the row groups' statistics bound the total: nothing to read
    orders.to_parquet(tmp_path / "out" / "orders.parquet")
    assert list(load_dataset(tmp_path / "out", order_columns=["order_ts"]).orders.columns) == ["order_ts"]


def test_a_quantity_beyond_int64_is_named_by_its_bound_not_as_a_non_integer(tmp_path: Path) -> None:
    """'100000000000000000000' (21 digits) and '1e20' in quantity were rejected as 'not an integer', which
    sends the user looking for a decimal point; they are above ingest.max_quantity, '-1e20' is a
    non-positive quantity, and the generic reason of any other whole-number column names the size."""
    import pyarrow as pa

    from anticipate.ingest import parse

    big = {7: "100000000000000000000", 9: "1e20", 11: "-1e20"}
    src = _csv(tmp_path, HEADER + _lines_with_quantities(big))
    code, output, _doc = _ingest(tmp_path, src, "--max-reject-share", "0.05")
    assert code == 0, output
    rejects = pd.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects[["row", "reason"]].values.tolist() == [
        [8, "quantity above ingest.max_quantity"], [10, "quantity above ingest.max_quantity"],
        [12, "non-positive quantity (returns are not orders)"]]
    units = parse.parse_int(pa.array(["7", "1e16", "-1e300", "2.5"]))
    huge = "whole number too large (2**53 or more)"
    assert [parse.REASONS.get(int(c), "") for c in units.codes] == ["", huge, huge, "not an integer"]
    assert units.values.to_pylist()[:3] == [7, 2**53, -(2**53)]


def test_a_uint64_return_and_a_decimal_price_in_parquet_are_read_as_their_values(tmp_path: Path) -> None:
    """audit33 F6: a return of -1 stored in an unsigned 64-bit column (18446744073709551615) ended ingest
    with exit 1, 'unexpected failure: ArrowInvalid ... This is a bug'; a decimal128 price of 27.81 was
    stored as 27.810000000000002 (Arrow's decimal-to-float cast), unlike the same line read from CSV."""
    import decimal

    import pyarrow as pa

    n = 200
    table = pa.table({
        "order_id": [f"o{i}" for i in range(n)], "customer_id": [f"c{i % 5}" for i in range(n)],
        "order_ts": pa.array(pd.date_range("2025-01-01", periods=n, freq="6h").as_unit("us")),
        "sku": ["s1"] * n, "quantity": pa.array([2**64 - 1 if i == 7 else 1 + i % 3 for i in range(n)],
                                               pa.uint64()),
        "unit_price": pa.array([decimal.Decimal("27.81")] * n, pa.decimal128(10, 2)), "region": ["r1"] * n})
    pq.write_table(table, tmp_path / "o.parquet")
    code, output, _doc = _ingest(tmp_path, tmp_path / "o.parquet", "--max-reject-share", "0.05")
    assert code == 0, output
    rejects = pd.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects[["row", "column", "reason"]].values.tolist() == [
        [8, "quantity", "quantity above ingest.max_quantity"]]
    orders = pd.read_parquet(tmp_path / "out" / "orders.parquet")
    assert len(orders) == n - 1 and set(orders["unit_price"]) == {27.81}


def test_orders_none_of_whose_lines_is_accepted_are_refused_not_published(tmp_path: Path) -> None:
    """audit33 F7: with --max-reject-share 1 an orders file whose every date failed to parse was published
    as 0 lines (exit 0; with --replace over 20,962 good lines), and features, train, forecast, allocate
    then ended with exit 1 "AttributeError: 'NaTType' object has no attribute 'normalize'"."""
    from anticipate.errors import DataError
    from anticipate.storage.files import load_dataset

    good = [f"o{i},c{i % 5},2025-01-{1 + i % 28:02d} 10:00:00,s1,{1 + i % 3},2.50,r1\n" for i in range(50)]
    code, output, _doc = _ingest(tmp_path, _csv(tmp_path, HEADER + "".join(good)))
    assert code == 0, output
    before = (tmp_path / "out" / "orders.parquet").read_bytes()
    bad = _csv(tmp_path, HEADER + "".join(g.replace("2025-01-", "01-Jan-") for g in good), name="bad.csv")
    code, output, doc = _ingest(tmp_path, bad, "--max-reject-share", "1", "--replace")
    assert code == 2, output
    assert doc["error"].startswith(f"file {bad}: none of the 50 orders rows was accepted (most common: "
                                   "'unparseable date' x 50). First: row 1, column 'order_ts'"), doc["error"]
    assert (tmp_path / "out" / "orders.parquet").read_bytes() == before  # the good lines stay
    pq.write_table(pq.read_table(tmp_path / "out" / "orders.parquet").slice(0, 0),
                   tmp_path / "out" / "orders.parquet")  # as another tool may leave it
    with pytest.raises(DataError, match="the orders table holds no order line, so no command has a history"):
        load_dataset(tmp_path / "out")
