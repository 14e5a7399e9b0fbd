"""Gate 0 of a plan, and of every command that builds new demand from the horizons before its date
(allocate, forecast, backtest): less than one horizon of orders before the date is refused, exit 2
(:func:`history_refusal`; :mod:`anticipate.demand.gates` runs it on a plan)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.errors import DataError


class HistoryRefused(DataError):
    """A date with less than one horizon of orders before it (exit 2)."""


def recent_window(
    order_ts: pd.Series, date: pd.Timestamp, *, horizon_days: int, windows: int
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``[start, end)``: the ``windows`` horizons (days) before ``date``, clipped to the orders' dates (from
    the history's first day, :func:`anticipate.dates.history_first_day`: not from a detached line's).

    ``order_ts``: every order line's time. None when less than one horizon of orders lies before ``date``.
    """
    if order_ts.empty:
        return None
    end = min(date, dates.data_end(order_ts))
    start = max(end - pd.Timedelta(days=horizon_days * windows), reading_start(order_ts, date))
    return (start, end) if (end - start).days >= horizon_days else None


def reading_start(order_ts: pd.Series, date: pd.Timestamp) -> pd.Timestamp:
    """Midnight of the first day the horizons before ``date`` may read: the history's first day
    (:func:`anticipate.dates.history_first_day`), or after a gap of
    :data:`~anticipate.dates.DETACHING_GAP_DAYS` days or more without a line before ``date`` (a closure)
    the first day after it, as new demand counts its horizons (audit32: a forecast the day after a 40-day
    closure passed this gate and averaged that one day as a horizon, exit 0)."""
    first = dates.history_first_day(order_ts)
    days = dates.calendar_days(order_ts)  # one pass (10M lines: history_start's ages took 1.4 s a date)
    days = days[days < (pd.Timestamp(date) - pd.Timestamp("1970-01-01")).days]
    gaps = np.flatnonzero(np.diff(days) > dates.DETACHING_GAP_DAYS)  # as history_start splits its lines
    if not len(gaps):
        return first
    return max(first, pd.Timestamp(np.datetime64(int(days[gaps[-1] + 1]), "D")))


#: What a date with less than one horizon of orders before it cannot be checked against or build, and
#: the option a later date is passed with, for each command the history gate guards.
HISTORY_GATED = {
    "plan": ("the plan cannot be checked against recent demand", "plan a date"),
    "forecast": ("new demand (forecast.new_demand_windows past horizons) cannot be measured",
                 "pass a --cutoff"),
    "backtest": ("its new demand and naive plan (past horizons) cannot be measured", "backtest cutoffs"),
}


def require_history(order_ts: pd.Series, date: pd.Timestamp, horizon_days: int, windows: int, what: str,
                    refused: str) -> None:
    """:func:`history_refusal` at ``date`` (its :func:`recent_window` of ``windows`` horizons) as exit 2,
    the message opening with ``refused`` (``the forecast was not written (out is left as it was)``)."""
    window = recent_window(order_ts, date, horizon_days=horizon_days, windows=windows)
    said = history_refusal(window, order_ts, date, horizon_days, what)
    if said is not None:
        raise HistoryRefused(f"{refused}: {said[0]}; {said[1]}")


def history_refusal(
    window: tuple[pd.Timestamp, pd.Timestamp] | None, order_ts: pd.Series, date: pd.Timestamp,
    horizon_days: int, what: str = "plan",
) -> tuple[str, str] | None:
    """``(cause, fix)`` when less than one horizon of orders lies before ``date`` (``window`` None, from
    :func:`recent_window`), else None: the one history gate of allocate, forecast and backtest
    (``what``, :data:`HISTORY_GATED`), which build new demand from the horizons before the date.

    The message tells a date too early in the data (pick a later one) from a history too
    short before it (ingest the whole history).
    """
    if window is not None:
        return None
    consequence, option = HISTORY_GATED[what]
    if not order_ts.empty and date < dates.data_end(order_ts):
        first, last = reading_start(order_ts, date), dates.data_end(order_ts) - pd.Timedelta(days=1)
        held = (f"{_days(date - first)} before {dates.fmt(date)}: less than one horizon "
                f"({horizon_days} days)" if date >= first
                else f"after {dates.fmt(date)}: no history before it")
        begin = ("the orders begin on" if first == dates.history_first_day(order_ts) else
                 f"after a gap of {dates.DETACHING_GAP_DAYS} days or more without an order line, the orders "
                 "start again on")
        cause = f"{begin} {dates.fmt(first)}, {held}, so {consequence}"
        note = dates.detached_note(order_ts)
        fix = (f"{option} from {dates.fmt(first + pd.Timedelta(days=horizon_days))} on (the orders run "
               f"{dates.fmt(first)} to {dates.fmt(last)})" + (f"; {note}" if note else ""))
        return cause, fix
    held = ("the orders hold no line" if order_ts.empty else
            f"the orders hold only {dates.fmt(dates.data_start(order_ts))} to "
            f"{dates.fmt(dates.data_end(order_ts) - pd.Timedelta(days=1))}")
    cause = f"{held} before {dates.fmt(date)}: less than one horizon ({horizon_days} days), so {consequence}"
    fix = (f"ingest the full order history (a nightly file goes in with ingest --append; without it, "
           f"ingest replaces the orders), then run {'allocate' if what == 'plan' else what} again")
    return cause, fix


def _days(span: pd.Timedelta) -> str:
    """``1 day``, ``5 days``."""
    return f"{span.days} day{'' if span.days == 1 else 's'}"
