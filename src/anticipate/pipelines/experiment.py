"""``experiment run``: a sweep over config keys as an MLflow parent run with child runs.

An experiment file (YAML) names a base config (default: the config the command runs with,
``--config``), the metric that picks the winner and either a ``grid`` (every combination)
or a seeded ``random`` search::

    name: horizon-sweep
    base: configs/default.yaml      # optional, relative to the working directory
    metric: auc                     # the measure: chosen on val.auc, reported with the test auc
    grid:
      time.horizon_days: [3, 7, 14]

Each child trains (unregistered) and evaluates with its overrides; the base config
itself is always the first child, ``base``. Re-running the same file on the same base
config and data resumes: the parent run is reopened and children already FINISHED with the
same params are skipped; a changed base config or data directory starts a new parent. The
run ends with the best child and its comparison against the base.

The best child is chosen on the metric of its validation window (``val.NAME``: the last
training window, before the cutoff it is evaluated at), and its test score (``NAME`` at the
evaluation cutoff) is reported beside it: a score used to pick the winner is no longer a
test score. ``select_on: test`` picks on the test metric instead, and the result then
carries a warning that its best test score is a selection score.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anticipate.config import Config, load_config, set_dotted, validate_config
from anticipate.config_yaml import read_yaml
from anticipate.errors import ConfigError
from anticipate.pipelines import Result, Settings
from anticipate.progress import track
from anticipate.tracking import tags


class RandomSpace(BaseModel):
    """A seeded random search: ``trials`` draws from ``space`` (lists = choices, or low/high ranges)."""

    model_config = ConfigDict(extra="forbid")
    trials: int = Field(ge=1, le=1000)
    seed: int = Field(0, ge=0)  # numpy's default_rng: -1 was a ValueError, exit 1
    space: dict[str, Any]


class ExperimentSpec(BaseModel):
    """The experiment file, validated (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    base: str | None = None
    metric: str = "auc"
    select_on: Literal["validation", "test"] = "validation"
    grid: dict[str, list[Any]] | None = None
    random: RandomSpace | None = None


def load_spec(path: Path) -> ExperimentSpec:
    """Read and validate an experiment file; ConfigError naming the key on any problem."""
    raw = read_yaml(Path(path))
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"key '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in exc.errors())
        raise ConfigError(f"experiment file {path}: {problems}") from None
    if (spec.grid is None) == (spec.random is None):
        raise ConfigError(f"experiment file {path}: give exactly one of 'grid' or 'random'")
    if spec.random is not None and not spec.random.space:
        raise ConfigError(f"experiment file {path}: key 'random.space' is empty; name at least one key, "
                          "e.g. space: {model.classifier.learning_rate: {low: 0.02, high: 0.2, log: true}}")
    if spec.grid is not None and (not spec.grid or any(len(v) == 0 for v in spec.grid.values())):
        raise ConfigError(
            f"experiment file {path}: the grid is empty; list at least one value per key, "
            "e.g. grid: {time.horizon_days: [3, 7, 14]}"
        )
    _check_metric(spec.metric, path)
    _check_keys(spec, path)
    return spec


#: The config sections a sweep may vary, the only ones a child's train and evaluate read (a grid over
#: data.dir logged w2 beside w1's scores, one over forecast.* gave identical children: audit28 f17).
SWEEP_SECTIONS = ("time", "features", "model")
#: Keys in those sections that a child does not read either (its model is logged, not registered).
UNSWEPT_KEYS = ("model.registered_name",)


def _check_keys(spec: ExperimentSpec, path: Path) -> None:
    """ConfigError (exit 2) naming the first grid / random key a child does not read."""
    where = "grid" if spec.grid is not None else "random.space"
    for key in list(spec.grid or {}) + list(spec.random.space if spec.random else {}):
        if key.split(".", 1)[0] not in SWEEP_SECTIONS or key in UNSWEPT_KEYS:
            raise ConfigError(
                f"experiment file {path}: key '{where}.{key}': a sweep's children train and evaluate on the "
                f"command's --data with the model settings, and never read {key}, so its children would "
                f"differ only in name; vary keys under {', '.join(s + '.' for s in SWEEP_SECTIONS)} "
                f"(not {', '.join(UNSWEPT_KEYS)}), and run one sweep per data directory (--data) or "
                "compare backtests for economics, network and forecast settings"
            )


#: The metrics a child's train (``val.NAME``) and evaluate (``NAME``) both record: what a sweep can pick on.
SWEEP_METRICS = ("auc", "ap", "logloss", "brier", "ece", "precision_at_10pct", "lift_at_10pct")


def _check_metric(metric: str, path: Path) -> None:
    """The sweep's metric must be one its children record (:data:`SWEEP_METRICS`), or no best can be
    named; checked before any child trains (``wape`` passed the check and failed after the sweep)."""
    if metric.removeprefix("val.") not in SWEEP_METRICS:
        raise ConfigError(
            f"experiment file {path}: key 'metric': the children do not record {metric!r} (they train and "
            f"evaluate the next-purchase model); use one of {', '.join(SWEEP_METRICS)} (optionally as "
            f"val.NAME)"
        )


def selection_metric(spec: ExperimentSpec) -> str:
    """The metric the best child is chosen on: ``val.NAME`` unless ``select_on: test`` (``NAME``)."""
    name = spec.metric.removeprefix("val.")
    return name if spec.select_on == "test" and not spec.metric.startswith("val.") else f"val.{name}"


def reported_metric(spec: ExperimentSpec) -> str:
    """The metric reported as the children's test score: ``NAME`` at each child's evaluation cutoff."""
    return spec.metric.removeprefix("val.")


def selection_warning(spec: ExperimentSpec) -> str | None:
    """The warning of a sweep that picks its winner on the test metric (``select_on: test``)."""
    if selection_metric(spec) != reported_metric(spec):
        return None
    name = reported_metric(spec)
    return (f"the best child was chosen on the test metric {name} (select_on: test), so its {name} is a "
            f"selection score, optimistic for new data; choose on val.{name} (select_on: validation, the "
            f"default) for an honest test score")


def expand(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """The children's overrides: grid combinations in file order, or seeded random draws."""
    if spec.grid is not None:
        keys = list(spec.grid)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*spec.grid.values())]
    assert spec.random is not None
    rng = np.random.default_rng(spec.random.seed)
    return [{k: _draw(rng, k, v) for k, v in spec.random.space.items()} for _ in range(spec.random.trials)]


def _draw(rng: np.random.Generator, key: str, space: Any) -> Any:
    if isinstance(space, list) and space:
        return space[int(rng.integers(len(space)))]
    if isinstance(space, dict) and {"low", "high"} <= set(space):
        low, high = float(space["low"]), float(space["high"])
        if low > high or (space.get("log") and low <= 0):
            raise ConfigError(f"random space for '{key}': low ({low:g}) must be at most high ({high:g}) and "
                              f"above 0 with log: true")
        if space.get("log"):
            value = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        else:
            value = float(rng.uniform(low, high))
        return round(value) if space.get("int") else value
    raise ConfigError(f"random space for '{key}' must be a list of choices or {{low, high[, log, int]}}")


def child_key(overrides: dict[str, Any]) -> str:
    """A stable key for a child's params (resume skips children with the same key)."""
    return hashlib.sha256(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:16]


def child_config(settings: Settings, spec: ExperimentSpec, overrides: dict[str, Any]) -> Config:
    """A child's config: the spec's ``base`` file when it names one, else the config the command
    runs with (``--config``), with the child's dotted ``overrides`` on top."""
    if spec.base is not None:
        return load_config(spec.base, overrides=overrides)
    raw = settings.cfg.model_dump(mode="json")
    for dotted, value in overrides.items():
        raw = set_dotted(raw, dotted, value)
    return validate_config(raw, source="the command's config with the experiment's overrides")


def _validate_children(settings: Settings, spec: ExperimentSpec, children: list[dict[str, Any]],
                       source: Path) -> None:
    for overrides in children:
        try:
            child_config(settings, spec, overrides)
        except ConfigError as exc:
            raise ConfigError(f"experiment file {source}: {exc}") from None


def spec_digest(settings: Settings, spec: ExperimentSpec) -> str:
    """What a resumed sweep must share with the first: the spec, the base config it resolves to and
    the data directory's tables (their digests), so a changed base or re-ingested data starts anew."""
    from anticipate.storage.files import data_dir_digest

    h = hashlib.sha256(spec.model_dump_json().encode())
    h.update(child_config(settings, spec, {}).model_dump_json().encode())
    h.update(data_dir_digest(settings.data_dir).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Steps:
    """The commands a child runs, handed in by the caller so that pipelines never import each other.

    ``train(settings, parent_run_id=..., register=False) -> Result`` and
    ``evaluate(settings, model=URI, parent_run_id=...) -> Result``.
    """

    train: Callable[..., Result]
    evaluate: Callable[..., Result]


def run_experiment(settings: Settings, *, spec_path: Path, steps: Steps) -> Result:
    """Run (or resume) every child of an experiment file; report the best against the base."""
    from anticipate.pipelines._common import open_tracker
    from anticipate.tracking import RunReader

    spec = load_spec(spec_path)
    children = [{}, *[c for c in expand(spec) if c]]
    _validate_children(settings, spec, children, spec_path)
    digest = spec_digest(settings, spec)
    tracker = open_tracker(settings)
    reader = RunReader(tracker)
    parent_id = _find_parent(reader, spec.name, digest)
    done = _finished_children(reader, parent_id) if parent_id else {}
    skipped = 0
    results: dict[str, dict[str, float]] = {}
    with tracker.run(
        "experiment",
        cfg=child_config(settings, spec, {}),  # the config the children build on, not the command's
        run_name=f"experiment:{spec.name}",
        extra_tags={tags.TAG_EXPERIMENT: spec.name, tags.TAG_SPEC: digest},
        resume_run_id=parent_id,
    ) as parent:
        for overrides in track(
            children, total=len(children), enabled=settings.progress, description=f"experiment {spec.name}"
        ):
            key = child_key(overrides)
            if key in done:
                skipped += 1
                results[key] = done[key]
                continue
            results[key] = _run_child(settings, spec, overrides, key, tracker, parent.run_id, steps)
        base_key = child_key({})
        chosen_on = selection_metric(spec)
        best_key = _best(results, chosen_on, base_key)
        best_metrics = results[best_key]["metrics"]
        shown = dict.fromkeys((chosen_on, reported_metric(spec)))
        parent.log_metrics({f"best.{m}": best_metrics[m] for m in shown if m in best_metrics})
    compare = None
    if best_key != base_key:
        compare = _compare(reader, results[base_key]["run_id"], results[best_key]["run_id"], chosen_on)
    return _experiment_result(spec, parent.run_id, results, best_key, base_key, skipped, compare,
                              base_warnings(settings, spec))


def base_warnings(settings: Settings, spec: ExperimentSpec) -> list[str]:
    """A warning when the spec's ``base:`` file replaces a command config that differs from the defaults
    (a ``--config``): its children build on ``base:`` (laid over ./configs/default.yaml), not on it."""
    if spec.base is None or settings.cfg == load_config(None):
        return []
    return [f"the experiment file's base: {spec.base} replaces the command's config (--config): the children "
            f"build on {spec.base}, laid over ./configs/default.yaml when it exists; put the keys you meant "
            "in the base file, or drop base: to build on --config"]


def _compare(reader: Any, base_run: str, best_run: str, metric: str) -> Any:
    """The base and the best child compared, the winner decided by the sweep's own metric."""
    from anticipate.tracking.compare import compare_runs

    return compare_runs([reader.get(base_run), reader.get(best_run)], decide_by=metric)


def _find_parent(reader: Any, name: str, digest: str) -> str | None:
    runs = reader.search(tags.experiment_parent(name, digest), max_results=1)
    return runs[0].run_id if runs else None


def _finished_children(reader: Any, parent_id: str) -> dict[str, dict[str, Any]]:
    runs = reader.search(tags.all_of(tags.children_of(parent_id), tags.finished()), max_results=1000)
    return {
        r.tags[tags.TAG_CHILD]: {
            "run_id": r.run_id,
            "metrics": r.metrics,
            "overrides": json.loads(r.tags.get(tags.TAG_OVERRIDES, "{}")),
        }
        for r in runs
        if tags.TAG_CHILD in r.tags
    }


def _run_child(
    settings: Settings,
    spec: ExperimentSpec,
    overrides: dict[str, Any],
    key: str,
    tracker: Any,
    parent_id: str,
    steps: Steps,
) -> dict[str, Any]:
    import time
    from dataclasses import replace

    cfg = child_config(settings, spec, overrides)
    label = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "base"
    with tracker.run(
        "experiment-child",
        cfg=cfg,
        run_name=label,
        parent_run_id=parent_id,
        extra_tags={tags.TAG_CHILD: key, tags.TAG_OVERRIDES: json.dumps(overrides, default=str)},
    ) as child:
        child.log_params({f"override.{k}": v for k, v in overrides.items()})
        # each nested run starts when its own step starts, not when the sweep did
        trained = steps.train(
            replace(settings, cfg=cfg, progress=False, started_at=time.time()),
            parent_run_id=child.run_id,
            register=False,
        )
        evaluated = steps.evaluate(
            replace(settings, cfg=cfg, progress=False, started_at=time.time()),
            model=trained.outputs["model_uri"],
            parent_run_id=child.run_id,
        )
        metrics = {**trained.metrics, **evaluated.metrics}
        child.log_metrics(metrics)
        child.set_tags({tags.TAG_CUTOFF: evaluated.extra["cutoff"]})
    return {"run_id": child.run_id, "metrics": metrics, "overrides": overrides}


def _best(results: dict[str, dict[str, Any]], metric: str, base_key: str) -> str:
    """The child best on ``metric`` by its direction; on a tie the base, else the first in file order."""
    from anticipate.tracking.compare import direction, leaders

    keys = [k for k, r in results.items() if metric in r["metrics"]]
    if not keys:
        raise ConfigError(
            f"no child logged the metric '{metric}'; name a metric that evaluate logs (e.g. auc)"
        )
    values = [float(results[k]["metrics"][metric]) for k in keys]
    top = [keys[i] for i in leaders(values, direction(metric) is not False)]
    return base_key if base_key in top else top[0]


def _experiment_result(
    spec: ExperimentSpec,
    parent_id: str,
    results: dict[str, dict[str, Any]],
    best: str,
    base: str,
    skipped: int,
    compare: Any,
    config_warnings: tuple[str, ...] | list[str] = (),
) -> Result:
    from anticipate.tracking.compare import comparison_text, sweep_task_warning

    chosen_on, tested = selection_metric(spec), reported_metric(spec)
    lines = [
        f"experiment {spec.name}: {len(results)} children ({skipped} resumed), parent run {parent_id}",
        f"chosen on {chosen_on}"
        + ("" if chosen_on == tested else f" (validation window); {tested}: the test score at the cutoff"),
        "",
    ]
    nan = float("nan")
    for key, r in results.items():
        label = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "base"
        mark = "  <- best" if key == best else ""
        scores = "  ".join(f"{m}={r['metrics'].get(m, nan):.4f}" for m in dict.fromkeys((chosen_on, tested)))
        lines.append(f"  {label:50} {scores}{mark}")
    lines.append("")
    lines.append(comparison_text(compare) if compare else "the base config is the best child")
    best_r = results[best]
    warning = selection_warning(spec)
    task = sweep_task_warning(list(spec.grid or {}) + list(spec.random.space if spec.random else {}))
    return Result(
        command="experiment run",
        run_id=parent_id,
        metrics={
            f"{who}.{m}": r["metrics"].get(m, nan)
            for who, r in (("best", best_r), ("base", results[base]))
            for m in dict.fromkeys((chosen_on, tested))
        },
        counts={"children": len(results), "resumed": skipped},
        outputs={"best_run_id": best_r["run_id"]},
        text="\n".join(lines),
        warnings=[*config_warnings, *(w for w in (warning, task) if w),
                  *(compare.warnings if compare else [])],
    )
