"""Streaming one source file through read -> duplicate check -> validate -> Parquet.

Accepted rows are appended to ``<table>.parquet`` and rejects to the shared
``rejects.parquet`` chunk by chunk, so memory stays bounded whatever the file's
size (a chunk, the seen-lines table of :mod:`anticipate.ingest.dedup`, a
rows-per-day histogram and the row numbers of rejected orders). The rule "not
after the data's own max + 1 day" needs the whole file (with ``--append``, plus the
existing orders' rows per day): after the pass, the rare tail it cuts is removed by
rewriting the staged ``orders.parquet`` (a second, Parquet-speed pass only when there
is such a tail).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anticipate.allocation.instance import CAPACITY_CAP as _HUGE_CAPACITY
from anticipate.errors import DataError
from anticipate.ingest import columns, dateorder, decimalmark, dedup, ids, parse, read, tail, validate
from anticipate.ingest.headerrows import relabel
from anticipate.ingest.messages import fail_error, share_error
from anticipate.ingest.orderspan import OrderDays, span_warning
from anticipate.ingest.report import value_ranges
from anticipate.ingest.validate import REJECTS_SCHEMA, SCHEMAS, Chunk, Context
from anticipate.ingest.writer import BackgroundWriter
from anticipate.schema import KEYS

_DAY_NS = 86_400 * 10**9
_N_DAYS = (parse.TS_MAX - parse.TS_MIN).days + 1


@dataclass(frozen=True)
class Options:
    """How to ingest one table: rows per chunk, ``on_error`` (quarantine|fail), the largest
    accepted rejected share, the config column mapping, the output directory (for messages),
    for orders with ``--append`` the existing ``orders.parquet`` to append to, and the stated
    orders date format (``--date-format``; None: detected and checked,
    :mod:`~anticipate.ingest.dateorder`) and the decimal mark (``--decimal``; None: settled from the
    data, :mod:`~anticipate.ingest.decimalmark`)."""

    chunk_rows: int = 1_000_000
    on_error: str = "quarantine"
    max_reject_share: float = 0.01
    mapping: dict[str, str] = field(default_factory=dict)
    out: str = ""
    append_to: str = ""
    date_format: str | None = None
    decimal: str | None = None


@dataclass
class TableReport:
    """What ingesting one table did: counts, reasons, where each column came from.

    ``columns`` canonical -> source name; ``mapped`` source -> canonical; ``defaulted``
    canonical -> the value every row got (None: null); ``ignored`` source columns not
    used. ``date_format_source``: ``stated`` (``--date-format``) or ``detected``; ``decimal`` the
    decimal mark and ``decimal_source`` ``stated``, ``detected`` or ``default``. Orders:
    ``usable_region_rows`` accepted lines whose region can be mapped to a
    warehouse; with ``--append``, ``existing_rows`` kept before the new lines and
    ``duplicates_existing`` new lines dropped as repeats of existing ones (counted in
    ``rows_rejected``; ``duplicates_existing_by_key`` of them on the order key only).
    """

    table: str
    file: str
    format: str
    columns: dict[str, str]
    delimiter: str | None = None
    compression: str | None = None
    bom: bool = False
    date_format: str | None = None
    date_format_source: str | None = None
    decimal: str | None = None
    decimal_source: str | None = None
    rows_in: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    first_reject: dict[str, Any] | None = None
    first_day: str | None = None
    last_day: str | None = None
    sha256: str = ""
    notes: list[str] = field(default_factory=list)
    mapped: dict[str, str] = field(default_factory=dict)
    defaulted: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    usable_region_rows: int | None = None
    existing_rows: int | None = None
    duplicates_existing: int = 0
    duplicates_existing_by_key: int = 0
    ranges: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (reasons sorted by count)."""
        out = dict(self.__dict__)
        out["reasons"] = dict(self.reasons.most_common())
        return out


class RejectSink:
    """``rejects.parquet`` for all tables, written incrementally (always created, maybe empty)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(path, REJECTS_SCHEMA, compression="zstd")

    def write(self, table: str, file: str, rejects: pa.Table) -> None:
        """Append ``rejects`` (row, column, value, reason) of ``table`` read from ``file``."""
        n = rejects.num_rows
        full = pa.table([validate._const(table, n, pa.string()), validate._const(file, n, pa.string()),
                         rejects["row"], rejects["column"], rejects["value"], rejects["reason"]],
                        schema=REJECTS_SCHEMA)
        self._writer.write_table(full)

    def write_records(self, records: pa.Table) -> None:
        """Append full reject records (``table, file, row, column, value, reason``), e.g. kept ones."""
        self._writer.write_table(records.select(REJECTS_SCHEMA.names).cast(REJECTS_SCHEMA))

    def close(self) -> None:
        """Finish the file."""
        self._writer.close()


def ingest_table(table: str, path: Path, out_dir: Path, sink: RejectSink, opts: Options,
                 refs: Context) -> tuple[TableReport, pa.Array | None]:
    """Ingest one source file into ``out_dir/<table>.parquet``; rejects go to ``sink``.

    Parameters
    ----------
    table, path, out_dir
        Canonical table name; the source file (CSV, CSV.gz or Parquet); the (staging) data directory.
    refs
        Keys of already ingested reference tables (``skus``, ``regions``).

    Returns
    -------
    tuple
        The table's report and, for reference tables, the accepted keys (else None).

    Raises
    ------
    DataError
        Unreadable input, a missing required column, no data rows, a bad row with
        ``on_error='fail'``, or a rejected share above ``max_reject_share``.
    """
    run = _TableRun(table, Path(path), out_dir, sink, opts, refs)
    return run.run(), run.keys()


class _TableRun:
    def __init__(self, table: str, path: Path, out_dir: Path, sink: RejectSink, opts: Options,
                 refs: Context) -> None:
        self.table, self.path, self.file = table, path, str(path)
        self.target = out_dir / f"{table}.parquet"
        self.sink, self.opts, self.refs = sink, opts, refs
        self.seen = dedup.SeenLines()
        self.key_chunks: list[pa.Array] = []
        self.key_rows: list[np.ndarray] = []
        self.rejected_rows: list[np.ndarray] = []
        self.day_counts = np.zeros(_N_DAYS, dtype=np.int64)
        self.ctx, self.spans = refs, OrderDays()  # orders: (customer, order_id) on two days

    def keys(self) -> pa.Array | None:
        if self.table not in KEYS:
            return None
        return pa.concat_arrays(self.key_chunks) if self.key_chunks else pa.array([], pa.string())

    def run(self) -> TableReport:
        source = self.source = read.inspect(self.path)
        found = columns.resolve(self.table, source.header, self.opts.mapping, file=self.file)
        self.found = found
        self.sources = {name: source.header[i] for name, i in found.items()}
        self.report = TableReport(self.table, self.file, source.kind, dict(self.sources),
                                  source.delimiter, source.compression, source.bom,
                                  notes=[source.note] if source.note else [])
        self.report.mapped, self.report.defaulted, self.report.ignored = columns.account(
            self.table, source.header, found)
        if self.table == "orders":
            self.report.usable_region_rows = 0
        self.marks = decimalmark.for_file(self.opts.decimal, source.delimiter, file=self.file,
                                          out=self.opts.out)
        writer = BackgroundWriter(self.target, SCHEMAS[self.table])
        try:
            for i, raw in enumerate(read.iter_chunks(source, self.opts.chunk_rows)):
                if i == 0:
                    self._guess_format(raw)
                self._chunk(raw, writer)
        finally:
            writer.close()
        self._finish()
        self.report.sha256 = _digest(self.path)
        return self.report

    def _guess_format(self, raw: read.RawChunk) -> None:
        if self.table != "orders":
            return
        if self.opts.date_format:
            self.report.date_format, self.report.date_format_source = self.opts.date_format, "stated"
            self.ctx = replace(self.ctx, date_format=self.opts.date_format)
            return
        arr = raw.columns[self.found["order_ts"]][:1000]
        if not (pa.types.is_binary(arr.type) or pa.types.is_string(arr.type)):
            return
        sample = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in arr.to_pylist()]
        fmt = parse.guess_date_format([v for v in sample if v is not None])
        self.report.date_format, self.report.date_format_source = fmt, "detected" if fmt else None
        if fmt is not None and dateorder.twin(fmt) is not None:  # the whole file settles day/month
            fmt, note = dateorder.settle(self.source, self.found["order_ts"], self.opts.chunk_rows, fmt,
                                         file=self.file, name=self.sources["order_ts"], out=self.opts.out)
            self.report.date_format = fmt
            self.report.notes.extend([note] if note else [])
        self.ctx = replace(self.ctx, date_format=fmt)

    def _chunk(self, raw: read.RawChunk, writer: BackgroundWriter) -> None:
        names = [f"f{i}" for i in range(len(raw.columns))]
        hashes = dedup.row_hashes(pa.Table.from_arrays(raw.columns, names=names))
        if self.report.rows_in == 0 and len(raw.rows) and self.path.stat().st_size:
            expected = dedup.expected_lines(self.path, raw, self.report.format, self.report.compression)
            self.seen.reserve(expected)  # each table sized once for the lines it will meet
            self.spans.reserve(expected if self.table == "orders" else 0, self.opts.append_to)
        first = self.seen.first_rows(hashes, raw.rows)
        chunk = Chunk({name: raw.columns[i] for name, i in self.found.items()}, self.sources, raw.rows, first)
        if self.report.rows_in == 0:  # '17850.0' ids: one text in every format (ingest.ids)
            float_ids, notes = ids.integral_columns(self.table, chunk.columns, self.sources)
            self.ctx = replace(self.ctx, float_ids=float_ids)
            self.report.notes.extend(notes)
        self.ctx = replace(self.ctx, decimal=self.marks.observe(self.table, chunk.columns, self.sources,
                                                                raw.rows))
        checked = validate.validate_chunk(self.table, chunk, self.ctx)
        rejects = relabel(self.table, validate.with_bad_lines(checked.rejects, raw.bad_lines), raw,
                          self.source, self.found, self.opts.mapping, file=self.file)
        self.report.rows_in += len(raw.rows) + len(raw.bad_lines)
        self._reject(rejects)
        accepted = checked.accepted
        writer.write_table(accepted)
        self.report.rows_accepted += accepted.num_rows
        if self.table in KEYS:
            self.key_chunks.append(accepted[KEYS[self.table]].combine_chunks())
            self.key_rows.append(raw.rows[~np.isin(raw.rows, checked.rejects["row"].to_numpy())])
        if self.table == "orders":
            days = accepted["order_ts"].combine_chunks().cast(pa.int64()).to_numpy(False) // _DAY_NS
            self.day_counts += np.bincount(days, minlength=_N_DAYS)[:_N_DAYS]
            self.spans.add(accepted)
            self.report.usable_region_rows += usable_regions(accepted["region"])
        if self.table == "warehouses":
            self._note_capacity(accepted)

    def _reject(self, rejects: pa.Table) -> None:
        if rejects.num_rows == 0:
            return
        self.report.rows_rejected += rejects.num_rows
        for item in pc.value_counts(rejects["reason"]).to_pylist():
            self.report.reasons[item["values"]] += item["counts"]
        if self.report.first_reject is None:
            self.report.first_reject = rejects.slice(0, 1).to_pylist()[0]
        if self.opts.on_error == "fail":
            raise fail_error(self.report, self.opts.out)
        if self.table == "orders":
            self.rejected_rows.append(rejects["row"].to_numpy())
        self.sink.write(self.table, self.file, rejects)

    def _note_capacity(self, accepted: pa.Table) -> None:
        huge = accepted.filter(pc.greater_equal(accepted["capacity"], _HUGE_CAPACITY))
        if huge.num_rows:
            self.report.notes.append(
                f"{huge.num_rows} warehouse(s) have capacity >= {_HUGE_CAPACITY:g} (e.g. "
                f"{huge['warehouse_id'][0].as_py()!r}: {huge['capacity'][0].as_py():g}); accepted as "
                "effectively unlimited")

    def _finish(self) -> None:
        report = self.report
        report.decimal, report.decimal_source = self.marks.mark, self.marks.source
        report.notes.extend(filter(None, [self.marks.note()]))
        if report.rows_in == 0:
            raise DataError("the file has column names but no data rows; add rows or leave this file out",
                            file=self.file)
        if self.table == "orders":
            self._tail()
            days = np.flatnonzero(self.day_counts)
            if len(days):
                report.first_day = str(np.datetime64(int(days[0]), "D"))
                report.last_day = str(np.datetime64(int(days[-1]), "D"))
            if self.opts.append_to:
                self._append()
            report.notes.extend(filter(None, [span_warning(self.spans, self.target, self.opts.chunk_rows)]))
        if self.table in KEYS:
            self._repeated_keys()
        if self.table == "products":  # g and h from the file, warned about (report.economics_warnings)
            report.ranges = value_ranges(self.target)
        share = (report.rows_rejected - report.duplicates_existing) / report.rows_in
        if share > self.opts.max_reject_share:
            raise share_error(report, self.opts)

    def _repeated_keys(self) -> None:
        """Sum, keep once or refuse the rows of a reference table that repeat a key (:mod:`refkeys`)."""
        from anticipate.ingest.refkeys import resolve

        keys = self.keys()
        rows = np.concatenate([np.zeros(0, np.int64), *self.key_rows])
        done = resolve(self.table, self.target, keys, rows, file=self.file, out=self.opts.out,
                       source=self.sources[KEYS[self.table]])
        if done is None:
            return
        self.key_chunks = [done.keys]
        self.report.notes.extend(filter(None, [done.note]))
        self.report.rows_accepted -= done.rejects.num_rows
        self._reject(done.rejects)

    def _tail(self) -> None:
        """Cut (or warn about) a far-future tail of the orders; with ``--append``, of the existing
        and the new orders together (only new lines are cut)."""
        counts = self.day_counts
        if self.opts.append_to:
            from anticipate.ingest.append import existing_day_counts

            counts = counts + existing_day_counts(Path(self.opts.append_to), self.opts.chunk_rows, _N_DAYS)
        found = tail.find_tail(counts)
        if found is None:
            return
        kept = int(counts[found.body_end + 2:].sum() - self.day_counts[found.body_end + 2:].sum())
        if found.cut and kept < found.lines:
            self._cut_tail(found.body_end)
        note = found.describe()
        if found.cut and kept:
            note += f" ({kept:,} of these lines were already in the data directory and are kept)"
        self.report.notes.append(note)

    def _append(self) -> None:
        """Put the existing orders before this file's lines and reject repeats of existing lines."""
        from anticipate.ingest.append import append_notes, append_orders

        excluded = np.sort(np.concatenate([np.zeros(0, np.int64), *self.rejected_rows]))
        done = append_orders(self.target, Path(self.opts.append_to), excluded,
                             batch_rows=self.opts.chunk_rows, source_column=self.sources["customer_id"],
                             spans=self.spans)
        n = done.rejects.num_rows
        self.report.existing_rows, self.report.duplicates_existing = done.existing, n
        self.report.duplicates_existing_by_key = done.by_key
        self.report.notes.extend(append_notes(done, self.report.rows_in))
        if n:
            from anticipate.ingest.append import EXISTING

            self.report.rows_accepted -= n
            self.report.rows_rejected += n
            self.report.reasons[EXISTING] += n
            self.sink.write(self.table, self.file, done.rejects)

    def _cut_tail(self, end_day: int) -> None:
        """Move orders after the body's last day + 1 day from the staged file to the rejects."""
        limit = pa.scalar((end_day + 2) * _DAY_NS, pa.int64()).cast(pa.timestamp("ns"))
        excluded = np.sort(np.concatenate([np.zeros(0, np.int64), *self.rejected_rows]))
        tmp = self.target.with_name(f".{self.target.name}.cut")
        pf, position, cut = pq.ParquetFile(self.target), 0, []
        with pq.ParquetWriter(tmp, SCHEMAS["orders"], compression="zstd") as writer:
            for batch in pf.iter_batches(batch_size=self.opts.chunk_rows):
                late = pc.greater_equal(batch["order_ts"], limit)
                idx = np.flatnonzero(late.to_numpy(zero_copy_only=False))
                if len(idx):
                    rows = read.kept_rows(excluded, position + idx)
                    value = pc.cast(batch["order_ts"].take(pa.array(idx)), pa.string())
                    n = len(idx)
                    cut.append(pa.table({"row": pa.array(rows), "column": validate._const(
                        self.sources["order_ts"], n, pa.string()), "value": value,
                        "reason": validate._const(validate.AFTER_MAX, n, pa.string())}))
                writer.write_table(pa.Table.from_batches([batch.filter(pc.invert(late))],
                                                         schema=SCHEMAS["orders"]))
                position += batch.num_rows
        os.replace(tmp, self.target)
        if cut:
            rejects = pa.concat_tables(cut)
            self.report.rows_accepted -= rejects.num_rows
            self.day_counts[end_day + 2:] = 0
            self._reject(rejects)


#: Region values that name no place: lines carrying them cannot be mapped to a warehouse.
NO_REGION = ("ALL", "UNKNOWN", "UNSPECIFIED", "N/A", "NA", "NONE", "NULL", "-", "?")


def usable_regions(region: pa.ChunkedArray | pa.Array) -> int:
    """How many of ``region`` name a place (not null, not ``ALL`` or another placeholder)."""
    upper = pc.utf8_upper(pc.utf8_trim_whitespace(region))
    return int(pc.sum(pc.invert(pc.fill_null(pc.is_in(upper, value_set=pa.array(NO_REGION)), True)))
               .as_py() or 0)


def _digest(path: Path) -> str:
    from anticipate.storage.files import file_digest

    return file_digest(path)
