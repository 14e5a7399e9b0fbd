"""The vectorised instance validation: the first bad row's file, row, column and reason; the sorted tables.

Every message below is the one the row-wise validation gave (the expected strings were
recorded from it), so the vectorised checks report the same row for the same input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anticipate.allocation import read_instance, solve, validate_instance
from anticipate.allocation.units import build_units
from anticipate.errors import DataError

W = pd.DataFrame({"warehouse_id": ["B", "A"], "capacity": [10.0, 5.0]})
S = pd.DataFrame({"sku": ["y", "x", "z"], "unit_volume": [1.0, 2.0, 0.5], "supply": [3, 4, 0],
                  "g": [3.0, 3.0, 3.0], "h": [0.5, 0.5, 0.5]})
C = pd.DataFrame({"warehouse_id": ["B", "A", "A", "B", "A"], "sku": ["x", "y", "x", "z", "z"],
                  "mu": [1.0, 2.0, 0.0, 3.0, 1.5], "var": [2.0, 2.0, 0.0, 3.0, 4.0],
                  "move_cost": [0.1, 0.2, 0.0, 0.1, 0.3]})
SOURCES = {"warehouses": "w.csv", "skus": "s.csv", "cells": "c.csv"}
DUPLICATE = "ids must be unique: remove or merge the repeated row"
UNKNOWN = "add it there or drop the cell"

CASES = {
    "repeated warehouse": ((pd.concat([W, W.head(1)]), S, C), "w.csv", 3, "warehouse_id",
                           f"duplicate id 'B'; {DUPLICATE}"),
    "repeated sku": ((W, pd.concat([S, S.iloc[[2]]]), C), "s.csv", 4, "sku",
                     f"duplicate id 'z'; {DUPLICATE}"),
    "repeated cell": ((W, S, pd.concat([C, C.iloc[[3, 1]]])), "c.csv", 6, "warehouse_id,sku",
                      f"duplicate id ('B', 'z'); {DUPLICATE}"),
    "unknown warehouse": ((W, S, C.assign(warehouse_id=["B", "A", "Q", "B", "R"])), "c.csv", 3,
                          "warehouse_id",
                          f"'Q' is not in the warehouses table; {UNKNOWN}"),
    "unknown sku": ((W, S, C.assign(sku=["x", "y", "x", "w", "z"])), "c.csv", 4, "sku",
                    f"'w' is not in the skus table; {UNKNOWN}"),
    "missing sku": ((W, S, C.assign(sku=["x", "y", None, "z", "z"])), "c.csv", 3, "sku",
                    "the cell has no sku; give it one of the skus table or drop the cell"),
    "var below mu": ((W, S, C.assign(var=[2.0, 2.0, 0.0, 2.0, 4.0])), "c.csv", 4, "var",
                     "var must be >= mu (Negative Binomial or Poisson); raise var to at least mu"),
    "negative mu": ((W, S, C.assign(mu=[1.0, -2.0, 0.0, 3.0, 1.5])), "c.csv", 2, "mu",
                    "value -2.0 breaks the rule 'mu >=0, finite'; fix that row"),
    "text mu": ((W, S, C.assign(mu=[1.0, 2.0, "a", 3.0, 1.5])), "c.csv", 3, "mu",
                "value 'a' breaks the rule 'mu >=0, finite'; fix that row"),
    "infinite move cost": ((W, S, C.assign(move_cost=[0.1, 0.2, np.inf, 0.1, 0.3])), "c.csv", 3, "move_cost",
                           "value inf breaks the rule 'move_cost >=0, finite'; fix that row"),
    "fractional supply": ((W, S.assign(supply=[3, 4.5, 0]), C), "s.csv", 2, "supply",
                          "supply must be a whole number of units"),
    "zero volume": ((W, S.assign(unit_volume=[1.0, 2.0, 0.0]), C), "s.csv", 3, "unit_volume",
                    "value 0.0 breaks the rule 'unit_volume >0, finite'; fix that row"),
    "negative capacity": ((W.assign(capacity=[10.0, -1.0]), S, C), "w.csv", 2, "capacity",
                          "value -1.0 breaks the rule 'capacity >=0, finite'; fix that row"),
    # a repeated pair is reported before an unknown id and var < mu, as the row-wise checks did
    "repeated before unknown": ((W, S, pd.concat([C, C.iloc[[0]]]).assign(sku=list("xyqzzx"))),
                                "c.csv", 6, "warehouse_id,sku", f"duplicate id ('B', 'x'); {DUPLICATE}"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_first_bad_row_is_named_with_its_reason(case: str) -> None:
    tables, file, row, column, reason = CASES[case]
    with pytest.raises(DataError) as err:
        validate_instance(*tables, sources=SOURCES)
    assert (err.value.file, err.value.row, err.value.column) == (file, row, column)
    assert str(err.value) == f"file {file}, row {row}, column '{column}': {reason}"


def test_a_missing_column_names_the_file_only() -> None:
    with pytest.raises(DataError) as err:
        validate_instance(W, S, C.drop(columns="var"), sources=SOURCES)
    assert str(err.value) == ("file c.csv: missing column(s) ['var']; found ['warehouse_id', 'sku', 'mu', "
                              "'move_cost']: rename or add them")


def test_sorted_tables_and_cells_coded_by_table_row() -> None:
    inst = validate_instance(W, S, C)
    assert inst.warehouses["warehouse_id"].tolist() == ["A", "B"]
    assert inst.warehouses["capacity"].tolist() == [5.0, 10.0]
    assert inst.skus["sku"].tolist() == ["x", "y", "z"] and inst.skus["supply"].tolist() == [4, 3, 0]
    cells = inst.cells.astype({"warehouse_id": str, "sku": str})
    assert list(zip(cells["warehouse_id"], cells["sku"], cells["mu"], strict=True)) == [
        ("A", "x", 0.0), ("A", "y", 2.0), ("A", "z", 1.5), ("B", "x", 1.0), ("B", "z", 3.0)]
    # a cell's category code is the row of its warehouse / SKU in the sorted tables
    assert inst.cells["warehouse_id"].cat.codes.tolist() == [0, 0, 0, 1, 1]
    assert inst.cells["sku"].cat.codes.tolist() == [0, 1, 2, 0, 2]


def test_integer_ids_are_text() -> None:
    inst = validate_instance(W.assign(warehouse_id=[2, 1]), S, C.assign(warehouse_id=[2, 1, 1, 2, 1]))
    assert inst.warehouses["warehouse_id"].tolist() == ["1", "2"]
    assert inst.cells["warehouse_id"].astype(str).tolist() == ["1", "1", "1", "2", "2"]


def _write(directory: Path, tables: tuple[pd.DataFrame, ...], suffix: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in zip(("warehouses", "skus", "cells"), tables, strict=True):
        if suffix == ".csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        else:
            frame.to_parquet(directory / f"{name}.parquet", index=False)
    return directory


def test_parquet_and_csv_read_to_the_same_plan(tmp_path: Path) -> None:
    """Parquet ids arrive as dictionaries (categoricals), CSV ids as text: the same instance and plan."""
    from anticipate.allocation import generate_instance

    inst = generate_instance(3, 40, seed=5)
    shuffled = (inst.warehouses.iloc[::-1], inst.skus.iloc[::-1],
                inst.cells.astype({"warehouse_id": str, "sku": str}).sample(frac=1.0, random_state=0))
    from_parquet = read_instance(_write(tmp_path / "pq", shuffled, ".parquet"))
    from_csv = read_instance(_write(tmp_path / "csv", shuffled, ".csv"))
    for name in ("warehouses", "skus", "cells"):
        pd.testing.assert_frame_equal(getattr(from_parquet, name), getattr(inst, name))
        pd.testing.assert_frame_equal(getattr(from_csv, name), getattr(inst, name))
    assert solve(from_parquet).units.equals(solve(inst).units)


def test_a_bad_parquet_row_is_named_like_a_csv_row(tmp_path: Path) -> None:
    tables = (W, S, C.assign(warehouse_id=["B", "A", "Q", "B", "R"]))
    with pytest.raises(DataError) as err:
        read_instance(_write(tmp_path, tables, ".parquet"))
    where = (err.value.file, err.value.row, err.value.column)
    assert where == (str(tmp_path / "cells.parquet"), 3, "warehouse_id")
    assert "'Q' is not in the warehouses table" in str(err.value)


def test_unit_codes_of_text_and_categorical_cells_agree() -> None:
    """build_units takes a validated instance's category codes, and hashes text ids otherwise."""
    inst = validate_instance(W, S, C)
    as_text = type(inst)(inst.warehouses, inst.skus, inst.cells.astype({"warehouse_id": str, "sku": str}))
    a, b = build_units(inst, jit=False), build_units(as_text, jit=False)
    for field in ("cell_w", "cell_s", "cell_id", "cell_ptr", "val"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
