"""Great-circle distances, nearest warehouses with ties and the service radius, move costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anticipate.config import NetworkConfig
from anticipate.demand.network import centre_location, haversine_km, move_costs, nearest_warehouse


def test_london_paris_is_about_344_km() -> None:
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.6, abs=1.0)


def test_nearest_with_exact_tie_goes_to_smaller_id_and_far_regions_to_centre() -> None:
    warehouses = pd.DataFrame(
        {"warehouse_id": ["W2", "W1"], "lat": [0.0, 0.0], "lon": [1.0, -1.0], "capacity": [1.0, 1.0]}
    )
    regions = pd.DataFrame(
        {"region": ["mid", "east", "far"], "lat": [0.0, 0.0, 60.0], "lon": [0.0, 1.2, 90.0]}
    )
    out = nearest_warehouse(regions, warehouses, max_service_km=1500).set_index("region")
    assert out.loc["mid", "warehouse_id"] == "W1"  # equidistant: the smaller id
    assert out.loc["east", "warehouse_id"] == "W2"
    assert pd.isna(out.loc["far", "warehouse_id"])  # farther than 1500 km from both: the centre
    assert out.loc["east", "km"] == pytest.approx(haversine_km(0, 1.2, 0, 1.0))


def test_a_warehouse_closed_with_capacity_0_leaves_its_regions_to_the_next_nearest() -> None:
    """Its regions were mapped to it and sent to the centre: the neighbours' stock never served them."""
    warehouses = pd.DataFrame(
        {"warehouse_id": ["W1", "W2"], "lat": [0.0, 0.0], "lon": [0.0, 2.0], "capacity": [0.0, 5.0]}
    )
    regions = pd.DataFrame({"region": ["near_w1", "near_w2"], "lat": [0.0, 0.0], "lon": [0.1, 1.9]})
    out = nearest_warehouse(regions, warehouses, max_service_km=1500).set_index("region")
    assert out["warehouse_id"].tolist() == ["W2", "W2"]
    assert out.loc["near_w1", "km"] == pytest.approx(haversine_km(0, 0.1, 0, 2.0))
    none_open = nearest_warehouse(regions, warehouses.assign(capacity=0.0), max_service_km=1500)
    assert none_open["warehouse_id"].tolist() == ["W1", "W2"]  # nothing to stock anyway: the plain map


def test_move_cost_is_per_km_from_the_centre() -> None:
    warehouses = pd.DataFrame(
        {"warehouse_id": ["A", "B"], "lat": [10.0, 20.0], "lon": [0.0, 0.0], "capacity": [1.0, 3.0]}
    )
    assert centre_location(warehouses, NetworkConfig()) == pytest.approx((17.5, 0.0))
    costs = move_costs(warehouses, NetworkConfig(centre_lat=10.0, centre_lon=0.0), per_km=0.01)
    np.testing.assert_allclose(costs["move_cost"], [0.0, 0.01 * haversine_km(10, 0, 20, 0)])
