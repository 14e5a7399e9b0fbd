"""Shared benchmark inputs: a ~10M-line synthetic world generated once into the work directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from anticipate.config import SampleConfig

BIG = SampleConfig(
    customers=420_000, skus=20_000, categories=200, regions=200, warehouses=50, days=730, seed=7
)


def ensure_big_world(workdir: Path) -> Path:
    """``workdir/world10m``: the BIG world's canonical tables (generated on first use)."""
    from anticipate.io import staging_dir
    from anticipate.sample import generate_world, write_world

    target = workdir / "world10m"
    if not (target / "orders.parquet").is_file():
        tables, latent = generate_world(BIG)
        with staging_dir(target) as stage:
            write_world(tables, latent, stage)
    return target


def big_orders(workdir: Path) -> pd.DataFrame:
    """The BIG world's orders."""
    return pd.read_parquet(ensure_big_world(workdir) / "orders.parquet")
