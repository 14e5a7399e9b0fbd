"""The benchmarks' measure of one child process: its own peak memory, not the measuring process's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from child_cost import run_measured

BIG_MB = 600  # held by this process while it starts the children


def _direct_peak_mb(cmd: list[str]) -> float:
    """What ``os.wait4`` on a direct child reports as its peak (MiB)."""
    proc = subprocess.Popen(cmd)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024


def test_a_childs_peak_is_its_own_while_the_measuring_process_holds_more() -> None:
    held = np.ones(BIG_MB * 2**20 // 8)  # touched: BIG_MB MiB resident here
    small = [sys.executable, "-S", "-c", "pass"]
    assert _direct_peak_mb(small) >= BIG_MB  # why the launcher exists: a direct child inherits our peak
    code, cost, _ = run_measured(small)
    assert code == 0
    assert 1 < cost["peak_mb"] < 100
    assert cost["wall_s"] > 0 and cost["user_s"] >= 0 and cost["sys_s"] >= 0
    del held


def test_the_childs_exit_code_stdout_and_own_allocation_come_back() -> None:
    grows = [sys.executable, "-c", "import sys; b = bytearray(300 * 2**20); print('done'); sys.exit(3)"]
    code, cost, out = run_measured(grows, stdout=subprocess.PIPE)
    assert (code, out) == (3, "done\n")
    assert 300 <= cost["peak_mb"] < 400


def test_a_child_ended_by_a_signal_reports_the_signal() -> None:
    code, _, _ = run_measured(["sh", "-c", "kill -TERM $$"])
    assert code == -15
