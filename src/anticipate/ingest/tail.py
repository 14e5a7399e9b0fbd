"""A stray tail of future timestamps: where the data's own body ends (orders only).

A timestamp far after every other one (a typo in the year) would otherwise set the
data's maximum by itself; :func:`body_end_day` finds the body's last day so that the
tail is rejected with reason ``after the data's own max + 1 day``.
"""

from __future__ import annotations

import numpy as np

#: A tail of timestamps is cut when it starts more than this many days after the rest ...
TAIL_GAP_DAYS = 30
#: ... and holds at most this share of the rows (or a single row).
TAIL_MAX_SHARE = 0.01


def body_end_day(day_counts: np.ndarray) -> int | None:
    """The last day of the data's own body, or None when no tail needs cutting.

    "Not in the future of the data's own max + 1 day" needs a max that a stray
    timestamp cannot set by itself. Days are scanned in order; at the first gap
    between consecutive order days that is longer than both ``TAIL_GAP_DAYS`` and
    the span of the days before it, and after which at most ``TAIL_MAX_SHARE`` of
    the rows (or one row) remain, the days before the gap are the body and the rest
    is rejected with reason ``after the data's own max + 1 day``.

    Parameters
    ----------
    day_counts
        int64, rows per day since 1970-01-01 (index = day number).

    Returns
    -------
    int or None
        The body's last day number, or None to keep everything.
    """
    days = np.flatnonzero(day_counts)
    if len(days) < 2:
        return None
    counts = day_counts[days]
    total = counts.sum()
    after = total - np.cumsum(counts)  # rows after each day
    gaps = np.diff(days)
    span = days[:-1] - days[0]
    small_tail = after[:-1] <= max(1.0, TAIL_MAX_SHARE * total)
    cut = (gaps > np.maximum(TAIL_GAP_DAYS, span)) & small_tail
    hits = np.flatnonzero(cut)
    return int(days[hits[0]]) if len(hits) else None
