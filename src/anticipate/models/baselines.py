"""Baselines the LightGBM model must beat: a recency/frequency logistic and BG/NBD split by item shares."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from anticipate.models.bgnbd import BGNBD

RF_COLUMNS = ("cust_recency_days", "cust_orders_365d", "ci_days_since_last", "ci_orders_365d")
BGNBD_COLUMNS = ("cust_bgnbd_x", "cust_bgnbd_t_x", "cust_tenure_days")  # x, t_x and T (days)


class RecencyFrequencyBaseline(BaseEstimator):
    """Logistic regression on log1p recency and frequency of the customer and of the pair.

    Parameters
    ----------
    columns : sequence of str
        Feature columns (days and counts) of a features frame.
    random_state : int
    """

    def __init__(self, *, columns: Sequence[str] = RF_COLUMNS, random_state: int = 0) -> None:
        self.columns = columns
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> RecencyFrequencyBaseline:
        """Fit on a features frame and its 0/1 labels."""
        self.pipeline_ = make_pipeline(
            FunctionTransformer(np.log1p),
            StandardScaler(),
            LogisticRegression(max_iter=1000, random_state=self.random_state),
        )
        self.pipeline_.fit(self._x(frame), np.asarray(y))
        return self

    def _x(self, frame: pd.DataFrame) -> np.ndarray:
        return frame[list(self.columns)].to_numpy(dtype=float).clip(min=0)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(buy) per row of a features frame."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(self._x(frame))[:, 1]


class BGNBDBaseline(BaseEstimator):
    """BG/NBD per customer, split across the customer's items by their past order shares.

    ``p_pair = P(customer orders at least once in H days) * share``, where ``share``
    is the share of the customer's orders (365 days) that contained the item
    (``ci_share_of_orders``). The BG/NBD parameters are fitted on the customers of
    the frame given to ``fit`` (their x, t_x, T at the cutoff; no labels used).
    """

    def __init__(
        self,
        *,
        horizon_days: float = 7.0,
        columns: Sequence[str] = BGNBD_COLUMNS,
        share_column: str = "ci_share_of_orders",
        penalizer: float = 0.001,
    ) -> None:
        self.horizon_days = horizon_days
        self.columns = columns
        self.share_column = share_column
        self.penalizer = penalizer

    def _customers(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop_duplicates("customer_id")[["customer_id", *self.columns]]

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> BGNBDBaseline:
        """Fit BG/NBD by maximum likelihood on the frame's customers (``y`` is ignored)."""
        del y
        cust = self._customers(frame)
        x, t_x, T = (cust[c].to_numpy(float) for c in self.columns)
        self.model_ = BGNBD(penalizer=self.penalizer).fit(x, t_x, T)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(buy) per pair."""
        check_is_fitted(self, "model_")
        x, t_x, T = (frame[c].to_numpy(float) for c in self.columns)
        p_customer = self.model_.prob_at_least_one(self.horizon_days, x, t_x, T)
        share = np.nan_to_num(frame[self.share_column].to_numpy(float), nan=0.0).clip(0, 1)
        return np.clip(p_customer * share, 0.0, 1.0)


PAIR_RATE_COLUMNS = ("ci_orders_365d", "cust_tenure_days")
PAIR_LOGREG_COLUMNS = ("ci_days_since_last", "ci_orders_365d", "ci_orders_total", "ci_gap_mean_days")


class PairRateBaseline(BaseEstimator):
    """A Poisson rate of this customer's orders of this item: the reorder bar a pair model must clear.

    ``rate = orders of the pair in the last 365 days / min(365, tenure) days`` (per day), and
    ``P(order within H days) = 1 - exp(-rate * H)``. Nothing is fitted: ``fit`` only checks
    the columns, so the baseline sees no label at all.
    """

    def __init__(self, *, horizon_days: float = 7.0, window_days: float = 365.0) -> None:
        self.horizon_days = horizon_days
        self.window_days = window_days

    def fit(self, frame: pd.DataFrame, y: np.ndarray | None = None) -> PairRateBaseline:
        """Check the frame has the pair count and the tenure (``y`` is ignored)."""
        del y
        missing = [c for c in PAIR_RATE_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"PairRateBaseline needs feature columns {missing}")
        self.fitted_ = True
        return self

    def rate_per_day(self, frame: pd.DataFrame) -> np.ndarray:
        """Orders of the pair per day over the customer's observed part of the window."""
        orders = np.nan_to_num(frame["ci_orders_365d"].to_numpy(float), nan=0.0)
        observed = np.clip(frame["cust_tenure_days"].to_numpy(float), 1.0, self.window_days)
        return orders / np.nan_to_num(observed, nan=self.window_days)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(buy within ``horizon_days``) per pair."""
        check_is_fitted(self, "fitted_")
        return -np.expm1(-self.rate_per_day(frame) * self.horizon_days)


def _pair_design(frame: pd.DataFrame) -> np.ndarray:
    """log1p recency, 365-day and all-time pair orders, mean gap; a flag where the gap is unknown."""
    recency, orders, total, gap = (frame[c].to_numpy(float) for c in PAIR_LOGREG_COLUMNS)
    no_gap = ~np.isfinite(gap)
    gap = np.where(no_gap, 0.0, gap)
    recency_over_gap = np.where(no_gap, 0.0, recency / np.maximum(gap, 1.0))
    columns = [recency, orders, total, gap, recency_over_gap]
    logged = [np.log1p(np.clip(np.nan_to_num(c, nan=0.0), 0.0, None)) for c in columns]
    return np.column_stack([*logged, no_gap.astype(float)])


class PairLogisticBaseline(BaseEstimator):
    """Logistic regression on the pair's recency, frequency and inter-purchase gap.

    The first afternoon's model of a data scientist on a reorder problem: log1p of days since
    the pair's last order, its orders in 365 days and in all history, its mean gap (days), the
    recency over that gap, and a flag for pairs bought once (no gap yet).
    """

    def __init__(self, *, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> PairLogisticBaseline:
        """Fit on a features frame and its 0/1 labels."""
        self.pipeline_ = make_pipeline(StandardScaler(),
                                       LogisticRegression(max_iter=1000, random_state=self.random_state))
        self.pipeline_.fit(_pair_design(frame), np.asarray(y))
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(buy) per row of a features frame."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(_pair_design(frame))[:, 1]
