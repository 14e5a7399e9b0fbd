"""Shared benchmark inputs: a ~10M-line synthetic world, generated once into the work directory.

``ensure_big_world(workdir)`` returns ``workdir/world10m`` (canonical tables plus
``latent/``), generating it when it is absent or was written from another config or
generator source (a fingerprint file records both); the sample, ingest and features
benchmarks all read the same world.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from anticipate.config import SampleConfig

BIG = SampleConfig(
    customers=320_000, skus=20_000, categories=200, regions=200, warehouses=50, days=730, seed=7
)
BIG_DIR = "world10m"
FINGERPRINT = "bench_world.json"


def fingerprint(cfg: SampleConfig = BIG) -> str:
    """SHA-256 of ``cfg`` (default: the BIG world's) and the generator sources that decide its contents."""
    import anticipate.sample

    h = hashlib.sha256(json.dumps(cfg.model_dump(), sort_keys=True).encode())
    package = Path(anticipate.sample.__file__).parent
    for path in (package / "world.py", package / "simulate.py", package / "store.py"):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def big_world_is_current(target: Path) -> bool:
    """Whether ``target`` holds the BIG world written by the current generator."""
    marker = target / FINGERPRINT
    if not ((target / "orders.parquet").is_file() and marker.is_file()):
        return False
    return json.loads(marker.read_text()).get("fingerprint") == fingerprint()


def write_big_world(target: Path, tables: dict[str, pd.DataFrame], latent: object) -> Path:
    """Publish an already generated BIG world at ``target`` atomically."""
    from anticipate.pipelines.sample import SAMPLE_OUTPUT
    from anticipate.sample import write_world
    from anticipate.storage.publish import staging_dir

    with staging_dir(target, SAMPLE_OUTPUT.with_names({FINGERPRINT})) as stage:
        write_world(tables, latent, stage)  # type: ignore[arg-type]
        (stage / FINGERPRINT).write_text(json.dumps({"fingerprint": fingerprint()}) + "\n")
    return target


def ensure_big_world(workdir: Path) -> Path:
    """``workdir/world10m``: the BIG world's tables (generated on first use, then reused)."""
    from anticipate.sample import generate_world

    target = Path(workdir) / BIG_DIR
    if not big_world_is_current(target):
        tables, latent = generate_world(BIG)
        write_big_world(target, tables, latent)
    return target


def big_orders(workdir: Path) -> pd.DataFrame:
    """The BIG world's orders."""
    return pd.read_parquet(ensure_big_world(workdir) / "orders.parquet")
