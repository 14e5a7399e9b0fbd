"""The backtest's summaries: interval reliability, fill rate per warehouse, the overall mean, the text."""

from __future__ import annotations

import numpy as np
import pandas as pd


def reliability(cells: pd.DataFrame) -> pd.DataFrame:
    """``level, coverage, coverage_closed``: observed coverage of central intervals at levels 0.1..0.9.

    ``cells``: ``mu, var, units`` (units). ``coverage`` is the PIT coverage of counts
    (:func:`anticipate.metrics.pit_interval_coverage`), on the diagonal for a calibrated
    forecast; ``coverage_closed`` the closed quantile interval's.
    """
    from anticipate.metrics import closed_interval_coverage, pit_interval_coverage

    mu, var, units = (cells[c].to_numpy(float) for c in ("mu", "var", "units"))
    levels = np.round(np.arange(0.1, 1.0, 0.1), 1)
    return pd.DataFrame(
        {
            "level": levels,
            "coverage": [float(pit_interval_coverage(mu, var, units, level=lv).mean()) for lv in levels],
            "coverage_closed": [
                float(closed_interval_coverage(mu, var, units, level=lv).mean()) for lv in levels
            ],
        }
    )


def fill_by_warehouse(by_warehouse: pd.DataFrame) -> pd.DataFrame:
    """``warehouse_id, demand_units, local_units, fill_rate_local`` summed over the cutoffs."""
    fill = by_warehouse.groupby("warehouse_id", as_index=False)[["demand_units", "local_units"]].sum()
    fill["fill_rate_local"] = fill["local_units"] / fill["demand_units"]
    return fill


def overall(per_cutoff: list[dict[str, float]]) -> dict[str, float]:
    """The mean over cutoffs (NaN ignored) of every metric all cutoffs have, by sorted name."""
    keys = sorted(set.intersection(*(set(m) for m in per_cutoff)))
    return {k: float(np.nanmean([m[k] for m in per_cutoff])) for k in keys}


def finite(value: float) -> float | None:
    """``value``, or None when it is NaN or infinite (JSON has no NaN)."""
    return float(value) if np.isfinite(value) else None


#: Columns of the printed per-cutoff table (metric name -> short label), in order.
TEXT_COLUMNS = {
    "value_captured": "captured",
    "naive.value_captured": "naive",
    "truth.value_captured": "truth",
    "truth_pairs.value_captured": "truth_pairs",
    "fill_rate_local": "fill",
    "units_moved": "moved",
    "units_unsold": "unsold",
    "km_saved": "km_saved",
    "bias": "bias",
    "wape": "wape",
    "coverage_80": "cov80",
    "coverage_80_closed": "cov80_closed",
    "auc": "auc",
}


def text(per_cutoff: dict[str, dict[str, float]], means: dict[str, float]) -> str:
    """The printed report: one row per cutoff and the overall ``means``, then the headline sentence."""
    frame = pd.DataFrame(per_cutoff).T
    frame.loc["mean"] = pd.Series(means)
    frame = frame[[c for c in TEXT_COLUMNS if c in frame.columns]].astype(float).rename(columns=TEXT_COLUMNS)
    frame.index.name = "cutoff"

    def get(key: str) -> float:
        return means.get(key, float("nan"))

    truth = (
        f"; a plan on the true demand distributions captured {get('truth.value_captured'):.1%}"
        if "truth.value_captured" in means
        else ""
    )
    return "\n".join(
        [
            "per cutoff: value captured (share of perfect foresight's value) by the model's plan and the "
            "naive/truth ones; the model's fill rate, units, km saved and forecast metrics:",
            frame.to_string(float_format=lambda v: f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"),
            "",
            f"naive plan captured {get('naive.value_captured'):.1%}{truth}",
            f"pre-positioning captured {get('value_captured'):.1%} of the value that perfect foresight "
            "would have",
        ]
    )
