"""``runs compare``, ``runs list`` and ``experiment run`` name no winner between runs that are not like for
like (audit28 f04, f05, f06, f13, f17): other cutoff sets, other lookbacks, other economics, in-sample
scores, a parent and its own child, and grid keys a child never reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from anticipate.tracking.reader import RunRecord

DIGEST = "d" * 64


def _run(run_id: str, command: str, metrics: dict[str, float], *, params: dict[str, str] | None = None,
         **tags: str) -> RunRecord:
    """A run record; a tag given as ``anticipate__cutoffs`` is ``anticipate.cutoffs``, None drops it."""
    base = {"anticipate.command": command, "anticipate.cutoff": "2025-01-21",
            "anticipate.data_digest": DIGEST}
    if command == "backtest":
        base["anticipate.cutoffs"] = "2025-01-21"
    merged = {**base, **{k.replace("__", "."): v for k, v in tags.items()}}
    kept = {k: v for k, v in merged.items() if v is not None}
    return RunRecord(run_id, "0", command, "FINISHED", 0, 1, kept, params or {}, metrics)


def test_backtests_over_other_cutoff_sets_sharing_the_first_get_no_winner() -> None:
    """audit28 f04: {01-21} against {01-21, 01-28}: 'params: identical' and a winner, as only the first
    cutoff (anticipate.cutoff) was compared."""
    from anticipate.tracking.compare import compare_runs, comparison_text
    from anticipate.tracking.tags import cutoffs_value

    one = _run("a" * 32, "backtest", {"auc": 0.91, "wape": 0.77},
               anticipate__cutoffs=cutoffs_value(["2025-01-21"]))
    two = _run("b" * 32, "backtest", {"auc": 0.90, "wape": 0.80},
               anticipate__cutoffs=cutoffs_value(["2025-01-28", "2025-01-21"]))
    c = compare_runs([one, two])
    assert c.verdict is None and c.wins is None and c.unlike == ["they used different cutoffs"]
    assert "2025-01-21 | 2025-01-21,2025-01-28" in c.warnings[0]
    said = "no winner named: the runs are not like for like (they used different cutoffs)"
    assert said in comparison_text(c)
    same = _run("c" * 32, "backtest", {"auc": 0.89, "wape": 0.81},
                anticipate__cutoffs=cutoffs_value(["2025-01-21", "2025-01-28", "2025-01-21"]))
    assert compare_runs([two, same]).verdict == 0  # one set, given in another order: like for like
    old = _run("e" * 32, "backtest", {"auc": 0.88, "wape": 0.9}, anticipate__cutoffs=None)  # an older run
    assert compare_runs([one, old]).unlike == [f"run(s) {'e' * 8} recorded only their first cutoff"]
    evaluate = _run("f" * 32, "evaluate", {"auc": 0.5})  # one cutoff: a one-cutoff backtest's set
    assert compare_runs([one, evaluate]).unlike == []


def test_a_long_cutoff_list_is_recorded_as_its_count_and_digest() -> None:
    from anticipate.tracking.tags import CUTOFFS_LIST_CHARS, cutoffs_value

    days = [f"2025-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    value = cutoffs_value(days)
    assert len(",".join(days)) > CUTOFFS_LIST_CHARS
    assert value.startswith("336 cutoffs 2025-01-01..2025-12-28 sha256:")
    assert value == cutoffs_value(list(reversed(days))) != cutoffs_value(days[:-1])


def test_other_lookbacks_are_other_tasks_and_a_lookback_sweep_says_so() -> None:
    """audit28 f05: lookback 365 scored 3,095 pairs, 60 scored 904; the 365-day run was named better and a
    lookback sweep marked it best (later with a warning): it now names no best child, and says why."""
    from anticipate.pipelines.experiment import ExperimentSpec, _experiment_result, no_best_reason
    from anticipate.tracking.compare import TASK_PARAMS, compare_runs, sweep_no_best_reason

    assert {"time.lookback_days", "time.horizon_days", "model.item_level"} <= set(TASK_PARAMS)
    long = _run("a" * 32, "evaluate", {"auc": 0.93}, params={"time.lookback_days": "365"})
    short = _run("b" * 32, "evaluate", {"auc": 0.80}, params={"time.lookback_days": "60"})
    c = compare_runs([long, short])
    assert c.verdict is None and c.unlike == ["time.lookback_days differs: they predict different things"]
    assert "time.lookback_days: 365, 60" in c.warnings[0]
    spec = ExperimentSpec(name="lb", grid={"time.lookback_days": [60, 365]})
    why = no_best_reason(spec)
    assert why is not None and why.startswith("no best child: the sweep varies time.lookback_days, which "
                                              "decides which pairs are scored or their label")
    results = {k: {"run_id": k, "metrics": {"val.auc": v, "auc": v}, "overrides": {"time.lookback_days": d}}
               for k, v, d in (("base", 0.93, 365), ("c", 0.8, 60))}
    out = _experiment_result(spec, "p", results, None, "base", 0, None)
    assert "<- best" not in out.text and out.text.endswith(why)
    assert out.to_json()["best_run_id"] is None and out.to_json()["no_best_reason"] == why
    assert "best_run_id" not in out.outputs and sorted(out.metrics) == ["base.auc", "base.val.auc"]
    assert sweep_no_best_reason(["model.train_windows", "features.families"], "val.auc") is None


@pytest.mark.parametrize("key", ["economics.value_local", "economics.cost_unsold",
                                 "economics.move_cost_per_km", "network.max_service_km"])
def test_plans_valued_in_other_money_get_no_winner(key: str) -> None:
    """audit28 f06: allocate runs with value_local 4 and 8 (objectives 179.3 vs 391.7) got a winner."""
    from anticipate.tracking.compare import compare_runs, no_winner

    for command in ("allocate", "backtest"):
        four = _run("a" * 32, command, {"objective": 179.3, "gap": 0.001}, params={key: "4.0"})
        eight = _run("b" * 32, command, {"objective": 391.7, "gap": 0.001}, params={key: "8.0"})
        c = compare_runs([four, eight])
        assert c.verdict is None and c.wins is None
        assert c.unlike == [f"{key} differs: their objectives are in different units"]
        assert f"({key}: 4.0, 8.0)" in c.warnings[0] and "other money" in c.warnings[0]
        assert no_winner(c).startswith("no winner named: the runs are not like for like")
    # an evaluate's metrics do not depend on the economics: still ranked
    a = _run("a" * 32, "evaluate", {"auc": 0.9}, params={key: "4.0"})
    b = _run("b" * 32, "evaluate", {"auc": 0.8}, params={key: "8.0"})
    assert compare_runs([a, b]).verdict == 0


def test_allocate_objectives_under_other_forecasts_get_no_winner() -> None:
    """An allocate objective is an expectation under the run's own forecast: another model or forecast.*
    setting is another objective; a solver setting is what the comparison is for."""
    from anticipate.tracking.compare import compare_runs

    def alloc(run_id: str, objective: float, model: str = "models:/m/1", **params: str) -> RunRecord:
        return _run(run_id * 32, "allocate", {"objective": objective},
                    params={k.replace("__", "."): v for k, v in params.items()}, anticipate__model_uri=model)

    assert compare_runs([alloc("a", 2.0, forecast__dispersion="1.0"),
                         alloc("b", 3.0, forecast__dispersion="2.0")]).verdict is None
    assert compare_runs([alloc("a", 2.0), alloc("b", 3.0, "models:/m/2")]).unlike == [
        "they allocated with different models"]
    assert compare_runs([alloc("a", 2.0, allocate__gap_tolerance="0.001"),
                         alloc("b", 3.0, allocate__gap_tolerance="0.0001")]).verdict == 1


def test_allocate_models_are_told_apart_by_the_model_behind_the_uri() -> None:
    """audit29 B1: @production moved to a retrained model between two nights gave 'the runs tie' with
    per-metric stars; version 1 spelled '1' and '@production' gave 'different models'. The train run the
    URI resolved to (anticipate.model_run_id) decides; the URI only for runs recorded without it."""
    from anticipate.tracking.compare import compare_runs

    def alloc(run_id: str, uri: str, version: str | None, train: str | None) -> RunRecord:
        return _run(run_id * 32, "allocate", {"objective": 179.3}, anticipate__model_uri=uri,
                    anticipate__model_version=version, anticipate__model_run_id=train)

    moved = compare_runs([alloc("a", "models:/m@production", "1", "t1" * 16),
                          alloc("b", "models:/m@production", "2", "t2" * 16)])
    assert moved.unlike == ["they allocated with different models"] and moved.verdict is None
    assert "models:/m@production (version 1, train run t1t1t1t1)" in moved.warnings[0]
    same = compare_runs([alloc("a", "models:/m/1", "1", "t1" * 16),
                         alloc("b", "models:/m@production", "1", "t1" * 16)])
    assert same.unlike == [] and same.warnings == []
    old = compare_runs([alloc("a", "models:/m/1", None, None), alloc("b", "models:/m/1", None, None)])
    assert old.unlike == []


def test_a_backtest_compared_with_its_own_child_says_so_not_other_data() -> None:
    """audit28: a backtest-cutoff child recorded no data digest, so comparing it with its parent said 'they
    used different data'; children now carry the digest, and older ones take their parent's."""
    from anticipate.tracking.compare import compare_runs

    parent = _run("a" * 32, "backtest", {"auc": 0.9}, anticipate__cutoffs="2025-01-21,2025-01-28")
    old_child = _run("b" * 32, "backtest-cutoff", {"auc": 0.95}, anticipate__data_digest=None,
                     mlflow__parentRunId="a" * 32)
    c = compare_runs([parent, old_child])
    assert c.verdict is None
    assert c.unlike[0] == f"run {'b' * 8} is a child of run {'a' * 8} (backtest-cutoff of one backtest)"
    assert "they used different data" not in c.unlike
    assert "they used different cutoffs" in c.unlike  # all its cutoffs against one: true, and said
    sibling = _run("c" * 32, "backtest-cutoff", {"auc": 0.93}, anticipate__cutoff="2025-01-28",
                   mlflow__parentRunId="a" * 32)
    assert compare_runs([old_child, sibling]).unlike == ["they used different data",
                                                         "they used different cutoffs"]


def test_runs_list_marks_an_in_sample_score(tmp_path: Path) -> None:
    """audit28 f13: an evaluate --in-sample auc was listed unmarked beside test scores (text and --json)."""
    from anticipate.config import Config
    from anticipate.pipelines import Settings
    from anticipate.pipelines.runs import IN_SAMPLE_MARK, run_runs_list
    from anticipate.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, artifact_location=str(tmp_path / "mlartifacts"))
    for in_sample, auc in (("false", 0.8), ("true", 0.97)):
        tagged = {"anticipate.in_sample": in_sample}
        with tracker.run("evaluate", cutoff="2025-01-14", extra_tags=tagged) as run:
            run.log_metrics({"auc": auc})
    listed = run_runs_list(Settings(cfg=Config(), data_dir=tmp_path, tracking_uri=uri, progress=False))
    rows = listed.extra["runs"]
    assert [(r["metrics"]["auc"], r["in_sample"]) for r in rows] == [(0.97, True), (0.8, False)]
    flattered, honest = listed.text.splitlines()[1:]
    assert flattered.endswith(f"auc=0.97  {IN_SAMPLE_MARK}") and IN_SAMPLE_MARK not in honest


@pytest.mark.parametrize("key", ["data.dir", "forecast.dispersion", "economics.value_local",
                                 "network.max_service_km", "model.registered_name"])
def test_a_grid_over_a_key_the_children_never_read_exits_2_naming_it(tmp_path: Path, key: str) -> None:
    """audit28 f17: a grid over data.dir ran every child on --data and logged data.dir=w2 beside w1's scores;
    grids over forecast.* / economics.* gave identical children and 'the base config is the best child'."""
    from anticipate.errors import ConfigError
    from anticipate.pipelines.experiment import load_spec

    path = tmp_path / "sweep.yaml"
    path.write_text(f"name: s\nmetric: auc\ngrid:\n  {key}: [1, 2]\n")
    with pytest.raises(ConfigError) as err:
        load_spec(path)
    assert err.value.exit_code == 2
    assert f"key 'grid.{key}'" in str(err.value) and "time., features., model." in str(err.value)
    path.write_text(f"name: s\nrandom:\n  trials: 2\n  space:\n    {key}: [1, 2]\n")
    with pytest.raises(ConfigError, match=rf"key 'random.space.{key}'"):
        load_spec(path)
    for fine in ("time.lookback_days", "features.families", "model.classifier.num_leaves"):
        path.write_text(f"name: s\ngrid:\n  {fine}: [1]\n")
        assert list(load_spec(path).grid or {}) == [fine]
