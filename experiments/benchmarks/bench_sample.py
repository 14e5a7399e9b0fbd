"""Sample generation at ~10M order lines (target <= 120 s, <= 4 GB peak).

The timed part is ``generate_world`` alone (every table in memory, latent state
included). The world is then written to ``workdir/world10m`` when that is missing or
stale, for the ingest and features benchmarks to reuse.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def generate_10m(workdir: Path) -> dict:
    from _worlds import BIG, BIG_DIR, big_world_is_current, write_big_world

    from anticipate.sample import generate_world

    started = time.perf_counter()
    tables, latent = generate_world(BIG)
    seconds = time.perf_counter() - started
    target = Path(workdir) / BIG_DIR
    if not big_world_is_current(target):
        write_big_world(target, tables, latent)
    return {"seconds": seconds, "order_lines": len(tables["orders"]), "customers": BIG.customers,
            "skus": BIG.skus, "lines_per_s": round(len(tables["orders"]) / seconds),
            "target_seconds": 120, "target_peak_mb": 4096}


CASES = {"generate_10m": generate_10m}
