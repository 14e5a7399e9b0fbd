"""The backtest replay kernel (Numba) and its plain-Python twin (``jit=False``)."""

from __future__ import annotations

import numpy as np
from numba import njit


def _replay_body(
    line_w: np.ndarray, line_s: np.ndarray, qty: np.ndarray, stock: np.ndarray, local: np.ndarray
) -> None:
    """Serve lines in the given (time) order from ``stock[w, s]``; write local units per line.

    A line whose warehouse is -1 (served by the centre) or out of stock gets 0 local
    units; a line larger than the remaining stock is served partly (the rest ships
    from the centre). ``stock`` is decremented in place.
    """
    for i in range(line_w.shape[0]):
        w = line_w[i]
        if w < 0:
            local[i] = 0
            continue
        s = line_s[i]
        take = min(qty[i], stock[w, s])
        stock[w, s] -= take
        local[i] = take


_replay_jit = njit(cache=True, nogil=True)(_replay_body)


def replay_lines(
    line_w: np.ndarray, line_s: np.ndarray, qty: np.ndarray, stock: np.ndarray, *, jit: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Run the replay; returns (local units per line, stock left per cell). Inputs are not changed."""
    left = np.ascontiguousarray(stock, dtype=np.int64).copy()
    local = np.zeros(line_w.shape[0], dtype=np.int64)
    args = (
        np.ascontiguousarray(line_w, dtype=np.int64),
        np.ascontiguousarray(line_s, dtype=np.int64),
        np.ascontiguousarray(qty, dtype=np.int64),
        left,
        local,
    )
    (_replay_jit if jit else _replay_body)(*args)
    return local, left
