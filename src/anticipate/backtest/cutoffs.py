"""The backtest's cutoffs: parsed from the command line, checked against the data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.errors import CutoffError, UsageError
from anticipate.storage.files import DataSet


def parse_cutoffs(
    cutoffs: str | None, start: str | None, end: str | None, every: str | None
) -> tuple[list[pd.Timestamp], list[str]]:
    """The sorted, de-duplicated cutoffs of ``--cutoffs`` or ``--from/--to/--every``, and warnings.

    ``every`` is a step in days such as ``7d`` (None: 7 days). A malformed option exits 2
    (:class:`UsageError`), as do both forms at once: ``--from/--to/--every`` beside ``--cutoffs`` were
    ignored in silence (audit33B B3).
    """
    ranged = [f"{option} {value}" for option, value in (("--from", start), ("--to", end), ("--every", every))
              if value is not None]
    if cutoffs is not None and ranged:
        raise UsageError(
            f"give --cutoffs or --from/--to/--every, not both: --cutoffs {cutoffs} was given with "
            f"{' '.join(ranged)}; drop one (e.g. --cutoffs D1,D2,... alone, or --from D --to D --every 7d)"
        )
    if cutoffs:
        values = [dates.parse_date(c, name="--cutoffs") for c in cutoffs.split(",") if c.strip()]
    elif start and end:
        every = "7d" if every is None else every
        match = re.fullmatch(r"(\d+)d", every.strip())
        if not match or int(match.group(1)) < 1:
            raise UsageError(f"--every must be a number of days like 7d, got {every!r}")
        first, last = dates.parse_date(start, name="--from"), dates.parse_date(end, name="--to")
        if last < first:
            raise UsageError(f"--to {end} is before --from {start}")
        values = list(pd.date_range(first, last, freq=f"{int(match.group(1))}D"))
    else:
        raise UsageError("give --cutoffs D1,D2,... or --from D --to D [--every 7d]")
    if not values:
        raise UsageError("no cutoffs given")
    unique = sorted(set(values))
    warnings = []
    if len(unique) < len(values):
        warnings.append(f"{len(values) - len(unique)} duplicate cutoff(s) ignored")
    return unique, warnings


def check_cutoffs(cutoffs: list[pd.Timestamp], ds: DataSet, horizon_days: int,
                  *, horizon_from: str = "time.horizon_days") -> list[str]:
    """Exit 2 naming the last valid cutoff when a horizon runs past the data; warn on overlaps.

    Reads ``ds.orders['order_ts']``; ``horizon_days`` in days, which ``horizon_from`` names (the config
    key, or the model that fixes it). Returns the warnings (horizons that overlap).
    """
    first, last = dates.valid_range(ds.orders["order_ts"], horizon_days, "labelled",
                                    min_history_days=horizon_days)  # as check_new_demand_history
    bad = [c for c in cutoffs if not first <= c <= last]
    if bad:
        note = dates.detached_note(ds.orders["order_ts"]) if bad[0] < first else ""
        where = ("lies before the history's first day" if note else "lies before the first valid cutoff"
                 if bad[0] < first else "has a horizon outside the data")
        raise CutoffError(
            f"cutoff {dates.fmt(bad[0])} {where}: the valid cutoffs run "
            f"from {dates.fmt(first)} to {dates.fmt(last)} (the last valid cutoff) with a "
            f"{horizon_days}-day horizon (from {horizon_from})" + (f"; {note}" if note else "")
        )
    dates.check_horizons_hold_orders(cutoffs, ds.orders["order_ts"], horizon_days)
    gaps = np.diff([c.value for c in cutoffs]) / 86_400e9
    if (gaps < horizon_days).any():
        return [f"some cutoffs are less than {horizon_days} days apart: their horizons overlap"]
    return []


def check_trainable(cutoffs: list[pd.Timestamp], order_ts: pd.Series, horizon_days: int) -> None:
    """Exit 2 when the first cutoff leaves no room for the 2 training windows of ``horizon_days`` days a
    model needs before it (the backtest trains one at each cutoff, as ``train --until CUTOFF``), naming
    the first cutoff that can be backtested; ``train`` says the same of its ``--until``."""
    valid = dates.until_range(order_ts, horizon_days, 2)
    if valid is not None and cutoffs[0] >= valid[0]:
        return
    need = f"2 training windows of {horizon_days} days"
    where = (f"the first cutoff it can train at is {dates.fmt(valid[0])}" if valid is not None
             else f"the orders are too short for {need} before any cutoff")
    raise CutoffError(
        f"cutoff {dates.fmt(cutoffs[0])} leaves no room for {need} before it (the backtest trains a model at "
        f"each cutoff on the history before it); {where}; or pass --model to backtest a trained model"
    )


def check_new_demand_history(cutoffs: list[pd.Timestamp], order_ts: pd.Series, horizon_days: int) -> None:
    """Exit 2 naming the first cutoff with less than one horizon of orders before it: its new demand and
    naive plan average past horizons (allocate's and forecast's gate 0,
    :func:`~anticipate.demand.history_gate.history_refusal`)."""
    from anticipate.demand.history_gate import require_history

    for cutoff in cutoffs:  # each: one a day after a closure reads one day too (audit32)
        require_history(order_ts, cutoff, horizon_days, 1, "backtest",
                        f"the backtest was not run: cutoff {dates.fmt(cutoff)}")
