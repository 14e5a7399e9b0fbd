"""The experiment file of ``experiment run`` (a sweep): its validation, its children's overrides (a grid or
a seeded random search) and the metric that picks the best child.

A sweep varies only keys its children read (:data:`SWEEP_SECTIONS`); one that varies a key deciding which
pairs are scored or their label names no best child, as its children's scores are
not like for like.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anticipate.config_yaml import dotted_leaves, read_yaml
from anticipate.errors import ConfigError


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
    """ConfigError (exit 2) naming the first grid / random key a child does not read; a key whose values
    are sections (``model: [{item_level: sku}]``) is checked as the dotted keys they set
    (:func:`varied_keys`)."""
    where = "grid" if spec.grid is not None else "random.space"
    for given, key in _dotted_keys(spec):
        if key.split(".", 1)[0] not in SWEEP_SECTIONS or key in UNSWEPT_KEYS:
            sets = f" (it sets {key})" if given != key else ""
            raise ConfigError(
                f"experiment file {path}: key '{where}.{given}'{sets}: a sweep's children train and evaluate "
                f"on the command's --data with the model settings, and never read {key}, so its children "
                f"would differ only in name; vary keys under {', '.join(s + '.' for s in SWEEP_SECTIONS)} "
                f"(not {', '.join(UNSWEPT_KEYS)}), and run one sweep per data directory (--data) or "
                "compare backtests for economics, network and forecast settings"
            )


def _dotted_keys(spec: ExperimentSpec) -> list[tuple[str, str]]:
    """``(key as given, dotted key it sets)`` for every grid / random key, in file order: a key whose
    values are mappings (a section, ``time: [{horizon_days: 3}]``) sets the dotted keys of their leaves,
    ``time.horizon_days`` (a bare section key passed the checks and named a best child across tasks)."""
    given = spec.grid or (spec.random.space if spec.random else {})
    out: list[tuple[str, str]] = []
    for key, values in given.items():
        choices = values if isinstance(values, list) else [values]
        if spec.random is not None and isinstance(values, dict) and {"low", "high"} <= set(values):
            choices = []  # a range of numbers: the key itself
        leaves = [leaf for value in choices for leaf, _ in dotted_leaves(value, key)] or [key]
        out += [(key, leaf) for leaf in dict.fromkeys(leaves)]
    return out


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


def varied_keys(spec: ExperimentSpec) -> list[str]:
    """The config keys the sweep varies: its grid's, or its random space's (dotted, in file order; a key
    whose values are sections counts as the dotted keys they set, :func:`_dotted_keys`)."""
    return list(dict.fromkeys(key for _, key in _dotted_keys(spec)))


def child_key(overrides: dict[str, Any]) -> str:
    """A stable key for a child's params (resume skips children with the same key)."""
    return hashlib.sha256(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:16]
