"""NumPy's transparent-huge-page advice, off for the command line: fresh arrays fault in 4 KB pages.

Imported by :mod:`anticipate.cli` before anything imports NumPy, which reads
``NUMPY_MADVISE_HUGEPAGE`` once, when it loads; a value already in the environment wins.
NumPy asks the kernel for 2 MB pages (``madvise(MADV_HUGEPAGE)``) on every array of 4 MB or
more, and with the kernel's default ``defrag=madvise`` each such first touch may compact
memory synchronously. The commands allocate and drop arrays of tens of millions of entries
(``anticipate solve`` on 200 x 50,000: cells, unit values, their prefix sums): on this
2-core VM the huge-page faults cost ~0.4-1.3 ms each and the solve's system time was
8.7-10.6 s of its 18-20 s CPU; with 4 KB pages 4.3-5.6 s, the user time unchanged.
"""

from __future__ import annotations

import os

#: The setting unless the environment already has one ("0": no huge-page advice).
MADVISE_HUGEPAGE = "0"

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", MADVISE_HUGEPAGE)
