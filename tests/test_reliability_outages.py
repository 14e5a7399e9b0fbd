"""Reliability of the nightly run (issue 7), part two: outages, hostile input, determinism.

Every test drives the real ``anticipate`` console script as a subprocess:

* outages: a real ``mlflow server`` stopped before the run gives exit 3 naming the URI
  and no plan; ``--model PATH`` to a local copy of the model runs without the server;
* hostile input: broken Parquet, path-like dates, unsafe YAML, a capacity of 1e308;
* determinism: sample -> train -> allocate twice gives the same plan bytes and metrics.

Part one (``test_reliability.py``) kills and races runs; both copy the session's trained world
once per module (``tests/nightly_world.py``).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests import nightly_world
from tests.conftest import MlflowServer, run_cli
from tests.nightly_world import (
    DATE,
    PLAN_FILES,
    World,
    ok,
    popen,
    read_plan,
    sample_world,
    train_and_promote,
)

# the module-scoped fixtures of tests/nightly_world.py: each module that names them gets its own copy
world = nightly_world.world
world_data = nightly_world.world_data


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
    ok(run_cli("--tracking-uri", mlflow_server.uri, "-q", "promote", "latest", cwd=tmp_path))

    # during a run: the model came from the server, which stops while the run forecasts
    during = popen(["--data", str(world.data), "--config", str(world.config), "--tracking-uri",
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
    ok(offline)
    plan = read_plan(tmp_path / "plans" / DATE)
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
    world_data: tuple[Path, Path], tmp_path: Path, damage: str, empty_store: Path
) -> None:
    data = _bad_data_dir(world_data, tmp_path, damage)
    shutil.copy(empty_store, tmp_path / "mlflow.db")  # a store to open: a missing one is refused first
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
    ok(proc)
    target = tmp_path / "plans" / DATE
    assert set(read_plan(target)) == PLAN_FILES
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
    data, config = sample_world(tmp_path)
    assert (data / "orders.parquet").read_bytes() == (world.data / "orders.parquet").read_bytes()
    metrics = train_and_promote(tmp_path, data, config, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert metrics == world.train_metrics
    ok(run_cli("--data", str(data), "--config", str(config), "-q", "allocate", "--date", DATE, cwd=tmp_path))
    plan = read_plan(tmp_path / "plans" / DATE)
    assert plan["plan.parquet"] == world.plan["plan.parquet"]
    assert plan["plan.csv"] == world.plan["plan.csv"]
    assert plan["forecast.parquet"] == world.plan["forecast.parquet"]


def test_a_store_another_process_keeps_locked_is_exit_75_not_a_bug(tmp_path: Path) -> None:
    """audit30 B1: a sqlite store held by another writer past MLflow's wait ended train with exit 1
    "OperationalError ... database is locked ... This is a bug"; it is a temporary failure (exit 75)."""
    import sqlite3

    from anticipate.errors import LockHeld
    from anticipate.tracking.errors import service_errors

    db = tmp_path / "mlflow.db"
    holder = sqlite3.connect(db)
    holder.execute("CREATE TABLE t (x)")
    holder.commit()
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, as an mlflow ui or a second night would
    try:
        with pytest.raises(LockHeld) as err, service_errors(f"sqlite:///{db}", "opening the experiment"):
            sqlite3.connect(db, timeout=0.05).execute("SELECT * FROM t").fetchall()
    finally:
        holder.rollback()
        holder.close()
    assert err.value.exit_code == 75
    assert f"the MLflow store sqlite:///{db} stayed locked by another process while opening" in str(err.value)
    with pytest.raises(ValueError), service_errors(f"sqlite:///{db}", "x"):  # anything else: unchanged
        raise ValueError("not a lock")


def test_a_store_locked_while_mlflow_opens_it_is_exit_75_not_a_bug(tmp_path: Path) -> None:
    """audit31 B4: a lock held while MLflow opens the store (before any command's own tracking calls) ended
    every command that reads or writes runs with exit 1 "OperationalError ... This is a bug"."""
    import sqlite3

    db = tmp_path / "mlflow.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # an exclusive writer: even MLflow's first read of the schema waits
    try:
        done = run_cli("--tracking-uri", f"sqlite:///{db}?timeout=0.2", "runs", "list", cwd=tmp_path)
    finally:
        holder.close()
    assert done.returncode == 75, done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr
    assert f"the MLflow store sqlite:///{db}?timeout=0.2 stayed locked by another process" in done.stderr
