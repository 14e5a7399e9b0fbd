"""The OpenMP and OpenBLAS wait policies of the command line: idle threads sleep instead of spinning.

Imported first by :mod:`anticipate.cli`, before any OpenMP runtime loads (LightGBM's and
scikit-learn's read ``OMP_WAIT_POLICY`` once, when they load); a value already in the
environment wins. On a machine with more runnable threads than cores (2 cores shared by
several processes), a spinning thread burns the core its partner needs to reach the
barrier: the real log's Poisson quantity fit (52,089 rows, 420 rounds, 2 threads, load 12
on 2 cores) took 245 s wall and 96 s CPU spinning, 12 s and 5 s with ``passive``; the
3 M-row classifier's rounds are long enough that sleeping costs them nothing measurable.
"""

from __future__ import annotations

import os

#: The policy set unless the environment already has one.
WAIT_POLICY = "passive"
#: OpenBLAS's own idle threads (NumPy's and SciPy's copies each start one per core) spin for 2^28
#: cycles after every call before they sleep: 2^4 unless the environment says otherwise. The renewal
#: hazard's quadrature (a matrix-vector product per block) left them spinning beside the feature engine:
#: `features` on 1 M order lines 3.6 % of its CPU in ``blas_thread_server`` (perf); whole processes,
#: 6 alternated runs each at load 6-8: 1.78 -> 1.73 s CPU median, the same table.
BLAS_THREAD_TIMEOUT = "4"

os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", BLAS_THREAD_TIMEOUT)
