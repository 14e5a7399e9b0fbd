"""``--cutoffs A,B,...`` of a real-data script, checked against its log's valid range before any fetch."""

from __future__ import annotations

import pandas as pd

from anticipate.errors import UsageError


def parse_cutoffs_within(
    text: str, first: pd.Timestamp, last: pd.Timestamp, valid: str, *, name: str, step_days: int
) -> list[pd.Timestamp]:
    """The comma-separated dates of ``text`` as midnights, each in ``[first, last]`` and none twice.

    ``valid`` describes the range in the log's own words; ``step_days`` spaces the example of a fix.
    A UsageError (exit 2) names the option ``name``, the dates at fault and that range.
    """
    from anticipate import dates

    items = [c.strip() for c in str(text).split(",")]
    try:
        cutoffs = [dates.parse_date(c, name=name) for c in items]
    except UsageError as exc:
        raise UsageError(f"{exc} (in {text!r}); pass comma-separated dates: {valid}") from None
    outside = [dates.fmt(c) for c in cutoffs if not first <= c <= last]
    if outside:
        raise UsageError(f"{name}: {', '.join(outside)} {'is' if len(outside) == 1 else 'are'} outside the "
                         f"valid range: {valid}; pass cutoffs in that range, e.g. {name} "
                         f"{dates.fmt(last - pd.Timedelta(days=step_days))},{dates.fmt(last)}")
    twice = sorted({dates.fmt(c) for c in cutoffs if cutoffs.count(c) > 1})
    if twice:  # trained and scored twice, and one result kept
        raise UsageError(f"{name}: {', '.join(twice)} given more than once; pass each cutoff once")
    return cutoffs
