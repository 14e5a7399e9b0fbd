"""What a feature table is made of: the family names, the column names, and the frozen :class:`FeatureSpec`.

The one place that names the feature families and their columns. A model stores its
spec in its meta (:meth:`FeatureSpec.to_meta`) and scoring rebuilds it from there
(:meth:`FeatureSpec.from_meta`), so the features at scoring time are those it was
trained on. Plain data, no pandas: the config imports the family names from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

Family = Literal["customer", "customer_item", "item", "region_item", "calendar", "season"]
ItemLevel = Literal["sku", "category"]

#: Every feature family, in table order.
ALL_FAMILIES: tuple[str, ...] = get_args(Family)
#: The families a model's meta without a ``families`` entry was trained on (those before ``season``).
LEGACY_FAMILIES: tuple[str, ...] = ("customer", "customer_item", "item", "region_item", "calendar")
#: The families of the default configuration (``features.families``).
DEFAULT_FAMILIES: tuple[str, ...] = LEGACY_FAMILIES
ITEM_LEVELS: tuple[str, ...] = get_args(ItemLevel)
CUSTOMER_WINDOWS: tuple[int, ...] = (7, 30, 90, 365)
PAIR_WINDOWS: tuple[int, ...] = (90, 365)
#: The key columns of a feature table, before the features.
KEYS = ("customer_id", "item", "region")

FAMILY_PREFIX: dict[str, str] = {
    "customer": "cust_",
    "customer_item": "ci_",
    "item": "item_",
    "region_item": "ri_",
    "calendar": "cal_",
    "season": "sea_",
}

FEATURE_DOCS: dict[str, str] = {
    "cust_recency_days": "days from the customer's last order to the cutoff",
    "cust_tenure_days": "days from the customer's first order to the cutoff (also BG/NBD's T)",
    "cust_orders_total": "orders the customer placed before the cutoff",
    **{f"cust_orders_{w}d": f"orders in the last {w} days" for w in CUSTOMER_WINDOWS},
    **{f"cust_units_{w}d": f"units ordered in the last {w} days" for w in CUSTOMER_WINDOWS},
    "cust_spend_365d": "spend (quantity x unit_price) in the last 365 days",
    "cust_orders_per_day": "orders per day since the first order (orders / max(tenure, 1))",
    "cust_gap_mean_days": "mean days between consecutive orders",
    "cust_gap_std_days": "standard deviation of the gaps (ddof 1; needs 3 orders)",
    "cust_gap_last_days": "days between the last two orders",
    "cust_recency_over_gap": "days since the last order divided by the mean gap",
    "cust_bgnbd_x": "BG/NBD x: repeat orders (orders - 1)",
    "cust_bgnbd_t_x": "BG/NBD t_x: days from the first to the last order",
    "ci_orders_total": "orders of this item by this customer before the cutoff",
    **{f"ci_orders_{w}d": f"orders of the item by the customer in the last {w} days" for w in PAIR_WINDOWS},
    **{
        f"ci_units_{w}d": f"units of the item bought by the customer in the last {w} days"
        for w in PAIR_WINDOWS
    },
    "ci_days_since_last": "days since the customer last ordered the item",
    "ci_gap_mean_days": "mean days between the customer's orders of the item",
    "ci_recency_over_gap": "days since the last order of the item divided by its mean gap",
    "ci_share_of_orders": (
        "share of the customer's orders placed in the lookback (time.lookback_days) that contained the item"
    ),
    "ci_repeat_ratio": "share of the customer's orders of the item that were repeats: (n - 1) / n",
    "ci_share_all": "share of all the customer's orders that contained the item",
    "ci_orders_per_day": "orders of the item per day since the customer's first order",
    "ci_gap_std_days": "standard deviation of the gaps between the customer's orders of the item (needs 3)",
    "ci_gap_last_days": "days between the customer's last two orders of the item",
    "ci_renewal_hazard_7d": (
        "P(next order of the item within 7 days | none for ci_days_since_last days) under a Gamma gap "
        "with the item's pooled CV and the pair's mean gap shrunk to the item's by one gap; continuous "
        "in the days and bounded by its long-overdue limit 1 - exp(-7 / scale)"
    ),
    "ci_lapse_ratio": (
        "days since the customer last ordered the item over the pair's mean gap shrunk to the item's "
        "by one gap (the lapse the bounded hazard no longer shows; defined for one-order pairs too)"
    ),
    "item_units_7d": "units of the item sold to anyone in the last 7 days",
    "item_units_28d": "units of the item sold in the last 28 days",
    "item_units_365d": "units of the item sold in the last 365 days",
    "item_trend_7d_28d": "daily units in 7 days over daily units in 28 days (NaN when none in 28)",
    "item_buyers_28d": "distinct customers who bought the item in the last 28 days",
    "item_gap_mean_days": "mean days between a customer's orders of the item, pooled over customers",
    "item_gap_cv": (
        "root of the mean of the pairs' squared gap CVs (std / mean of each customer's gaps), weighted by "
        "n - 2 over customers with 3+ orders of the item"
    ),
    "ri_units_7d": "units of the item shipped to the customer's region in the last 7 days",
    "ri_units_28d": "units of the item shipped to the customer's region in the last 28 days",
    "ri_trend_7d_28d": "regional daily units in 7 days over those in 28 days",
    "cal_week": "the cutoff's ISO week of year",
    "sea_days_to_christmas": "days from the cutoff to the next 25 December (0 at its first instant)",
    "sea_shop_lift_ya": (
        "the shop's daily units in the same horizon a year ago, [cutoff - 365, cutoff - 365 + H) with H the "
        "horizon (7 days for a spec without one), over its daily units in the 28 days before that "
        "(NaN when none, or when the history starts after cutoff - 393: a window not wholly observed)"
    ),
    "sea_region_lift_ya": "the same year-ago lift for all items shipped to the customer's region",
    "sea_item_lift_ya": "the same year-ago lift for the item (units of everyone)",
    "sea_item_ya_over_recent": (
        "the item's daily units in the year-ago horizon over its daily units in the last 28 days "
        "(NaN when none, or when the history starts after cutoff - 365)"
    ),
    "sea_item_units_ya": (
        "units of the item sold to anyone in the year-ago horizon (NaN, not 0, when the history starts "
        "after cutoff - 365)"
    ),
    "sea_ci_units_ya": "units of the item the customer bought in the year-ago horizon (NaN likewise)",
}


#: The spec's keys at the top of a model's meta, in the order models before the spec wrote them.
_FLAT_META_KEYS = ("item_level", "horizon_days", "lookback_days", "families")


def feature_columns(families: Sequence[str] = ALL_FAMILIES) -> list[str]:
    """The feature columns of ``families``, in table order (pinned by tests)."""
    return [name for name in FEATURE_DOCS if any(name.startswith(FAMILY_PREFIX[f]) for f in families)]


def family_of(column: str) -> str:
    """The family a feature column belongs to (by its prefix)."""
    return next(f for f, prefix in FAMILY_PREFIX.items() if column.startswith(prefix))


@dataclass(frozen=True)
class FeatureSpec:
    """How a feature table (and its labels) is built: one frozen value instead of four loose arguments.

    ``lookback_days``: candidates are the pairs with an order line in the last L days
    before the cutoff; ``horizon_days``: labels count orders in ``[cutoff, cutoff + H)``
    (``None`` for a table without labels); ``item_level``: ``sku`` or product
    ``category``; ``families``: the feature families (columns come in table order whatever
    the order given).
    """

    lookback_days: int
    horizon_days: int | None = None
    item_level: str = "sku"
    families: tuple[str, ...] = ALL_FAMILIES

    def __post_init__(self) -> None:
        unknown = [f for f in self.families if f not in ALL_FAMILIES]
        if unknown:
            raise ValueError(f"unknown feature families {unknown}; known: {list(ALL_FAMILIES)}")
        if self.item_level not in ITEM_LEVELS:
            raise ValueError(f"item_level is {self.item_level!r}: it must be one of {list(ITEM_LEVELS)}")
        object.__setattr__(self, "lookback_days", int(self.lookback_days))
        if self.horizon_days is not None:
            object.__setattr__(self, "horizon_days", int(self.horizon_days))
        object.__setattr__(self, "families", tuple(self.families))

    @property
    def horizon(self) -> int:
        """``horizon_days`` (days), for a spec that labels; ValueError when it has none."""
        if self.horizon_days is None:
            raise ValueError("this feature spec has no horizon_days, so it cannot build labels")
        return self.horizon_days

    @property
    def columns(self) -> list[str]:
        """The feature columns of the spec's families, in table order."""
        return feature_columns(self.families)

    @classmethod
    def from_config(cls, cfg: Any) -> FeatureSpec:
        """The spec of a :class:`~anticipate.config.Config`: ``time``, ``model.item_level``, ``features``."""
        return cls(
            lookback_days=cfg.time.lookback_days,
            horizon_days=cfg.time.horizon_days,
            item_level=cfg.model.item_level,
            families=tuple(cfg.features.families),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (families as a list)."""
        return {
            "lookback_days": self.lookback_days,
            "horizon_days": self.horizon_days,
            "item_level": self.item_level,
            "families": list(self.families),
        }

    def to_meta(self) -> dict[str, Any]:
        """The model-meta entries: ``feature_spec`` plus the flat keys that models before it carried."""
        flat = self.to_dict()
        return {key: flat[key] for key in _FLAT_META_KEYS} | {"feature_spec": self.to_dict()}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> FeatureSpec:
        """The spec a model was trained with: its ``feature_spec``, or (older models) the flat keys.

        Models saved before the spec existed carry ``item_level``, ``horizon_days``,
        ``lookback_days`` and ``families`` at the top of their meta.
        """
        saved = meta.get("feature_spec")
        if saved is not None:
            return cls(**saved)
        return cls(
            lookback_days=int(meta["lookback_days"]),
            horizon_days=int(meta["horizon_days"]),
            item_level=str(meta.get("item_level", "sku")),
            families=tuple(meta.get("families", LEGACY_FAMILIES)),
        )


def resolve_spec(spec: FeatureSpec | None, fields: Mapping[str, Any]) -> FeatureSpec:
    """``spec``, or one built from its fields given as keywords (``lookback_days=...``, ...).

    The table builders take either form; TypeError when both or an unknown field is given.
    """
    if spec is None:
        return FeatureSpec(**fields)
    if fields:
        raise TypeError(f"pass a FeatureSpec or its fields as keywords, not both (got {sorted(fields)})")
    return spec
