"""Honest evaluation: which cutoffs a trained model has already seen the answers of.

A model trained with ``train --until U`` fitted its rolling-origin windows and chose
its early stopping and calibration on the validation window, so every label before
``U`` (day, exclusive) is in its sample. A cutoff ``t`` is *out-of-sample* for it
only when ``t >= U``: the horizon ``[t, t + H)`` it is judged on starts after the
last label it saw. ``evaluate`` refuses an in-sample cutoff unless ``--in-sample``
is given (then the run and the table say so); ``backtest`` refuses a fixed
``--model`` at any cutoff before ``U``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.errors import CutoffError

#: The MLflow tag an evaluate run carries: "true" when scored on the model's own sample.

#: The label of an in-sample evaluation (table heading and warning).
IN_SAMPLE_NOTE = ("IN-SAMPLE (--in-sample): the model trained or validated on this window, "
                  "so these scores are not a test")


class InSampleCutoff(CutoffError):
    """A cutoff whose horizon the model trained or validated on (exit 2)."""


def trained_until(meta: dict[str, Any]) -> pd.Timestamp | None:
    """The first day whose labels the model did not see (``meta['until']``), or None when unknown.

    Falls back to the last training cutoff plus the horizon (days) for models whose
    meta predates ``until``; None when neither is recorded.
    """
    if meta.get("until"):
        return pd.Timestamp(meta["until"])
    cutoffs = meta.get("train_cutoffs") or []
    if cutoffs and meta.get("horizon_days"):
        return pd.Timestamp(max(cutoffs)) + pd.Timedelta(days=int(meta["horizon_days"]))
    return None


def in_sample(meta: dict[str, Any], cutoff: pd.Timestamp) -> bool:
    """True when ``cutoff`` lies before the model's training end (its labels were seen)."""
    until = trained_until(meta)
    return until is not None and cutoff < until


def _seen(meta: dict[str, Any], uri: str) -> str:
    until = dates.fmt(trained_until(meta))
    windows = meta.get("train_cutoffs") or []
    validation = f"; its validation window starts {windows[-1]}" if windows else ""
    return f"model {uri} was trained and validated on labels up to {until} (exclusive){validation}"


def check_evaluate_cutoff(
    meta: dict[str, Any], cutoff: pd.Timestamp, last_full: pd.Timestamp, *, uri: str, allow: bool
) -> bool:
    """Whether ``evaluate`` at ``cutoff`` is in-sample; exit 2 when it is and ``allow`` is False.

    ``last_full``: the data's last full cutoff (the latest with a whole horizon of
    labels). The message names the out-of-sample cutoffs (``until`` to ``last_full``)
    or, when there are none, how to get a model that has some.
    """
    if not in_sample(meta, cutoff):
        return False
    if allow:
        return True
    until = trained_until(meta)
    if until <= last_full:
        where = (f"the out-of-sample cutoffs for it run from {dates.fmt(until)} to {dates.fmt(last_full)}: "
                 f"pass --cutoff in that range")
    else:
        where = (f"no cutoff in this data is out-of-sample for it (the last full cutoff is "
                 f"{dates.fmt(last_full)}): to test a model, train it with --until D for an earlier D "
                 f"(the default) and evaluate at --cutoff D, then promote the one trained with "
                 f"--until latest")
    raise InSampleCutoff(
        f"cutoff {dates.fmt(cutoff)} is in-sample: {_seen(meta, uri)}, so its score there is not a test; "
        f"{where}, or pass --in-sample to score it anyway (the run is tagged and the table labelled "
        f"in-sample)"
    )


def predict_in_sample_warning(meta: dict[str, Any], cutoff: pd.Timestamp, *, uri: str) -> str | None:
    """``predict``'s warning when its cutoff is in-sample for the model (:func:`in_sample`), else None.

    Scores there are not refused (scoring history for analysis is legitimate) but they are not
    forecasts: the model saw the outcomes it is scoring, so they are better than it will ever do.
    """
    return in_sample_warning(meta, cutoff, uri=uri, what="these scores are", name="cutoff", option="--cutoff")


def in_sample_warning(
    meta: dict[str, Any], date: pd.Timestamp, *, uri: str, what: str, name: str, option: str
) -> str | None:
    """The one loud warning of a command that scores or plans at ``date`` (day) with a model trained past
    it (:func:`in_sample`): the model has seen that date's future. ``what`` names the output ("these
    scores are", "this plan is"), ``name`` the date ("cutoff", "plan date") and ``option`` the command's
    option that sets it (``--cutoff``, ``--date``)."""
    if not in_sample(meta, date):
        return None
    return (f"IN-SAMPLE: {name} {dates.fmt(date)} lies before the end of the model's training: "
            f"{_seen(meta, uri)}, so it has seen the future of that date and {what} fitted, not forecast: "
            f"better than the model will ever do; use {option} {dates.fmt(trained_until(meta))} or later, "
            f"or a model trained with --until {dates.fmt(date)} or earlier")


def check_backtest_model(meta: dict[str, Any], cutoffs: list[pd.Timestamp], *, uri: str) -> None:
    """Exit 2 when a fixed ``backtest --model`` was trained past any of ``cutoffs``, naming them."""
    seen = [c for c in cutoffs if in_sample(meta, c)]
    if not seen:
        return
    shown = ", ".join(dates.fmt(c) for c in seen[:8])
    shown += f" and {len(seen) - 8} more" if len(seen) > 8 else ""
    raise InSampleCutoff(
        f"backtest cutoff(s) {shown} lie before the end of the fixed model's training: {_seen(meta, uri)}, "
        f"so its plans there would use answers it already saw; use cutoffs from "
        f"{dates.fmt(trained_until(meta))} on, or leave out --model to train a model before each cutoff"
    )


def label_table(table: str, is_in_sample: bool) -> str:
    """``evaluate``'s metrics table, headed by a loud "in-sample" line when the scores are in-sample."""
    if not is_in_sample:
        return table
    return f"{IN_SAMPLE_NOTE}\n\n{table}"


def train_hint(meta: dict[str, Any], last_full: pd.Timestamp) -> str:
    """``train``'s closing hint: evaluate when an out-of-sample cutoff remains, else promote.

    ``last_full``: the data's last full cutoff. A model trained with ``--until latest``
    has seen every labelled window, so there is nothing left to evaluate it on.
    """
    until = trained_until(meta)
    if until is not None and until <= last_full:
        return "next: anticipate evaluate   (then: anticipate promote latest --alias production)"
    return ("next: anticipate promote latest --alias production   (this model saw every labelled window, so "
            "no cutoff is left to evaluate it on; judge the recipe with a model trained with the default "
            "--until)")


def no_skill_warning(y_val: Any, auc: float) -> str | None:
    """A warning when the validation AUC is within two standard errors of chance (0.5): the model
    shows no evidence of ranking buyers above the rest (a tiny history, a horizon with few buyers).

    ``y_val``: the validation window's 0/1 labels; the standard error is Hanley & McNeil's (1982)
    for ``auc`` with that many buyers and non-buyers.
    """
    y = np.asarray(y_val)
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if not pos or not neg or not np.isfinite(auc):
        return None
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (pos - 1) * (q1 - auc**2) + (neg - 1) * (q2 - auc**2)) / (pos * neg)
    se = float(np.sqrt(variance))
    if auc - 0.5 >= 2 * se:
        return None
    return (f"the model shows no skill on its validation window: val.auc {auc:.3f} is within two standard "
            f"errors ({se:.3f}) of chance with {pos:,} buyers among {pos + neg:,} pairs; do not promote it "
            "before more history (or a longer time.horizon_days) gives it buyers to learn from")
