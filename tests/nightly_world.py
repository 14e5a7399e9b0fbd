"""What the nightly-run reliability tests share (``test_reliability.py`` kills and races runs,
``test_reliability_outages.py`` takes the server away and feeds hostile input): a copy of the
session's trained world with one clean plan for ``DATE`` under each of two economics, and the
helpers that start, kill and read runs. Two modules so the two pytest-xdist workers share them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import (
    VENV_BIN,
    WORLD_CONFIG,
    WORLD_DATE,
    WORLD_SAMPLE_ARGS,
    TrainedWorld,
    once_per_run,
    run_cli,
)

DATE = WORLD_DATE  # the day after the small world's last order
CONFIG_B = WORLD_CONFIG + "economics:\n  cost_unsold: 2.0\n  value_local: 3.0\n"  # other economics
PLAN_FILES = {"allocation.png", "forecast.parquet", "plan.csv", "plan.parquet", "summary.json",
              "instance/cells.parquet", "instance/skus.csv", "instance/warehouses.csv"}


@dataclass(frozen=True)
class World:
    """A copy of the trained world, its config, the train metrics and one clean plan for ``DATE``."""

    root: Path
    data: Path
    config: Path
    tracking_uri: str
    train_metrics: dict[str, float]
    plan: dict[str, bytes]  # file name -> bytes of a clean plans/DATE/
    allocate_seconds: float  # wall time of a clean allocate run (schedules the kills)
    plan_b: dict[str, bytes] = field(default_factory=dict)  # the plan under ``config_b``

    @property
    def config_b(self) -> Path:
        """The same world with other economics: another plan, so an in-place overwrite shows."""
        return self.root / "economics-b.yaml"

    def args(self, *command: str, config: Path | None = None) -> list[str]:
        return ["--data", str(self.data), "--config", str(config or self.config), "--tracking-uri",
                self.tracking_uri, "-q", *command]


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def sample_world(root: Path) -> tuple[Path, Path]:
    """The shared world's data and config made again from scratch in ``root`` (same seed and size)."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "small.yaml"
    config.write_text(WORLD_CONFIG)
    ok(run_cli("sample", "--out", str(root / "world"), *WORLD_SAMPLE_ARGS, "-q", cwd=root))
    return root / "world", config


def train_and_promote(root: Path, data: Path, config: Path, tracking_uri: str) -> dict[str, float]:
    """Train and promote as the shared world was built (``tests.conftest.build_world``)."""
    common = ["--data", str(data), "--config", str(config), "--tracking-uri", tracking_uri]
    trained = ok(run_cli(*common, "--json", "-q", "train", cwd=root))
    ok(run_cli(*common, "-q", "promote", "latest", "--alias", "production", cwd=root))
    return dict(json.loads(trained.stdout)["metrics"])


def read_plan(plan_dir: Path) -> dict[str, bytes]:
    """Every file of a plan directory by its path inside it (``instance/cells.parquet``), and its bytes."""
    files = sorted(p for p in plan_dir.rglob("*") if p.is_file())
    return {p.relative_to(plan_dir).as_posix(): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def world_data(trained_world: TrainedWorld) -> tuple[Path, Path]:
    """The shared world's data directory and config (read only: copy before changing)."""
    return trained_world.data, trained_world.config


Plans = tuple[dict[str, bytes], dict[str, bytes], float]  # plan, plan under config_b, seconds of a run


def _clean_plans(trained_world: TrainedWorld, root: Path) -> Plans:
    """One clean plan for ``DATE`` under each economics, made on a copy of the world in ``root``, and the
    faster run's wall seconds (the first run also fills Numba's cache)."""
    copy = trained_world.copy(root / "world")
    partial = World(copy.root, copy.data, copy.config, copy.tracking_uri, {}, {}, 0.0)
    partial.config_b.write_text(CONFIG_B)
    plans, seconds = [], []
    for name, config in (("clean", partial.config), ("clean-b", partial.config_b)):
        (root / name).mkdir()
        started = time.monotonic()
        ok(run_cli(*partial.args("allocate", "--date", DATE, config=config), cwd=root / name))
        seconds.append(time.monotonic() - started)
        plans.append(read_plan(root / name / "plans" / DATE))
    assert set(plans[0]) == PLAN_FILES
    assert plans[1]["plan.parquet"] != plans[0]["plan.parquet"]
    assert plans[1]["summary.json"] != plans[0]["summary.json"]
    return plans[0], plans[1], min(seconds)


def shared_clean_plans(trained_world: TrainedWorld, root: Path) -> Plans:
    """:func:`_clean_plans`, made once per run in ``root`` (:func:`tests.conftest.once_per_run`)."""
    seconds = once_per_run(root, lambda: {"seconds": _clean_plans(trained_world, root)[2]})["seconds"]
    return (read_plan(root / "clean" / "plans" / DATE), read_plan(root / "clean-b" / "plans" / DATE),
            float(seconds))


@pytest.fixture(scope="module")
def world(trained_world: TrainedWorld, tmp_path_factory: pytest.TempPathFactory) -> World:
    """This module's copy of the trained world, with the run's clean plan for ``DATE`` under each economics
    (made once for both reliability modules: :func:`shared_clean_plans`)."""
    run_dir = tmp_path_factory.getbasetemp()  # under pytest-xdist, the parent is the run's, shared by workers
    run_dir = run_dir.parent if os.environ.get("PYTEST_XDIST_WORKER") else run_dir
    plan, plan_b, seconds = shared_clean_plans(trained_world, run_dir / "nightly-clean-plans")
    copy = trained_world.copy(tmp_path_factory.mktemp("reliability") / "world")
    world = World(copy.root, copy.data, copy.config, copy.tracking_uri, dict(copy.train["metrics"]), plan,
                  seconds, plan_b)
    world.config_b.write_text(CONFIG_B)
    return world


# --------------------------------------------------------------------------- helpers
def popen(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen([str(VENV_BIN / "anticipate"), *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def kill_at(proc: subprocess.Popen[str], delay: float, trigger: Callable[[], bool] | None = None) -> int:
    """SIGKILL the process group ``delay`` s after start (or after ``trigger()`` turns true)."""
    deadline = time.monotonic() + 120
    if trigger is not None:
        while proc.poll() is None and not trigger() and time.monotonic() < deadline:
            time.sleep(0.001)
    end = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < end:
        time.sleep(0.002)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGKILL), (
        f"a run that was not killed failed (exit {proc.returncode}); a stale lock or leftover of an "
        f"earlier kill broke it:\n{stderr}"
    )
    return int(proc.returncode)


def assert_plan_absent_or_complete(target: Path, *references: dict[str, bytes]) -> None:
    """``plans/DATE/`` is absent or one complete plan of ``references``, byte for byte (never a mix)."""
    if not target.exists():
        return
    files = read_plan(target)
    assert set(files) == PLAN_FILES, f"partial plan directory after a kill: {sorted(files)}"
    same = [{n for n in PLAN_FILES if files[n] == ref[n]} for ref in references]
    assert any(s == PLAN_FILES for s in same), (
        f"{target} after a kill is no complete plan: files equal to each reference {same}"
    )
    assert len(pd.read_parquet(target / "plan.parquet")) > 0


def assert_no_leftovers(parent: Path, name: str) -> None:
    left = sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))
    assert left == [], f"staging/old/lock leftovers after a clean run: {left}"


