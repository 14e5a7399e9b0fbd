"""Tracking against the embedded SQLite store and a real ``mlflow server`` process."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from anticipate.config import Config
from anticipate.errors import ServiceUnavailable
from anticipate.tracking import TAG_COMMAND, TAG_COMMIT, TAG_CUTOFF, TAG_DIGEST, RunReader, Tracker


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
    client = MlflowClient(mlflow_server.uri)
    run = client.get_run(run_id)
    assert run.data.metrics["auc"] == pytest.approx(0.81)
    assert {a.path for a in client.list_artifacts(run_id)} >= {"config.yaml", "metrics.md"}
    assert not (workdir / "mlartifacts").exists()  # artifacts went to the server


def test_unreachable_server_is_exit_3_naming_it() -> None:
    from tests.conftest import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable, match=f"{uri}.*unreachable") as err:
        Tracker(uri)
    assert err.value.exit_code == 3
