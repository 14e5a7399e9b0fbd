"""Warehouses a published plan leaves idle, and why: the warnings of :func:`idle_warehouse_warnings`;
and regions it leaves to the centre (:func:`far_region_warnings`).

A warehouse with capacity that is the nearest of no region is stocked with nothing; usually its
coordinates are wrong (swapped, mistyped, a geocoder's default) or it shares a serving warehouse's
site. Split from :mod:`anticipate.demand.gates`, whose plan check calls it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from anticipate import dates


def examples(values: list[str], n: int = 3) -> str:
    """The first ``n`` of ``values`` quoted, and how many more."""
    shown = ", ".join(repr(v) for v in values[:n])
    return shown + (f" and {len(values) - n} more" if len(values) > n else "")


def span(recent: Any) -> str:
    """The days of a :class:`~anticipate.demand.gates.RecentDemand` window, first to last."""
    return f"{dates.fmt(recent.start)} to {dates.fmt(recent.end - pd.Timedelta(days=1))}"


def idle_warehouse_warnings(
    region_map: pd.DataFrame, warehouses: pd.DataFrame, recent: Any, max_service_km: float,
    *, centre: tuple[float, float] | None = None,
) -> list[str]:
    """A warning when a warehouse with capacity is the nearest warehouse of no region within
    ``max_service_km`` (km): stocked with nothing, typically lat and lon swapped, its regions sent to
    the centre (their share of the ``recent`` units is said); given ``centre`` (the implicit centre's
    lat, lon), that it is left out of the centre. Those sharing a serving warehouse's site
    (:func:`~anticipate.demand.network.shared_sites`, the exact tie) have their own. None when all serve.
    """
    from anticipate.demand.network import shared_sites

    serving = set(region_map["warehouse_id"].dropna().astype(str))
    has_room = warehouses["capacity"].to_numpy(float) > 0
    idle = sorted(set(warehouses.loc[has_room, "warehouse_id"].astype(str)) - serving)
    hosts = shared_sites(warehouses, idle, serving)
    out = [_shared_site_warning(host, guests, centre) for host, guests in hosts.items()]
    idle = [w for w in idle if not any(w in guests for guests in hosts.values())]
    if not idle:
        return out
    share = ""
    if recent is not None and recent.units > 0:
        far = recent.units - recent.mapped_units - recent.unknown_units
        share = f"; {far / recent.units:.1%} of the units ordered from {span(recent)} go to the centre"
    one = len(idle) == 1
    return [*out, f"{'warehouse' if one else 'warehouses'} {examples(idle)} with capacity "
            f"{'is' if one else 'are'} the nearest warehouse of no region within network.max_service_km "
            f"({max_service_km:,.0f} km), so the plan stocks nothing there{share}"
            f"{_centre_note(one, centre)}: check {'its' if one else 'their'} lat and lon in "
            f"warehouses.parquet (swapped or mistyped coordinates)"]


def _centre_note(one: bool, centre: tuple[float, float] | None) -> str:
    """What leaving idle warehouses out of the implicit centre (lat, lon) means; empty when it is pinned."""
    if centre is None:
        return ""
    return (f"; {'it is' if one else 'they are'} left out of the centre's location (network.centre_lat/lon "
            f"unset: the capacity-weighted centroid of the warehouses that serve a region, now "
            f"{centre[0]:.4f}, {centre[1]:.4f}; set them to pin it)")


def _shared_site_warning(host: str, guests: list[str], centre: tuple[float, float] | None) -> str:
    """The warning for warehouses ``guests`` that share ``host``'s site and serve no region."""
    one = len(guests) == 1
    return (f"{'warehouse' if one else 'warehouses'} {examples(guests)} with capacity "
            f"{'shares' if one else 'share'} the location of {host!r}, which serves every region nearest to "
            f"that site (exact ties go to the smaller warehouse_id), so the plan stocks nothing in "
            f"{'it' if one else 'them'}{_centre_note(one, centre)}: if they are one site, give {host!r} "
            f"their capacity in warehouses.parquet; if not, check their lat and lon (a geocoder's default, "
            f"a copied row)")


def far_region_warnings(region_map: pd.DataFrame, recent: Any, max_service_km: float) -> list[str]:
    """A warning when some of the ``recent`` units come from regions farther than ``max_service_km`` (km)
    from every warehouse with capacity (``region_map``: ``region, warehouse_id, km``, NA warehouse = the
    centre): the plan pre-positions none of their demand (audit33: two regions with lat and lon swapped,
    7,644 km from every warehouse, 12.5% of the units, took 49 units out of the plan without a word).
    Every region that far is refused before (gate 1); none that far: no warning."""
    if recent is None or recent.units <= 0 or not recent.far_regions:
        return []
    far = recent.units - recent.mapped_units - recent.unknown_units
    if far <= 0:
        return []
    km = pd.Series(region_map["km"].to_numpy(float), index=region_map["region"].astype(str))
    named = ", ".join(f"{r!r} at {km.get(r, float('nan')):,.0f} km" for r in recent.far_regions[:3])
    more = f" and {len(recent.far_regions) - 3} more" if len(recent.far_regions) > 3 else ""
    return [f"{far / recent.units:.1%} of the units ordered from {span(recent)} come from regions farther "
            f"than network.max_service_km ({max_service_km:,.0f} km) from every warehouse with capacity "
            f"({named}{more}): the centre serves them, so the plan pre-positions none of their demand; if "
            f"a warehouse should serve them, check their lat and lon in regions.parquet (swapped or mistyped "
            f"coordinates), or raise network.max_service_km"]
