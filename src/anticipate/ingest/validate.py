"""Validation rules of docs/data-contract.md#validation-and-rejects: one chunk of raw columns -> (accepted,
rejects).

Pure: a :class:`Chunk` and a :class:`Context` in, a :class:`Checked` out; no I/O,
no state. Each rejected row gets exactly one reject record: the first rule it
breaks, checking columns in canonical order and then the whole-row rule
(exact duplicate line). The rules, with the reason each writes:

orders
    customer_id not empty (``missing value``); order_ts parseable (``unparseable
    date``), with a UTC offset exactly when the file's date format has one (``UTC offset in a
    file whose date format has none`` and the reverse) and in [1970-01-01, 2262-04-11)
    (``out of range``); sku not empty and in products when products are given (``unknown
    sku``); quantity a whole number (``not an integer``) >= 1 (``non-positive quantity
    (returns are not orders)``) and <= ``ingest.max_quantity`` (:data:`TOO_MANY`);
    unit_price a finite number (``not a number``, ``not finite (NaN or inf)``) >= 0
    (``negative price``), or amount / quantity when only an amount is given
    (``negative amount``); region not empty and in regions when given
    (``unknown region``); identifiers at most 256 characters (``value too long``);
    fields valid UTF-8 (``encoding``); an exact repeat of an earlier line
    (``duplicate``, the first is kept). A line that repeats the header is re-labelled
    ``repeated header line`` after these rules (:mod:`anticipate.ingest.headerrows`).
    Without a sku or region column every line gets ``ALL``; without quantity, 1; without
    price or amount, a null price.
products / regions / warehouses / supply
    a repeated key is settled after the file (:mod:`anticipate.ingest.refkeys`); lat in [-90, 90]
    and lon in [-180, 180] (``latitude out of range``, ``longitude out of range``);
    capacity finite >= 0 (``negative capacity``); unit_volume finite > 0, default 1.0
    (``non-positive unit_volume``); value_local, cost_unsold finite >= 0 when given
    (``negative value``); supply units a whole number >= 0 (``negative units``) and,
    with products given, a known sku (``unknown sku``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anticipate.ingest import ids, parse
from anticipate.ingest.parse import Parsed

#: Longest value kept in rejects.parquet, characters.
MAX_VALUE_CHARS = 200
DUPLICATE = "duplicate"
#: The reason of an order line above ``ingest.max_quantity`` (a unit mix-up or a typo; sums of units
#: must stay far from int64's overflow).
TOO_MANY = "quantity above ingest.max_quantity"

REJECTS_SCHEMA = pa.schema([("table", pa.string()), ("file", pa.string()), ("row", pa.int64()),
                            ("column", pa.string()), ("value", pa.string()), ("reason", pa.string())])

SCHEMAS: dict[str, pa.Schema] = {
    "orders": pa.schema([("order_id", pa.string()), ("customer_id", pa.string()),
                         ("order_ts", pa.timestamp("ns")), ("sku", pa.string()), ("quantity", pa.int64()),
                         ("unit_price", pa.float64()), ("region", pa.string())]),
    "products": pa.schema([("sku", pa.string()), ("category", pa.string()), ("unit_volume", pa.float64()),
                           ("value_local", pa.float64()), ("cost_unsold", pa.float64())]),
    "regions": pa.schema([("region", pa.string()), ("lat", pa.float64()), ("lon", pa.float64())]),
    "warehouses": pa.schema([("warehouse_id", pa.string()), ("lat", pa.float64()), ("lon", pa.float64()),
                             ("capacity", pa.float64())]),
    "supply": pa.schema([("sku", pa.string()), ("units", pa.int64())]),
}


@dataclass(frozen=True)
class Chunk:
    """Raw rows of one table from one source file.

    ``columns`` maps canonical name -> raw Arrow array (only mapped columns);
    ``sources`` canonical name -> source column name; ``rows`` the 1-based source
    rows (int64); ``duplicate_of`` (int64) 0 for a line's first occurrence, else
    the row it repeats exactly.
    """

    columns: dict[str, pa.Array]
    sources: dict[str, str]
    rows: np.ndarray
    duplicate_of: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Context:
    """What the rules need beyond the chunk.

    ``skus`` / ``regions``: keys accepted from the products / regions files (None
    when not given); ``date_format``: the file's date format (None: ISO 8601);
    ``decimal``: the file's decimal mark, for numbers such as ``1,500`` that read differently under
    ``.`` and ``,`` (:mod:`anticipate.ingest.decimalmark`); ``float_ids``: id columns written as
    whole-number floats (``17850.0``), stored without ``.0`` (:mod:`anticipate.ingest.ids`);
    ``max_quantity``: the largest accepted order line quantity (``ingest.max_quantity``).
    """

    skus: pa.Array | None = None
    regions: pa.Array | None = None
    date_format: str | None = None
    decimal: str = "."
    float_ids: frozenset[str] = frozenset()
    max_quantity: int = 1_000_000


@dataclass(frozen=True)
class Checked:
    """A validated chunk: ``accepted`` in the canonical schema, ``rejects`` with columns
    ``row, column, value, reason`` (one per rejected row, in row order)."""

    accepted: pa.Table
    rejects: pa.Table


@dataclass
class _Flags:
    """The first reason each row fails (-1: none yet) and the column it names."""

    chunk: Chunk
    reason: np.ndarray = field(init=False)
    labels: list[tuple[str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reason = np.full(len(self.chunk), -1, dtype=np.int16)

    @property
    def ok(self) -> np.ndarray:
        return self.reason < 0

    def flag(self, mask: np.ndarray, reason: str, column: str | None) -> None:
        hit = self.ok & mask
        if hit.any():
            self.labels.append((reason, column))
            self.reason[hit] = len(self.labels) - 1

    def parsed(self, column: str, parsed: Parsed) -> None:
        for code in np.unique(parsed.codes[parsed.codes > 0]):
            self.flag(parsed.codes == code, parse.REASONS[int(code)], column)


def validate_chunk(table: str, chunk: Chunk, ctx: Context) -> Checked:
    """Apply ``table``'s rules to ``chunk``; see the module docstring for the rules."""
    flags = _Flags(chunk)
    values = _RULES[table](chunk, ctx, flags)
    flags.flag(chunk.duplicate_of > 0, DUPLICATE, None)
    schema = SCHEMAS[table]
    if flags.ok.all():
        accepted = pa.table([values[f.name].cast(f.type) for f in schema], schema=schema)
    else:
        mask = pa.array(flags.ok)
        accepted = pa.table([pc.filter(values[f.name], mask).cast(f.type) for f in schema], schema=schema)
    return Checked(accepted, _rejects(flags))


def _n(chunk: Chunk) -> int:
    return len(chunk)


def _const(value: object, n: int, type_: pa.DataType) -> pa.Array:
    """``n`` copies of ``value`` (null when None) as an Arrow array of ``type_``."""
    empty = pa.nulls(n, type_)
    return empty if value is None else pc.fill_null(empty, pa.scalar(value, type_))


def _mask(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def _id(chunk: Chunk, ctx: Context, flags: _Flags, name: str, *, required: bool = True,
        default: str | None = None) -> pa.Array:
    if name not in chunk.columns:
        return _const(default, _n(chunk), pa.string())
    raw = chunk.columns[name]
    parsed = parse.parse_id(ids.float_text(raw) if pa.types.is_floating(raw.type) else raw, required=required)
    flags.parsed(name, parsed)
    values = ids.canonical(parsed.values) if name in ctx.float_ids else parsed.values
    if default is not None and not required:
        return pc.fill_null(values, default)
    return values


def _number(chunk: Chunk, ctx: Context, flags: _Flags, name: str, *, optional: bool = False,
            default: float | None = None, decimal: str | None = None) -> pa.Array:
    """A float column; with ``optional`` an empty value is null (or ``default``), not a reject;
    ``decimal`` overrides the file's decimal mark (``ctx.decimal``)."""
    if name not in chunk.columns:
        return _const(default, _n(chunk), pa.float64())
    parsed = parse.parse_float(chunk.columns[name], decimal=decimal or ctx.decimal)
    codes = parsed.codes
    if optional:
        codes = np.where(codes == parse.MISSING, 0, codes).astype(np.int8)
    flags.parsed(name, Parsed(parsed.values, codes))
    return parsed.values if default is None else pc.fill_null(parsed.values, default)


def _known(values: pa.Array, allowed: pa.Array | None, flags: _Flags, reason: str, column: str) -> None:
    if allowed is not None:
        flags.flag(~_mask(pc.is_in(values, value_set=allowed)), reason, column)


def _orders(chunk: Chunk, ctx: Context, flags: _Flags) -> dict[str, pa.Array]:
    n, cols = _n(chunk), chunk.columns
    out = {"order_id": _id(chunk, ctx, flags, "order_id", required=False)}
    out["customer_id"] = _id(chunk, ctx, flags, "customer_id")
    ts = parse.parse_timestamp(cols["order_ts"], date_format=ctx.date_format)
    flags.parsed("order_ts", ts)
    out["order_ts"] = ts.values
    out["sku"] = _id(chunk, ctx, flags, "sku", default="ALL")
    if "sku" in cols:
        _known(out["sku"], ctx.skus, flags, "unknown sku", "sku")
    if "quantity" in cols:
        qty = parse.parse_int(cols["quantity"], decimal=ctx.decimal)
        # a 20-digit quantity is named by the bounds below, as "quantity above ingest.max_quantity"
        flags.parsed("quantity", Parsed(qty.values, np.where(qty.codes == parse.TOO_LARGE, 0, qty.codes)))
        flags.flag(_mask(pc.less(qty.values, 1)), "non-positive quantity (returns are not orders)",
                   "quantity")
        flags.flag(_mask(pc.greater(qty.values, ctx.max_quantity)), TOO_MANY, "quantity")
        out["quantity"] = qty.values
    else:
        out["quantity"] = _const(1, n, pa.int64())
    out["unit_price"] = _price(chunk, ctx, flags, out["quantity"])
    out["region"] = _id(chunk, ctx, flags, "region", default="ALL")
    if "region" in cols:
        _known(out["region"], ctx.regions, flags, "unknown region", "region")
    return out


def _price(chunk: Chunk, ctx: Context, flags: _Flags, quantity: pa.Array) -> pa.Array:
    if "unit_price" in chunk.columns:
        price = _number(chunk, ctx, flags, "unit_price")
        flags.flag(_mask(pc.less(price, 0)), "negative price", "unit_price")
        return price
    if "amount" in chunk.columns:
        amount = _number(chunk, ctx, flags, "amount")
        flags.flag(_mask(pc.less(amount, 0)), "negative amount", "amount")
        return pc.divide(amount, pc.cast(quantity, pa.float64()))
    return _const(None, _n(chunk), pa.float64())


def _products(chunk: Chunk, ctx: Context, flags: _Flags) -> dict[str, pa.Array]:
    out = {"sku": _id(chunk, ctx, flags, "sku"),
           "category": _id(chunk, ctx, flags, "category", required=False, default="ALL")}
    out["unit_volume"] = _number(chunk, ctx, flags, "unit_volume", optional=True, default=1.0)
    flags.flag(_mask(pc.less_equal(out["unit_volume"], 0)), "non-positive unit_volume", "unit_volume")
    for name in ("value_local", "cost_unsold"):
        out[name] = _number(chunk, ctx, flags, name, optional=True)
        flags.flag(_mask(pc.less(out[name], 0)), "negative value", name)
    return out


def _lat_lon(chunk: Chunk, ctx: Context, flags: _Flags, out: dict[str, pa.Array]) -> None:
    for name, limit, label in (("lat", 90.0, "latitude"), ("lon", 180.0, "longitude")):
        out[name] = _number(chunk, ctx, flags, name, decimal=parse.EITHER)  # 52.520 is no 52520
        flags.flag(_mask(pc.greater(pc.abs(out[name]), limit)), f"{label} out of range", name)


def _regions(chunk: Chunk, ctx: Context, flags: _Flags) -> dict[str, pa.Array]:
    out = {"region": _id(chunk, ctx, flags, "region")}
    _lat_lon(chunk, ctx, flags, out)
    return out


def _warehouses(chunk: Chunk, ctx: Context, flags: _Flags) -> dict[str, pa.Array]:
    out = {"warehouse_id": _id(chunk, ctx, flags, "warehouse_id")}
    _lat_lon(chunk, ctx, flags, out)
    out["capacity"] = _number(chunk, ctx, flags, "capacity")
    flags.flag(_mask(pc.less(out["capacity"], 0)), "negative capacity", "capacity")
    return out


def _supply(chunk: Chunk, ctx: Context, flags: _Flags) -> dict[str, pa.Array]:
    out = {"sku": _id(chunk, ctx, flags, "sku")}
    _known(out["sku"], ctx.skus, flags, "unknown sku", "sku")
    units = parse.parse_int(chunk.columns["units"], decimal=ctx.decimal)
    flags.parsed("units", units)
    flags.flag(_mask(pc.less(units.values, 0)), "negative units", "units")
    out["units"] = units.values
    return out


_RULES = {"orders": _orders, "products": _products, "regions": _regions, "warehouses": _warehouses,
          "supply": _supply}


def with_bad_lines(rejects: pa.Table, bad_lines: list[Any]) -> pa.Table:
    """``rejects`` with a ``wrong number of fields`` record per malformed line (``read.BadLine``)."""
    if not bad_lines:
        return rejects
    extra = pa.table({
        "row": pa.array([b.row for b in bad_lines], pa.int64()),
        "column": pa.array([""] * len(bad_lines), pa.string()),
        "value": pa.array([b.text for b in bad_lines], pa.string()),
        "reason": pa.array([BAD_FIELDS] * len(bad_lines), pa.string()),
    })
    return pa.concat_tables([rejects, extra]).sort_by("row")


def _rejects(flags: _Flags) -> pa.Table:
    """One record per rejected row: row, source column, value (text, <= 200 chars), reason."""
    chunk = flags.chunk
    bad = np.flatnonzero(~flags.ok)
    rows, columns, values, reasons = [], [], [], []
    for label, (reason, column) in enumerate(flags.labels):
        idx = bad[flags.reason[bad] == label]
        if not len(idx):
            continue
        rows.append(chunk.rows[idx])
        if column is None:
            first = pc.cast(pa.array(chunk.duplicate_of[idx]), pa.string())
            text = pc.binary_join_element_wise("duplicate of row ", first, "")
        else:
            text = display(chunk.columns[column].take(pa.array(idx)))
        source = chunk.sources.get(column, "") if column is not None else ""
        columns.append(_const(source, len(idx), pa.string()))
        values.append(text)
        reasons.append(_const(reason, len(idx), pa.string()))
    if not rows:
        return pa.table({"row": pa.array([], pa.int64()), "column": pa.array([], pa.string()),
                         "value": pa.array([], pa.string()), "reason": pa.array([], pa.string())})
    table = pa.table({"row": pa.array(np.concatenate(rows)), "column": pa.concat_arrays(columns),
                      "value": pa.concat_arrays(values), "reason": pa.concat_arrays(reasons)})
    return table.sort_by("row")


def display(arr: pa.Array) -> pa.Array:
    """Raw values as printable text for rejects: invalid UTF-8 bytes escaped (``\\xff``), null as
    empty, cut to MAX_VALUE_CHARS characters."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        try:
            text = pc.cast(arr, pa.string())
        except pa.ArrowInvalid:
            text = pa.array([None if v is None else v.decode("utf-8", "backslashreplace")
                             for v in arr.to_pylist()], pa.string())
    else:
        try:
            text = pc.cast(arr, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pa.array([None if v is None else str(v) for v in arr.to_pylist()], pa.string())
    return pc.utf8_slice_codeunits(pc.fill_null(text, ""), 0, MAX_VALUE_CHARS)


AFTER_MAX = "after the data's own max + 1 day"
BAD_FIELDS = "wrong number of fields"
#: A data row that repeats the header (:mod:`anticipate.ingest.headerrows`).
REPEATED_HEADER = "repeated header line"
#: How to fix each reason, for messages.
FIXES: dict[str, str] = {
    "missing value": "fill the field in, or drop the line",
    "encoding": "the field is not valid UTF-8: save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
    "value too long": f"identifiers may have at most {parse.MAX_TEXT_CHARS} characters: check the column "
                      "mapping and the quoting",
    "unparseable date": "write timestamps as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (ISO 8601), "
                        "one format per file, or state the file's format with --date-format",
    "out of range": "timestamps must lie in [1970-01-01, 2262-04-11): correct the year",
    parse.REASONS[parse.OFFSET_EXTRA]: "one format per file: write every timestamp of the file with a UTC "
                                       "offset (+05:00) or none (a mix moves some lines by hours)",
    parse.REASONS[parse.OFFSET_MISSING]: "one format per file: write every timestamp of the file with a UTC "
                                         "offset (+05:00) or none (a mix moves some lines by hours)",
    "not an integer": "write a whole number",
    parse.REASONS[parse.TOO_LARGE]: "whole numbers must be below 9,007,199,254,740,992 in magnitude: "
                                    "correct the typo or the unit (e.g. thousandths)",
    "not a number": "write a plain number such as 12.5 or 1,250.5 (no currency sign or unit)",
    "not finite (NaN or inf)": "write a finite number",
    "non-positive quantity (returns are not orders)": "drop return and cancellation lines (quantity <= 0) "
                                                      "before ingest, or let them be quarantined",
    TOO_MANY: "correct the line (a typo, or a unit such as thousandths of a gallon), or raise "
              "ingest.max_quantity in the config if lines this large are real",
    "negative price": "prices must be >= 0",
    "negative amount": "amounts must be >= 0 (returns are not orders)",
    "unknown sku": "add the SKU to the products file, or drop the line",
    "unknown region": "add the region to the regions file, or drop the line",
    DUPLICATE: "remove the repeated line (the first copy is kept)",
    "duplicate key": "keys must be unique: keep one row per key",
    BAD_FIELDS: "every record needs as many fields as the header: check the delimiter and the quoting",
    REPEATED_HEADER: "the header line again (files concatenated with their headers): delete the line",
    AFTER_MAX: "correct the timestamp (a typo in the year?) or drop the line",
    "latitude out of range": "latitude must lie in [-90, 90]",
    "longitude out of range": "longitude must lie in [-180, 180]",
    "negative capacity": "capacity (volume units) must be >= 0",
    "non-positive unit_volume": "unit_volume must be > 0 (leave it empty for the default 1.0)",
    "negative value": "value_local and cost_unsold must be >= 0 (leave empty for the config default)",
    "negative units": "supply units must be >= 0",
}
