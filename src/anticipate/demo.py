"""``make demo``: the whole pipeline on ``data/sample`` with the embedded MLflow store.

The store is always ``./mlflow.db`` (:func:`demo_store`), passed to every step as ``--tracking-uri``
with ``MLFLOW_TRACKING_URI`` removed from the steps' environment: a team store exported in the shell
must not receive the sample's model, nor have its ``production`` alias moved by ``promote`` (audit28 F08).
Runs the real ``anticipate`` commands one after another, echoing each command line
so a reader can copy them, and stops at the first failure with its exit code.
Usage: ``python -m anticipate.demo [--out DIR] [--fast]``; ``--fast`` trains on fewer
rolling windows with fewer trees (:data:`FAST_CONFIG`, written to ``DIR/fast.yaml`` and
passed as ``--config``): a quicker look whose numbers are not the README's.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _anticipate() -> list[str]:
    exe = Path(sys.executable).with_name("anticipate")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "anticipate"]


#: The MLflow store the demo's steps use, relative to the working directory (``make demo``: the repository).
DEMO_STORE = Path("mlflow.db")


def demo_store() -> str:
    """The demo's own tracking URI: ``sqlite:///`` + the absolute path of :data:`DEMO_STORE`."""
    return f"sqlite:///{DEMO_STORE.resolve()}"


def store_line(uri: str) -> str:
    """The demo's line naming its store, and the ``MLFLOW_TRACKING_URI`` it ignores when one is set."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    ignored = f"; MLFLOW_TRACKING_URI={env} in the environment is ignored" if env and env != uri else ""
    return f"demo: MLflow store {uri} (the demo's own{ignored})"


def run_step(args: list[str], *, json_out: bool = False) -> dict | None:
    """Run one ``anticipate`` command, echo it, and exit with its code when it fails.

    ``MLFLOW_TRACKING_URI`` is left out of the command's environment: the demo names its store itself."""
    cmd = [*_anticipate(), *args, *(["--json"] if json_out else [])]
    print(f"\n$ anticipate {shlex.join(args)}", flush=True)
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    proc = subprocess.run(cmd, stdout=subprocess.PIPE if json_out else None, text=True, check=False, env=env)
    if proc.returncode != 0:
        print(f"demo: step failed with exit code {proc.returncode}", file=sys.stderr)
        sys.exit(proc.returncode)
    print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
    return json.loads(proc.stdout) if json_out else None


FAST_CONFIG = """\
# written by `python -m anticipate.demo --fast`: fewer training windows and trees than the defaults
model:
  train_windows: 4
  classifier: {n_estimators: 150, learning_rate: 0.1}
  regressor: {n_estimators: 80, learning_rate: 0.1}
"""


def main(argv: list[str] | None = None) -> None:
    """Run sample -> ingest -> train -> evaluate -> promote -> forecast -> allocate -> backtest."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="out/demo", help="working directory for outputs")
    parser.add_argument("--fast", action="store_true",
                        help="train on 4 windows with 150/80 trees (minutes less; other numbers)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = demo_store()
    print(store_line(store), flush=True)
    config: list[str] = []
    if args.fast:
        (out / "fast.yaml").write_text(FAST_CONFIG)
        config = ["--config", str(out / "fast.yaml")]
    sample = Path("data/sample")
    if not (sample / "orders.parquet").is_file():
        run_step(["sample", "--out", str(sample), "--seed", "7"])
    data = out / "data"
    shutil.rmtree(data, ignore_errors=True)
    ingest = run_step(["ingest", *_sample_sources(sample), "--out", str(data)], json_out=True)
    assert ingest is not None
    counts = ingest["counts"]
    print(f"  ingest: {counts['rows_in']:,} rows in = {counts['rows_accepted']:,} accepted "
          f"+ {counts['rows_rejected']:,} rejected")
    for step in _pipeline_steps(data, out):
        run_step([*step, *config, "--tracking-uri", store])
    print(f"\n{headline(out / 'backtest' / 'summary.json')}")


def headline(summary_path: Path) -> str:
    """The demo's last line, from the backtest's ``summary.json`` (overall mean over the cutoffs)."""
    overall = json.loads(Path(summary_path).read_text())["overall"]
    share = overall["value_captured"]
    naive = overall.get("naive.value_captured")
    versus = f" (the naive last-4-weeks plan: {naive:.0%})" if naive is not None else ""
    return f"pre-positioning captured {share:.0%} of the value that perfect foresight would have{versus}"


def _sample_sources(sample: Path) -> list[str]:
    args = []
    for table in ("orders", "products", "regions", "warehouses", "supply"):
        path = sample / f"{table}.parquet"
        if path.is_file():
            args += [f"--{table}", str(path)]
    return args


def _pipeline_steps(data: Path, out: Path) -> list[list[str]]:
    """Train, evaluate, promote, plan tonight and backtest four weeks of the last quarter.

    The steps read ``data/sample`` itself (not the ingested copy) because its
    ``latent/`` state lets ``evaluate`` and ``backtest`` report the truth beside the model.
    """
    del data
    d = ["--data", "data/sample"]
    return [
        ["train", *d],
        ["evaluate", *d],
        ["promote", "latest", "--alias", "production"],
        ["allocate", *d, "--date", "2025-12-31"],
        ["backtest", *d, "--cutoffs", ",".join(BACKTEST_CUTOFFS), "--out", str(out / "backtest")],
    ]


BACKTEST_CUTOFFS = ("2025-11-24", "2025-12-01", "2025-12-08", "2025-12-15")


if __name__ == "__main__":
    main()
