"""The Complete Journey converter on a hand-made slice in the package's own layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from anticipate.datasets.completejourney import (
    convert,
    horizon_collected,
    metered_skus,
    to_orders,
    to_products,
)
from anticipate.errors import DataError


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
