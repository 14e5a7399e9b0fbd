"""Model commands: ``features``, ``train``, ``evaluate``, ``predict`` and ``promote``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from anticipate.cli._core import command_body, global_options, main

SCHEDULER_OPTION = click.option(
    "--scheduler", default=None,
    help="Run on Dask: 'local-cluster' or tcp://HOST:PORT (sets compute.engine=dask, compute.scheduler).")


def dask_overrides(scheduler: str | None) -> dict[str, Any] | None:
    """Config overrides selecting the Dask engine when ``--scheduler`` is given."""
    return None if scheduler is None else {"compute.engine": "dask", "compute.scheduler": scheduler}


_MODEL_HELP = ("Model: a registry version (3), an alias (@production), 'latest', a models:/ or "
               "runs:/ URI, or a local model directory.")


@main.command("features")
@click.option("--cutoff", default=None, help="Cutoff (YYYY-MM-DD); default: the day after the last order.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("features.parquet"), show_default=True,
              help="Output file: .parquet or .csv.")
@SCHEDULER_OPTION
@global_options
@command_body("features", collect_cycles=False)
def features_cmd(settings_factory: Any, cutoff: str | None, out: Path, scheduler: str | None) -> Any:
    """Build the candidate pairs and their point-in-time features at a cutoff.

    Candidates: every (customer, item) with an order line in the lookback window;
    features see only order lines before the cutoff.

    \b
    Examples:
      anticipate features --cutoff 2025-10-01 --out features.parquet
      anticipate features --data data/shop --out features.csv --json
    """
    from anticipate.pipelines.features import run_features

    return run_features(settings_factory(dask_overrides(scheduler)), cutoff=cutoff, out=out)


@main.command("train")
@click.option("--until", default=None,
              help="Use data before this date (YYYY-MM-DD) or 'latest'; default: the last full cutoff.")
@SCHEDULER_OPTION
@global_options
@command_body("train")
def train_cmd(settings_factory: Any, until: str | None, scheduler: str | None) -> Any:
    """Train the next-purchase model (LightGBM) and register it in MLflow.

    Builds rolling-origin windows every horizon (model.train_windows of them) before
    --until; the last window validates (early stopping, calibration).
    model.year_ago_windows (default 0) adds that many training windows around the
    same season 52 weeks (364 days) earlier. The model is
    registered as anticipate-next-purchase; promote it to use it in allocate.

    \b
    Examples:
      anticipate train
      anticipate train --until latest           # nightly retraining on all labelled data
      anticipate train --config configs/my.yaml --json
    """
    from anticipate.pipelines.model import run_train

    return run_train(settings_factory(dask_overrides(scheduler)), until=until)


@main.command("evaluate")
@click.option("--model", default=None, help=_MODEL_HELP + " Default: the latest registered version.")
@click.option("--cutoff", default=None, help="Cutoff (YYYY-MM-DD); default: the last full cutoff.")
@click.option("--in-sample", "in_sample", is_flag=True,
              help="Score a cutoff before the model's training end anyway (refused otherwise); the run is "
                   "tagged anticipate.in_sample=true and the table labelled in-sample.")
@global_options
@command_body("evaluate")
def evaluate_cmd(settings_factory: Any, model: str | None, cutoff: str | None, in_sample: bool) -> Any:
    """Evaluate a model at a cutoff against baselines and, on synthetic data, the truth.

    Prints a metrics table (auc, ap, logloss, brier, ece, precision and lift at 10%)
    for the model, the baselines and, on synthetic data, the oracle; logs plots
    (calibration, ROC, PR, lift, gain importance) to MLflow. The cutoff must be
    out-of-sample: on or after the date the model was trained until (exit 2 otherwise).

    \b
    Baselines:
      baseline_rf           logistic regression on the customer's and the pair's
                            recency and frequency, fitted on the previous window
      baseline_bgnbd        BG/NBD per customer, fitted at the cutoff
      baseline_pair_rate    the pair's orders per day in the last 365 days (or
                            its tenure) as a Poisson P(order in H days); no fit
      baseline_pair_logreg  logistic regression on the pair's recency, frequency
                            and mean gap (days), fitted on the previous window

    \b
    Examples:
      anticipate evaluate
      anticipate evaluate --model 3 --cutoff 2025-10-01
      anticipate evaluate --model @production --json
    """
    from anticipate.pipelines.evaluate import run_evaluate

    return run_evaluate(settings_factory(), model=model, cutoff=cutoff, in_sample=in_sample)


@main.command("predict")
@click.option("--model", default=None, help=_MODEL_HELP + " Default: the latest registered version.")
@click.option("--cutoff", default=None, help="Cutoff (YYYY-MM-DD); default: the day after the last order.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("predictions.parquet"),
              show_default=True, help="Output file: .parquet or .csv.")
@global_options
@command_body("predict")
def predict_cmd(settings_factory: Any, model: str | None, cutoff: str | None, out: Path) -> Any:
    """Score every candidate customer x item pair: p_buy and expected_units over the horizon.

    The file records its cutoff, horizon, item level and model (Parquet: schema metadata; CSV: the
    sidecar OUT.json). A cutoff before the model's training end is scored with an IN-SAMPLE warning,
    on stderr and in the Parquet metadata or the CSV's sidecar (not in the CSV's rows: keep the two
    together): the model saw those outcomes.

    \b
    Examples:
      anticipate predict --out scores.parquet
      anticipate predict --model @production --cutoff 2025-12-01 --out scores.csv
    """
    from anticipate.pipelines.model import run_predict

    return run_predict(settings_factory(), model=model, cutoff=cutoff, out=out)


@main.command("promote")
@click.argument("run_or_version")
@click.option("--alias", default="production", show_default=True, help="Registry alias to set.")
@global_options
@command_body("promote")
def promote_cmd(settings_factory: Any, run_or_version: str, alias: str) -> Any:
    """Point a registry alias (production) at a model version, a train run's version or 'latest'.

    forecast and allocate load the 'production' alias by default.

    \b
    Examples:
      anticipate promote latest --alias production
      anticipate promote 3
      anticipate promote 1f2e3d4c5b6a --alias staging
    """
    from anticipate.pipelines.model import run_promote

    return run_promote(settings_factory(), run_or_version=run_or_version, alias=alias)
