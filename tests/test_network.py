"""Great-circle distances, nearest warehouses with ties and the service radius, move costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anticipate.config import NetworkConfig
from anticipate.demand.network import (
    centre_location,
    centre_summary,
    haversine_km,
    move_costs,
    nearest_warehouse,
    shared_sites,
)


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
    region_map = pd.DataFrame({"region": ["r1", "r2"], "warehouse_id": ["A", "B"]})
    assert centre_location(warehouses, NetworkConfig(), region_map) == pytest.approx((17.5, 0.0))
    costs = move_costs(warehouses, NetworkConfig(centre_lat=10.0, centre_lon=0.0), 0.01, region_map)
    np.testing.assert_allclose(costs["move_cost"], [0.0, 0.01 * haversine_km(10, 0, 20, 0)])


def test_a_warehouse_that_serves_no_region_is_left_out_of_the_implicit_centre() -> None:
    """audit22 #2: W9 at -45, 170 (capacity 80, serving no region) moved the centroid of all warehouses
    ~2,000 km, every move cost rose with it and the sample plan lost 36% of its value (1,600.51 ->
    1,016.91). A closed warehouse (capacity 0) has no say either; a pinned centre stays where it is."""
    near = pd.DataFrame({"warehouse_id": ["A", "B"], "lat": [50.0, 52.0], "lon": [0.0, 0.0],
                         "capacity": [1.0, 3.0]})
    far = pd.concat([near, pd.DataFrame({"warehouse_id": ["W9", "C"], "lat": [-45.0, 40.0],
                                         "lon": [170.0, 20.0], "capacity": [80.0, 0.0]})])
    regions = pd.DataFrame({"region": ["r1", "r2"], "lat": [50.1, 51.9], "lon": [0.0, 0.0]})
    region_map = nearest_warehouse(regions, far, max_service_km=1500)
    assert region_map["warehouse_id"].tolist() == ["A", "B"]  # W9 and C serve nothing
    assert centre_location(far, NetworkConfig(), region_map) == pytest.approx((51.5, 0.0))
    same = move_costs(near, NetworkConfig(), 0.0005, region_map)
    costs = move_costs(far, NetworkConfig(), 0.0005, region_map).iloc[:2].reset_index(drop=True)
    pd.testing.assert_frame_equal(costs, same)  # bit for bit: the sample's plan keeps its bytes
    pinned = NetworkConfig(centre_lat=10.0, centre_lon=5.0)
    assert centre_location(far, pinned, region_map) == (10.0, 5.0)
    assert centre_summary(far, pinned, region_map) == {"lat": 10.0, "lon": 5.0,
                                                       "source": "network.centre_lat/lon"}
    assert centre_summary(far, NetworkConfig(), region_map)["lat"] == 51.5
    nobody = region_map.assign(warehouse_id=pd.array([None, None], dtype="string"))
    assert centre_location(far, NetworkConfig(), nobody)[0] == pytest.approx((50 + 3 * 52 - 45 * 80) / 84)


def test_warehouses_at_one_site_are_found_with_the_one_that_serves_it() -> None:
    """audit22 #14: every warehouse at W1's location; the exact tie gave W1 every region."""
    warehouses = pd.DataFrame({"warehouse_id": ["W3", "W1", "W2", "W4"], "lat": [51.0, 51.0, 51.0, 40.0],
                               "lon": [-1.0, -1.0, -1.0, 3.0], "capacity": [1.0, 1.0, 1.0, 1.0]})
    assert shared_sites(warehouses, ["W2", "W3", "W4"], {"W1"}) == {"W1": ["W2", "W3"]}
    assert shared_sites(warehouses, ["W4"], {"W1"}) == {}
    assert shared_sites(warehouses, ["W2"], set()) == {}
