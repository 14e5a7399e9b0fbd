"""SIGTERM while a command works: unwind like Ctrl-C, say so (``--json`` included), then die by the signal.

Python's default for SIGTERM ends the process at once: no ``finally`` runs, and a cron job parsing a
``--json`` command's stdout got nothing at all (audit28). While a command's work runs (not while it
prints its result) SIGTERM raises :class:`Terminated` in the main thread instead: locks are released,
staging directories removed, the MLflow run ended as failed, and the CLI prints the error object it
prints for any failure (:data:`EXIT_TERMINATED`). Then the signal is delivered again with its default
action, so the process ends as it always did on SIGTERM (a shell's ``$?`` is 143, a service
manager sees "killed by SIGTERM"). A second SIGTERM while unwinding ends the process at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

#: The exit status a shell shows for a process ended by SIGTERM (128 + 15): the ``exit_code`` of the
#: ``--json`` error object of a terminated command.
EXIT_TERMINATED = 128 + int(signal.SIGTERM)


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM while a command works (a BaseException, as KeyboardInterrupt,
    so that no ``except Exception`` in the library swallows it)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM: no more unwinding
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` during the block (main thread only; elsewhere a no-op);
    the previous handler is back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def die_by_sigterm() -> None:
    """End the process by SIGTERM's default action, after flushing stdout and stderr (no return)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # delivered before kill() returns unless blocked
    os._exit(EXIT_TERMINATED)  # not reached unless this thread blocks SIGTERM


@contextlib.contextmanager
def sigterm_ignored() -> Iterator[None]:
    """SIGTERM ignored during the block (main thread only), the previous handler back afterwards: a command
    whose work is done and published prints its result and ends with its own status; dying by the signal
    while printing gave a cron job exit 143 beside an "ok" JSON object (audit30). Restored, not left
    ignored: a process that calls the CLI in-process (a notebook, the tests) would otherwise pass an
    ignored SIGTERM on to every child it starts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
