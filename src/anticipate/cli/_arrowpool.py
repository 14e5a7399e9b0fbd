"""Arrow's default memory pool for the command line: the system allocator, not mimalloc.

Imported by :mod:`anticipate.cli` before anything imports pyarrow, which reads
``ARROW_DEFAULT_MEMORY_POOL`` once, when its default pool is first used; a value already in
the environment wins. Arrow's default mimalloc pool backs its segments with transparent
huge pages, and on this 2-core VM each first touch of a 2 MB page may stall on compaction:
reading the 10 M-line benchmark world's ``orders.parquet`` (pandas, pyarrow 25) took
5.8-7.3 s of system time (10.7-13.2 s wall, ~20 k page faults) through mimalloc and
0.5 s (2.6 s wall, ~320 k faults of 4 KB) through the system pool, the same user time.
:func:`anticipate.storage.files.read_parquet_checked` already reads dictionary columns
through the system pool for the same reason; this makes every Arrow allocation do so.
"""

from __future__ import annotations

import os

#: The pool unless the environment already names one ("system": glibc malloc).
ARROW_POOL = "system"

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", ARROW_POOL)
