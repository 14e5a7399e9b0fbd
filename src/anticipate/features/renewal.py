"""Renewal-cycle features: how overdue a customer's next purchase of an item is.

Each pair's gaps between orders of the item are pooled per item into a mean gap and
a weighted mean of the pairs' squared gap CVs (as additive sums, so Dask partitions can be
added up), and the pair's next gap is modelled as Gamma-distributed around its own
mean shrunk towards the item's; the hazard is the chance that the next order falls
in the next ``RENEWAL_WINDOW_DAYS`` days given the days already elapsed. Pure numpy
and scipy over arrays; every input is from order lines before the cutoff.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

RENEWAL_WINDOW_DAYS = 7.0
MIN_GAP_CV2 = 0.01  # the Gamma shape is at most 100
_TAIL_BLOCK = 16_384  # rows per block of the tail quadrature (a 16,384 x 24 float scratch)


GAP_SUMS = ("gap_n", "gap_span", "gap_w", "gap_wcv2")
#: The feature columns :func:`renewal_columns` returns.
RENEWAL_COLUMNS = ("item_gap_mean_days", "item_gap_cv", "ci_renewal_hazard_7d", "ci_lapse_ratio")


def pooled_gaps(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """From the per-item gap sums (:func:`~anticipate.features._gaps.item_gap_sums`): the pooled gaps.

    Per item the pooled mean gap (days) and CV^2; the all-item CV^2.

    The CV^2 is the mean of the pairs' squared CVs weighted by ``n - 2`` (not the CV of
    the pooled gaps); ``item_gap_cv`` is its root. NaN where no pair qualifies; the
    all-item CV^2 is 1 (exponential gaps) when none does.
    """
    g, span, w, wcv2 = sums.T
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(g > 0, span / g, np.nan)
        cv2 = np.where(w > 0, wcv2 / w, np.nan)
    overall = float(wcv2.sum() / w.sum()) if w.sum() > 0 else 1.0
    return mean, cv2, overall


def tail_start(shape: np.ndarray) -> np.ndarray:
    """Scaled age ``age * shape / mean_gap`` past which the hazard reads the log-survival tail form.

    Well past the mean (three standard deviations and five scale units), where the
    survival may underflow but the tail integrand of :func:`log_survival_tail` is smooth.
    """
    return shape + 3.0 * np.sqrt(shape) + 5.0


def log_survival_tail(shape: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``log Q(shape, x)`` (regularised upper incomplete gamma) for ``x >= tail_start(shape)``, no underflow.

    ``Q(k, x) = x^(k-1) e^(-x) / Gamma(k) * J`` with ``J = int_0^inf (1 + u/x)^(k-1) e^(-u) du``,
    and ``J`` by 24-point Gauss-Laguerre quadrature (its integrand is smooth and
    bounded past the mean).
    """
    from numpy.polynomial.laguerre import laggauss
    from scipy.special import gammaln

    nodes, weights = laggauss(24)
    k, x = np.asarray(shape, dtype=np.float64), np.asarray(x, dtype=np.float64)
    j = np.empty(len(x))
    for lo in range(0, len(x), _TAIL_BLOCK):  # blocks keep the (rows, nodes) scratch small
        part = slice(lo, lo + _TAIL_BLOCK)
        j[part] = np.exp((k[part] - 1.0)[:, None] * np.log1p(nodes[None, :] / x[part, None])) @ weights
    return (k - 1.0) * np.log(x) - x - gammaln(k) + np.log(j)


def _quiet_gammaincc(shape: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``gammaincc(shape, x)`` with NumPy's floating-point warnings off, as in the caller's block."""
    from scipy.special import gammaincc

    with np.errstate(divide="ignore", invalid="ignore"):
        return gammaincc(shape, x)


def _scaled_age(age: np.ndarray, mean_gap: np.ndarray, cv2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Gamma shape ``1 / cv2`` (cv2 at least :data:`MIN_GAP_CV2`) and the age in scale units."""
    shape = 1.0 / np.maximum(np.asarray(cv2, dtype=np.float64), MIN_GAP_CV2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return shape, age * shape / mean_gap


def _tail_rows(shape: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """Positions of the ages past :func:`tail_start` (the log-survival tail); x0 = inf: a zero mean gap."""
    return np.flatnonzero(np.isfinite(x0) & (x0 >= tail_start(shape)))


def renewal_hazard(
    age: np.ndarray, mean_gap: np.ndarray, cv2: np.ndarray, window: float = RENEWAL_WINDOW_DAYS
) -> np.ndarray:
    """``P(G <= age + window | G > age)`` for ``G ~ Gamma(1 / cv2, mean_gap * cv2)`` (days).

    Continuous in ``age`` and never past its long-overdue limit ``1 - exp(-window / scale)``
    (``scale = mean_gap * cv2``; approached from below when ``cv2 < 1``): ages past
    :func:`tail_start` take the survival ratio from :func:`log_survival_tail`, so a
    survival that underflows no longer reads 1. NaN where the mean gap is.
    """
    from scipy.special import gammaincc

    age, mean_gap = np.asarray(age, dtype=np.float64), np.asarray(mean_gap, dtype=np.float64)
    shape, x0 = _scaled_age(age, mean_gap, cv2)
    tail = _tail_rows(shape, x0)
    body = np.ones(len(x0), dtype=bool)
    body[tail] = False  # the incomplete gamma only where the tail form does not replace it (10 M lines: 41 %)
    with np.errstate(divide="ignore", invalid="ignore"):
        x1 = (age + window) * shape / mean_gap
        k = shape[body]
        with ThreadPoolExecutor(max_workers=1) as side:  # SciPy's ufunc loops release the GIL
            later = side.submit(_quiet_gammaincc, k, x1[body])  # (NumPy's errstate is per thread)
            s0, s1 = gammaincc(k, x0[body]), later.result()
        hazard = np.empty(len(x0))
        hazard[body] = np.where(s0 > 0, (s0 - s1) / s0, np.nan)
        limit = -np.expm1(-window * shape / mean_gap)  # 1 where the mean gap is 0
    if len(tail):
        k = shape[tail]
        log_ratio = log_survival_tail(k, x1[tail]) - log_survival_tail(k, x0[tail])
        hazard[tail] = -np.expm1(log_ratio)
    hazard = np.where(shape >= 1.0, np.minimum(hazard, limit), hazard)  # rounding past the limit
    return np.where(np.isnan(mean_gap), np.nan, hazard)


@dataclass(frozen=True)
class RenewalInputs:
    """What the renewal columns are made of, per candidate pair: ``n`` (the pair's orders), ``pair_mean``
    (its mean gap, days; NaN under 2 orders), ``age`` (days since its last order), ``item_mean`` and
    ``item_cv2`` (the item's pooled mean gap, days, and CV^2); ``overall_cv2``: the all-item CV^2."""

    n: Any
    pair_mean: Any
    age: Any
    item_mean: Any
    item_cv2: Any
    overall_cv2: float

    def rows(self, rows: slice) -> RenewalInputs:
        """The same inputs for the candidates ``rows`` only."""
        return RenewalInputs(self.n[rows], self.pair_mean[rows], self.age[rows], self.item_mean[rows],
                             self.item_cv2[rows], self.overall_cv2)

    def shrunk_gap(self) -> np.ndarray:
        """The pair's mean gap (days) shrunk towards the item's by one gap (:func:`_shrunk_gap`)."""
        return _shrunk_gap(self.n, self.pair_mean, self.item_mean)

    def cv2(self) -> np.ndarray:
        """The item's gap CV^2, the all-item one where the item has none."""
        return np.where(np.isnan(self.item_cv2), self.overall_cv2, self.item_cv2)


def renewal_columns(inputs: RenewalInputs) -> dict[str, np.ndarray]:
    """``item_gap_mean_days``, ``item_gap_cv``, ``ci_renewal_hazard_7d`` and ``ci_lapse_ratio`` per pair.

    Item stats come per pair; the pair's mean gap (days) is shrunk towards the item's
    by one gap. ``ci_lapse_ratio`` is the days since the pair's last order over that
    shrunk mean gap: the hazard is bounded as a pair lapses, the ratio keeps growing.
    """
    shrunk = inputs.shrunk_gap()
    hazard = renewal_hazard(inputs.age, shrunk, inputs.cv2())
    with np.errstate(divide="ignore", invalid="ignore"):
        lapse = np.where(shrunk > 0, inputs.age / shrunk, np.nan)
    return {
        "item_gap_mean_days": inputs.item_mean,
        "item_gap_cv": np.sqrt(inputs.item_cv2),
        "ci_renewal_hazard_7d": hazard,
        "ci_lapse_ratio": lapse,
    }


def _shrunk_gap(n: np.ndarray, pair_mean: np.ndarray, item_mean: np.ndarray) -> np.ndarray:
    """The pair's mean gap (days) shrunk towards the item's by one gap (NaN without either)."""
    prior = np.where(np.isnan(item_mean), pair_mean, item_mean)
    shrunk = (np.nan_to_num(pair_mean) * (n - 1.0) + prior) / n
    return np.where(np.isnan(prior), np.nan, shrunk)


def renewal_cuts(inputs: RenewalInputs, rows: int) -> np.ndarray:
    """Positions ``0 = c_0 < c_1 < ... = len(inputs.n)`` cutting the pairs into blocks of about ``rows``
    (>= 1) over which :func:`renewal_columns` (of ``inputs.rows(block)``) gives its values over all pairs,
    bit for bit.

    Every other step is elementwise, but :func:`log_survival_tail` takes the long-overdue pairs
    (:func:`_tail_rows`) in chunks of ``_TAIL_BLOCK`` through one matrix product (BLAS) each, which
    may round a row by where it sits in its chunk; so a block starts only where a chunk does: each
    at the first chunk start at least ``rows`` pairs after the block before (none: one block). A
    block is thus at least ``rows`` long but the last, and longer by at most the pairs one chunk spans.
    """
    shape, x0 = _scaled_age(inputs.age, inputs.shrunk_gap(), inputs.cv2())
    starts = _tail_rows(shape, x0)[_TAIL_BLOCK::_TAIL_BLOCK]  # the first pair of every chunk but the first
    cuts = [0]
    while (at := int(np.searchsorted(starts, cuts[-1] + max(int(rows), 1)))) < len(starts):
        cuts.append(int(starts[at]))
    return np.array([*cuts, len(inputs.n)], dtype=np.int64)
