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


@main.command("ingest")
@click.option("--orders", type=_FILE, required=True, help="Orders file: CSV (optionally .gz) or Parquet.")
@click.option("--products", type=_FILE, default=None, help="Products file (sku, category, unit_volume, ...).")
@click.option("--regions", type=_FILE, default=None, help="Regions file (region, lat, lon).")
@click.option("--warehouses", type=_FILE, default=None,
              help="Warehouses file (warehouse_id, lat, lon, capacity).")
@click.option("--supply", type=_FILE, default=None, help="Central supply file (sku, units).")
@click.option("--out", type=_FILE, required=True, help="Canonical data directory to write.")
@click.option("--on-error", type=click.Choice(["quarantine", "fail"]), default=None,
              help="quarantine bad rows (default) or stop at the first one.")
@global_options
@command_body("ingest")
def ingest_cmd(settings_factory: Any, orders: Path, products: Path | None, regions: Path | None,
               warehouses: Path | None, supply: Path | None, out: Path, on_error: str | None) -> Any:
    """Validate source files and write the canonical data directory; nothing is lost.

    Every input row is either accepted or written to rejects.parquet with its file,
    1-based row, column, value and reason: rows_in = rows_accepted + rows_rejected.

    \b
    Examples:
      anticipate ingest --orders orders.csv --products products.csv --out data/shop
      anticipate ingest --orders log.csv.gz --out data/log --on-error fail
      anticipate ingest --orders orders.parquet --out data/shop --json
    """
    from anticipate.pipelines.ingest import run_ingest

    overrides = {"ingest.on_error": on_error} if on_error else None
    sources = {"orders": orders, "products": products, "regions": regions,
               "warehouses": warehouses, "supply": supply}
    return run_ingest(settings_factory(overrides),
                      sources={k: v for k, v in sources.items() if v is not None}, out=out)
