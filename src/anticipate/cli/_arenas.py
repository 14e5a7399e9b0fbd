"""glibc's malloc arenas, one for the command line: memory a thread frees is reused by every thread.

Imported by :mod:`anticipate.cli` before any thread of ours starts. glibc gives each new thread
that allocates an arena of its own (up to 8 per core), and memory freed into one arena serves
only the threads using it. The feature engine runs helper threads beside the main one (line
sums, gathers, the join's block), which left freed memory stranded in their arenas. Measured
whole processes on this 2-core VM (load 0.7-1.4), default against one arena: `features` on
1 M lines peak 615-624 -> 565-568 MB, on 10 M lines 1.84-1.86 -> 1.77-1.78 GB, wall and
system time the same; `train` on 1 M lines (4 windows) 934-958 -> 814-833 MB, the same fit
time and the same predictions to the last bit.

A ``MALLOC_ARENA_MAX`` in the environment wins (glibc read it at start-up); where the C library
has no ``mallopt`` (macOS) nothing changes.
"""

from __future__ import annotations

import ctypes
import os

#: ``M_ARENA_MAX`` of glibc's ``malloc.h``.
M_ARENA_MAX = -8
#: Arenas for the whole process.
ARENAS = 1


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` unless ``MALLOC_ARENA_MAX`` is set; True when capped."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, int(arenas)))


LIMITED = limit_arenas()
