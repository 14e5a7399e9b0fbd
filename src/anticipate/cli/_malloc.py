"""glibc's malloc for the command line: one arena, and freed memory kept for reuse.

Imported by :mod:`anticipate.cli` before any thread of ours starts. Two settings, each skipped
when the environment already sets it (glibc read it at start-up) and where the C library has no
``mallopt`` (macOS):

* **One arena.** glibc gives each new thread that allocates an arena of its own (up to 8 per
  core), and memory freed into one arena serves only the threads using it. The feature engine
  runs helper threads beside the main one (line sums, gathers, the join's block), which left
  freed memory stranded in their arenas. Measured whole processes on this 2-core VM (load
  0.7-1.4), default against one arena: `features` on 1 M lines peak 615-624 -> 565-568 MB, on
  10 M lines 1.84-1.86 -> 1.77-1.78 GB, wall and system time the same; `train` on 1 M lines
  (4 windows) 934-958 -> 814-833 MB, the same fit time and the same predictions to the last bit.
* **Freed memory stays in the heap.** By default every array over 128 KB to 32 MB (glibc's
  moving threshold) is a fresh ``mmap`` that the kernel zero-fills page by page on first touch
  and that ``free`` hands back; a command that builds and drops arrays the size of its input
  pays a page fault per 4 KB each time. With ``mmap`` off for allocations (``M_MMAP_MAX`` 0),
  the heap grown 64 MB at a time and its free top trimmed back to that pad at each free
  (``M_TOP_PAD`` 64 MB, ``M_TRIM_THRESHOLD`` 0), a freed array's pages serve the next one that
  fits in them (or in the pad) without a fault; a larger one is faulted in again. The price is peak
  memory: a freed block serves only requests that fit in it (see the README's benchmarks for
  the measured faults, system time and peaks).
"""

from __future__ import annotations

import ctypes
import os

#: ``M_TRIM_THRESHOLD``, ``M_TOP_PAD``, ``M_MMAP_MAX`` and ``M_ARENA_MAX`` of glibc's ``malloc.h``.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX = -1, -2, -4, -8
#: Arenas for the whole process.
ARENAS = 1
#: Heap settings (bytes; ``M_MMAP_MAX`` a count) and the environment variable that overrides each.
#: A trim threshold of 0 hands the heap's free top beyond the pad back at each free: never
#: trimming (-1) kept the pages but raised the 10 M-line `features` peak 2.25 -> 2.83 GB (0.68 M
#: faults against 0.57 M), above the polars peer's; ``mallopt`` takes a C int (4 GB wraps to 0).
HEAP_SETTINGS = {
    M_MMAP_MAX: (0, "MALLOC_MMAP_MAX_"),
    M_TRIM_THRESHOLD: (0, "MALLOC_TRIM_THRESHOLD_"),
    M_TOP_PAD: (64 << 20, "MALLOC_TOP_PAD_"),
}


def _mallopt() -> object | None:
    """glibc's ``mallopt`` through ctypes, or None where the C library has none."""
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` unless ``MALLOC_ARENA_MAX`` or the tunable
    ``glibc.malloc.arena_max`` is set; True when capped."""
    mallopt = _mallopt()
    tuned = "glibc.malloc.arena_max" in os.environ.get("GLIBC_TUNABLES", "")
    if mallopt is None or tuned or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(mallopt(M_ARENA_MAX, int(arenas)))  # type: ignore[operator]


def keep_freed_memory() -> list[str]:
    """Set :data:`HEAP_SETTINGS` that the environment does not; the names of those set.

    Nothing is set when ``GLIBC_TUNABLES`` names a ``glibc.malloc`` tunable (the user tuned
    malloc on purpose).
    """
    mallopt = _mallopt()
    if mallopt is None or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return []
    done = []
    for option, (value, env) in HEAP_SETTINGS.items():
        if env not in os.environ and mallopt(option, value):  # type: ignore[operator]
            done.append(env)
    return done


LIMITED = limit_arenas()
KEPT = keep_freed_memory()
