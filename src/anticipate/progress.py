"""Progress on stderr: rich bars on a terminal, one plain line per stage in a log, nothing with ``-q``.

A nightly job's log (cron, stderr not a terminal) gets a timestamped line as each
stage starts, so the morning reader sees where a failed run stopped.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def stages(total: int, *, enabled: bool, description: str = "") -> Iterator[_Stages]:
    """A bar over ``total`` named stages; call ``.step(name)`` as each one starts."""
    if not enabled:
        yield _Stages(None, None)
        return
    if not sys.stderr.isatty():
        yield _StageLines(total, description)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield _Stages(progress, task)
        progress.update(task, completed=total)


class _Stages:
    def __init__(self, progress: object | None, task: object | None) -> None:
        self._progress = progress
        self._task = task
        self._started = False

    def step(self, name: str) -> None:
        """Mark the previous stage done and show ``name`` as the current one."""
        if self._progress is None:
            return
        if self._started:
            self._progress.advance(self._task)  # type: ignore[attr-defined]
        self._started = True
        self._progress.update(self._task, description=name)  # type: ignore[attr-defined]


class _StageLines:
    """Stages as plain lines on stderr: ``HH:MM:SS allocate [2/5] forecasting (+12.3 s)``."""

    def __init__(self, total: int, description: str) -> None:
        self._total, self._description = total, description
        self._done = 0
        self._started = time.monotonic()

    def step(self, name: str) -> None:
        """Print the stage that starts now, its number and the seconds since the first stage."""
        self._done += 1
        elapsed = time.monotonic() - self._started
        print(f"{time.strftime('%H:%M:%S')} {self._description} [{self._done}/{self._total}] {name} "
              f"(+{elapsed:.1f} s)", file=sys.stderr, flush=True)


def track(items: Iterable[T], *, total: int | None, enabled: bool, description: str) -> Iterator[T]:
    """Iterate ``items`` with a progress bar on stderr when ``enabled`` (a line per item in a log)."""
    if not enabled:
        yield from items
        return
    if not sys.stderr.isatty():
        lines = _StageLines(total or 0, description)
        for item in items:
            lines.step(str(item))
            yield item
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(items, total=total, description=description, console=Console(stderr=True))
