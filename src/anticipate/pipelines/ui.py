"""``ui``: the MLflow UI on the configured store, on 127.0.0.1 and a free or given port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from anticipate.errors import ServiceUnavailable, UsageError
from anticipate.pipelines import Result, Settings


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ui_command(settings: Settings, *, port: int) -> list[str]:
    """The ``mlflow ui`` command line for the configured store (local stores only)."""
    mlflow_exe = Path(sys.executable).with_name("mlflow")
    exe = [str(mlflow_exe)] if mlflow_exe.exists() else [sys.executable, "-m", "mlflow"]
    return [
        *exe,
        "ui",
        "--backend-store-uri",
        settings.tracking_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def ui_env() -> dict[str, str]:
    """The UI server's environment: ours, without MLflow's GenAI job runners unless the user asked for
    them (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION``): four fewer processes for browsing runs."""
    return {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ}


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceUnavailable(
                f"the MLflow UI exited with code {proc.returncode} before answering; "
                "re-run with -v, or check that the port is free"
            )
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.5)
    raise ServiceUnavailable(f"the MLflow UI did not answer at {url} within {timeout:.0f} s")


class _Stop(Exception):
    """Raised in the main thread by SIGTERM so the UI's server is stopped before exiting."""


def _raise_stop(signum: int, frame: object) -> None:
    del signum, frame
    raise _Stop


def stop_server(proc: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    """Stop the server and all it started (its own process group): TERM, KILL after ``grace`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_ui(
    settings: Settings, *, port: int | None, on_ready: object = None, timeout: float = 120.0
) -> Result:
    """Start the UI, report its URL through ``on_ready(url)``, and serve until interrupted.

    ``port`` None or 0 picks a free port. Ctrl-C (SIGINT) or SIGTERM stops the MLflow
    server this started, with the workers it spawned (it runs in its own process group).
    For an ``http(s)://`` tracking URI there is nothing to start: the server's own
    UI is the answer and its URL is returned at once.
    """
    from anticipate.tracking import is_remote
    from anticipate.tracking.store import check_uri_form

    check_uri_form(settings.tracking_uri, settings.tracking_source)  # `mlflow ui` would die on it
    if is_remote(settings.tracking_uri):
        return Result(
            command="ui",
            outputs={"url": settings.tracking_uri},
            text=f"the tracking server's UI: {settings.tracking_uri}",
        )
    if port is not None and not 0 <= port < 65536:
        raise UsageError(f"--port must be between 1 and 65535 (or 0 for a free one), got {port}")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stop) if main_thread else None
    try:
        proc = subprocess.Popen(
            ui_command(settings, port=port),
            env=ui_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if settings.verbosity < 1 else None,
            start_new_session=True,
        )
        try:
            _wait_ready(url, proc, timeout)
            if callable(on_ready):
                on_ready(url)
            proc.wait()
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            stop_server(proc)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return Result(command="ui", outputs={"url": url}, text=f"MLflow UI stopped ({url})")
