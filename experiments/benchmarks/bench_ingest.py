"""Benchmark: ``anticipate ingest`` of a seeded 10-million-line orders CSV.

Targets (issue): >= 1,000,000 lines/s and <= 2 GB peak RSS on 2 cores. The CSV
(about 600 MB) is generated once into the work directory and reused. It is
realistically messy: 0.1% exact duplicate lines, 0.05% returns (negative
quantity), 0.01% unparseable dates and 0.01% NaN prices, all of which must be
rejected (0.17% in all, under the default ingest.max_reject_share of 1%).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

LINES = 10_000_000
BLOCK = 1_000_000
SEED = 20_260_101
HEADER = "order_id,customer_id,order_ts,sku,quantity,unit_price,region\n"


def _block(rng: np.random.Generator, start: int, n: int) -> str:
    """``n`` CSV lines (orders ``start``..) with the messiness described in the module docstring."""
    base = np.datetime64("2023-01-01T00:00:00") + np.int64(start) * 6  # 6 s per line on average
    ts = base + np.sort(rng.integers(0, n * 6, n)).astype("timedelta64[s]")
    stamps = np.datetime_as_string(ts, unit="s").astype(object)
    qty = rng.integers(1, 5, n).astype(object)
    price = np.char.mod("%.2f", np.round(rng.uniform(0.5, 200.0, n), 2)).astype(object)
    qty[rng.random(n) < 0.0005] = "-1"
    stamps[rng.random(n) < 0.0001] = "not a date"
    price[rng.random(n) < 0.0001] = "NaN"
    cust = rng.integers(0, 400_000, n)
    sku = rng.integers(0, 20_000, n)
    region = rng.integers(0, 50, n)
    oid = (start + np.arange(n)) // 3
    lines = [f"O{o},C{c},{t},S{s},{q},{p},R{r}" for o, c, t, s, q, p, r in
             zip(oid, cust, stamps, sku, qty, price, region, strict=True)]
    dup = np.flatnonzero(rng.random(n) < 0.001)
    for i in dup[dup > 0]:
        lines[i] = lines[i - 1]
    return "\n".join(lines) + "\n"


def make_csv(path: Path, lines: int = LINES, seed: int = SEED) -> Path:
    """Write the seeded CSV to ``path`` once (atomically); reuse it when present."""
    if path.is_file():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        fh.write(HEADER)
        for start in range(0, lines, BLOCK):
            fh.write(_block(rng, start, min(BLOCK, lines - start)))
    os.replace(tmp, path)
    return path


def csv_10m(work: Path) -> dict:
    """Ingest the 10M-line CSV; report lines/s and the nothing-lost counts."""
    from anticipate.config import Config
    from anticipate.pipelines import Settings
    from anticipate.pipelines.ingest import run_ingest

    src = make_csv(work / "ingest_orders_10m.csv")
    out = work / "ingest_out"
    shutil.rmtree(out, ignore_errors=True)
    settings = Settings(cfg=Config(), data_dir=out, tracking_uri="", progress=False)
    warm = work / "ingest_warm.csv"  # untimed: loads (or, after an edit, compiles) the Numba kernels
    with open(src) as fh, open(warm, "w") as w:
        w.writelines(line for _, line in zip(range(2001), fh, strict=False))
    run_ingest(settings, {"orders": warm}, work / "ingest_warm_out")
    shutil.rmtree(work / "ingest_warm_out", ignore_errors=True)
    started = time.perf_counter()
    result = run_ingest(settings, {"orders": src}, out)
    seconds = time.perf_counter() - started
    c = result.counts
    assert c["rows_in"] == c["rows_accepted"] + c["rows_rejected"] == LINES
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "lines": LINES, "lines_per_s": round(LINES / seconds),
            "target_lines_per_s": 1_000_000, "target_peak_rss_mb": 2048,
            "rows_rejected": c["rows_rejected"], "csv_mb": round(src.stat().st_size / 2**20)}


CASES = {"csv_10m": csv_10m}
