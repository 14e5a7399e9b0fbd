"""``sample``: write a synthetic world (and optionally its truth at a cutoff) into a directory."""

from __future__ import annotations

from pathlib import Path

from anticipate import dates
from anticipate.errors import UsageError
from anticipate.pipelines import Result, Settings
from anticipate.sample.store import LATENT_DIR
from anticipate.storage.files import TABLE_NAMES, write_parquet
from anticipate.storage.publish import DirOutput, check_publishable, staging_dir

#: What ``sample --out`` holds; an existing --out holding anything else is refused.
SAMPLE_OUTPUT = DirOutput(
    "sample",
    frozenset({*(f"{t}.parquet" for t in TABLE_NAMES), LATENT_DIR, "truth.parquet", "truth_demand.parquet"}),
)


def run_sample(settings: Settings, *, out: Path, truth_cutoff: str | None = None) -> Result:
    """Generate the world of ``settings.cfg.sample`` into ``out`` atomically.

    Writes the canonical tables and ``latent/`` (see :mod:`anticipate.sample`). With
    ``truth_cutoff`` (``YYYY-MM-DD``), also ``truth.parquet`` (``customer_id, item,
    p_true`` for every candidate pair, at ``model.item_level``, ``time.horizon_days``
    and ``time.lookback_days``) and ``truth_demand.parquet`` (``region, sku, mu_true``:
    expected units in the horizon).

    Raises
    ------
    UsageError
        ``truth_cutoff`` is not a date or lies outside the generated days; ``out`` holds
        something a sample does not write (:class:`~anticipate.errors.OutputError`).
    """
    from anticipate.sample import (
        cutoff_day,
        generate_world,
        true_probabilities,
        true_region_demand,
        write_world,
    )

    check_publishable(out, SAMPLE_OUTPUT)
    cfg = settings.cfg
    cutoff = dates.parse_date(truth_cutoff, name="--truth-cutoff") if truth_cutoff else None
    tables, latent = generate_world(cfg.sample)
    if tables["orders"].empty:  # nothing to ingest or train on: refuse before writing anything
        raise UsageError(f"the world of {cfg.sample.customers:,} customer(s) over {cfg.sample.days:,} days "
                         "holds no order line; give more customers (--customers, sample.customers) or days "
                         "(--days, sample.days)")
    if cutoff is not None:
        cutoff_day(latent, cutoff)  # fail before writing anything
    with staging_dir(out, SAMPLE_OUTPUT) as stage:
        write_world(tables, latent, stage)
        if cutoff is not None:
            truth = true_probabilities(latent, tables["orders"], cutoff, horizon_days=cfg.time.horizon_days,
                                       lookback_days=cfg.time.lookback_days, item_level=cfg.model.item_level)
            write_parquet(truth, stage / "truth.parquet")
            demand = true_region_demand(latent, cutoff, horizon_days=cfg.time.horizon_days)
            write_parquet(demand, stage / "truth_demand.parquet")
    orders = tables["orders"]
    counts = {"order_lines": len(orders), "customers": int(orders["customer_id"].nunique()),
              "skus": len(tables["products"]), "regions": len(tables["regions"]),
              "warehouses": len(tables["warehouses"])}
    outputs = {"data_dir": str(out)}
    if cutoff is not None:
        outputs["truth"] = str(out / "truth.parquet")
        outputs["truth_demand"] = str(out / "truth_demand.parquet")
    text = (f"wrote a synthetic world to {out}: {counts['order_lines']:,} order lines from "
            f"{counts['customers']:,} customers, {counts['skus']} SKUs, {counts['regions']} regions, "
            f"{counts['warehouses']} warehouses ({dates.fmt(orders['order_ts'].min())} to "
            f"{dates.fmt(orders['order_ts'].max())}, seed {cfg.sample.seed})")
    return Result(command="sample", counts=counts, outputs=outputs, text=text)
