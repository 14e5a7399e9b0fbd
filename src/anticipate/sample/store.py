"""Writing a generated world (canonical tables + ``latent/``) and reading the latent state back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from anticipate.errors import DataError

from .world import Latent

LATENT_DIR = "latent"
FORMAT = 2
_LATENT_TABLES = ("regions", "skus", "customers", "favourites", "renewals")


def write_world(tables: dict[str, pd.DataFrame], latent: Latent, out: Path) -> None:
    """Write the canonical tables and ``latent/`` into ``out`` (normally a staging directory).

    Files: ``{orders,products,regions,warehouses,supply}.parquet`` and
    ``latent/{regions,skus,customers,favourites,renewals}.parquet`` plus
    ``latent/world.json`` (start, days, weekday and season profile, MU_K, AWAY_SHARE).
    Same inputs, same bytes.
    """
    from anticipate.storage.files import write_json, write_parquet

    out = Path(out)
    for name, frame in tables.items():
        write_parquet(frame, out / f"{name}.parquet")
    for name in _LATENT_TABLES:
        write_parquet(getattr(latent, name).reset_index(drop=True), out / LATENT_DIR / f"{name}.parquet")
    write_json(
        {
            "format": FORMAT,
            "start": str(latent.start.date()),
            "days": latent.days,
            "dow": [float(x) for x in latent.dow],
            "season": latent.season,
            "mu_k": latent.mu_k,
            "away_share": latent.away_share,
        },
        out / LATENT_DIR / "world.json",
    )


def load_latent(data_dir: str | Path) -> Latent | None:
    """The latent state of a synthetic data directory, or None when it is not synthetic.

    Raises
    ------
    DataError
        ``latent/`` exists but was written by another version of the generator or is incomplete.
    """
    lat = Path(data_dir) / LATENT_DIR
    if not (lat / "world.json").is_file():
        return None
    world = json.loads((lat / "world.json").read_text())
    missing = [n for n in _LATENT_TABLES if not (lat / f"{n}.parquet").is_file()]
    if world.get("format") != FORMAT or missing:
        raise DataError(
            f"{lat} holds the latent state of another generator version (format {world.get('format')}, "
            f"expected {FORMAT}; missing {missing or 'nothing'}); regenerate the world with "
            f"'anticipate sample --out {data_dir}'"
        )
    frames = {n: pd.read_parquet(lat / f"{n}.parquet") for n in _LATENT_TABLES}
    return Latent(
        start=pd.Timestamp(world["start"]),
        days=int(world["days"]),
        dow=np.asarray(world["dow"], dtype=np.float64),
        season={k: float(v) for k, v in world["season"].items()},
        mu_k=float(world["mu_k"]),
        away_share=float(world["away_share"]),
        **frames,
    )


#: The largest share of order lines from customers a synthetic world does not know (or dated before
#: it began) with which its truth is still read: appended nights may bring a few arrivals, another
#: shop's orders bring nearly all.
MAX_STRANGER_SHARE = 0.05


def latent_of(data_dir: str | Path, orders: pd.DataFrame) -> Latent | None:
    """:func:`load_latent`, checked against the directory's orders: the world must describe them.

    An ingest that updates a synthetic data directory carries its ``latent/`` over; when the
    orders are then another shop's, the true probabilities and truth plans read from it would
    be silently wrong. Nights appended after the world's days are its continuation (the truth
    is read at cutoffs inside its days), so only lines from customers it does not know or
    dated before it began count against it, up to :data:`MAX_STRANGER_SHARE` of the lines.

    Raises
    ------
    DataError
        More than that share of the lines are strangers' or older than the world.
    """
    latent = load_latent(data_dir)
    if latent is None or orders.empty:
        return latent
    lat = Path(data_dir) / LATENT_DIR
    known = orders["customer_id"].isin(set(latent.customers["customer_id"].astype(str)))  # categories: cheap
    before = orders["order_ts"] < latent.start
    odd = int((~known.to_numpy() | before.to_numpy()).sum())
    if odd <= MAX_STRANGER_SHARE * len(orders):
        return latent
    raise DataError(
        f"{lat} holds a synthetic world that does not describe the orders of {data_dir}: {odd:,} of their "
        f"{len(orders):,} lines ({odd / len(orders):.0%}) come from customers it does not know or are dated "
        f"before it began ({latent.start.date()}), so the true probabilities and truth plans read from it "
        f"would be wrong; delete {lat} if these orders are not that world's"
    )
