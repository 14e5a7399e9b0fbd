"""The item of an order line at ``model.item_level``: its SKU, or its product's category.

At ``category`` level the products table names each SKU's category. A SKU missing from it,
or whose category is empty (null, blank text, or ``ALL``: ingest's stand-in for an empty one),
becomes the one item ``ALL`` (:func:`sku_items`): modelled, forecast and split as if one
category. That is never done silently. Without a products table (or without its
``category`` column) every SKU would be ``ALL``: :func:`item_column` refuses (exit 2), and
so does :func:`category_warnings` when no SKU of the orders has a category; when some have
none it returns a warning naming how many and their share of the order lines, which the
commands print and record.
"""

from __future__ import annotations

import pandas as pd

from anticipate.errors import DataError

#: The item of a SKU without a category at ``category`` level (ingest's empty category too).
ALL = "ALL"
#: The products table's file in a data directory (:mod:`anticipate.storage.files`).
PRODUCTS_FILE = "products.parquet"


def _fix(data_dir: object | None) -> str:
    """How to get categories (or do without): the end of every message here."""
    out = data_dir if data_dir is not None else "DIR"
    return (f"ingest a products table with a category column ('anticipate ingest --products FILE --out "
            f"{out}' keeps the orders), or set model.item_level: sku (for a model trained at category level: "
            "retrain)")


def no_categories(data_dir: object | None = None, *, column: bool = False) -> DataError:
    """The refusal of ``category`` level without a products table (``column``: one without a
    ``category`` column), naming the data directory when known."""
    where = f"the data directory {data_dir}" if data_dir is not None else "the data directory"
    what = (f"a products table ({PRODUCTS_FILE}) without a category column" if column
            else f"no products table ({PRODUCTS_FILE})")
    return DataError(f"model.item_level is category but {where} holds {what}: every SKU would become the "
                     f"one item '{ALL}' and the model would forecast the whole shop as one category; "
                     f"{_fix(data_dir)}")


def item_column(orders: pd.DataFrame, item_level: str, products: pd.DataFrame | None) -> pd.Series:
    """The item of each order line: its ``sku``, or its product ``category`` (``ALL`` where the
    products table has none for it). ``category`` level without a products table or its
    ``category`` column raises :class:`~anticipate.errors.DataError` (:func:`no_categories`)."""
    if item_level == "sku":
        sku = orders["sku"]
        return sku if isinstance(sku.dtype, pd.CategoricalDtype) else sku.astype(str)
    if products is None or "category" not in products:
        raise no_categories(column=products is not None)
    items = sku_items(products).reindex(orders["sku"].to_numpy()).fillna(ALL)
    return pd.Series(items.to_numpy(dtype=str), index=orders.index)


def _blank(category: pd.Series) -> pd.Series:
    """Which categories are empty: null, blank text or ``ALL`` (ingest's stand-in for an empty one)."""
    text = category.astype("string").str.strip()
    return (text.isna() | (text == "") | (text == ALL)).fillna(True).astype(bool)


def sku_items(products: pd.DataFrame) -> pd.Series:
    """Each SKU's item at ``category`` level, indexed by SKU: its category, or ``ALL`` where
    :func:`_blank` calls it empty, so the items and :func:`category_warnings` count the same SKUs."""
    category = products["category"].astype(object)
    return pd.Series(category.where(~_blank(category), ALL).to_numpy(), index=products["sku"].to_numpy())


def category_warnings(
    item_level: str, products: pd.DataFrame | None, skus: pd.Series, *, data_dir: object | None = None
) -> list[str]:
    """At ``category`` level, what the SKUs of the orders (``skus``, one per order line) fall to.

    Raises :class:`~anticipate.errors.DataError` (exit 2) without a products table or its
    ``category`` column, or when no SKU of the orders has a category (all would be ``ALL``).
    Returns one warning when some do not: how many SKUs, which share of the order lines, how
    many are missing from the products table and how many have an empty category; when all have
    one and it is the same (:func:`_one_category`), one warning naming it. At ``sku`` level (or
    without order lines) nothing is checked.
    """
    if item_level != "category" or len(skus) == 0:
        return []
    if products is None or "category" not in products:
        raise no_categories(data_dir, column=products is not None)
    lines = skus.value_counts(sort=False)  # a categorical's codes, not a string per line
    lines = lines[lines > 0]
    lines.index = lines.index.astype(str)
    table = products.drop_duplicates("sku")
    category = pd.Series(table["category"].to_numpy(), index=table["sku"].astype(str).to_numpy())
    known = lines.index.isin(category.index)
    blank = known & _blank(category.reindex(lines.index)).to_numpy()
    missing, none = ~known, ~known | blank
    file = f"{data_dir}/{PRODUCTS_FILE}" if data_dir is not None else PRODUCTS_FILE
    if not none.any():
        return _one_category(category.reindex(lines.index), file)
    counts = f"{int(missing.sum()):,} not in {file}, {int(blank.sum()):,} with an empty category ('{ALL}')"
    if none.all():
        raise DataError(f"model.item_level is category but none of the {len(lines):,} SKUs of the orders has "
                        f"a category ({counts}): every SKU would become the one item '{ALL}' and the model "
                        f"would forecast the whole shop as one category; {_fix(data_dir)}")
    share = float(lines[none].sum() / lines.sum())
    return [f"model.item_level is category but {int(none.sum()):,} of the {len(lines):,} SKUs of the orders "
            f"({share:.1%} of the order lines) have no category ({counts}): they all become the one item "
            f"'{ALL}', modelled and forecast as if one category; ingest their products with a category, or "
            "set model.item_level: sku"]


def _one_category(category: pd.Series, file: str) -> list[str]:
    """A warning when the SKUs of the orders (``category``: each one's, none blank) are several but all
    of one category: legitimate for a one-category shop, but the model then forecasts one item."""
    names = category.astype(str).unique()
    if len(category) < 2 or len(names) > 1:
        return []
    return [f"model.item_level is category but all {len(category):,} SKUs of the orders have the one "
            f"category {names[0]!r} in {file}: the model forecasts the whole shop as one item, split over "
            "the SKUs by their recent shares; set model.item_level: sku to forecast each SKU (for a model "
            "trained at category level: retrain), or ingest products with finer categories"]
