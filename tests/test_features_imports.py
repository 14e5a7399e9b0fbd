"""Issue 17: `anticipate features` against a polars peer, whole processes: start-up is most of the 1 M-line
command (imports and Numba's set-up ~0.7 s of CPU of ~1.5 s). The command imports pandas, pyarrow, NumPy,
Numba and SciPy and nothing heavier: MLflow, LightGBM, scikit-learn, Matplotlib, Dask, HiGHS or SQLAlchemy
would each add 0.1-1 s and thousands of page faults to every run. This guards what a fresh interpreter
imports (the test CLI runner forks from one that has imported them all, so it cannot tell).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import TrainedWorld

#: Top-level packages `features` never needs.
NOT_FOR_FEATURES = ("mlflow", "lightgbm", "sklearn", "matplotlib", "dask", "distributed", "highspy",
                    "sqlalchemy", "alembic", "requests", "flask", "rich", "jinja2")

#: Runs the CLI in this fresh interpreter and writes the top-level packages imported by then (its exit
#: handlers run before the process ends, see anticipate.cli._exit).
PROGRAM = """
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted({m.split(".")[0] for m in sys.modules}))))
sys.argv[0] = "anticipate"
from anticipate.cli import run
run()
"""


def test_features_in_a_fresh_process_imports_nothing_it_does_not_use(
    trained_world: TrainedWorld, tmp_path: Path
) -> None:
    seen = tmp_path / "modules.txt"
    args = trained_world.args("features", "--cutoff", "2024-08-20", "--out", str(tmp_path / "f.parquet"))
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(seen), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set(seen.read_text().split())
    assert {"pandas", "pyarrow", "numba", "anticipate"} <= modules  # it did run the command
    assert modules.isdisjoint(NOT_FOR_FEATURES), sorted(modules & set(NOT_FOR_FEATURES))
