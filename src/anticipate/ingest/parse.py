"""Pure, vectorised parsing of raw columns into canonical types, with a reason per failure.

Every parser takes one Arrow array as read (CSV fields arrive as ``binary``;
Parquet columns keep their own types) and returns the parsed array plus a
per-row reason code (0 = fine). Nothing here raises for bad values: bad values
become reasons, and the caller turns reasons into rejects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anticipate.ingest import _kernels
from anticipate.ingest.dedup import binary_layout

#: Reasons a value can fail, in the order they are checked (index = code).
OK, MISSING, ENCODING, TOO_LONG, BAD_DATE, DATE_RANGE, BAD_INT, BAD_NUMBER, NOT_FINITE = range(9)
OFFSET_EXTRA, OFFSET_MISSING, TOO_LARGE = 9, 10, 11
REASONS = {
    MISSING: "missing value",
    ENCODING: "encoding",
    TOO_LONG: "value too long",
    BAD_DATE: "unparseable date",
    DATE_RANGE: "out of range",
    BAD_INT: "not an integer",
    BAD_NUMBER: "not a number",
    NOT_FINITE: "not finite (NaN or inf)",
    OFFSET_EXTRA: "UTC offset in a file whose date format has none",
    OFFSET_MISSING: "no UTC offset in a file whose date format has one",
    TOO_LARGE: "whole number too large (2**53 or more)",
}
#: The magnitude from which a whole number is refused: float64 (Arrow's route for ``1e20`` or a
#: 19-digit text) holds every whole number only below it.
INT_LIMIT = 2**53
#: A timestamp text that ends in a UTC offset or zone after its time of day (``06:08:34+05:00``,
#: ``06:08Z``, ``06:08:34.5 -0300``, ``06:08:34 UTC``); a date alone (``19-07-2024``) never does.
_OFFSET_RE = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s?(Z|[+-][0-9]{2}(:?[0-9]{2})?|UTC|GMT)$"

#: Longest accepted identifier (customer_id, sku, region, ...), characters.
MAX_TEXT_CHARS = 256
#: Accepted timestamps (inclusive lower, exclusive upper): from the Unix epoch to the end of
#: the nanosecond range pandas can hold; 1900 or 9999 is 'out of range'.
TS_MIN = pd.Timestamp("1970-01-01")
TS_MAX = pd.Timestamp("2262-04-11")

_INT_RE = r"^[+-]?[0-9]{1,18}$"
_FLOAT_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^[+-]?(nan|inf|infinity)$"
_ISO_FORMAT = "ISO8601"

#: Numbers whose reading depends on the decimal mark: one group of three digits after a single
#: ``.`` or ``,`` (``1.500``, ``-12,250``): a decimal, or a thousands separator.
AMBIGUOUS_DOT = r"^[+-]?[1-9][0-9]{0,2}\.[0-9]{3}$"
AMBIGUOUS_COMMA = r"^[+-]?[1-9][0-9]{0,2},[0-9]{3}$"
#: Grouped by ``,`` (``1,500``, ``1,234,567.5``) or by ``.`` (``1.500``, ``1.234,50``).
_COMMA_GROUPED = r"^[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?$"
_DOT_GROUPED = r"^[+-]?[1-9][0-9]{0,2}(\.[0-9]{3})+(,[0-9]*)?$"
_DECIMAL_COMMA = r"^[+-]?[0-9]+,[0-9]+$"
#: ``decimal`` of a column whose range excludes the grouped reading (lat, lon): an ambiguous value
#: is read as a decimal, whichever its mark.
EITHER = "either"


@dataclass(frozen=True)
class Parsed:
    """A parsed column: ``values`` (Arrow, canonical type, null where bad or empty) and
    ``codes`` (int8 numpy, one reason code per row, 0 = fine)."""

    values: pa.Array
    codes: np.ndarray


def _codes(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int8)


def _mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, null -> False."""
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def to_text(arr: pa.Array, *, trim: bool = True) -> Parsed:
    """Any column as UTF-8 text (ASCII whitespace trimmed when ``trim``); invalid UTF-8 ->
    ENCODING, null -> MISSING.

    Empty strings stay empty (the caller decides whether empty is allowed).
    """
    n = len(arr)
    codes = _codes(n)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        try:
            text = pc.cast(arr, pa.string() if pa.types.is_binary(arr.type) else pa.large_string())
        except pa.ArrowInvalid:
            data, offsets, _ = binary_layout(arr)
            ok = _kernels._utf8_valid(data, offsets)
            codes[~ok] = ENCODING
            text = pc.cast(pc.if_else(pa.array(ok), arr, pa.scalar(None, arr.type)), pa.string())
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        text = arr
    else:
        text = pc.cast(arr, pa.string())
    text = pc.cast(text, pa.string())
    if text.null_count:
        codes[(codes == OK) & ~_mask(pc.is_valid(text))] = MISSING
    return Parsed(pc.ascii_trim_whitespace(text) if trim else text, codes)


def parse_id(arr: pa.Array, *, required: bool = True) -> Parsed:
    """An identifier: text, not empty when ``required``, at most MAX_TEXT_CHARS characters.

    Empty optional values become null.
    """
    parsed = to_text(arr)
    values, codes = parsed.values, parsed.codes.copy()
    empty = _mask(pc.equal(pc.binary_length(values), 0))
    if required:
        codes[(codes == OK) & empty] = MISSING
    else:
        codes[codes == MISSING] = OK
        values = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), values)
    if (pc.max(pc.binary_length(values)).as_py() or 0) > MAX_TEXT_CHARS:  # bytes >= characters
        long = _mask(pc.greater(pc.utf8_length(values), MAX_TEXT_CHARS))
        codes[(codes == OK) & long] = TOO_LONG
    return Parsed(values, codes)


def parse_float(arr: pa.Array, *, decimal: str = ".") -> Parsed:
    """Numbers as float64; empty -> MISSING, non-numbers -> BAD_NUMBER, NaN/inf -> NOT_FINITE.

    Text is read by :func:`plain_numbers` with the file's decimal mark ``decimal`` (``.``,
    ``,`` or :data:`EITHER`).
    """
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        values, codes = as_float(arr), _codes(len(arr))
        codes[~_mask(pc.is_valid(values))] = MISSING
    else:
        values, codes = _text_to_number(arr, pa.float64(), _FLOAT_RE, decimal)
    bad = (codes == OK) & ~_mask(pc.is_finite(values))
    codes[bad] = NOT_FINITE
    return Parsed(values, codes)


def parse_int(arr: pa.Array, *, decimal: str = ".") -> Parsed:
    """Whole numbers as int64; ``3.0`` is 3, ``2.5`` or text is BAD_INT, a whole number of magnitude
    :data:`INT_LIMIT` or more read as a float (``1e20``) is TOO_LARGE (its value clamped to
    +-INT_LIMIT, the one bad value kept), empty is MISSING; ``1,500``
    is 1500 and ``2.000`` is 2000 or 2 as :func:`plain_numbers` reads it with ``decimal``."""
    if pa.types.is_integer(arr.type) and not _beyond_int_limit(arr):
        values, codes = pc.cast(arr, pa.int64()), _codes(len(arr))
        codes[~_mask(pc.is_valid(values))] = MISSING
        return Parsed(values, codes)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        floats, codes = as_float(arr), _codes(len(arr))
        codes[~_mask(pc.is_valid(floats))] = MISSING
    else:
        text = to_text(arr, trim=False)
        fast = _fast_cast(text.values, pa.int64(), hex_check=True)
        if fast is not None:
            return Parsed(fast, text.codes)
        floats, codes = _text_to_number(arr, pa.float64(), _FLOAT_RE, decimal, parsed=text)
        codes[codes == BAD_NUMBER] = BAD_INT
    whole = _mask(pc.and_(pc.is_finite(floats), pc.equal(pc.floor(floats), floats)))
    huge = whole & (np.abs(np.nan_to_num(floats.to_numpy(zero_copy_only=False))) >= INT_LIMIT)
    codes[(codes == OK) & ~whole] = BAD_INT
    codes[(codes == OK) & huge] = TOO_LARGE
    ok = pa.array(codes == OK)
    values = pc.if_else(ok, floats, pa.scalar(None, pa.float64()))
    if huge.any():  # kept, clamped, so that a caller with its own bound can name it
        limit = float(INT_LIMIT)
        values = pc.if_else(pa.array(codes == TOO_LARGE), pc.max_element_wise(
            pc.min_element_wise(floats, limit), -limit), values)
    return Parsed(pc.cast(values, pa.int64()), codes)


def as_float(arr: pa.Array) -> pa.Array:
    """A numeric column as float64, never raising: a decimal through its text (``27.81`` stays 27.81;
    Arrow's own cast gives 27.810000000000002), a 64-bit integer beyond 2**53 rounded (a uint64 return
    of -1 is 1.8e19, which Arrow's checked cast refuses with an exception)."""
    if pa.types.is_decimal(arr.type):
        return pc.cast(pc.cast(arr, pa.string()), pa.float64())
    return pc.cast(arr, pa.float64(), safe=False)


def _beyond_int_limit(arr: pa.Array) -> bool:
    """Whether an integer column holds a value of magnitude :data:`INT_LIMIT` or more (64-bit only)."""
    if arr.type.bit_width < 64 or arr.null_count == len(arr):
        return False
    low, high = pc.min_max(arr).values()
    return high.as_py() >= INT_LIMIT or low.as_py() <= -INT_LIMIT


def _fast_cast(text: pa.Array, to: pa.DataType, *, hex_check: bool = False) -> pa.Array | None:
    """Cast clean text in one go, or None when any value needs the careful path.

    Arrow reads ``0x10`` as the integer 16; ``hex_check`` sends such text the careful way.
    """
    if text.null_count:
        return None
    if hex_check and any(pc.any(pc.starts_with(text, p)).as_py() for p in ("0x", "0X")):
        return None
    try:
        return pc.cast(text, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def plain_numbers(values: pa.Array, decimal: str) -> pa.Array:
    """Trimmed number text rewritten with ``.`` as decimal mark and no thousands separator.

    A value with one reading is read so whatever ``decimal`` is: ``3,20`` is 3.20, ``1,234,567``
    and ``1.234.567`` are 1234567, ``1,234.50`` and ``1.234,50`` are 1234.50. A value with two
    (:data:`AMBIGUOUS_DOT`, :data:`AMBIGUOUS_COMMA`) is read with the decimal mark ``decimal``:
    ``1,500`` is 1500 under ``.`` and 1.5 under ``,``; ``1.500`` the reverse; under
    :data:`EITHER` both are 1.5. The caller settles ``decimal``
    (:mod:`anticipate.ingest.decimalmark`).
    """
    if not pc.any(pc.match_substring_regex(values, "[,.]")).as_py():
        return values
    comma_grouped = _mask(pc.match_substring_regex(values, _COMMA_GROUPED))
    dot_grouped = _mask(pc.match_substring_regex(values, _DOT_GROUPED))
    if decimal != ".":
        comma_grouped &= ~_mask(pc.match_substring_regex(values, AMBIGUOUS_COMMA))
    if decimal != ",":
        dot_grouped &= ~_mask(pc.match_substring_regex(values, AMBIGUOUS_DOT))
    swap = dot_grouped | (_mask(pc.match_substring_regex(values, _DECIMAL_COMMA)) & ~comma_grouped)
    swapped = pc.replace_substring(pc.replace_substring(values, ".", ""), ",", ".")
    out = pc.if_else(pa.array(swap), swapped, values)
    return pc.if_else(pa.array(comma_grouped), pc.replace_substring(values, ",", ""), out)


def _text_to_number(
    arr: pa.Array, to: pa.DataType, pattern: str, decimal: str, parsed: Parsed | None = None
) -> tuple[pa.Array, np.ndarray]:
    text = parsed if parsed is not None else to_text(arr, trim=False)
    codes = text.codes.copy()
    fast = None if decimal == "," else _fast_cast(text.values, to)  # Arrow reads '1.500' as 1.5
    if fast is not None:
        return fast, codes
    values = plain_numbers(pc.ascii_trim_whitespace(text.values), decimal)
    empty = _mask(pc.equal(pc.binary_length(values), 0))
    codes[(codes == OK) & empty] = MISSING
    good = _mask(pc.match_substring_regex(values, pattern, ignore_case=True))
    codes[(codes == OK) & ~good] = BAD_NUMBER
    kept = pc.if_else(pa.array(codes == OK), values, pa.scalar(None, pa.string()))
    try:
        return pc.cast(kept, to), codes
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a spelling Arrow does not read
        return pa.array([None if v is None else float(v) for v in kept.to_pylist()], to), codes


def parse_timestamp(arr: pa.Array, *, date_format: str | None = None) -> Parsed:
    """Timestamps as naive UTC ``timestamp[ns]``; unparseable -> BAD_DATE, outside
    [TS_MIN, TS_MAX) -> DATE_RANGE, empty -> MISSING.

    Text is read as strict ISO 8601 by a compiled kernel first; what that leaves is
    tried with ``date_format`` (one format per file, see :func:`guess_date_format`)
    and then ISO 8601 with any UTC offset (pandas). Zoned values are converted to UTC. With a
    ``date_format``, a text with a UTC offset (or ``Z``) when the format has none (``%z``, ``%Z``) is
    OFFSET_EXTRA and one without when it has one OFFSET_MISSING: a file mixing them would move some
    lines by hours and not others.
    """
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        micros = _zoned_to_naive(arr) if pa.types.is_timestamp(arr.type) else pc.cast(arr, pa.timestamp("us"))
        codes = _codes(len(arr))
        codes[~_mask(pc.is_valid(micros))] = MISSING
    else:
        text = to_text(arr)
        codes = text.codes.copy()
        zoned = np.zeros(len(arr), dtype=bool) if date_format else None
        micros = _text_timestamps(text.values, date_format, zoned)
        empty = _mask(pc.equal(pc.binary_length(text.values), 0))
        codes[(codes == OK) & empty] = MISSING
        codes[(codes == OK) & ~_mask(pc.is_valid(micros))] = BAD_DATE
        if zoned is not None:
            wants = "%z" in date_format or "%Z" in date_format  # type: ignore[operator]
            codes[(codes == OK) & (zoned != wants)] = OFFSET_MISSING if wants else OFFSET_EXTRA
    inside = pc.and_(pc.greater_equal(micros, pa.scalar(TS_MIN, pa.timestamp("us"))),
                     pc.less(micros, pa.scalar(TS_MAX, pa.timestamp("us"))))
    codes[(codes == OK) & ~_mask(inside)] = DATE_RANGE
    keep = pa.array(codes == OK)
    values = pc.cast(pc.if_else(keep, micros, pa.scalar(None, pa.timestamp("us"))), pa.timestamp("ns"))
    return Parsed(values, codes)


def _zoned_to_naive(arr: pa.Array) -> pa.Array:
    """Timestamps of any unit/zone as naive UTC microseconds (zoned values are stored as UTC)."""
    unit_us = pa.timestamp("us", tz=arr.type.tz) if arr.type.tz else pa.timestamp("us")
    micros = pc.cast(arr, unit_us, safe=False) if arr.type.unit == "ns" else pc.cast(arr, unit_us)
    return micros.view(pa.timestamp("us")) if arr.type.tz else micros


def _text_timestamps(text: pa.Array, date_format: str | None, zoned: np.ndarray | None = None) -> pa.Array:
    """Strict ISO 8601 in one compiled pass; the rest with the file's format, then ISO 8601
    with any UTC offset (pandas). Unparseable (or empty) values become null. ``zoned`` (when given)
    is set True where the text ends in a UTC offset or zone (the kernel's ``Z``, else
    :data:`_OFFSET_RE` on the texts the kernel left: no regex over a plain ISO file)."""
    data, offsets, valid = binary_layout(text)
    micros = _kernels._parse_iso(data, offsets).view("datetime64[us]")
    filled = valid & (np.diff(offsets) > 0)
    rest = np.isnat(micros) & filled
    if zoned is not None and len(data):
        zoned[:] = filled & (data[np.maximum(offsets[1:] - 1, 0)] == 90)  # 90: 'Z'
    if rest.any():
        micros = micros.copy()
        left = text.filter(pa.array(rest))
        if zoned is not None:
            zoned[rest] = _mask(pc.match_substring_regex(left, _OFFSET_RE))
        series = pd.Series(left.to_numpy(zero_copy_only=False), dtype=object)
        micros[rest] = _pandas_timestamps(series, date_format)
    return pa.array(micros, type=pa.timestamp("us"), from_pandas=True)


def text_instants(text: pa.Array, date_format: str | None) -> np.ndarray:
    """Text timestamps read as :func:`parse_timestamp` reads them (ISO 8601, then ``date_format``,
    then ISO 8601 with an offset), as naive UTC datetime64[us]; NaT where unparseable."""
    micros = _text_timestamps(pc.cast(text, pa.string()), date_format)
    return micros.to_numpy(zero_copy_only=False).astype("datetime64[us]")


def _pandas_timestamps(series: pd.Series, date_format: str | None) -> np.ndarray:
    """``series`` (text) in ``date_format`` then ISO 8601, as naive UTC datetime64[us] (NaT if bad).

    Each format gets a second call on the values still unparsed: pandas picks one
    resolution per call, and a single nanosecond value would push year 9999 out of range.
    """
    result = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[us]")
    todo = series.notna().to_numpy().copy()
    for fmt in dict.fromkeys([date_format or _ISO_FORMAT, _ISO_FORMAT]):
        for _ in range(2):
            if not todo.any():
                return result
            parsed = pd.to_datetime(series[todo], format=fmt, errors="coerce", utc=True)
            ok = parsed.notna().to_numpy()
            if not ok.any():
                break
            idx = np.flatnonzero(todo)[ok]
            result[idx] = parsed[ok].dt.tz_convert(None).astype("datetime64[us]").to_numpy()
            todo[idx] = False
    return result


def guess_date_format(values: list[str]) -> str | None:
    """The single date format that parses the most of ``values`` (a sample of one file).

    Candidates are pandas' guesses for each value, month-first and day-first; ties go
    to the first candidate seen, month-first before day-first (whether the whole file
    settles the order is :mod:`anticipate.ingest.dateorder`'s check). None when nothing parses.
    """
    import warnings

    from pandas.tseries.api import guess_datetime_format

    sample = [v.strip() for v in values if v and v.strip()][:1000]
    candidates: list[str] = []
    for value in dict.fromkeys(sample[:200]):
        for dayfirst in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fmt = guess_datetime_format(value, dayfirst=dayfirst)
            if fmt and fmt not in candidates:
                candidates.append(fmt)
    best, best_count = None, 0
    series = pd.Series(sample, dtype=object)
    for fmt in candidates:
        count = int(pd.to_datetime(series, format=fmt, errors="coerce", utc=True).notna().sum())
        if count > best_count:
            best, best_count = fmt, count
    return best
