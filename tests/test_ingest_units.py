"""Ingest building blocks: kernels against their plain twins, parsers, column mapping, rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from anticipate.errors import ConfigError, DataError
from anticipate.ingest import _kernels, columns, dedup, parse, read, sniff, tail, validate
from anticipate.ingest.validate import Chunk, Context


def _layout(values: list[bytes | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return dedup.binary_layout(pa.array(values, pa.binary()))


def _random_bytes(rng: np.random.Generator, n: int) -> list[bytes | None]:
    out: list[bytes | None] = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(None)
        else:
            out.append(bytes(rng.integers(0, 256, rng.integers(0, 30)).astype(np.uint8)))
    return out


# --------------------------------------------------------------------------- kernels vs twins
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hash_kernel_matches_its_plain_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data, offsets, valid = _layout(_random_bytes(rng, 300))
    h = rng.integers(0, 2**63, 300, dtype=np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        plain = _kernels._finish_hash_py(_kernels._hash_column_py(data, offsets, valid, h))
    fast = _kernels._finish_hash(_kernels._hash_column(data, offsets, valid, h))
    np.testing.assert_array_equal(plain, fast)


def test_row_hash_separates_null_empty_and_field_boundaries() -> None:
    table = pa.table({"a": pa.array([b"ab", b"a", b"", None, b"ab"], pa.binary()),
                      "b": pa.array([b"c", b"bc", b"", b"", b"c"], pa.binary())})
    h = dedup.row_hashes(table)
    assert h[0] == h[4]  # identical lines
    assert len(set(h[:4].tolist())) == 4  # "ab|c" != "a|bc", null != ""


@pytest.mark.parametrize("seed", [0, 1])
def test_utf8_kernel_matches_its_twin_and_python(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = [*_random_bytes(rng, 400), "é€😀".encode(), b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
    data, offsets, _ = _layout(values)
    fast = _kernels._utf8_valid(data, offsets)
    np.testing.assert_array_equal(_kernels._utf8_valid_py(data, offsets), fast)

    def ok(v: bytes | None) -> bool:
        try:
            (v or b"").decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False

    assert fast.tolist() == [ok(v) for v in values]


def test_seen_insert_kernel_matches_its_twin_and_reports_first_rows() -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 50, 400).astype(np.uint64)  # many repeats, many collisions on slots
    rows = np.arange(1, 401, dtype=np.int64)
    t1, t2 = np.zeros((1024, 2), np.uint64), np.zeros((1024, 2), np.uint64)
    first = _kernels._seen_insert(t1, hashes, rows)
    np.testing.assert_array_equal(first, _kernels._seen_insert_py(t2, hashes, rows))
    np.testing.assert_array_equal(t1, t2)
    expected = [0 if hashes[:i].tolist().count(h) == 0 else int(np.flatnonzero(hashes == h)[0]) + 1
                for i, h in enumerate(hashes)]
    assert first.tolist() == expected


def test_day_insert_kernel_matches_its_twin_and_flags_keys_met_on_another_day() -> None:
    rng = np.random.default_rng(4)
    hashes = (rng.integers(0, 40, 400).astype(np.uint64) << np.uint64(30)) | np.uint64(5)  # slot collisions
    hashes[:3] = 0  # a key whose high bits are all 0 is still a key
    days = rng.integers(0, 3, 400).astype(np.int64)
    days[:3] = [7, 7, 8]
    t1, t2 = np.zeros(1024, np.uint64), np.zeros(1024, np.uint64)
    met = _kernels._day_insert(t1, hashes, days)
    np.testing.assert_array_equal(met, _kernels._day_insert_py(t2, hashes, days))
    np.testing.assert_array_equal(t1, t2)
    first: dict[int, int] = {}  # key (the hash's high 47 bits, 0 stored as 1) -> its first day
    expected = []
    for h, d in zip(hashes.tolist(), days.tolist(), strict=True):
        key = max(h >> _kernels.DAY_BITS, 1)
        expected.append(int(first[key] != d) if key in first else 2)
        first.setdefault(key, d)
    assert met.tolist() == expected and met[:3].tolist() == [2, 0, 1]


def test_order_days_grows_and_flags_an_order_met_days_later_in_another_chunk() -> None:
    import pyarrow as pa

    from anticipate.ingest.orderspan import OrderDays

    def chunk(day: int, customers: range) -> pa.Table:
        n = len(customers)
        return pa.table({"customer_id": [f"c{c}" for c in customers],
                         "order_id": [str(c % 7) for c in customers],
                         "order_ts": pa.array(np.full(n, np.datetime64(f"2025-03-{day:02d}T10:00", "ns")))})
    days = OrderDays(16)
    days.add(chunk(1, range(0, 5000)))
    days.add(chunk(1, range(0, 5000)))  # the same day again: nothing
    assert days.nbytes >= 5000 / 0.7 * 8 and not len(days.flagged)
    days.add(chunk(9, range(4990, 9000)))  # c4990..c4999 met again on another day
    assert len(days.flagged) == 10


def test_order_days_is_sized_once_for_the_lines_of_its_source(tmp_path: Path) -> None:
    """Grown by doubling from 65,536 slots, the table rehashed ~2x its entries (0.58 s of the check's 1.3 s
    on 10M lines); reserved at the first chunk for the file's expected lines (ingest's own estimate, as for
    its seen-lines table), plus the existing orders with --append, it never grows while the orders are
    added."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from anticipate.ingest.orderspan import OrderDays
    from anticipate.ingest.read import inspect, iter_chunks

    n = 200_000
    lines = "".join(f"o{i},c{i % 997},2025-03-{1 + i % 28:02d} 10:00:00,s1,1\n" for i in range(n))
    (tmp_path / "o.csv").write_text("order_id,customer_id,order_ts,sku,quantity\n" + lines)
    table = pa.table({"customer_id": [f"c{i % 997}" for i in range(n)],
                      "order_id": [f"o{i}" for i in range(n)],
                      "order_ts": pa.array(np.full(n, np.datetime64("2025-03-01T10:00", "ns")))})
    pq.write_table(table, tmp_path / "o.parquet")
    for path, append_to, at_least in ((tmp_path / "o.csv", "", n), (tmp_path / "o.parquet", "", n),
                                      (tmp_path / "o.csv", str(tmp_path / "o.parquet"), 2 * n)):
        source = inspect(path)
        first = next(iter(iter_chunks(source, 50_000)))
        days = OrderDays()
        days.reserve(dedup.expected_lines(path, first, source.kind, source.compression), append_to)
        size = days.nbytes
        assert size >= at_least / 0.7 * 8, (path, size)
        days.add(table)
        assert days.nbytes == size  # no growth
    assert OrderDays().nbytes == 2**17 * 8  # nothing reserved: 65,536 orders, grown as it goes


def test_seen_lines_grows_and_remembers_across_chunks() -> None:
    seen = dedup.SeenLines(capacity=4)
    a = np.arange(1, 101, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    assert (seen.first_rows(a, np.arange(1, 101)) == 0).all()
    again = seen.first_rows(a[::-1].copy(), np.arange(101, 201))
    assert again.tolist() == list(range(100, 0, -1))
    assert seen.nbytes >= 100 * 16


@pytest.mark.parametrize("seed", [0, 1])
def test_iso_kernel_matches_its_twin_and_pandas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("1960-01-01") + pd.to_timedelta(rng.integers(0, 10**11, 300), unit="s")
    values = [t.strftime(rng.choice(["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])) for t in stamps]
    values += ["2024-02-29", "2023-02-29", "2023-04-31", "2023-13-01", "2023-1-01", "2023-01-01 24:00",
               "2023-01-01T10:00:00.123456789", "2023-01-01T10:00:00Z", "2023-01-01T10:00:00+01:00", "", "x"]
    data, offsets, _ = _layout([v.encode() for v in values])
    fast = _kernels._parse_iso(data, offsets)
    np.testing.assert_array_equal(fast, _kernels._parse_iso_py(data, offsets))
    for value, got in zip(values, fast.view("datetime64[us]"), strict=True):
        want = pd.to_datetime(pd.Series([value]), format="ISO8601", errors="coerce", utc=True)
        want = want.dt.tz_convert(None).astype("datetime64[us]").to_numpy()[0]
        if np.isnat(got):  # the kernel leaves what is not strict ISO (offsets, 2023-1-01) to pandas
            assert value in values[300:], value
        else:
            assert got == want, value
    assert np.isnat(fast.view("datetime64[us]")[300:]).tolist() == [False, True, True, True, True, True,
                                                                     False, False, True, True, True]


def test_small_kernel_helpers_match_their_twins() -> None:
    with np.errstate(over="ignore"):
        for x, w in [(1, 2), (2**64 - 1, 12345), (0xDEADBEEF, 2**63)]:
            args = (np.uint64(x), np.uint64(w), np.uint64(0x9E3779B185EBCA87), np.uint64(0xC2B2AE3D27D4EB4F))
            assert int(_kernels._round(*args)) == int(_kernels._round_py(*args))
    data = np.frombuffer(b"2024-02-29T1x", dtype=np.uint8)
    assert _kernels._digits(data, 0, 4) == _kernels._digits_py(data, 0, 4) == 2024
    assert _kernels._digits(data, 10, 3) == _kernels._digits_py(data, 10, 3) == -1
    word = int.from_bytes(data[:8].tobytes(), "little")
    assert int(_kernels._word(data, 0)) == int(_kernels._word_py(data, 0)) == word
    for y, m, d in [(1970, 1, 1), (2000, 2, 29), (1900, 3, 1), (9999, 12, 31), (1600, 1, 1)]:
        days = (pd.Timestamp(year=y, month=m, day=d).to_datetime64().astype("datetime64[D]")).astype(int)
        assert _kernels._days_from_civil(y, m, d) == _kernels._days_from_civil_py(y, m, d) == days


# --------------------------------------------------------------------------- parsers
def _bin(values: list[str | bytes | None]) -> pa.Array:
    return pa.array([v.encode() if isinstance(v, str) else v for v in values], pa.binary())


def test_parse_int_reasons() -> None:
    got = parse.parse_int(_bin(["1", " 2 ", "3.0", "2.5", "abc", "", "0x10", "-4", "1" * 20, None]))
    assert got.values.to_pylist() == [1, 2, 3, None, None, None, None, -4, 2**53, None]  # clamped: TOO_LARGE
    assert got.codes.tolist() == [0, 0, 0, parse.BAD_INT, parse.BAD_INT, parse.MISSING, parse.BAD_INT, 0,
                                  parse.TOO_LARGE, parse.MISSING]


def test_parse_float_reasons_and_decimal_comma() -> None:
    got = parse.parse_float(_bin(["1.5", "nan", "inf", "-inf", "1e400", "abc", "", "3,5", " 2 ", "$3,20"]))
    assert got.codes.tolist() == [0, parse.NOT_FINITE, parse.NOT_FINITE, parse.NOT_FINITE, parse.NOT_FINITE,
                                  parse.BAD_NUMBER, parse.MISSING, 0, 0, parse.BAD_NUMBER]
    assert got.values.to_pylist()[7:9] == [3.5, 2.0]  # a decimal comma reads one way only


@pytest.mark.parametrize(("decimal", "expected"), [
    (".", [1500.0, 1.5, 2000.0, 2.0, 3.2, 1234.5, 1234.5, 1234567.0, 1234567.0, -12250.0, 0.5]),
    (",", [1.5, 1500.0, 2.0, 2000.0, 3.2, 1234.5, 1234.5, 1234567.0, 1234567.0, -12.25, 0.5]),
    (parse.EITHER, [1.5, 1.5, 2.0, 2.0, 3.2, 1234.5, 1234.5, 1234567.0, 1234567.0, -12.25, 0.5]),
])
def test_thousands_separators_read_with_the_stated_decimal_mark(decimal: str, expected: list) -> None:
    text = ["1,500", "1.500", "2,000", "2.000", "3,20", "1.234,50", "1,234.50", "1,234,567", "1.234.567",
            "-12,250", "0,500"]
    got = parse.parse_float(_bin(text), decimal=decimal)
    assert got.values.to_pylist() == expected and not got.codes.any()
    ints = parse.parse_int(_bin(["2.000", "1,500"]), decimal=decimal).values.to_pylist()
    assert ints == {".": [2, 1500], ",": [2000, None], parse.EITHER: [2, None]}[decimal]


def test_parse_timestamp_formats_ranges_and_zones() -> None:
    got = parse.parse_timestamp(_bin(["2023-01-01", "2023-01-01T10:00:00+02:00", "9999-12-31", "1900-01-01",
                                      "1969-12-31 23:59", "2023-02-30", "", "12/31/2023"]))
    assert got.values.to_pylist()[:2] == [pd.Timestamp("2023-01-01"), pd.Timestamp("2023-01-01 08:00")]
    assert got.codes.tolist() == [0, 0, parse.DATE_RANGE, parse.DATE_RANGE, parse.DATE_RANGE,
                                  parse.BAD_DATE, parse.MISSING, parse.BAD_DATE]
    assert got.values.type == pa.timestamp("ns")


def test_guessed_day_first_format_is_used_for_the_file() -> None:
    fmt = parse.guess_date_format(["01/02/2010 8:26", "13/02/2010 9:00", "14/02/2010 9:00"])
    assert fmt == "%d/%m/%Y %H:%M"
    got = parse.parse_timestamp(_bin(["01/02/2010 8:26", "2010-03-01"]), date_format=fmt)
    assert got.values.to_pylist() == [pd.Timestamp("2010-02-01 08:26"), pd.Timestamp("2010-03-01")]


def test_parse_id_encoding_length_and_emptiness() -> None:
    got = parse.parse_id(_bin(["a", " b ", "", "x" * 257, b"\xffab", None]))
    assert got.values.to_pylist()[:2] == ["a", "b"]
    assert got.codes.tolist() == [0, 0, parse.MISSING, parse.TOO_LONG, parse.ENCODING, parse.MISSING]
    assert parse.parse_id(_bin(["", "c"]), required=False).values.to_pylist() == [None, "c"]


# --------------------------------------------------------------------------- columns, sniffing, rows
def test_aliases_are_matched_case_and_punctuation_blind() -> None:
    header = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "Customer ID", "Country"]
    found = columns.resolve("orders", header, {}, file="f.csv")
    assert {k: header[v] for k, v in found.items()} == {
        "order_id": "InvoiceNo", "sku": "StockCode", "quantity": "Quantity", "order_ts": "InvoiceDate",
        "unit_price": "UnitPrice", "customer_id": "Customer ID", "region": "Country"}


def test_config_mapping_wins_and_bad_mappings_are_named() -> None:
    found = columns.resolve("orders", ["who", "when", "date"], {"customer_id": "who", "order_ts": "when"},
                            file="f.csv")
    assert found == {"customer_id": 0, "order_ts": 1}
    with pytest.raises(DataError, match="'nope', which is not a column"):
        columns.resolve("orders", ["who", "when"], {"customer_id": "nope"}, file="f.csv")
    with pytest.raises(ConfigError, match=r"ingest\.columns\.orders\.colour"):
        columns.resolve("orders", ["who", "when"], {"colour": "who"}, file="f.csv")


def test_missing_required_column_lists_what_was_found_and_how_to_map() -> None:
    with pytest.raises(DataError) as err:
        columns.resolve("orders", ["client", "price"], {}, file="f.csv")
    msg = str(err.value)
    assert "'order_ts'" in msg and "'client', 'price'" in msg and "ingest: {columns: {orders:" in msg


@pytest.mark.parametrize(("lines", "delim"), [
    (["a,b,c", "1,2,3"], ","), (["a;b;c", "1;2,5;3"], ";"), (["a\tb", "1\t2"], "\t"), (["a|b", "1|2"], "|"),
    (['"x;y",b', '"1;2",3'], ","), (["single", "1"], ","),
])
def test_sniff_delimiter(lines: list[str], delim: str) -> None:
    assert sniff.sniff_delimiter(lines) == delim


@pytest.mark.parametrize(("lines", "layout"), [
    (["sep=|", "a|b", "1|2"], ("|", 2)), (["SEP=\t", "a\tb"], ("\t", 2)), (['"sep=,"', "a,b"], (",", 2)),
    (["sep=;;;", "a;b"], (";", 2)), (["sep=;x", "a;b"], (";", 1)), (["a;b", "1;2"], (";", 1)),
])
def test_excel_separator_hint(lines: list[str], layout: tuple[str, int]) -> None:
    """A first line sep=X is Excel's separator hint: X is the delimiter and the header the next line."""
    found = sniff.layout(lines, file="f.csv")
    assert (found.delimiter, found.skip) == layout and (found.note is not None) == (layout[1] == 2)


@pytest.mark.parametrize(("lines", "said"), [
    (["sep=x", "axb"], "names no usable delimiter"), (["sep=", "a,b"], "names no usable delimiter"),
    (["sep=;"], "no header after it"),
])
def test_an_unusable_separator_hint_is_refused(lines: list[str], said: str) -> None:
    with pytest.raises(DataError, match=said):
        sniff.layout(lines, file="f.csv")


def test_a_read_column_named_twice_is_refused_and_an_unread_one_is_not() -> None:
    """The column feeding a canonical column may not have a twin under the normalising its match used
    (a mapping: its exact spelling); two columns feeding nothing may share a name."""
    base = ["order_id", "customer_id", "order_ts"]
    with pytest.raises(DataError, match=r"'Price \(EUR\)' and 'Price \(USD\)' \(fields 4 and 5\)"):
        columns.resolve("orders", [*base, "Price (EUR)", "Price (USD)"], {}, file="f.csv")
    found = columns.resolve("orders", [*base, "Price (EUR)", "Price (USD)"], {"unit_price": "Price (USD)"},
                            file="f.csv")
    assert found["unit_price"] == 4
    assert columns.resolve("orders", [*base, "note", "note"], {}, file="f.csv") == {
        "order_id": 0, "customer_id": 1, "order_ts": 2}
    with pytest.raises(DataError, match=r"'customer_id' \(fields 2 and 4\)"):
        columns.resolve("orders", [*base, "customer_id"], {"customer_id": "customer_id"}, file="f.csv")


def test_kept_rows_skips_excluded_rows() -> None:
    got = read.kept_rows(np.array([2, 3, 7]), np.arange(6))
    assert got.tolist() == [1, 4, 5, 6, 8, 9]


# --------------------------------------------------------------------------- rules
def _chunk(cols: dict[str, list], dup: list[int] | None = None) -> Chunk:
    n = len(next(iter(cols.values())))
    return Chunk({k: _bin(v) for k, v in cols.items()}, {k: k.upper() for k in cols},
                 np.arange(1, n + 1, dtype=np.int64), np.array(dup or [0] * n, dtype=np.int64))


def test_orders_rules_give_one_reject_per_row_with_the_first_reason() -> None:
    chunk = _chunk({
        "customer_id": ["c1", "", "c3", "c4", "c5", "c6", "c1"],
        "order_ts": ["2025-01-01", "2025-01-01", "bad", *["2025-01-01"] * 4],
        "sku": ["s1", "s1", "s1", "zz", "s1", "s1", "s1"],
        "quantity": ["1", "1", "1", "1", "0", "2", "1"],
        "unit_price": ["1", "1", "1", "1", "1", "-1", "1"],
    }, dup=[0, 0, 0, 0, 0, 0, 1])
    checked = validate.validate_chunk("orders", chunk, Context(skus=pa.array(["s1"])))
    assert checked.accepted.num_rows == 1 and checked.accepted["region"].to_pylist() == ["ALL"]
    rejects = checked.rejects.to_pylist()
    assert [(r["row"], r["column"], r["reason"]) for r in rejects] == [
        (2, "CUSTOMER_ID", "missing value"), (3, "ORDER_TS", "unparseable date"),
        (4, "SKU", "unknown sku"), (5, "QUANTITY", "non-positive quantity (returns are not orders)"),
        (6, "UNIT_PRICE", "negative price"), (7, "", "duplicate")]
    assert rejects[-1]["value"] == "duplicate of row 1" and rejects[2]["value"] == "zz"


def test_amount_stands_in_for_price_and_missing_columns_get_defaults() -> None:
    chunk = _chunk({"customer_id": ["c1"], "order_ts": ["2025-01-01"], "quantity": ["4"], "amount": ["10"]})
    accepted = validate.validate_chunk("orders", chunk, Context()).accepted.to_pylist()[0]
    assert accepted["unit_price"] == 2.5 and accepted["sku"] == "ALL" and accepted["order_id"] is None


def test_reference_rules_ranges_and_defaults_leave_repeated_keys_to_refkeys() -> None:
    products = validate.validate_chunk("products", _chunk({"sku": ["a", "b", "a", "c"],
                                                           "unit_volume": ["", "0", "2", "-1"]}), Context())
    assert products.accepted.to_pylist() == [
        {"sku": "a", "category": "ALL", "unit_volume": v, "value_local": None, "cost_unsold": None}
        for v in (1.0, 2.0)]  # the repeated key is settled after the file (ingest.refkeys)
    assert products.rejects["reason"].to_pylist() == ["non-positive unit_volume", "non-positive unit_volume"]
    regions = validate.validate_chunk("regions", _chunk(
        {"region": ["r1", "r2", "r3"], "lat": ["91", "0", "0"], "lon": ["0", "-181", "180"]}), Context())
    assert regions.rejects["reason"].to_pylist() == ["latitude out of range", "longitude out of range"]
    supply = validate.validate_chunk("supply", _chunk({"sku": ["a", "x", "b"], "units": ["1", "2", "-3"]}),
                                     Context(skus=pa.array(["a", "b"])))
    assert supply.rejects["reason"].to_pylist() == ["unknown sku", "negative units"]


def test_future_tail_is_cut_only_when_small_and_far() -> None:
    counts = np.zeros(40_000, dtype=np.int64)
    counts[19_000:19_700] = 100  # two years of orders
    assert tail.body_end_day(counts) is None
    typo = counts.copy()
    typo[30_000] = 3  # a typo decades later
    assert tail.body_end_day(typo) == 19_699
    big = counts.copy()
    big[30_000] = 5_000  # too much to be a typo
    assert tail.body_end_day(big) is None
    near = counts.copy()
    near[19_720] = 1  # 3 weeks later: plausible
    assert tail.body_end_day(near) is None


def test_a_one_year_typo_after_two_years_is_cut_but_orders_after_a_closure_go_in() -> None:
    counts = np.zeros(40_000, dtype=np.int64)
    counts[19_000:19_730] = 100  # two years, an order every day
    typo = counts.copy()
    typo[20_094] = 1  # one line a year after the last day: the gap (365) is shorter than the span
    assert tail.body_end_day(typo) == 19_729
    found = tail.find_tail(typo)
    assert (found.gap, found.lines, found.cut) == (365, 1, True)
    assert "1 line(s) dated 2025-01-06 come 365 days after" in found.describe()
    reopened = counts.copy()
    reopened[19_775] = 60  # a quiet first day after a 46-day closure (or export outage): real orders
    assert tail.find_tail(reopened) is None
    late = counts.copy()
    late[19_729 + 200] = 100  # a usual day's lines 200 days later: kept, with a warning
    found = tail.find_tail(late)
    assert found is not None and not found.cut and "hold as many lines as a usual day" in found.describe()
    weekly = np.zeros(40_000, dtype=np.int64)
    weekly[19_000:19_730:7] = 100  # a weekly log: a line 8 weeks later is not far for it
    weekly[19_722 + 56] = 1
    assert tail.find_tail(weekly) is None


def test_the_header_line_check_normalises_names_as_the_column_matching_does() -> None:
    """headerrows applies the one naming rule (column_names.normalise) to whole chunks of rejects in Arrow:
    both must reduce a name alike, units or not, or a repeated header would pass as data."""
    from anticipate.column_names import normalise
    from anticipate.ingest.headerrows import _keys

    names = ["Customer ID", "customer_id", "CustomerID", "Capacity (m3)", "Price [EUR]", "order-ts",
             "QTY", " sku ", "Unit Volume (l)", "2025-01-01 10:00", "Ünit"]
    for units in (True, False):
        assert _keys(pa.array(names), units=units).to_pylist() == [normalise(n, units=units) for n in names]
