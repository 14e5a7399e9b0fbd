"""What ``experiment run`` records and says (audit28 leftovers): a sweep over the task (horizon, lookback,
item level) names no best child, and every child run records the data it ran on.

The children's train and evaluate are stand-ins (:class:`~anticipate.pipelines.experiment.Steps` is how
the sweep is handed them), so these tests run the sweep's own code on a real MLflow store in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from anticipate.config import load_config
from anticipate.pipelines import Result, Settings
from anticipate.pipelines.experiment import Steps, run_experiment
from anticipate.storage.files import data_dir_digest
from anticipate.tracking import tags


def _steps() -> Steps:
    """A train and an evaluate whose scores grow with the child's lookback (a longer lookback adds the easy
    long-lapsed pairs: audit28 f05) and its classifier's leaves."""

    def score(settings: Settings) -> float:
        cfg = settings.cfg
        return 0.5 + cfg.time.lookback_days / 1000 + cfg.model.classifier.num_leaves / 10_000

    def train(settings: Settings, *, parent_run_id: str, register: bool) -> Result:
        return Result("train", metrics={"val.auc": score(settings)}, outputs={"model_uri": "runs:/x/model"})

    def evaluate(settings: Settings, *, model: str, parent_run_id: str) -> Result:
        return Result("evaluate", metrics={"auc": score(settings) - 0.01}, extra={"cutoff": "2024-08-21"})

    return Steps(train=train, evaluate=evaluate)


@pytest.fixture
def sweep(tmp_path: Path, workdir: Path) -> Any:
    """Run a sweep over ``grid`` (YAML flow text) on a stand-in data directory; returns its Result."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.parquet").write_bytes(b"orders")
    settings = Settings(cfg=load_config(None), data_dir=data, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                        progress=False)

    def run(name: str, grid: str) -> tuple[Result, Settings]:
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(f"name: {name}\nmetric: auc\ngrid: {grid}\n")
        return run_experiment(settings, spec_path=spec, steps=_steps()), settings

    return run


def _runs(settings: Settings, command: str, parent: str | None = None) -> list[Any]:
    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("anticipate").experiment_id
    query = tags.all_of(tags.command_is(command), tags.children_of(parent) if parent else None)
    return client.search_runs([experiment], query)


def test_a_lookback_sweep_names_no_best_child_and_says_why(sweep: Any) -> None:
    """audit28: a horizon / lookback sweep still printed '<- best' next to the child with the longest
    lookback (its auc over other, easier pairs), with a warning; runs compare named no winner for them."""
    result, settings = sweep("lb", "{time.lookback_days: [60, 730]}")
    doc = result.to_json()
    assert "<- best" not in result.text
    assert result.text.splitlines()[1].startswith("scored on val.auc")
    reason = ("no best child: the sweep varies time.lookback_days, which decides which pairs are scored or "
              "their label, so each child's val.auc is over other pairs")
    assert result.text.splitlines()[-1].startswith(reason)
    assert doc["best_run_id"] is None and doc["no_best_reason"].startswith(reason)
    assert "best_run_id" not in doc["outputs"] and not any(k.startswith("best.") for k in doc["metrics"])
    [parent] = _runs(settings, "experiment")
    assert not any(k.startswith("best.") for k in parent.data.metrics)
    for grid in ("{time.horizon_days: [7, 14]}", "{model.item_level: [sku, category]}"):
        assert "<- best" not in sweep("task", grid)[0].text

    named, _ = sweep("leaves", "{model.classifier.num_leaves: [7, 63]}")  # one task: a best is named
    assert named.text.count("<- best") == 1 and named.to_json()["no_best_reason"] is None
    assert named.outputs["best_run_id"] == named.to_json()["best_run_id"]


def test_every_child_run_records_the_data_digest(sweep: Any) -> None:
    """audit28: experiment-child runs recorded no anticipate.data_digest and no dataset input (their train
    and evaluate runs did), so a child compared with another sweep's child could not tell their data."""
    _, settings = sweep("leaves", "{model.classifier.num_leaves: [7, 63]}")
    digest = data_dir_digest(settings.data_dir)
    [parent] = _runs(settings, "experiment")
    children = _runs(settings, "experiment-child", parent.info.run_id)
    assert len(children) == 3
    for run in [parent, *children]:
        assert run.data.tags[tags.TAG_DIGEST] == digest, run.data.tags.get("mlflow.runName")
        [dataset] = run.inputs.dataset_inputs
        assert dataset.dataset.digest == digest[:36]


def test_a_sweep_over_a_whole_section_is_checked_as_the_dotted_keys_it_sets(
    sweep: Any, tmp_path: Path
) -> None:
    """audit31 A: a sweep key that is a whole section (``time: [{horizon_days: 3}, {horizon_days: 14}]``, or
    a random space over ``model: [{item_level: sku}, {item_level: category}]``) named a best child across
    tasks (exit 0, best_run_id set, no_best_reason null): only dotted keys were matched against the task
    keys. Its values' leaves are the keys it varies, and they are checked as dotted keys are."""
    from anticipate.errors import ConfigError
    from anticipate.pipelines.experiment import load_spec
    from anticipate.sweep import varied_keys

    result, _ = sweep("time", "{time: [{horizon_days: 3, lookback_days: 365}, {horizon_days: 14}]}")
    doc = result.to_json()
    assert "<- best" not in result.text and doc["best_run_id"] is None
    assert doc["no_best_reason"].startswith("no best child: the sweep varies time.horizon_days, "
                                            "time.lookback_days, which decides")
    spec = tmp_path / "random.yaml"
    spec.write_text("name: r\nmetric: auc\nrandom: {trials: 2, seed: 1, space: "
                    "{model: [{item_level: sku}, {item_level: category}]}}\n")
    assert varied_keys(load_spec(spec)) == ["model.item_level"]
    named, _ = sweep("leaves", "{model: [{classifier: {num_leaves: 7}}, {classifier: {num_leaves: 63}}]}")
    assert named.text.count("<- best") == 1 and named.to_json()["no_best_reason"] is None
    for section, key in (("model", "registered_name"), ("forecast", "dispersion")):
        spec.write_text(f"name: s\ngrid:\n  {section}: [{{{key}: x}}]\n")
        with pytest.raises(ConfigError, match=rf"key 'grid.{section}' \(it sets {section}.{key}\): .* never "
                                               rf"read {section}.{key}"):
            load_spec(spec)
    with pytest.raises(ConfigError, match=r"model\.item_levl"):  # an unknown key, as model.item_levl is
        sweep("typo", "{model: [{item_levl: sku}]}")
