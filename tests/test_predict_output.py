"""audit23 F8: a predictions file says what it holds (cutoff, horizon, item level, model) and a cutoff
inside the model's training period is scored with a loud warning, on stderr and in the file.

Reads the session's trained world (model version 1, trained with the default --until, the last full
cutoff 2024-08-21, and promoted); predict opens no run, so the world is not changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tests.conftest import WORLD_DATE, WORLD_LAST_CUTOFF, TrainedWorld, run_cli

MODEL_URI = "models:/anticipate-next-purchase/1"  # predict's default: the latest version


def _predict(world: TrainedWorld, *args: str) -> dict:
    done = run_cli(*world.args("--json", "predict", *args))
    assert done.returncode == 0, done.stderr[-2000:]
    return {"json": json.loads(done.stdout), "stderr": done.stderr}


def test_predict_in_sample_warns_on_stderr_and_in_the_parquet_metadata(trained_world: TrainedWorld,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    done = _predict(trained_world, "--cutoff", "2024-08-14", "--out", str(out))  # its validation window
    assert "warning: IN-SAMPLE: cutoff 2024-08-14 lies before the end of the model's" in done["stderr"]
    assert f"use --cutoff {WORLD_LAST_CUTOFF} or later" in done["stderr"]
    assert done["json"]["in_sample"] is True and done["json"]["cutoff"] == "2024-08-14"
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items() if k != b"pandas"}
    warnings = json.loads(meta.pop("warnings"))
    assert meta == {"cutoff": "2024-08-14", "horizon_days": "7", "item_level": "sku", "model_uri": MODEL_URI,
                    "model_version": "1", "model_run_id": trained_world.train["run_id"],
                    "trained_until": WORLD_LAST_CUTOFF, "in_sample": "true"}
    assert warnings[0].startswith("IN-SAMPLE: cutoff 2024-08-14") and warnings == done["json"]["warnings"]
    assert list(pd.read_parquet(out).columns) == ["customer_id", "item", "p_buy", "expected_units"]


def test_predict_csv_gets_a_sidecar_naming_cutoff_horizon_and_model(trained_world: TrainedWorld,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    done = _predict(trained_world, "--model", "@production", "--out", str(out))  # out-of-sample default
    assert "IN-SAMPLE" not in done["stderr"] and done["json"]["in_sample"] is False
    sidecar = tmp_path / "p.csv.json"
    assert done["json"]["outputs"]["metadata"] == str(sidecar)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "p.csv.json"]  # no temporary file left
    facts = json.loads(sidecar.read_text())
    table = pd.read_csv(out)
    assert list(table.columns) == ["customer_id", "item", "p_buy", "expected_units"]  # the CSV is unchanged
    assert facts == {
        "cutoff": WORLD_DATE, "horizon_days": 7, "item_level": "sku",
        "model_uri": "models:/anticipate-next-purchase@production", "model_version": "1",
        "model_run_id": trained_world.train["run_id"], "trained_until": WORLD_LAST_CUTOFF, "in_sample": False,
        "warnings": [], "file": "p.csv", "rows": len(table),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }


def test_a_csv_whose_sidecar_cannot_be_written_is_not_published(trained_world: TrainedWorld,
                                                                 tmp_path: Path) -> None:
    """audit25 F2: the CSV was written first, so a sidecar that failed (here: a directory in its place)
    left in-sample scores with no record of what they are, over any good CSV at that path."""
    out = tmp_path / "z.csv"
    out.write_text("the previous good scores\n")
    (tmp_path / "z.csv.json").mkdir()
    done = run_cli(*trained_world.args("predict", "--cutoff", "2024-08-14", "--out", str(out)))
    assert done.returncode == 2 and "z.csv.json" in done.stderr, done.stderr[-2000:]
    assert out.read_text() == "the previous good scores\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.csv", "z.csv.json"]  # no temporary file left
