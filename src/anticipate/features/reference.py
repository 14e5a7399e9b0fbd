"""The plain-pandas reference implementation of :func:`anticipate.features.build.build_features`.

Written independently with ``groupby``/``apply`` and no Numba, for tests and the
benchmark's side-by-side speed comparison. Same table, same column order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.features.history import item_column, regions_at_last_instant
from anticipate.features.spec import ALL_FAMILIES, CUSTOMER_WINDOWS, KEYS, PAIR_WINDOWS, feature_columns


def _order_keys(hist: pd.DataFrame) -> pd.Series:
    """Each line's order: its order_id, or its own (customer, timestamp) order when it has none."""
    oid = hist["order_id"].astype(str) if "order_id" in hist else pd.Series("", index=hist.index)
    own = (
        hist["customer_id"].astype(str)
        + "@"
        + hist["order_ts"].astype("datetime64[ns]").astype("int64").astype(str)
    )
    return oid.where(oid.notna() & (oid != "") & (oid != "nan"), "\x00" + own)


def _orders_of(hist: pd.DataFrame, keys: list[str], cutoff: pd.Timestamp) -> pd.DataFrame:
    hist = hist.assign(
        okey=_order_keys(hist),
        spend=(hist["quantity"] * hist.get("unit_price", 0.0)).fillna(0.0),
    )
    ev = (
        hist.groupby([*keys, "okey"], sort=False)
        .agg(ts=("order_ts", "min"), units=("quantity", "sum"), spend=("spend", "sum"))
        .reset_index()
    )
    ev["age"] = (cutoff - ev["ts"].astype("datetime64[ns]")) / pd.Timedelta(days=1)
    return ev.sort_values([*keys, "age", "okey"], ascending=[True] * len(keys) + [False, True], kind="stable")


def _sequence(g: pd.DataFrame, windows: Sequence[int]) -> pd.Series:
    age = g["age"].to_numpy()
    gaps = -np.diff(age)
    n = len(age)
    out = {
        "recency": age.min(),
        "tenure": age.max(),
        "n": float(n),
        "spend_365": g.loc[g["age"] <= 365, "spend"].sum(),
        "gap_mean": gaps.mean() if n >= 2 else np.nan,
        "gap_std": pd.Series(gaps).std(ddof=1) if n >= 3 else np.nan,
        "gap_last": gaps[-1] if n >= 2 else np.nan,
    }
    out["rog"] = out["recency"] / out["gap_mean"] if n >= 2 and out["gap_mean"] > 0 else np.nan
    for w in windows:
        inside = g["age"] <= w
        out[f"orders_{w}"] = float(inside.sum())
        out[f"units_{w}"] = float(g.loc[inside, "units"].sum())
    return pd.Series(out)


def build_features_reference(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    lookback_days: int,
    item_level: str = "sku",
    products: pd.DataFrame | None = None,
    families: Sequence[str] = ALL_FAMILIES,
    horizon_days: int | None = None,
) -> pd.DataFrame:
    """The same table as ``build_features``, computed with plain pandas (slow).

    ``horizon_days`` sets the season family's year-ago horizon (7 days when None).
    """
    cutoff = pd.Timestamp(cutoff)
    hist = orders[orders["order_ts"] < cutoff].copy()
    hist["customer_id"] = hist["customer_id"].astype(str)
    # the window rule: every line of an order counts at the order's first line
    first = hist.assign(okey=_order_keys(hist)).groupby(["customer_id", "okey"])["order_ts"].transform("min")
    hist["order_ts"] = first
    hist["item"] = item_column(hist, item_level, products).to_numpy()
    hist["region"] = hist["region"].astype(str)
    cust = _customers_reference(hist, cutoff)
    pairs = (
        _orders_of(hist, ["customer_id", "item"], cutoff)
        .groupby(["customer_id", "item"])
        .apply(_sequence, windows=PAIR_WINDOWS, include_groups=False)
    )
    pairs = _renewal_reference(pairs)
    pairs = pairs[pairs["recency"] <= lookback_days]
    out = pd.DataFrame(index=pairs.index).reset_index()
    out["region"] = cust["region"].reindex(out["customer_id"]).to_numpy()
    out = _pair_columns(out.join(cust.drop(columns="region"), on="customer_id"), pairs)
    out["ci_share_of_orders"] = _lookback_share(hist, cutoff, lookback_days, out)
    out = _join_item_features(out, hist, cutoff)
    out["cal_week"] = float(cutoff.isocalendar()[1])
    out = _join_season_features(out, hist, cutoff, 7 if horizon_days is None else int(horizon_days))
    columns = feature_columns(families)
    return out[[*KEYS, *columns]].sort_values(["customer_id", "item"], kind="stable").reset_index(drop=True)


def _customers_reference(hist: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per customer: the ``cust_`` sequence columns, BG/NBD summary and most recent region."""
    cust = (
        _orders_of(hist, ["customer_id"], cutoff)
        .groupby("customer_id")
        .apply(_sequence, windows=CUSTOMER_WINDOWS, include_groups=False)
    )
    cust = cust.rename(
        columns={
            "recency": "cust_recency_days",
            "tenure": "cust_tenure_days",
            "n": "cust_orders_total",
            "spend_365": "cust_spend_365d",
            "gap_mean": "cust_gap_mean_days",
            "gap_std": "cust_gap_std_days",
            "gap_last": "cust_gap_last_days",
            "rog": "cust_recency_over_gap",
            **{f"orders_{w}": f"cust_orders_{w}d" for w in CUSTOMER_WINDOWS},
            **{f"units_{w}": f"cust_units_{w}d" for w in CUSTOMER_WINDOWS},
        }
    )
    cust["cust_bgnbd_x"] = cust["cust_orders_total"] - 1
    cust["cust_bgnbd_t_x"] = cust["cust_tenure_days"] - cust["cust_recency_days"]
    cust["region"] = regions_at_last_instant(hist)
    return cust


def _pair_columns(out: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The ``ci_`` columns (and the pooled item gaps) of the candidates ``out`` from their pair rows."""
    out["ci_orders_total"] = pairs["n"].to_numpy()
    for w in PAIR_WINDOWS:
        out[f"ci_orders_{w}d"] = pairs[f"orders_{w}"].to_numpy()
        out[f"ci_units_{w}d"] = pairs[f"units_{w}"].to_numpy()
    out["ci_days_since_last"] = pairs["recency"].to_numpy()
    out["ci_gap_mean_days"] = pairs["gap_mean"].to_numpy()
    out["ci_recency_over_gap"] = pairs["rog"].to_numpy()
    for col in ("ci_gap_std_days", "ci_gap_last_days", "ci_renewal_hazard_7d", "ci_lapse_ratio"):
        out[col] = pairs[col].to_numpy()
    for col in ("item_gap_mean_days", "item_gap_cv"):
        out[col] = pairs[col].to_numpy()
    out["ci_repeat_ratio"] = (out["ci_orders_total"] - 1) / out["ci_orders_total"]
    tenure = out["cust_tenure_days"].clip(lower=1.0)
    out["cust_orders_per_day"] = out["cust_orders_total"] / tenure
    out["ci_share_all"] = out["ci_orders_total"] / out["cust_orders_total"]
    out["ci_orders_per_day"] = out["ci_orders_total"] / tenure
    return out


def _lookback_share(hist: pd.DataFrame, cutoff: pd.Timestamp, lookback: int, out: pd.DataFrame) -> np.ndarray:
    """Per candidate of ``out``: the pair's orders over the customer's, both placed in the lookback."""
    cust = _orders_of(hist, ["customer_id"], cutoff)
    pair = _orders_of(hist, ["customer_id", "item"], cutoff)
    n_cust = cust[cust["age"] <= lookback].groupby("customer_id").size()
    n_pair = pair[pair["age"] <= lookback].groupby(["customer_id", "item"]).size()
    keys = pd.MultiIndex.from_frame(out[["customer_id", "item"]])
    return (n_pair.reindex(keys).to_numpy() / n_cust.reindex(out["customer_id"]).to_numpy()).astype(float)


def _renewal_reference(pairs: pd.DataFrame) -> pd.DataFrame:
    """Pooled item gap statistics, Gamma renewal hazard and lapse ratio, with pandas groupby (all pairs)."""
    p = pairs.reset_index()
    gaps = (p["n"] - 1).where(p["n"] >= 2, 0.0)
    span = (p["gap_mean"] * gaps).where(p["n"] >= 2, 0.0)
    ok = (p["n"] >= 3) & (p["gap_mean"] > 0)
    w = (p["n"] - 2).where(ok, 0.0)
    wcv2 = (w * (p["gap_std"] / p["gap_mean"]) ** 2).where(ok, 0.0)
    by = p.assign(gaps=gaps, span=span, w=w, wcv2=wcv2).groupby("item")[["gaps", "span", "w", "wcv2"]].sum()
    item_mean = (by["span"] / by["gaps"]).where(by["gaps"] > 0)
    item_cv2 = (by["wcv2"] / by["w"]).where(by["w"] > 0)
    overall = wcv2.sum() / w.sum() if w.sum() > 0 else 1.0
    p["item_gap_mean_days"] = item_mean.reindex(p["item"]).to_numpy()
    p["item_gap_cv"] = np.sqrt(item_cv2.reindex(p["item"]).to_numpy())
    prior = p["item_gap_mean_days"].fillna(p["gap_mean"])
    mean = (p["gap_mean"].fillna(0.0) * (p["n"] - 1) + prior) / p["n"]
    shape = 1.0 / np.maximum(item_cv2.reindex(p["item"]).fillna(overall).to_numpy(), 0.01)
    p["ci_renewal_hazard_7d"] = np.where(mean.isna(), np.nan, _hazard_reference(p["recency"], mean, shape))
    p["ci_lapse_ratio"] = (p["recency"] / mean).where(mean > 0)
    p["ci_gap_std_days"] = p["gap_std"]
    p["ci_gap_last_days"] = p["gap_last"]
    return p.set_index(["customer_id", "item"])


def _log_q_by_quad(k: float, x: float) -> float:
    """``log Q(k, x)`` as ``x^(k-1) e^(-x) / Gamma(k) * int_0^inf (1 + u/x)^(k-1) e^(-u) du`` (quad)."""
    from scipy.integrate import quad
    from scipy.special import gammaln

    j, _ = quad(lambda u: np.exp((k - 1.0) * np.log1p(u / x) - u), 0.0, np.inf, epsabs=0.0, epsrel=1e-13)
    return (k - 1.0) * np.log(x) - x - gammaln(k) + np.log(j)


def _hazard_reference(age: pd.Series, mean: pd.Series, shape: np.ndarray) -> np.ndarray:
    """The 7-day Gamma renewal hazard row by row; past mean + 3 sd + 5 scales, in log-survival form."""
    from scipy.special import gammaincc

    out = np.full(len(age), np.nan)
    for i, (a, m, k) in enumerate(zip(age.to_numpy(), mean.to_numpy(), shape, strict=True)):
        if np.isnan(m) or m == 0.0:  # no gap, or a zero mean gap: NaN, as renewal_hazard
            continue
        x0, x1 = a * k / m, (a + 7.0) * k / m
        if x0 >= k + 3.0 * np.sqrt(k) + 5.0:
            h = -np.expm1(_log_q_by_quad(k, x1) - _log_q_by_quad(k, x0))
        else:
            h = 1.0 - gammaincc(k, x1) / gammaincc(k, x0)
        out[i] = min(h, -np.expm1(-7.0 * k / m)) if k >= 1.0 else h
    return out


def _join_item_features(out: pd.DataFrame, hist: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    age = (cutoff - hist["order_ts"]) / pd.Timedelta(days=1)

    def units(window: float, by: list[str]) -> pd.Series:
        return hist[age <= window].groupby(by)["quantity"].sum().astype(float)

    item = pd.DataFrame(
        {
            "item_units_7d": units(7, ["item"]),
            "item_units_28d": units(28, ["item"]),
            "item_units_365d": units(365, ["item"]),
        }
    )
    item["item_buyers_28d"] = hist[age <= 28].groupby("item")["customer_id"].nunique().astype(float)
    out = out.join(item, on="item")
    out[["item_units_7d", "item_units_28d", "item_units_365d", "item_buyers_28d"]] = out[
        ["item_units_7d", "item_units_28d", "item_units_365d", "item_buyers_28d"]
    ].fillna(0.0)
    out["item_trend_7d_28d"] = np.where(
        out["item_units_28d"] > 0, (out["item_units_7d"] / 7) / (out["item_units_28d"] / 28), np.nan
    )
    ri = pd.DataFrame(
        {"ri_units_7d": units(7, ["region", "item"]), "ri_units_28d": units(28, ["region", "item"])}
    )
    out = out.join(ri, on=["region", "item"])
    out[["ri_units_7d", "ri_units_28d"]] = out[["ri_units_7d", "ri_units_28d"]].fillna(0.0)
    out["ri_trend_7d_28d"] = np.where(
        out["ri_units_28d"] > 0, (out["ri_units_7d"] / 7) / (out["ri_units_28d"] / 28), np.nan
    )
    return out


def _join_season_features(
    out: pd.DataFrame, hist: pd.DataFrame, cutoff: pd.Timestamp, h: int
) -> pd.DataFrame:
    """The ``sea_`` columns: year-ago horizon ``[cutoff - 365, cutoff - 365 + h)`` and its 28-day base.

    A window before the history's first order line (not covered entirely) leaves its columns NaN; the
    history starts after the last long gap (:func:`anticipate.dates.history_start`).
    """
    ts = hist["order_ts"]
    first = dates.history_start(ts, cutoff).first
    first = cutoff if first is None else first
    seen_h, seen_base = first <= cutoff - pd.Timedelta(days=365), first <= cutoff - pd.Timedelta(days=393)
    in_h = (ts >= cutoff - pd.Timedelta(days=365)) & (ts < cutoff - pd.Timedelta(days=365 - h))
    base = (ts >= cutoff - pd.Timedelta(days=365 + 28)) & (ts < cutoff - pd.Timedelta(days=365))

    def sums(by: list[str]) -> tuple[pd.Series, pd.Series]:
        return (hist[in_h].groupby(by)["quantity"].sum().astype(float),
                hist[base].groupby(by)["quantity"].sum().astype(float))

    def lift(now: np.ndarray, before: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(before > 0, (now / h) / (before / 28), np.nan)

    shop_h, shop_b = float(hist.loc[in_h, "quantity"].sum()), float(hist.loc[base, "quantity"].sum())
    out["sea_days_to_christmas"] = _days_to_christmas(cutoff)
    out["sea_shop_lift_ya"] = lift(np.full(len(out), shop_h), np.full(len(out), shop_b))
    reg_h, reg_b = (s.reindex(out["region"]).fillna(0.0).to_numpy() for s in sums(["region"]))
    out["sea_region_lift_ya"] = lift(reg_h, reg_b)
    item_h, item_b = (s.reindex(out["item"]).fillna(0.0).to_numpy() for s in sums(["item"]))
    out["sea_item_lift_ya"] = lift(item_h, item_b)
    u28 = out["item_units_28d"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["sea_item_ya_over_recent"] = np.where(u28 > 0, (item_h / h) / (u28 / 28), np.nan)
    out["sea_item_units_ya"] = item_h
    pair_h, _ = sums(["customer_id", "item"])
    keys = pd.MultiIndex.from_frame(out[["customer_id", "item"]])
    out["sea_ci_units_ya"] = pair_h.reindex(keys).fillna(0.0).to_numpy()
    if not seen_base:
        out[["sea_shop_lift_ya", "sea_region_lift_ya", "sea_item_lift_ya"]] = np.nan
    if not seen_h:
        out[["sea_item_ya_over_recent", "sea_item_units_ya", "sea_ci_units_ya"]] = np.nan
    return out


def _days_to_christmas(cutoff: pd.Timestamp) -> float:
    """Days from ``cutoff`` to the next 25 December at or after it, counted with dates."""
    for year in (cutoff.year, cutoff.year + 1):
        xmas = pd.Timestamp(f"{year}-12-25")
        if xmas >= cutoff:
            return (xmas - cutoff).total_seconds() / 86400.0
    raise AssertionError("unreachable")


def item_gap_sums(
    item: np.ndarray, n: np.ndarray, gap_mean: np.ndarray, gap_std: np.ndarray, n_items: int
) -> np.ndarray:
    """Per item, additive sums over its pairs (``renewal.GAP_SUMS``): float64 (n_items, 4).

    The formulation over the pairs' sequence statistics (mean and std of the gaps), the
    reference :func:`anticipate.features._gaps.item_gap_sums` (from the events) is tested against.

    ``gap_n = sum (n-1)`` and ``gap_span = sum (n-1) mean`` over pairs with ``n >= 2``
    orders; ``gap_w = sum (n-2)`` and ``gap_wcv2 = sum (n-2) (std / mean)^2`` over pairs
    with ``n >= 3`` and a positive mean gap. Sums add across customer partitions.
    """
    gaps = np.where(n >= 2, n - 1.0, 0.0)
    span = np.where(n >= 2, np.nan_to_num(gap_mean) * gaps, 0.0)
    ok = (n >= 3) & (np.nan_to_num(gap_mean) > 0)
    w = np.where(ok, n - 2.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv2 = np.where(ok, (gap_std / np.where(ok, gap_mean, 1.0)) ** 2, 0.0)
    return np.column_stack(
        [np.bincount(item, weights=v, minlength=n_items) for v in (gaps, span, w, w * cv2)]
    ).reshape(n_items, 4)
