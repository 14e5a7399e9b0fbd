"""The benchmark's instance families: valid as built, each with the property it is named for."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments" / "benchmarks"))

from families import FAMILIES, frames, instance

from anticipate.allocation import solve


@pytest.mark.parametrize("family", FAMILIES)
def test_families_are_valid_as_built_and_solve_to_tolerance(family: str) -> None:
    built = instance(family, 10, 300, seed=3)
    checked = instance(family, 10, 300, seed=3, validate=True)
    for name in ("warehouses", "skus", "cells"):
        pd.testing.assert_frame_equal(getattr(built, name), getattr(checked, name), check_dtype=False)
    plan = solve(built)
    assert plan.gap <= 1e-3 and plan.objective > 0


def test_each_family_has_its_property() -> None:
    def parts(family: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return frames(family, 20, 2000, seed=1)

    _, skus, cells = parts("zipf")
    assert cells["mu"].max() > 100 * cells["mu"].median()
    _, skus, _ = parts("volume_spread")
    assert skus["unit_volume"].min() < 0.02 and skus["unit_volume"].max() > 30
    _, skus, cells = parts("zeros")
    assert (skus["supply"] == 0).mean() > 0.05 and (cells["mu"] == 0).mean() > 0.05
    _, _, cells = parts("dispersion")
    poisson = np.isclose(cells["var"], cells["mu"])
    r = cells["mu"] ** 2 / (cells["var"] - cells["mu"]).where(~poisson)
    assert 0.3 < poisson.mean() < 0.5 and r.min() < 0.6
    _, skus, cells = parts("move_cost")
    vol = skus.set_index("sku")["unit_volume"].reindex(cells["sku"]).to_numpy()
    assert np.corrcoef(vol, cells["move_cost"])[0, 1] > 0.5
    _, skus, cells = parts("short_supply")
    demand = cells.groupby("sku")["mu"].sum().reindex(skus["sku"]).to_numpy()
    assert 0.4 < (skus["supply"].to_numpy() < demand).mean() < 0.6
