"""The allocation instance and its validation, vectorised (10 M cells in about a second).

``warehouses`` (warehouse_id, capacity in volume), ``skus`` (sku, unit_volume, supply in
units, g and h in currency), ``cells`` (warehouse_id, sku, mu, var in units,
move_cost in currency per unit). Every problem names the file, the 1-based row and the
column of the first bad row, checked in a fixed order (columns, numbers, unique ids,
``var >= mu``, references, whole supply), so a table with several problems always
reports the same one.

Ids are compared as text. Validated cells carry their ids as pandas categoricals whose
categories are exactly the (sorted) warehouse and SKU tables' ids, so a cell's
category code is the row of its warehouse or SKU: nothing downstream hashes ten
million strings again (:func:`id_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from anticipate.errors import DataError

CAPACITY_CAP = 1e15  # larger capacities are effectively infinite; clipped to keep arithmetic finite

COLUMNS = {
    "warehouses": ("warehouse_id", "capacity"),
    "skus": ("sku", "unit_volume", "supply", "g", "h"),
    "cells": ("warehouse_id", "sku", "mu", "var", "move_cost"),
}
NUMBER_RULES = {
    "warehouses": {"capacity": ">=0"},
    "skus": {"unit_volume": ">0", "supply": ">=0", "g": ">=0", "h": ">=0"},
    "cells": {"mu": ">=0", "var": ">=0", "move_cost": ">=0"},
}


@dataclass(frozen=True)
class Instance:
    """A validated allocation problem (frames sorted by their keys; cells' ids categorical once validated).

    ``read_warnings``: what reading its files warned of (ids stripped of spaces, a ``;``-separated CSV:
    :func:`~anticipate.allocation.instance.read_instance`), for the caller to show.
    """

    warehouses: pd.DataFrame
    skus: pd.DataFrame
    cells: pd.DataFrame
    read_warnings: tuple[str, ...] = ()


def _first(bad: np.ndarray) -> int | None:
    """The 1-based row of the first True in ``bad``, or None."""
    hits = np.flatnonzero(bad)
    return int(hits[0]) + 1 if len(hits) else None


def _plain(value: object) -> object:
    """A NumPy scalar as the Python number or text it holds for messages: ``2.0``, not ``np.float64(2.0)``."""
    return value.item() if isinstance(value, np.generic) else value


def _check_numbers(frame: pd.DataFrame, source: str, rules: dict[str, str]) -> None:
    """Each rule's column numeric, finite and in range (DataError at the first bad row)."""
    for column, rule in rules.items():
        column_values = frame[column]
        if not pd.api.types.is_numeric_dtype(column_values.dtype):
            column_values = pd.to_numeric(column_values, errors="coerce")
        values = np.asarray(column_values, dtype=float)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(values)
            if rule == ">0":
                bad |= values <= 0
            elif rule == ">=0":
                bad |= values < 0
        row = _first(bad)
        if row is not None:
            raise DataError(
                f"value {_plain(frame[column].iloc[row - 1])!r} breaks the rule '{column} {rule}, finite'; "
                "fix that row",
                file=source, row=row, column=column,
            )


def _duplicate(frame: pd.DataFrame, keys: list[str], row: int | None, source: str) -> None:
    """Raise the duplicate-id DataError for 1-based ``row`` (nothing when None)."""
    if row is None:
        return
    value = tuple(_plain(frame[k].iloc[row - 1]) for k in keys)
    raise DataError(
        f"duplicate id {value if len(value) > 1 else value[0]!r}; ids must be unique: remove or "
        "merge the repeated row",
        file=source, row=row, column=",".join(keys),
    )


def id_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, ids): ``ids`` the distinct values as text, ``codes[i]`` row i's position in it (-1: missing).

    A categorical column (as read from Parquet dictionaries) costs only its categories.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, values = column.cat.codes.to_numpy().astype(np.int64), column.cat.categories
    else:
        codes, values = pd.factorize(column, use_na_sentinel=True)
        codes = codes.astype(np.int64)
    inverse, text = pd.factorize(pd.Index(values).astype(str))  # 1 and "1" are the same id
    inverse = np.append(inverse.astype(np.int64), -1)  # codes of -1 (missing) stay -1
    return inverse[codes], np.asarray(text, dtype=object)


def id_text(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """The ids of ``rows`` of a cells id column as text (by code from a categorical's categories)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()[rows]
        return pd.Series(column.cat.categories.take(codes), name=column.name).astype(str)
    return column.iloc[rows].astype(str).reset_index(drop=True)


def _table_ids(frame: pd.DataFrame, key: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(order, sorted ids) of a table's unique text ids (DataError at the first missing or repeated id)."""
    codes, _ = id_codes(frame[key])
    row = _first(codes < 0)
    if row is not None:
        raise DataError(f"the row has no {key}; give it one or delete the row", file=source, row=row,
                        column=key)
    _duplicate(frame, [key], _first(pd.Series(codes).duplicated().to_numpy()), source)
    text = np.asarray(frame[key].astype(str), dtype=object)
    order = np.argsort(text, kind="stable")
    return order, text[order]


def _cell_positions(column: pd.Series, table_ids: np.ndarray) -> np.ndarray:
    """Each cell's row in the table of sorted ``table_ids`` (-1 where unknown or missing), int32.

    The small maps (categories or distinct values -> text -> table row) are composed first,
    so the ten-million-row column is indexed once.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, values = column.cat.codes.to_numpy(), column.cat.categories
    else:
        codes, values = pd.factorize(column, use_na_sentinel=True)
    text = pd.Index(values).astype(str)  # 1 and "1" are the same id
    where = np.append(pd.Index(table_ids).get_indexer(text), -1).astype(np.int32)  # codes of -1 stay -1
    return where[codes]


def _is_sorted(w: np.ndarray, s: np.ndarray) -> bool:
    """Whether the (warehouse, SKU) pairs rise strictly, row after row."""
    if len(w) < 2:
        return True
    w_up = w[1:] > w[:-1]
    if w_up.all():
        return True
    return bool((w_up | ((w[1:] == w[:-1]) & (s[1:] > s[:-1]))).all())


def _cell_order(
    cells: pd.DataFrame, w: np.ndarray, s: np.ndarray, n_s: int, source: str
) -> np.ndarray | None:
    """The order sorting cells by (warehouse, SKU), None if already sorted; DataError at a repeated pair.

    Unknown ids (-1) are told apart by their own text so that a repeated pair is reported
    before an unknown id, as the checks' order says.
    """
    if (w < 0).any() or (s < 0).any():
        wc, _ = id_codes(cells["warehouse_id"])
        sc, sids = id_codes(cells["sku"])
        key = (wc + 1) * (len(sids) + 1) + (sc + 1)
        _duplicate(cells, ["warehouse_id", "sku"], _first(pd.Series(key).duplicated().to_numpy()), source)
        return None
    if _is_sorted(w, s):
        return None
    key = w.astype(np.int64) * n_s + s
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    repeated = order[1:][ordered[1:] == ordered[:-1]]
    _duplicate(cells, ["warehouse_id", "sku"], int(repeated.min()) + 1 if len(repeated) else None, source)
    return order


def _check_references(cells: pd.DataFrame, w: np.ndarray, s: np.ndarray, source: str) -> None:
    """``var >= mu``, then every cell's warehouse and SKU known (DataError at the first bad row)."""
    row = _first(cells["var"].to_numpy(float) < cells["mu"].to_numpy(float) * (1 - 1e-9))
    if row is not None:
        raise DataError(
            "var must be >= mu (Negative Binomial or Poisson); raise var to at least mu",
            file=source, row=row, column="var",
        )
    for column, where, table in (("warehouse_id", w, "warehouses"), ("sku", s, "skus")):
        row = _first(where < 0)
        if row is not None:
            value = _plain(cells[column].iloc[row - 1])
            message = (
                f"the cell has no {column}; give it one of the {table} table or drop the cell"
                if pd.isna(value)
                else f"{value!r} is not in the {table} table; add it there or drop the cell"
            )
            raise DataError(message, file=source, row=row, column=column)


def validate_instance(
    warehouses: pd.DataFrame,
    skus: pd.DataFrame,
    cells: pd.DataFrame,
    *,
    sources: dict[str, str] | None = None,
) -> Instance:
    """Check columns, numbers, uniqueness and references; return a sorted :class:`Instance`.

    Raises DataError naming the file (``sources[table]``), the 1-based row and the column
    of the first problem.
    """
    sources = sources or {name: name for name in COLUMNS}
    frames = {"warehouses": warehouses, "skus": skus, "cells": cells}
    for name, frame in frames.items():
        missing = [c for c in COLUMNS[name] if c not in frame.columns]
        if missing:
            raise DataError(
                f"missing column(s) {missing}; found {list(frame.columns)}: rename or add them",
                file=sources[name],
            )
    for name, frame in frames.items():
        _check_numbers(frame, sources[name], NUMBER_RULES[name])
    w_order, wids = _table_ids(warehouses, "warehouse_id", sources["warehouses"])
    s_order, sids = _table_ids(skus, "sku", sources["skus"])
    w = _cell_positions(cells["warehouse_id"], wids)
    s = _cell_positions(cells["sku"], sids)
    order = _cell_order(cells, w, s, len(sids), sources["cells"])
    _check_references(cells, w, s, sources["cells"])
    supply = skus["supply"].to_numpy(float)
    row = _first(supply != np.floor(supply))
    if row is not None:
        raise DataError(
            "supply must be a whole number of units", file=sources["skus"], row=row, column="supply"
        )
    return _sorted_instance(warehouses.iloc[w_order], wids, skus.iloc[s_order], sids, cells, w, s, order)


def _sorted_instance(
    warehouses: pd.DataFrame, wids: np.ndarray, skus: pd.DataFrame, sids: np.ndarray,
    cells: pd.DataFrame, w: np.ndarray, s: np.ndarray, order: np.ndarray | None,
) -> Instance:
    """The checked tables (already in id order) with text ids, capped capacities; cells put in order."""
    numbers = cells[list(COLUMNS["cells"][2:])]  # no copy (copy on write) unless the order changes
    if order is not None:
        numbers, w, s = numbers.take(order), w[order], s[order]
    out = numbers.reset_index(drop=True).assign(
        warehouse_id=pd.Categorical.from_codes(w, categories=pd.Index(wids)),
        sku=pd.Categorical.from_codes(s, categories=pd.Index(sids)),
    )[list(COLUMNS["cells"])]
    return Instance(
        warehouses=pd.DataFrame(
            {"warehouse_id": wids, "capacity": warehouses["capacity"].astype(float).clip(upper=CAPACITY_CAP)
             .to_numpy()}
        ),
        skus=skus.assign(sku=sids, supply=skus["supply"].astype(np.int64)).reset_index(drop=True)[
            list(COLUMNS["skus"])
        ],
        cells=out,
    )
