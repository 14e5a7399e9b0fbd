"""The one-paragraph messages of ingest failures: the first bad row, a rejected share too high."""

from __future__ import annotations

from typing import Any

from anticipate.errors import DataError
from anticipate.ingest import validate


def _suggest(share: float) -> str:
    """A round reject share just above ``share`` (0.05 for 3.2%)."""
    for step in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
        if share < step:
            return f"{step:g}"
    return "1"


def _where(first: dict[str, Any]) -> str:
    column = f", column {first['column']!r}" if first.get("column") else ""
    return f"row {first['row']}{column}, value {first['value']!r}"


def _date_hint(report: Any, reason: str) -> str:
    """For an unparseable date: the date format the file was read with and the option to change it."""
    from anticipate.ingest.dateorder import twin

    if reason != "unparseable date" or not report.date_format:
        return ""
    how = "as stated" if report.date_format_source == "stated" else "detected"
    other = twin(report.date_format)
    example = f"--date-format '{other}'" if other else "--date-format FORMAT"
    return (f" The file's dates were read as {report.date_format} ({how}); if they are written another way, "
            f"pass e.g. {example}.")


def fail_error(report: Any, out: str) -> DataError:
    """The ``--on-error fail`` error for the first rejected row of ``report``."""
    first = report.first_reject or {}
    reason = first.get("reason", "")
    fix = validate.FIXES.get(reason, "fix the row")
    return DataError(
        f"value {first.get('value')!r} is rejected: {reason}. Fix: {fix}.{_date_hint(report, reason)} "
        f"(Rows are numbered from 1 at the first data row after the header.) --on-error fail stops at the "
        f"first bad row, so nothing was written to {out}; with --on-error quarantine (the default) bad "
        "rows go to rejects.parquet and the run fails only above ingest.max_reject_share",
        file=report.file, row=first.get("row"), column=first.get("column") or None,
    )


def _causes(report: Any) -> str:
    """``(most common: 'r' x n, ...). First: row R, column C, value V: reason; fix.`` and the date hint."""
    top = ", ".join(f"'{reason}' x {count:,}" for reason, count in report.reasons.most_common(3))
    first = report.first_reject or {}
    reason = first.get("reason", "")
    return (f"(most common: {top}). First: {_where(first)}: {reason}; "
            f"{validate.FIXES.get(reason, 'fix the row')}.{_date_hint(report, reason)}")


def share_error(report: Any, opts: Any) -> DataError:
    """The error for a rejected share above ``ingest.max_reject_share``."""
    share = (report.rows_rejected - report.duplicates_existing) / report.rows_in
    return DataError(
        f"{report.rows_rejected - report.duplicates_existing:,} of {report.rows_in:,} {report.table} rows "
        f"({share:.1%}) were rejected, "
        f"more than ingest.max_reject_share = {opts.max_reject_share:g} {_causes(report)} "
        "Rows are numbered from 1 "
        f"at the first data row after the header. Fix the file or its column mapping (--map "
        f"{report.table}.COLUMN=SOURCE or ingest.columns.{report.table}), or accept more with "
        f"--max-reject-share (e.g. --max-reject-share {_suggest(share)}; 'anticipate ingest --dry-run' "
        f"lists the rejects by reason); nothing was written to {opts.out}",
        file=report.file,
    )


def none_accepted_error(report: Any, out: str) -> DataError:
    """The refusal of a table none of whose rows was accepted (``--max-reject-share 1`` let it through): an
    orders table without a line leaves every later command without a history (they failed on its empty
    dates), and an empty reference table looks every key up in vain."""
    return DataError(
        f"none of the {report.rows_in:,} {report.table} rows was accepted {_causes(report)} An empty "
        f"{report.table} table is not published: fix the file or "
        f"its column mapping (--map {report.table}.COLUMN=SOURCE; 'anticipate ingest --dry-run' lists the "
        f"rejects by reason); "
        f"nothing was written to {out}",
        file=report.file,
    )
