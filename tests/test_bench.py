"""The engineer's bench: experiment sweeps that resume after a kill, the UI, bad experiment files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import VENV_BIN, TrainedWorld, free_port, run_cli, wait_http

# the sweep's children only need to finish (or be killed) and be counted: the smallest model
SMALL = """
model:
  train_windows: 2
  classifier: {n_estimators: 30, learning_rate: 0.2}
  regressor: {n_estimators: 15, learning_rate: 0.2}
"""


@pytest.fixture(scope="module")
def bench_world(trained_world: TrainedWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory whose ``data`` is the session world's data (read only) and no store yet."""
    root = tmp_path_factory.mktemp("bench")
    (root / "small.yaml").write_text(SMALL)
    (root / "data").symlink_to(trained_world.data, target_is_directory=True)
    return root


def _finished_children(root: Path) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("anticipate")
    if exp is None:
        return 0
    runs = client.search_runs(
        [exp.experiment_id],
        "tags.`anticipate.command` = 'experiment-child' and attributes.status = 'FINISHED'",
    )
    return len(runs)


@pytest.mark.slow
def test_interrupted_experiment_resumes_and_runs_only_the_rest(bench_world: Path) -> None:
    spec = bench_world / "sweep.yaml"
    spec.write_text(
        "name: lookback\nbase: small.yaml\nmetric: auc\ngrid:\n  time.lookback_days: [120, 200]\n"
    )
    assert run_cli("runs", "list", cwd=bench_world).returncode == 0  # create the store before polling it
    cmd = [str(VENV_BIN / "anticipate"), "--data", "data", "experiment", "run", str(spec)]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        cmd,
        cwd=bench_world,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while _finished_children(bench_world) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGKILL)  # after the first child (the base config) finished
    proc.wait()
    done_before = _finished_children(bench_world)
    assert 1 <= done_before < 3
    resumed = run_cli("--json", "--data", "data", "experiment", "run", str(spec), cwd=bench_world)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out = json.loads(resumed.stdout)
    assert out["counts"] == {"children": 3, "resumed": done_before}
    assert _finished_children(bench_world) == 3  # only the missing children ran
    again = json.loads(
        run_cli("--json", "--data", "data", "experiment", "run", str(spec), cwd=bench_world).stdout
    )
    assert again["counts"]["resumed"] == 3 and again["outputs"] == out["outputs"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("name: x\ngrid:\n  time.horizn_days: [3]\n", "horizn_days"),
        ("name: x\ngrid:\n  time.horizon_days: []\n", "grid is empty"),
        ("name: x\nmetric: auc\n", "exactly one of 'grid' or 'random'"),
        ("name: x\ngrid: {time.horizon_days: [3]}\nseed: 3\n", "seed"),
    ],
)
def test_bad_experiment_files_exit_2_naming_the_key(bench_world: Path, body: str, match: str) -> None:
    spec = bench_world / "bad.yaml"
    spec.write_text(body)
    done = run_cli("--data", "data", "experiment", "run", str(spec), cwd=bench_world)
    assert done.returncode == 2, done.stderr
    assert match in done.stderr


def test_ui_serves_the_page_and_the_rest_api(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [str(VENV_BIN / "anticipate"), "ui", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/health", timeout=90)
        assert requests.get(url + "/", timeout=10).status_code == 200
        api = requests.post(url + "/api/2.0/mlflow/experiments/search", json={"max_results": 10}, timeout=10)
        assert api.status_code == 200 and "experiments" in api.json()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    assert f"127.0.0.1:{port}" in (proc.stderr.read() if proc.stderr else "")
