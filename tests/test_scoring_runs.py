"""What a run scored with a loaded model records (audit28 leftovers): the task the model was trained
with as its params, not the config's, and which model it was (registry version and train run id), so
``runs compare`` reads what the run did and a run names its model after the alias has moved."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow import MlflowClient

from anticipate.tracking import tags
from tests.conftest import WORLD_DATE, WORLD_LAST_CUTOFF, TrainedWorld, run_cli

#: A config of another task than the world's model (trained at 7 days, lookback 365, families all five).
OTHER_TASK = "time: {horizon_days: 14, lookback_days: 60}\nfeatures: {families: [customer, item]}\n" \
             "model: {train_windows: 4}\n"
#: What the world's model was trained with, as the run params of its task keys.
AS_TRAINED = {"time.horizon_days": "7", "time.lookback_days": "365", "model.item_level": "sku"}


def _json(done: object) -> dict:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _task(world: TrainedWorld, run_id: str) -> dict[str, str]:
    params = MlflowClient(world.tracking_uri).get_run(run_id).data.params
    return {k: params[k] for k in AS_TRAINED}


def test_runs_scored_with_a_model_log_its_task_not_the_configs(world_copy: TrainedWorld,
                                                               tmp_path: Path) -> None:
    """backtest --model, forecast and allocate logged the config's time.horizon_days / lookback_days (14 /
    60 here) although the model's 7 / 365 were used: runs compare then read another task than the one
    scored (evaluate was fixed in audit23). backtest --model also names the model version and run."""
    config = tmp_path / "other.yaml"
    config.write_text(OTHER_TASK)
    run_id = world_copy.train["run_id"]

    def run(*command: str) -> dict:
        return _json(run_cli(*world_copy.args("--json", "-q", *command, config=config), cwd=tmp_path))

    backtest = run("backtest", "--model", "@production", "--cutoffs", WORLD_LAST_CUTOFF, "--out", "bt")
    forecast = run("forecast", "--out", "fc.parquet")
    allocate = run("allocate", "--date", WORLD_DATE)
    for done in (backtest, forecast, allocate):
        assert _task(world_copy, done["run_id"]) == AS_TRAINED, done["command"]
        params = MlflowClient(world_copy.tracking_uri).get_run(done["run_id"]).data.params
        assert params["features.families"] != "['customer', 'item']", done["command"]
    recorded = MlflowClient(world_copy.tracking_uri).get_run(backtest["run_id"]).data.tags
    assert recorded[tags.TAG_MODEL_VERSION] == "1" and recorded[tags.TAG_MODEL_RUN] == run_id
    assert recorded[tags.TAG_MODEL_URI].endswith("@production")
    summary = json.loads((tmp_path / "bt" / "summary.json").read_text())
    assert (summary["model_version"], summary["model_run_id"]) == ("1", run_id)
    assert summary["horizon_days"] == 7 and summary["model"].endswith("@production")


def test_evaluate_names_the_model_version_and_train_run_it_scored(world_copy: TrainedWorld, tmp_path: Path) \
        -> None:
    """evaluate recorded only the URI it was given (``@production`` names another model once the alias
    moves); forecast and allocate runs already carried the version and the train run id."""
    run_id = world_copy.train["run_id"]
    done = _json(run_cli(*world_copy.args("--json", "-q", "evaluate", "--model", "@production"),
                         cwd=tmp_path))
    assert (done["outputs"]["model_version"], done["outputs"]["model_run_id"]) == ("1", run_id)
    run = MlflowClient(world_copy.tracking_uri).get_run(done["run_id"])
    assert run.data.tags[tags.TAG_MODEL_VERSION] == "1" and run.data.tags[tags.TAG_MODEL_RUN] == run_id
    assert run.data.tags[tags.TAG_MODEL_URI] == "models:/anticipate-next-purchase@production"


def test_an_unregistered_models_uri_names_the_run_that_logged_it(tmp_path: Path) -> None:
    """A sweep child's evaluate scores its train's logged, unregistered model (``models:/m-ID``, MLflow 3):
    its run named neither version nor train run (the URI was read as a registered name); the run is
    known (the logged model's source run), the version is not (there is none)."""
    from anticipate.tracking import Tracker
    from tests.conftest import stand_in_model_store

    logged = stand_in_model_store(tmp_path, registered_name=None)
    assert logged["model_uri"].startswith("models:/m-")
    registry = Tracker(logged["uri"], artifact_location=str(tmp_path / "mlartifacts"), quiet=True).registry
    assert registry.model_source(logged["model_uri"]) == {"version": None, "run_id": logged["run_id"]}
    assert registry.model_source("models:/m-0123456789abcdef") == {"version": None, "run_id": None}


def _labelled_model(label: str, move_to: tuple[str, str, str] | None = None) -> object:
    """A stand-in model (an echo labelled ``label``); with ``move_to`` (store URI, name, version) it points
    the alias ``production`` at that version as MLflow loads it: ``anticipate promote`` run while a
    command loads the model."""
    import mlflow.pyfunc

    class Labelled(mlflow.pyfunc.PythonModel):
        def load_context(self, context) -> None:
            if self.move_to is not None:
                uri, name, version = self.move_to
                MlflowClient(uri).set_registered_model_alias(name, "production", version)

        def predict(self, context, model_input, params=None):
            return model_input

    model = Labelled()
    model.label, model.move_to = label, move_to
    return model


def test_a_command_names_the_version_it_loaded_when_the_alias_moves_meanwhile(tmp_path: Path) -> None:
    """audit33B A2: allocate loaded ``models:/NAME@production`` and then read the alias again to name the
    model: a ``promote`` in between (4/4 tries at 0.5 s) planned with version 1 but named version 2 in
    summary.json and the run's tags. The alias is read once, pinned to its version and loaded by it."""
    import pandas as pd

    from anticipate.config import Config
    from anticipate.pipelines import Settings
    from anticipate.pipelines._common import load_with_source
    from anticipate.tracking import Tracker

    cfg = Config()
    name, uri = cfg.model.registered_name, f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, artifact_location=str(tmp_path / "mlartifacts"), quiet=True)
    example = pd.DataFrame({"a": [1.0, 2.0]})
    runs = []
    for model in (_labelled_model("one", move_to=(uri, name, "2")), _labelled_model("two")):
        with tracker.run("train") as run:
            tracker.log_model(run, model, input_example=example, output_example=example, registered_name=name)
        runs.append(run.run_id)
    tracker.set_alias(name, "production", "1")
    settings = Settings(cfg=cfg, data_dir=tmp_path, tracking_uri=uri, verbosity=-1, progress=False)
    loaded, shown, source = load_with_source(settings, None, default_alias="production")
    assert tracker.registry.alias_version(name, "production") == "2"  # promoted while loading
    assert loaded.label == "one" and source == {"version": "1", "run_id": runs[0]}
    assert shown == f"models:/{name}@production"  # the URI as resolved, the version beside it
