"""``ui``: the MLflow UI on the configured store, on 127.0.0.1 and a free or given port."""

from __future__ import annotations

import socket
import subprocess
import sys
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


def run_ui(
    settings: Settings, *, port: int | None, on_ready: object = None, timeout: float = 120.0
) -> Result:
    """Start the UI, report its URL through ``on_ready(url)``, and serve until interrupted.

    For an ``http(s)://`` tracking URI there is nothing to start: the server's own
    UI is the answer and its URL is returned at once.
    """
    from anticipate.tracking import is_remote

    if is_remote(settings.tracking_uri):
        return Result(
            command="ui",
            outputs={"url": settings.tracking_uri},
            text=f"the tracking server's UI: {settings.tracking_uri}",
        )
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        ui_command(settings, port=port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if settings.verbosity < 1 else None,
    )
    try:
        _wait_ready(url, proc, timeout)
        if callable(on_ready):
            on_ready(url)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return Result(command="ui", outputs={"url": url}, text=f"MLflow UI stopped ({url})")
