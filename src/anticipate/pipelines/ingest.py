"""``anticipate ingest``: validate source files into a canonical data directory, nothing lost.

The directory is built in a staging sibling and published with renames
(:func:`anticipate.storage.publish.staging_dir`), so ``--out`` is at every moment absent, the
previous complete directory or the new complete one, even if the process is
killed mid-write. It holds ``<table>.parquet`` for each given table and, from the
previous directory at ``--out``, every table not given and every entry that is not
ingest's own, such as ``latent/`` (hard-linked into the stage, listed in the report's
``carried_over``, :mod:`anticipate.ingest.update`); with ``--append`` the orders are the previous
ones followed by the new lines (:mod:`anticipate.ingest.append`). Also
``rejects.parquet`` (always; ``table, file, row, column, value, reason``; the kept
tables' rejects are carried over) and ``ingest_report.json`` (counts and reasons
per table, where every column went, source digests, kept tables, warnings). With
``compute.engine: dask`` it also holds ``orders/part=K/`` (:mod:`anticipate.storage.layout`):
the orders again, split by a hash of ``customer_id`` into ``compute.partitions``
partitions for the Dask workers to read, rebuilt whenever the orders change;
``orders.parquet`` stays the canonical table every command reads. ``--dry-run``
stages into a temporary directory that is removed and publishes nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from dataclasses import replace as _with
from pathlib import Path
from typing import Any

from anticipate.errors import UsageError
from anticipate.pipelines import Result, Settings
from anticipate.progress import stages
from anticipate.storage.files import TABLE_NAMES, write_json
from anticipate.storage.layout import LAYOUT_DIR
from anticipate.storage.publish import DirOutput, check_publishable, dir_lock, staging_dir

log = logging.getLogger("anticipate.ingest")

#: What ingest writes into a data directory; a directory that is not a data directory is refused
#: when it holds anything else, and a data directory's other entries are carried over.
INGEST_OUTPUT = DirOutput(
    "ingest",
    frozenset({*(f"{t}.parquet" for t in TABLE_NAMES), "rejects.parquet", "ingest_report.json", LAYOUT_DIR}),
    fix="it is not a data directory, so pass a new or empty directory, or a data directory (which "
        "ingest updates)",
)

ROW_NUMBERING = "row = 1-based data row of the source file: the first row after the header is row 1"


@dataclass
class _Staged:
    """What staging produced: this run's table reports, the kept tables (name -> rows), the
    customer layout (or None), the report document and the warnings."""

    reports: dict[str, Any]
    kept: dict[str, int]
    layout: Any
    doc: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def run_ingest(settings: Settings, sources: dict[str, Path], out: Path, *, append: bool = False,
               dry_run: bool = False, replace: bool = False) -> Result:
    """Ingest ``sources`` (table name -> file) into the data directory ``out``, keeping the rest.

    Parameters
    ----------
    settings
        Uses ``settings.cfg.ingest``, ``settings.cfg.compute`` (customer layout) and ``settings.progress``.
    sources
        Any of ``orders, products, regions, warehouses, supply`` (at least one); the others are kept.
    out
        The data directory to update (or create).
    append
        Append the orders to the existing ones (new lines repeating one are rejected as duplicates).
    replace
        Replace the existing orders even when the new ones lose lines or days of them (else refused:
        :func:`~anticipate.ingest.update.lost_history`).
    dry_run
        Read and check everything, print the mapping and the rejects, write nothing.

    Returns
    -------
    Result
        counts ``rows_in, rows_accepted, rows_rejected`` (this run's tables), ``<table>_rows_in`` etc.
        per table, ``<table>_rows_kept`` per kept table and ``orders_duplicates_existing``; metrics
        ``reject_share`` (without the duplicates of existing lines, as ``max_reject_share`` counts) and
        ``seconds``; outputs ``data``, ``rejects``, ``report`` and each table's Parquet file.

    Raises
    ------
    UsageError
        No or an unknown table, ``--append`` or ``--replace`` without orders or both, an ``out`` not
        to replace.
    LockHeld
        Another run holds ``out``'s lock (``.<name>.lock`` beside it).
    DataError
        Any input problem (see :mod:`anticipate.ingest`); ``out`` is then untouched.
    """
    from anticipate.ingest.update import is_data_dir

    started = time.perf_counter()
    out = Path(out)
    target = Path(os.path.abspath(out))
    _check_request(sources, out, append, replace)
    if dry_run:
        from anticipate.ingest.report import dry_run_result

        previous = target if is_data_dir(target) else None
        with tempfile.TemporaryDirectory(prefix="anticipate-dry-run-") as tmp:
            staged = _stage(settings, sources, Path(tmp), out, previous, append, replace=replace,
                            dry_run=True)
            return dry_run_result(staged, Path(tmp), out, settings.cfg.ingest.max_reject_share)
    staged = _publish(settings, sources, out, append, replace)
    if settings.verbosity >= 0:
        from anticipate.ingest.report import column_lines

        for table, report in staged.reports.items():
            for line in column_lines(table, report):
                print(line, file=sys.stderr)
    return _result(staged, out, time.perf_counter() - started)


def _publish(settings: Settings, sources: dict[str, Path], out: Path, append: bool, replace: bool) -> _Staged:
    """Stage the new data directory beside what is kept from the previous one and publish it.

    The directory's lock is held from before the previous directory is read: two runs
    building on the same previous orders would lose one of the two appends.
    """
    from anticipate.ingest.update import is_data_dir

    target = Path(os.path.abspath(out))
    with dir_lock(target, command=f"anticipate ingest --out {out}{' --append' if append else ''}"):
        previous = target if is_data_dir(target) else None
        with staging_dir(target, _owned(previous), locked=True) as stage:
            staged = _stage(settings, sources, stage, out, previous, append, replace=replace)
            write_json(staged.doc, stage / "ingest_report.json")
    return staged


def _owned(previous: Path | None) -> DirOutput:
    """What this ingest may replace: its own entries and those of the data directory it updates."""
    return INGEST_OUTPUT.with_names(set(os.listdir(previous)) if previous is not None else set())


def _options(settings: Settings, table: str, out: Path, append_to: str, dry_run: bool) -> Any:
    from anticipate.ingest import Options

    cfg = settings.cfg.ingest
    return Options(chunk_rows=cfg.chunk_rows, on_error="quarantine" if dry_run else cfg.on_error,
                   max_reject_share=1.0 if dry_run else cfg.max_reject_share,
                   mapping=dict(cfg.columns.get(table, {})), out=str(out),
                   append_to=append_to if table == "orders" else "",
                   date_format=cfg.date_format if table == "orders" else None, decimal=cfg.decimal)


def _stage(settings: Settings, sources: dict[str, Path], stage: Path, out: Path, previous: Path | None,
           append: bool, *, dry_run: bool = False, replace: bool = False) -> _Staged:
    """Ingest ``sources`` into ``stage`` beside the tables kept from ``previous``."""
    from anticipate.ingest import TABLE_ORDER, Context, RejectSink, ingest_table
    from anticipate.ingest.update import carry_over, keep_tables, previous_rejects, reference_keys

    tables = [t for t in TABLE_ORDER if t in sources]
    kept = {} if dry_run else keep_tables(previous, stage, set(sources))
    others = [] if dry_run else carry_over(previous, stage)
    existing = previous / "orders.parquet" if previous is not None and append else None
    append_to = str(existing) if existing is not None and existing.is_file() else ""
    carried = previous_rejects(previous, set(kept) | ({"orders"} if append_to else set()))
    refs = Context(**reference_keys(previous, {"products", "regions"} - set(sources)),
                   max_quantity=settings.cfg.ingest.max_quantity)
    reports: dict[str, Any] = {}
    refused, refused_all = None, []
    sink = RejectSink(stage / "rejects.parquet")
    try:
        if carried is not None and not dry_run:
            sink.write_records(carried)
        with stages(len(tables), enabled=settings.progress, description="ingest") as bar:
            for table in tables:
                bar.step(f"ingest {table}")
                opts = _options(settings, table, out, append_to, dry_run)
                report, keys = ingest_table(table, Path(sources[table]), stage, sink, opts, refs)
                log.info("%s: %s rows in, %s accepted, %s rejected", table, report.rows_in,
                         report.rows_accepted, report.rows_rejected)
                if table in ("products", "regions"):
                    refs = _with(refs, **{"skus" if table == "products" else "regions": keys})
                reports[table] = report
                if not report.rows_accepted and not (table == "orders" and append_to):
                    refused_all.append(_refuse_empty(report, out, dry_run=dry_run))
                if table == "orders" and not append_to and not replace:
                    refused = _refuse_lost_history(previous, report, out, dry_run=dry_run)
    finally:
        sink.close()
    layout = None if dry_run else _layout_for(settings, stage, sources, kept)
    staged = _finish_stage(settings, reports, kept, layout, previous, refs, append_to, stage, out,
                           dry_run=dry_run)
    staged.doc["rejects_carried"] = 0 if carried is None or dry_run else carried.num_rows
    staged.doc["carried_over"] = others
    staged.warnings.extend([refused] if refused else [])
    staged.warnings.extend(refused_all)
    return staged


def _refuse_empty(report: Any, out: Path, *, dry_run: bool) -> str:
    """DataError (exit 2, nothing published) for a table none of whose rows was accepted (audit33: 0 order
    lines were published with exit 0, and every later command failed on the empty dates); a dry run's
    warning."""
    from anticipate.ingest.messages import none_accepted_error

    error = none_accepted_error(report, str(out))
    if not dry_run:
        raise error
    return f"{report.table}: the real run would be refused (exit 2): {error}"


def _layout_for(settings: Settings, stage: Path, sources: dict[str, Path], kept: dict[str, int]) -> Any:
    """Rebuild the customer layout from the staged orders when they changed (or it is missing)."""
    if "orders" in sources or ("orders" in kept and not (stage / LAYOUT_DIR).is_dir()):
        return _customer_layout(settings, stage)
    return None


def _finish_stage(settings: Settings, reports: dict[str, Any], kept: dict[str, int], layout: Any,
                  previous: Path | None, refs: Any, append_to: str, stage: Path, out: Path, *,
                  dry_run: bool) -> _Staged:
    """The report document and the warnings of a staged ingest. ``stage`` holds the tables this run read
    (a dry run's too, in its temporary directory); a dry run keeps nothing from ``previous`` there."""
    from anticipate.ingest.report import (
        blank_category_warnings,
        column_warnings,
        economics_warnings,
        planning_id_warnings,
        region_warning,
        reject_warning,
    )
    from anticipate.ingest.update import (
        kept_warnings,
        orphan_warnings,
        previous_reports,
        replaced_orders_warning,
    )

    doc = _report_doc(reports, settings.cfg.ingest)
    before = previous_reports(previous)
    doc["kept"] = {t: {**before.get(t, {}), "rows_kept": n} for t, n in kept.items()}
    doc["append"] = bool(append_to)
    if layout is not None:
        doc["orders_layout"] = {"dir": LAYOUT_DIR, "partitions": layout.partitions, "rows": layout.rows}
    rejects = str(Path(out) / "rejects.parquet")  # a plan rests on what its reference tables lost
    warnings = [w for t, r in reports.items() if t != "orders" and (w := reject_warning(t, r, rejects,
                                                                                           ROW_NUMBERING))]
    warnings += [f"{table}: {note}" for table, report in reports.items() for note in report.notes]
    if "products" in reports:
        warnings += economics_warnings(reports["products"], settings.cfg.economics)
        warnings += blank_category_warnings(reports["products"], stage)  # a dry run stages it too
    if "warehouses" in reports:  # a dry run says it too: the staged table is the one a real run publishes
        warnings += planning_id_warnings(stage)
    warnings += column_warnings(reports) + kept_warnings(previous, set(kept))
    if "orders" in reports and not append_to:  # --replace (a refusal or a dry run's warning otherwise)
        replaced = replaced_orders_warning(previous, reports["orders"].rows_accepted)
        warnings.extend([replaced] if replaced else [])
    if "orders" in reports:
        note = region_warning(reports["orders"], has_regions=refs.regions is not None)
        warnings.extend([note] if note else [])
    if not dry_run:
        warnings.extend(orphan_warnings(stage, kept, set(reports)))
    doc["warnings"] = warnings
    return _Staged(reports, kept, layout, doc, warnings)


def _customer_layout(settings: Settings, stage: Path) -> Any:
    """With ``compute.engine: dask``, split the staged orders by customer hash (else None)."""
    if settings.cfg.compute.engine != "dask":
        return None
    from anticipate.storage.layout import write_customer_layout

    n = settings.cfg.compute.partitions
    log.info("orders: writing %d customer partitions under %s/", n, LAYOUT_DIR)
    return write_customer_layout(stage / "orders.parquet", stage / LAYOUT_DIR, n,
                                 batch_rows=settings.cfg.ingest.chunk_rows)


def _refuse_lost_history(previous: Path | None, report: Any, out: Path, *, dry_run: bool) -> str | None:
    """DataError (exit 2, before anything is published) when the orders of ``report`` would replace those
    of ``previous`` and lose lines or days of them (:func:`~anticipate.ingest.update.lost_history`): the
    nightly file of a cron job that forgot ``--append``. A dry run gets it as a warning."""
    from anticipate.errors import DataError
    from anticipate.ingest.update import lost_history

    lost = lost_history(previous, report.rows_accepted, report.first_day, report.last_day)
    if lost is None:
        return None
    message = (f"{lost}. Nothing was written; {out} is as it was. To add these lines to the orders there, "
               "run the same command with --append; to replace the orders with these on purpose, add "
               "--replace")
    if dry_run:
        return f"orders: the real run would be refused (exit 2): {report.file}: {message}"
    raise DataError(message, file=report.file)


def _check_request(sources: dict[str, Path], out: Path, append: bool = False, replace: bool = False) -> None:
    from anticipate.ingest import TABLE_ORDER
    from anticipate.ingest.update import is_data_dir

    unknown = sorted(set(sources) - set(TABLE_ORDER))
    if unknown:
        raise UsageError(f"unknown table(s) {', '.join(unknown)}; ingest reads {', '.join(TABLE_ORDER)}")
    if not sources:
        raise UsageError("give at least one table to ingest (--orders, --products, --regions, --warehouses "
                         "or --supply); the tables not given are kept from the data directory at --out")
    if append and "orders" not in sources:
        raise UsageError("--append appends order lines: pass --orders FILE with it")
    if replace and "orders" not in sources:
        raise UsageError("--replace replaces the order lines: pass --orders FILE with it")
    if append and replace:
        raise UsageError("--append adds the orders to the existing ones and --replace replaces them: pass "
                         "one of the two")
    target = Path(os.path.abspath(out))
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {out} is a file; pass a directory path for the canonical tables")
    for table, path in sources.items():
        src = Path(os.path.abspath(path))
        if src == target or target in src.parents:
            raise UsageError(f"--out {out} contains the {table} input {path}; write the data directory "
                             "somewhere else (it is republished as a whole)")
    if not is_data_dir(target):  # a data directory is updated, its other entries carried over
        check_publishable(out, INGEST_OUTPUT)


def _totals(reports: dict[str, Any]) -> dict[str, int]:
    return {key: sum(getattr(r, key) for r in reports.values())
            for key in ("rows_in", "rows_accepted", "rows_rejected")}


def _report_doc(reports: dict[str, Any], cfg: Any) -> dict[str, Any]:
    from anticipate.ingest import parse, tail

    return {
        **_totals(reports),
        "tables": {table: report.to_json() for table, report in reports.items()},
        "rules": {
            "row_numbering": ROW_NUMBERING,
            "on_error": cfg.on_error,
            "max_reject_share": cfg.max_reject_share,
            "timestamps": f"naive UTC, accepted in [{parse.TS_MIN.date()}, {parse.TS_MAX.date()})",
            "future_tail": f"a tail after a gap longer than {tail.TAIL_GAP_DAYS} days and than the span "
                           f"before it or at least {tail.TAIL_TYPO_DAYS} days, holding "
                           f"<= {tail.TAIL_MAX_SHARE:.0%} of rows (or one row), is after the data's own "
                           "max + 1 day when its gap exceeds the span before it or it holds fewer lines "
                           "than the median day (else kept with a warning); on --append, of all orders",
        },
        "rejects": "rejects.parquet",
        "rejects_note": "rejects.parquet holds this run's rejects after rejects_carried rows carried over "
                        "from earlier runs for the kept (or appended-to) tables",
    }


def _result(staged: _Staged, out: Path, seconds: float) -> Result:
    reports, layout = staged.reports, staged.layout
    totals = _totals(reports)
    counts = dict(totals)
    for table, report in reports.items():
        for key in ("rows_in", "rows_accepted", "rows_rejected"):
            counts[f"{table}_{key}"] = getattr(report, key)
    if "orders" in reports and reports["orders"].existing_rows is not None:
        counts["orders_duplicates_existing"] = reports["orders"].duplicates_existing
        counts["orders_rows_existing"] = reports["orders"].existing_rows
        counts["orders_rows_added"] = reports["orders"].rows_accepted  # 0: orders.parquet unchanged
    counts.update({f"{table}_rows_kept": n for table, n in staged.kept.items()})
    outputs = {"data": str(out), "rejects": str(out / "rejects.parquet"),
               "report": str(out / "ingest_report.json")}
    outputs.update({table: str(out / f"{table}.parquet") for table in [*reports, *staged.kept]})
    if layout is not None:
        outputs["orders_partitioned"] = str(out / LAYOUT_DIR)
        counts["orders_partitions"] = layout.partitions
    from anticipate.ingest.report import reject_warning

    orders = reports.get("orders")  # the reference tables' rejects are in staged.warnings already
    first = orders and reject_warning("orders", orders, outputs["rejects"], ROW_NUMBERING)
    warnings = [first] if first else []
    warnings.extend(staged.warnings)  # the tables' notes first
    dropped = totals["rows_rejected"] - sum(r.duplicates_existing for r in reports.values())
    share = dropped / totals["rows_in"] if totals["rows_in"] else 0.0  # as max_reject_share counts
    from anticipate.ingest.report import text

    return Result(command="ingest", metrics={"reject_share": share, "seconds": seconds}, counts=counts,
                  outputs=outputs, text=text(staged, totals, out), warnings=warnings)
