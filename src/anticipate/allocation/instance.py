"""The allocation instance: reading, validating, building, generating.

``warehouses`` (warehouse_id, capacity in volume), ``skus`` (sku, unit_volume, supply in
units, g and h in currency), ``cells`` (warehouse_id, sku, mu, var in units,
move_cost in currency per unit). Every problem names the file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from anticipate.errors import DataError

CAPACITY_CAP = 1e15  # larger capacities are effectively infinite; clipped to keep arithmetic finite

COLUMNS = {
    "warehouses": ("warehouse_id", "capacity"),
    "skus": ("sku", "unit_volume", "supply", "g", "h"),
    "cells": ("warehouse_id", "sku", "mu", "var", "move_cost"),
}


@dataclass(frozen=True)
class Instance:
    """A validated allocation problem (frames sorted by their keys)."""

    warehouses: pd.DataFrame
    skus: pd.DataFrame
    cells: pd.DataFrame


def _fail(table: str, source: str, row: int, column: str, message: str) -> DataError:
    return DataError(message, file=f"{source}", row=row, column=column)


def _check_numbers(frame: pd.DataFrame, table: str, source: str, rules: dict[str, str]) -> None:
    for column, rule in rules.items():
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values)
        if rule == ">0":
            bad |= values <= 0
        elif rule == ">=0":
            bad |= values < 0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise _fail(
                table,
                source,
                row + 1,
                column,
                f"value {frame[column].iloc[row]!r} breaks the rule '{column} {rule}, finite'; fix that row",
            )


def _check_unique(frame: pd.DataFrame, key: str | list[str], table: str, source: str) -> None:
    dup = frame.duplicated(key, keep="first")
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        keys = [key] if isinstance(key, str) else key
        value = tuple(frame[k].iloc[row] for k in keys)
        raise _fail(
            table,
            source,
            row + 1,
            ",".join(keys),
            f"duplicate id {value if len(value) > 1 else value[0]!r}; ids must be unique: remove or "
            "merge the repeated row",
        )


def validate_instance(
    warehouses: pd.DataFrame,
    skus: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    sources: dict[str, str] | None = None,
) -> Instance:
    """Check columns, numbers, uniqueness and references; return a sorted :class:`Instance`."""
    sources = sources or {name: name for name in COLUMNS}
    _check_tables(warehouses, skus, cells, sources)
    _check_references(warehouses, skus, cells, sources)
    return _sorted_instance(warehouses, skus, cells)


def _check_tables(
    warehouses: pd.DataFrame, skus: pd.DataFrame, cells: pd.DataFrame, sources: dict[str, str]
) -> None:
    """Columns present, numbers in range, keys unique (DataError naming file, row and column)."""
    frames = {"warehouses": warehouses, "skus": skus, "cells": cells}
    for name, frame in frames.items():
        missing = [c for c in COLUMNS[name] if c not in frame.columns]
        if missing:
            raise DataError(
                f"missing column(s) {missing}; found {list(frame.columns)}: rename or add them",
                file=sources[name],
            )
    _check_numbers(warehouses, "warehouses", sources["warehouses"], {"capacity": ">=0"})
    _check_numbers(
        skus, "skus", sources["skus"], {"unit_volume": ">0", "supply": ">=0", "g": ">=0", "h": ">=0"}
    )
    _check_numbers(cells, "cells", sources["cells"], {"mu": ">=0", "var": ">=0", "move_cost": ">=0"})
    _check_unique(warehouses, "warehouse_id", "warehouses", sources["warehouses"])
    _check_unique(skus, "sku", "skus", sources["skus"])
    _check_unique(cells, ["warehouse_id", "sku"], "cells", sources["cells"])


def _check_references(
    warehouses: pd.DataFrame, skus: pd.DataFrame, cells: pd.DataFrame, sources: dict[str, str]
) -> None:
    """var >= mu, every cell's warehouse and SKU known, whole supply units (DataError otherwise)."""
    low_var = cells["var"].to_numpy(float) < cells["mu"].to_numpy(float) * (1 - 1e-9)
    if low_var.any():
        row = int(np.flatnonzero(low_var)[0])
        raise _fail(
            "cells",
            sources["cells"],
            row + 1,
            "var",
            "var must be >= mu (Negative Binomial or Poisson); raise var to at least mu",
        )
    for column, ids, table in (
        ("warehouse_id", warehouses["warehouse_id"], "warehouses"),
        ("sku", skus["sku"], "skus"),
    ):
        unknown = ~cells[column].astype(str).isin(set(ids.astype(str)))
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise _fail(
                "cells",
                sources["cells"],
                row + 1,
                column,
                f"{cells[column].iloc[row]!r} is not in the {table} table; add it there or drop the cell",
            )
    supply_units = skus["supply"].to_numpy(float)
    if (supply_units != np.floor(supply_units)).any():
        row = int(np.flatnonzero(supply_units != np.floor(supply_units))[0])
        raise _fail("skus", sources["skus"], row + 1, "supply", "supply must be a whole number of units")


def _sorted_instance(warehouses: pd.DataFrame, skus: pd.DataFrame, cells: pd.DataFrame) -> Instance:
    """The checked tables with string ids, capped capacities, sorted by their keys."""
    return Instance(
        warehouses=warehouses.assign(
            warehouse_id=warehouses["warehouse_id"].astype(str),
            capacity=warehouses["capacity"].astype(float).clip(upper=CAPACITY_CAP),
        )
        .sort_values("warehouse_id", kind="stable")
        .reset_index(drop=True)[list(COLUMNS["warehouses"])],
        skus=skus.assign(sku=skus["sku"].astype(str), supply=skus["supply"].astype(np.int64))
        .sort_values("sku", kind="stable")
        .reset_index(drop=True)[list(COLUMNS["skus"])],
        cells=cells.assign(warehouse_id=cells["warehouse_id"].astype(str), sku=cells["sku"].astype(str))
        .sort_values(["warehouse_id", "sku"], kind="stable")
        .reset_index(drop=True)[list(COLUMNS["cells"])],
    )


def _read_table(directory: Path, name: str) -> tuple[pd.DataFrame, str]:
    for suffix in (".parquet", ".csv"):
        path = directory / f"{name}{suffix}"
        if path.is_file():
            if suffix == ".csv":
                try:
                    return pd.read_csv(path), str(path)
                except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
                    raise DataError(
                        f"cannot parse CSV ({str(exc).splitlines()[0][:200]})", file=str(path)
                    ) from None
            from anticipate.storage.files import read_parquet_checked

            return read_parquet_checked(path), str(path)
    raise DataError(
        f"{directory} has no {name}.parquet or {name}.csv; an instance directory holds warehouses, "
        "skus and cells (see 'anticipate solve --help')"
    )


def read_instance(directory: str | Path) -> Instance:
    """Read ``warehouses``, ``skus`` and ``cells`` (Parquet or CSV) from ``directory`` and validate."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"instance directory {directory} does not exist or is not a directory")
    frames, sources = {}, {}
    for name in COLUMNS:
        frames[name], sources[name] = _read_table(directory, name)
    return validate_instance(frames["warehouses"], frames["skus"], frames["cells"], sources=sources)


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
