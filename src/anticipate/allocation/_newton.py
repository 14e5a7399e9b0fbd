"""The smoothed Newton model of the dual: how warehouse volumes answer a change of capacity prices.

Layout as in :mod:`._kernels`. ``L(lam)`` is piecewise linear, but with many cells its
kinks are dense, so near the best response it behaves like a smooth function whose
curvature is the density of units at each cell's threshold ``t_c = lam_w v_s + nu_s``:
a cell gains or loses about ``rho_c`` units per unit of change in ``t_c``. A SKU whose
supply binds keeps its count, so its supply price moves to compensate, and a unit it
loses in one warehouse reappears in another; a SKU whose supply does not bind just
loses units. Linearising both gives ``d used / d lam = -(D - A)``, with

    D_w  = sum over cells c of w of  v_s^2 rho_c
    A_ww' = sum over supply-bound SKUs s of  v_s^2 rho_ws rho_w's / sum_w'' rho_w''s

(``D - A`` is positive semi-definite: per SKU it is a weighted Laplacian). The
solver's Newton step solves ``(D - A) d = -(Cap - used)`` on the active warehouses.
Densities come from counting units within a bandwidth ``h`` (currency) of the
threshold. Plain bodies ``_name_body``, compiled twins ``_name_jit``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from threadpoolctl import threadpool_limits


def _density_body(
    lam: np.ndarray,
    nu: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    cell_s: np.ndarray,
    vol: np.ndarray,
    supply: np.ndarray,
    x: np.ndarray,
    h: float,
    rho: np.ndarray,
) -> None:
    """``rho[c]``: the units of cell ``c`` with ``|m - t_c| < h``, per unit of value (count / 2h).

    ``x`` is the best response at ``(lam, nu)``, so a cell's units above its threshold
    are its first ``x[c]``: the count scans outwards from there. SKUs without supply
    get 0 (they can take nothing, whatever the prices).
    """
    for c in prange(x.shape[0]):
        s = cell_s[c]
        if supply[s] <= 0:
            rho[c] = 0.0
            continue
        t = lam[cell_w[c]] * vol[s] + nu[s]
        lo, hi = cell_ptr[c], cell_ptr[c + 1]
        n = 0
        k = lo + x[c] - 1
        while k >= lo and val[k] < t + h:
            n += 1
            k -= 1
        k = lo + x[c]
        while k < hi and val[k] > t - h:
            n += 1
            k += 1
        rho[c] = n / (2.0 * h)


_density_jit = njit(cache=True, nogil=True, parallel=True)(_density_body)


def _curvature_prep_body(
    rho: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray, vol: np.ndarray, nu: np.ndarray, n_wh: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``D`` per warehouse, weight per SKU, the SKUs that enter ``A``) from the densities ``rho``.

    A SKU enters ``A`` when its supply binds (``nu > 0``) and some cell has ``rho > 0``;
    its weight is ``v_s / sqrt(sum_c rho_c)``, so its share of ``A`` is the outer
    product of its row ``weight * rho_ws`` with itself. Serial: the sums do not depend on threads.
    """
    n_sku = sku_ptr.shape[0] - 1
    diag = np.zeros(n_wh)
    weight = np.zeros(n_sku)
    keep = np.empty(n_sku, dtype=np.int64)
    n_keep = 0
    for s in range(n_sku):
        v2 = vol[s] * vol[s]
        total = 0.0
        for c in range(sku_ptr[s], sku_ptr[s + 1]):
            if rho[c] > 0.0:
                diag[cell_w[c]] += v2 * rho[c]
                total += rho[c]
        if nu[s] > 0.0 and total > 0.0:
            weight[s] = vol[s] / np.sqrt(total)
            keep[n_keep] = s
            n_keep += 1
    return diag, weight, keep[:n_keep].copy()


_curvature_prep_jit = njit(cache=True, nogil=True)(_curvature_prep_body)


def _curvature_rows_body(
    rho: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray, weight: np.ndarray, skus: np.ndarray,
    rows: np.ndarray,
) -> None:
    """``rows[i, w]``: SKU ``skus[i]``'s weight times its density in warehouse ``w`` (one row per SKU)."""
    for i in prange(skus.shape[0]):
        s = skus[i]
        rows[i, :] = 0.0
        for c in range(sku_ptr[s], sku_ptr[s + 1]):
            if rho[c] > 0.0:
                rows[i, cell_w[c]] += weight[s] * rho[c]


_curvature_rows_jit = njit(cache=True, nogil=True, parallel=True)(_curvature_rows_body)

ROWS = 4096  # SKUs per block of the cross term's product: a fixed cut, so sums do not depend on threads


def density(
    lam: np.ndarray,
    nu: np.ndarray,
    val: np.ndarray,
    cell_ptr: np.ndarray,
    cell_w: np.ndarray,
    cell_s: np.ndarray,
    vol: np.ndarray,
    supply: np.ndarray,
    x: np.ndarray,
    h: float,
    *,
    jit: bool = True,
) -> np.ndarray:
    """Units per currency near each cell's threshold, within bandwidth ``h`` (see :func:`_density_body`)."""
    rho = np.empty(x.shape[0])
    (_density_jit if jit else _density_body)(lam, nu, val, cell_ptr, cell_w, cell_s, vol, supply, x, h, rho)
    return rho


def curvature(
    rho: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray, vol: np.ndarray, nu: np.ndarray, n_wh: int,
    *, jit: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(``D`` per warehouse, ``A`` warehouse x warehouse) of the Newton model (volume^2 per currency).

    ``A`` is ``R^T R`` over the rows ``R`` of the supply-bound SKUs
    (:func:`_curvature_rows_body`), summed in blocks of ``ROWS`` SKUs by one-thread
    BLAS products: a SKU costs a row, not the square of its cells near the threshold,
    and the sums are the same whatever the machine's core count.
    """
    prep = _curvature_prep_jit if jit else _curvature_prep_body
    fill = _curvature_rows_jit if jit else _curvature_rows_body
    diag, weight, keep = prep(rho, cell_w, sku_ptr, vol, nu, n_wh)
    cross = np.zeros((n_wh, n_wh))
    rows = np.empty((min(ROWS, len(keep)), n_wh))
    with threadpool_limits(1, user_api="blas"):
        for lo in range(0, len(keep), ROWS):
            block = rows[: min(ROWS, len(keep) - lo)]
            fill(rho, cell_w, sku_ptr, weight, keep[lo : lo + ROWS], block)
            cross += block.T @ block
    return diag, cross


GUESS_BINS = 1024  # log-spaced bins of value per volume below each warehouse's ceiling (1.35% apart)
GUESS_RANGE = 1e6  # the bins span ceiling / GUESS_RANGE .. ceiling; lower values share the last bin
GUESS_CHUNKS = 4  # SKU chunks binned in parallel, each into its own histogram, added in order


def _guess_bins_body(
    x: np.ndarray, val: np.ndarray, cell_ptr: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray,
    vol: np.ndarray, ceiling: np.ndarray, hist: np.ndarray,
) -> None:
    """``hist[k, w, b]``: volume of chunk ``k``'s taken units in warehouse ``w`` with ``m / v`` in bin ``b``.

    Bin ``b`` holds ``m / v`` in ``ceiling_w * GUESS_RANGE^(-(b + 1) / GUESS_BINS)`` up to the
    next bin's edge (bin 0 reaches the ceiling). One pass over the taken units, in memory order.
    """
    n_sku = sku_ptr.shape[0] - 1
    scale = GUESS_BINS / np.log(GUESS_RANGE)
    for k in prange(GUESS_CHUNKS):
        hist[k] = 0.0
        for s in range(n_sku * k // GUESS_CHUNKS, n_sku * (k + 1) // GUESS_CHUNKS):
            v = vol[s]
            for c in range(sku_ptr[s], sku_ptr[s + 1]):
                w = cell_w[c]
                if x[c] == 0:
                    continue
                top = np.log(ceiling[w] * v)
                for j in range(cell_ptr[c], cell_ptr[c] + x[c]):
                    b = int((top - np.log(val[j])) * scale) if val[j] > 0.0 else GUESS_BINS - 1
                    hist[k, w, min(max(b, 0), GUESS_BINS - 1)] += v


_guess_bins_jit = njit(cache=True, nogil=True, parallel=True)(_guess_bins_body)


def price_guess(
    x: np.ndarray, val: np.ndarray, cell_ptr: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray,
    vol: np.ndarray, cap: np.ndarray, ceiling: np.ndarray, *, jit: bool = True,
) -> np.ndarray:
    """Per warehouse, a first capacity price (currency per volume): where its taken units just fit.

    ``x`` is the best response at zero prices; each over-full warehouse keeps the units
    with ``m / v`` above the estimate, as if no unit moved elsewhere and no supply bound:
    a scale for the first prices, where the local Newton model can be off by orders of
    magnitude. The estimate is the lower edge of the bin (:func:`_guess_bins_body`) where
    the volume from the top passes the capacity (0 where everything fits).
    """
    hist = np.empty((GUESS_CHUNKS, cap.shape[0], GUESS_BINS))
    (_guess_bins_jit if jit else _guess_bins_body)(x, val, cell_ptr, cell_w, sku_ptr, vol, ceiling, hist)
    total = hist[0]
    for k in range(1, GUESS_CHUNKS):
        total += hist[k]
    over = np.cumsum(total, axis=1) > cap[:, None]
    first = np.argmax(over, axis=1)
    edge = ceiling * GUESS_RANGE ** (-(first + 1.0) / GUESS_BINS)
    return np.where(over[:, -1] & (ceiling > 0), edge, 0.0)
