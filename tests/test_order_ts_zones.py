"""audit23 F10c: zone-aware ``order_ts`` (a data directory written by another tool, or orders handed to the
library) is the contract's naive UTC, explicitly: the same instants, without numpy's UserWarning "no explicit
representation of timezones" (one per history build) nor a crash on comparing it with a naive cutoff.

The session's trained world's orders, in Europe/Berlin (+01:00/+02:00), against the same orders naive UTC.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from anticipate import dates
from anticipate.features.history import history
from tests.conftest import TrainedWorld, run_cli


def _berlin(orders: pd.DataFrame) -> pd.DataFrame:
    zoned = orders.copy()
    zoned["order_ts"] = zoned["order_ts"].dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin")
    return zoned


def test_naive_utc_converts_to_utc_rather_than_keeping_the_wall_time() -> None:
    utc = pd.Series(pd.to_datetime(["2024-01-01 09:00", "2024-06-30 22:30"]))
    zoned = utc.dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin")  # 10:00+01:00, 00:30+02:00 next day
    assert zoned.dt.hour.tolist() == [10, 0]
    assert dates.naive_utc(zoned).tolist() == utc.tolist()
    naive = pd.Series(pd.to_datetime(["2024-01-01 10:00"]))
    assert dates.naive_utc(naive) is naive


def test_history_of_zone_aware_orders_is_that_of_naive_utc_and_warns_nothing(
        trained_world: TrainedWorld) -> None:
    orders = pd.read_parquet(trained_world.data / "orders.parquet")
    naive = history(orders, pd.Timestamp("2024-08-20"), "sku", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's timezone UserWarning included
        zoned = history(_berlin(orders), pd.Timestamp("2024-08-20", tz="UTC"), "sku", None)
    for field in ("cust", "item", "order", "region", "age", "units", "spend"):
        np.testing.assert_array_equal(getattr(zoned, field), getattr(naive, field), err_msg=field)
    assert zoned.customers.equals(naive.customers) and zoned.items.equals(naive.items)


def test_features_of_a_zone_aware_data_directory_are_byte_identical(trained_world: TrainedWorld,
                                                                    tmp_path: Path) -> None:
    zoned = tmp_path / "zoned"
    shutil.copytree(trained_world.data, zoned)
    _berlin(pd.read_parquet(zoned / "orders.parquet")).to_parquet(zoned / "orders.parquet", index=False)
    for cutoff in ((), ("--cutoff", "2024-08-20")):  # the default cutoff, then a given (naive) one
        outs = []
        for data, name in ((trained_world.data, "naive"), (zoned, "zoned")):
            out = tmp_path / f"{name}.parquet"
            done = run_cli("--data", str(data), "--config", str(trained_world.config), "features", *cutoff,
                           "--out", str(out))
            assert done.returncode == 0, done.stderr[-2000:]
            assert "Warning" not in done.stderr, done.stderr[-2000:]
            outs.append(out.read_bytes())
        assert outs[0] == outs[1], cutoff
