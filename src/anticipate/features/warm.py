"""The feature engine's start-up, run in a background thread while a command loads its data.

Before the first kernel runs, a process imports the engine with Numba (~0.1 s of one core) and
Numba, at the first call of any cached kernel, sets up its code generator and reads the cache
(0.3-0.45 s of one core on this 2-core VM; every later kernel loads in ~5 ms). Done where it
falls, that start-up sat on the critical path of :func:`~anticipate.features.history.history`.
Reading ``orders.parquet`` keeps the cores only partly busy (Arrow decodes in C++ without the
GIL; 10 M lines: ~2 s of CPU in ~1.2 s), so :func:`start` runs the start-up beside it.

Nothing here computes a feature: the numbers are those of an engine started in the foreground.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor


def _start_engine() -> None:
    """Import the feature engine (every kernel module) and call one cached kernel on one value."""
    import numpy as np

    from anticipate.features import partials  # noqa: F401  (imports history, sequences and the kernels)
    from anticipate.features._sums import used_codes

    used_codes(np.zeros(1, dtype=np.int32), 1)  # the first cache load: Numba's code generator set up


def start() -> Future[None]:
    """Start the engine's imports and Numba's set-up in a background thread; its future.

    Call ``.result()`` before the engine runs, so an error there (none is expected) is raised
    in the caller, as it would be without the warm-up.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anticipate-warm")
    try:
        return pool.submit(_start_engine)
    finally:
        pool.shutdown(wait=False)  # the thread ends when the job does
