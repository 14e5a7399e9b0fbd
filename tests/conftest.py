"""Shared fixtures: a real MLflow server on 127.0.0.1, an isolated working directory, and one small
trained world per session that the tests which need a model share (each copies what it changes)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_process import run_forked

ROOT = Path(__file__).resolve().parents[1]
# idle OpenMP threads sleep, as the CLI sets them (anticipate.cli._openmp): in-process
# LightGBM fits here and every subprocess the tests start inherit it (pytest-xdist runs two at once)
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
VENV_BIN = Path(sys.executable).parent


# rough seconds of a test by its marks: the suite's files are ordered heaviest first, so pytest-xdist
# (``--dist loadfile``, one file per worker at a time) starts the long ones early and no worker is left
# alone with a long file at the end
MARK_SECONDS = {"slow": 25.0, "server": 12.0, "dask": 6.0}


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


#: Measured seconds of the heaviest files (setup + call + teardown of their tests, warm caches, 2 workers,
#: 2026-12-04 19:20, `--durations=0`): the order's weights where known. By marks alone the 17 s of
#: test_night_inputs.py (no mark) came 20th, after files of 1-4 s, and could end the run on one worker.
FILE_SECONDS = {
    "test_reliability.py": 47, "test_distributed.py": 45, "test_no_silent_wrong.py": 38,
    "test_pipeline.py": 34, "test_reliability_outages.py": 32, "test_bench.py": 27,
    "test_dask_workers.py": 22, "test_cli.py": 19, "test_night_inputs.py": 17, "test_tracking.py": 16,
    "test_history_start.py": 12, "test_runbook.py": 11, "test_scoring_runs.py": 9, "test_features.py": 7,
    "test_fuzz_ingest.py": 7, "test_sample.py": 7, "test_features_blocks.py": 6,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the collected files by their seconds (:data:`FILE_SECONDS`, else estimated from the marks),
    heaviest first (a file keeps its own order)."""
    weight: dict[str, float] = {}
    for item in items:
        seconds = sum(MARK_SECONDS.get(m.name, 0.0) for m in item.iter_markers()) or 0.05
        weight[_file(item)] = weight.get(_file(item), 0.0) + seconds
    for name in weight:
        weight[name] = FILE_SECONDS.get(name.rsplit("/", 1)[-1], weight[name])
    items.sort(key=lambda item: -weight[_file(item)])


#: Free space /dev/shm (RAM) must have for the tests' temporary directories to go there. Every new MLflow
#: SQLite store runs MLflow's migrations, about a hundred commits, each waiting for the disk (fsync): 8.6 s
#: wall for 2.9 s CPU on this VM's disk, 3.8 s in RAM. tests/test_tracking.py + test_train_store.py: 34.6
#: -> 27.0 s wall, the same CPU. Set ANTICIPATE_TEST_TMP=disk (or pass --basetemp) to keep them on disk.
RAM_TMP_MIN_FREE = 4 << 30


def _ram_basetemp() -> Path | None:
    """A directory under /dev/shm for this checkout's test run, or None when /dev/shm is missing, not
    writable or smaller than :data:`RAM_TMP_MIN_FREE` (a container's default is 64 MB)."""
    shm = Path("/dev/shm")
    try:
        free = os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize
    except OSError:
        return None
    if free < RAM_TMP_MIN_FREE or not os.access(shm, os.W_OK):
        return None
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]  # two checkouts' runs never share one
    return shm / f"anticipate-tests-{os.getuid()}-{checkout}"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The run's temporary directories in RAM (:func:`_ram_basetemp`) unless --basetemp or
    ANTICIPATE_TEST_TMP=disk says otherwise; pytest-xdist's workers get subdirectories of it."""
    disk = os.environ.get("ANTICIPATE_TEST_TMP") == "disk"
    if hasattr(config, "workerinput") or config.option.basetemp or disk:
        return
    ram = _ram_basetemp()
    if ram is not None:
        config.option.basetemp = str(ram)
        config.stash[_RAM_TMP] = ram


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that passed gives the RAM its directories back; a failed run's stay for a look (the next run
    clears them, as pytest clears a given --basetemp)."""
    ram = session.config.stash.get(_RAM_TMP, None)
    if ram is not None and exitstatus == 0:
        shutil.rmtree(ram, ignore_errors=True)


_RAM_TMP = pytest.StashKey[Path]()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 90.0) -> None:
    """Poll ``url`` until it answers HTTP 200 or ``timeout`` seconds pass."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def migrated_store(root: Path) -> Path:
    """An empty MLflow SQLite store in ``root`` with every schema migration applied, made by MLflow."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    root.mkdir(parents=True, exist_ok=True)
    SqlAlchemyStore(f"sqlite:///{root / 'empty.db'}", str(root / "artifacts")).engine.dispose()
    return root / "empty.db"


class MlflowServer:
    """A real ``mlflow server`` process (SQLite backend, temp dir, 127.0.0.1, free port)."""

    def __init__(self, workdir: Path, store: Path) -> None:
        self.workdir = workdir
        self.store = store  # a migrated empty store to start from (the server skips ~5 s of migrations)
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MlflowServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.store, self.workdir / "server.db")
        cmd = [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--backend-store-uri", f"sqlite:///{self.workdir / 'server.db'}",
               "--artifacts-destination", str(self.workdir / "artifacts"), "--workers", "1"]
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
        # no GenAI job runners: four fewer processes, each importing MLflow, that nothing here uses
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)
        wait_http(self.uri + "/health")
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        import signal

        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test process's migrated empty MLflow store (copy it; never write to it)."""
    return migrated_store(tmp_path_factory.mktemp("empty-store"))


@pytest.fixture
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Iterator[MlflowServer]:
    """A fresh real MLflow tracking server for one test (on a copy of ``empty_store``), stopped after."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"), empty_store).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside an empty directory (so mlflow.db, mlartifacts, plans land there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


#: What ``mlflow.set_tracking_uri`` / ``set_registry_uri`` write into ``os.environ``: an in-process
#: test that opened a tracker leaves them behind, and a CLI subprocess would inherit them.
MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_SESSION_MLFLOW_URIS = {k: os.environ.get(k) for k in MLFLOW_URI_VARIABLES}


@pytest.fixture(autouse=True)
def _no_mlflow_uri_leaks() -> Iterator[None]:
    """Each test ends with the MLflow URIs the session started with, whatever it (or a fixture) set."""
    saved = _SESSION_MLFLOW_URIS
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None: back to the default
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"] or mlflow.get_tracking_uri())
    for key, value in saved.items():  # set_*_uri write these variables: put back what was there
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``anticipate ARGS`` in a process of its own (forked from a pre-imported interpreter, see
    :mod:`tests.cli_process`) with this process's environment minus the MLflow URIs, plus ``env``."""
    full_env = {k: v for k, v in os.environ.items() if k not in MLFLOW_URI_VARIABLES}
    full_env.update(env or {})
    return run_forked(list(args), cwd, full_env, timeout)


# --------------------------------------------------------------------------- the shared trained world
WORLD_SAMPLE_ARGS = ("--seed", "11", "--customers", "800", "--skus", "60", "--days", "240")
WORLD_DATE = "2024-08-28"  # the day after the world's last order (2024-01-01 + 240 days)
WORLD_LAST_CUTOFF = "2024-08-21"  # the last cutoff whose 7-day horizon lies inside the data
# as small as keeps the assertions meaningful: 4 rolling windows (3 to train on, 1 to validate and
# calibrate on), 40 trees at a learning rate of 0.1 (the validation AUC stays above 0.75)
WORLD_CONFIG = """\
model:
  train_windows: 4
  classifier: {n_estimators: 40, learning_rate: 0.1}
  regressor: {n_estimators: 40, learning_rate: 0.1}
"""


@dataclass(frozen=True)
class TrainedWorld:
    """A sampled world with one trained, registered model promoted to ``production``.

    ``root`` holds ``data/`` (the ``anticipate sample`` output), ``small.yaml`` (:data:`WORLD_CONFIG`),
    ``mlflow.db`` and ``mlartifacts/``; ``train`` is the ``train --json`` result. The session's world
    is shared: a test that writes to it (a run, a plan, a changed table) works on :meth:`copy`.
    """

    root: Path
    train: dict

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "small.yaml"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def args(self, *command: str, config: Path | None = None) -> list[str]:
        """Global options that point a CLI call at this world, then ``command``."""
        return ["--data", str(self.data), "--config", str(config or self.config), "--tracking-uri",
                self.tracking_uri, *command]

    def copy(self, dest: Path) -> TrainedWorld:
        """An independent copy at ``dest`` (milliseconds: a few MB); the store's absolute artifact paths
        are re-pointed at the copy's ``mlartifacts/``, so runs logged to the copy stay in the copy."""
        shutil.copytree(self.root, dest, dirs_exist_ok=True)
        _repoint_store(dest / "mlflow.db", str(self.root), str(dest))
        return TrainedWorld(dest, self.train)


def _repoint_store(db: Path, old: str, new: str) -> None:
    """Replace the path prefix ``old`` by ``new`` in every text column of an MLflow SQLite store."""
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for _, column, kind, *_ in con.execute(f'pragma table_info("{table}")').fetchall():
                if any(t in kind.upper() for t in ("CHAR", "TEXT", "CLOB")):
                    con.execute(f'update "{table}" set "{column}" = replace("{column}", ?, ?) '
                                f'where "{column}" like ?', (old, new, f"%{old}%"))
    con.close()


def build_world(root: Path) -> TrainedWorld:
    """Sample, train and promote the small world in ``root`` through the real CLI, run in ``root`` with
    relative paths and the default store (``sqlite:///mlflow.db``) as a user would."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "small.yaml").write_text(WORLD_CONFIG)
    sampled = run_cli("sample", "--out", "data", *WORLD_SAMPLE_ARGS, "-q", cwd=root)
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    common = ("--data", "data", "--config", "small.yaml", "-q")
    trained = run_cli(*common, "--json", "train", cwd=root)
    assert trained.returncode == 0, trained.stderr[-3000:]
    promoted = run_cli(*common, "promote", "latest", "--alias", "production", cwd=root)
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    return TrainedWorld(root, json.loads(trained.stdout))


def once_per_run(root: Path, build: Callable[[], dict]) -> dict:
    """``build()`` run once per pytest run for ``root``, by whichever pytest-xdist worker asks first.

    The workers of one run share ``root`` (a directory beside their own temporary directories); an
    exclusive lock on ``root.lock`` makes the others wait for the first build, then read the JSON it
    returned (saved as ``root.done.json``).
    """
    import fcntl

    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root.parent / f"{root.name}.done.json"
        if not done.exists():
            done.write_text(json.dumps(build()))
        return dict(json.loads(done.read_text()))


def shared_world(root: Path) -> TrainedWorld:
    """The world in ``root``, trained once however many workers the run has (:func:`once_per_run`)."""
    return TrainedWorld(root, once_per_run(root, lambda: build_world(root).train))


@pytest.fixture(scope="session")
def trained_world(tmp_path_factory: pytest.TempPathFactory) -> TrainedWorld:
    """The session's small trained world (read it; :meth:`TrainedWorld.copy` it to change anything).

    Under pytest-xdist every worker gets the same world, trained once (:func:`shared_world`).
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return build_world(tmp_path_factory.mktemp("trained-world") / "world")
    return shared_world(tmp_path_factory.getbasetemp().parent / "trained-world" / "world")


@pytest.fixture
def world_copy(trained_world: TrainedWorld, tmp_path: Path) -> TrainedWorld:
    """A private copy of the session's trained world for one test."""
    return trained_world.copy(tmp_path / "world")


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Run the test under umask 022 (a usual login umask) and restore the previous one."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def runbook_cron_command(verb: str) -> list[str]:
    """The README runbook's cron line for ``verb``, as arguments after ``anticipate``.

    Cron's ``$(date -u +%F)`` (the UTC date: order times are UTC) becomes the placeholder ``@DATE@`` (one
    argument); a line without ``-u`` keeps its ``$(date ...)``, which no test date replaces.
    """
    import re
    import shlex

    readme = (ROOT / "README.md").read_text()
    runbook = readme[readme.index("## Runbook"):]
    runbook = runbook[: runbook.index("\n## ", 5)]
    [line] = [ln for ln in runbook.splitlines() if ln.lstrip()[:1].isdigit() and f"anticipate {verb} " in ln]
    command = re.sub(r"\$\(date -u \+\\?%F\)", "@DATE@", line.split("&&", 1)[1].split(">>", 1)[0])
    return shlex.split(command)[1:]


def stand_in_model_store(root: Path, *, registered_name: str | None) -> dict[str, str]:
    """A local MLflow store in ``root`` with one logged stand-in model (an echo), registered under
    ``registered_name`` unless None: for registry and promote tests that never load the model.

    Returns ``uri``, ``root``, ``run_id``, ``model_uri`` and ``version`` ("" when unregistered).
    """
    import mlflow.pyfunc
    import pandas as pd

    from anticipate.tracking import Tracker

    class EchoModel(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # the registry needs a model, any model
            return model_input

    uri = f"sqlite:///{root / 'mlflow.db'}"
    tracker = Tracker(uri, artifact_location=str(root / "mlartifacts"), quiet=True)
    example = pd.DataFrame({"a": [1.0, 2.0]})
    with tracker.run("train") as run:
        version, model_uri = tracker.log_model(run, EchoModel(), input_example=example,
                                               output_example=example, registered_name=registered_name)
    return {"uri": uri, "root": str(root), "run_id": run.run_id, "model_uri": model_uri,
            "version": str(version or "")}
