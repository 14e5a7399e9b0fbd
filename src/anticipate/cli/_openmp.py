"""The OpenMP wait policy of the command line: threads sleep at a barrier instead of spinning.

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

os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
