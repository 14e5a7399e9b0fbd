"""The allocation instance: reading, writing, building, generating (the tables and their checks:
:mod:`.validation`).

``warehouses`` (warehouse_id, capacity in volume), ``skus`` (sku, unit_volume, supply in
units, g and h in currency), ``cells`` (warehouse_id, sku, mu, var in units,
move_cost in currency per unit). Every problem names the file, row and column.

:func:`write_instance` and :func:`read_instance` are the one owner of the directory format: what
``allocate`` exports into ``plans/DATE/instance/`` is what ``solve --instance`` reads, number for
number (floats are written as their shortest round-trip text and read back exactly).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from anticipate.allocation.instance_text import read_csv_table, strip_ids
from anticipate.allocation.validation import (
    CAPACITY_CAP,
    COLUMNS,
    NUMBER_RULES,
    Instance,
    validate_instance,
)
from anticipate.errors import DataError

__all__ = [
    "CAPACITY_CAP",
    "COLUMNS",
    "Instance",
    "generate_instance",
    "instance_files",
    "instance_from_frames",
    "read_instance",
    "sku_economics",
    "validate_instance",
    "write_instance",
]

#: How :func:`write_instance` stores each table: the two small tables a planner edits as text
#: (a capacity, a supply), the cells (warehouses x SKUs, up to millions of rows) as Parquet.
EXPORT_SUFFIX = {"warehouses": ".csv", "skus": ".csv", "cells": ".parquet"}


def table_file(directory: Path, name: str) -> Path:
    """The file holding table ``name`` in ``directory``: exactly ``NAME.parquet`` or ``NAME.csv``, a file
    (a ``skus.bak`` or a ``cells.orig/`` folder beside it is not the table); DataError when neither or
    both are there."""
    found = [directory / f"{name}{suffix}" for suffix in (".parquet", ".csv")]
    found = [path for path in found if path.is_file()]
    if len(found) > 1:  # one would be ignored without a word: an edited copy beside the exported file
        raise DataError(
            f"{directory} holds both {name}.parquet and {name}.csv; an instance directory holds each "
            "table once: delete the one you did not mean (e.g. the exported file you replaced by an "
            "edited copy)"
        )
    if not found:
        raise DataError(
            f"{directory} has no {name}.parquet or {name}.csv; an instance directory holds warehouses, "
            "skus and cells (see 'anticipate solve --help')"
        )
    return found[0]


def instance_files(directory: str | Path) -> dict[str, Path]:
    """Each table's file in an instance ``directory``, by table name: the files :func:`read_instance`
    reads, and only those (other files and folders there are no part of the instance)."""
    return {name: table_file(Path(directory), name) for name in COLUMNS}


def _read_table(directory: Path, name: str) -> tuple[pd.DataFrame, str, list[str]]:
    """One table of ``directory`` (:func:`table_file`), its path, and what reading it warned."""
    path = table_file(directory, name)
    if path.suffix == ".csv":  # as a spreadsheet may have saved it (instance_text)
        frame, warnings = read_csv_table(path, NUMBER_RULES[name])
        return frame, str(path), warnings
    from anticipate.column_names import match_header
    from anticipate.storage.files import read_parquet_checked

    frame = read_parquet_checked(path, columns=None, stored_dictionaries=True,
                                 dictionary=[c for c in ("warehouse_id", "sku") if c in COLUMNS[name]])
    return frame.rename(columns=match_header([str(c) for c in frame.columns], COLUMNS[name])), str(path), []


def _unused_columns(frame: pd.DataFrame, name: str, source: str) -> list[str]:
    """The warning that a table holds columns the instance does not read (a planner's note column), which
    are ignored: said, not dropped in silence."""
    extra = [_column_name(frame, c) for c in frame.columns if c not in COLUMNS[name]]
    extra = [c for c in extra if c]
    if not extra:
        return []
    return [f"file {source}: column(s) {', '.join(extra)} are not part of the {name} table "
            f"({', '.join(COLUMNS[name])}) and were ignored; delete them to silence this"]


def _column_name(frame: pd.DataFrame, column: object) -> str:
    """How a column the instance does not read is named in its warning: 'note'; a header field left blank
    (pandas' ``Unnamed: 2``) as "an unnamed column (field 3)", and not at all when it is empty too (a
    spreadsheet's trailing comma: nothing is dropped)."""
    text = str(column)
    if not text.startswith("Unnamed: "):
        return repr(text)
    if frame[column].isna().all() or frame[column].astype(str).str.strip().eq("").all():
        return ""
    return f"an unnamed column (field {frame.columns.get_loc(column) + 1})"


def read_instance(directory: str | Path) -> Instance:
    """Read ``warehouses``, ``skus`` and ``cells`` (Parquet or CSV) from ``directory`` and validate.

    Spaces around ids are removed and a ``;``-separated CSV is read (:mod:`.instance_text`); what
    that read says is in the instance's ``read_warnings``, for the caller to show.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"instance directory {directory} does not exist or is not a directory")
    frames, sources, warnings = {}, {}, []
    for name in COLUMNS:
        frame, sources[name], said = _read_table(directory, name)
        frames[name], stripped = strip_ids(frame, file=sources[name])
        warnings += said + stripped + _unused_columns(frame, name, sources[name])
    inst = validate_instance(frames["warehouses"], frames["skus"], frames["cells"], sources=sources)
    return dataclasses.replace(inst, read_warnings=tuple(warnings))


def write_instance(inst: Instance, directory: str | Path) -> dict[str, Path]:
    """Write ``inst`` into ``directory`` (created) as :func:`read_instance` reads it back, file by file
    atomically: ``warehouses.csv``, ``skus.csv`` and ``cells.parquet`` (:data:`EXPORT_SUFFIX`).

    Returns the path of each table by name.
    """
    from anticipate.storage.files import write_csv, write_parquet

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, suffix in EXPORT_SUFFIX.items():
        frame = getattr(inst, name)[list(COLUMNS[name])]
        paths[name] = directory / f"{name}{suffix}"
        (write_csv if suffix == ".csv" else write_parquet)(frame, paths[name])
    return paths


def sku_economics(products: pd.DataFrame, *, default_g: float, default_h: float) -> pd.DataFrame:
    """``g`` and ``h`` per SKU (currency per unit), indexed by ``sku`` as text, in products' order.

    ``g`` (value of a unit served locally) is products' ``value_local`` and ``h`` (cost of a
    unit left unsold) its ``cost_unsold`` where given, else ``default_g`` / ``default_h``
    (``economics.value_local`` / ``economics.cost_unsold``).
    """
    prod = products.set_index(products["sku"].astype(str))
    g = prod["value_local"] if "value_local" in prod else pd.Series(np.nan, index=prod.index)
    h = prod["cost_unsold"] if "cost_unsold" in prod else pd.Series(np.nan, index=prod.index)
    return pd.DataFrame(
        {"g": g.fillna(default_g).to_numpy(float), "h": h.fillna(default_h).to_numpy(float)},
        index=prod.index.rename("sku"),
    )


def instance_from_frames(
    *,
    warehouses: pd.DataFrame,
    products: pd.DataFrame,
    supply: pd.DataFrame,
    forecast: pd.DataFrame,
    move_cost: pd.DataFrame,
    default_g: float,
    default_h: float,
) -> Instance:
    """Build the instance ``allocate`` solves from the forecast and the reference tables.

    ``g``/``h`` come from products' ``value_local``/``cost_unsold`` where given, else the
    defaults; SKUs missing from supply have supply 0; ``move_cost`` is per warehouse.
    """
    prod = products.set_index(products["sku"].astype(str))
    unknown = ~supply["sku"].astype(str).isin(prod.index)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataError(
            f"sku {supply['sku'].iloc[row]!r} is in supply but not in products; add it to products",
            file="supply.parquet",
            row=row + 1,
            column="sku",
        )
    gh = sku_economics(products, default_g=default_g, default_h=default_h)
    units = supply.set_index(supply["sku"].astype(str))["units"].reindex(prod.index).fillna(0)
    skus = pd.DataFrame(
        {
            "sku": prod.index,
            "unit_volume": prod["unit_volume"].to_numpy(float),
            "supply": units.to_numpy(np.int64),
            "g": gh["g"].to_numpy(float),
            "h": gh["h"].to_numpy(float),
        }
    )
    cells = forecast.merge(move_cost[["warehouse_id", "move_cost"]], on="warehouse_id", how="left")
    cells = cells[cells["sku"].astype(str).isin(prod.index)]
    wh = warehouses[["warehouse_id", "capacity"]].assign(warehouse_id=warehouses["warehouse_id"].astype(str))
    return validate_instance(
        wh,
        skus,
        cells[["warehouse_id", "sku", "mu", "var", "move_cost"]].fillna({"move_cost": 0.0}),
        sources={"warehouses": "warehouses.parquet", "skus": "products.parquet", "cells": "forecast"},
    )


def generate_instance(
    n_warehouses: int, n_skus: int, *, seed: int, tightness: float = 0.5, density: float = 1.0
) -> Instance:
    """A seeded random instance with tight capacity and supply (both constraint families bind).

    ``tightness`` is the share of expected demand (volume and units) that capacity and
    supply can cover; ``density`` the share of warehouse x SKU cells with demand.
    """
    rng = np.random.default_rng(seed)
    wids = [f"W{i:04d}" for i in range(n_warehouses)]
    sids = [f"S{i:06d}" for i in range(n_skus)]
    vol = rng.lognormal(0.0, 0.5, n_skus)
    pop = rng.pareto(1.5, n_skus) + 0.2
    size = rng.uniform(0.5, 2.0, n_warehouses)
    w_idx, s_idx = np.meshgrid(np.arange(n_warehouses), np.arange(n_skus), indexing="ij")
    w_idx, s_idx = w_idx.ravel(), s_idx.ravel()
    keep = rng.random(len(w_idx)) < density
    w_idx, s_idx = w_idx[keep], s_idx[keep]
    mu = pop[s_idx] * size[w_idx] * rng.lognormal(0, 0.3, len(w_idx))
    var = mu * rng.uniform(1.0, 3.0, len(w_idx))
    cells = pd.DataFrame(
        {
            "warehouse_id": np.array(wids)[w_idx],
            "sku": np.array(sids)[s_idx],
            "mu": mu,
            "var": var,
            "move_cost": rng.uniform(0.05, 0.6, len(w_idx)),
        }
    )
    demand_volume = np.bincount(w_idx, weights=mu * vol[s_idx], minlength=n_warehouses)
    demand_units = np.bincount(s_idx, weights=mu, minlength=n_skus)
    warehouses = pd.DataFrame(
        {
            "warehouse_id": wids,
            "capacity": np.round(demand_volume * tightness * rng.uniform(0.7, 1.3, n_warehouses), 2),
        }
    )
    skus = pd.DataFrame(
        {
            "sku": sids,
            "unit_volume": vol.round(4),
            "supply": np.floor(demand_units * tightness * rng.uniform(0.6, 1.4, n_skus)).astype(np.int64),
            "g": rng.uniform(2.0, 6.0, n_skus),
            "h": rng.uniform(0.2, 1.0, n_skus),
        }
    )
    return validate_instance(warehouses, skus, cells)
