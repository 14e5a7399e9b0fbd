"""What a night's plan says it was built from, and a data directory published anew while a command reads it
(audit24 #2); a night planned before its date has begun in UTC (audit24 #3); what the night says of a plan
directory it cannot clean (audit24 #7)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from anticipate.cli import main
from anticipate.config import ComputeConfig
from anticipate.errors import DataChanged
from anticipate.storage.files import file_digest, load_dataset
from tests.conftest import WORLD_DATE, TrainedWorld


def republish(data: Path) -> str:
    """What ``ingest --append`` does to ``data``: a new directory, with other orders, renamed into place
    (the old one renamed aside and deleted). Returns the new ``orders.parquet``'s digest."""
    stage = data.parent / ".data.stage"
    shutil.copytree(data, stage)
    orders = pd.read_parquet(stage / "orders.parquet")
    orders.iloc[: len(orders) // 2].to_parquet(stage / "orders.parquet", index=False)
    shutil.rmtree(stage / "orders", ignore_errors=True)  # a local ingest drops a Dask layout
    os.replace(data, data.parent / ".data.old")
    os.replace(stage, data)
    shutil.rmtree(data.parent / ".data.old")
    return file_digest(data / "orders.parquet")


def test_summary_names_the_data_loaded_not_the_data_there_at_publish(
    world_copy: TrainedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """summary.json hashed the data directory again at publish time: after a re-ingest during the night it
    named orders the plan was not built from, and disagreed with the MLflow tag anticipate.data_digest."""
    import anticipate.pipelines.plan as plan_module

    loaded = {f"{t}.parquet": file_digest(world_copy.data / f"{t}.parquet")
              for t in ("orders", "products", "regions", "warehouses", "supply")}
    forecast, swapped = plan_module.compute_forecast, []

    def forecast_then_reingest(*args, **kwargs):  # the night is at stage [2/5] when the ingest lands
        swapped.append(republish(world_copy.data))
        return forecast(*args, **kwargs)

    monkeypatch.setattr(plan_module, "compute_forecast", forecast_then_reingest)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, world_copy.args("--json", "-q", "allocate", "--date", WORLD_DATE))
    assert result.exit_code == 0, result.output[-3000:]
    summary = json.loads((tmp_path / "plans" / WORLD_DATE / "summary.json").read_text())
    assert swapped and swapped[0] != loaded["orders.parquet"]
    assert summary["inputs"] == loaded


def test_load_dataset_hashes_the_bytes_it_read_and_notices_a_republished_directory(
    trained_world: TrainedWorld, tmp_path: Path
) -> None:
    """On a Dask data directory re-ingested by a local ingest (orders/ removed) the night's workers found no
    layout and the client's order_ts-only orders were split: "KeyError: 'customer_id' ... This is a bug"."""
    data = Path(shutil.copytree(trained_world.data, tmp_path / "data"))
    before = file_digest(data / "orders.parquet")
    ds = load_dataset(data, order_columns=["order_ts"])
    assert ds.files["orders.parquet"] == before and len(ds.files) == 5
    republish(data)
    with pytest.raises(DataChanged, match=r"changed while this command ran.*re-run the command") as caught:
        from anticipate.distributed.cluster import orders_on_cluster

        orders_on_cluster(None, ComputeConfig(engine="dask"), ds)  # before any worker reads the new data
    assert caught.value.exit_code == 75


def test_an_old_plan_that_cannot_be_deleted_is_named_in_a_warning(
    world_copy: TrainedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The night exited 0 and left plans/.DATE.old-PID behind without a word (audit24 #7)."""
    import anticipate.storage.publish as publish

    rmtree = shutil.rmtree

    def cannot_delete_old(path, *args, **kwargs):  # an old plan owned by another user
        if ".old-" not in Path(path).name:
            rmtree(path, *args, **kwargs)

    monkeypatch.setattr(publish.shutil, "rmtree", cannot_delete_old)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plans" / WORLD_DATE).mkdir(parents=True)  # the previous plan (empty will do)
    result = CliRunner().invoke(main, world_copy.args("--json", "-q", "allocate", "--date", WORLD_DATE))
    assert result.exit_code == 0, result.output[-3000:]
    [old] = (tmp_path / "plans").glob(f".{WORLD_DATE}.old-*")
    doc = json.loads(result.stdout)
    assert any(str(old.name) in w and "delete it by hand" in w for w in doc["warnings"]), doc["warnings"]


def test_a_night_whose_date_has_not_begun_in_utc_says_so_in_summary_and_warnings(
    world_copy: TrainedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`allocate --date $(date +%F)` from cron in Tokyo at 02:15: D 00:00 UTC is 6.75 h away and the last UTC
    day of orders still going on; the night was quiet about it (audit24 #3). The clock is the command's
    start (Settings.started_at), injected here. The export ends the day before that UTC day (the world's
    last order is on WORLD_DATE - 1), so the day has no line at all: said plainly, not "may be incomplete"
    (audit h27 #3)."""
    from anticipate.config import load_config
    from anticipate.pipelines import Settings
    from anticipate.pipelines.plan import run_allocate

    monkeypatch.chdir(tmp_path)
    date = (pd.Timestamp(WORLD_DATE) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")  # 1 day stale: allowed
    tokyo_0215 = pd.Timestamp(f"{date} 02:15", tz="Asia/Tokyo").timestamp()
    settings = Settings(cfg=load_config(world_copy.config), data_dir=world_copy.data,
                        tracking_uri=world_copy.tracking_uri, progress=False, started_at=tokyo_0215)
    result = run_allocate(settings, date=date)
    said = [w for w in result.warnings if "starts in 6.8 h UTC" in w]
    assert len(said) == 1 and "`date -u +%F`" in said[0], result.warnings
    assert f"the orders hold no order line on {WORLD_DATE}, which has not ended in UTC" in said[0]
    summary = json.loads((tmp_path / "plans" / date / "summary.json").read_text())
    assert said[0] in summary["input_warnings"]


def test_a_plan_names_the_model_version_it_was_made_with_and_warns_when_the_model_saw_its_future(
    world_copy: TrainedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """audit28: summary.json and the allocate run recorded only models:/NAME@production, which names
    another model once the alias moves; and a plan dated inside the model's training period (the model
    has seen the plan's future) was published without a word. forecast too."""
    from mlflow import MlflowClient

    from anticipate.tracking import tags

    monkeypatch.chdir(tmp_path)
    run_id = world_copy.train["run_id"]
    date = "2024-08-15"  # before the model's training end (2024-08-21): the model saw this night's future
    result = CliRunner().invoke(main, world_copy.args("--json", "-q", "allocate", "--date", date))
    assert result.exit_code == 0, result.output[-3000:]
    summary = json.loads((tmp_path / "plans" / date / "summary.json").read_text())
    assert (summary["model_version"], summary["model_run_id"]) == ("1", run_id)
    seen = [w for w in summary["input_warnings"] if w.startswith(f"IN-SAMPLE: plan date {date}")]
    assert len(seen) == 1 and "seen the future" in seen[0] and "--date 2024-08-21 or later" in seen[0]
    assert seen[0] in json.loads(result.stdout)["warnings"] and f"warning: {seen[0]}" in result.stderr
    run = MlflowClient(world_copy.tracking_uri).get_run(json.loads(result.stdout)["run_id"])
    assert run.data.tags[tags.TAG_MODEL_VERSION] == "1" and run.data.tags[tags.TAG_MODEL_RUN] == run_id
    assert run.data.tags[tags.TAG_IN_SAMPLE] == "true"  # audit29 B2: runs list showed in_sample False

    out = tmp_path / "fc.parquet"
    done = CliRunner().invoke(main, world_copy.args("--json", "-q", "forecast", "--cutoff", date,
                                                    "--out", str(out)))
    assert done.exit_code == 0, done.output[-3000:]
    doc = json.loads(done.stdout)
    assert (doc["outputs"]["model_version"], doc["outputs"]["model_run_id"]) == ("1", run_id)
    assert any(w.startswith(f"IN-SAMPLE: cutoff {date}") for w in doc["warnings"]), doc["warnings"]
    run = MlflowClient(world_copy.tracking_uri).get_run(doc["run_id"])
    assert run.data.tags[tags.TAG_MODEL_VERSION] == "1" and run.data.tags[tags.TAG_IN_SAMPLE] == "true"

    later = CliRunner().invoke(main, world_copy.args("--json", "-q", "allocate", "--date", WORLD_DATE))
    assert later.exit_code == 0, later.output[-3000:]
    assert not any("IN-SAMPLE" in w for w in json.loads(later.stdout).get("warnings", []))
    later_run = MlflowClient(world_copy.tracking_uri).get_run(json.loads(later.stdout)["run_id"])
    assert later_run.data.tags[tags.TAG_IN_SAMPLE] == "false"
    listed = CliRunner().invoke(main, world_copy.args("--json", "runs", "list", "--command", "allocate"))
    marks = {r["run_id"]: r["in_sample"] for r in json.loads(listed.stdout)["runs"]}
    assert marks[later_run.info.run_id] is False
    assert marks[json.loads(result.stdout)["run_id"]] is True


def test_the_notes_on_where_settings_came_from_reach_summary_json_and_the_json_error(
    world_copy: TrainedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """audit29 C3: MLFLOW_TRACKING_URI beating --config's tracking.uri was said on stderr only: the night's
    summary.json and a failing command's --json error object (where it may be the cause) lacked it."""
    night = tmp_path / "night.yaml"
    night.write_text(world_copy.config.read_text() + f"tracking:\n  uri: sqlite:///{tmp_path / 'other.db'}\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", world_copy.tracking_uri)
    monkeypatch.chdir(tmp_path)
    args = ["--json", "-q", "--data", str(world_copy.data), "--config", str(night)]
    done = CliRunner().invoke(main, [*args, "allocate", "--date", WORLD_DATE])
    assert done.exit_code == 0, done.output[-3000:]
    summary = json.loads((tmp_path / "plans" / WORLD_DATE / "summary.json").read_text())
    [note] = [w for w in summary["input_warnings"] if "the variable wins" in w]
    assert world_copy.tracking_uri in note
    failed = CliRunner().invoke(main, [*args, "evaluate", "--model", "99"])
    assert failed.exit_code != 0
    error = json.loads(failed.stdout.strip().splitlines()[-1])
    assert error["status"] == "error" and note in error["warnings"]
