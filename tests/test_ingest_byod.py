"""Bring your own data: every column accounted for, --map, --max-reject-share, --dry-run, the schema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anticipate.cli import main

HEADER = "order_id,customer_id,order_ts,sku,quantity,unit_price,region\n"
ORDERS = HEADER + "".join(f"o{i},c{i % 4},2025-03-0{1 + i % 5} 10:00:00,s{1 + i % 2},1,2.5,r1\n"
                          for i in range(20))


def _write(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", ["Volume (l)", "volume", "unit volume", "VOL", "Unit_Volume [L]"])
def test_a_volume_column_under_a_common_name_gives_the_volumes(tmp_path: Path, name: str) -> None:
    products = _write(tmp_path / "p.csv", f"SKU,{name},Colour\ns1,2.5,red\ns2,0.25,blue\n")
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--orders", str(_write(tmp_path / "o.csv", ORDERS)),
                                   "--products", str(products), "--out", str(out))
    assert code == 0, stdout + stderr
    assert pd.read_parquet(out / "products.parquet")["unit_volume"].tolist() == [2.5, 0.25]
    report = json.loads((out / "ingest_report.json").read_text())["tables"]["products"]
    assert report["mapped"] == {"SKU": "sku", name: "unit_volume"}
    assert report["defaulted"] == {"category": "ALL", "value_local": None, "cost_unsold": None}
    assert report["ignored"] == ["Colour"]
    assert f"products: columns mapped: 'SKU' -> sku, '{name}' -> unit_volume" in stderr
    assert "products: columns ignored: 'Colour'" in stderr


def test_a_defaulted_constant_column_is_a_warning_naming_the_ignored_ones(tmp_path: Path) -> None:
    products = _write(tmp_path / "p.csv", "sku,Rauminhalt\ns1,2.5\ns2,0.25\n")
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--orders", str(_write(tmp_path / "o.csv", ORDERS)),
                                   "--products", str(products), "--out", str(out))
    assert code == 0, stdout + stderr
    assert "warning: products: no column found for category, unit_volume" in stderr
    assert "unit_volume = 1.0" in stderr and "'Rauminhalt'" in stderr
    assert "--map products.category=<column>" in stderr
    report = json.loads((out / "ingest_report.json").read_text())
    assert any("unit_volume = 1.0" in w for w in report["warnings"])
    # the fix the warning names works
    code, stdout, stderr = _invoke("ingest", "--products", str(products), "--map",
                                   "products.unit_volume=Rauminhalt", "--out", str(out))
    assert code == 0, stdout + stderr
    assert pd.read_parquet(out / "products.parquet")["unit_volume"].tolist() == [2.5, 0.25]


def test_map_options_and_a_bad_map_exit_2(tmp_path: Path) -> None:
    body = "Kunde,Wann,Artikel,Menge\n" + "".join(f"k{i},2025-03-0{1 + i % 5},a{i % 3},2\n"
                                                  for i in range(10))
    src = _write(tmp_path / "o.csv", body)
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--orders", str(src), "--map", "orders.customer_id=Kunde",
                                   "--map", "orders.order_ts=Wann", "--map", "orders.sku=Artikel",
                                   "--map", "orders.quantity=Menge", "--out", str(out))
    assert code == 0, stdout + stderr
    orders = pd.read_parquet(out / "orders.parquet")
    assert orders["customer_id"].iloc[0] == "k0" and set(orders["sku"]) == {"a0", "a1", "a2"}
    assert set(orders["quantity"]) == {2}
    for bad, words in (("orders.customer_id", "TABLE.COLUMN=SOURCE"), ("shop.sku=x", "unknown table"),
                       ("orders.colour=Kunde", "not a column of orders"),
                       ("orders.customer_id=Nobody", "'Nobody', which is not a column")):
        code, stdout, stderr = _invoke("ingest", "--orders", str(src), "--map", bad, "--out",
                                       str(tmp_path / "x"))
        assert code == 2 and words in stderr and "Traceback" not in stderr, (bad, stderr)


def _uci_like(path: Path, n: int = 600, seed: int = 3) -> tuple[Path, int]:
    """An Online-Retail-like export: ~3% returns (C invoices, negative quantity) or no CustomerID."""
    rng = np.random.default_rng(seed)
    rows, bad = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"], 0
    for i in range(n):
        day, minute = 1 + i % 28, i % 60
        invoice, qty, customer = f"{536365 + i // 3}", int(rng.integers(1, 12)), f"{12346 + i % 40}.0"
        kind = rng.random()
        if kind < 0.02:
            invoice, qty, bad = "C" + invoice, -qty, bad + 1
        elif kind < 0.027:
            customer, bad = "", bad + 1
        rows.append(f"{invoice},{85123 + i % 17}A,\"WHITE HANGING HEART, T-LIGHT\",{qty},"
                    f"12/{day}/2010 8:{minute:02d},2.55,{customer},United Kingdom")
    path.write_text("\n".join(rows) + "\n")
    return path, bad


def test_a_uci_online_retail_like_export_in_one_command(tmp_path: Path) -> None:
    src, bad = _uci_like(tmp_path / "Online_Retail.csv")
    assert 0.02 < bad / 600 < 0.05
    out = tmp_path / "uci"
    code, stdout, stderr = _invoke("ingest", "--orders", str(src), "--out", str(out))
    assert code == 2 and "--max-reject-share" in stderr and not out.exists()
    code, stdout, stderr = _invoke("--json", "ingest", "--orders", str(src), "--max-reject-share", "0.05",
                                   "--out", str(out))
    assert code == 0, stderr
    counts = json.loads(stdout)["counts"]
    assert counts["rows_in"] == 600 and counts["rows_rejected"] == bad
    orders = pd.read_parquet(out / "orders.parquet")
    assert orders["order_ts"].min() == pd.Timestamp("2010-12-01 08:00") and set(orders["region"]) == {
        "United Kingdom"}
    report = json.loads((out / "ingest_report.json").read_text())["tables"]["orders"]
    assert report["ignored"] == ["Description"] and report["mapped"]["StockCode"] == "sku"


def test_dry_run_prints_mapping_format_and_rejects_and_writes_nothing(tmp_path: Path) -> None:
    src, bad = _uci_like(tmp_path / "Online_Retail.csv")
    out = tmp_path / "uci"
    code, stdout, stderr = _invoke("ingest", "--orders", str(src), "--dry-run", "--out", str(out))
    assert code == 0, stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["Online_Retail.csv"]
    assert "dry run: nothing was written" in stdout
    assert "'CustomerID' -> customer_id" in stdout and "ignored: 'Description'" in stdout
    assert "date format %m/%d/%Y %H:%M" in stdout
    assert f"rejected {bad}" in stdout and "WOULD FAIL" in stdout
    assert "non-positive quantity (returns are not orders) x" in stdout and "missing value x" in stdout
    first = [ln for ln in stdout.splitlines() if ln.startswith("    row ")]
    assert 1 <= len(first) <= 10 and "column 'Quantity'" in stdout + "column 'CustomerID'"
    assert "the real run would fail" in stderr
    code, stdout, _ = _invoke("ingest", "--orders", str(src), "--dry-run", "--max-reject-share", "0.05",
                              "--out", str(out))
    assert code == 0 and "WOULD FAIL" not in stdout and not out.exists()


def test_dry_run_warns_of_warehouse_ids_allocate_refuses_as_the_real_run_does(tmp_path: Path) -> None:
    """The real run warned that 'Köln' and 'W 2' are ids allocate refuses to plan with; the dry run, which a
    planner runs first to see what ingest would say, did not (audit27)."""
    warehouses = _write(tmp_path / "w.csv", "warehouse_id,lat,lon,capacity\nKöln,50.9,6.9,57.6\n"
                                            "W 2,50.8,-9.9,78.5\nW3,54.6,-5.4,70.2\n")
    said = ("warning: warehouses: 2 warehouse_id value(s) ('Köln', 'W 2') have characters other than ASCII "
            "letters (A-Z, a-z), digits, '_', '-' and '.': the other commands take them, but allocate "
            "refuses to plan with them; rename them in the warehouses file and ingest again")
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--warehouses", str(warehouses), "--dry-run", "--out", str(out))
    assert code == 0 and not out.exists(), stdout + stderr
    assert said in stderr
    code, stdout, stderr = _invoke("ingest", "--warehouses", str(warehouses), "--out", str(out))
    assert code == 0 and said in stderr, stdout + stderr


def test_the_orders_schema_is_in_ingest_help() -> None:
    code, stdout, _ = _invoke("ingest", "--help")
    assert code == 0
    for words in ("customer_id: who ordered", "order_ts: when", "region: where it ships", "required",
                  "ship_region", "'Volume (l)'", "--map TABLE.COLUMN=SOURCE", "--max-reject-share",
                  "--dry-run", "--append"):
        assert words in stdout, words


@pytest.mark.parametrize("name", ["value", "unit_value", "Value"])
def test_a_products_value_column_is_no_local_value_and_says_so(tmp_path: Path, name: str) -> None:
    products = _write(tmp_path / "p.csv", f"sku,{name}\ns1,20\ns2,25\n")
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--products", str(products), "--out", str(out))
    assert code == 0, stdout + stderr
    assert pd.read_parquet(out / "products.parquet")["value_local"].isna().all()
    warnings = json.loads((out / "ingest_report.json").read_text())["warnings"]
    assert [w for w in warnings if f"column {name!r} is not read" in w and "economics.value_local (4)" in w
            and f"--map products.value_local={name}" in w]


def test_local_value_and_unsold_cost_from_the_file_are_warned_with_their_range(tmp_path: Path) -> None:
    products = _write(tmp_path / "p.csv", "sku,local_value,holding_cost\ns1,20,0.25\ns2,25.5,\n")
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--products", str(products), "--out", str(out))
    assert code == 0, stdout + stderr
    warnings = json.loads((out / "ingest_report.json").read_text())["warnings"]
    assert any(w.startswith("products: value_local (g,") and "column 'local_value': 20 to 25.5 per unit" in w
               and "economics.value_local = 4 " in w for w in warnings)
    assert any(w.startswith("products: cost_unsold (h,") and "'holding_cost': 0.25 to 0.25" in w
               and "economics.cost_unsold = 0.5 " in w for w in warnings)
    named = _write(tmp_path / "q.csv", "sku,category,unit_volume,Value_Local,cost_unsold\ns1,c,1,20,0.25\n")
    code, stdout, stderr = _invoke("ingest", "--products", str(named), "--out", str(out))
    assert code == 0, stdout + stderr
    assert not json.loads((out / "ingest_report.json").read_text())["warnings"]  # its names say what it is


def test_products_with_an_empty_category_beside_filled_ones_are_a_warning(tmp_path: Path) -> None:
    """audit21 #13: half the products without a category became one category 'ALL' in silence (a missing
    column warned, a column half empty did not)."""
    products = _write(tmp_path / "p.csv", "sku,category,unit_volume\ns1,dairy,1\ns2,,1\ns3,bakery,1\ns4,,1\n")
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--products", str(products), "--out", str(out))
    assert code == 0, stdout + stderr
    warnings = json.loads((out / "ingest_report.json").read_text())["warnings"]
    assert any(w.startswith("products: 2 of 4 products (50.0%) have an empty 'category': they share the "
                            "category 'ALL'") for w in warnings), warnings
    full = _write(tmp_path / "q.csv", "sku,category,unit_volume\ns1,dairy,1\n")
    code, stdout, stderr = _invoke("ingest", "--products", str(full), "--out", str(out))
    assert code == 0 and not json.loads((out / "ingest_report.json").read_text())["warnings"]


def test_a_dry_run_warns_of_an_empty_category_as_the_real_run_does(tmp_path: Path) -> None:
    """The dry run a planner runs first passed no stage to the blank-category check, so it said nothing
    of what the real run warns about (found beside audit27's warehouse-id case)."""
    products = _write(tmp_path / "p.csv", "sku,category,unit_volume\ns1,dairy,1\ns2,,1\ns3,bakery,1\n")
    out = tmp_path / "out"
    code, stdout, stderr = _invoke("ingest", "--products", str(products), "--dry-run", "--out", str(out))
    assert code == 0 and not out.exists(), stdout + stderr
    assert "products: 1 of 3 products (33.3%) have an empty 'category'" in stderr


@pytest.mark.parametrize("via", ["map", "config"])
def test_one_source_column_mapped_to_two_columns_exits_2(tmp_path: Path, via: str) -> None:
    """--map orders.customer_id=Kunde --map orders.sku=Kunde wrote the customer ids as SKUs, exit 0."""
    body = "Kunde,Wann,Menge\n" + "".join(f"k{i},2025-03-0{1 + i % 5},2\n" for i in range(10))
    src = _write(tmp_path / "o.csv", body)
    out = tmp_path / "out"
    if via == "map":
        extra = ["--map", "orders.customer_id=Kunde", "--map", "orders.sku=kunde",
                 "--map", "orders.order_ts=Wann"]
    else:
        cfg = _write(tmp_path / "c.yaml", "ingest:\n  columns:\n    orders: {customer_id: Kunde, sku: Kunde, "
                     "order_ts: Wann}\n")
        extra = ["--config", str(cfg)]
    code, stdout, stderr = _invoke("ingest", "--orders", str(src), *extra, "--out", str(out))
    assert code == 2, stdout + stderr
    assert "ingest.columns.orders.customer_id and ingest.columns.orders.sku" in stderr
    assert "'Kunde'" in stderr and "Traceback" not in stderr
    assert not (out / "orders.parquet").exists()
