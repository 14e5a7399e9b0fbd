"""``anticipate solve`` as a whole process on 200 x 50,000 (10 M cells): read, solve, write plan and summary.

Target (issue 15): <= 20 s and peak memory <= 3 GB. The instance is the ``combined``
family of :mod:`families`, seed 1, written once as Parquet under ``_work/`` (not timed;
later repetitions reuse it). Each repetition runs ``python -m anticipate solve`` in a
child process with the same interpreter and source tree: ``seconds`` is its wall time,
``cpu_seconds`` its user + system CPU time (all threads), ``solve_peak_rss_mb`` its own
peak RSS (the harness's ``peak_rss_mb`` is this bench process's, which generates the
instance on the first run), and ``load_1min`` the load average, because the machine is
shared. One small solve first fills the Numba cache (a kernel only a large instance calls
compiles in the first repetition only: the median of the default three repetitions is warm).

``python experiments/benchmarks/bench_solve.py`` prints one row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from child_cost import run_measured  # the child's own peak, not this process's
from families import frames

SIZE = (200, 50_000)
SEED = 1


def _instance_dir(workdir: Path) -> Path:
    """The Parquet instance directory (written once; a ``.done`` marker says it is complete)."""
    from anticipate.storage.files import write_parquet

    n_w, n_s = SIZE
    directory = workdir / f"solve_combined_{n_w}x{n_s}_seed{SEED}"
    if not (directory / ".done").is_file():
        tables = frames("combined", n_w, n_s, SEED)
        for name, frame in zip(("warehouses", "skus", "cells"), tables, strict=True):
            write_parquet(frame, directory / f"{name}.parquet")
        (directory / ".done").write_text("")
    return directory


def _solve_process(instance_dir: Path, out: Path) -> dict:
    """Run ``anticipate solve`` in a child process: wall and CPU seconds, its peak RSS (MB)."""
    import anticipate

    env = {**os.environ, "PYTHONPATH": str(Path(anticipate.__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "anticipate", "solve", "--instance", str(instance_dir), "--out", str(out)]
    code, cost, _ = run_measured(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if code != 0:
        raise RuntimeError(f"anticipate solve exited {code} on {instance_dir}")
    return {"seconds": cost["wall_s"], "cpu_seconds": cost["user_s"] + cost["sys_s"],
            "solve_peak_rss_mb": cost["peak_mb"]}

def _warm(workdir: Path) -> None:
    """Fill the Numba cache with one small ``anticipate solve`` (a nightly run finds it warm)."""
    from anticipate.allocation import generate_instance
    from anticipate.storage.files import write_parquet

    small = workdir / "solve_warm"
    inst = generate_instance(3, 20, seed=0)
    for name in ("warehouses", "skus", "cells"):
        write_parquet(getattr(inst, name), small / f"{name}.parquet")
    _solve_process(small, small / "plan")


def whole_200x50000(workdir: Path) -> dict:
    instance_dir = _instance_dir(workdir)
    _warm(workdir)
    load = os.getloadavg()[0]
    row = _solve_process(instance_dir, workdir / "solve_plan_200x50000")
    summary = json.loads((workdir / "solve_plan_200x50000" / "summary.json").read_text())
    targets = {"target_seconds": 20.0, "target_rss_mb": 3072.0}
    return {**row, "load_1min": load, "gap": summary.get("gap"), **targets}


CASES = {"whole_200x50000": whole_200x50000}

if __name__ == "__main__":
    print(json.dumps(whole_200x50000(Path(__file__).resolve().parent / "_work")))
