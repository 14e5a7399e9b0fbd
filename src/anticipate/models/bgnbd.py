"""BG/NBD (Fader, Hardie & Lee 2005) fitted by maximum likelihood with scipy.

Inputs per customer, in days: ``x`` repeat purchases, ``t_x`` time from the first
to the last purchase, ``T`` time from the first purchase to the cutoff. While
alive a customer buys as Poisson(lambda), lambda ~ Gamma(r, alpha); after each
purchase they drop out with probability p, p ~ Beta(a, b).

Given the history, an alive customer's lambda is Gamma(r + x, alpha + T), and no
purchase happens in ``(T, T + t]`` if they are dead or buy nothing, so

    P(at least one purchase in t) = P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


def _log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray
) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x)
        a4 = np.where(x > 0, tail, -np.inf)
    ll = a1 + a2 + np.logaddexp(a3, a4)
    return float((weight * ll).sum())


class BGNBD(BaseEstimator):
    """BG/NBD with parameters ``r_, alpha_, a_, b_`` (alpha in days).

    Parameters
    ----------
    penalizer : float
        L2 penalty on the log-parameters (0 = plain maximum likelihood).
    """

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BGNBD:
        """Maximise the likelihood over (r, alpha, a, b) on unique (x, t_x, T) rows (weighted)."""
        data = np.column_stack([np.asarray(x, float), np.asarray(t_x, float), np.asarray(T, float)])
        data = data[np.isfinite(data).all(axis=1) & (data[:, 2] > 0)]
        uniq, weight = np.unique(np.round(data, 6), axis=0, return_counts=True)
        xs, txs, Ts = uniq[:, 0], uniq[:, 1], uniq[:, 2]
        scale = float(np.mean(Ts)) or 1.0

        def objective(p: np.ndarray) -> float:
            return -_log_likelihood(p, xs, txs, Ts, weight) / weight.sum() + self.penalizer * float(p @ p)

        start = np.log([1.0, scale / max(xs.mean(), 0.1), 1.0, 3.0])
        result = minimize(objective, start, method="L-BFGS-B", bounds=[(-9, 9)] * 4)
        self.r_, self.alpha_, self.a_, self.b_ = (float(v) for v in np.exp(result.x))
        self.converged_ = bool(result.success)
        self.n_customers_ = int(weight.sum())
        return self

    def prob_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive at T | x, t_x, T) per customer."""
        check_is_fitted(self, "r_")
        x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
        with np.errstate(over="ignore", divide="ignore"):
            log_ratio = (self.r_ + x) * (np.log(self.alpha_ + T) - np.log(self.alpha_ + t_x))
            odds = np.where(x > 0, self.a_ / np.maximum(self.b_ + x - 1, 1e-300) * np.exp(log_ratio), 0.0)
        return 1.0 / (1.0 + odds)

    def prob_at_least_one(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(at least one purchase in (T, T + t] | x, t_x, T); ``t`` in days."""
        x, T = np.asarray(x, float), np.asarray(T, float)
        none_if_alive = np.exp((self.r_ + x) * (np.log(self.alpha_ + T) - np.log(self.alpha_ + T + t)))
        return self.prob_alive(x, t_x, T) * (1.0 - none_if_alive)
