"""Which source column feeds which canonical column: config mapping first, then aliases.

Names are compared after normalising (lower case, only letters and digits), so
``Customer ID``, ``customer_id`` and ``CustomerID`` are the same name. A mapping
given in config (``ingest.columns.<table>``) must name a column that exists.
"""

from __future__ import annotations

import re

from anticipate.errors import ConfigError, DataError
from anticipate.schema import TABLES

#: Canonical-like inputs that are not stored as such: an order line's total amount
#: (unit_price = amount / quantity when there is no price column).
EXTRA_INPUTS: dict[str, tuple[str, ...]] = {"orders": ("amount",)}

_SKU = ("sku", "product", "product_id", "productid", "stockcode", "stock_code", "item", "item_id")
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": ("order_id", "orderid", "invoice", "invoice_no", "invoiceno", "order", "order_number",
                     "order_no"),
        "customer_id": ("customer_id", "customer", "customerid", "client", "client_id", "user_id"),
        "order_ts": ("order_ts", "date", "timestamp", "invoice_date", "invoicedate", "order_date",
                     "datetime", "order_time", "created_at"),
        "sku": _SKU,
        "quantity": ("quantity", "qty", "units"),
        "unit_price": ("unit_price", "unitprice", "price"),
        "amount": ("amount", "revenue", "total", "sales", "line_total"),
        "region": ("region", "ship_region", "country"),
    },
    "products": {
        "sku": _SKU,
        "category": ("category", "product_category", "cat"),
        "unit_volume": ("unit_volume", "volume"),
        "value_local": ("value_local",),
        "cost_unsold": ("cost_unsold",),
    },
    "regions": {
        "region": ("region", "region_id", "name"),
        "lat": ("lat", "latitude"),
        "lon": ("lon", "lng", "long", "longitude"),
    },
    "warehouses": {
        "warehouse_id": ("warehouse_id", "warehouse", "warehouseid"),
        "lat": ("lat", "latitude"),
        "lon": ("lon", "lng", "long", "longitude"),
        "capacity": ("capacity", "cap"),
    },
    "supply": {
        "sku": _SKU,
        "units": ("units", "quantity", "qty", "stock", "on_hand"),
    },
}


def normalise(name: str) -> str:
    """A column name reduced to lower-case letters and digits (``Customer ID`` -> ``customerid``)."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def allowed_inputs(table: str) -> list[str]:
    """The canonical columns of ``table`` plus its extra inputs (``amount`` for orders)."""
    return [c.name for c in TABLES[table]] + list(EXTRA_INPUTS.get(table, ()))


def check_mapping(table: str, mapping: dict[str, str]) -> None:
    """Refuse config keys that are not canonical columns of ``table`` (ConfigError)."""
    allowed = allowed_inputs(table)
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"ingest.columns.{table}.{key}: '{key}' is not a column of {table} "
                f"(allowed: {', '.join(allowed)}); map canonical name -> source column name"
            )


def resolve(table: str, header: list[str], mapping: dict[str, str], *, file: str) -> dict[str, int]:
    """Map each canonical input column to the index of the source column that feeds it.

    Parameters
    ----------
    table
        Canonical table name (``orders``, ``products``, ...).
    header
        The source column names, in file order.
    mapping
        ``ingest.columns.<table>``: canonical name -> source column name (takes precedence).
    file
        The source path, for messages.

    Returns
    -------
    dict
        canonical name -> 0-based source column index, for the columns found.

    Raises
    ------
    DataError
        A mapped source column is absent, or a required canonical column has no source.
    """
    check_mapping(table, mapping)
    by_norm: dict[str, int] = {}
    for i, name in enumerate(header):
        by_norm.setdefault(normalise(name), i)
    found: dict[str, int] = {}
    for canonical, source in mapping.items():
        index = by_norm.get(normalise(source))
        if index is None:
            raise DataError(
                f"ingest.columns.{table}.{canonical} maps to '{source}', which is not a column of "
                f"this file (columns found: {_listing(header)}); fix the name in your config",
                file=file, column=source,
            )
        found[canonical] = index
    taken = set(found.values())
    for canonical, aliases in ALIASES[table].items():
        if canonical in found:
            continue
        for alias in aliases:
            index = by_norm.get(normalise(alias))
            if index is not None and index not in taken:
                found[canonical] = index
                taken.add(index)
                break
    _require(table, header, found, file)
    return found


def _require(table: str, header: list[str], found: dict[str, int], file: str) -> None:
    missing = [c.name for c in TABLES[table] if c.required and c.name not in found]
    if not missing:
        return
    name = missing[0]
    example = ", ".join(f"{m}: <your column>" for m in missing)
    aliases = ", ".join(ALIASES[table][name][1:4])
    hint = (" Only one column was found: is the delimiter one of , ; TAB | and the same on every line?"
            if len(header) == 1 else "")
    raise DataError(
        f"required column '{name}' of the {table} table was not found (missing: {', '.join(missing)}; "
        f"columns found: {_listing(header)}). Rename the source column to '{name}' (or a known alias "
        f"such as {aliases}), or map it in the config: "
        f"ingest: {{columns: {{{table}: {{{example}}}}}}}.{hint}",
        file=file, column=name,
    )


def _listing(header: list[str], limit: int = 30) -> str:
    shown = ", ".join(repr(h) for h in header[:limit])
    return shown + (f" and {len(header) - limit} more" if len(header) > limit else "")
