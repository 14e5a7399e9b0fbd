"""The canonical tables of CONTRACTS section 1, as data.

Each table is a list of :class:`Column` with its canonical name, its dtype in the
canonical Parquet files, whether it is required, and its default when optional.
Validation rules live in :mod:`anticipate.ingest`; this module only declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "timestamp", "int64", "float64"]


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, kind, whether required, and its default."""

    name: str
    kind: Kind
    required: bool = True
    default: object = None


ORDERS: tuple[Column, ...] = (
    Column("order_id", "string", required=False),
    Column("customer_id", "string"),
    Column("order_ts", "timestamp"),
    Column("sku", "string", required=False, default="ALL"),
    Column("quantity", "int64", required=False, default=1),
    Column("unit_price", "float64", required=False),
    Column("region", "string", required=False, default="ALL"),
)

PRODUCTS: tuple[Column, ...] = (
    Column("sku", "string"),
    Column("category", "string", required=False, default="ALL"),
    Column("unit_volume", "float64", required=False, default=1.0),
    Column("value_local", "float64", required=False),
    Column("cost_unsold", "float64", required=False),
)

REGIONS: tuple[Column, ...] = (
    Column("region", "string"),
    Column("lat", "float64"),
    Column("lon", "float64"),
)

WAREHOUSES: tuple[Column, ...] = (
    Column("warehouse_id", "string"),
    Column("lat", "float64"),
    Column("lon", "float64"),
    Column("capacity", "float64"),
)

SUPPLY: tuple[Column, ...] = (
    Column("sku", "string"),
    Column("units", "int64"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "orders": ORDERS,
    "products": PRODUCTS,
    "regions": REGIONS,
    "warehouses": WAREHOUSES,
    "supply": SUPPLY,
}

#: The unique key of each reference table (orders have none: one order, many lines).
KEYS: dict[str, str] = {
    "products": "sku",
    "regions": "region",
    "warehouses": "warehouse_id",
    "supply": "sku",
}

#: Rejected rows, as ``rejects.parquet`` stores them.
REJECTS: tuple[Column, ...] = (
    Column("table", "string"),
    Column("file", "string"),
    Column("row", "int64"),
    Column("column", "string"),
    Column("value", "string"),
    Column("reason", "string"),
)


def column_names(table: str) -> list[str]:
    """Canonical column names of ``table`` in canonical order."""
    return [c.name for c in TABLES[table]]
