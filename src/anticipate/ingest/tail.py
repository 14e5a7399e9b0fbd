"""A stray tail of future timestamps: where the data's own body ends (orders only).

A timestamp far after every other one (a typo in the year) would otherwise set the
data's maximum by itself; :func:`find_tail` finds such a tail, and when it is cut the
tail's lines are rejected with reason ``after the data's own max + 1 day``. With
``--append`` the rule runs on the existing and the new orders together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A tail of timestamps is a candidate when it starts more than this many days after the rest ...
TAIL_GAP_DAYS = 30
#: ... holds at most this share of the rows (or a single row) ...
TAIL_MAX_SHARE = 0.01
#: ... and its gap is longer than the span of the days before it or at least this many days: a
#: year typed wrong moves a recent date by about a year, while a shop closed for weeks (or an
#: export down for a month) reopens after a shorter gap, and its orders must go in.
TAIL_TYPO_DAYS = 180


def _day(day: int) -> str:
    return str(np.datetime64(day, "D"))


@dataclass(frozen=True)
class Tail:
    """A far-future tail: the body's last day, the tail's first and last day (day numbers since
    1970-01-01), the gap between them (days), the tail's lines and whether it is cut."""

    body_end: int
    start: int
    end: int
    gap: int
    lines: int
    cut: bool

    def describe(self) -> str:
        """One sentence: the tail's lines, days, gap and what was done with them."""
        where = f"dated {_day(self.start)}" + (f" to {_day(self.end)}" if self.end != self.start else "")
        head = (f"{self.lines:,} line(s) {where} come {self.gap:,} days after the rest of the data, which "
                f"ends {_day(self.body_end)}")
        if self.cut:
            return (f"{head}: a stray future tail (a typo in the year?), rejected as 'after the data's own "
                    f"max + 1 day' (see rejects.parquet) so that it does not move the data's end; correct "
                    "the timestamps and ingest the lines again if they are real")
        return (f"{head} and hold as many lines as a usual day, so they are kept and the data now ends "
                f"{_day(self.end)}: if their year is a typo, correct it and ingest again")


def find_tail(day_counts: np.ndarray) -> Tail | None:
    """The far-future tail of the orders, or None when there is none.

    Days are scanned in order. A gap between consecutive order days starts a candidate tail
    when it is longer than ``TAIL_GAP_DAYS``, at most ``TAIL_MAX_SHARE`` of the rows (or one
    row) come after it, and it is longer than the span of the days before it or at least
    ``TAIL_TYPO_DAYS``. The first candidate that is
    cut is returned: cut when its gap is longer than the span before it, or when it holds fewer
    lines than the body's median active day; else the first candidate, not cut (a warning).

    Parameters
    ----------
    day_counts
        int64, rows per day since 1970-01-01 (index = day number).
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
    far = (gaps > TAIL_GAP_DAYS) & ((gaps > span) | (gaps >= TAIL_TYPO_DAYS))
    hits = np.flatnonzero(small_tail & far)
    found = []
    for i in hits:
        cut = bool(gaps[i] > span[i] or after[i] < np.median(counts[: i + 1]))
        found.append(Tail(int(days[i]), int(days[i + 1]), int(days[-1]), int(gaps[i]), int(after[i]), cut))
        if cut:
            return found[-1]
    return found[0] if found else None


def body_end_day(day_counts: np.ndarray) -> int | None:
    """The last day of the data's own body when a tail is cut (:func:`find_tail`), else None."""
    found = find_tail(day_counts)
    return found.body_end if found is not None and found.cut else None
