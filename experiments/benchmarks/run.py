"""Benchmark harness: ``make bench`` runs every ``bench_*.py`` here and writes results.json.

Each benchmark module defines ``CASES: dict[str, Callable[[Path], dict]]``. A case
receives a scratch directory (``experiments/benchmarks/_work/``, reused across
cases so big inputs are generated once) and returns a dict of measurements; it
must include ``seconds`` (the timed part only) and may add anything else
(``target_seconds``, ``lines_per_s``, ``gap`` ...). Every repetition runs in a
fresh subprocess so its peak RSS (``peak_rss_mb``) is its own; the table reports
the median seconds over ``--repeat`` runs and the largest peak RSS. A module may
set ``REPEAT`` (at most that many repetitions: its cases repeat over seeds inside)
and ``TIMEOUTS`` (seconds per case, beyond ``--timeout``). A row with a
``families`` or ``lp_check`` dict (:mod:`bench_families`) also prints one line per family.

Usage::

    python experiments/benchmarks/run.py                 # all cases, 3 repetitions
    python experiments/benchmarks/run.py -k allocation   # cases whose name contains it
    python experiments/benchmarks/run.py --repeat 1 --list
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
RESULTS = HERE / "results.json"


def _modules() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _all_cases() -> list[tuple[Path, str]]:
    return [(path, name) for path in _modules() for name in _load(path).CASES]


def _run_one(path: Path, name: str) -> dict:
    """Child mode: run one case, print its JSON row with our own peak RSS."""
    WORK.mkdir(parents=True, exist_ok=True)
    row = dict(_load(path).CASES[name](WORK))
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return row


def _spawn(path: Path, name: str, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path), name]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _summarise(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[-1].get("error", "failed")}
    # the other fields (lines/s, gap, ...) of the median run, so that they agree with its seconds (they
    # were the last run's: ingest printed 7.48 s beside the 7.11 s run's 1.41 M lines/s)
    row = dict(sorted(ok, key=lambda r: r["seconds"])[(len(ok) - 1) // 2])
    row["seconds"] = statistics.median(r["seconds"] for r in ok)
    row["seconds_runs"] = [round(r["seconds"], 4) for r in ok]
    row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    return row


def _print_families(families: dict) -> None:
    """One line per instance family: build / solve seconds, best responses, gap, objective / LP per seed."""
    def fmt(values: list, spec: str) -> str:
        return " ".join(format(v, spec) for v in values)

    for family, f in families.items():
        lp = f" obj/LP {fmt(f['objective_over_lp'], '.6f')}" if "objective_over_lp" in f else ""
        print(f"    {family:14} build {fmt(f['build_seconds'], '.2f')} s"
              f" | solve {fmt(f['solve_seconds'], '.2f')} s | best responses {fmt(f['iterations'], 'd')}"
              f" | gap {fmt(f['gap'], '.1e')}{lp}"
              f" | load {fmt(f['load_1min'], '.1f')}")


def _print_lp_check(rows: dict) -> None:
    """One line per family of the HiGHS LP check: objective / LP, bound / LP, HiGHS seconds."""
    for family, r in rows.items():
        if "error" in r:
            print(f"    {family:14} ERROR {r['error']}")
            continue
        if "objective_over_lp" not in r:
            print(f"    {family:14} HiGHS unfinished after {r['highs_unfinished_after_seconds']:.0f} s")
            continue
        print(f"    {family:14} obj/LP {r['objective_over_lp']:.7f} | bound/LP {r['bound_over_lp']:.7f}"
              f" | gap {r['gap']:.1e} | HiGHS {r['highs_seconds']:.0f} s | load {r['load_1min']:.1f}")


def _print_table(results: dict) -> None:
    print(f"{'case':48} {'seconds':>10} {'peak MB':>9}  notes")
    for name, row in results.items():
        if "error" in row:
            print(f"{name:48} {'ERROR':>10} {'':>9}  {row['error']}")
            continue
        notes = ", ".join(f"{k}={v}" for k, v in row.items()
                          if k not in {"seconds", "peak_rss_mb", "seconds_runs", "families", "lp_check"})
        peak = row.get("peak_rss_mb", float("nan"))  # rows measured by their own children carry none
        print(f"{name:48} {row['seconds']:10.3f} {peak:9.0f}  {notes}")
        if "families" in row:
            _print_families(row["families"])
        if "lp_check" in row:
            _print_lp_check(row["lp_check"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-k", action="append", default=[],
                        help="only cases whose 'module:case' contains this (repeat it: any of them)")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "3")))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per repetition")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("MODULE", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_run_one(Path(args.child[0]), args.child[1]), default=float))
        return
    cases = [(p, n) for p, n in _all_cases() if any(k in f"{p.stem}:{n}" for k in args.k or [""])]
    if args.list:
        for path, name in cases:
            print(f"{path.stem}:{name}")
        return
    previous = json.loads(RESULTS.read_text())["results"] if RESULTS.is_file() else {}
    results = dict(previous)
    for path, name in cases:
        key = f"{path.stem.removeprefix('bench_')}:{name}"
        module = _load(path)
        repeat = min(args.repeat, getattr(module, "REPEAT", args.repeat))
        timeout = max(args.timeout, getattr(module, "TIMEOUTS", {}).get(name, 0.0))
        print(f"running {key} x{repeat} ...", file=sys.stderr, flush=True)
        results[key] = _summarise([_spawn(path, name, timeout) for _ in range(repeat)])
    doc = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "results": results,
    }
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS)
    _print_table({k: results[k] for k in results})


if __name__ == "__main__":
    main()
