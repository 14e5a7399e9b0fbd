"""An exclusive lock for a run that must be alone (``allocate``'s night, a directory's publish).

An advisory ``flock`` on a file that records its holder; the kernel releases it when the
holder exits in any way, so a lock never outlives its process.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from anticipate.errors import LockHeld
from anticipate.storage.files import WRITABLE_FIX, make_parent, output_error


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: host, pid, start time (epoch seconds) and the command."""

    host: str
    pid: int
    started: float
    command: str


def _read_lock(fd: int) -> LockInfo | None:
    """The holder's record in the open lock file, or None while it is empty or unreadable."""
    try:
        raw = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
        return LockInfo(str(raw["host"]), int(raw["pid"]), float(raw["started"]), str(raw["command"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _held_message(path: Path, fd: int) -> str:
    holder = None
    for _ in range(10):  # the holder writes its record right after it takes the lock
        holder = _read_lock(fd)
        if holder is not None:
            break
        time.sleep(0.05)
    if holder is None:
        return f"another run holds the lock {path} (its record is not written yet); wait for it to finish"
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder.started))  # hosts differ in zone
    return (
        f"another run holds the lock {path}: '{holder.command}' (pid {holder.pid} on {holder.host}, "
        f"started {started}); wait for it to finish"
    )


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


@contextlib.contextmanager
def exclusive_lock(path: str | Path, *, command: str, fix: str = WRITABLE_FIX) -> Iterator[LockInfo]:
    """Hold an exclusive lock on ``path`` for the duration of the block.

    The lock is an advisory ``flock`` on the file, which the kernel releases when its
    holder exits in any way (SIGKILL included), so a lock left by a killed run never
    blocks the next one and no process can take over a lock that is still held.
    While held, the file records host, pid, start time and command, which a refused
    run names in its :class:`LockHeld` message. The holder deletes the file before
    it lets go; a run that locked a file deleted meanwhile starts again. A lock file that cannot be
    created is an :class:`~anticipate.errors.OutputError` (exit 2) naming it and ``fix``.
    """
    import fcntl

    path = Path(path)
    make_parent(path, fix=fix)
    me = LockInfo(socket.gethostname(), os.getpid(), time.time(), command)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # a failed run removed the directory it had made for its lock
            make_parent(path, fix=fix)
            continue
        except OSError as exc:
            raise output_error(path, exc, fix=fix) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = _held_message(path, fd)
            os.close(fd)
            raise LockHeld(message) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # we locked a file its holder had just deleted: take the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me.__dict__).encode("utf-8"), 0)
        os.fsync(fd)
        yield me
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def held_here(path: str | Path) -> bool:
    """Whether this process holds the lock ``path`` (its record names this host and pid)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        holder = _read_lock(fd)
    finally:
        os.close(fd)
    return holder is not None and holder.pid == os.getpid() and holder.host == socket.gethostname()
