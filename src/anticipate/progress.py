"""Progress bars on stderr (rich), silent when not a terminal or with ``-q``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def stages(total: int, *, enabled: bool, description: str = "") -> Iterator[_Stages]:
    """A bar over ``total`` named stages; call ``.step(name)`` as each one starts."""
    if not enabled:
        yield _Stages(None, None)
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


def track(items: Iterable[T], *, total: int | None, enabled: bool, description: str) -> Iterator[T]:
    """Iterate ``items`` with a progress bar on stderr when ``enabled``."""
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(items, total=total, description=description, console=Console(stderr=True))
