"""Plan and backtest figures: the allocation map, value captured, interval reliability, fill rates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anticipate.plots.model import _plt

#: A warehouse counts as full from this share of its capacity used.
FULL_SHARE = 0.99


def _palette(ids: list[str]) -> dict[str, Any]:
    """One distinct colour per warehouse id (tab10, tab20, then cycling), shared by both panels."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(ids) <= 10 else "tab20"]
    return {w: cmap(i % cmap.N) for i, w in enumerate(ids)}


def _warehouse_frame(
    warehouses: pd.DataFrame, plan: pd.DataFrame, capacity_used: pd.DataFrame, forecast: pd.DataFrame | None
) -> pd.DataFrame:
    """Per warehouse: lat, lon, units planned, expected demand (units), share of capacity used, covered."""
    wh = warehouses.assign(warehouse_id=warehouses["warehouse_id"].astype(str)).set_index("warehouse_id")
    out = wh[["lat", "lon"]].copy()
    out["units"] = plan.groupby(plan["warehouse_id"].astype(str))["units"].sum().reindex(out.index).fillna(0)
    share = capacity_used.set_index(capacity_used["warehouse_id"].astype(str))["share_used"]
    out["share_used"] = share.reindex(out.index).fillna(0.0)
    if forecast is not None:
        mu = forecast.groupby(forecast["warehouse_id"].astype(str))["mu"].sum()
        out["expected"] = mu.reindex(out.index).fillna(0.0)
        out["covered"] = out["units"] / out["expected"].where(out["expected"] > 0)
    return out.sort_index()


def _draw_regions(ax: Any, regions: pd.DataFrame, region_map: pd.DataFrame | None, colours: dict) -> None:
    """Regions as dots coloured by the warehouse that serves them; centre-served ones as grey crosses."""
    if region_map is None:
        ax.scatter(regions["lon"], regions["lat"], s=10, color="lightgrey", label="regions")
        return
    served = regions.assign(region=regions["region"].astype(str)).merge(
        region_map[["region", "warehouse_id"]].astype({"region": str}), on="region", how="left")
    for wid, group in served[served["warehouse_id"].notna()].groupby("warehouse_id", sort=True):
        ax.scatter(group["lon"], group["lat"], s=14, color=colours.get(str(wid), "grey"), alpha=0.75,
                   label=f"regions served by {wid} ({len(group)})")
    centre = served[served["warehouse_id"].isna()]
    if len(centre):
        ax.scatter(centre["lon"], centre["lat"], s=18, marker="x", color="dimgrey",
                   label=f"regions served from the centre ({len(centre)})")


def _draw_warehouses(fig: Any, ax: Any, frame: pd.DataFrame, colours: dict) -> list[Any]:
    """Warehouses sized by units; colour = expected demand covered (or capacity used without a forecast).

    Returns the label annotations (placed by :func:`_declutter` once the layout is final).
    """
    by_cover = "covered" in frame
    value = frame["covered"].clip(upper=1.0).fillna(1.0) if by_cover else frame["share_used"]
    full = frame["share_used"] >= FULL_SHARE
    points = ax.scatter(
        frame["lon"], frame["lat"], s=60 + 900 * frame["units"] / max(frame["units"].max(), 1.0),
        c=value.to_numpy(float), cmap="RdYlGn" if by_cover else "viridis", vmin=0, vmax=1, marker="s",
        edgecolors=[colours[w] for w in frame.index], linewidths=np.where(full, 3.5, 1.5), zorder=3,
    )
    label = ("share of the expected demand the units placed cover" if by_cover
             else "capacity used (share)")
    fig.colorbar(points, ax=ax, label=label, shrink=0.85)
    ax.scatter([], [], marker="s", s=80, facecolors="white", edgecolors="black", linewidths=3.5,
               label=f"thick edge: warehouse full (>= {FULL_SHARE:.0%} of capacity)")
    shown = frame.nlargest(15, "units").index if len(frame) > 30 else frame.index
    labels = []
    for wid in shown:
        row = frame.loc[wid]
        demand = f" of {row['expected']:,.0f} expected" if by_cover else ""
        text = f"{wid}: {int(row['units']):,} units{demand}\n{row['share_used']:.0%} of capacity"
        box = {"boxstyle": "round,pad=0.2", "fc": "white", "ec": colours[wid], "alpha": 0.9}
        labels.append(ax.annotate(text, (row["lon"], row["lat"]), xytext=_OFFSETS[0][:2],
                                  textcoords="offset points", fontsize=8, zorder=4, bbox=box))
    return labels


#: Label offsets (points) tried in turn until a label overlaps no label already placed.
_OFFSETS = ((10, 8, "left"), (10, -26, "left"), (-10, 8, "right"), (-10, -26, "right"),
            (10, 34, "left"), (-10, 34, "right"), (10, -52, "left"), (-10, -52, "right"))


def _declutter(fig: Any, labels: list[Any]) -> None:
    """Move each warehouse label to the first offset where it overlaps no label placed before it."""
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []
    for ann in labels:
        for dx, dy, ha in (*_OFFSETS, _OFFSETS[0]):
            ann.xyann = (dx, dy)
            ann.set_horizontalalignment(ha)
            box = ann.get_window_extent(renderer).expanded(1.08, 1.25)
            if not any(box.overlaps(other) for other in placed):
                break
        placed.append(box)


def _draw_top_skus(
    ax: Any, plan: pd.DataFrame, forecast: pd.DataFrame | None, products: pd.DataFrame | None,
    colours: dict, top: int,
) -> None:
    """Top SKUs by units: bars stacked by warehouse, a black tick at the SKU's expected demand."""
    top_skus = list(plan.groupby("sku")["units"].sum().nlargest(top).index)[::-1]
    table = plan[plan["sku"].isin(top_skus)].pivot_table(
        index="sku", columns="warehouse_id", values="units", aggfunc="sum", fill_value=0)
    if table.empty:
        ax.text(0.5, 0.5, "no units planned", ha="center", va="center", transform=ax.transAxes)
    else:
        table = table.loc[top_skus]
        palette = [colours.get(str(c), "grey") for c in table.columns]
        table.plot.barh(stacked=True, ax=ax, width=0.8, color=palette)
        if forecast is not None:
            mu = forecast.groupby(forecast["sku"].astype(str))["mu"].sum().reindex(top_skus).fillna(0.0)
            ax.scatter(mu.to_numpy(), range(len(top_skus)), marker="|", s=260, linewidths=2.5, color="black",
                       zorder=3, label="expected demand (all warehouses)")
        if products is not None and "category" in products:
            cat = products.set_index(products["sku"].astype(str))["category"].astype(str)
            ax.set_yticks(range(len(top_skus)), [f"{s} ({cat.get(str(s), '?')})" for s in top_skus])
        ax.legend(fontsize=8, ncol=2, title="warehouse", title_fontsize=8, loc="lower right")
    ax.tick_params(labelsize=9)
    ax.set(title=f"Top {top} SKUs (category): units by warehouse", xlabel="units", ylabel="")


def _title(frame: pd.DataFrame, plan: pd.DataFrame, date: str | None, horizon_days: int | None) -> str:
    units = int(plan["units"].sum()) if len(plan) else 0
    head = f"Plan for {date}: " if date else "Plan: "
    line = f"{head}{units:,} units in {len(plan):,} warehouse x SKU cells"
    if "expected" in frame:
        over = f" over {horizon_days} days" if horizon_days else ""
        line += f"; expected demand {frame['expected'].sum():,.0f} units{over}"
    full = int((frame["share_used"] >= FULL_SHARE).sum())
    return f"{line}; {full} of {len(frame)} warehouses full"


def allocation_map(
    warehouses: pd.DataFrame,
    plan: pd.DataFrame,
    capacity_used: pd.DataFrame,
    regions: pd.DataFrame | None = None,
    top: int = 12,
    *,
    forecast: pd.DataFrame | None = None,
    region_map: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    date: str | None = None,
    horizon_days: int | None = None,
) -> Any:
    """The plan on one figure: a map of warehouses and regions, and the top SKUs.

    ``plan``: ``warehouse_id, sku, units``; ``capacity_used``: ``warehouse_id, share_used``;
    ``forecast``: ``warehouse_id, sku, mu`` (expected units over ``horizon_days`` days);
    ``region_map``: ``region, warehouse_id`` (NA = the centre); ``products``: ``sku, category``.
    Map: regions coloured by their serving warehouse (legend), warehouses as squares sized
    by units and coloured by the share of their expected demand the units cover (capacity
    used without a forecast: it says nothing when every warehouse is full), a thick edge
    when full, labels with units, expected demand and capacity used. Bars: the top SKUs'
    units stacked by warehouse, the expected demand as a black tick. The title: the date
    and the totals.
    """
    plt = _plt()
    frame = _warehouse_frame(warehouses, plan, capacity_used, forecast)
    colours = _palette(list(frame.index))
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(15, 7.5), gridspec_kw={"width_ratios": [1.35, 1]})
    if regions is not None:
        _draw_regions(ax, regions, region_map, colours)
    labels = _draw_warehouses(fig, ax, frame, colours)
    if len(frame) <= 20:
        ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    ax.set(title="Warehouses (size = units placed) and the regions they serve", xlabel="longitude",
           ylabel="latitude")
    _draw_top_skus(bars, plan, forecast, products, colours, top)
    fig.suptitle(_title(frame, plan, date, horizon_days), fontsize=12, fontweight="bold")
    fig.tight_layout()
    _declutter(fig, labels)
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
