"""One child process's own cost: wall seconds, user and system CPU seconds, peak RSS.

``os.wait4`` (or ``RUSAGE_CHILDREN``) in the measuring process is not enough for the peak:
Linux starts a child's ``ru_maxrss`` at the high-water RSS of the process it was forked from
(at ``exec`` the old address space's peak is kept), so a child of a benchmark that had read a
10M-line world reports at least the benchmark's own peak (measured: a ``true`` run by a process
that once held 2.3 GB reports 2.3 GB, even after that memory was freed). Here the command runs
under a small launcher (this file run as a script, standard library only, a fresh interpreter
of about 10 MB), which forks it, waits for it with ``os.wait4`` and writes the cost as JSON to a
file the caller names; the launcher's own start-up is outside the measured wall.

``run_measured(cmd, ...)`` is the caller's side: it returns the command's exit code and cost
(``wall_s``, ``user_s``, ``sys_s``, ``peak_mb``: MiB); stdout and stderr go where the caller
says, as with ``subprocess.Popen``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any


def run_measured(cmd: list[str], *, cwd: Path | None = None, stdout: int | IO[Any] | None = None,
                 stderr: int | IO[Any] | None = None, env: dict[str, str] | None = None
                 ) -> tuple[int, dict[str, float], str | None]:
    """Run ``cmd`` under the launcher; its exit code, its own cost and (with ``stdout=PIPE``) its stdout text.

    The exit code is the child's (negative: ended by that signal, as ``subprocess`` reports it).
    """
    fd, cost_path = tempfile.mkstemp(prefix="child_cost_", suffix=".json")
    os.close(fd)
    launcher = [sys.executable, "-S", "-E", str(Path(__file__).resolve()), cost_path, "--", *cmd]
    try:
        proc = subprocess.Popen(launcher, cwd=cwd, stdout=stdout, stderr=stderr, env=env,
                                text=stdout == subprocess.PIPE)
        out, _ = proc.communicate()
        cost = json.loads(Path(cost_path).read_text() or "{}")
    finally:
        os.unlink(cost_path)
    if "exit" not in cost:
        raise RuntimeError(f"the cost launcher exited {proc.returncode} without a report for {cmd[:3]}")
    return int(cost.pop("exit")), cost, out


def _launch(cost_path: str, cmd: list[str]) -> int:
    """Run ``cmd`` (stdin, stdout and stderr inherited), write its cost to ``cost_path``; its exit code."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    cost = {"exit": code, "wall_s": wall, "user_s": usage.ru_utime, "sys_s": usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}
    Path(cost_path).write_text(json.dumps(cost))
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        raise SystemExit("usage: child_cost.py COST_JSON -- COMMAND [ARGS...]")
    raise SystemExit(_launch(sys.argv[1], sys.argv[3:]))
