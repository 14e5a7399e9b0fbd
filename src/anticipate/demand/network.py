"""The distribution network: great-circle distances, region -> nearest warehouse, move costs.

Distances are kilometres on a sphere of radius 6371.0088 km. Each region is served by
its nearest warehouse with capacity (ties: the smaller warehouse_id) unless every such
warehouse is farther than ``network.max_service_km``: then the central centre serves it
and it adds no local demand. A warehouse with capacity 0 (closed for the night) serves no
region, so its regions go to the next nearest; when no warehouse has capacity, all count.
The centre is ``network.centre_lat/lon`` or the capacity-weighted centroid of the warehouses
that serve a region (:func:`centre_location`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from anticipate.config import NetworkConfig
from anticipate.errors import DataError

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest_warehouse(
    regions: pd.DataFrame, warehouses: pd.DataFrame, *, max_service_km: float
) -> pd.DataFrame:
    """``region, warehouse_id, km`` for every region; warehouse_id is NA when served from the centre.

    Only warehouses with capacity > 0 serve (all of them when none has any). Uses
    scikit-learn's BallTree with the haversine metric; exact ties on distance
    go to the smaller warehouse_id.
    """
    from sklearn.neighbors import BallTree

    if warehouses is None or len(warehouses) == 0:
        raise DataError(
            "the warehouses table is empty; add at least one warehouse (warehouse_id, lat, lon, capacity)"
        )
    if "capacity" in warehouses and (warehouses["capacity"].to_numpy(float) > 0).any():
        warehouses = warehouses[warehouses["capacity"].to_numpy(float) > 0]  # closed ones serve no region
    wh = warehouses.sort_values("warehouse_id", kind="stable").reset_index(drop=True)
    tree = BallTree(np.radians(wh[["lat", "lon"]].to_numpy(float)), metric="haversine")
    k = min(len(wh), 3)
    dist, idx = tree.query(np.radians(regions[["lat", "lon"]].to_numpy(float)), k=k)
    km = dist * EARTH_RADIUS_KM
    best = np.zeros(len(regions), dtype=int)
    for j in range(1, k):  # idx is sorted by distance; prefer the smaller id on an exact tie
        tie = np.isclose(km[:, j], km[:, 0], rtol=0, atol=1e-9) & (idx[:, j] < idx[np.arange(len(idx)), best])
        best = np.where(tie, j, best)
    chosen = idx[np.arange(len(idx)), best]
    chosen_km = km[np.arange(len(km)), best]
    ids = wh["warehouse_id"].astype(str).to_numpy()[chosen].astype(object)
    ids[chosen_km > max_service_km] = None
    return pd.DataFrame(
        {
            "region": regions["region"].astype(str).to_numpy(),
            "warehouse_id": pd.array(ids, dtype="string"),
            "km": chosen_km,
        }
    )


def centre_location(
    warehouses: pd.DataFrame, cfg: NetworkConfig, region_map: pd.DataFrame
) -> tuple[float, float]:
    """The central fulfilment centre: config ``network.centre_lat/lon`` or the implicit centre.

    The implicit centre is the capacity-weighted centroid of the warehouses that serve a
    region (``region_map``: :func:`nearest_warehouse`'s output) and have capacity: one that
    serves none (far away, lat and lon swapped) would drag it, and every move cost with it,
    by thousands of km. With no serving warehouse, the centroid of all with capacity (of all
    when none has any).
    """
    if cfg.centre_lat is not None and cfg.centre_lon is not None:
        return float(cfg.centre_lat), float(cfg.centre_lon)
    cap = np.clip(warehouses["capacity"].to_numpy(float), 0, 1e12)
    serving = warehouses["warehouse_id"].astype(str).isin(
        region_map["warehouse_id"].dropna().astype(str)).to_numpy() & (cap > 0)
    keep = serving if serving.any() else (cap > 0 if (cap > 0).any() else np.ones(len(cap), dtype=bool))
    w = cap[keep] + 1e-9
    lat, lon = warehouses["lat"].to_numpy(float)[keep], warehouses["lon"].to_numpy(float)[keep]
    return float(np.average(lat, weights=w)), float(np.average(lon, weights=w))


def implicit_centre(
    warehouses: pd.DataFrame, cfg: NetworkConfig, region_map: pd.DataFrame
) -> tuple[float, float] | None:
    """The implicit centre (:func:`centre_location`) when ``network.centre_lat/lon`` are unset, else None."""
    if cfg.centre_lat is not None and cfg.centre_lon is not None:
        return None
    return centre_location(warehouses, cfg, region_map)


def centre_summary(
    warehouses: pd.DataFrame, cfg: NetworkConfig, region_map: pd.DataFrame
) -> dict[str, object]:
    """``lat``, ``lon`` (degrees, 6 decimals) and ``source`` of the centre (:func:`centre_location`)."""
    lat, lon = centre_location(warehouses, cfg, region_map)
    pinned = cfg.centre_lat is not None and cfg.centre_lon is not None
    source = ("network.centre_lat/lon" if pinned else "capacity-weighted centroid of the warehouses that "
              "serve a region (network.centre_lat/lon unset)")
    return {"lat": round(lat, 6), "lon": round(lon, 6), "source": source}


def move_costs(
    warehouses: pd.DataFrame, cfg: NetworkConfig, per_km: float, region_map: pd.DataFrame
) -> pd.DataFrame:
    """``warehouse_id, km_from_centre, move_cost``: cost of moving one unit centre -> warehouse (currency).

    ``region_map``: :func:`nearest_warehouse`'s output, which places the implicit centre.
    """
    lat, lon = centre_location(warehouses, cfg, region_map)
    km = haversine_km(lat, lon, warehouses["lat"].to_numpy(float), warehouses["lon"].to_numpy(float))
    return pd.DataFrame(
        {
            "warehouse_id": warehouses["warehouse_id"].astype(str).to_numpy(),
            "km_from_centre": km,
            "move_cost": per_km * km,
        }
    )


#: Warehouses closer than this (km) share a site: every region is equally near them.
SHARED_SITE_KM = 1e-3


def shared_sites(warehouses: pd.DataFrame, idle: list[str], serving: set[str]) -> dict[str, list[str]]:
    """Serving warehouse -> the ``idle`` ones (ids) within :data:`SHARED_SITE_KM` of it.

    Co-located warehouses tie on every region's distance and the tie goes to the smaller id
    (:func:`nearest_warehouse`), so the others serve nothing. An idle one goes to the smallest
    serving id at its site; one at no serving warehouse's site is not in the result.
    """
    wh = warehouses.assign(warehouse_id=warehouses["warehouse_id"].astype(str))
    hosts = wh[wh["warehouse_id"].isin(serving)].sort_values("warehouse_id", kind="stable")
    out: dict[str, list[str]] = {}
    for wid, lat, lon in wh.loc[wh["warehouse_id"].isin(idle), ["warehouse_id", "lat", "lon"]].itertuples(
            index=False):
        km = haversine_km(lat, lon, hosts["lat"].to_numpy(float), hosts["lon"].to_numpy(float))
        near = np.flatnonzero(km <= SHARED_SITE_KM)
        if len(near):
            out.setdefault(str(hosts["warehouse_id"].iloc[near[0]]), []).append(str(wid))
    return {host: sorted(guests) for host, guests in sorted(out.items())}


def region_km_saved(
    regions: pd.DataFrame, region_map: pd.DataFrame, centre: tuple[float, float]
) -> pd.Series:
    """Per region: km from the centre minus km from its warehouse (what a local shipment saves)."""
    from_centre = haversine_km(
        centre[0], centre[1], regions["lat"].to_numpy(float), regions["lon"].to_numpy(float)
    )
    local = region_map.set_index("region")["km"].reindex(regions["region"].astype(str)).to_numpy()
    saved = np.where(
        region_map.set_index("region")["warehouse_id"].reindex(regions["region"].astype(str)).isna(),
        0.0,
        from_centre - local,
    )
    return pd.Series(saved, index=regions["region"].astype(str).to_numpy(), name="km_saved")
