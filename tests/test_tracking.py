"""Tracking against the embedded SQLite store and a real ``mlflow server`` process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow import MlflowClient

from anticipate.config import Config
from anticipate.errors import ServiceUnavailable, UsageError
from anticipate.tracking import TAG_COMMAND, TAG_COMMIT, TAG_CUTOFF, TAG_DIGEST, RunReader, Tracker
from tests.conftest import stand_in_model_store


def _one_run(tracker: Tracker) -> str:
    with tracker.run("evaluate", cfg=Config(), cutoff="2025-03-01", data_digest="d" * 64,
                     data_source="data/sample") as run:
        run.log_metrics({"auc": 0.81, "skipped": float("nan")})
        run.log_text("| a |\n", "metrics.md")
    return run.run_id


def test_local_store_run_has_contract_tags_params_and_dataset(workdir: Path) -> None:
    tracker = Tracker("sqlite:///mlflow.db")
    run_id = _one_run(tracker)
    run = MlflowClient("sqlite:///mlflow.db").get_run(run_id)
    assert run.data.tags[TAG_COMMAND] == "evaluate"
    assert run.data.tags[TAG_CUTOFF] == "2025-03-01"
    assert run.data.tags[TAG_DIGEST] == "d" * 64
    assert TAG_COMMIT in run.data.tags
    assert run.data.params["time.horizon_days"] == "7"
    assert run.data.metrics == {"auc": 0.81}  # NaN is not logged
    assert run.inputs.dataset_inputs[0].dataset.digest == ("d" * 64)[:36]
    assert (workdir / "mlartifacts" / run_id / "artifacts" / "config.yaml").is_file() or any(
        p.name == "config.yaml" for p in (workdir / "mlartifacts").rglob("config.yaml"))


def test_failed_block_marks_run_failed(workdir: Path) -> None:
    tracker = Tracker("sqlite:///mlflow.db")
    with pytest.raises(RuntimeError), tracker.run("train") as run:
        raise RuntimeError("boom")
    assert tracker.client.get_run(run.run_id).info.status == "FAILED"


def test_unknown_run_id_is_a_usage_error(workdir: Path) -> None:
    from anticipate.errors import UsageError

    with pytest.raises(UsageError, match="unknown run id"):
        RunReader(Tracker("sqlite:///mlflow.db")).get("0" * 32)


@pytest.mark.server
def test_real_server_round_trip(mlflow_server, workdir: Path) -> None:
    tracker = Tracker(mlflow_server.uri)
    run_id = _one_run(tracker)
    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    run = client.get_run(run_id)
    assert run.data.metrics["auc"] == pytest.approx(0.81)
    assert {a.path for a in client.list_artifacts(run_id)} >= {"config.yaml", "metrics.md"}
    assert not (workdir / "mlartifacts").exists()  # artifacts went to the server
    # audit24 #6: a path the server does not serve (a proxy prefix) was exit 1 with MLflow's raw HTML 404
    with pytest.raises(UsageError, match=r"/mlflow \(from the option --tracking-uri\) is wrong: the server "
                       rf"there answered HTTP 404 .*use the server's root, e\.g\. {mlflow_server.uri} "):
        Tracker(mlflow_server.uri + "/mlflow", source="the option --tracking-uri")
    # ... but a proxy that routes only /api/ to the server is not refused: the API answers there
    from anticipate.tracking.store import _api_answers

    assert _api_answers(mlflow_server.uri, 5.0) and not _api_answers(mlflow_server.uri + "/mlflow", 5.0)


@pytest.mark.parametrize(("uri", "said"), [
    ("htp://127.0.0.1:5077", "has the scheme 'htp:', which anticipate cannot track to"),
    ("http:/127.0.0.1:5077", "names no host: it must be http://HOST:PORT (two slashes)"),
    ("https://:5000", "names no host"),
    ("http://127.0.0.1:port", "is no URI"),
    ("databricks", "names a Databricks workspace, which anticipate cannot track to"),
    ("sqlite://mlflow.db", "is not an SQLite file URI: use sqlite:///mlflow.db (three slashes"),
    ("sqlite:///mlflow.db ", "begins or ends with white space, which would name another store; remove it"),
    # audit31 B5: the store checks (a file to write, ':memory:' refused) read sqlite:/// only
    ("sqlite+pysqlite:///:memory:", "names an SQLite driver: anticipate's local store is written sqlite:///PATH"),
])
def test_a_tracking_uri_of_no_usable_form_is_refused_before_opening(uri: str, said: str) -> None:
    from anticipate.tracking.store import check_uri_form

    with pytest.raises(UsageError, match=re.escape(f"{uri!r} (from the config key tracking.uri) {said}")):
        check_uri_form(uri, "the config key tracking.uri")


@pytest.mark.parametrize("uri", ["sqlite:///mlflow.db", "sqlite:////abs/mlflow.db", "http://127.0.0.1:5000",
                                 "https://mlflow.example.org/prefix", "postgresql+psycopg2://u@db:5432/mlflow"])
def test_usable_tracking_uris_pass_the_form_check(uri: str) -> None:
    from anticipate.tracking.store import check_uri_form

    check_uri_form(uri, "the option --tracking-uri")


def test_unreachable_server_is_exit_3_naming_it() -> None:
    from tests.conftest import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable, match=f"{uri}.*unreachable") as err:
        Tracker(uri)
    assert err.value.exit_code == 3


# --------------------------------------------------------------------------- the package's contract
def test_importing_the_package_changes_no_global_state(tmp_path: Path) -> None:
    """No environment variable and no MLflow URI may change because anticipate.tracking was imported."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, os, mlflow\n"
        "env0, uri0, reg0 = dict(os.environ), mlflow.get_tracking_uri(), mlflow.get_registry_uri()\n"
        "import importlib, pkgutil, anticipate.tracking\n"
        "from anticipate.tracking import Tracker, RunReader, NextPurchasePyfunc, service_errors\n"
        "for m in pkgutil.iter_modules(getattr(anticipate.tracking, '__path__', [])):\n"
        "    importlib.import_module('anticipate.tracking.' + m.name)\n"
        "env1 = dict(os.environ)\n"
        "changed = sorted(k for k in set(env0) | set(env1) if env0.get(k) != env1.get(k))\n"
        "print(json.dumps({'env': changed, 'uri': [uri0, mlflow.get_tracking_uri()],\n"
        "                  'reg': [reg0, mlflow.get_registry_uri()]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GIT_PYTHON"))}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["env"] == []
    assert seen["uri"][0] == seen["uri"][1] and seen["reg"][0] == seen["reg"][1]


def test_a_run_handle_logs_to_its_own_run_not_the_newest(workdir: Path) -> None:
    tracker = Tracker("sqlite:///mlflow.db")
    with tracker.run("backtest") as parent:
        child_run = tracker.run("backtest-cutoff", parent_run_id=parent.run_id)
        with child_run as child:
            parent.log_metrics({"overall": 1.0})  # while the child is the newest open run
            parent.set_tags({"who": "parent"})
            child.log_metrics({"per_cutoff": 2.0})
    got_parent = tracker.client.get_run(parent.run_id)
    got_child = tracker.client.get_run(child.run_id)
    assert got_parent.data.metrics == {"overall": 1.0} and got_parent.data.tags["who"] == "parent"
    assert got_child.data.metrics == {"per_cutoff": 2.0} and "who" not in got_child.data.tags
    assert got_child.data.tags["mlflow.parentRunId"] == parent.run_id
    assert got_parent.info.status == got_child.info.status == "FINISHED"


def test_the_first_run_starts_when_the_command_did(workdir: Path) -> None:
    """A pipeline opens its run after the work: the first run starts at the command's start."""
    import time

    from anticipate.tracking.runs import now_ms

    started = now_ms() - 55_000
    tracker = Tracker("sqlite:///mlflow.db", started_ms=started)
    with tracker.run("train") as first:
        pass
    with tracker.run("train") as second:
        pass
    reader = RunReader(tracker)
    assert reader.get(first.run_id).start_ms == started
    assert reader.get(first.run_id).duration_s >= 55.0
    assert reader.get(second.run_id).start_ms > started + 50_000
    assert reader.get(second.run_id).duration_s < time.time() - started / 1000


# --------------------------------------------------------------------------- errors by type and status
def _raise_chained(outer: Exception, inner: Exception) -> None:
    try:
        raise inner
    except Exception:
        raise outer  # noqa: B904 - the implicit chain is what MLflow's REST client leaves


def test_a_connection_failure_is_found_by_type_in_the_cause_chain() -> None:
    import requests
    from mlflow.exceptions import MlflowException

    from anticipate.tracking import service_errors

    lost = pytest.raises(ServiceUnavailable, match="lost the MLflow tracking server at http://h:1")
    with lost as err, service_errors("http://h:1", "logging"):
        _raise_chained(MlflowException("request failed"), requests.ConnectionError("refused"))
    assert err.value.exit_code == 3


def test_server_5xx_is_unavailable_but_4xx_and_local_errors_pass_through() -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE

    from anticipate.tracking import service_errors

    with pytest.raises(ServiceUnavailable, match="HTTP 503"), service_errors("http://h:1", "reading"):
        raise MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE)
    with pytest.raises(MlflowException), service_errors("http://h:1", "reading"):
        raise MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST)
    with pytest.raises(MlflowException), service_errors("sqlite:///m.db", "reading"):
        raise MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE)


def test_a_store_race_is_recognised_by_type_and_retried() -> None:
    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException

    from anticipate.tracking import retry_on_store_race

    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 2:
            _raise_chained(MlflowException("could not create"),
                           sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("UNIQUE")))
        return "ok"

    assert retry_on_store_race(flaky) == "ok" and len(calls) == 2
    with pytest.raises(ValueError):
        retry_on_store_race(lambda: (_ for _ in ()).throw(ValueError("not a race")))


# --------------------------------------------------------------------------- registry
@pytest.fixture(scope="module")
def logged_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A store with one logged (unregistered) model; registering it again is cheap."""
    return stand_in_model_store(tmp_path_factory.mktemp("registry"), registered_name=None)


def test_quiet_registry_swallows_mlflow_registration_lines(logged_model: dict[str, str],
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    from anticipate.tracking import Registry

    tracker = Tracker(logged_model["uri"])
    capfd.readouterr()
    Registry(tracker.client, logged_model["uri"], quiet=False).register(logged_model["model_uri"], "loud")
    loud = capfd.readouterr()
    assert "Created version" in loud.err + loud.out  # what -q must hide is really printed
    version = Registry(tracker.client, logged_model["uri"], quiet=True).register(
        logged_model["model_uri"], "hushed")
    quiet = capfd.readouterr()
    assert version == "1"
    assert "registered" not in (quiet.err + quiet.out).lower()
    assert "Created version" not in quiet.err + quiet.out


def test_version_for_accepts_versions_latest_and_run_prefixes(logged_model: dict[str, str]) -> None:
    from anticipate.errors import UsageError

    tracker = Tracker(logged_model["uri"], quiet=True)
    registry = tracker.registry
    registry.register(logged_model["model_uri"], "vf")
    registry.register(logged_model["model_uri"], "vf")
    assert registry.version_for("vf", "1") == "1"
    assert registry.version_for("vf", "latest") == "2"
    assert registry.version_for("vf", logged_model["run_id"][:8]) == "2"
    missing = r"no version 99 in the tracking store \S+ \(registered versions: 1, 2\)"
    with pytest.raises(UsageError, match=missing):
        registry.version_for("vf", "99")
    with pytest.raises(UsageError, match="not a version number"):
        registry.version_for("vf", "prod!")
    resolved = registry.resolve_model_uri(f"runs:/{logged_model['run_id'][:8]}/model", name="vf",
                                          default_alias=None)
    assert resolved == f"runs:/{logged_model['run_id']}/model"
    for bare in (f"runs:/{logged_model['run_id']}", f"runs:/{logged_model['run_id'][:8]}/"):
        # was exit 3 with MLflow's "Not a proper runs:/ URI" / "no MLmodel file at /tmp/..."
        with pytest.raises(UsageError, match=r"names a run, not a model in it: .*--model runs:/\w+/model"):
            registry.resolve_model_uri(bare, name="vf", default_alias=None)


def test_a_logged_model_pins_its_requirements_lightgbm_included(logged_model: dict[str, str]) -> None:
    from importlib.metadata import version
    from urllib.parse import urlparse

    model_id = logged_model["model_uri"].rsplit("/", 1)[-1]  # models:/m-...: a logged model's id
    location = MlflowClient(logged_model["uri"]).get_logged_model(model_id).artifact_location
    lines = (Path(urlparse(location).path) / "requirements.txt").read_text().split()
    assert f"lightgbm=={version('lightgbm')}" in lines
    assert f"scikit-learn=={version('scikit-learn')}" in lines
    assert all("==" in line for line in lines)


def test_a_logged_model_lives_beside_its_runs_artifacts_not_in_the_cwds_mlruns(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """audit21 #3: MLflow 3 filed every model under the Default experiment's ./mlruns of the directory the
    store was made in; a backup of mlflow.db + mlartifacts lost them all."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    stand_in_model_store(tmp_path, registered_name=None)
    assert not (elsewhere / "mlruns").exists()
    assert list((tmp_path / "mlartifacts").rglob("MLmodel"))


def test_a_copied_store_says_it_files_into_the_original_and_names_missing_model_files(
        trained_world, tmp_path: Path) -> None:
    """audit22 #7: a copied mlflow.db + mlartifacts kept writing its runs into the original's
    mlartifacts in silence, and with that directory gone 'allocate' said 'No such artifact: ''; run
    promote' although the alias existed."""
    import shutil

    from tests.conftest import run_cli

    original = trained_world.copy(tmp_path / "original")  # a private original (its own paths)
    shutil.copytree(original.root, tmp_path / "copy")  # then copied as a user would, paths unchanged
    copy = tmp_path / "copy"
    args = ("--data", str(copy / "data"), "--config", str(copy / "small.yaml"), "--tracking-uri",
            "sqlite:///mlflow.db", "forecast", "--out", "f.parquet")
    done = run_cli(*args, cwd=copy)
    said = " ".join(done.stderr.split())
    assert done.returncode == 0, said
    home = (original.root / "mlartifacts").resolve()
    assert (f"the tracking store sqlite:///mlflow.db files its artifacts and models under {home}, outside "
            f"the store's directory {copy.resolve()}") in said
    shutil.move(original.root / "mlartifacts", tmp_path / "elsewhere")
    done = run_cli(*args, cwd=copy)
    said = " ".join(done.stderr.split())
    assert done.returncode == 3 and "(which no longer exists)" in said, said
    assert (f"cannot load model models:/anticipate-next-purchase@production (tracking store sqlite:///mlflow.db):"
            f" its files are missing at {home}/") in said
    assert "promote VERSION" not in said
    done = run_cli("--data", str(original.root / "data"), "--config", str(original.root / "small.yaml"),
                   "--tracking-uri", "sqlite:///mlflow.db", "runs", "list", cwd=original.root)
    assert "outside the store's directory" not in done.stderr  # a store at home says nothing
