"""The ``features`` command's start-up: the engine (Numba) starts in a background thread while the data loads.

Issue 17 (features >= 2x the polars peer): the engine's imports and Numba's set-up at its first cached
kernel (0.4-0.55 s of one core) sat on the critical path of the first feature step; the command now
names the columns to load without importing the engine and starts it meanwhile.
"""

from __future__ import annotations

import subprocess
import sys

from anticipate.features import warm
from anticipate.features._sums import _used_codes_jit


def test_the_loader_needs_no_engine_import_to_name_the_id_columns() -> None:
    """The columns the loader reads as codes come from the spec, which imports neither Numba nor engine."""
    probe = ("import sys, anticipate.cli, anticipate.pipelines.features\n"
             "from anticipate.features.spec import FEW_IDS, ID_COLUMNS\n"
             "engine = ('numba', 'anticipate.features.history', 'anticipate.features.partials')\n"
             "print(ID_COLUMNS, FEW_IDS, [m for m in engine if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "('customer_id', 'sku', 'region') ('sku', 'region') []"
    from anticipate.features.history import FEW_IDS, ID_COLUMNS  # still importable from there

    assert (ID_COLUMNS, FEW_IDS) == (("customer_id", "sku", "region"), ("sku", "region"))


def test_the_warm_up_imports_the_engine_and_loads_a_kernel_in_another_thread() -> None:
    job = warm.start()
    assert job.result(timeout=300) is None
    assert "anticipate.features.partials" in sys.modules
    assert _used_codes_jit.signatures  # a compiled (cache-loaded) overload is in the dispatcher
