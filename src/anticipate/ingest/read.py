"""Reading source files in bounded memory: checks, format sniffing, chunked iteration.

CSV (any of ``, ; TAB |`` as delimiter, or the one Excel's first line ``sep=X`` names:
:mod:`anticipate.ingest.sniff`; UTF-8 with or without BOM, optionally gzip) is read
by pyarrow's streaming reader with every column as raw bytes, so nothing is decoded
or typed before validation; Parquet is read in batches. A chunk holds at most
``chunk_rows`` rows and about ``MAX_CHUNK_BYTES`` bytes. Rows are numbered from 1 at
the first data record after the header (the header is not counted; blank lines are not
records; a quoted field may span lines). Limits that keep memory and time bounded: a record may be at most
``MAX_RECORD_BYTES``, the header at most ``HEAD_BYTES`` and ``MAX_COLUMNS``
columns.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from anticipate.errors import DataError
from anticipate.ingest.formats import foreign_format
from anticipate.ingest.sniff import concatenated, layout

HEAD_BYTES = 1 << 20
MAX_RECORD_BYTES = 4 << 20
MAX_COLUMNS = 2000
#: A chunk also ends at this many bytes of raw columns, so wide files stay bounded too.
MAX_CHUNK_BYTES = 128 << 20
_TOO_MANY_BAD = 1000


@dataclass(frozen=True)
class Source:
    """A checked source file: ``kind`` csv or parquet, its compression, delimiter and header; for CSV,
    ``skip`` lines before the first record (the header, and Excel's ``sep=`` line) and a ``note``."""

    path: Path
    kind: str
    header: list[str]
    compression: str | None = None
    delimiter: str | None = None
    bom: bool = False
    skip: int = 1
    note: str | None = None


@dataclass(frozen=True)
class BadLine:
    """A CSV record with the wrong number of fields: its row, field count and text (cut)."""

    row: int
    fields: int
    text: str


@dataclass(frozen=True)
class RawChunk:
    """Raw records: one Arrow array per source column (header order), their 1-based rows
    (int64) and the malformed records whose rows fall up to the end of this chunk."""

    columns: list[pa.Array]
    rows: np.ndarray
    bad_lines: list[BadLine] = field(default_factory=list)


def kept_rows(excluded: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The 1-based rows of kept records, given the sorted rows of the excluded ones.

    Rows 1, 2, 3, ... are split into excluded rows (``excluded``, sorted, unique) and
    kept ones; the kept record at 0-based position ``k`` among the kept is row
    ``k + 1 + #(excluded rows before it)``.

    Returns
    -------
    numpy.ndarray
        int64 rows, one per position.
    """
    before = excluded.astype(np.int64) - 1 - np.arange(len(excluded), dtype=np.int64)
    return positions + 1 + np.searchsorted(before, positions, side="right")


def check_file(path: Path) -> None:
    """Raise DataError unless ``path`` is an existing, readable, non-empty regular file."""
    shown = str(path)
    if not path.exists():
        raise DataError(f"the file does not exist; check the path (working directory: {Path.cwd()})",
                        file=shown)
    if path.is_dir():
        raise DataError(_directory_message(path), file=shown)
    if not path.is_file():
        raise DataError("this is not a regular file; pass a CSV or Parquet file", file=shown)
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror}); check its permissions", file=shown) from None
    if path.stat().st_size == 0:
        raise DataError("the file is empty (0 bytes); it needs a header row naming the columns "
                        "and at least one data row", file=shown)


def _directory_message(path: Path) -> str:
    """What to do with a directory: one file is read; a directory of parts (a Spark or Hive export)
    is combined first, or ingested part by part with --append."""
    parts = sorted(p.name for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
                   and p.name.endswith((".parquet", ".csv", ".csv.gz", ".gz")))
    if not parts:
        return "this is a directory, not a file; pass the CSV or Parquet file inside it"
    return (f"this is a directory of {len(parts):,} part files ({', '.join(parts[:3])}"
            f"{', ...' if len(parts) > 3 else ''}), and ingest reads one file: combine them into one "
            "(for Parquet parts: python -c \"import pyarrow.dataset as ds, pyarrow.parquet as pq; "
            f"pq.write_table(ds.dataset('{path}').to_table(), 'orders.parquet')\"), or ingest the first "
            "and add each other one with --append")


def inspect(path: Path) -> Source:
    """Check ``path`` and sniff its format, compression, delimiter and header.

    Raises
    ------
    DataError
        Missing, a directory, empty, unreadable, not UTF-8 text or Parquet, a header
        longer than HEAD_BYTES or with more than MAX_COLUMNS columns.
    """
    path = Path(path)
    check_file(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        return _inspect_parquet(path)
    compression = "gzip" if magic[:2] == b"\x1f\x8b" else None
    head = _head(path, compression)
    foreign = foreign_format(head)
    if foreign:
        raise DataError(f"{foreign}; ingest reads CSV (UTF-8, optionally gzip) and Parquet", file=str(path))
    return _inspect_csv(path, compression, head)


def _head(path: Path, compression: str | None) -> bytes:
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as fh:
                return fh.read(HEAD_BYTES + 1)
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot decompress the file ({exc}); the gzip file is truncated or corrupt: "
                        "compress it again", file=str(path)) from None


def _inspect_csv(path: Path, compression: str | None, head: bytes) -> Source:
    shown = str(path)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("the file is UTF-16 text; save it as UTF-8 CSV", file=shown)
    bom = head.startswith(b"\xef\xbb\xbf")
    head = head[3:] if bom else head
    if not head.strip():
        raise DataError("the file has no content (only whitespace); it needs a header row naming the "
                        "columns and at least one data row", file=shown)
    end = head.find(b"\n")
    if end < 0 and len(head) > HEAD_BYTES - 3:
        raise DataError(f"the header line is longer than {HEAD_BYTES // (1 << 20)} MiB (too many "
                        f"columns, or no line breaks); ingest reads at most {MAX_COLUMNS:,} columns and "
                        "expects one record per line", file=shown)
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(head) > HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    found = layout(lines[:51], file=shown)
    header = [h.strip() for h in next(csv.reader([lines[found.skip - 1]], delimiter=found.delimiter))]
    if len(header) > MAX_COLUMNS:
        raise DataError(f"the header has {len(header):,} columns; ingest reads at most {MAX_COLUMNS:,}: "
                        "drop the columns you do not need", file=shown)
    header = [h or f"column_{i + 1}" for i, h in enumerate(header)]
    return Source(path, "csv", header, compression, found.delimiter, bom, found.skip, found.note)


def _inspect_parquet(path: Path) -> Source:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        if meta.num_columns > MAX_COLUMNS:
            raise DataError(f"the file has {meta.num_columns:,} columns; ingest reads at most "
                            f"{MAX_COLUMNS:,}: drop the columns you do not need", file=str(path))
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError) as exc:
        raise parquet_error(path, exc) from None
    return Source(path, "parquet", list(names))


def parquet_error(path: Path, exc: BaseException) -> DataError:
    """A DataError for an unreadable Parquet file."""
    msg = (str(exc).splitlines() or [type(exc).__name__])[0][:300]
    return DataError(f"cannot read Parquet ({msg}); the file is truncated or corrupt: write it again",
                     file=str(path))


def iter_chunks(source: Source, chunk_rows: int) -> Iterator[RawChunk]:
    """Yield the records of ``source`` in chunks of about ``chunk_rows``, read ahead on a thread.

    The last chunk may be empty and carry only malformed lines.
    """
    inner = _iter_parquet(source, chunk_rows) if source.kind == "parquet" else _CsvChunks(source,
                                                                                           chunk_rows)
    return _prefetch(iter(inner))


def _iter_parquet(source: Source, chunk_rows: int) -> Iterator[RawChunk]:
    import pyarrow.parquet as pq

    start = 0
    try:
        pf = pq.ParquetFile(source.path)
        meta = pf.metadata
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        row_bytes = max(size // max(1, meta.num_rows), 16 * meta.num_columns)  # decoded >= encoded
        batch_size = max(1, min(chunk_rows, MAX_CHUNK_BYTES // row_bytes))
        for batch in pf.iter_batches(batch_size=batch_size, use_threads=False):
            rows = np.arange(start + 1, start + batch.num_rows + 1, dtype=np.int64)
            start += batch.num_rows
            yield RawChunk(list(batch.columns), rows)
    except (pa.ArrowException, OSError) as exc:
        raise parquet_error(source.path, exc) from None


class _CsvChunks:
    """pyarrow's streaming CSV reader, all columns as bytes, malformed records set aside."""

    def __init__(self, source: Source, chunk_rows: int) -> None:
        self.source = source
        self.chunk_rows = chunk_rows
        self.bad: list[BadLine] = []
        self.bad_rows: list[int] = []
        self.too_many = False
        self._lock = threading.Lock()

    def _on_invalid(self, row: object) -> str:
        number = int(row.number) - self.source.skip if row.number is not None else len(self.bad_rows) + 1  # type: ignore
        with self._lock:
            self.bad_rows.append(number)
            self.bad.append(BadLine(number, int(row.actual_columns), str(row.text)[:200]))  # type: ignore
        if len(self.bad_rows) > _TOO_MANY_BAD and len(self.bad_rows) > 0.5 * number:
            self.too_many = True
            return "error"
        return "skip"

    def _reader(self) -> pa.RecordBatchReader:
        import pyarrow.csv as pcsv

        names = [f"f{i}" for i in range(len(self.source.header))]
        stream = pa.input_stream(str(self.source.path), compression=self.source.compression)
        return pcsv.open_csv(
            stream,
            read_options=pcsv.ReadOptions(column_names=names, skip_rows=self.source.skip,
                                          block_size=MAX_RECORD_BYTES, use_threads=False),
            parse_options=pcsv.ParseOptions(delimiter=self.source.delimiter, newlines_in_values=True,
                                            invalid_row_handler=self._on_invalid),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.binary()),
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    def __iter__(self) -> Iterator[RawChunk]:
        good = read = 0
        try:
            reader = self._reader()
            pending: list[pa.RecordBatch] = []
            for batch in reader:
                pending.append(batch)
                read += batch.num_rows
                if read - good >= self.chunk_rows or sum(b.nbytes for b in pending) >= MAX_CHUNK_BYTES:
                    yield self._chunk(pending, good)
                    good, pending = read, []
            yield self._chunk(pending, good, last=True)
        except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
            raise self._error(exc, read + len(self.bad_rows)) from None

    def _chunk(self, batches: list[pa.RecordBatch], good: int, last: bool = False) -> RawChunk:
        n = sum(b.num_rows for b in batches)
        ncols = len(self.source.header)
        if not batches:
            columns = [pa.array([], pa.binary()) for _ in range(ncols)]
        elif len(batches) == 1:
            columns = list(batches[0].columns)
        else:
            columns = [pa.concat_arrays([b.column(i) for b in batches]) for i in range(ncols)]
        with self._lock:
            bad = np.asarray(self.bad_rows, dtype=np.int64)
            rows = kept_rows(bad, np.arange(good, good + n, dtype=np.int64))
            limit = np.iinfo(np.int64).max if last else (int(rows[-1]) if n else 0)
            out = [b for b in self.bad if b.row <= limit]
            self.bad = [b for b in self.bad if b.row > limit]
        return RawChunk(columns, rows, out)

    def _error(self, exc: BaseException, good: int) -> DataError:
        """The DataError for a reader failure ``good`` records into the data."""
        shown, msg = str(self.source.path), (str(exc).splitlines() or [type(exc).__name__])[0][:300]
        if self.too_many:
            first = self.bad[0] if self.bad else None
            header, delimiter = self.source.header, self.source.delimiter or ","
            said = concatenated(first.text, first.row, header, delimiter) if first else None
            if first and said:  # a header line: two exports concatenated
                return DataError(said, file=shown, row=first.row)
            example = f" (e.g. row {first.row} has {first.fields} fields)" if first else ""
            return DataError(
                f"most records have a different number of fields than the header's "
                f"{len(self.source.header)}{example}; the delimiter was sniffed as "
                f"{self.source.delimiter!r}: check the delimiter and the quoting", file=shown)
        if "straddl" in msg or "block" in msg:
            return DataError(
                f"a record after row {good:,} is longer than {MAX_RECORD_BYTES >> 20} MiB (an unclosed "
                "quote or missing line breaks?); fix the quoting or split the line", file=shown)
        if self.source.compression and ("zlib" in msg.lower() or "gzip" in msg.lower()
                                         or "compress" in msg.lower() or isinstance(exc, EOFError)):
            good = max(good, readable_rows(self.source.path) + 1 - self.source.skip)
            return DataError(f"the gzip stream is truncated or corrupt after data row {good:,} (the last "
                             f"complete line before the break; {msg}); compress the file again, or "
                             "copy it again if the transfer was cut", file=shown)
        return DataError(f"cannot parse the CSV after row {good:,} ({msg}); check the delimiter and "
                         "the quoting", file=shown)


def readable_rows(path: Path) -> int:
    """Complete data lines (after the header) that a broken gzip file yields before its break.

    The streaming CSV reader reads ahead by blocks, so when the stream breaks it may
    have handed out no rows yet; this counts newlines in what decompresses cleanly
    (blank lines and line breaks inside quoted fields count as lines too).
    """
    lines, inflate = 0, zlib.decompressobj(wbits=31)
    with contextlib.suppress(OSError, zlib.error), open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            while block:
                lines += inflate.decompress(block).count(b"\n")
                block = inflate.unused_data  # the next gzip member, if any
                if block:
                    inflate = zlib.decompressobj(wbits=31)
    return max(0, lines - 1)


_DONE = object()


def _prefetch(items: Iterator[RawChunk], depth: int = 1) -> Iterator[RawChunk]:
    """Iterate ``items`` on a background thread, ``depth`` chunks ahead (errors re-raised here)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=work, name="ingest-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)


