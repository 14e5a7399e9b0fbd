"""The ``season`` family: the same horizon last year, and the days to Christmas.

A year ago is 365 days: the *year-ago horizon* of a cutoff ``t`` with horizon ``H`` is
``[t - 365, t - 365 + H)`` and the *year-ago base* is the 28 days before it,
``[t - 393, t - 365)``. Both lie before the cutoff (``H < 365``), so the family is
point in time. Lines count at their order's first line (the window rule of
:mod:`anticipate.features.history`), like every other family. A *lift* is the daily
units of the year-ago horizon over the daily units of the year-ago base: how much the
season moved demand at this point of last year (NaN when the base holds no units).
All sums here are over disjoint customers, so they add across partitions.

A window counts as *observed* only when the history covers it entirely: its first
instant is at or after the history's first order line, of every customer
(:attr:`~anticipate.features.partials.Partials.oldest`, from the days with a line, which
combine by ``max`` across partitions). The history starts where
:func:`anticipate.dates.attached_day` says: lines before
:data:`~anticipate.dates.DETACHING_GAP_DAYS` days without any order (a mistyped year) are
detached, else one such line a year back made every window "observed" and its units 0. A
window the history does not cover is missing, not "no units last year": the year-ago
units (the item's, the pair's) and the item's year-ago over recent are NaN unless the
year-ago horizon is observed (oldest age >= 365 days), and the lifts are NaN unless the
year-ago base is observed too (oldest age >= 393 days). So a history shorter than a year
and 28 days before the cutoff gives NaN lifts, and one shorter than a year NaN in every
year-ago column; LightGBM reads NaN as missing. ``sea_days_to_christmas`` needs no history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anticipate.features._sums import window_sums
from anticipate.features.history import Lines

#: Days back to the same point last year.
YEAR_DAYS = 365.0
#: Days of the year-ago base window (before the year-ago horizon).
BASE_DAYS = 28.0
#: Columns of the year-ago sums: units in the year-ago horizon and in the year-ago base.
YEAR_AGO = ("ya_units_h", "ya_units_base")
#: Season columns read from the year-ago base too (NaN unless the history covers it, :func:`observed`).
LIFTS = ("sea_shop_lift_ya", "sea_region_lift_ya", "sea_item_lift_ya")
#: Season columns read from the year-ago horizon alone (NaN unless the history covers it).
UNITS = ("sea_item_ya_over_recent", "sea_item_units_ya", "sea_ci_units_ya")
#: The year-ago horizon's length (days) of a spec without a horizon (a table without labels).
DEFAULT_HORIZON = 7


def season_horizon(horizon_days: int | None) -> int:
    """The year-ago horizon length (days): the spec's horizon, or 7 without one; ValueError past 364."""
    h = DEFAULT_HORIZON if horizon_days is None else int(horizon_days)
    if not 1 <= h < YEAR_DAYS:
        raise ValueError(f"the season family needs a horizon of 1 to 364 days, got {h}")
    return h


def year_ago_masks(age: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Lines in the year-ago horizon and in the year-ago base, from their ages (days before the cutoff)."""
    in_h = (age > YEAR_DAYS - horizon) & (age <= YEAR_DAYS)
    in_base = (age > YEAR_DAYS) & (age <= YEAR_DAYS + BASE_DAYS)
    return in_h, in_base


def observed(oldest: float) -> tuple[bool, bool]:
    """Whether the history covers the year-ago horizon and the year-ago base entirely.

    ``oldest``: the age (days before the cutoff) of the history's first order line (0 without
    one; a line before a long gap is not its first: :attr:`~anticipate.features.partials.Partials.oldest`).
    The horizon ``[t - 365, t - 365 + H)`` is covered when that line is at or before ``t - 365``, the
    base ``[t - 393, t - 365)`` when it is at or before ``t - 393``.
    """
    return bool(oldest >= YEAR_DAYS), bool(oldest >= YEAR_DAYS + BASE_DAYS)


def year_ago_windows(horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The year-ago horizon and base as ``lo < age <= hi`` bounds (days), for :func:`window_sums`."""
    lo = np.array([YEAR_DAYS - horizon, YEAR_DAYS])
    return lo, np.array([YEAR_DAYS, YEAR_DAYS + BASE_DAYS])


def year_ago_units(group: np.ndarray, n_groups: int, lines: Lines, horizon: int) -> np.ndarray:
    """Per group code: units in the year-ago horizon and base (``(n_groups, 2)``, :data:`YEAR_AGO`)."""
    return window_sums(group, lines.age, lines.units, *year_ago_windows(horizon), n_groups)


def pair_year_ago_units(
    lines: Lines, cust_code: np.ndarray, item_code: np.ndarray, horizon: int
) -> np.ndarray:
    """Units each (customer, item) pair of the arguments bought in the year-ago horizon (0 when none).

    ``cust_code``/``item_code`` are the pairs in (customer, item) order, as the
    customer x item statistics lay them out.
    """
    in_h, _ = year_ago_masks(lines.age, horizon)
    n_items = max(len(lines.items), 1)
    key = lines.cust[in_h].astype(np.int64) * n_items + lines.item[in_h]  # int32 codes: an int64 key
    keys, inverse = np.unique(key, return_inverse=True)
    wanted = np.asarray(cust_code, dtype=np.int64) * n_items + np.asarray(item_code, dtype=np.int64)
    if len(keys) == 0:
        return np.zeros(len(wanted))
    sums = np.bincount(inverse, weights=lines.units[in_h], minlength=len(keys))
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, sums[at], 0.0)


def lift(units_h: np.ndarray, units_base: np.ndarray, horizon: int) -> np.ndarray:
    """Daily units in ``horizon`` days over daily units in the 28-day base; NaN when the base has none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(units_base > 0, (units_h / horizon) / (units_base / BASE_DAYS), np.nan)


def days_to_christmas(cutoff: pd.Timestamp) -> float:
    """Days (float) from ``cutoff`` to the next 25 December 00:00 at or after it (0 on the instant)."""
    cutoff = pd.Timestamp(cutoff)
    xmas = pd.Timestamp(year=cutoff.year, month=12, day=25, tz=cutoff.tz)
    if xmas < cutoff:
        xmas = pd.Timestamp(year=cutoff.year + 1, month=12, day=25, tz=cutoff.tz)
    return (xmas - cutoff) / pd.Timedelta(days=1)


def season_sources(
    item_ya: np.ndarray,
    item_u28: np.ndarray,
    region_ya: np.ndarray,
    shop_ya: np.ndarray,
    horizon: int,
    oldest: float,
) -> dict[str, np.ndarray]:
    """The shop, per-region and per-item season columns from the combined sums.

    ``item_ya`` (n_items, 2), ``region_ya`` (n_regions, 2) and ``shop_ya`` (2,) are
    :data:`YEAR_AGO` sums; ``item_u28`` the items' units in the last 28 days; ``oldest``
    the age of the history's first line (:func:`observed`: NaN where a window is not
    covered). The shop-wide lift is one value (a length-1 array).
    """
    seen_h, seen_base = observed(oldest)
    with np.errstate(divide="ignore", invalid="ignore"):
        vs_recent = np.where(item_u28 > 0, (item_ya[:, 0] / horizon) / (item_u28 / BASE_DAYS), np.nan)
    out = {
        "sea_shop_lift_ya": lift(shop_ya[:1], shop_ya[1:], horizon),
        "sea_region_lift_ya": lift(region_ya[:, 0], region_ya[:, 1], horizon),
        "sea_item_lift_ya": lift(item_ya[:, 0], item_ya[:, 1], horizon),
        "sea_item_ya_over_recent": vs_recent,
        "sea_item_units_ya": item_ya[:, 0],
    }
    unseen = [*LIFTS] * (not seen_base) + [*UNITS] * (not seen_h)
    return {name: np.full_like(v, np.nan, dtype=float) if name in unseen else v for name, v in out.items()}
