"""``anticipate features`` side by side with an independent polars implementation, as whole processes.

The peer (``polars_features.py``: the same candidate pairs and feature columns written as one
lazy polars query) is looked up at ``<repo>/../shared/peers/features_polars/`` or in the
directory named by ``ANTICIPATE_PEER_DIR``, and runs in its own virtual environment, created
here once under ``_work/peer_venv`` (``python -m venv`` + ``pip install polars pyarrow numpy
scipy``). When the peer or its environment is missing, the row still measures ours and says
why the peer side was skipped (the bench never fails for it).

Cases (protocol of ``run.py``; one repetition each, the case alternates its own runs):

* ``peer_features_1m``: a ~1M-line world, generated once into ``_work/world1m`` from a smaller
  :class:`SampleConfig` than the 10M world (a tenth of its customers, everything else equal;
  its own fingerprint file);
* ``peer_features_10m``: the 10M-line world of ``_worlds.ensure_big_world``;
* ``peer_features_cj``: The Complete Journey's 1.46 M real lines (converted and ingested once
  into ``_work/peer/cj_log``, as the ``real`` bench does): a log our generator did not make.

Protocol: one uncounted warm-up run each (fills Numba's cache), then ``RUNS`` runs of each,
alternated (ours, peer, ours, peer, ...). Each run is a child process timed from spawn to exit
under ``experiments/child_cost.py``'s small launcher, whose ``os.wait4`` gives the child's own user and
system CPU seconds and peak RSS (a child of this process would report at least this process's peak,
which holds the worlds' timestamps and both outputs for the comparison). The row holds the medians,
the ratio peer wall / our wall, the system share of our CPU, the targets (>= 2x faster than the
peer, peak <= the peer's, system <= 15 % of CPU) with ``met``, a comparison of the shared columns
of both outputs (``outputs``: never fails the bench) and the load average before and after.
``seconds`` is our median wall time.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from child_cost import run_measured  # the child's own peak, not this process's

from anticipate.config import SampleConfig

ROOT = Path(__file__).resolve().parents[2]
PEER_ENV = "ANTICIPATE_PEER_DIR"
PEER_SCRIPT = "polars_features.py"
PEER_PACKAGES = ("polars", "pyarrow", "numpy", "scipy")
CUTOFF_OFFSET_DAYS = 7  # cutoff = the day after the last order minus a week (as bench_features)
RUNS = 3
REPEAT = 1  # run.py: the cases alternate their own RUNS runs
MID = SampleConfig(
    customers=32_000, skus=20_000, categories=200, regions=200, warehouses=50, days=730, seed=7
)
MID_DIR = "world1m"
FINGERPRINT = "bench_world.json"
TARGETS = {"speedup_min": 2.0, "peak_at_most_peer": True, "system_share_max": 0.15}
KEYS = ["customer_id", "item", "region"]
RTOL = 1e-9


def peer_script() -> Path:
    """Where the peer script is expected (it may be absent)."""
    base = os.environ.get(PEER_ENV) or ROOT.parent / "shared" / "peers" / "features_polars"
    return Path(base) / PEER_SCRIPT


def peer_python(workdir: Path) -> Path:
    """``_work/peer_venv/bin/python`` with the peer's packages, created on first use.

    Raises ``RuntimeError`` (the reason for the row's ``peer_skipped``) when the
    environment cannot be created or the packages cannot be installed.
    """
    venv = Path(workdir) / "peer_venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import " + ", ".join(PEER_PACKAGES)]
    if python.is_file() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    steps = ([sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES])
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(f"`{' '.join(cmd[:4])} ...` failed with exit {done.returncode}: {tail}")
    return python


def ensure_mid_world(workdir: Path) -> Path:
    """``workdir/world1m``: the MID world's tables, generated when absent or stale, then reused."""
    from _worlds import fingerprint

    from anticipate.pipelines.sample import SAMPLE_OUTPUT
    from anticipate.sample import generate_world, write_world
    from anticipate.storage.publish import staging_dir

    target = Path(workdir) / MID_DIR
    marker = target / FINGERPRINT
    if marker.is_file() and json.loads(marker.read_text()).get("fingerprint") == fingerprint(MID):
        return target
    tables, latent = generate_world(MID)
    with staging_dir(target, SAMPLE_OUTPUT.with_names({FINGERPRINT})) as stage:
        write_world(tables, latent, stage)
        (stage / FINGERPRINT).write_text(json.dumps({"fingerprint": fingerprint(MID)}) + "\n")
    return target


def world_facts(world: Path) -> tuple[str, int]:
    """The cutoff (YYYY-MM-DD) and the number of order lines of a world's ``orders.parquet``."""
    ts = pd.read_parquet(world / "orders.parquet", columns=["order_ts"])["order_ts"]
    cutoff = ts.max().normalize() + pd.Timedelta(days=1) - pd.Timedelta(days=CUTOFF_OFFSET_DAYS)
    return cutoff.strftime("%Y-%m-%d"), len(ts)


def measure(cmd: list[str], cwd: Path, log: Path) -> dict:
    """Run ``cmd`` as a child; its wall seconds, own user/system CPU seconds and peak RSS (MiB).

    The child's stdout is discarded and its stderr appended to ``log``; a non-zero exit
    is returned as ``error`` (with the last line of the log), never raised.
    """
    with open(log, "a") as err:
        err.write(f"\n$ {' '.join(cmd)}\n")
        err.flush()
        code, row, _ = run_measured(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
    if code != 0:
        last = (log.read_text().strip().splitlines() or ["no message"])[-1]
        row["error"] = f"exit {code}: {last}"
    return row


def summarise(runs: list[dict]) -> dict:
    """Medians of the runs' wall, user, system, CPU (user + system) and peak; the runs' walls."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[-1]["error"] if runs else "no run"}
    out = {k: round(statistics.median(r[k] for r in ok), 3) for k in ("wall_s", "user_s", "sys_s", "peak_mb")}
    out["cpu_s"] = round(statistics.median(r["user_s"] + r["sys_s"] for r in ok), 3)
    out["wall_runs"] = [round(r["wall_s"], 3) for r in ok]
    if len(ok) < len(runs):
        out["failed_runs"] = [r["error"] for r in runs if "error" in r]
    return out


def _sorted_shared(path: Path, columns: list[str]) -> pd.DataFrame:
    """The table at ``path`` (keys as strings), only ``KEYS + columns``, sorted by the keys."""
    frame = pd.read_parquet(path, columns=KEYS + columns)
    for key in KEYS:
        frame[key] = frame[key].astype(str)
    return frame.sort_values(KEYS, kind="stable").reset_index(drop=True)


def _max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| / max(|a|, |b|) over the elements; inf where exactly one side is NaN."""
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if (nan_a != nan_b).any():
        return float("inf")
    both = ~nan_a
    diff = np.abs(a[both] - b[both])
    scale = np.maximum(np.maximum(np.abs(a[both]), np.abs(b[both])), np.finfo(float).tiny)
    return float((diff / scale).max()) if diff.size else 0.0


def compare_outputs(ours: Path, peer: Path) -> dict:
    """Compare the feature columns both tables share, matched on (customer, item, region).

    ``digest_equal``: the SHA-256 of the shared columns (float64 bytes, key order) is the same
    on both sides (bit for bit); ``max_rel_diff`` per column decides ``match`` (<= RTOL, NaN
    only where the other side is NaN too). Never raises on a difference: it reports it.
    """
    import pyarrow.parquet as pq

    names = [set(pq.read_schema(p).names) for p in (ours, peer)]
    shared = sorted((names[0] & names[1]) - set(KEYS))
    a, b = _sorted_shared(ours, shared), _sorted_shared(peer, shared)
    row: dict = {"pairs_ours": len(a), "pairs_peer": len(b), "shared_columns": len(shared),
                 "only_ours": sorted(names[0] - names[1]), "only_peer": sorted(names[1] - names[0])}
    if len(a) != len(b) or not a[KEYS].equals(b[KEYS]):
        keys = a[KEYS].merge(b[KEYS], how="outer", indicator=True)["_merge"].value_counts()
        return row | {"match": False, "pairs_only_ours": int(keys.get("left_only", 0)),
                      "pairs_only_peer": int(keys.get("right_only", 0))}
    digests = []
    for frame in (a, b):
        h = hashlib.sha256()
        for column in shared:
            h.update(np.ascontiguousarray(frame[column].to_numpy(dtype=float)).tobytes())
        digests.append(h.hexdigest()[:16])
    diffs = {c: _max_rel_diff(a[c].to_numpy(dtype=float), b[c].to_numpy(dtype=float)) for c in shared}
    bad = {c: d for c, d in diffs.items() if d > RTOL}
    return row | {"digest_ours": digests[0], "digest_peer": digests[1],
                  "digest_equal": digests[0] == digests[1],
                  "max_rel_diff": max(diffs.values(), default=0.0), "rtol": RTOL,
                  "mismatched_columns": bad, "match": not bad}


def _peer_command(workdir: Path, world: Path, cutoff: str, out: Path) -> tuple[list[str] | None, dict]:
    """The peer's command line and its facts, or ``None`` and ``{"peer_skipped": why}``."""
    script = peer_script()
    if not script.is_file():
        return None, {"peer_skipped": f"{script} does not exist (set {PEER_ENV} to the peer's directory)"}
    try:
        python = peer_python(workdir)
    except RuntimeError as exc:
        return None, {"peer_skipped": f"no peer environment: {exc}"}
    version = subprocess.run([str(python), "-c", "import polars; print(polars.__version__)"],
                             capture_output=True, text=True, check=False).stdout.strip()
    cmd = [str(python), str(script), "--orders", str(world / "orders.parquet"), "--cutoff", cutoff,
           "--out", str(out)]
    return cmd, {"peer_polars": version}


def _alternate(commands: dict[str, list[str]], outs: dict[str, Path], cwd: Path, log: Path) -> dict:
    """One uncounted warm-up run of each command, then RUNS alternated runs; medians per side."""
    runs: dict[str, list[dict]] = {side: [] for side in commands}
    warm: dict[str, float] = {}
    for i in range(RUNS + 1):
        for side, cmd in commands.items():
            outs[side].unlink(missing_ok=True)
            result = measure(cmd, cwd, log)
            if i == 0:
                warm[side] = round(result["wall_s"], 3)
            else:
                runs[side].append(result)
    return {side: summarise(r) | {"warm_up_wall_s": warm[side]} for side, r in runs.items()}


def _verdict(ours: dict, peer: dict | None) -> dict:
    """Ratio, system share and the targets with met (None where the peer side is missing)."""
    share = ours["sys_s"] / ours["cpu_s"] if ours.get("cpu_s") else None
    ratio = peer["wall_s"] / ours["wall_s"] if peer and "wall_s" in peer and "wall_s" in ours else None
    peak_ok = ours["peak_mb"] <= peer["peak_mb"] if ratio is not None else None
    return {"ratio_peer_over_ours_wall": None if ratio is None else round(ratio, 3),
            "ours_system_share_of_cpu": None if share is None else round(share, 3),
            "targets": TARGETS,
            "met": {"speedup": None if ratio is None else ratio >= TARGETS["speedup_min"],
                    "peak_at_most_peer": peak_ok,
                    "system_share": None if share is None else share <= TARGETS["system_share_max"]}}


def features_vs_peer(workdir: Path, world: Path, label: str) -> dict:
    """The side-by-side row for ``world`` (scratch files under ``workdir/peer/<label>``)."""
    cutoff, lines = world_facts(world)
    scratch = Path(workdir) / "peer" / label
    scratch.mkdir(parents=True, exist_ok=True)
    log = scratch / "children.log"
    log.write_text("")
    outs = {"ours": scratch / "ours.parquet", "peer": scratch / "peer.parquet"}
    commands = {"ours": [sys.executable, "-m", "anticipate", "--data", str(world), "features",
                         "--cutoff", cutoff, "--out", str(outs["ours"])]}
    peer_cmd, facts = _peer_command(workdir, world, cutoff, outs["peer"])
    if peer_cmd is not None:
        commands["peer"] = peer_cmd
    load_before = os.getloadavg()[0]
    sides = _alternate(commands, outs, scratch, log)
    load_after = os.getloadavg()[0]
    ours, peer = sides["ours"], sides.get("peer")
    if "error" in ours:
        raise RuntimeError(f"anticipate features failed: {ours['error']}")
    row = {"seconds": ours["wall_s"], "world": world.name, "order_lines": lines, "cutoff": cutoff,
           "runs_each": RUNS, "ours": ours, "peer": peer, **facts, **_verdict(ours, peer)}
    if peer is not None and "error" not in peer and outs["peer"].is_file():
        row["outputs"] = compare_outputs(outs["ours"], outs["peer"])
        row["pairs"] = row["outputs"]["pairs_ours"]
    row["load_1min"] = {"before": round(load_before, 2), "after": round(load_after, 2),
                        "cpus": os.cpu_count()}
    row["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return row


def peer_features_1m(workdir: Path) -> dict:
    """Ours vs the peer on the ~1M-line MID world."""
    return features_vs_peer(workdir, ensure_mid_world(workdir), "1m")


def peer_features_10m(workdir: Path) -> dict:
    """Ours vs the peer on the ~10M-line benchmark world."""
    from _worlds import ensure_big_world

    return features_vs_peer(workdir, ensure_big_world(workdir), "10m")


def peer_features_cj(workdir: Path) -> dict:
    """Ours vs the peer on The Complete Journey (1.46 M real order lines; a log we did not generate).

    The log is converted and ingested into ``_work/peer/cj_log`` once (as the ``real`` bench does),
    then reused; the cutoff is a week before its end, as for the synthetic worlds.
    """
    from bench_real import ingest_real

    data = Path(workdir) / "peer" / "cj_log"
    if not (data / "data" / "orders.parquet").is_file():
        ingest_real(data)
    return features_vs_peer(workdir, data / "data", "cj")


CASES = {"peer_features_1m": peer_features_1m, "peer_features_10m": peer_features_10m,
         "peer_features_cj": peer_features_cj}
