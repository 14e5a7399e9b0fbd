"""Plan and backtest figures: the allocation map, value captured, interval reliability, fill rates."""

from __future__ import annotations

from typing import Any

import pandas as pd

from anticipate.plots.model import _plt


def allocation_map(
    warehouses: pd.DataFrame,
    plan: pd.DataFrame,
    capacity_used: pd.DataFrame,
    regions: pd.DataFrame | None = None,
    top: int = 12,
) -> Any:
    """Warehouses on a lat/lon map (size = units pre-positioned, colour = capacity used) and top SKUs.

    ``plan``: ``warehouse_id, sku, units``; ``capacity_used``: ``warehouse_id, share_used``.
    """
    plt = _plt()
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.2, 1]})
    if regions is not None:
        ax.scatter(regions["lon"], regions["lat"], s=8, color="lightgrey", label="regions")
    units = plan.groupby("warehouse_id")["units"].sum()
    wh = warehouses.assign(warehouse_id=warehouses["warehouse_id"].astype(str))
    size = units.reindex(wh["warehouse_id"], fill_value=0).to_numpy(float)
    share = capacity_used.set_index("warehouse_id")["share_used"].reindex(wh["warehouse_id"], fill_value=0)
    points = ax.scatter(
        wh["lon"],
        wh["lat"],
        s=30 + 600 * size / max(size.max(), 1.0),
        c=share.to_numpy(),
        cmap="viridis",
        vmin=0,
        vmax=1,
        edgecolors="black",
        label="warehouses",
    )
    for row, n in zip(wh.itertuples(index=False), size, strict=True):
        ax.annotate(f"{row.warehouse_id}\n{int(n)}", (row.lon, row.lat), fontsize=7, ha="center", va="bottom")
    fig.colorbar(points, ax=ax, label="capacity used (share)")
    ax.set(title="Pre-positioned units by warehouse", xlabel="longitude", ylabel="latitude")
    top_skus = plan.groupby("sku")["units"].sum().nlargest(top).index
    table = plan[plan["sku"].isin(top_skus)].pivot_table(
        index="sku", columns="warehouse_id", values="units", aggfunc="sum", fill_value=0
    )
    if not table.empty:
        table.loc[list(top_skus)[::-1]].plot.barh(stacked=True, ax=bars, legend=True, width=0.8)
        bars.legend(fontsize=7, ncol=2)
    bars.set(title=f"Top {top} SKUs: units by warehouse", xlabel="units")
    fig.tight_layout()
    return fig


def value_captured_per_cutoff(frame: pd.DataFrame) -> Any:
    """Value captured per cutoff for the model, naive and oracle plans (``cutoff, plan, value_captured``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, group in frame.groupby("plan", sort=False):
        ax.plot(group["cutoff"].astype(str), group["value_captured"], marker="o", label=name)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set(title="Value captured (share of perfect foresight)", xlabel="cutoff", ylabel="value captured")
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def interval_reliability(observed: pd.DataFrame) -> Any:
    """Nominal vs observed coverage of central intervals; the diagonal is perfect.

    ``observed``: ``level, coverage`` (PIT coverage of counts) and optionally
    ``coverage_closed`` (closed quantile intervals, drawn dashed for comparison).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    ax.plot(observed["level"], observed["coverage"], marker="o", label="PIT coverage (calibration)")
    if "coverage_closed" in observed:
        ax.plot(
            observed["level"], observed["coverage_closed"], marker=".", ls=":", label="closed [q_lo, q_hi]"
        )
    ax.set(
        title="Forecast interval reliability",
        xlabel="nominal central interval",
        ylabel="observed coverage",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def fill_rate_by_warehouse(frame: pd.DataFrame) -> Any:
    """Local fill rate per warehouse (``warehouse_id, fill_rate_local``), one bar each."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(frame["warehouse_id"].astype(str), frame["fill_rate_local"].to_numpy(float))
    ax.set(title="Local fill rate by warehouse", ylabel="share of units served locally", ylim=(0, 1))
    fig.tight_layout()
    return fig
