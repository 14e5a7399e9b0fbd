"""The ``anticipate`` command line: one Click group, shared options, errors -> exit codes.

Each command parses its arguments, calls one ``anticipate.pipelines.*.run_*``
function and prints the :class:`~anticipate.pipelines.Result`. Nothing here reads
data, computes or talks to MLflow. Heavy libraries are imported lazily inside the
commands so ``anticipate --help`` is instant.
"""

from __future__ import annotations

from anticipate.cli import _openmp  # noqa: F401  isort: skip  (before anything loads OpenMP)
from anticipate.cli import _malloc  # noqa: F401  isort: skip  (before any thread allocates)
from anticipate.cli import _hugepages  # noqa: F401  isort: skip  (before anything imports NumPy)
from anticipate.cli import _arrowpool  # noqa: F401  isort: skip  (before anything imports pyarrow)
from anticipate.cli import _numbacache  # noqa: F401  isort: skip  (before anything imports Numba)
from anticipate.cli._core import main
from anticipate.cli._exit import run as _run_and_exit

# Register the command modules on the group (each adds its commands to ``main``).
from anticipate.cli import bench as _bench  # noqa: F401  isort: skip
from anticipate.cli import data as _data  # noqa: F401  isort: skip
from anticipate.cli import model as _model  # noqa: F401  isort: skip
from anticipate.cli import plan as _plan  # noqa: F401  isort: skip
from anticipate.cli import solve as _solve  # noqa: F401  isort: skip

__all__ = ["main", "run"]


def run() -> None:
    """The ``anticipate`` executable (and ``python -m anticipate``): :data:`main`, then the exit of
    :func:`anticipate.cli._exit.run` (exit handlers, flushes, no interpreter teardown)."""
    _run_and_exit(main)
