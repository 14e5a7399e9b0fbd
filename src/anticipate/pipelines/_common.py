"""Helpers shared by the pipelines: loading data, resolving cutoffs, opening the tracker, loading a model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from anticipate import dates
from anticipate.dates import Purpose
from anticipate.errors import UsageError
from anticipate.storage.files import DataSet, load_dataset, read_parquet_checked

if TYPE_CHECKING:
    from anticipate.pipelines import Settings
    from anticipate.tracking import Tracker

log = logging.getLogger("anticipate")


def load_data(
    settings: Settings,
    *,
    cluster: bool = False,
    dictionary: tuple[str, ...] = (),
    stored: tuple[str, ...] = (),
) -> DataSet:
    """Load the canonical data directory named by ``--data`` / ``data.dir``.

    With ``cluster=True`` (a command whose Dask path reads the orders on the workers),
    ``compute.engine: dask`` and a customer layout in the directory (written by
    ``ingest``, :mod:`anticipate.storage.layout`), only the ``order_ts`` column of the orders is
    loaded here, for the cutoff checks. ``dictionary`` names order columns to load as
    categoricals (:func:`~anticipate.storage.files.load_dataset`), in the local path only; those
    also in ``stored`` (few distinct values) from the file's own dictionary pages.
    """
    if cluster and settings.cfg.compute.engine == "dask":
        from anticipate.storage.layout import read_layout

        if read_layout(settings.data_dir) is not None:
            return load_dataset(settings.data_dir, order_columns=["order_ts"])
    return load_dataset(settings.data_dir, order_dictionary=dictionary, order_stored=stored)


def item_warnings(ds: DataSet, item_level: str) -> list[str]:
    """The one check of every command that builds items at ``item_level`` (the config's, or a loaded
    model's): at ``category`` level, exit 2 when the data gives no SKU of the orders a category (no
    products table, or none of their products with one), else a warning when some SKUs have none
    (:func:`anticipate.features.items.category_warnings`), for the command's printed and recorded
    warnings. The Dask path's ``ds`` holds the orders' ``order_ts`` only: the SKUs come from the file."""
    from anticipate.features.items import category_warnings

    if item_level != "category":
        return []
    skus = ds.orders["sku"] if "sku" in ds.orders else read_parquet_checked(
        Path(ds.path) / "orders.parquet", columns=["sku"], dictionary=["sku"])["sku"]
    return category_warnings(item_level, ds.products, skus, data_dir=ds.path)


def order_id_warnings(data_dir: Path | str) -> list[str]:
    """The last ingest's warning that one (customer_id, order_id) has lines more than 24 h apart (ids
    reused, :mod:`anticipate.ingest.orderspan`), for the commands whose features count such an order
    at its first line: read from ``ingest_report.json``, not from the lines (no time on 10M lines)."""
    import json

    from anticipate.ingest.orderspan import REUSED

    try:
        doc = json.loads((Path(data_dir) / "ingest_report.json").read_text())
    except (OSError, ValueError):
        return []
    found = doc.get("warnings", []) if isinstance(doc, dict) else []
    return [f"the last ingest of {data_dir} warned: {w}" for w in found if isinstance(w, str) and REUSED in w]


def amount_text(x: float) -> str:
    """An objective or bound for the printed line: 2 decimals from 1 on (``1,819.10``), else 6 significant
    digits (``,.2f`` printed an objective of 8.86e-07 as 0.00; 6 significant digits from 1 on printed
    1,819.1 beside a bound of 1,819.42)."""
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.6g}"


def resolve_cutoff(
    value: str | None, orders: pd.DataFrame, *, horizon_days: int, purpose: Purpose, command: str,
    min_history_days: int = 1,
) -> pd.Timestamp:
    """Parse ``--cutoff`` or pick the default, and check it against docs/data-contract.md#cutoffs-and-labels.

    With no value, labelled commands use the last full cutoff and production
    commands the production cutoff (the day after the last order). ``min_history_days``: the days of
    orders a cutoff needs before it (:func:`anticipate.dates.valid_range`).
    """
    ts = orders["order_ts"]
    if value is None:
        cutoff = dates.last_full_cutoff(ts, horizon_days) if purpose == "labelled" else dates.data_end(ts)
    else:
        cutoff = dates.parse_date(value, name="--cutoff")
    dates.check_cutoff(cutoff, ts, horizon_days, purpose, command=command, min_history_days=min_history_days)
    if purpose == "labelled":
        dates.check_horizons_hold_orders([cutoff], ts, horizon_days)
    return cutoff


def open_tracker(settings: Settings, *, offline_hint: str = "", writes: bool = True) -> Tracker:
    """The MLflow tracker for the resolved URI (imports MLflow lazily).

    Its first run starts when the command did (``settings.started_at``), as pipelines
    open their run after the work; ``-q`` (verbosity -1) silences MLflow's own lines.
    A bare path as the URI is refused first, naming where it came from, and, for a command that
    ``writes`` runs, a ``sqlite:`` store it cannot write (exit 2, not MLflow's ~100 s of retries and
    exit 1). ``offline_hint``: how the command can run without an unreachable server.
    """
    from anticipate.tracking import Tracker
    from anticipate.tracking.store import check_uri_form, require_writable_store

    check_uri_form(settings.tracking_uri, settings.tracking_source)
    if writes:
        require_writable_store(settings.tracking_uri, settings.tracking_source)
    return Tracker.from_config(
        settings.cfg,
        settings.tracking_uri,
        started_ms=int(settings.started_at * 1000),
        quiet=settings.verbosity < 0,
        offline_hint=offline_hint,
        source=settings.tracking_source,
    )


def require_tracking_store(settings: Settings) -> None:
    """Before a command's work, what can be known of its tracking store without creating it: a URI of no
    usable form or an ``sqlite:`` store it cannot write (UsageError, exit 2), a server that does not
    answer (ServiceUnavailable, exit 3), each naming the URI and the fix (``train`` checked them only
    after its fit)."""
    from anticipate.tracking.store import check_reachable, check_uri_form, require_writable_store

    check_uri_form(settings.tracking_uri, settings.tracking_source)
    require_writable_store(settings.tracking_uri, settings.tracking_source)
    check_reachable(settings.tracking_uri, source=settings.tracking_source)


def require_model_store(settings: Settings, model: str | None) -> None:
    """Before a command that loads ``--model`` writes or creates anything: UsageError (exit 2) for a bare
    path as the tracking URI, for a local model path that is no model, and for a ``sqlite:`` store that
    does not exist when the model is to come from the store (opening it would create an empty one)."""
    from anticipate.tracking.registry import check_local_model, is_registry_reference
    from anticipate.tracking.store import check_uri_form, require_existing_store

    check_uri_form(settings.tracking_uri, settings.tracking_source)
    check_local_model(model)
    if is_registry_reference(model):
        require_existing_store(settings.tracking_uri, settings.tracking_source)


def load_registered(settings: Settings, model: str | None, *, default_alias: str | None) -> tuple[Any, str]:
    """Load ``--model`` (a version, ``@alias``, URI or local path) -> (NextPurchasePyfunc, uri).

    ``None`` resolves to ``default_alias`` of the registered model (or its latest
    version when that is None too). The store and a local path are checked first
    (:func:`require_model_store`).
    """
    wrapper, uri, _ = load_with_source(settings, model, default_alias=default_alias)
    return wrapper, uri


def load_with_source(
    settings: Settings, model: str | None, *, default_alias: str | None
) -> tuple[Any, str, dict[str, str | None]]:
    """:func:`load_registered`, plus where the loaded model comes from: its registry ``version`` and the
    ``run_id`` that logged it. An alias is read once (:meth:`~anticipate.tracking.registry.Registry.pin`):
    the model loaded is the version recorded, even when ``promote`` moves the alias meanwhile."""
    tracker = _model_tracker(settings, model)
    uri = tracker.resolve_model_uri(
        model, name=settings.cfg.model.registered_name, default_alias=default_alias
    )
    pinned, source = tracker.registry.pin(uri)
    return tracker.load_model(pinned, named=uri), uri, source


def _model_tracker(settings: Settings, model: str | None) -> Tracker:
    """The tracker a command loading ``--model`` opens, after :func:`require_model_store`; its offline hint
    says how to run without the server."""
    from anticipate.tracking.registry import local_model_path

    require_model_store(settings, model)
    if local_model_path(model) is not None:
        hint = (f"--model {model} is a local copy, but the run is still recorded in the tracking store: "
                "pass a local one too (--tracking-uri sqlite:///local.db)")
    else:
        hint = ("a local copy of the model runs without the server: --model PATH with a local "
                "--tracking-uri sqlite:///local.db (see the README's runbook)")
    return open_tracker(settings, offline_hint=hint)


def refuse_out_in_data(out: str | Path, settings: Settings, option: str = "--out") -> None:
    """UsageError (exit 2) when ``out`` lies inside the data directory: ``features --out
    data/shop/orders.parquet`` replaced the orders with a feature table (audit23 F4); the data
    directory is ingest's to write."""
    data = Path(settings.data_dir).resolve()
    target = Path(out).resolve()
    if target == data or data in target.parents:
        raise UsageError(
            f"{option} {out} is inside the data directory {settings.data_dir}, which only 'anticipate "
            f"ingest' writes (a file there could replace a table such as orders.parquet); write it "
            f"elsewhere, e.g. {option} out/{Path(out).name}"
        )
