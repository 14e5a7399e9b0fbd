"""What an ingest tells its user: where every column went, the warnings, the summary, the dry run.

Pure text built from the :class:`~anticipate.ingest.TableReport` of each table;
only :func:`dry_run_result` reads a file (the dry run's temporary rejects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anticipate.storage.layout import LAYOUT_DIR

#: How many rejected lines a dry run prints.
DRY_RUN_LINES = 10


def _shown(value: object) -> str:
    return "null" if value is None else repr(value)


def column_lines(table: str, report: Any) -> list[str]:
    """``table``'s columns, one line each for mapped (source -> canonical), defaulted and ignored."""
    mapped = ", ".join(f"{src!r} -> {dst}" for src, dst in report.mapped.items()) or "none"
    lines = [f"{table}: columns mapped: {mapped}"]
    if report.defaulted:
        lines.append(f"{table}: columns defaulted: "
                     + ", ".join(f"{name} = {_shown(value)}" for name, value in report.defaulted.items()))
    if report.ignored:
        lines.append(f"{table}: columns ignored: " + ", ".join(repr(name) for name in report.ignored))
    return lines


def column_warnings(reports: dict[str, Any]) -> list[str]:
    """A warning per table whose defaulted columns give every row the same value (an orders
    region is left to :func:`region_warning`, which says what it means for the plan)."""
    warnings = []
    for table, report in reports.items():
        constant = {name: value for name, value in report.defaulted.items()
                    if value is not None and (table, name) != ("orders", "region")}
        if not constant:
            continue
        shown = ", ".join(f"{name} = {_shown(value)}" for name, value in constant.items())
        first = next(iter(constant))
        ignored = (f"; ignored columns: {', '.join(repr(n) for n in report.ignored)}" if report.ignored
                   else "")
        warnings.append(
            f"{table}: no column found for {', '.join(constant)}, so every row gets the same value "
            f"({shown}){ignored}. If the file has such a column under another name, map it: --map "
            f"{table}.{first}=<column>")
    return warnings


def reject_warning(table: str, report: Any, rejects: str, numbering: str) -> str | None:
    """``table: N of M rows (x%) rejected (reasons); see rejects`` (None when none was), without the
    orders' duplicates of existing lines (not counted against the reject share)."""
    dropped = report.rows_rejected - report.duplicates_existing
    if not dropped:
        return None
    top = ", ".join(f"{reason} x {count:,}" for reason, count in report.reasons.most_common(3))
    return (f"{table}: {dropped:,} of {report.rows_in:,} rows ({dropped / report.rows_in:.2%}) rejected "
            f"({top}); see {rejects} ({numbering})")


#: Products columns the model reads as money per unit (g, h), and their economics.* default.
ECONOMICS = {"value_local": "g, currency gained per unit sold locally instead of from the centre",
             "cost_unsold": "h, currency lost per pre-positioned unit left unsold"}
#: Products column names often meaning a price, which are not read as value_local.
PRICE_NAMES = ("value", "unitvalue", "price", "listprice", "unitprice")


def value_ranges(products: Path) -> dict[str, list[float]]:
    """The [min, max] of value_local and cost_unsold in the staged ``products`` (columns all null
    are left out)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(products, columns=list(ECONOMICS))
    found = {name: pc.min_max(table[name]).as_py() for name in ECONOMICS}
    return {name: [mm["min"], mm["max"]] for name, mm in found.items() if mm["min"] is not None}


def economics_warnings(report: Any, economics: Any) -> list[str]:
    """A warning per products money column read from the file under another name (an alias such as
    ``holding_cost``, or a --map: its source and range against ``economics.*``, which it replaces for
    those products; a column named ``value_local`` or ``cost_unsold`` says what it is and is not warned
    about, or every nightly plan would repeat it), and per ignored column named like a price that is
    therefore not read as value_local."""
    from anticipate.ingest.columns import normalise

    warnings = []
    for name, (low, high) in getattr(report, "ranges", {}).items():
        source, default = report.columns.get(name, name), getattr(economics, name)
        if normalise(source, units=False) == normalise(name):
            continue
        warnings.append(
            f"products: {name} ({ECONOMICS[name]}) is read from column {source!r}: {low:g} to {high:g} per "
            f"unit, against economics.{name} = {default:g} (used only where it is empty). It weighs every "
            f"unit of the plan's objective: if {source!r} is something else (a list price, say), rename or "
            f"drop the column so economics.{name} applies")
    for column in report.ignored:
        if normalise(column, units=False) in PRICE_NAMES:
            warnings.append(
                f"products: column {column!r} is not read (a {column!r} is usually a price, not the local "
                f"value g): the plan uses economics.value_local ({economics.value_local:g}) where "
                f"value_local is empty. If {column!r} is the gain per unit sold locally, map it: --map "
                f"products.value_local={column}")
    return warnings


def region_warning(report: Any, *, has_regions: bool) -> str | None:
    """The warning for orders with no usable region (None when some lines have one)."""
    if report.usable_region_rows or not report.rows_accepted:
        return None
    if "region" in report.defaulted:
        cause = ("the orders file has no region column (recognised: region, ship_region, country, ...), "
                 "so every line gets region 'ALL'")
    else:
        cause = (f"the region column {report.columns.get('region')!r} holds no usable value (only empty, "
                 "'ALL', 'unknown' or similar)")
    where = "" if has_regions else " and a regions table (--regions) with their lat/lon"
    from anticipate.demand.gates import MAX_LOST_SHARE

    return (f"orders: no usable region: {cause}. Demand is served by the warehouse nearest each "
            f"region, so these lines' demand reaches no warehouse: allocate refuses to plan while they "
            f"are more than {MAX_LOST_SHARE:.0%} of the recent units. Give the orders a region column (or "
            f"--map orders.region=<column>){where}")


def text(staged: Any, totals: dict[str, int], out: Path) -> str:
    """The human-readable summary of a published ingest."""
    reports, layout = staged.reports, staged.layout
    lines = [f"ingested {len(reports)} table(s) into {out}: rows_in {totals['rows_in']:,} = accepted "
             f"{totals['rows_accepted']:,} + rejected {totals['rows_rejected']:,}"]
    for table, r in reports.items():
        lines.append(f"  {table:<11} {r.rows_in:>12,} in {r.rows_accepted:>12,} accepted "
                     f"{r.rows_rejected:>10,} rejected   {r.file}")
    orders = reports.get("orders")
    if orders is not None and orders.existing_rows is not None:
        lines.append(f"orders appended: {orders.existing_rows:,} existing + {orders.rows_accepted:,} new = "
                     f"{orders.existing_rows + orders.rows_accepted:,} lines; {orders.duplicates_existing:,} "
                     "duplicates of existing lines dropped (counted as rejected"
                     + (f"; {orders.duplicates_existing_by_key:,} of them by order_id, sku, customer and day"
                        if orders.duplicates_existing_by_key else "") + ")"
                     + ("; nothing new was added" if not orders.rows_accepted else ""))
    if staged.kept:
        lines.append("kept from the previous data directory: "
                     + ", ".join(f"{t} ({n:,} rows)" for t, n in staged.kept.items()))
    if layout is not None:
        lines.append(f"orders also split by customer hash into {layout.partitions} partitions under "
                     f"{out / LAYOUT_DIR}/ (for compute.engine: dask)")
    lines.append(f"rejects: {out / 'rejects.parquet'}   report: {out / 'ingest_report.json'}")
    return "\n".join(lines)


def _reject_lines(rejects_path: Path, table: str) -> list[str]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rejects = pq.read_table(rejects_path)
    rows = rejects.filter(pc.equal(rejects["table"], table)).slice(0, DRY_RUN_LINES).to_pylist()
    return [f"    row {r['row']}, column {r['column']!r}, value {r['value']!r}: {r['reason']}" for r in rows]


def dry_run_result(staged: Any, stage: Path, out: Path, limit: float) -> Any:
    """The Result of ``ingest --dry-run``: per table the mapping, date format, rejects by reason and
    the first rejected lines, and whether the real run would pass ``max_reject_share``."""
    from anticipate.pipelines import Result

    lines, counts, fails = [f"dry run: nothing was written to {out}"], {}, []
    for table, r in staged.reports.items():
        share = (r.rows_rejected - r.duplicates_existing) / r.rows_in if r.rows_in else 0.0
        verdict = "ok" if share <= limit else "WOULD FAIL"
        fails += [table] if share > limit else []
        fmt = f", date format {r.date_format}" if r.date_format else ""
        delim = f", delimiter {r.delimiter!r}" if r.delimiter else ""
        lines += [f"{table}: {r.file} ({r.format}{delim}{fmt})",
                  *("  " + line.split(": ", 1)[1] for line in column_lines(table, r)),
                  f"  rows_in {r.rows_in:,} = accepted {r.rows_accepted:,} + rejected {r.rows_rejected:,} "
                  f"({share:.2%}; limit ingest.max_reject_share {limit:g}: {verdict})"]
        if r.reasons:
            by_reason = ", ".join(f"{k} x {v:,}" for k, v in r.reasons.most_common())
            lines.append(f"  rejects by reason: {by_reason}")
            lines += ["  first rejected lines:", *_reject_lines(stage / "rejects.parquet", table)]
        for key in ("rows_in", "rows_accepted", "rows_rejected"):
            counts[f"{table}_{key}"] = getattr(r, key)
    warnings = list(staged.warnings)
    if fails:
        warnings.append(f"the real run would fail: {', '.join(fails)} reject more than "
                        f"max_reject_share {limit:g}; fix the file or the mapping, or pass "
                        "--max-reject-share")
    return Result(command="ingest", counts=counts, text="\n".join(lines), warnings=warnings,
                  extra={"dry_run": True, "report": staged.doc})


def blank_category_warnings(report: Any, stage: Path | None) -> list[str]:
    """A warning when some (not all) products of a file with a category column have it empty: they
    share the category ``ALL``, which the category features and ``model.item_level: category`` treat
    as one real category. ``stage``: the staged data directory (None: a dry run, nothing to read)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if stage is None or "category" not in report.columns or not (stage / "products.parquet").is_file():
        return []
    category = pq.read_table(stage / "products.parquet", columns=["category"])["category"]
    blank = int(pc.sum(pc.equal(category, "ALL")).as_py() or 0)
    if not blank or blank == len(category):
        return []
    return [f"products: {blank:,} of {len(category):,} products ({blank / len(category):.1%}) have an empty "
            f"{report.columns['category']!r}: they share the category 'ALL', which the category features "
            "and model.item_level: category treat as one category; fill their categories in"]


def planning_id_warnings(stage: Path | None) -> list[str]:
    """A warning when a staged warehouse_id is not of the form the planning commands accept
    (:data:`anticipate.schema.PLANNING_ID`): ingest keeps it, but ``allocate`` would refuse to plan.
    ``stage``: the staged data directory (a dry run's temporary one too; None: nothing to read)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from anticipate.schema import PLANNING_ID, PLANNING_ID_TEXT

    if stage is None or not (stage / "warehouses.parquet").is_file():
        return []
    ids = pq.read_table(stage / "warehouses.parquet", columns=["warehouse_id"])["warehouse_id"]
    bad = pc.filter(ids, pc.invert(pc.match_substring_regex(ids.cast("string"), PLANNING_ID)))
    if not len(bad):
        return []
    shown = ", ".join(repr(v) for v in bad.to_pylist()[:3]) + (", ..." if len(bad) > 3 else "")
    return [f"warehouses: {len(bad):,} warehouse_id value(s) ({shown}) have characters other than "
            f"{PLANNING_ID_TEXT}: the other commands take them, but allocate refuses to plan "
            "with them; rename them in the warehouses file and ingest again"]
