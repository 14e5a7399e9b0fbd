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
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anticipate.config import Config, load_config, set_dotted, validate_config
from anticipate.errors import ConfigError
from anticipate.pipelines import Result, Settings
from anticipate.progress import track
from anticipate.sweep import (
    ExperimentSpec,
    child_key,
    expand,
    load_spec,
    reported_metric,
    selection_metric,
    selection_warning,
    varied_keys,
)
from anticipate.tracking import tags


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


def spec_digest(settings: Settings, spec: ExperimentSpec, data_digest: str | None = None) -> str:
    """What a resumed sweep must share with the first: the spec, the base config it resolves to and
    the data directory's tables (their digests; ``data_digest`` when already computed, as
    :func:`~anticipate.storage.files.data_dir_digest` gives it), so a changed base or re-ingested data
    starts anew."""
    from anticipate.storage.files import data_dir_digest

    h = hashlib.sha256(spec.model_dump_json().encode())
    h.update(child_config(settings, spec, {}).model_dump_json().encode())
    h.update((data_digest or data_dir_digest(settings.data_dir)).encode())
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
    from anticipate.storage.files import data_dir_digest
    from anticipate.tracking import RunReader

    spec = load_spec(spec_path)
    children = [{}, *[c for c in expand(spec) if c]]
    _validate_children(settings, spec, children, spec_path)
    data = data_dir_digest(settings.data_dir)  # recorded by the parent and every child, as train's runs
    digest = spec_digest(settings, spec, data)
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
        data_digest=data, data_source=str(settings.data_dir),
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
            results[key] = _run_child(settings, spec, overrides, key, (tracker, parent.run_id, data), steps)
        base_key, chosen_on = child_key({}), selection_metric(spec)
        best_key = None if no_best_reason(spec) else _best(results, chosen_on, base_key)
        if best_key is not None:
            best_metrics = results[best_key]["metrics"]
            shown = dict.fromkeys((chosen_on, reported_metric(spec)))
            parent.log_metrics({f"best.{m}": best_metrics[m] for m in shown if m in best_metrics})
    compare = None
    if best_key not in (None, base_key):
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
    where: tuple[Any, str, str],
    steps: Steps,
) -> dict[str, Any]:
    """Train and evaluate one child under its own run, nested in the parent; ``where``: the tracker, the
    parent's run id and the data's digest, which the child records (tag and dataset input) as its train
    and evaluate runs do (a child without it could not be told from a child of other data)."""
    import time
    from dataclasses import replace

    tracker, parent_id, data = where
    cfg = child_config(settings, spec, overrides)
    label = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "base"
    with tracker.run(
        "experiment-child",
        cfg=cfg,
        run_name=label,
        parent_run_id=parent_id,
        data_digest=data, data_source=str(settings.data_dir),
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


def no_best_reason(spec: ExperimentSpec) -> str | None:
    """Why the sweep names no best child (None when it does): its keys vary the task
    (:func:`~anticipate.tracking.compare.sweep_no_best_reason`), so its children score other pairs."""
    from anticipate.tracking.compare import sweep_no_best_reason

    return sweep_no_best_reason(varied_keys(spec), selection_metric(spec))


def _experiment_result(
    spec: ExperimentSpec,
    parent_id: str,
    results: dict[str, dict[str, Any]],
    best: str | None,
    base: str,
    skipped: int,
    compare: Any,
    config_warnings: tuple[str, ...] | list[str] = (),
) -> Result:
    """The sweep's Result: each child's scores, the best marked and compared with the base, or, with
    ``best`` None (a sweep over the task, :func:`no_best_reason`), no best and why (``no_best_reason``
    in --json, ``best_run_id`` null)."""
    from anticipate.tracking.compare import comparison_text

    chosen_on, tested = selection_metric(spec), reported_metric(spec)
    why = no_best_reason(spec) if best is None else None
    lines = [
        f"experiment {spec.name}: {len(results)} children ({skipped} resumed), parent run {parent_id}",
        ("scored on" if why else "chosen on") + f" {chosen_on}"
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
    lines.append(why or (comparison_text(compare) if compare else "the base config is the best child"))
    named = {"best": results[best]} if best is not None else {}
    warning = selection_warning(spec) if best is not None else None
    return Result(
        command="experiment run",
        run_id=parent_id,
        metrics={
            f"{who}.{m}": r["metrics"].get(m, nan)
            for who, r in (*named.items(), ("base", results[base]))
            for m in dict.fromkeys((chosen_on, tested))
        },
        counts={"children": len(results), "resumed": skipped},
        outputs={"best_run_id": results[best]["run_id"]} if best is not None else {},
        extra={"best_run_id": results[best]["run_id"] if best is not None else None, "no_best_reason": why},
        text="\n".join(lines),
        warnings=[*config_warnings, *([warning] if warning else []), *(compare.warnings if compare else [])],
    )
