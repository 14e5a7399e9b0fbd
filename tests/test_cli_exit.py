"""The command line's process: its exit (handlers run, no interpreter teardown) and its garbage collector."""

from __future__ import annotations

import atexit
import gc
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from anticipate.cli import _exit, main

ROOT = Path(__file__).resolve().parents[1]


def _raises(code: object):
    def command() -> None:
        raise SystemExit(code)

    return command


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (2, 2), (130, 130), ("boom", 1)])
def test_run_ends_with_the_commands_exit_status(code: object, status: int) -> None:
    ended: list[int] = []
    _exit.run(_raises(code), handlers=lambda: None, end=ended.append)
    assert ended == [status]


def test_run_runs_the_exit_handlers_before_it_ends() -> None:
    """(This process's own handlers are never run here: they would end pytest's forkserver.)"""
    order: list[str] = []
    _exit.run(_raises(0), handlers=lambda: order.append("handlers"),
              end=lambda status: order.append(f"end {status}"))
    assert order == ["handlers", "end 0"]


def test_run_runs_atexits_handlers_by_default() -> None:
    import inspect

    assert inspect.signature(_exit.run).parameters["handlers"].default is atexit._run_exitfuncs


def test_run_leaves_the_exit_to_the_interpreter_while_another_thread_runs() -> None:
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    ended: list[int] = []
    try:
        with pytest.raises(SystemExit) as raised:
            _exit.run(_raises(3), handlers=lambda: None, end=ended.append)
    finally:
        release.set()
        worker.join()
    assert raised.value.code == 3
    assert ended == []


def test_python_dash_m_anticipate_prints_and_exits_with_the_commands_code(tmp_path: Path) -> None:
    """The real process: stdout flushed before the process ends, the usage error's exit code 2."""
    done = subprocess.run([sys.executable, "-m", "anticipate", "--version"], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0
    assert done.stdout.strip()
    done = subprocess.run([sys.executable, "-m", "anticipate", "features", "--no-such-option"],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert "no-such-option" in done.stderr


def test_the_console_script_is_the_exiting_entry_point() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'anticipate = "anticipate.cli:run"' in text
    assert "run()" in (ROOT / "src" / "anticipate" / "__main__.py").read_text()


def test_features_runs_without_the_cycle_collector_and_gives_it_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import anticipate.pipelines.features as pipeline

    seen: list[bool] = []

    def fake(settings: object, *, cutoff: object, out: object) -> None:
        seen.append(gc.isenabled())
        raise pipeline.DataError("stop here")

    monkeypatch.setattr(pipeline, "run_features", fake)
    assert gc.isenabled()
    result = CliRunner().invoke(main, ["features", "--out", "x.parquet"])
    assert result.exit_code == 2, result.output
    assert seen == [False]
    assert gc.isenabled()


def _to_dev_full(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``anticipate ARGS`` with stdout on /dev/full (every write fails: no space left on device)."""
    with open("/dev/full", "w") as full:
        return subprocess.run([sys.executable, "-m", "anticipate", *args], cwd=cwd, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=300, check=False)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_result_that_cannot_be_printed_is_exit_74_naming_what_was_published(tmp_path: Path) -> None:
    """audit31 C12: stdout on a full disk (a cron redirect) ended a finished command with a traceback and
    exit 1; its outputs were published, so it says so, in one line, with exit 74 (EX_IOERR)."""
    done = _to_dev_full("sample", "--out", "w", "--customers", "30", "--skus", "5", "--days", "60", "--json",
                        cwd=tmp_path)
    assert done.returncode == _exit.EXIT_UNPRINTED == 74
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("anticipate sample: error: its result could not be printed on stdout (No space")
    assert "; it finished and published w (data_dir); make room where stdout goes" in line
    assert (tmp_path / "w" / "orders.parquet").is_file()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_help_that_cannot_be_printed_is_exit_74_in_one_line(tmp_path: Path) -> None:
    done = _to_dev_full("--help", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (74, "anticipate: error: could not write to stdout (No space "
                                                  "left on device)\n")


def test_a_command_started_with_stdout_closed_runs_nothing_and_says_so(tmp_path: Path) -> None:
    """audit32 B: with stdout closed ('>&-') Python's sys.stdout is None: 'features' failed with exit 1
    "AttributeError ... This is a bug" and a traceback, its output never written."""
    done = subprocess.run([sys.executable, "-m", "anticipate", "runs", "list"], cwd=tmp_path, stdout=None,
                          stderr=subprocess.PIPE, text=True, check=False, pass_fds=(),
                          preexec_fn=lambda: __import__("os").close(1))
    assert done.returncode == 74
    assert done.stderr.startswith("anticipate: error: stdout is closed (started with '>&-')")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing was run
