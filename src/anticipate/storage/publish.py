"""Publishing a whole output directory atomically, and refusing to replace what is not ours.

A command that writes a directory (``sample``, ``ingest``, ``solve``, ``backtest``,
``allocate``'s ``plans/DATE``) builds it in a staging sibling and renames it into place
(:func:`staging_dir`). Replacing a directory deletes what it held, so it is allowed only
when that directory is empty or holds nothing but entries this kind of output writes
(:class:`DirOutput`): a previous run of the same command is replaced, a user's directory
(or a data directory given to ``backtest --out``) is refused with exit 2 before anything
is computed or written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from anticipate.errors import OutputError
from anticipate.storage.files import WRITABLE_FIX, fsync_dir, make_parent, output_error, usual_mode
from anticipate.storage.lock import LockInfo, exclusive_lock, held_here


@dataclass(frozen=True)
class DirOutput:
    """What one kind of directory output is: who publishes it and the entries it may hold.

    ``command`` names the command in messages (``"backtest"``); ``label`` the option or
    setting that names the directory (``"--out"``); ``names`` every file or directory
    name the command writes at the top level; ``fix`` is the advice of the refusal
    (default: a new or empty directory, or a previous output of the command); ``write_fix`` the
    advice when the operating system refuses a write (default: an output path you can write to;
    a directory named by a config key names that key).
    """

    command: str
    names: frozenset[str]
    label: str = "--out"
    fix: str = ""
    write_fix: str = WRITABLE_FIX

    def with_names(self, extra: set[str] | frozenset[str]) -> DirOutput:
        """The same output, also owning ``extra`` (entries a command carries over itself)."""
        return replace(self, names=self.names | frozenset(extra))

    def advice(self) -> str:
        """How to get past a refusal, for the messages."""
        return self.fix or f"pass a new or empty directory, or a previous {self.command} output"


def foreign_entry(target: Path, output: DirOutput) -> str | None:
    """The first entry of the directory ``target`` (by name) that ``output`` does not write, or None."""
    try:
        names = sorted(os.listdir(target))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return next((name for name in names if name not in output.names), None)


def check_publishable(target: str | Path, output: DirOutput) -> None:
    """Refuse (exit 2) to publish ``output`` as ``target`` when that would delete something else.

    Allowed: ``target`` absent, an empty directory, or a directory holding only entries
    ``output.names`` lists (a previous run of the same command).

    Raises
    ------
    OutputError
        ``target`` is a file, the working directory (or above it), or a directory holding an
        entry ``output`` does not write.
    """
    target = Path(target)
    what = f"{output.label} {target}"
    absolute = Path(os.path.abspath(target))
    with contextlib.suppress(OSError):  # a working directory deleted meanwhile contains nothing
        cwd = Path.cwd()
        if absolute == cwd or absolute in cwd.parents:
            raise OutputError(f"{what} is the current directory or contains it, which {output.command} "
                              f"cannot replace: {output.advice()}")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{what} is a file, not a directory; {output.command} publishes a directory "
                          f"there and would delete it: {output.advice()}")
    entry = foreign_entry(target, output)
    if entry is not None:
        raise OutputError(
            f"{what} is a directory holding '{entry}', which {output.command} does not write; "
            f"{output.command} replaces the directory as a whole and would delete it: {output.advice()}")


def lock_path(target: str | Path) -> Path:
    """The lock file of the directory ``target``: ``.<name>.lock`` beside it (``plans/.DATE.lock``)."""
    target = Path(os.path.abspath(target))
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def dir_lock(target: str | Path, *, command: str, fix: str = WRITABLE_FIX) -> Iterator[LockInfo]:
    """Hold the lock of the directory ``target`` (:func:`lock_path`) for the block.

    Every publish of ``target`` holds it (:func:`staging_dir`); a command that reads the previous
    directory before it publishes (``ingest`` updating a data directory, ``allocate``'s night)
    holds it from before that read. A second run meanwhile gets :class:`~anticipate.errors.LockHeld`
    (exit 75) naming the holder; a lock that cannot be written exits 2 naming it and ``fix``.
    """
    with exclusive_lock(lock_path(target), command=command, fix=fix) as me:
        yield me


@contextlib.contextmanager
def staging_dir(target: str | Path, output: DirOutput, *, locked: bool = False) -> Iterator[Path]:
    """Yield an empty staging directory; on success publish it as ``target`` atomically.

    ``target`` must be publishable for ``output`` (:func:`check_publishable`), checked on
    entry and again just before the renames; the staged entries must be among
    ``output.names`` (a command writing a name it does not declare is a bug). The
    directory has the mode of an ordinary new directory under the process umask
    (0755 under umask 022), not mkdtemp's private 0700.

    Publishing renames any previous ``target`` aside, renames the staging directory
    into place and then deletes the old one, so ``target`` is at every moment
    absent, the previous complete directory, or the new complete one. A crash
    between the two renames leaves the old copy at ``.<name>.old-*``, which
    :func:`recover_dir` puts back. The whole publish holds the directory's lock
    (:func:`dir_lock`; ``locked``: the caller holds it already, which is checked), so the
    clean-up never touches the stage of a live run and a second run meanwhile exits 75.
    """
    shown = Path(target)
    check_publishable(shown, output)
    target = Path(os.path.abspath(shown))
    if locked:
        if not held_here(lock_path(target)):
            raise RuntimeError(f"staging_dir(locked=True) without holding {lock_path(target)}")
        yield from _stage_and_publish(shown, target, output)
        return
    with dir_lock(target, command=f"anticipate {output.command} (publishing {shown})", fix=output.write_fix):
        yield from _stage_and_publish(shown, target, output)


def _stage_and_publish(shown: Path, target: Path, output: DirOutput) -> Iterator[Path]:
    """The body of :func:`staging_dir`, under the lock."""
    make_parent(shown, fix=output.write_fix)
    recover_dir(target)
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.stage-", dir=target.parent))
    except OSError as exc:
        raise output_error(shown, exc, at=False, fix=output.write_fix) from None
    try:
        usual_mode(stage, directory=True)
        yield stage
        undeclared = sorted(set(os.listdir(stage)) - output.names)
        if undeclared:
            raise RuntimeError(f"{output.command} staged {undeclared}, which its DirOutput does not list")
        for child in stage.rglob("*"):
            if child.is_file():
                with open(child, "rb+") as fh:
                    os.fsync(fh.fileno())
        check_publishable(shown, output)
        try:
            publish_dir(stage, target)
        except OSError as exc:
            raise output_error(shown, exc, at=False, fix=output.write_fix) from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def publish_dir(stage: Path, target: Path) -> None:
    """Replace ``target`` by ``stage`` with renames only (see :func:`staging_dir`)."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    try:
        os.replace(stage, target)
    except OSError:
        if old is not None:  # put the previous directory back before reporting
            os.replace(old, target)
        raise
    fsync_dir(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _age(path: Path) -> tuple[int, str]:
    """Sort key of a copy set aside by :func:`publish_dir`: when its files were written (the directory's
    mtime, which the renames keep), then the name."""
    try:
        return path.stat().st_mtime_ns, path.name
    except OSError:
        return -1, path.name


def leftovers(target: Path) -> list[Path]:
    """The copies of ``target`` set aside by a publish and still there (``.<name>.old-*``): after a publish
    holding the lock, those the clean-up could not delete (owned by another user, say)."""
    return sorted(Path(target).parent.glob(f".{Path(target).name}.old-*"), key=_age)


def recover_dir(target: Path) -> None:
    """Undo a publish interrupted between its two renames; drop stale staging dirs.

    Call it only while holding the directory's lock (:func:`staging_dir` does): a staging
    directory is then a dead run's, never one a live run is writing. With several copies set aside
    (one that could not be deleted, then a publish cut short) the newest is put back.
    """
    parent = target.parent
    if not parent.is_dir():
        return
    olds = leftovers(target)  # oldest first
    if olds and not target.exists():  # the newest: pids wrap and sort as text (old-9999 > old-10625)
        os.replace(olds[-1], target)
        olds = olds[:-1]
    for leftover in [*olds, *parent.glob(f".{target.name}.stage-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
