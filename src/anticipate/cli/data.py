"""Data commands: ``sample`` (a synthetic world) and ``ingest`` (files -> canonical tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from anticipate.cli._core import command_body, global_options, main

_FILE = click.Path(path_type=Path)


@main.command("sample")
@click.option("--out", type=_FILE, required=True, help="Directory to write the world into.")
@click.option("--seed", type=int, default=None, help="Random seed (default: sample.seed).")
@click.option("--customers", type=int, default=None, help="Number of customers (default: sample.customers).")
@click.option("--skus", type=int, default=None, help="Number of SKUs (default: sample.skus).")
@click.option("--days", type=int, default=None, help="Days of history (default: sample.days).")
@click.option("--truth-cutoff", default=None, help="Also write truth.parquet for this cutoff (YYYY-MM-DD).")
@global_options
@command_body("sample")
def sample_cmd(settings_factory: Any, out: Path, seed: int | None, customers: int | None,
               skus: int | None, days: int | None, truth_cutoff: str | None) -> Any:
    """Generate a seeded synthetic retail world whose true purchase probabilities are known.

    Writes orders, products, regions, warehouses and supply as canonical Parquet, plus
    the latent state needed to compute the ground truth at any cutoff.

    \b
    Examples:
      anticipate sample --out data/sample --seed 7
      anticipate sample --out /tmp/big --customers 400000 --skus 20000
      anticipate sample --out /tmp/w --truth-cutoff 2025-10-01
    """
    from anticipate.pipelines.sample import run_sample

    overrides = {f"sample.{k}": v for k, v in
                 {"seed": seed, "customers": customers, "skus": skus, "days": days}.items()
                 if v is not None}
    return run_sample(settings_factory(overrides), out=out, truth_cutoff=truth_cutoff)


def _ingest_epilog() -> str:
    from anticipate.schema import orders_schema_help

    return "\b\n" + orders_schema_help().replace("\n", "\n") + (
        "\n\n\bUpdating: the tables not given are kept from the data directory at --out; "
        "--append adds the orders\nto the existing ones (repeats of existing lines, or of their "
        "order_id, sku, customer and day, are\ndropped and counted as rejected; kept lines dated over a "
        "day before the existing end are\nwarned about).")


def _parse_maps(maps: tuple[str, ...]) -> dict[str, str]:
    """``--map TABLE.canonical=source`` options as dotted config overrides."""
    from anticipate.errors import UsageError

    overrides = {}
    for item in maps:
        key, sep, source = item.partition("=")
        table, dot, column = key.strip().partition(".")
        if not (sep and dot and table and column and source.strip()):
            raise UsageError(f"--map {item!r} must look like TABLE.COLUMN=SOURCE_COLUMN, e.g. --map "
                             "orders.customer_id=CustomerID")
        if table not in ("orders", "products", "regions", "warehouses", "supply"):
            raise UsageError(f"--map {item!r}: unknown table {table!r}; use orders, products, regions, "
                             "warehouses or supply")
        key = f"ingest.columns.{table}.{column}"
        if overrides.get(key, source.strip()) != source.strip():  # audit33: the last one won in silence
            raise UsageError(f"--map {table}.{column} is given twice, as {overrides[key]!r} and "
                             f"{source.strip()!r}: a column has one source; keep the right one")
        overrides[key] = source.strip()
    return overrides


@main.command("ingest", epilog=_ingest_epilog())
@click.option("--orders", type=_FILE, default=None, help="Orders file: CSV (optionally .gz) or Parquet.")
@click.option("--products", type=_FILE, default=None, help="Products file (sku, category, unit_volume, ...).")
@click.option("--regions", type=_FILE, default=None, help="Regions file (region, lat, lon).")
@click.option("--warehouses", type=_FILE, default=None,
              help="Warehouses file (warehouse_id, lat, lon, capacity).")
@click.option("--supply", type=_FILE, default=None, help="Central supply file (sku, units).")
@click.option("--out", type=_FILE, required=True,
              help="Canonical data directory to write or update (tables not given are kept).")
@click.option("--append", is_flag=True, default=False,
              help="Add the orders to the existing ones instead of replacing them (repeated lines, and lines "
                   "of an existing order_id, sku, customer and day, are dropped).")
@click.option("--replace", is_flag=True, default=False,
              help="Replace the existing orders even with fewer lines or days (without it, and without "
                   "--append, such an ingest exits 2 and leaves --out as it was).")
@click.option("--map", "maps", multiple=True, metavar="TABLE.COLUMN=SOURCE",
              help="Read canonical COLUMN of TABLE from the source column SOURCE (repeatable), e.g. "
                   "--map orders.customer_id=CustomerID.")
@click.option("--max-reject-share", type=click.FloatRange(0.0, 1.0), default=None,
              help="Largest share of a table's rows that may be rejected (default: "
                   "ingest.max_reject_share, 0.01).")
@click.option("--dry-run", is_flag=True, default=False,
              help="Print the detected mapping, date format and rejects; write nothing.")
@click.option("--on-error", type=click.Choice(["quarantine", "fail"]), default=None,
              help="quarantine bad rows (default) or stop at the first one.")
@click.option("--date-format", default=None, metavar="FORMAT",
              help="strftime format of the orders' non-ISO timestamps, e.g. '%d/%m/%Y %H:%M' (default: "
                   "ingest.date_format, else detected; a file whose dates parse both day-first and "
                   "month-first exits 2 asking for this option).")
@click.option("--decimal", type=click.Choice([".", ","]), default=None,
              help="The decimal mark of the files' numbers, for values such as 1,500 (default: "
                   "ingest.decimal, else settled from each file's data; a file that does not settle "
                   "it exits 2 asking for this option).")
@global_options
@command_body("ingest")
def ingest_cmd(settings_factory: Any, orders: Path | None, products: Path | None, regions: Path | None,
               warehouses: Path | None, supply: Path | None, out: Path, append: bool, replace: bool,
               maps: tuple[str, ...],
               max_reject_share: float | None, dry_run: bool, on_error: str | None,
               date_format: str | None, decimal: str | None) -> Any:
    """Validate source files and write (or update) the canonical data directory; nothing is lost.

    Every input row is either accepted or written to rejects.parquet with its file,
    1-based row, column, value and reason: rows_in = rows_accepted + rows_rejected.
    Tables not given are kept from the data directory already at --out. Orders given
    without --append replace the existing ones only when they hold at least as many
    lines over at least the same days; else the ingest exits 2 and changes nothing
    (--append adds them, --replace replaces on purpose).

    \b
    Examples:
      anticipate ingest --orders orders.csv --products products.csv --out data/shop
      anticipate ingest --orders last_night.csv --append --out data/shop
      anticipate ingest --orders rebuilt_history.csv --replace --out data/shop
      anticipate ingest --orders Online_Retail.csv --max-reject-share 0.05 --dry-run --out data/uci
      anticipate ingest --orders export.csv --map orders.customer_id=Kunde --out data/shop
      anticipate ingest --orders log.csv.gz --out data/log --on-error fail
      anticipate ingest --orders export_ddmm.csv --date-format '%d/%m/%Y %H:%M' --out data/shop
    """
    from anticipate.pipelines.ingest import run_ingest

    overrides: dict[str, Any] = _parse_maps(maps)
    if on_error:
        overrides["ingest.on_error"] = on_error
    if max_reject_share is not None:
        overrides["ingest.max_reject_share"] = max_reject_share
    if date_format is not None:
        overrides["ingest.date_format"] = date_format
    if decimal is not None:
        overrides["ingest.decimal"] = decimal
    sources = {"orders": orders, "products": products, "regions": regions,
               "warehouses": warehouses, "supply": supply}
    return run_ingest(settings_factory(overrides or None),
                      sources={k: v for k, v in sources.items() if v is not None}, out=out,
                      append=append, dry_run=dry_run, replace=replace)
