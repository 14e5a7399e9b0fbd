"""The digests of a data directory's tables, of the very bytes a command read.

A table is opened once (:func:`pinned`) and both read and hashed through that descriptor, so its
digest names what was loaded even when an ``ingest`` renames a new file or directory into place
meanwhile; :func:`tables_digest` combines the tables' digests into the data directory's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from anticipate.errors import DataError

TABLE_NAMES = ("orders", "products", "regions", "warehouses", "supply")


def fd_digest(fd: int) -> str:
    """SHA-256 of the bytes of an open file, hex (``pread``: the file's position is left alone)."""
    h = hashlib.sha256()
    offset = 0
    while block := os.pread(fd, 1 << 20, offset):
        h.update(block)
        offset += len(block)
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return fd_digest(fd)
    finally:
        os.close(fd)


def tables_digest(files: dict[str, str]) -> str:
    """The digest of a data directory from its tables' digests (``{"orders.parquet": sha256, ...}``)."""
    h = hashlib.sha256()
    for name in TABLE_NAMES:
        if f"{name}.parquet" in files:
            h.update(name.encode())
            h.update(files[f"{name}.parquet"].encode())
    return h.hexdigest()


def data_dir_digest(data_dir: str | Path) -> str:
    """A digest of a canonical data directory: the digests of its tables, by name."""
    data_dir = Path(data_dir)
    paths = {f"{n}.parquet": data_dir / f"{n}.parquet" for n in TABLE_NAMES}
    return tables_digest({name: file_digest(p) for name, p in paths.items() if p.is_file()})


def pinned(path: Path, stack: contextlib.ExitStack) -> int | None:
    """An open descriptor of ``path`` (closed with ``stack``), or None when it is no file: what is read and
    hashed through it is one file's bytes, even if a new file is renamed onto ``path`` meanwhile."""
    if not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DataError(f"cannot open it ({exc.strerror}); make it readable by this user",
                        file=str(path)) from None
    stack.callback(os.close, fd)
    return fd


def fd_path(fd: int | None) -> str | None:
    """A path that opens the file of ``fd`` itself (Linux: ``/proc/self/fd/N``); None elsewhere, where the
    table is read by its name (a directory published anew is still caught by ``check_unchanged``)."""
    if fd is None or not os.path.isdir("/proc/self/fd"):
        return None
    return f"/proc/self/fd/{fd}"
