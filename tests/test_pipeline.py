"""The whole pipeline through the real CLI on the session's small trained world, embedded MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import WORLD_CONFIG, WORLD_DATE, WORLD_LAST_CUTOFF, TrainedWorld, run_cli

CUTOFFS = ("2024-08-07", "2024-08-14")  # two backtest cutoffs inside the world's last weeks


@pytest.fixture
def world(world_copy: TrainedWorld) -> Path:
    """A private copy of the trained world: ``data/``, ``small.yaml`` and the store ``mlflow.db``
    (the CLI's default tracking URI when run in this directory) with a promoted model."""
    return world_copy.root


def _json(root: Path, *args: str) -> dict:
    done = run_cli("--json", "--data", "data", "--config", "small.yaml", *args, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line on stdout, got: {done.stdout[:500]}"
    return json.loads(lines[0])


@pytest.mark.slow
def test_train_evaluate_promote_predict_forecast_allocate_backtest(world: Path,
                                                                   world_copy: TrainedWorld) -> None:
    trained = world_copy.train  # the world's `train --json` result; its run is in the copied store
    assert trained["counts"]["model_version"] == 1 and trained["run_id"]
    evaluated = _json(world, "evaluate")
    m = evaluated["metrics"]
    baselines = {f"baseline_{b}.auc" for b in ("rf", "bgnbd", "pair_rate", "pair_logreg")}
    assert {"auc", *baselines, "oracle.auc", "oracle_gap.auc"} <= set(m)
    assert m["oracle.auc"] >= m["auc"] - 0.02  # the truth is the ceiling
    assert m["auc"] > 0.75
    _json(world, "promote", "latest", "--alias", "production")
    predicted = _json(world, "predict", "--out", "scores.csv")
    scores = pd.read_csv(world / "scores.csv")
    assert list(scores.columns) == ["customer_id", "item", "p_buy", "expected_units"]
    assert len(scores) == predicted["counts"]["pairs"] and scores["p_buy"].between(0, 1).all()
    _json(world, "forecast", "--out", "fc.parquet")
    fc = pd.read_parquet(world / "fc.parquet")
    assert (fc["var"] >= fc["mu"]).all() and (fc["mu"] > 0).all()
    first = _json(world, "allocate", "--date", WORLD_DATE, "--allow-stale")
    plan_bytes = (world / "plans" / WORLD_DATE / "plan.parquet").read_bytes()
    summary = json.loads((world / "plans" / WORLD_DATE / "summary.json").read_text())
    assert summary["bound"] >= summary["objective"] and 0 <= summary["gap"] <= 0.02
    assert summary["centre"]["source"].startswith("capacity-weighted centroid of the warehouses that serve")
    assert first["metrics"]["objective"] == pytest.approx(summary["objective"])
    _json(world, "allocate", "--date", WORLD_DATE, "--allow-stale")
    assert (world / "plans" / WORLD_DATE / "plan.parquet").read_bytes() == plan_bytes  # byte-identical
    mixed = _json(world, "runs", "compare", trained["run_id"], first["run_id"])  # train vs allocate
    assert any("different commands" in w for w in mixed["warnings"]), mixed["warnings"]
    assert not {"val.auc", "objective", "gap"} & set(mixed["comparison"])  # only shared metrics compared
    assert any("not in every run and are left out" in w for w in mixed["warnings"])
    back = _json(world, "backtest", "--cutoffs", ",".join((*CUTOFFS, CUTOFFS[1])))
    assert back["counts"]["cutoffs"] == 2  # the duplicate is dropped with a warning
    table = pd.read_parquet(world / back["outputs"]["table"])
    oracle = table[table["plan"] == "oracle"]
    assert (oracle["value_captured"] == 1.0).all()
    assert (table.loc[table["plan"] == "zero", "value"] == 0).all()
    assert (table.loc[table["plan"] == "model", "value"] <= oracle["value"].to_numpy() + 1e-9).all()
    _check_backtest_outputs(world, back, table)


def _check_backtest_outputs(world: Path, back: dict, table: pd.DataFrame) -> None:
    """Issue 4's outputs: per-cutoff metrics, per-plan forecast columns, the PNGs, parent + child runs."""
    from mlflow import MlflowClient

    assert any("duplicate" in w for w in back["warnings"])
    assert set(back["per_cutoff"]) == set(CUTOFFS)
    wanted = {
        "value_captured",
        "naive.value_captured",
        "truth.value_captured",
        "fill_rate_local",
        "units_moved",
        "units_unsold",
        "km_saved",
        "bias",
        "wape",
        "coverage_80",
        "coverage_80_closed",
        "auc",
        "oracle.auc",
        "truth.coverage_80",
        "naive.bias",
        "truth_pairs.value_captured",
    }
    for metrics in back["per_cutoff"].values():
        assert wanted <= set(metrics)
        assert 0.0 <= metrics["coverage_80"] <= 1.0 and metrics["coverage_80_closed"] >= 0.0
    assert wanted <= set(back["metrics"])
    assert set(table["plan"]) == {"model", "naive", "truth", "truth_pairs", "oracle", "zero"}
    forecasting = table["plan"].isin(["model", "naive", "truth", "truth_pairs"])
    assert table.loc[forecasting, "coverage_80"].notna().all()
    assert table.loc[~forecasting, "coverage_80"].isna().all()
    for name in ("value_captured", "interval_reliability", "fill_rate_by_warehouse"):
        assert (world / back["outputs"][name]).stat().st_size > 10_000
    client = MlflowClient(f"sqlite:///{world / 'mlflow.db'}")
    children = client.search_runs(
        [client.get_run(back["run_id"]).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{back['run_id']}'",
    )
    assert sorted(r.data.tags["anticipate.cutoff"] for r in children) == list(CUTOFFS)
    assert all("value_captured" in r.data.metrics for r in children)
    parent = client.get_run(back["run_id"]).data.tags  # every cutoff, and the children's data digest
    assert parent["anticipate.cutoffs"] == ",".join(CUTOFFS) and parent["anticipate.cutoff"] == CUTOFFS[0]
    assert {r.data.tags["anticipate.data_digest"] for r in children} == {parent["anticipate.data_digest"]}
    child = next(r.info.run_id for r in children if r.data.tags["anticipate.cutoff"] == CUTOFFS[0])
    compared = _json(world, "runs", "compare", back["run_id"], child)
    assert compared["winner"] is None and "different data" not in compared["no_winner"]
    assert f"run {child[:8]} is a child of run {back['run_id'][:8]}" in compared["no_winner"]


@pytest.mark.slow
def test_runs_list_and_compare_mark_the_better_run(world: Path, world_copy: TrainedWorld) -> None:
    base = world_copy.train  # the world's own training run
    changed = world / "changed.yaml"
    changed.write_text(WORLD_CONFIG + "\nfeatures:\n  families: [customer, customer_item, item, calendar]\n")
    done = run_cli("--json", "--data", "data", "--config", str(changed), "train", cwd=world)
    assert done.returncode == 0, done.stderr[-1000:]
    other = json.loads(done.stdout)
    listed = _json(world, "runs", "list", "--command", "train")
    assert listed["runs"][0]["run_id"] == other["run_id"]  # newest first
    compared = _json(world, "runs", "compare", base["run_id"], other["run_id"], "--out", "cmp.png")
    assert set(compared["params"]) == {"features.families"} | {  # a model setting: one task, ranked
        k for k in compared["params"]
        if k in {"train_pairs", "val_pairs", "train_cutoffs", "calibration", "n_features"}
    }
    assert compared["winner"] is not None or compared["no_winner"].startswith("no winner: the runs tie")
    auc = compared["comparison"]["val.auc"]
    values = auc["values"]
    assert auc["best"] == (0 if values[0] > values[1] else 1)
    loss = compared["comparison"]["val.logloss"]
    assert loss["best"] == (0 if loss["values"][0] < loss["values"][1] else 1)
    assert (world / "cmp.png").stat().st_size > 10_000


def test_bad_cutoff_and_missing_model_exit_codes(world: Path, empty_store: Path) -> None:
    import shutil

    shutil.copy(empty_store, world / "empty.db")  # a store without the model (a missing one is exit 2)
    done = run_cli("--data", "data", "features", "--cutoff", "2030-01-01", "--out", "f.parquet", cwd=world)
    assert done.returncode == 2 and "valid range" in done.stderr and "2030-01-01" in done.stderr, done.stderr
    assert not (world / "f.parquet").exists()
    done = run_cli("--data", "data", "--tracking-uri", "sqlite:///empty.db", "evaluate", cwd=world)
    assert done.returncode == 3 and "anticipate train" in done.stderr
    done = run_cli(
        "--data",
        "data",
        "--tracking-uri",
        "sqlite:///empty.db",
        "allocate",
        "--date",
        WORLD_DATE,
        "--allow-stale",
        cwd=world,
    )
    assert done.returncode == 3 and "anticipate promote" in done.stderr
    done = run_cli("--data", "data", "allocate", "--date", "../etc", cwd=world)
    assert done.returncode == 2 and "plain date" in done.stderr


@pytest.mark.server
@pytest.mark.slow
def test_train_against_a_real_mlflow_server_and_load_the_model_back(world: Path, mlflow_server) -> None:
    import mlflow
    from mlflow import MlflowClient

    from anticipate.config import load_config
    from anticipate.features.build import build_features
    from anticipate.storage.files import load_dataset

    trained = _json(world, "--tracking-uri", mlflow_server.uri, "train")
    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    run = client.get_run(trained["run_id"])
    assert run.data.tags["anticipate.command"] == "train"
    assert run.data.metrics["val.auc"] == pytest.approx(trained["metrics"]["val.auc"])
    assert {"features.json", "gain_importance.png", "config.yaml"} <= {
        a.path for a in client.list_artifacts(run.info.run_id)
    }
    versions = client.search_model_versions("name='anticipate-next-purchase'")
    assert [v.run_id for v in versions] == [trained["run_id"]]
    mlflow.set_tracking_uri(mlflow_server.uri)
    mlflow.set_registry_uri(mlflow_server.uri)
    loaded = mlflow.pyfunc.load_model(f"models:/anticipate-next-purchase/{versions[0].version}")
    assert loaded.metadata.signature is not None
    wrapper = loaded.unwrap_python_model()
    cfg = load_config(world / "small.yaml")
    ds = load_dataset(world / "data")
    frame = build_features(ds.orders, pd.Timestamp(WORLD_LAST_CUTOFF), lookback_days=cfg.time.lookback_days)
    again = loaded.predict(frame[wrapper.feature_names])
    direct = wrapper.model.predict_proba(frame[wrapper.feature_names])
    assert (again["p_buy"].to_numpy() == direct).all()  # identical predictions after the round trip


def test_backtest_past_the_data_names_the_last_valid_cutoff(world: Path) -> None:
    done = run_cli("--data", "data", "backtest", "--cutoffs", "2030-01-05", cwd=world)
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert f"{WORLD_LAST_CUTOFF} (the last valid cutoff) with a 7-day horizon (from the config key " \
        "time.horizon_days)" in said, said
    # audit21 #15: with --model the horizon is the model's, which the message did not say
    done = run_cli("--data", "data", "backtest", "--model", "@production", "--cutoffs", "2030-01-05",
                   cwd=world)
    said = " ".join(done.stderr.split())
    assert done.returncode == 2 and "7-day horizon (from the model models:/" in said, said


def test_stale_data_refuses_a_nightly_plan(world: Path) -> None:
    done = run_cli("--data", "data", "allocate", "--date", "2025-06-01", cwd=world)
    assert done.returncode == 2  # stale data is checked before the model is loaded
    assert "allow-stale" in done.stderr


def test_a_single_class_label_set_exits_2_saying_why(tmp_path: Path) -> None:
    """Five customers who each ordered once: every training label is 0, nothing to learn from. (Less than
    28 days apart: a line before four weeks without an order would be detached from the history.)"""
    (tmp_path / "log.csv").write_text(
        "customer,date,quantity,amount\nc1,2024-01-03,1,10\nc2,2024-01-25,2,20\n"
        "c3,2024-02-15,1,5\nc4,2024-03-10,1,7\nc5,2024-04-01,1,3\n"
    )
    assert run_cli("ingest", "--orders", "log.csv", "--out", "d", cwd=tmp_path).returncode == 0
    done = run_cli("--data", "d", "train", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "single-class" in done.stderr and "Traceback" not in done.stderr


def test_demo_fast_trains_every_step_on_the_smaller_config(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m anticipate.demo --fast`` writes a valid config with fewer windows and trees and
    passes it to every step after the ingest; without ``--fast`` no step gets a ``--config``."""
    from anticipate import demo
    from anticipate.config import load_config

    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the demo reads data/sample from here
    calls: list[list[str]] = []

    def fake_step(args: list[str], *, json_out: bool = False) -> dict | None:
        calls.append(args)
        return {"counts": {"rows_in": 3, "rows_accepted": 3, "rows_rejected": 0}} if json_out else None

    monkeypatch.setattr(demo, "run_step", fake_step)
    for fast in (True, False):
        calls.clear()
        out = tmp_path / ("fast" if fast else "full")
        (out / "backtest").mkdir(parents=True)
        (out / "backtest" / "summary.json").write_text('{"overall": {"value_captured": 0.5}}')
        demo.main(["--out", str(out), *(["--fast"] if fast else [])])
        steps = [c for c in calls if c[0] != "ingest"]
        assert [c[0] for c in steps] == ["train", "evaluate", "promote", "allocate", "backtest"]
        with_config = [c[c.index("--config") + 1] for c in steps if "--config" in c]
        assert with_config == ([str(out / "fast.yaml")] * len(steps) if fast else [])
    cfg = load_config(tmp_path / "fast" / "fast.yaml")
    default = load_config(None)
    assert cfg.model.train_windows < default.model.train_windows
    assert cfg.model.classifier.n_estimators < default.model.classifier.n_estimators


def test_demo_uses_its_own_store_whatever_mlflow_tracking_uri_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """audit28 F08: with MLFLOW_TRACKING_URI exported to a team store, ``make demo`` registered the
    sample's model there and moved its ``production`` alias. Every step that tracks must name the demo's
    own store (./mlflow.db) and the step's environment must not carry the variable; one line says so."""
    import subprocess

    from anticipate import demo

    team = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team)
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the demo reads data/sample from here
    own = f"sqlite:///{Path('mlflow.db').resolve()}"
    calls: list[list[str]] = []
    envs: list[dict[str, str]] = []

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        envs.append(dict(kwargs["env"]))  # type: ignore[arg-type]
        out = '{"counts": {"rows_in": 3, "rows_accepted": 3, "rows_rejected": 0}}'
        return subprocess.CompletedProcess(cmd, 0, stdout=out if "--json" in cmd else None)

    monkeypatch.setattr(demo.subprocess, "run", fake_run)
    out = tmp_path / "out"
    (out / "backtest").mkdir(parents=True)
    (out / "backtest" / "summary.json").write_text('{"overall": {"value_captured": 0.5}}')
    demo.main(["--out", str(out), "--fast"])
    tracked = [c for c in calls if not {"sample", "ingest"} & set(c)]
    assert len(tracked) == 5
    assert all(c[c.index("--tracking-uri") + 1] == own for c in tracked)
    assert not any("MLFLOW_TRACKING_URI" in env for env in envs)
    printed = capsys.readouterr().out
    assert f"demo: MLflow store {own}" in printed and f"MLFLOW_TRACKING_URI={team}" in printed


def test_evaluate_logs_the_task_its_model_was_scored_on_and_warns_of_the_config(world_copy, tmp_path) -> None:
    """audit23 F1: a model evaluated under a config of another horizon was logged with the config's
    time.horizon_days, so 'runs compare' ranked two tasks as one, and evaluate said nothing."""
    from mlflow import MlflowClient

    (tmp_path / "h14.yaml").write_text("time: {horizon_days: 14}\nmodel: {train_windows: 4}\n")
    done = run_cli(*world_copy.args("--json", "evaluate", config=tmp_path / "h14.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(w.startswith("time.horizon_days is 14 in the config but the model was trained with 7")
               for w in result["warnings"]), result["warnings"]
    params = MlflowClient(world_copy.tracking_uri).get_run(result["run_id"]).data.params
    assert (params["time.horizon_days"], params["model.item_level"]) == ("7", "sku")


def test_a_model_without_the_customer_family_is_evaluated_against_the_baselines(world_copy,
                                                                                 tmp_path) -> None:
    """audit23 F7a: evaluate crashed (exit 1, KeyError 'cust_recency_days') on a model trained without
    the customer family: the baselines read the model's feature frame."""
    (tmp_path / "fam.yaml").write_text("features: {families: [customer_item, item]}\n"
                                       "model: {train_windows: 4, classifier: {n_estimators: 40}}\n")
    config = tmp_path / "fam.yaml"
    trained = run_cli(*world_copy.args("--json", "train", config=config), cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    version = json.loads(trained.stdout.strip().splitlines()[-1])["counts"]["model_version"]
    done = run_cli(*world_copy.args("--json", "evaluate", "--model", str(version), config=config),
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])["metrics"]
    assert 0.5 < metrics["baseline_rf.auc"] < 1 and 0.5 < metrics["auc"] < 1, metrics
