"""The canonical tables of docs/data-contract.md#input-tables, as data.

Each table is a list of :class:`Column` with its canonical name, its dtype in the
canonical Parquet files, whether it is required, and its default when optional.
Validation rules live in :mod:`anticipate.ingest`; this module only declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "timestamp", "int64", "float64"]

#: A warehouse_id the planning commands accept: ASCII letters, digits, ``_``, ``-`` and ``.``
#: (docs/data-contract.md); ingest keeps any id and warns when a warehouse's is not of this form.
PLANNING_ID = r"^[A-Za-z0-9_.-]+$"
#: How that rule reads in messages.
PLANNING_ID_TEXT = "ASCII letters (A-Z, a-z), digits, '_', '-' and '.'"


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



#: Canonical-like inputs that are not stored as such: an order line's total amount
#: (unit_price = amount / quantity when there is no price column).
EXTRA_INPUTS: dict[str, tuple[str, ...]] = {"orders": ("amount",)}

_SKU = ("sku", "product", "product_id", "productid", "stockcode", "stock_code", "item", "item_id",
        "article", "article_id")
_LAT = ("lat", "latitude", "lat_deg", "latitude_deg")
_LON = ("lon", "lng", "long", "longitude", "lon_deg", "longitude_deg")
#: Source column names recognised for each canonical column, in order of preference. Names
#: are compared after lower-casing and dropping everything but letters and digits, and a
#: unit in parentheses or brackets is ignored: ``Volume (l)``, ``unit volume`` and ``VOL``
#: all find ``unit_volume``.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": ("order_id", "orderid", "invoice", "invoice_no", "invoiceno", "order", "order_number",
                     "order_no"),
        "customer_id": ("customer_id", "customer", "customerid", "client", "client_id", "user_id"),
        "order_ts": ("order_ts", "date", "timestamp", "invoice_date", "invoicedate", "order_date",
                     "datetime", "order_time", "created_at"),
        "sku": _SKU,
        "quantity": ("quantity", "qty", "units", "quantity_ordered"),
        "unit_price": ("unit_price", "unitprice", "price", "price_each"),
        "amount": ("amount", "revenue", "total", "sales", "line_total"),
        "region": ("region", "ship_region", "shipping_region", "delivery_region", "country", "ship_country",
                   "zone"),
    },
    "products": {
        "sku": _SKU,
        "category": ("category", "product_category", "cat", "family", "department", "product_group"),
        "unit_volume": ("unit_volume", "volume", "vol", "unit_vol", "volume_per_unit", "item_volume",
                        "cubic_volume"),
        "value_local": ("value_local", "local_value"),  # not 'value', 'unit_value': usually a list price
        "cost_unsold": ("cost_unsold", "unsold_cost", "holding_cost"),
    },
    "regions": {
        "region": ("region", "region_id", "region_name", "name", "zone", "country"),
        "lat": _LAT,
        "lon": _LON,
    },
    "warehouses": {
        "warehouse_id": ("warehouse_id", "warehouse", "warehouseid", "warehouse_name", "wh", "wh_id", "site",
                         "site_id", "depot", "dc", "dc_id"),
        "lat": _LAT,
        "lon": _LON,
        "capacity": ("capacity", "cap", "capacity_volume", "volume_capacity", "max_volume", "volume",
                     "storage_capacity"),
    },
    "supply": {
        "sku": _SKU,
        "units": ("units", "quantity", "qty", "stock", "on_hand", "available", "inventory"),
    },
}

#: What each orders column means, for ``ingest --help`` and messages.
ORDERS_ROLES: dict[str, str] = {
    "order_id": "order or invoice number (text); optional, null when absent",
    "customer_id": "who ordered (text); required, an empty value is rejected",
    "order_ts": "when (a date or date-time, one format per file, read as UTC); required",
    "sku": "which item (text); default ALL (one item); checked against products when given",
    "quantity": "units ordered, whole number >= 1 (returns and cancellations, <= 0, are rejected); "
                "default 1",
    "unit_price": "price per unit >= 0; or 'amount' (line total) / quantity; default null",
    "region": "where it ships (text): its demand is served by the warehouse nearest the region's "
              "lat/lon in the regions table; default ALL, which no warehouse serves, so allocate needs "
              "it; checked against regions when given",
}


def orders_schema_help(width: int = 96) -> str:
    """The orders columns, their roles and aliases, as plain text for ``ingest --help``."""
    import textwrap

    entries = [f"{name}: {role}; also {', '.join(ALIASES['orders'][name][1:])}"
               for name, role in ORDERS_ROLES.items()]
    entries.append("amount: line total, used as unit_price = amount / quantity when there is no price "
                   f"column; also {', '.join(ALIASES['orders']['amount'][1:])}")
    lines = ["Orders columns (canonical name: role; recognised source names):"]
    for entry in entries:
        lines += textwrap.wrap(entry, width, initial_indent="  ", subsequent_indent="      ")
    lines += ["Names match ignoring case, spaces, punctuation and a unit in parentheses:",
              "'Customer ID' is customer_id, 'Volume (l)' is unit_volume. Other columns are listed as",
              "ignored. Reference tables: products (sku; category, unit_volume, value_local, cost_unsold),",
              "regions (region, lat, lon), warehouses (warehouse_id, lat, lon, capacity), supply (sku,",
              "units)."]
    return "\n".join(lines)

