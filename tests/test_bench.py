"""The engineer's bench: experiment sweeps that resume after a kill, the UI, bad experiment files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import VENV_BIN, TrainedWorld, run_cli

# the sweep's children only need to finish (or be killed) and be counted: the smallest model
SMALL = """
model:
  train_windows: 2
  classifier: {n_estimators: 30, learning_rate: 0.2}
  regressor: {n_estimators: 15, learning_rate: 0.2}
"""


@pytest.fixture(scope="module")
def bench_world(trained_world: TrainedWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory whose ``data`` is the session world's data (read only) and no store yet."""
    root = tmp_path_factory.mktemp("bench")
    (root / "small.yaml").write_text(SMALL)
    (root / "data").symlink_to(trained_world.data, target_is_directory=True)
    return root


def _finished_children(root: Path) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("anticipate")
    if exp is None:
        return 0
    runs = client.search_runs(
        [exp.experiment_id],
        "tags.`anticipate.command` = 'experiment-child' and attributes.status = 'FINISHED'",
    )
    return len(runs)


@pytest.mark.slow
def test_interrupted_experiment_resumes_and_runs_only_the_rest(bench_world: Path) -> None:
    spec = bench_world / "sweep.yaml"
    spec.write_text(
        "name: leaves\nbase: small.yaml\nmetric: auc\ngrid:\n  model.classifier.num_leaves: [7, 15]\n"
    )
    assert run_cli("runs", "list", cwd=bench_world).returncode == 0  # create the store before polling it
    cmd = [str(VENV_BIN / "anticipate"), "--data", "data", "experiment", "run", str(spec)]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        cmd,
        cwd=bench_world,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while _finished_children(bench_world) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGKILL)  # after the first child (the base config) finished
    proc.wait()
    done_before = _finished_children(bench_world)
    assert 1 <= done_before < 3
    resumed = run_cli("--json", "--data", "data", "experiment", "run", str(spec), cwd=bench_world)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out = json.loads(resumed.stdout)
    assert out["counts"] == {"children": 3, "resumed": done_before}
    assert sorted(out["metrics"]) == ["base.auc", "base.val.auc", "best.auc", "best.val.auc"]
    assert out["metrics"]["best.val.auc"] >= out["metrics"]["base.val.auc"]  # chosen on validation
    assert _finished_children(bench_world) == 3  # only the missing children ran
    again = json.loads(
        run_cli("--json", "--data", "data", "experiment", "run", str(spec), cwd=bench_world).stdout
    )
    assert again["counts"]["resumed"] == 3 and again["outputs"] == out["outputs"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("name: x\ngrid:\n  time.horizn_days: [3]\n", "horizn_days"),
        ("name: x\ngrid:\n  time.horizon_days: []\n", "grid is empty"),
        ("name: x\nmetric: auc\n", "exactly one of 'grid' or 'random'"),
        ("name: x\ngrid: {time.horizon_days: [3]}\nseed: 3\n", "seed"),
        ("name: x\nmetric: best_iteration\ngrid: {time.horizon_days: [3]}\n", "not record 'best_iteration'"),
        ("name: x\nmetric: baseline_rf.auc\ngrid: {time.horizon_days: [3]}\n", "do not record"),
        # audit21: 'wape' passed and failed after every child trained; these two exited 1
        ("name: x\nmetric: wape\ngrid: {time.horizon_days: [3]}\n", "do not record 'wape'"),
        ("name: x\nrandom: {trials: 2, space: {model.classifier.learning_rate: {low: 0.3, high: 0.1}}}\n",
         "low (0.3) must be at most high (0.1)"),
        ("name: x\nrandom: {trials: 2, space: {}}\n", "'random.space' is empty"),
    ],
)
def test_bad_experiment_files_exit_2_naming_the_key(bench_world: Path, body: str, match: str) -> None:
    spec = bench_world / "bad.yaml"
    spec.write_text(body)
    done = run_cli("--data", "data", "experiment", "run", str(spec), cwd=bench_world)
    assert done.returncode == 2, done.stderr
    assert match in done.stderr


# --------------------------------------------------------------------------- ui: free port, SIGTERM
def _start_ui(cwd: Path, port: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(
        [str(VENV_BIN / "anticipate"), "ui", "--port", port],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # so the test can clean up whatever is left, orphans included
    )


def _announced_url(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    """The URL the ui command prints on stderr once the server answers."""
    import re
    import select

    assert proc.stderr is not None
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stderr], [], [], 1.0)[0]:
            line = proc.stderr.readline()
            seen += line
            found = re.search(r"MLflow UI: (http://127\.0\.0\.1:\d+)", line)
            if found:
                return found.group(1)
    rest = proc.stderr.read() if proc.poll() is not None else ""
    raise AssertionError(f"ui printed no URL (exit {proc.poll()}): {seen}{rest}")


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ui_on_port_0_serves_the_page_and_the_rest_api_and_sigterm_stops_its_server(tmp_path: Path) -> None:
    """One real ``anticipate ui``: port 0 picks a free port and prints it; the page and MLflow's REST
    API answer there; SIGTERM to the ui process alone (as a service manager sends it) stops the
    MLflow server it started, so nothing is left listening on the port."""
    proc = _start_ui(tmp_path, "0")
    try:
        url = _announced_url(proc)
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        assert requests.get(url + "/health", timeout=10).status_code == 200
        assert requests.get(url + "/", timeout=10).status_code == 200
        api = requests.post(url + "/api/2.0/mlflow/experiments/search", json={"max_results": 10}, timeout=10)
        assert api.status_code == 200 and "experiments" in api.json()
        os.kill(proc.pid, signal.SIGTERM)  # the ui process only
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30  # a stopping server may take a moment to close its socket
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _listening(port), "the MLflow server outlived 'anticipate ui' on its port"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # an orphaned server would live in the group


# --------------------------------------------------------------------------- runs compare / list
def _crafted_run(tracker: Any, command: str, metrics: dict[str, float], **kwargs: Any) -> str:
    with tracker.run(command, cutoff="2025-03-01", data_digest="d" * 64, **kwargs) as run:
        run.log_metrics(metrics)
    return run.run_id


@pytest.fixture(scope="module")
def crafted_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A store holding evaluate runs with chosen metrics, and enough runs for a shared id prefix."""
    from anticipate.tracking import Tracker

    root = tmp_path_factory.mktemp("compare")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    tracker = Tracker(uri, artifact_location=str(root / "mlartifacts"))
    ids = {
        # the model ties; only the references differ (a baseline/oracle is not this run's win)
        "a": _crafted_run(tracker, "evaluate", {"auc": 0.80, "logloss": 0.40, "baseline_rf.auc": 0.90,
                                                "oracle.auc": 0.95, "oracle_gap.auc": 0.15}),
        "b": _crafted_run(tracker, "evaluate", {"auc": 0.80, "logloss": 0.40, "baseline_rf.auc": 0.70,
                                                "oracle.auc": 0.60, "oracle_gap.auc": -0.2}),
        # better on both, one of which is lower-is-better
        "e": _crafted_run(tracker, "evaluate", {"auc": 0.85, "logloss": 0.35, "baseline_rf.auc": 0.10}),
        # a sweep's base and best: the best wins on auc, the base on three other metrics
        "base": _crafted_run(tracker, "experiment-child", {"auc": 0.80, "logloss": 0.30, "ece": 0.01,
                                                           "brier": 0.10}),
        "best": _crafted_run(tracker, "experiment-child", {"auc": 0.81, "logloss": 0.35, "ece": 0.02,
                                                           "brier": 0.20}),
        # an honest evaluate and an in-sample one that beats it on every metric
        "honest": _crafted_run(tracker, "evaluate", {"auc": 0.80, "logloss": 0.40}),
        "flattered": _crafted_run(tracker, "evaluate", {"auc": 0.95, "logloss": 0.20},
                                  extra_tags={"anticipate.in_sample": "true"}),
    }
    for _ in range(17):  # 17 more run ids: two of them must share their first hex digit
        _crafted_run(tracker, "forecast", {})  # a command that records runs (solve records none)
    return {"uri": uri, "root": str(root), **ids}


def _compare_json(store: dict[str, str], *ids: str) -> dict:
    done = run_cli("--json", "--tracking-uri", store["uri"], "runs", "compare", *ids, cwd=Path(store["root"]))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_compare_counts_only_the_models_metrics_and_a_tie_has_no_winner(crafted_store: dict) -> None:
    out = _compare_json(crafted_store, crafted_store["a"], crafted_store["b"])
    assert sorted(out["comparison"]) == ["auc", "logloss"]  # no baseline_rf.*, oracle.*, oracle_gap.*
    assert out["wins"] == [0, 0] and out["winner"] is None
    done = run_cli("--tracking-uri", crafted_store["uri"], "runs", "compare", crafted_store["a"],
                   crafted_store["b"], cwd=Path(crafted_store["root"]))
    assert "no winner" in done.stdout and "better on the most metrics" not in done.stdout


def test_compare_reads_each_metrics_direction(crafted_store: dict[str, str]) -> None:
    out = _compare_json(crafted_store, crafted_store["a"], crafted_store["e"])
    assert out["comparison"]["logloss"]["higher_is_better"] is False
    assert out["comparison"]["logloss"]["best"] == 1 and out["comparison"]["auc"]["best"] == 1
    assert out["wins"] == [0, 2] and out["winner"] == crafted_store["e"]


def test_compare_accepts_the_short_ids_runs_list_prints(crafted_store: dict[str, str]) -> None:
    short = [crafted_store["a"][:8], crafted_store["e"][:8]]
    listed = run_cli("--tracking-uri", crafted_store["uri"], "runs", "list", "--limit", "50",
                     cwd=Path(crafted_store["root"]))
    assert all(s in listed.stdout for s in short)
    out = _compare_json(crafted_store, *short)
    assert out["run_ids"] == [crafted_store["a"], crafted_store["e"]]


def test_an_ambiguous_or_unknown_run_prefix_exits_2_naming_the_candidates(crafted_store: dict) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(crafted_store["uri"])
    experiment_id = client.get_experiment_by_name("anticipate").experiment_id
    ids = [r.info.run_id for r in client.search_runs([experiment_id], max_results=100)]
    firsts = [i[0] for i in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    done = run_cli("--tracking-uri", crafted_store["uri"], "runs", "compare", shared, crafted_store["a"],
                   cwd=Path(crafted_store["root"]))
    assert done.returncode == 2, done.stderr
    assert "ambiguous" in done.stderr
    assert sum(i in done.stderr for i in ids if i.startswith(shared)) >= 2
    unknown = next(f"{c}{d}" for c in "0123456789abcdef" for d in "0123456789abcdef"
                   if not any(i.startswith(f"{c}{d}") for i in ids))
    done = run_cli("--tracking-uri", crafted_store["uri"], "runs", "compare", unknown, crafted_store["a"],
                   cwd=Path(crafted_store["root"]))
    assert done.returncode == 2 and f"no run id starts with '{unknown}'" in done.stderr


def test_runs_list_of_a_mistyped_command_exits_2_naming_the_commands(crafted_store: dict[str, str]) -> None:
    """audit23 F10a: --command evalute listed nothing and exited 0, as if there were no such runs."""
    from anticipate.tracking import tags

    done = run_cli("--tracking-uri", crafted_store["uri"], "runs", "list", "--command", "evalute",
                   cwd=Path(crafted_store["root"]))
    assert done.returncode == 2, done.stderr
    assert ("--command evalute is not a command that records runs; did you mean evaluate? pass one of: "
            f"{', '.join(tags.TRACKED_COMMANDS)}") in done.stderr
    assert "Traceback" not in done.stderr
    listed = run_cli("--json", "--tracking-uri", crafted_store["uri"], "runs", "list", "--command",
                     "evaluate", cwd=Path(crafted_store["root"]))
    assert json.loads(listed.stdout)["counts"]["runs"] == 5  # a, b, e, honest, flattered


def test_runs_list_takes_a_comma_separated_list_of_commands(crafted_store: dict[str, str]) -> None:
    """--command train,evaluate exited 2 with "did you mean evaluate?" (audit h27 #4): MLflow's filter has
    no 'or', so each command is searched and the runs merged, newest first, at most --limit."""
    from anticipate.config import Config
    from anticipate.errors import UsageError
    from anticipate.pipelines import Settings
    from anticipate.pipelines.runs import run_runs_list
    from anticipate.tracking import tags

    settings = Settings(cfg=Config(), data_dir=Path(crafted_store["root"]), tracking_uri=crafted_store["uri"],
                        progress=False)
    both = run_runs_list(settings, command="evaluate, experiment-child,evaluate").extra["runs"]
    assert sorted(r["run_id"] for r in both) == sorted(crafted_store[k] for k in
                                                       ("a", "b", "e", "honest", "flattered", "base", "best"))
    assert [r["started"] for r in both] == sorted((r["started"] for r in both), reverse=True)
    one = run_runs_list(settings, command="evaluate").extra["runs"]
    newest = run_runs_list(settings, command="forecast,evaluate", limit=3).extra["runs"]
    assert [r["command"] for r in newest] == ["forecast"] * 3  # the 17 forecasts came after the evaluates
    assert [r["run_id"] for r in run_runs_list(settings, command="train,evaluate").extra["runs"]] == [
        r["run_id"] for r in one]  # no train run: the evaluates, in their order
    done = run_cli("--tracking-uri", crafted_store["uri"], "runs", "list", "--command", "train,evalute",
                   cwd=Path(crafted_store["root"]))
    assert done.returncode == 2, done.stderr
    assert ("--command evalute is not a command that records runs; did you mean evaluate? pass one of: "
            f"{', '.join(tags.TRACKED_COMMANDS)}") in done.stderr
    with pytest.raises(UsageError, match="names no command"):
        run_runs_list(settings, command=" , ")


def test_every_command_a_run_records_is_one_runs_list_offers(tmp_path: Path) -> None:
    """The list --command checks against is the one Tracker.run enforces: a new tracked command that is
    not in it fails on its first run, not in a user's silent empty list."""
    from anticipate.tracking import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "a"))
    with pytest.raises(ValueError, match=r"'solve' is not in tags\.TRACKED_COMMANDS"), tracker.run("solve"):
        pass


def test_the_sweeps_comparison_names_the_child_marked_best(crafted_store: dict[str, str]) -> None:
    """The base wins on three metrics, the best child on the sweep's metric: the verdict is the sweep's."""
    from anticipate.pipelines import experiment
    from anticipate.tracking import RunReader, Tracker
    from anticipate.tracking.compare import comparison_text

    reader = RunReader(Tracker(crafted_store["uri"]))
    base, best = crafted_store["base"], crafted_store["best"]
    results = {key: {"run_id": rid, "metrics": reader.get(rid).metrics, "overrides": {}}
               for key, rid in (("base", base), ("child", best))}
    assert experiment._best(results, "auc", "base") == "child"
    compared = experiment._compare(reader, base, best, "auc")
    assert compared.wins == [3, 1]
    assert compared.verdict == 1
    assert f"run {best[:8]} is better on auc" in comparison_text(compared)


def test_a_tie_on_the_sweeps_metric_keeps_the_base() -> None:
    from anticipate.pipelines import experiment

    results = {k: {"run_id": k, "metrics": {"auc": v}, "overrides": {}}
               for k, v in (("child1", 0.8), ("base", 0.8), ("child2", 0.7))}
    assert experiment._best(results, "auc", "base") == "base"
    results["child2"]["metrics"]["auc"] = 0.9
    assert experiment._best(results, "auc", "base") == "child2"
    lower = {k: {"run_id": k, "metrics": {"logloss": v}, "overrides": {}}
             for k, v in (("base", 0.4), ("c", 0.3))}
    assert experiment._best(lower, "logloss", "base") == "c"


def test_the_best_child_is_chosen_on_validation_and_reported_with_its_test_score(tmp_path: Path) -> None:
    """The test winner (child1) is not the validation winner (child2): the sweep picks child2 and reports
    child2's test auc, which the choice never saw; ``select_on: test`` picks child1 with a warning."""
    from anticipate.pipelines import experiment

    results = {k: {"run_id": k, "metrics": {"val.auc": v, "auc": t}, "overrides": {"x": k}}
               for k, v, t in (("base", 0.70, 0.71), ("child1", 0.72, 0.80), ("child2", 0.75, 0.74))}
    spec = experiment.ExperimentSpec(name="s", metric="auc", grid={"model.train_windows": [3]})
    assert experiment.selection_metric(spec) == "val.auc" and experiment.reported_metric(spec) == "auc"
    best = experiment._best(results, experiment.selection_metric(spec), "base")
    assert best == "child2"
    out = experiment._experiment_result(spec, "p", results, best, "base", 0, None)
    assert out.metrics == {"best.val.auc": 0.75, "best.auc": 0.74, "base.val.auc": 0.70, "base.auc": 0.71}
    assert out.warnings == [] and "chosen on val.auc" in out.text
    on_test = spec.model_copy(update={"select_on": "test"})
    assert experiment.selection_metric(on_test) == "auc"
    assert experiment._best(results, experiment.selection_metric(on_test), "base") == "child1"
    out = experiment._experiment_result(on_test, "p", results, "child1", "base", 0, None)
    assert out.metrics == {"best.auc": 0.80, "base.auc": 0.71}
    assert "selection score" in out.warnings[0]
    legacy = spec.model_copy(update={"metric": "val.logloss"})
    assert experiment.selection_metric(legacy) == "val.logloss"
    assert experiment.reported_metric(legacy) == "logloss"


def test_runs_list_shows_the_duration_from_the_commands_start(tmp_path: Path) -> None:
    """A pipeline opens its run after the work; the run must still start when the command did."""
    from anticipate.config import Config
    from anticipate.pipelines import Settings
    from anticipate.pipelines._common import open_tracker
    from anticipate.pipelines.runs import run_runs_list

    settings = Settings(cfg=Config(), data_dir=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                        started_at=time.time() - 55.0)
    with open_tracker(settings).run("train"):
        pass  # the 55 s of work happened before the run was opened
    listed = run_runs_list(settings)
    assert listed.extra["runs"][0]["duration_s"] >= 55.0


def test_children_build_on_the_commands_config_and_a_changed_base_or_data_starts_anew(tmp_path: Path) -> None:
    """audit21 #1/#2: without `base:` the children trained on the packaged defaults, not on --config
    (12 windows instead of 2), and a sweep re-run after its base config changed resumed the old scores."""
    from anticipate.config import load_config
    from anticipate.pipelines import Settings
    from anticipate.pipelines.experiment import ExperimentSpec, child_config, spec_digest

    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.parquet").write_bytes(b"one")
    settings = Settings(cfg=load_config(None, {"model.train_windows": 2, "model.threads": 1}), data_dir=data,
                        tracking_uri="sqlite:///unused.db")
    spec = ExperimentSpec(name="h", grid={"time.horizon_days": [14]})
    child = child_config(settings, spec, {"time.horizon_days": 14})
    assert (child.model.train_windows, child.model.threads, child.time.horizon_days) == (2, 1, 14)
    (tmp_path / "base.yaml").write_text("model: {train_windows: 3}\n")
    named = spec.model_copy(update={"base": str(tmp_path / "base.yaml")})
    assert child_config(settings, named, {}).model.train_windows == 3  # a base the spec names wins
    first = spec_digest(settings, spec)
    assert spec_digest(settings, spec) == first
    changed = Settings(cfg=load_config(None, {"model.train_windows": 4}), data_dir=data, tracking_uri="x")
    assert spec_digest(changed, spec) != first
    (data / "orders.parquet").write_bytes(b"two")  # re-ingested
    assert spec_digest(settings, spec) != first


def test_compare_warns_when_the_runs_predict_different_things() -> None:
    """audit21 #4: a SKU-level and a category-level evaluate at one cutoff (25,037 vs 17,312 pairs) got a
    winner and no word."""
    from anticipate.tracking.compare import data_warnings
    from anticipate.tracking.reader import RunRecord

    def run(level: str, horizon: str = "7") -> RunRecord:
        return RunRecord("r" + level, "0", level, "FINISHED", 0, 1, {"anticipate.command": "evaluate"},
                         {"model.item_level": level, "time.horizon_days": horizon}, {"auc": 0.8})

    (warning,) = data_warnings([run("sku"), run("category")])
    assert warning.startswith("the runs predict different things (model.item_level: category, sku)")
    assert data_warnings([run("sku"), run("sku")]) == []
    assert "time.horizon_days: 14, 7" in data_warnings([run("sku"), run("sku", "14")])[0]


def test_compare_warns_when_a_run_scored_in_sample() -> None:
    """audit23 F2: an --in-sample evaluate beat an honest one 7-0 in 'runs compare' without a word."""
    from anticipate.tracking.compare import data_warnings
    from anticipate.tracking.reader import RunRecord

    def run(run_id: str, in_sample: str) -> RunRecord:
        tags = {"anticipate.command": "evaluate", "anticipate.in_sample": in_sample}
        return RunRecord(run_id, "0", "evaluate", "FINISHED", 0, 1, tags, {}, {"auc": 0.9})

    assert data_warnings([run("aaaaaaaa11", "false"), run("bbbbbbbb22", "false")]) == []
    (warning,) = data_warnings([run("aaaaaaaa11", "false"), run("bbbbbbbb22", "true")])
    assert warning.startswith("run(s) bbbbbbbb scored a cutoff their model was trained or validated on")
    assert "or a forecast or plan warned IN-SAMPLE" in warning  # audit30 C2: allocate runs are tagged too


def test_compare_names_no_winner_when_a_run_scored_in_sample(crafted_store: dict[str, str]) -> None:
    """The in-sample run is better on both metrics: the table and the warning are shown, no winner is named
    and the output says why (it crowned the in-sample run after warning about it)."""
    honest, flattered = crafted_store["honest"], crafted_store["flattered"]
    out = _compare_json(crafted_store, honest, flattered)
    assert out["winner"] is None and out["wins"] is None
    assert out["no_winner"].startswith("no winner named: the runs are not like for like (run(s) "
                                       f"{flattered[:8]} scored in sample)")
    assert out["comparison"]["auc"]["values"] == [0.80, 0.95] and out["comparison"]["auc"]["best"] is None
    assert any("evaluate --in-sample" in w for w in out["warnings"])
    done = run_cli("--tracking-uri", crafted_store["uri"], "runs", "compare", honest, flattered,
                   cwd=Path(crafted_store["root"]))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "auc" in done.stdout and "0.95(+0.15)" in done.stdout and "*" not in done.stdout
    assert "no winner named: the runs are not like for like" in done.stdout
    assert "is better on" not in done.stdout and "wins:" not in done.stdout
    assert "evaluate --in-sample" in done.stderr


def test_compare_names_no_winner_when_the_runs_predict_different_things() -> None:
    """A category-level run better on every metric than a SKU-level one: no winner, per metric or overall,
    also when a sweep's metric decides; the same runs on one task name the winner."""
    from anticipate.tracking.compare import compare_runs, comparison_text, no_winner
    from anticipate.tracking.reader import RunRecord

    def run(run_id: str, level: str, auc: float) -> RunRecord:
        params = {"model.item_level": level, "time.horizon_days": "7"}
        return RunRecord(run_id, "0", run_id, "FINISHED", 0, 1, {"anticipate.command": "evaluate"}, params,
                         {"auc": auc, "logloss": 1 - auc})

    same = compare_runs([run("aaaaaaaa1", "sku", 0.8), run("bbbbbbbb2", "sku", 0.9)])
    assert same.verdict == 1 and same.wins == [0, 2] and no_winner(same) is None
    for decide_by in (None, "auc"):
        c = compare_runs([run("aaaaaaaa1", "sku", 0.8), run("bbbbbbbb2", "category", 0.9)],
                         decide_by=decide_by)
        assert c.verdict is None and c.wins is None and all(row["best"] is None for row in c.table.values())
        assert "model.item_level differs" in no_winner(c)
        text = comparison_text(c)
        assert "no winner named: the runs are not like for like (model.item_level differs:" in text
        assert "is better on" not in text and "*" not in text


def test_runs_sharing_no_metric_are_no_tie() -> None:
    """audit25 F4: a train and an evaluate run (no metric in common) were called a tie, 0-0 on nothing."""
    from anticipate.tracking.compare import compare_runs, no_winner
    from anticipate.tracking.reader import RunRecord

    def run(run_id: str, command: str, metrics: dict[str, float]) -> RunRecord:
        return RunRecord(run_id, "0", command, "FINISHED", 0, 1, {"anticipate.command": command}, {}, metrics)

    apart = compare_runs([run("aaaaaaaa11", "train", {"val.auc": 0.9}),
                          run("bbbbbbbb22", "evaluate", {"auc": 0.8})])
    assert no_winner(apart).startswith("no winner: the runs share no metric to compare")
    tied = compare_runs([run("aaaaaaaa11", "evaluate", {"auc": 0.8}),
                         run("bbbbbbbb22", "evaluate", {"auc": 0.8})])
    assert no_winner(tied) == "no winner: the runs tie on the count of better metrics"


def test_a_spec_base_that_replaces_the_commands_config_says_so(tmp_path: Path) -> None:
    """audit25 F3: with `base:` in the spec, `--config night.yaml` was dropped without a word."""
    from anticipate.config import Config, load_config
    from anticipate.pipelines import Settings
    from anticipate.pipelines.experiment import ExperimentSpec, base_warnings

    grid = {"time.horizon_days": [3]}
    spec = ExperimentSpec.model_validate({"name": "x", "base": "base.yaml", "grid": grid})
    night = Config.model_validate({"time": {"horizon_days": 3}})
    (warning,) = base_warnings(Settings(cfg=night, data_dir=tmp_path, tracking_uri="sqlite:///x.db"), spec)
    assert warning.startswith("the experiment file's base: base.yaml replaces the command's config")
    plain = Settings(cfg=load_config(None), data_dir=tmp_path, tracking_uri="sqlite:///x.db")
    assert base_warnings(plain, spec) == []
    no_base = ExperimentSpec.model_validate({"name": "x", "grid": grid})
    assert base_warnings(Settings(cfg=night, data_dir=tmp_path, tracking_uri="sqlite:///x.db"), no_base) == []
