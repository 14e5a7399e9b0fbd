"""audit28 F09: a model says which data it was trained on, and a command scoring other data says so.

The README tour ingests a shop into data/shop and then runs ``train`` without ``--data``, which trained on
data/sample in silence; a model trained on one shop scored another's without a word.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from mlflow import MlflowClient

from anticipate.models.scoring import data_warnings
from anticipate.pipelines.model import _train_text
from anticipate.storage.files import load_dataset
from anticipate.tracking import tags
from tests.conftest import TrainedWorld, run_cli


def test_train_records_its_data_directory_on_the_model_and_the_run(trained_world: TrainedWorld) -> None:
    run = MlflowClient(trained_world.tracking_uri).get_run(trained_world.train["run_id"])
    assert run.data.tags[tags.TAG_DATA_DIR] == str(trained_world.data.resolve())
    assert Path(trained_world.train["outputs"]["data_dir"]) == Path("data")  # as given, relative to the cwd
    fit = SimpleNamespace(train=[0] * 10, val=[0] * 5, meta={"train_cutoffs": ["2024-01-01", "2024-01-08"]})
    text = _train_text("r1", "models:/m/1", {}, fit, "next", Path("data/sample"))  # type: ignore[arg-type]
    assert text.startswith("trained on data/sample: 10 pairs")


def test_scoring_other_data_warns_naming_both_directories(
    trained_world: TrainedWorld, world_copy: TrainedWorld, tmp_path: Path
) -> None:
    other = tmp_path / "other"  # another shop: the same tables with the orders of half the customers
    shutil.copytree(world_copy.data, other)
    orders = pd.read_parquet(other / "orders.parquet")
    keep = orders["customer_id"].astype(str).str[-1].isin(list("02468"))
    orders[keep].to_parquet(other / "orders.parquet", index=False)
    shutil.rmtree(other / "orders", ignore_errors=True)
    args = world_copy.args("--json", "predict", "--out", str(tmp_path / "p.parquet"))
    args[args.index("--data") + 1] = str(other)
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    trained = str(trained_world.data.resolve())  # the model's: the session world's, of which this is a copy
    said = [w for w in json.loads(done.stdout)["warnings"] if w.startswith("the model was trained on")]
    assert len(said) == 1 and f"but this command reads {other.resolve()}" in said[0], said
    assert trained in said[0] and f"warning: {said[0]}" in done.stderr
    # the copy of the training data (world_copy.data, same digest) is the same data: no warning
    meta = {"data_dir": "/elsewhere/data", "data_digest": load_dataset(world_copy.data).digest}
    assert data_warnings(meta, load_dataset(world_copy.data)) == []
    assert data_warnings({}, load_dataset(other)) == []  # a model from before the keys were recorded
    assert len(data_warnings({**meta, "data_digest": "0" * 64}, load_dataset(other))) == 1


def test_backtest_with_a_fixed_model_on_other_data_warns_too(world_copy: TrainedWorld,
                                                            tmp_path: Path) -> None:
    """audit29 B3: evaluate, predict, forecast and allocate warned; backtest --model said not a word."""
    from tests.conftest import WORLD_LAST_CUTOFF

    other = tmp_path / "other"
    shutil.copytree(world_copy.data, other)
    orders = pd.read_parquet(other / "orders.parquet")
    orders[orders["customer_id"].astype(str).str[-1] != "1"].to_parquet(other / "orders.parquet", index=False)
    shutil.rmtree(other / "orders", ignore_errors=True)
    args = world_copy.args("--json", "-q", "backtest", "--model", "1", "--cutoffs", WORLD_LAST_CUTOFF,
                           "--out", str(tmp_path / "bt"))
    args[args.index("--data") + 1] = str(other)
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    said = [w for w in json.loads(done.stdout)["warnings"] if w.startswith("the model was trained on")]
    assert len(said) == 1 and f"but this command reads {other.resolve()}" in said[0], said
    assert said[0] in json.loads((tmp_path / "bt" / "summary.json").read_text())["warnings"]
