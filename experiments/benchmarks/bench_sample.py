"""Sample generation at ~10M order lines (target <= 120 s, <= 4 GB peak)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def generate_10m(workdir: Path) -> dict:
    from _worlds import BIG

    from anticipate.sample import generate_world

    started = time.perf_counter()
    tables, _ = generate_world(BIG)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "order_lines": len(tables["orders"]), "target_seconds": 120,
            "target_peak_mb": 4096}


CASES = {"generate_10m": generate_10m}
