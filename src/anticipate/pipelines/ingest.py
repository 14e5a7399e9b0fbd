"""``anticipate ingest``: validate source files into a canonical data directory, nothing lost.

The directory is built in a staging sibling and published with renames
(:func:`anticipate.io.staging_dir`), so ``--out`` is at every moment absent, the
previous complete directory or the new complete one, even if the process is
killed mid-write. It holds ``<table>.parquet`` for each given table,
``rejects.parquet`` (always; ``table, file, row, column, value, reason``) and
``ingest_report.json`` (counts and reasons per table, source digests). With
``compute.engine: dask`` it also holds ``orders/part=K/`` (:mod:`anticipate.layout`):
the accepted orders again, split by a hash of ``customer_id`` into
``compute.partitions`` partitions for the Dask workers to read; ``orders.parquet``
stays the canonical table every command reads.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from anticipate.errors import UsageError
from anticipate.io import staging_dir, write_json
from anticipate.layout import LAYOUT_DIR
from anticipate.pipelines import Result, Settings
from anticipate.progress import stages

log = logging.getLogger("anticipate.ingest")

ROW_NUMBERING = "row = 1-based data row of the source file: the first row after the header is row 1"


def run_ingest(settings: Settings, sources: dict[str, Path], out: Path) -> Result:
    """Ingest ``sources`` (table name -> file) into the data directory ``out``.

    Parameters
    ----------
    settings
        Uses ``settings.cfg.ingest`` (column mapping, ``on_error``, ``max_reject_share``,
        ``chunk_rows``) and ``settings.progress``.
    sources
        ``orders`` (required) and any of ``products, regions, warehouses, supply``.
    out
        The data directory to (re)place.

    Returns
    -------
    Result
        counts ``rows_in, rows_accepted, rows_rejected`` (all tables) and
        ``<table>_rows_in`` etc. per table; metrics ``reject_share`` and ``seconds``;
        outputs ``data``, ``rejects``, ``report`` and each table's Parquet file.

    Raises
    ------
    UsageError
        No orders file, an unknown table, or an ``out`` that must not be replaced.
    DataError
        Any input problem (see :mod:`anticipate.ingest`); ``out`` is then untouched.
    """
    from anticipate.ingest import TABLE_ORDER, Context, Options, RejectSink, ingest_table

    started = time.perf_counter()
    out = Path(out)
    _check_request(sources, out)
    cfg = settings.cfg.ingest
    tables = [t for t in TABLE_ORDER if t in sources]
    reports: dict[str, Any] = {}
    with staging_dir(Path(os.path.abspath(out))) as stage:
        sink = RejectSink(stage / "rejects.parquet")
        refs = Context()
        try:
            with stages(len(tables), enabled=settings.progress, description="ingest") as bar:
                for table in tables:
                    bar.step(f"ingest {table}")
                    opts = Options(chunk_rows=cfg.chunk_rows, on_error=cfg.on_error,
                                   max_reject_share=cfg.max_reject_share,
                                   mapping=dict(cfg.columns.get(table, {})), out=str(out))
                    report, keys = ingest_table(table, Path(sources[table]), stage, sink, opts, refs)
                    log.info("%s: %s rows in, %s accepted, %s rejected", table, report.rows_in,
                             report.rows_accepted, report.rows_rejected)
                    if table in ("products", "regions"):
                        refs = replace(refs, **{"skus" if table == "products" else "regions": keys})
                    reports[table] = report
        finally:
            sink.close()
        layout = _customer_layout(settings, stage)
        doc = _report_doc(reports, cfg)
        if layout is not None:
            doc["orders_layout"] = {"dir": LAYOUT_DIR, "partitions": layout.partitions, "rows": layout.rows}
        write_json(doc, stage / "ingest_report.json")
    return _result(reports, out, time.perf_counter() - started, layout)


def _customer_layout(settings: Settings, stage: Path) -> Any:
    """With ``compute.engine: dask``, split the staged orders by customer hash (else None)."""
    if settings.cfg.compute.engine != "dask":
        return None
    from anticipate.layout import write_customer_layout

    n = settings.cfg.compute.partitions
    log.info("orders: writing %d customer partitions under %s/", n, LAYOUT_DIR)
    return write_customer_layout(stage / "orders.parquet", stage / LAYOUT_DIR, n,
                                 batch_rows=settings.cfg.ingest.chunk_rows)


def _check_request(sources: dict[str, Path], out: Path) -> None:
    from anticipate.ingest import TABLE_ORDER

    unknown = sorted(set(sources) - set(TABLE_ORDER))
    if unknown:
        raise UsageError(f"unknown table(s) {', '.join(unknown)}; ingest reads {', '.join(TABLE_ORDER)}")
    if "orders" not in sources:
        raise UsageError("--orders FILE is required: the order lines are the data every command needs")
    target = Path(os.path.abspath(out))
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {out} is a file; pass a directory path for the canonical tables")
    for table, path in sources.items():
        src = Path(os.path.abspath(path))
        if src == target or target in src.parents:
            raise UsageError(f"--out {out} contains the {table} input {path}; write the data directory "
                             "somewhere else (it is replaced as a whole)")
    if target.is_dir() and any(target.iterdir()) and not (
            (target / "orders.parquet").exists() or (target / "ingest_report.json").exists()):
        raise UsageError(f"--out {out} is a non-empty directory that is not a data directory (no "
                         "orders.parquet); ingest replaces --out as a whole, so pass a new or a data "
                         "directory")


def _totals(reports: dict[str, Any]) -> dict[str, int]:
    return {key: sum(getattr(r, key) for r in reports.values())
            for key in ("rows_in", "rows_accepted", "rows_rejected")}


def _report_doc(reports: dict[str, Any], cfg: Any) -> dict[str, Any]:
    from anticipate.ingest import parse, validate

    return {
        **_totals(reports),
        "tables": {table: report.to_json() for table, report in reports.items()},
        "rules": {
            "row_numbering": ROW_NUMBERING,
            "on_error": cfg.on_error,
            "max_reject_share": cfg.max_reject_share,
            "timestamps": f"naive UTC, accepted in [{parse.TS_MIN.date()}, {parse.TS_MAX.date()})",
            "future_tail": f"a tail after a gap longer than {validate.TAIL_GAP_DAYS} days and the span "
                           f"before it, holding <= {validate.TAIL_MAX_SHARE:.0%} of rows (or one row), is "
                           "after the data's own max + 1 day",
        },
        "rejects": "rejects.parquet",
    }


def _result(reports: dict[str, Any], out: Path, seconds: float, layout: Any = None) -> Result:
    totals = _totals(reports)
    counts = dict(totals)
    for table, report in reports.items():
        for key in ("rows_in", "rows_accepted", "rows_rejected"):
            counts[f"{table}_{key}"] = getattr(report, key)
    outputs = {"data": str(out), "rejects": str(out / "rejects.parquet"),
               "report": str(out / "ingest_report.json")}
    outputs.update({table: str(out / f"{table}.parquet") for table in reports})
    if layout is not None:
        outputs["orders_partitioned"] = str(out / LAYOUT_DIR)
        counts["orders_partitions"] = layout.partitions
    warnings = []
    for table, report in reports.items():
        if report.rows_rejected:
            top = ", ".join(f"{reason} x {count:,}" for reason, count in report.reasons.most_common(3))
            warnings.append(f"{table}: {report.rows_rejected:,} of {report.rows_in:,} rows "
                            f"({report.rows_rejected / report.rows_in:.2%}) rejected ({top}); see "
                            f"{outputs['rejects']} ({ROW_NUMBERING})")
        warnings.extend(f"{table}: {note}" for note in report.notes)
    share = totals["rows_rejected"] / totals["rows_in"] if totals["rows_in"] else 0.0
    return Result(command="ingest", metrics={"reject_share": share, "seconds": seconds}, counts=counts,
                  outputs=outputs, text=_text(reports, totals, out, layout), warnings=warnings)


def _text(reports: dict[str, Any], totals: dict[str, int], out: Path, layout: Any = None) -> str:
    lines = [f"ingested {len(reports)} table(s) into {out}: rows_in {totals['rows_in']:,} = accepted "
             f"{totals['rows_accepted']:,} + rejected {totals['rows_rejected']:,}"]
    for table, r in reports.items():
        lines.append(f"  {table:<11} {r.rows_in:>12,} in {r.rows_accepted:>12,} accepted "
                     f"{r.rows_rejected:>10,} rejected   {r.file}")
    if layout is not None:
        lines.append(f"orders also split by customer hash into {layout.partitions} partitions under "
                     f"{out / LAYOUT_DIR}/ (for compute.engine: dask)")
    lines.append(f"rejects: {out / 'rejects.parquet'}   report: {out / 'ingest_report.json'}")
    return "\n".join(lines)
