"""Hypothesis strategies shared by the tests: small random canonical order logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

START = pd.Timestamp("2025-01-01")


@st.composite
def order_logs(draw: st.DrawFn, max_lines: int = 60) -> pd.DataFrame:
    """A canonical orders frame: a few customers, SKUs and regions over ~120 days."""
    n = draw(st.integers(1, max_lines))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_orders = max(1, n // 2)
    order = rng.integers(0, n_orders, n)
    order_cust = rng.integers(0, 5, n_orders)
    order_minute = rng.integers(0, 120 * 24 * 60, n_orders)
    order_minute[rng.random(n_orders) < 0.1] = order_minute[0]  # some simultaneous orders
    return pd.DataFrame(
        {
            "order_id": [f"O{o}" for o in order],
            "customer_id": [f"C{c}" for c in order_cust[order]],
            "order_ts": START + pd.to_timedelta(order_minute[order], unit="min"),
            "sku": [f"S{s}" for s in rng.integers(0, 4, n)],
            "quantity": rng.integers(1, 4, n).astype(np.int64),
            "unit_price": rng.uniform(1, 50, n).round(2),
            "region": [f"R{r}" for r in rng.integers(0, 3, n)],
        }
    )


cutoffs = st.integers(1, 125).map(lambda d: START + pd.Timedelta(days=d))
