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


def _curvature_chunk_py(
    rho: np.ndarray,
    cell_w: np.ndarray,
    sku_ptr: np.ndarray,
    vol: np.ndarray,
    nu: np.ndarray,
    s0: int,
    s1: int,
    diag: np.ndarray,
    cross: np.ndarray,
    nz: np.ndarray,
) -> None:
    """Add SKUs ``s0:s1``'s share of ``D`` to ``diag`` and of ``A`` to ``cross``.

    Only cells with ``rho > 0`` enter, so a SKU costs the square of its cells near the
    threshold; ``nz`` is scratch of the largest SKU's cell count.
    """
    for s in range(s0, s1):
        v2 = vol[s] * vol[s]
        n, total = 0, 0.0
        for c in range(sku_ptr[s], sku_ptr[s + 1]):
            if rho[c] > 0.0:
                diag[cell_w[c]] += v2 * rho[c]
                total += rho[c]
                nz[n] = c
                n += 1
        if nu[s] <= 0.0 or n == 0:
            continue
        coef = v2 / total
        for i in range(n):
            ci = nz[i]
            wi, ri = cell_w[ci], coef * rho[ci]
            for j in range(n):
                cross[wi, cell_w[nz[j]]] += ri * rho[nz[j]]


_curvature_chunk = njit(cache=True, nogil=True)(_curvature_chunk_py)

CHUNKS = 16  # SKU chunks of the curvature sums: a fixed number, so the sums do not depend on threads


def _curvature_body(
    rho: np.ndarray, cell_w: np.ndarray, sku_ptr: np.ndarray, vol: np.ndarray, nu: np.ndarray, n_wh: int
) -> tuple[np.ndarray, np.ndarray]:
    """(``D`` per warehouse, ``A`` warehouse x warehouse) of the model, from the densities ``rho``.

    SKUs are cut into ``CHUNKS`` contiguous chunks summed in parallel (``prange``), each
    into its own arrays; the chunks are then added in order.
    """
    n_sku = sku_ptr.shape[0] - 1
    widest = 0
    for s in range(n_sku):
        widest = max(widest, sku_ptr[s + 1] - sku_ptr[s])
    diag = np.zeros((CHUNKS, n_wh))
    cross = np.zeros((CHUNKS, n_wh, n_wh))
    nz = np.empty((CHUNKS, max(widest, 1)), dtype=np.int64)
    for k in prange(CHUNKS):
        s0, s1 = n_sku * k // CHUNKS, n_sku * (k + 1) // CHUNKS
        _curvature_chunk(rho, cell_w, sku_ptr, vol, nu, s0, s1, diag[k], cross[k], nz[k])
    for k in range(1, CHUNKS):
        diag[0] += diag[k]
        cross[0] += cross[k]
    return diag[0].copy(), cross[0].copy()


_curvature_jit = njit(cache=True, nogil=True, parallel=True)(_curvature_body)


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
    """(``D`` per warehouse, ``A`` warehouse x warehouse) of the Newton model, see :func:`_curvature_body`."""
    return (_curvature_jit if jit else _curvature_body)(rho, cell_w, sku_ptr, vol, nu, n_wh)
