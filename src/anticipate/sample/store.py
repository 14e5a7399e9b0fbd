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


def latent_of(data_dir: str | Path, orders: pd.DataFrame) -> Latent | None:
    """:func:`load_latent`, checked against the directory's orders: the world must describe them.

    An ingest that updates a synthetic data directory carries its ``latent/`` over; when the
    orders are then another shop's (or extend past the world's days), the true probabilities
    and truth plans read from it would be silently wrong.

    Raises
    ------
    DataError
        Orders from customers the world does not know, or dated outside its days.
    """
    latent = load_latent(data_dir)
    if latent is None or orders.empty:
        return latent
    lat = Path(data_dir) / LATENT_DIR
    known = set(latent.customers["customer_id"].astype(str))
    strangers = sorted(set(orders["customer_id"].astype(str).unique()) - known)
    end = latent.start + pd.Timedelta(days=latent.days)
    outside = int(((orders["order_ts"] < latent.start) | (orders["order_ts"] >= end)).sum())
    if not strangers and not outside:
        return latent
    found = (f"{len(strangers):,} of the orders' customers are not in it (e.g. {strangers[0]!r})" if strangers
             else f"{outside:,} order lines are dated outside its days {latent.start.date()} to "
             f"{(end - pd.Timedelta(days=1)).date()}")
    raise DataError(
        f"{lat} holds a synthetic world that does not describe the orders of {data_dir}: {found}, so the "
        f"true probabilities and truth plans read from it would be wrong; delete {lat} if these orders are "
        "not that world's, or regenerate the world with 'anticipate sample'"
    )
