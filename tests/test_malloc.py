"""The command line's glibc malloc settings (anticipate.cli._malloc): freed memory is reused."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from anticipate.cli import _malloc

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only"
)

# Touch a 64 MB array, free it, touch another of the same size: the page faults of the second.
_REFAULTS = """
import resource, sys
import numpy as np
{setup}
def touched():
    a = np.empty(8 << 20)
    a[::512] = 1.0
    return a
del_ = touched(); del del_
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = touched()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _refaults(setup: str) -> int:
    """Minor page faults of re-touching a freed 64 MB array's worth of pages, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env["NUMPY_MADVISE_HUGEPAGE"] = "0"  # 4 KB pages, as the CLI runs (anticipate.cli._hugepages)
    done = subprocess.run(
        [sys.executable, "-c", _REFAULTS.format(setup=setup)], capture_output=True, text=True, env=env,
        check=True,
    )
    return int(done.stdout.strip())


@glibc
def test_a_freed_array_is_reused_without_page_faults_under_the_cli_settings():
    """64 MB = 16,384 pages: by default each is faulted in again; with the CLI's settings almost none."""
    assert _refaults("") > 10_000
    assert _refaults("import anticipate.cli") < 1_000


@glibc
def test_settings_the_environment_makes_are_left_alone(monkeypatch):
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    for _, env in _malloc.HEAP_SETTINGS.values():
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("MALLOC_TOP_PAD_", "131072")
    assert _malloc.keep_freed_memory() == ["MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_"]
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_max=65536")
    assert _malloc.keep_freed_memory() == []
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=4")
    assert _malloc.limit_arenas() is False
