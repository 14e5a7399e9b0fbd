"""Reading and writing at the edges: canonical tables, digests, atomic files.

Nothing here validates content (see :mod:`anticipate.ingest`). Every write goes to
a temporary sibling first and is renamed into place, so a reader never sees a
half-written file; a directory is published with a rename of the whole directory
(:mod:`anticipate.storage.publish`); a run that must be alone holds a lock
(:mod:`anticipate.storage.lock`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from anticipate.errors import DataChanged, DataError, OutputError
from anticipate.storage import digests
from anticipate.storage.dictionary import read_with_dictionaries
from anticipate.storage.digests import TABLE_NAMES, data_dir_digest, file_digest  # noqa: F401 (re-exported)
from anticipate.storage.keys import check_table
from anticipate.storage.parquet_layout import parquet_options


# --------------------------------------------------------------------------- atomic writes
def current_umask() -> int:
    """The process umask (e.g. 0o022), read without changing it where /proc allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_mode(path: Path, *, directory: bool = False) -> None:
    """Give ``path`` the mode an ordinary new file (0o666) or directory (0o777) gets under the umask.

    ``tempfile.mkstemp`` creates 0600 files and ``mkdtemp`` 0700 directories; published
    outputs get the mode the user expects instead (0644 / 0755 under umask 022).
    """
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk (best effort on platforms without O_DIRECTORY)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_WHY = {
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EEXIST: "a file is in the way where a directory must be",
    errno.EISDIR: "it is a directory, not a file",
    errno.EACCES: "it is not writable (permission denied)",
    errno.EPERM: "it is not writable (operation not permitted)",
    errno.EROFS: "it is on a read-only file system",
    errno.EBUSY: "it is in use (a mount point, or the current directory)",
    errno.ENOENT: "its directory does not accept new files",
}


#: How to get past an output the OS refused, for a path given on the command line.
WRITABLE_FIX = "pass an output path you can write to"


def output_error(path: str | Path, exc: OSError, *, at: bool = True, fix: str = WRITABLE_FIX) -> OutputError:
    """The user error (exit 2) for an output ``path`` the operating system refused, naming it and why.

    ``at``: also name the path the OS named when it differs (not for our own temporary names).
    ``fix``: how to get past it (an output named by a config key names that key).
    """
    why = _WHY.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    where = f" (at {exc.filename})" if at and exc.filename and str(exc.filename) != str(path) else ""
    return OutputError(f"cannot write {path}: {why}{where}; {fix}")


def make_parent(path: Path, *, fix: str = WRITABLE_FIX) -> None:
    """Create the directories above ``path``; an :class:`OutputError` naming it (and ``fix``) if the OS
    refuses."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(path, exc, fix=fix) from None


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The published file has the mode of an ordinary new file under the process umask
    (0644 under umask 022), not mkstemp's private 0600. On any exception the temporary file is removed
    and ``target`` is untouched. A ``target`` that is a directory, or whose directory cannot
    be created or written, is an :class:`~anticipate.errors.OutputError` (exit 2) naming it.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory, not a file; pass a file path")
    make_parent(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise output_error(target, exc, at=False) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        usual_mode(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise output_error(target, exc, at=False) from None
        fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_parquet(df: pd.DataFrame, target: str | Path, *, dictionary_bytes: int | None = None,
                  metadata: dict[str, str] | None = None, plain: Collection[str] = (),
                  statistics: Collection[str] | None = None, compression: str = "zstd") -> Path:
    """Write ``df`` to Parquet atomically, without the index; deterministic bytes.

    ``metadata``: key-value pairs added to the file's schema metadata (``pyarrow.parquet.read_schema(path)
    .metadata``), beside pandas' own ``pandas`` key. ``dictionary_bytes`` (Arrow's default, 1 MiB, when
    None), ``plain``, ``statistics``: :func:`~anticipate.storage.parquet_layout.parquet_options`'s.
    """
    opts = parquet_options(df.columns, dictionary_bytes, plain, statistics)
    with atomic_path(target) as tmp:
        if metadata is None:
            df.to_parquet(tmp, index=False, engine="pyarrow", compression=compression, **opts)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
            pq.write_table(table, tmp, compression=compression, **opts)
    return Path(target)


def write_csv(df: pd.DataFrame, target: str | Path) -> Path:
    """Write ``df`` to CSV atomically, without the index: the bytes of ``df.to_csv(index=False)``.

    Frames of numbers and plain text go through the vectorised writer of
    :mod:`anticipate.storage.csv_text`; any other frame is written by pandas.
    """
    from anticipate.storage.csv_text import write_csv_fast

    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            done = write_csv_fast(df, fh)
            if not done:
                fh.seek(0)
                fh.truncate()
        if not done:
            df.to_csv(tmp, index=False)
    return Path(target)


def write_table(df: pd.DataFrame, target: str | Path, **parquet: Any) -> Path:
    """Write Parquet or CSV by the target's suffix (``.parquet`` / ``.csv``), atomically.

    ``parquet``: keyword arguments of :func:`write_parquet` (Parquet only).
    """
    suffix = Path(target).suffix.lower()
    if suffix == ".csv":
        return write_csv(df, target)
    if suffix in {".parquet", ".pq"}:
        return write_parquet(df, target, **parquet)
    raise DataError(f"output file {target} must end in .parquet or .csv")


def write_json(obj: Any, target: str | Path) -> Path:
    """Write ``obj`` as pretty, key-sorted JSON atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    return Path(target)


# --------------------------------------------------------------------------- the data directory
@dataclass(frozen=True)
class DataSet:
    """A canonical data directory loaded into memory.

    ``orders`` always; the reference tables are ``None`` when the directory lacks them. ``files``: the
    SHA-256 of each table file present (``"orders.parquet"``: hex), of the very bytes loaded, whatever
    replaced the files since; ``digest`` combines them (``digests.tables_digest``). ``generation``: which
    directory ``path`` was when loaded (device, inode; a publish renames a new one into place), for
    :func:`check_unchanged`.
    """

    path: Path
    orders: pd.DataFrame
    products: pd.DataFrame | None
    regions: pd.DataFrame | None
    warehouses: pd.DataFrame | None
    supply: pd.DataFrame | None
    digest: str
    files: dict[str, str] = field(default_factory=dict)
    generation: tuple[int, int] | None = None


def _generation(data_dir: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(data_dir)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_unchanged(ds: DataSet) -> None:
    """:class:`DataChanged` (exit 75) when ``ds.path`` is no longer the directory ``ds`` was loaded from: an
    ``ingest`` (or ``sample``) published it anew meanwhile, so what is read from it now (a Dask worker's
    partitions, the recent order lines) would not be the data already loaded."""
    if ds.generation is not None and _generation(ds.path) != ds.generation:
        raise DataChanged(
            f"the data directory {ds.path} changed while this command ran: it was published anew (an "
            "'anticipate ingest' or 'sample' into it) after this command had loaded it, so the rest of its "
            "reads would mix two versions of the data; nothing was published and earlier outputs are as "
            "they were: re-run the command (schedule the ingest to finish before it)")


def _unreadable(path: Path, exc: BaseException) -> DataError:
    """The DataError of a Parquet file that cannot be read (its first line of error, and the fix)."""
    msg = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return DataError(f"cannot read Parquet ({msg}); the file is truncated or corrupt: re-run 'anticipate "
                     "ingest' or 'anticipate sample' to rewrite it", file=str(path))


def read_parquet_checked(
    path: Path,
    *,
    columns: list[str] | None = None,
    dictionary: list[str] | None = None,
    stored_dictionaries: bool | tuple[str, ...] = False,
    filters: list[tuple[str, str, Any]] | None = None,
    opened: str | None = None,
) -> pd.DataFrame:
    """Read a Parquet file, turning unreadable or truncated files into a DataError.

    ``opened``: where to read ``path``'s bytes from, when not ``path`` itself (a pinned descriptor's);
    messages name ``path``.

    ``filters``: pyarrow row filters (``[(column, op, value), ...]``, all must hold; without ``dictionary``).
    ``dictionary`` names text columns to read as pandas categoricals (one string per
    distinct value instead of one per row; other columns named there read as usual);
    ``stored_dictionaries`` takes them (``True``) or those it names from the file's own dictionary
    pages, for columns with few distinct values (see
    :func:`~anticipate.storage.dictionary.read_with_dictionaries`).
    """
    import pyarrow as pa

    try:
        if dictionary:
            import pyarrow.parquet as pq

            schema = pq.read_schema(opened or path)
            kinds = (pa.types.is_string, pa.types.is_large_string)
            text = [
                c for c in dictionary if c in schema.names and any(k(schema.field(c).type) for k in kinds)
            ]
            return read_with_dictionaries(Path(opened or path), columns, text, stored=stored_dictionaries)
        return pd.read_parquet(opened or path, columns=columns, engine="pyarrow", filters=filters)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _unreadable(path, exc) from None


def _kind_fits(kind: str, arrow_type: Any) -> bool:
    """Whether a Parquet column of ``arrow_type`` holds a canonical column of ``kind`` (anticipate.schema)."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_null(arrow_type):
        return True  # a column of nulls only
    return {
        "string": pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type),
        "timestamp": pa.types.is_timestamp(arrow_type),
        "int64": pa.types.is_integer(arrow_type),
        "float64": pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type),
    }[kind]


def check_table_schema(path: Path, table: str, *, opened: str | None = None) -> None:
    """DataError naming the file and column when a canonical table (hand-made or from an older tool) lacks
    a column every reader relies on (required, or defaulted by ingest) or stores one as another kind.

    Optional columns without a default (``order_id``, ``unit_price``, ``value_local``, ...) may be absent.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from anticipate.schema import TABLES

    try:
        schema = pq.read_schema(opened or path)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from None
    fix = ("write the data directory with 'anticipate ingest' (or 'anticipate sample'), which gives every "
           "table its canonical columns")
    for col in TABLES[table]:
        if col.name not in schema.names:
            if col.required or col.default is not None:
                raise DataError(f"the {table} table has no column '{col.name}' ({col.kind}); {fix}",
                                file=str(path), column=col.name)
            continue
        stored = schema.field(col.name).type
        if not _kind_fits(col.kind, stored):
            raise DataError(f"column '{col.name}' of the {table} table is stored as {stored}, not "
                            f"{col.kind}; {fix}", file=str(path), column=col.name)


def _order_ts_naive_utc(orders: pd.DataFrame | None) -> None:
    """Store a zone-aware ``order_ts`` (a data directory written by another tool) as the contract's naive
    UTC, in place (:func:`anticipate.dates.naive_utc`: the same instants, as ingest converts an offset);
    every cutoff is a naive UTC midnight, which pandas refuses to compare with a zone-aware stamp."""
    from anticipate.dates import naive_utc

    if orders is None or "order_ts" not in orders:
        return
    if isinstance(orders["order_ts"].dtype, pd.DatetimeTZDtype):
        orders["order_ts"] = naive_utc(orders["order_ts"])


def load_dataset(
    data_dir: str | Path,
    *,
    tables: tuple[str, ...] = TABLE_NAMES,
    order_columns: list[str] | None = None,
    order_dictionary: tuple[str, ...] = (),
    order_stored: tuple[str, ...] = (),
) -> DataSet:
    """Load the canonical tables of ``data_dir`` (as written by ``ingest`` or ``sample``).

    ``order_columns`` loads only those columns of the orders (the Dask path, whose
    workers read the orders themselves, needs ``order_ts`` only, for cutoff checks).
    ``order_dictionary`` names text columns of the orders to load as categoricals (a
    caller that reads them as codes: one string per distinct id instead of one per line);
    those of them in ``order_stored`` are read from the file's dictionary pages (few distinct values).

    Raises
    ------
    DataError
        The directory or its ``orders.parquet`` is missing, a file cannot be read, or a reference
        table repeats its key or the orders' units overflow (:func:`~anticipate.storage.keys.check_table`).
    """
    data_dir = Path(data_dir)  # a relative one is read from the working directory: say which one it was
    here = "" if data_dir.is_absolute() else " (relative to the working directory: {})"
    if data_dir.is_file():  # audit33: '--data base/orders.parquet' was told the directory did not exist
        raise DataError(f"the data directory {data_dir} is a file; pass the directory holding the canonical "
                        f"tables (--data {data_dir.parent})")
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir}{here.format(data_dir.resolve())} does not exist; create "
                        f"it with 'anticipate sample --out {data_dir}' or 'anticipate ingest --orders FILE "
                        f"--out {data_dir}', or pass --data DIR")
    orders_path = data_dir / "orders.parquet"
    if not orders_path.is_file():
        raise DataError(f"{orders_path}{here.format(orders_path.resolve())} is missing; a data directory "
                        "holds the canonical tables that 'anticipate ingest' writes")
    generation = _generation(data_dir)
    loaded: dict[str, pd.DataFrame | None] = {}
    with contextlib.ExitStack() as stack:
        fds = {name: digests.pinned(data_dir / f"{name}.parquet", stack) for name in TABLE_NAMES}
        opened = {name: fd for name, fd in fds.items() if fd is not None}
        side = stack.enter_context(ThreadPoolExecutor(max_workers=1))  # hashlib hashes without the GIL:
        hashes = {name: side.submit(digests.fd_digest, fd) for name, fd in opened.items()}  # beside the reads
        for name in TABLE_NAMES:  # (10 M order lines: 0.12 s of one core)
            path, source = data_dir / f"{name}.parquet", digests.fd_path(opened.get(name))
            wanted = name in tables and name in opened
            orders = name == "orders"
            columns, dictionary = (order_columns, list(order_dictionary)) if orders else (None, None)
            if wanted:
                check_table_schema(path, name, opened=source)
            loaded[name] = read_parquet_checked(
                path, columns=columns, dictionary=dictionary, stored_dictionaries=orders and order_stored,
                opened=source,
            ) if wanted else None
            check_table(path, name, loaded[name], opened=source)
        files = {f"{name}.parquet": h.result() for name, h in hashes.items()}
    _order_ts_naive_utc(loaded["orders"])
    ds = DataSet(path=data_dir, digest=digests.tables_digest(files), files=files, generation=generation,
                 **loaded)  # type: ignore[arg-type]
    check_unchanged(ds)  # a directory published anew mid-load: its tables may come from two versions
    return ds
