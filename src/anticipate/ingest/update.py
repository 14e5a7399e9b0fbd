"""Updating a data directory: the tables an ingest does not re-read are kept from the previous one.

``ingest`` stages a complete new directory and publishes it with renames. Into the
stage go the tables it reads and, from the previous directory at ``--out`` (if it
is one), every other canonical table (hard-linked, copied across file systems), the
rejects of those tables, while the orders are kept their customer layout, and every
entry that is not ingest's own (a synthetic world's ``latent/``, a user's notes),
unchanged. So ``ingest --orders new.csv --out data/shop`` replaces the orders and keeps
products, regions, warehouses, supply and anything else there; the publish stays atomic.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anticipate.storage.files import TABLE_NAMES
from anticipate.storage.layout import LAYOUT_DIR

#: The entries every ingest writes anew (the tables it is given are rewritten too, the others kept).
REWRITTEN = ("rejects.parquet", "ingest_report.json")


def is_data_dir(path: Path) -> bool:
    """Whether ``path`` is a data directory written by ``ingest`` or ``sample``."""
    return path.is_dir() and ((path / "ingest_report.json").is_file()
                              or any((path / f"{t}.parquet").is_file() for t in TABLE_NAMES))


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` as ``dst`` (same file system), else copy it; directories recursively,
    symbolic links as links."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    if src.is_dir():
        dst.mkdir()
        for child in sorted(src.iterdir()):
            link_or_copy(child, dst / child.name)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def keep_tables(previous: Path | None, stage: Path, given: set[str]) -> dict[str, int]:
    """Link the canonical tables of ``previous`` that ``given`` does not replace into ``stage``.

    Returns
    -------
    dict
        kept table name -> its row count.
    """
    kept: dict[str, int] = {}
    if previous is None:
        return kept
    for table in TABLE_NAMES:
        src = previous / f"{table}.parquet"
        if table not in given and src.is_file():
            link_or_copy(src, stage / src.name)
            kept[table] = pq.read_metadata(src).num_rows
    layout = previous / LAYOUT_DIR
    if "orders" in kept and layout.is_dir():
        link_or_copy(layout, stage / LAYOUT_DIR)
    return kept


def carry_over(previous: Path | None, stage: Path) -> list[str]:
    """Link every entry of ``previous`` that is not ingest's own into ``stage``, unchanged.

    Ingest's own are the canonical tables, the customer layout (see :func:`keep_tables`) and
    :data:`REWRITTEN`; anything else (``latent/``, a README) goes over as it is.

    Returns
    -------
    list
        the names carried over, sorted.
    """
    if previous is None:
        return []
    own = {*(f"{t}.parquet" for t in TABLE_NAMES), LAYOUT_DIR, *REWRITTEN}
    carried = sorted(name for name in os.listdir(previous) if name not in own)
    for name in carried:
        link_or_copy(previous / name, stage / name)
    return carried


def previous_rejects(previous: Path | None, tables: set[str]) -> pa.Table | None:
    """The rejects of ``tables`` recorded in ``previous/rejects.parquet`` (None when none)."""
    path = None if previous is None else previous / "rejects.parquet"
    if path is None or not path.is_file() or not tables:
        return None
    rejects = pq.read_table(path)
    kept = rejects.filter(pc.is_in(rejects["table"], value_set=pa.array(sorted(tables))))
    return kept if kept.num_rows else None


def previous_reports(previous: Path | None) -> dict[str, Any]:
    """The per-table entries of ``previous/ingest_report.json`` (empty when there is none)."""
    path = None if previous is None else previous / "ingest_report.json"
    if path is None or not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    tables = dict(doc.get("tables", {}))
    tables.update(doc.get("kept", {}))
    return tables


def kept_warnings(previous: Path | None, kept: set[str]) -> list[str]:
    """The previous ingest's warnings about the tables kept this time (``products: no column found
    for unit_volume ...``), so an update of another table does not drop what a plan still rests on."""
    path = None if previous is None else previous / "ingest_report.json"
    if path is None or not path.is_file():
        return []
    try:
        found = json.loads(path.read_text()).get("warnings", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [w for w in found if isinstance(w, str) and w.split(":", 1)[0] in kept]


def orders_span(path: Path) -> tuple[int, str | None, str | None]:
    """The lines of an ``orders.parquet`` and its first and last order day (``YYYY-MM-DD``; None when it
    has no lines): from the row groups' statistics, else from the ``order_ts`` column itself."""
    pf = pq.ParquetFile(path)
    rows = pf.metadata.num_rows
    if not rows:
        return 0, None, None
    stamps = pq.read_table(path, columns=["order_ts"])["order_ts"].cast(pa.timestamp("ns"))
    low, high = pc.min_max(stamps).values()
    if not low.is_valid:
        return rows, None, None
    return rows, str(low.as_py().date()), str(high.as_py().date())


def lost_history(previous: Path | None, accepted: int, first: str | None, last: str | None) -> str | None:
    """What replacing the orders of ``previous`` by ``accepted`` lines from day ``first`` to ``last`` would
    lose (fewer lines, a later first day, an earlier last day), or None when it loses nothing: the new
    orders hold at least as many lines over at least the same days (the same file again, or a longer
    export), or there were none before."""
    path = None if previous is None else previous / "orders.parquet"
    if path is None or not path.is_file():
        return None
    before, was_first, was_last = orders_span(path)
    if not before or was_first is None:
        return None
    lost = [f"{before - accepted:,} fewer lines"] if accepted < before else []
    if first is None or first > was_first:
        lost.append(f"no orders before {first or 'any day'}")
    if last is None or last < was_last:
        lost.append(f"no orders after {last or 'any day'}")
    if not lost:
        return None
    return (f"the file's {accepted:,} accepted order line(s) ({first} to {last}) would replace the "
            f"{before:,} order lines of {previous} ({was_first} to {was_last}): {', '.join(lost)}, gone "
            "from every model, forecast and plan")


def replaced_orders_warning(previous: Path | None, accepted: int) -> str | None:
    """A warning when ``ingest --replace`` replaced the previous orders with fewer than half as many lines,
    else None."""
    path = None if previous is None else previous / "orders.parquet"
    if path is None or not path.is_file():
        return None
    before = pq.ParquetFile(path).metadata.num_rows
    if accepted * 2 >= before:
        return None
    return (f"orders: the {before:,} order lines of {previous} were replaced by these {accepted:,} "
            f"({accepted / before - 1:.0%}, --replace); the history before them is gone from every model "
            "and plan")


def reference_keys(directory: Path | None, tables: set[str]) -> dict[str, pa.Array]:
    """The SKUs / regions of the products / regions tables of ``directory`` among ``tables``, to
    check new rows against (``skus`` and ``regions`` of :class:`~anticipate.ingest.Context`)."""
    keys: dict[str, pa.Array] = {}
    for table, column, name in (("products", "sku", "skus"), ("regions", "region", "regions")):
        path = None if directory is None else directory / f"{table}.parquet"
        if table in tables and path is not None and path.is_file():
            keys[name] = pq.read_table(path, columns=[column])[column].combine_chunks().cast(pa.string())
    return keys


def orphan_warnings(stage: Path, kept: dict[str, int], given: set[str]) -> list[str]:
    """Warnings for kept orders whose SKU / region the newly ingested products / regions lack."""
    warnings = []
    if "orders" not in kept:
        return warnings
    for table, column in (("products", "sku"), ("regions", "region")):
        if table not in given or not (stage / f"{table}.parquet").is_file():
            continue
        known = pq.read_table(stage / f"{table}.parquet", columns=[column])[column].combine_chunks()
        values = pq.read_table(stage / "orders.parquet", columns=[column])[column]
        missing = values.filter(pc.invert(pc.is_in(values, value_set=known.cast(values.type))))
        if len(missing):
            example = missing[0].as_py()
            warnings.append(
                f"orders: {len(missing):,} of the {len(values):,} kept order lines have a {column} that the "
                f"new {table} table lacks (e.g. {example!r}); their demand is left out of the plan. Add "
                f"them to the {table} file, or re-ingest the orders (--orders FILE) to have them checked")
    return warnings
