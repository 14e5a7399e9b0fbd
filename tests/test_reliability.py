"""Reliability of the nightly run (issue 7), with the damage done for real.

Every test drives the real ``anticipate`` console script as a subprocess:

* crash safety: ``allocate`` and ``ingest`` SIGKILLed at seeded random moments over
  their whole run (and on purpose while the plan is being published); the output
  directory is absent, the previous complete one or the new complete one, a stale
  lock never blocks the next run, and the next run gives the clean bytes;
* concurrency: two ``allocate`` runs for one date, exactly one wins, the other exits 75
  naming the holder's pid; a lock left by a dead pid is taken over;
* outages: a real ``mlflow server`` stopped before the run gives exit 3 naming the URI
  and no plan; ``--model PATH`` to a local copy of the model runs without the server;
* hostile input: broken Parquet, path-like dates, unsafe YAML, a capacity of 1e308;
* determinism: sample -> train -> allocate twice gives the same plan bytes and metrics.

The session's small trained world (``tests/conftest.py``: an 800-customer, 60-SKU, 240-day
world, 4 windows, 40 trees, promoted) is copied once for this module; the tests share the copy
through ``--tracking-uri``; the hostile-input tests read its data directory (and copy what they break).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import (
    VENV_BIN,
    WORLD_CONFIG,
    WORLD_DATE,
    WORLD_SAMPLE_ARGS,
    MlflowServer,
    TrainedWorld,
    run_cli,
)

DATE = WORLD_DATE  # the day after the small world's last order
PLAN_FILES = {"allocation.png", "forecast.parquet", "plan.csv", "plan.parquet", "summary.json"}


# --------------------------------------------------------------------------- fixtures
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
    plan_b: dict[str, bytes] = dataclasses.field(default_factory=dict)  # the plan under ``config_b``

    @property
    def config_b(self) -> Path:
        """The same world with other economics: another plan, so an in-place overwrite shows."""
        return self.root / "economics-b.yaml"

    def args(self, *command: str, config: Path | None = None) -> list[str]:
        return ["--data", str(self.data), "--config", str(config or self.config), "--tracking-uri",
                self.tracking_uri, "-q", *command]


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def _sample_world(root: Path) -> tuple[Path, Path]:
    """The shared world's data and config made again from scratch in ``root`` (same seed and size)."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "small.yaml"
    config.write_text(WORLD_CONFIG)
    _ok(run_cli("sample", "--out", str(root / "world"), *WORLD_SAMPLE_ARGS, "-q", cwd=root))
    return root / "world", config


def _train_and_promote(root: Path, data: Path, config: Path, tracking_uri: str) -> dict[str, float]:
    """Train and promote as the shared world was built (``tests.conftest.build_world``)."""
    common = ["--data", str(data), "--config", str(config), "--tracking-uri", tracking_uri]
    trained = _ok(run_cli(*common, "--json", "-q", "train", cwd=root))
    _ok(run_cli(*common, "-q", "promote", "latest", "--alias", "production", cwd=root))
    return dict(json.loads(trained.stdout)["metrics"])


def _read_plan(plan_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(plan_dir.iterdir())}


@pytest.fixture(scope="module")
def world_data(trained_world: TrainedWorld) -> tuple[Path, Path]:
    """The shared world's data directory and config (read only: copy before changing)."""
    return trained_world.data, trained_world.config


@pytest.fixture(scope="module")
def world(trained_world: TrainedWorld, tmp_path_factory: pytest.TempPathFactory) -> World:
    """This module's copy of the trained world, with one clean plan for ``DATE`` under each economics."""
    copy = trained_world.copy(tmp_path_factory.mktemp("reliability") / "world")
    root = copy.root
    metrics = dict(copy.train["metrics"])
    clean = root / "clean"
    clean.mkdir()
    partial = World(root, copy.data, copy.config, copy.tracking_uri, metrics, {}, 0.0)
    started = time.monotonic()
    _ok(run_cli(*partial.args("allocate", "--date", DATE), cwd=clean))
    seconds = time.monotonic() - started
    plan = _read_plan(clean / "plans" / DATE)
    assert set(plan) == PLAN_FILES
    partial.config_b.write_text(WORLD_CONFIG + "economics:\n  cost_unsold: 2.0\n  value_local: 3.0\n")
    clean_b = root / "clean-b"
    clean_b.mkdir()
    started = time.monotonic()
    _ok(run_cli(*partial.args("allocate", "--date", DATE, config=partial.config_b), cwd=clean_b))
    seconds = min(seconds, time.monotonic() - started)  # the first run also fills Numba's cache
    plan_b = _read_plan(clean_b / "plans" / DATE)
    assert plan_b["plan.parquet"] != plan["plan.parquet"] and plan_b["summary.json"] != plan["summary.json"]
    return World(root, copy.data, copy.config, copy.tracking_uri, metrics, plan, seconds, plan_b)


# --------------------------------------------------------------------------- helpers
def _popen(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen([str(VENV_BIN / "anticipate"), *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _kill_at(proc: subprocess.Popen[str], delay: float, trigger: Callable[[], bool] | None = None) -> int:
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


def _assert_plan_absent_or_complete(target: Path, *references: dict[str, bytes]) -> None:
    """``plans/DATE/`` is absent or one complete plan of ``references``, byte for byte (never a mix)."""
    if not target.exists():
        return
    files = _read_plan(target)
    assert set(files) == PLAN_FILES, f"partial plan directory after a kill: {sorted(files)}"
    same = [{n for n in PLAN_FILES if files[n] == ref[n]} for ref in references]
    assert any(s == PLAN_FILES for s in same), (
        f"{target} after a kill is no complete plan: files equal to each reference {same}"
    )
    assert len(pd.read_parquet(target / "plan.parquet")) > 0


def _assert_no_leftovers(parent: Path, name: str) -> None:
    left = sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))
    assert left == [], f"staging/old/lock leftovers after a clean run: {left}"


# --------------------------------------------------------------------------- 1. crash safety
@pytest.mark.slow
def test_allocate_killed_at_random_moments_never_leaves_a_partial_plan(world: World, tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    target = plans / DATE
    args = world.args("allocate", "--date", DATE)
    # killed runs alternate between two economics, so a run that overwrote the other's plan in place
    # would leave files of both: at every moment the directory must be one complete plan
    args_ab = (args, world.args("allocate", "--date", DATE, config=world.config_b))
    rng = random.Random(20260701)
    n_uniform, n_publish = 10, 4  # 14 kills: every stage of the run at 10 strata plus the publish
    # stratified uniform fractions of a clean run's time: every stage gets hit, late ones included
    schedule: list[tuple[float, bool]] = [
        ((0.02 + 0.98 * (i + rng.random()) / n_uniform), False)
        for i in range(n_uniform)
    ]
    # and kills timed from the moment the staging directory appears: mid-write and mid-rename
    schedule += [(rng.uniform(0.0, 0.25), True) for _ in range(n_publish)]
    rng.shuffle(schedule)

    def outputs() -> tuple[object, ...]:
        """What the run has written so far: plans/ entries (but the lock) and the target's mtime."""
        if not plans.is_dir():
            return ()
        names = sorted(p.name for p in plans.iterdir() if p.name != f".{DATE}.lock")
        return (*names, target.stat().st_mtime_ns if target.exists() else None)

    killed, clean_seconds = 0, world.allocate_seconds
    for i, (when, on_publish) in enumerate(schedule):
        before = outputs()
        # publish-time kills fire once the run starts writing anything (a staging dir, a file in the target)
        trigger = (lambda b=before: outputs() != b) if on_publish else None
        started = time.monotonic()
        delay = when if on_publish else when * clean_seconds
        code = _kill_at(_popen(args_ab[i % 2], tmp_path), delay, trigger)
        killed += code != 0
        if code == 0:  # finished before its kill: on a machine whose load fell, later runs are this fast
            clean_seconds = min(clean_seconds, time.monotonic() - started)
        _assert_plan_absent_or_complete(target, world.plan, world.plan_b)
        if i in (len(schedule) // 2 - 1, len(schedule) - 1):
            # the next night: the killed run's lock is stale, it must not block; same bytes as a clean run
            if i < len(schedule) - 1:  # and a lock JSON naming a dead pid is taken over as well
                _write_lock(plans / f".{DATE}.lock", _dead_pid())
            _ok(run_cli(*args, cwd=tmp_path))
            assert _read_plan(target) == world.plan
            _assert_no_leftovers(plans, DATE)
    assert len(schedule) >= 14
    assert killed >= 7, f"only {killed} of {len(schedule)} runs were actually killed"


def _ingest_state(out: Path) -> dict[str, bytes] | None:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())} if out.exists() else None


@pytest.mark.slow
def test_ingest_killed_mid_run_leaves_the_data_dir_complete_or_untouched(
    world_data: tuple[Path, Path], tmp_path: Path
) -> None:
    orders = pd.read_parquet(world_data[0] / "orders.parquet")
    small_csv, big_csv = tmp_path / "small.csv", tmp_path / "big.csv"
    orders.to_csv(small_csv, index=False)
    big = pd.concat([orders] * (300_000 // len(orders) + 1), ignore_index=True).iloc[:300_000].copy()
    big["order_id"] = [f"B{i:07d}" for i in range(len(big))]
    big.to_csv(big_csv, index=False)
    config = tmp_path / "chunks.yaml"
    config.write_text("ingest:\n  chunk_rows: 20000\n")  # many chunks: many moments to die in

    def ingest(src: Path, out: Path) -> list[str]:
        return ["--config", str(config), "-q", "ingest", "--orders", str(src), "--out", str(out)]

    out = tmp_path / "data"
    _ok(run_cli(*ingest(small_csv, out), cwd=tmp_path))
    old = _ingest_state(out)
    scratch = tmp_path / "scratch"
    started = time.monotonic()
    _ok(run_cli(*ingest(big_csv, scratch), cwd=tmp_path))
    seconds = time.monotonic() - started
    new = _ingest_state(scratch)
    assert old is not None and new is not None
    assert len(pd.read_parquet(scratch / "orders.parquet")) == 300_000

    saved = tmp_path / "data-old"
    shutil.copytree(out, saved)
    rng = random.Random(7)
    n = 8
    killed = 0
    for i in range(n):
        delay = seconds * (0.05 + 0.95 * (i + rng.random()) / n)
        started = time.monotonic()
        code = _kill_at(_popen(ingest(big_csv, out), tmp_path), delay)
        killed += code != 0
        if code == 0:  # finished before its kill: on a machine whose load fell, later runs are this fast
            seconds = min(seconds, time.monotonic() - started)
        state = _ingest_state(out)
        assert state in (old, new), "the data directory is partial after a killed ingest"
        if state == new:  # put the old one back so that every kill also tests 'untouched'
            shutil.rmtree(out)
            shutil.copytree(saved, out)
    _ok(run_cli(*ingest(big_csv, out), cwd=tmp_path))
    assert _ingest_state(out) == new
    _assert_no_leftovers(tmp_path, "data")
    assert killed >= 4, f"only {killed} of {n} ingest runs were actually killed"


# --------------------------------------------------------------------------- 2. concurrency
@pytest.mark.slow
def test_two_allocate_runs_for_one_date_one_wins_the_other_exits_75(world: World, tmp_path: Path) -> None:
    args = world.args("allocate", "--date", DATE)
    procs = [_popen(args, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 75], [o[1] for o in outputs]
    winner = next(p for p in procs if p.returncode == 0)
    loser_err = next(o[1] for p, o in zip(procs, outputs, strict=True) if p.returncode == 75)
    assert f"pid {winner.pid}" in loser_err, loser_err
    assert f".{DATE}.lock" in loser_err
    assert _read_plan(tmp_path / "plans" / DATE) == world.plan
    _assert_no_leftovers(tmp_path / "plans", DATE)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(proc.stdout)


def _write_lock(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "started": time.time() - 3600,
                                "command": f"anticipate allocate --date {DATE}"}))


def test_a_lock_held_by_a_live_run_exits_75_naming_it(world_data: tuple[Path, Path], tmp_path: Path) -> None:
    from anticipate.storage.files import exclusive_lock

    lock = tmp_path / "plans" / f".{DATE}.lock"
    with exclusive_lock(lock, command=f"anticipate allocate --date {DATE}"):  # this pytest process holds it
        proc = run_cli("--data", str(world_data[0]), "-q", "allocate", "--date", DATE, cwd=tmp_path,
                       timeout=120)
        assert lock.exists()
    assert proc.returncode == 75, proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr
    assert not (tmp_path / "plans" / DATE).exists()


# --------------------------------------------------------------------------- 3. outages
_REGISTER = """
import sys, mlflow
local, server, staged, copy = sys.argv[1:5]
mlflow.set_tracking_uri(local)
mlflow.set_registry_uri(local)
mlflow.artifacts.download_artifacts("models:/anticipate-next-purchase@production", dst_path=staged)
mlflow.set_tracking_uri(server)
mlflow.set_registry_uri(server)
mlflow.set_experiment("anticipate")
with mlflow.start_run(run_name="upload") as run:
    mlflow.log_artifacts(staged, "model")
version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "anticipate-next-purchase").version
mlflow.artifacts.download_artifacts(f"models:/anticipate-next-purchase/{version}", dst_path=copy)
"""


@pytest.mark.slow
def test_tracking_server_down_exits_3_and_a_local_model_copy_still_plans(
    world: World, mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    # register the module's model on the real server (cheaper than training there), promote it with
    # the CLI, and keep a local copy downloaded from the server while it is up
    copy = tmp_path / "model-copy"
    subprocess.run([sys.executable, "-c", _REGISTER, world.tracking_uri, mlflow_server.uri,
                    str(tmp_path / "staged"), str(copy)], check=True, capture_output=True, timeout=300)
    assert (copy / "MLmodel").is_file()
    _ok(run_cli("--tracking-uri", mlflow_server.uri, "-q", "promote", "latest", cwd=tmp_path))

    # during a run: the model came from the server, which stops while the run forecasts
    during = _popen(["--data", str(world.data), "--config", str(world.config), "--tracking-uri",
                     mlflow_server.uri, "allocate", "--date", DATE], tmp_path)
    assert during.stderr is not None
    seen = []
    for line in during.stderr:
        seen.append(line)
        if "] forecasting" in line:
            break
    mlflow_server.stop()
    err = "".join(seen) + during.communicate(timeout=300)[1]
    assert "] forecasting" in err, err
    assert during.returncode == 3, err
    assert mlflow_server.uri in err and "unreachable" in err
    assert not (tmp_path / "plans" / DATE).exists()

    common = ["--data", str(world.data), "--config", str(world.config), "-q"]
    down = run_cli(*common, "--tracking-uri", mlflow_server.uri, "allocate", "--date", DATE, cwd=tmp_path,
                   timeout=180)
    assert down.returncode == 3, down.stderr
    assert mlflow_server.uri in down.stderr and "unreachable" in down.stderr
    assert not (tmp_path / "plans" / DATE).exists()

    offline = run_cli(*common, "--tracking-uri", "sqlite:///local.db", "allocate", "--date", DATE,
                      "--model", str(copy), cwd=tmp_path, timeout=300)
    _ok(offline)
    plan = _read_plan(tmp_path / "plans" / DATE)
    assert set(plan) == PLAN_FILES
    assert plan["plan.parquet"] == world.plan["plan.parquet"]  # the promoted model's plan, byte for byte
    assert json.loads(plan["summary.json"])["model_uri"] == str(copy)


# --------------------------------------------------------------------------- 4. hostile input
def _bad_data_dir(world_data: tuple[Path, Path], tmp_path: Path, damage: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(world_data[0], data)
    orders = data / "orders.parquet"
    raw = orders.read_bytes()
    if damage == "truncated":
        orders.write_bytes(raw[: len(raw) // 2])
    elif damage == "corrupted":  # footer intact, column chunks overwritten
        orders.write_bytes(raw[:8] + bytes(random.Random(3).randrange(256) for _ in range(len(raw) // 2))
                           + raw[8 + len(raw) // 2:])
    else:
        orders.write_bytes(b"")
    return data


@pytest.mark.parametrize("damage", ["truncated", "corrupted", "empty"])
def test_broken_orders_parquet_exits_2_naming_the_file(
    world_data: tuple[Path, Path], tmp_path: Path, damage: str
) -> None:
    data = _bad_data_dir(world_data, tmp_path, damage)
    proc = run_cli("--data", str(data), "-q", "allocate", "--date", DATE, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "orders.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "plans" / DATE).exists()


@pytest.mark.parametrize("date", ["../x", "2025-01-01/x", "..", "2025-01-01\\..\\x"])
def test_path_like_dates_exit_2_and_write_nothing(world_data: tuple[Path, Path], tmp_path: Path,
                                                  date: str) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = run_cli("--data", str(world_data[0]), "-q", "allocate", "--date", date, cwd=cwd, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--date" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cwd"]


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", ["python-tag", "alias-bomb"])
def test_unsafe_config_yaml_is_refused_with_exit_2(world_data: tuple[Path, Path], tmp_path: Path,
                                                    kind: str) -> None:
    config = tmp_path / "bad.yaml"
    marker = tmp_path / "pwned"
    config.write_text(f"data: !!python/object/apply:os.system ['touch {marker}']\n" if kind == "python-tag"
                      else _alias_bomb())
    proc = run_cli("--data", str(world_data[0]), "--config", str(config), "-q", "allocate", "--date", DATE,
                   cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert str(config) in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()
    assert not (tmp_path / "plans").exists()


@pytest.mark.slow
def test_a_capacity_of_1e308_still_gives_a_valid_plan(world: World, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(world.data, data)
    warehouses = pd.read_parquet(data / "warehouses.parquet")
    warehouses["capacity"] = 1e308
    warehouses.to_parquet(data / "warehouses.parquet", index=False)
    proc = run_cli("--data", str(data), "--config", str(world.config), "--tracking-uri", world.tracking_uri,
                   "-q", "allocate", "--date", DATE, cwd=tmp_path, timeout=300)
    _ok(proc)
    target = tmp_path / "plans" / DATE
    assert {p.name for p in target.iterdir()} == PLAN_FILES
    plan = pd.read_parquet(target / "plan.parquet")
    supply = pd.read_parquet(data / "supply.parquet")
    assert len(plan) > 0 and (plan["units"] >= 0).all()
    per_sku = plan.groupby("sku")["units"].sum()
    assert (per_sku <= supply.set_index("sku")["units"].reindex(per_sku.index)).all()
    summary = json.loads((target / "summary.json").read_text())
    assert all(v is None or abs(float(v)) < 1e300 for k, v in summary.items()
               if k in ("objective", "bound", "gap"))


# --------------------------------------------------------------------------- 5. determinism
@pytest.mark.slow
def test_sample_train_allocate_twice_gives_identical_bytes_and_metrics(world: World, tmp_path: Path) -> None:
    data, config = _sample_world(tmp_path)
    assert (data / "orders.parquet").read_bytes() == (world.data / "orders.parquet").read_bytes()
    metrics = _train_and_promote(tmp_path, data, config, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert metrics == world.train_metrics
    _ok(run_cli("--data", str(data), "--config", str(config), "-q", "allocate", "--date", DATE, cwd=tmp_path))
    plan = _read_plan(tmp_path / "plans" / DATE)
    assert plan["plan.parquet"] == world.plan["plan.parquet"]
    assert plan["plan.csv"] == world.plan["plan.csv"]
    assert plan["forecast.parquet"] == world.plan["forecast.parquet"]
