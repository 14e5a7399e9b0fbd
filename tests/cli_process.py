"""The ``anticipate`` command in a fresh process forked from an interpreter that has already imported it.

Every CLI test needs a real process of its own (its own exit code, file descriptors, environment,
MLflow client and Numba state); what it does not need is to pay, ~90 times per suite, the ~2.5 s of
CPU that importing pandas, MLflow, LightGBM and scikit-learn costs a new interpreter. A
``multiprocessing`` fork server imports them once (and nothing else: it never runs a command, opens
a store or starts a thread), and each call forks a child from it that sets the caller's working
directory and environment, runs the console script's entry point (``anticipate.cli:main``) with
the arguments, runs the exit handlers a normal interpreter runs, and exits with the command's code.
Its stdout and stderr go to files, read back as a :class:`subprocess.CompletedProcess`.

Tests about the process itself (signals, SIGKILL at a random instant, a server's lifetime) still
start the ``anticipate`` executable with :mod:`subprocess`.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: What a command imports lazily, imported once by the fork server (a missing one is skipped).
PRELOAD = [
    "anticipate.cli",
    "anticipate.pipelines.model",
    "anticipate.pipelines.plan",
    "anticipate.pipelines.backtest",
    "anticipate.pipelines.evaluate",
    "anticipate.pipelines.experiment",
    "anticipate.pipelines.features",
    "anticipate.pipelines.ingest",
    "anticipate.pipelines.runs",
    "anticipate.pipelines.sample",
    "anticipate.pipelines.solve",
    "mlflow",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "lightgbm",
    "sklearn.linear_model",
    "matplotlib.pyplot",
    "tests.cli_process",
]

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


def _child(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: the caller's cwd, environment and stdio, then the console script."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    sys.argv = ["anticipate", *args]
    from anticipate.cli import main

    code: int | str | None = 0
    try:
        main(args=args, prog_name="anticipate")
    except SystemExit as exc:
        code = exc.code
    finally:
        atexit._run_exitfuncs()  # what an interpreter runs at exit (MLflow ends runs, logging flushes)
        sys.stdout.flush()
        sys.stderr.flush()
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        sys.stderr.flush()
        code = 1
    os._exit(code or 0)


def run_forked(args: list[str], cwd: Path | None, env: dict[str, str],
               timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``anticipate ARGS`` in a forked child: exit code, stdout and stderr as ``subprocess.run`` gives.

    Raises :class:`subprocess.TimeoutExpired` (after killing the child) when it runs longer than
    ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="anticipate-cli-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        out.touch()
        err.touch()
        where = str(cwd or Path.cwd())
        proc = _CONTEXT.Process(target=_child, args=(list(args), where, env, str(out), str(err)))
        proc.start()
        proc.join(timeout)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
            raise subprocess.TimeoutExpired(["anticipate", *args], timeout)
        return subprocess.CompletedProcess(["anticipate", *args], proc.exitcode, out.read_text(),
                                           err.read_text())
