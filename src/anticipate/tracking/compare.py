"""Comparing runs: the model's own metrics side by side, each by its direction, and the verdict.

A run logs the model's metrics unprefixed (``auc``, ``value_captured``) or as
validation metrics (``val.auc``), and reference predictors under a prefix
(``baseline_rf.auc``, ``oracle.auc``, ``naive.value_captured``, ``truth.*``). Only the
model's own metrics are compared: a baseline scoring better in one run is not a win
for that run's model. The direction of a metric is read from
:data:`anticipate.metrics.HIGHER_IS_BETTER` (by its last dotted part); a metric
without a direction is shown but never counted. Values within a relative 1e-9 of
each other tie: a tie has no winner, per metric and overall. With ``decide_by`` (the
sweep's metric) the verdict is that metric's winner, so ``runs compare`` and the
sweep's ``<- best`` cannot disagree.

Runs that are not like for like (:func:`unlike_reasons`: other data, other cutoffs, another
prediction task, plans valued in other money, a parent and its child, or scored in sample) get
no winner at all, neither overall nor per metric: the table shows their values and deltas, the
warnings say why, and the verdict says that no winner is named and for what reason
(:func:`no_winner`). A horizon or lookback sweep's children are such runs: the sweep names no best
child either (:func:`sweep_no_best_reason`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from anticipate.tracking.tags import (
    TAG_CUTOFF,
    TAG_CUTOFFS,
    TAG_DIGEST,
    TAG_IN_SAMPLE,
    TAG_MODEL_RUN,
    TAG_MODEL_URI,
    TAG_MODEL_VERSION,
    TAG_PARENT,
)

#: The prefix of a logged name that still means "this run's model" (validation metrics).
MODEL_PREFIXES = frozenset({"val"})
TIE_RTOL = 1e-9


def is_model_metric(name: str) -> bool:
    """Whether ``name`` is the run's own model's metric (``auc``, ``val.auc``), not a reference's."""
    head, dot, _ = name.partition(".")
    return not dot or head in MODEL_PREFIXES


def direction(name: str) -> bool | None:
    """True if higher is better, False if lower is, None if unknown (by the last dotted part)."""
    from anticipate.metrics import HIGHER_IS_BETTER

    return HIGHER_IS_BETTER.get(name.rsplit(".", 1)[-1])


def leaders(values: list[float], higher_is_better: bool) -> list[int]:
    """Indexes of the best value(s): every value tying the best within ``TIE_RTOL``."""
    best = max(values) if higher_is_better else min(values)
    return [i for i, v in enumerate(values) if math.isclose(v, best, rel_tol=TIE_RTOL, abs_tol=0.0)]


def winner(values: list[float], higher_is_better: bool | None) -> int | None:
    """The index of the one best value, or None on a tie or an unknown direction."""
    if higher_is_better is None or len(values) < 2:
        return None
    top = leaders(values, higher_is_better)
    return top[0] if len(top) == 1 else None


@dataclass
class Comparison:
    """Runs compared: differing params, the model metrics table, wins and the verdict."""

    runs: list[Any]
    params: dict[str, list[str | None]]
    table: dict[str, dict[str, Any]]
    wins: list[int] | None  # None: not like for like, nothing is counted
    verdict: int | None
    decide_by: str | None = None
    warnings: list[str] = field(default_factory=list)
    unlike: list[str] = field(default_factory=list)  # why the runs are not like for like (no winner)

    @property
    def ids(self) -> list[str]:
        """The runs' 8-character short ids, as ``runs list`` prints them."""
        return [r.run_id[:8] for r in self.runs]


def differing_params(runs: list[Any]) -> dict[str, list[str | None]]:
    """Params whose values are not the same in every run (missing counts as a value)."""
    keys = sorted(set().union(*(r.params for r in runs)))
    out = {}
    for key in keys:
        values = [r.params.get(key) for r in runs]
        if len(set(values)) > 1:
            out[key] = values
    return out


def compare_metrics(runs: list[Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The model metrics every run has: values, delta to the first run, direction, best run.

    Returns the table and the model metrics left out because not every run has them.
    """
    own = [{k: v for k, v in r.metrics.items() if is_model_metric(k)} for r in runs]
    shared = sorted(set.intersection(*(set(m) for m in own)))
    union = sorted(set().union(*own))
    table: dict[str, dict[str, Any]] = {}
    for name in shared:
        values = [float(m[name]) for m in own]
        higher = direction(name)
        table[name] = {
            "values": values,
            "delta": [v - values[0] for v in values],
            "higher_is_better": higher,
            "best": winner(values, higher),
        }
    return table, [m for m in union if m not in shared]


#: The config keys (run params) that decide which pairs are scored or what their label is: runs that
#: differ in one are scored on other pairs or labels, so their metrics cannot rank them (every command).
TASK_PARAMS = (
    "model.item_level",  # the item of a pair (SKU or category): other pairs, other labels
    "time.horizon_days",  # the label: a purchase within this many days after the cutoff
    "time.lookback_days",  # the pairs: a customer x item with a line this many days before the cutoff
)

#: The commands whose metrics are a plan's money or its local fill: allocate (the objective) and backtest.
PLAN_COMMANDS = frozenset({"allocate", "backtest"})

#: The config keys that change what an allocate or backtest objective is measured in or the problem it
#: is the optimum of: runs that differ in one have objectives in other money (audit28 f06: value_local
#: 4 vs 8, objectives 179.3 vs 391.7), so no winner is named between them.
PLAN_PARAMS = (
    "economics.value_local",  # g, currency per unit sold locally: the objective's money
    "economics.cost_unsold",  # h, currency per pre-positioned unit left unsold: the objective's money
    "economics.move_cost_per_km",  # the cost of every move in the objective (currency per unit per km)
    "network.max_service_km",  # which warehouse serves a region: what counts as local, km saved
    "network.centre_lat",  # the centre the moves, their cost and the km saved are measured from
    "network.centre_lon",
)

#: The config prefix of the keys that change an allocate run's forecast: its objective is the expected
#: value under that forecast, so another forecast is another objective (a backtest scores its plans on
#: the real orders, so forecast settings are what a backtest compares, and they are not listed for it).
ALLOCATE_FORECAST_PREFIX = "forecast."


def cutoff_set(run: Any) -> str | None:
    """The cutoffs a run's metrics are over: a backtest's every cutoff (``anticipate.cutoffs``), another
    run's one cutoff (``anticipate.cutoff``, so a one-cutoff backtest matches an evaluate at it)."""
    return run.tags.get(TAG_CUTOFFS, run.tags.get(TAG_CUTOFF))


def _data_digest(run: Any, by_id: dict[str, Any]) -> str | None:
    """The run's data digest, or, for a child that did not record one, its parent's when compared too."""
    own = run.tags.get(TAG_DIGEST)
    parent = by_id.get(run.tags.get(TAG_PARENT, ""))
    return own if own is not None or parent is None else parent.tags.get(TAG_DIGEST)


def _family_reasons(runs: list[Any]) -> list[tuple[str, str]]:
    """A run compared with its own parent (a backtest and one of its cutoffs, a sweep and a variant)."""
    by_id = {r.run_id: r for r in runs}
    found = []
    for run in runs:
        parent = by_id.get(run.tags.get(TAG_PARENT, ""))
        if parent is not None:
            child, whole = run.run_id[:8], parent.run_id[:8]
            found.append((
                f"run {child} is a child of run {whole} ({run.command} of one {parent.command})",
                f"run {child} is a child of run {whole}: one {run.command} of that {parent.command}, whose "
                "metrics are over all its children; compare children with children, parents with parents",
            ))
    return found


def _tag_reasons(runs: list[Any]) -> list[tuple[str, str]]:
    """Other data digests or other cutoffs (a backtest's full list of cutoffs, not only its first)."""
    by_id = {r.run_id: r for r in runs}
    found = []
    for what, tag, values in (("data", TAG_DIGEST, {_data_digest(r, by_id) for r in runs}),
                              ("cutoffs", TAG_CUTOFFS + " or " + TAG_CUTOFF, {cutoff_set(r) for r in runs})):
        if len(values) > 1:
            shown = " | ".join(sorted(_short(v, what) for v in values))
            found.append((
                f"they used different {what}",
                f"the runs used different {what} ({tag}: {shown}); their metrics are not like for like",
            ))
    old = sorted(r.run_id[:8] for r in runs if r.command == "backtest" and TAG_CUTOFFS not in r.tags)
    if old and not any(reason.endswith("cutoffs") for reason, _ in found):
        found.append((
            f"run(s) {', '.join(old)} recorded only their first cutoff",
            f"backtest run(s) {', '.join(old)} recorded only their first cutoff ({TAG_CUTOFF}; made before "
            f"{TAG_CUTOFFS} was recorded), so whether the runs cover the same cutoffs is unknown; re-run "
            "the backtest to compare it",
        ))
    return found


def _short(value: str | None, what: str) -> str:
    return str(value)[:12] if what == "data" else str(value)


def _param_reasons(runs: list[Any], keys: list[str], what: str) -> list[tuple[str, str]]:
    """One reason per key of ``keys`` whose values differ among the runs that record it; ``what`` is a key
    of :data:`_CONSEQUENCE` (the short reason; its value ends the warning)."""
    found = []
    for key in keys:
        values = {r.params.get(key) for r in runs if key in r.params}
        if len(values) > 1:
            found.append((f"{key} differs: {what}",
                          _CONSEQUENCE[what].format(f"{key}: {', '.join(sorted(map(str, values)))}")))
    return found


_CONSEQUENCE = {
    "they predict different things": "the runs predict different things ({}): their metrics are scored on "
    "different pairs and labels and are not like for like",
    "their objectives are in different units": "the runs' plans are valued in other money or solve another "
    "problem ({}): their objectives and value metrics cannot rank them",
    "their objectives are under different forecasts": "the allocate runs forecast differently ({}): an "
    "allocate objective is the expected value under the run's own forecast and cannot rank them",
}


def _model_of(run: Any) -> str | None:
    """The model a scoring run used: the train run that logged it (TAG_MODEL_RUN), which ``models:/name/1``
    and ``models:/name@production`` share when the alias points at version 1 and an alias moved since
    does not; the URI as given for runs recorded before that tag."""
    return run.tags.get(TAG_MODEL_RUN) or run.tags.get(TAG_MODEL_URI)


def _model_label(run: Any) -> str:
    version = run.tags.get(TAG_MODEL_VERSION)
    train = run.tags.get(TAG_MODEL_RUN)
    said = [f"version {version}" if version else "", f"train run {train[:8]}" if train else ""]
    return f"{run.tags.get(TAG_MODEL_URI)} ({', '.join(w for w in said if w) or 'not resolved'})"


def unlike_reasons(runs: list[Any]) -> list[tuple[str, str]]:
    """Why the runs are not like for like, as (short reason, warning) pairs; empty when they are.

    A run and its own parent; different data digests or cutoffs (a backtest's every cutoff); different
    prediction tasks (:data:`TASK_PARAMS`); for allocate and backtest runs, different economics or network
    (:data:`PLAN_PARAMS`), for allocate runs a different forecast (``forecast.*``, the model); or a run
    scored in sample (``evaluate --in-sample``).
    """
    found = _family_reasons(runs) + _tag_reasons(runs)
    found += _param_reasons(runs, list(TASK_PARAMS), "they predict different things")
    plans = [r for r in runs if r.command in PLAN_COMMANDS]
    found += _param_reasons(plans, list(PLAN_PARAMS), "their objectives are in different units")
    allocates = [r for r in runs if r.command == "allocate"]
    forecast_keys = sorted({k for r in allocates for k in r.params if k.startswith(ALLOCATE_FORECAST_PREFIX)})
    found += _param_reasons(allocates, forecast_keys, "their objectives are under different forecasts")
    models = {_model_of(r) for r in allocates}
    if len(models) > 1:
        named = f"models {', '.join(sorted(_model_label(r) for r in allocates))}"
        found.append(("they allocated with different models",
                      _CONSEQUENCE["their objectives are under different forecasts"].format(named)))
    seen = sorted(str(r.run_id)[:8] for r in runs if r.tags.get(TAG_IN_SAMPLE) == "true")
    if seen:
        found.append((
            f"run(s) {', '.join(seen)} scored in sample",
            f"run(s) {', '.join(seen)} scored a cutoff their model was trained or validated on "
            "(evaluate --in-sample, or a forecast or plan warned IN-SAMPLE): their metrics are not test "
            "scores and flatter them against the others",
        ))
    return found


def sweep_no_best_reason(keys: list[str], metric: str) -> str | None:
    """Why a sweep whose grid (or random space) ``keys`` vary a :data:`TASK_PARAMS` key names no best child
    on ``metric``: each child is scored on other pairs or labels; None when no such key is varied."""
    varied = [k for k in keys if k in TASK_PARAMS]
    if not varied:
        return None
    return (f"no best child: the sweep varies {', '.join(varied)}, which decides which pairs are scored or "
            f"their label, so each child's {metric} is over other pairs and cannot rank it against the "
            "others (runs compare names no winner between them either); sweep model.* or features.* keys "
            "at one task to pick settings, and compare tasks by what their plans capture (backtest)")


def data_warnings(runs: list[Any]) -> list[str]:
    """Warnings when the runs are not like for like (:func:`unlike_reasons`) or come from different
    commands."""
    warnings = [warning for _, warning in unlike_reasons(runs)]
    commands = {r.command for r in runs}
    if len(commands) > 1:
        warnings.append(
            f"the runs come from different commands ({', '.join(sorted(commands))}); "
            "only the metrics they share are compared"
        )
    return warnings


def compare_runs(runs: list[Any], *, decide_by: str | None = None) -> Comparison:
    """Compare two or more :class:`~anticipate.tracking.reader.RunRecord`.

    The verdict is the run with the most metric wins (None when the top count is
    shared, 0-0 included) or, with ``decide_by``, the winner on that metric. Runs that are not
    like for like (:func:`unlike_reasons`) have no verdict, no wins and no best run per metric.
    """
    table, left_out = compare_metrics(runs)
    unlike = [reason for reason, _ in unlike_reasons(runs)]
    warnings = data_warnings(runs)
    if left_out:
        warnings.append(
            f"{len(left_out)} metrics are not in every run and are left out: "
            f"{', '.join(left_out[:8])}{' ...' if len(left_out) > 8 else ''}"
        )
    if unlike:
        for row in table.values():
            row["best"] = None
        return Comparison(runs, differing_params(runs), table, None, None, decide_by, warnings, unlike)
    wins = [0] * len(runs)
    for row in table.values():
        if row["best"] is not None:
            wins[row["best"]] += 1
    if decide_by is not None:
        verdict = table[decide_by]["best"] if decide_by in table else None
    else:
        top = max(wins)
        verdict = wins.index(top) if top > 0 and wins.count(top) == 1 else None
    return Comparison(runs, differing_params(runs), table, wins, verdict, decide_by, warnings)


def comparison_text(c: Comparison) -> str:
    """The printed comparison: runs, differing params, the metrics table, wins and the verdict."""
    ids = c.ids
    lines = [
        f"runs: {', '.join(f'{i} ({r.command})' for i, r in zip(ids, c.runs, strict=True))}",
        "",
        "params that differ:" if c.params else "params: identical",
    ]
    lines += [f"  {k:32}" + "".join(f"{str(v)[:13]:>14}" for v in vals) for k, vals in c.params.items()]
    marks = "no run marked better: not like for like" if c.unlike else "* = better"
    lines += ["", "model metrics (^ higher / v lower is better, = no direction; delta to the first run; "
              f"{marks}):",
              f"{'':34}" + "".join(f"{i:>14}" for i in ids)]
    for name, row in c.table.items():
        cells = []
        for i, (v, d) in enumerate(zip(row["values"], row["delta"], strict=True)):
            mark = "*" if row["best"] == i else " "
            cells.append(f"{v:>9.4g}{'' if i == 0 else f'({d:+.3g})':>0}{mark}".rjust(14))
        arrow = {True: "^", False: "v", None: "="}[row["higher_is_better"]]
        lines.append(f"  {name:30}{arrow} " + "".join(cells))
    if c.wins is None:
        return "\n".join([*lines, "", f"{no_winner(c)}."])
    lines += ["", f"wins: {', '.join(f'{i}={w}' for i, w in zip(ids, c.wins, strict=True))}; {_verdict(c)}"]
    return "\n".join(lines)


def no_winner(c: Comparison) -> str | None:
    """Why no run is named the winner (None when one is): not like for like, or a tie."""
    if c.unlike:
        return (f"no winner named: the runs are not like for like ({'; '.join(c.unlike)}), so their "
                "metrics cannot rank them; compare runs of one task (and, for plans, one economics and "
                "network) scored out of sample on the same data and cutoffs")
    return None if c.verdict is not None else _verdict(c)


def _verdict(c: Comparison) -> str:
    if c.decide_by is not None:
        if c.decide_by not in c.table:
            return f"no winner: not every run has {c.decide_by}"
        if c.verdict is None:
            return f"no winner on {c.decide_by}: the runs tie"
        return f"run {c.ids[c.verdict]} is better on {c.decide_by}"
    if c.verdict is None and not c.table:  # 0-0 on nothing compared is no tie (audit25 F4)
        return ("no winner: the runs share no metric to compare (e.g. a train and an evaluate run); "
                "compare runs of one command")
    if c.verdict is None:
        return "no winner: the runs tie on the count of better metrics"
    return f"run {c.ids[c.verdict]} is better on the most metrics"
