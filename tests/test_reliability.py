"""Reliability of the nightly run (issue 7), part one, with the damage done for real.

Every test drives the real ``anticipate`` console script as a subprocess:

* crash safety: ``allocate`` and ``ingest`` SIGKILLed at seeded random moments over
  their whole run (and on purpose while the plan is being published); the output
  directory is absent, the previous complete one or the new complete one, a stale
  lock never blocks the next run, and the next run gives the clean bytes;
* concurrency: two ``allocate`` runs for one date, exactly one wins, the other exits 75
  naming the holder's pid; a lock left by a dead pid is taken over.

Part two (``test_reliability_outages.py``) takes the tracking server away, feeds hostile input
and checks determinism. The session's small trained world (``tests/conftest.py``) is copied once
per module with one clean plan under each of two economics (``tests/nightly_world.py``).
"""


from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests import nightly_world
from tests.conftest import run_cli
from tests.nightly_world import (
    DATE,
    World,
    assert_no_leftovers,
    assert_plan_absent_or_complete,
    kill_at,
    ok,
    popen,
    read_plan,
)

# the module-scoped fixtures of tests/nightly_world.py: each module that names them gets its own copy
world = nightly_world.world
world_data = nightly_world.world_data


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
    n_uniform, n_publish = 5, 3  # 8 kills: every stage of the run at 5 strata plus the publish (3 s each)
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
        started = time.monotonic()
        proc = popen(args_ab[i % 2], tmp_path)
        # publish-time kills fire once the run starts writing anything (a staging dir, a file in the target);
        # the others once it holds the night's lock: a fresh process first spends seconds importing, which
        # the clean run (forked from a process that has imported everything) does not, so fractions of the
        # clean run's time counted from the start would mostly land in the imports
        trigger = ((lambda b=before: outputs() != b) if on_publish
                   else (lambda p=proc.pid: _lock_pid(plans / f".{DATE}.lock") == p))
        delay = when if on_publish else when * clean_seconds
        code = kill_at(proc, delay, trigger)
        killed += code != 0
        if code == 0:  # finished before its kill: on a machine whose load fell, later runs are this fast
            clean_seconds = min(clean_seconds, time.monotonic() - started)
        assert_plan_absent_or_complete(target, world.plan, world.plan_b)
        if i in (len(schedule) // 2 - 1, len(schedule) - 1):
            # the next night: the killed run's lock is stale, it must not block; same bytes as a clean run
            if i < len(schedule) - 1:  # and a lock JSON naming a dead pid is taken over as well
                _write_lock(plans / f".{DATE}.lock", _dead_pid())
            ok(run_cli(*args, cwd=tmp_path))
            assert read_plan(target) == world.plan
            assert_no_leftovers(plans, DATE)
    assert len(schedule) >= 8
    assert killed >= 5, f"only {killed} of {len(schedule)} runs were actually killed"


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
    ok(run_cli(*ingest(small_csv, out), cwd=tmp_path))
    old = _ingest_state(out)
    scratch = tmp_path / "scratch"
    started = time.monotonic()
    ok(run_cli(*ingest(big_csv, scratch), cwd=tmp_path))
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
        code = kill_at(popen(ingest(big_csv, out), tmp_path), delay)
        killed += code != 0
        if code == 0:  # finished before its kill: on a machine whose load fell, later runs are this fast
            seconds = min(seconds, time.monotonic() - started)
        state = _ingest_state(out)
        assert state in (old, new), "the data directory is partial after a killed ingest"
        if state == new:  # put the old one back so that every kill also tests 'untouched'
            shutil.rmtree(out)
            shutil.copytree(saved, out)
    ok(run_cli(*ingest(big_csv, out), cwd=tmp_path))
    assert _ingest_state(out) == new
    assert_no_leftovers(tmp_path, "data")
    assert killed >= 4, f"only {killed} of {n} ingest runs were actually killed"


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGTERM, -signal.SIGTERM, 143),
                                                   (signal.SIGINT, 130, 130)])
def test_a_signal_mid_allocate_prints_the_json_error_and_keeps_the_previous_plan(
    world: World, tmp_path: Path, sig: int, code: int, said: int
) -> None:
    """audit28: SIGTERM (a service manager's stop, a cron timeout) during ``allocate --json`` ended the
    process with nothing on stdout: a job parsing it got no JSON. Now it prints the error object it
    prints for any failure (exit_code 143) and still ends by the signal; the previous plan stays."""
    plans = tmp_path / "plans"
    for name, data in world.plan.items():  # last night's good plan, which a killed run must not touch
        (plans / DATE / name).parent.mkdir(parents=True, exist_ok=True)
        (plans / DATE / name).write_bytes(data)
    proc = popen(world.args("--json", "allocate", "--date", DATE, config=world.config_b), tmp_path)
    deadline = time.monotonic() + 120
    while not (plans / f".{DATE}.lock").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)  # the night's lock: the run has begun its work
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    reply = json.loads(out)
    assert {k: reply[k] for k in ("command", "status", "exit_code")} == {
        "command": "allocate", "status": "error", "exit_code": said}, reply
    assert "no output was published" in reply["error"] and reply["error"] in err
    assert read_plan(plans / DATE) == world.plan
    assert_no_leftovers(plans, DATE)


# --------------------------------------------------------------------------- 2. concurrency
@pytest.mark.slow
def test_two_allocate_runs_for_one_date_one_wins_the_other_exits_75(world: World, tmp_path: Path) -> None:
    args = world.args("allocate", "--date", DATE)
    procs = [popen(args, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 75], [o[1] for o in outputs]
    winner = next(p for p in procs if p.returncode == 0)
    loser_err = next(o[1] for p, o in zip(procs, outputs, strict=True) if p.returncode == 75)
    assert f"pid {winner.pid}" in loser_err, loser_err
    assert f".{DATE}.lock" in loser_err
    assert read_plan(tmp_path / "plans" / DATE) == world.plan
    assert_no_leftovers(tmp_path / "plans", DATE)


def _lock_pid(path: Path) -> int | None:
    """The pid a night's lock file names, or None (no file yet, or one being written)."""
    try:
        return int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(proc.stdout)


def _write_lock(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": pid, "started": time.time() - 3600,
                                "command": f"anticipate allocate --date {DATE}"}))


def test_a_lock_held_by_a_live_run_exits_75_naming_it(world_data: tuple[Path, Path], tmp_path: Path,
                                                     empty_store: Path) -> None:
    from anticipate.storage.lock import exclusive_lock

    shutil.copy(empty_store, tmp_path / "mlflow.db")  # a store to open: a missing one is refused first

    lock = tmp_path / "plans" / f".{DATE}.lock"
    with exclusive_lock(lock, command=f"anticipate allocate --date {DATE}"):  # this pytest process holds it
        proc = run_cli("--data", str(world_data[0]), "-q", "allocate", "--date", DATE, cwd=tmp_path,
                       timeout=120)
        assert lock.exists()
    assert proc.returncode == 75, proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr
    assert not (tmp_path / "plans" / DATE).exists()


