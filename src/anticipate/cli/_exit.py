"""The command line's exit: the exit handlers run, the interpreter's own teardown skipped.

When a command has returned, a normal interpreter exit still joins the non-daemon threads, runs the
:mod:`atexit` handlers (MLflow ends its runs, logging flushes), and then tears down every module and
object one by one, with a last full garbage collection over everything the imports created
(pandas, NumPy, pyarrow, Numba, SciPy: millions of objects). That teardown frees nothing the
operating system would not take back at once, and it is serial: measured on this 2-core VM, 0.3-0.45 s
of the ``features`` command's wall time at every size (155,000 to 10 M order lines), after its
output was published. :func:`run` runs the command, then what a normal exit runs that matters (the
exit handlers, the flushes of stdout and stderr), then ends the process with the command's code
(:func:`os._exit`). While a thread other than the main one is still running (a daemon thread is
ended by either exit alike) the exit is the normal one, which waits for it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Callable

#: Exit status when output could not be written to stdout (``EX_IOERR`` of sysexits.h): a full disk
#: under a cron redirect, a closed pipe.
EXIT_UNPRINTED = 74


def exit_code(code: object) -> int:
    """The process exit status of ``SystemExit(code)``: None 0, an int itself, anything else 1 (printed
    to stderr, as the interpreter does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _others_running() -> bool:
    """Whether a non-daemon thread besides this one is alive (a normal exit would wait for it)."""
    me = threading.current_thread()
    return any(t is not me and t.is_alive() and not t.daemon for t in threading.enumerate())


def run(
    main: Callable[[], object],
    *,
    handlers: Callable[[], object] = atexit._run_exitfuncs,
    end: Callable[[int], object] = os._exit,
) -> None:
    """Call ``main`` (a Click command in standalone mode: it raises :class:`SystemExit`), run the exit
    handlers (``handlers``: :mod:`atexit`'s), flush stdout and stderr and end the process with
    ``end(status)``.

    With another non-daemon thread alive the ``SystemExit`` is raised again (the interpreter's exit,
    which waits for the thread). A ``KeyboardInterrupt`` or other exception outside the command's
    own handling propagates unchanged (the interpreter prints and exits as usual), except an
    :class:`OSError` of Click's own printing (``--help`` to a full disk): one line on stderr, exit
    :data:`EXIT_UNPRINTED`.
    """
    if sys.stdout is None:  # started with stdout closed ('>&-'): a file opened next would take its descriptor
        if sys.stderr is not None:
            sys.stderr.write("anticipate: error: stdout is closed (started with '>&-'), so no result could "
                             "be printed and a file opened next would take its place; nothing was run: give "
                             "it stdout (a file, or /dev/null)\n")
        end(EXIT_UNPRINTED)
        return
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        if _others_running():
            raise
        code = exc.code
    except OSError as exc:  # Click's own printing (--help, a usage error) to a stdout that takes nothing
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"anticipate: error: could not write to stdout ({exc.strerror or exc})\n")
        code = EXIT_UNPRINTED
    handlers()
    status = exit_code(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing can reach it
            stream.flush()
    end(status)
