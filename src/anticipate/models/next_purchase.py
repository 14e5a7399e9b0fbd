"""The next-purchase model: P(order within H days) and E[units | order], both LightGBM.

Follows the scikit-learn contract: ``__init__`` stores settings, ``fit`` returns
self, fitted state ends in ``_``. The classifier early-stops on the validation
window; a calibrator (isotonic or Platt) is fitted there only when it lowers the
ECE in a two-fold cross-fit over the validation customers (so the choice is not
judged on the data it was fitted to). The quantity model is a Poisson LightGBM
on the buyers' units, early-stopped on the validation buyers.
"""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from anticipate.config import LightGBMParams, ModelConfig
from anticipate.metrics import expected_calibration_error, log_loss

MIN_BUYERS_FOR_REGRESSOR = 50


def _lgbm_kwargs(params: LightGBMParams, *, seed: int, threads: int) -> dict[str, Any]:
    return {
        "n_estimators": params.n_estimators,
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_child_samples": params.min_child_samples,
        "subsample": params.subsample,
        "subsample_freq": params.subsample_freq,
        "colsample_bytree": params.colsample_bytree,
        "reg_lambda": params.reg_lambda,
        "random_state": seed,
        "n_jobs": threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence LightGBM 4.7's eval_set deprecation (its replacement does not exist in 4.3)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*eval_set.*deprecated")
        yield


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class _Platt:
    """Logistic regression on logit(p)."""

    def fit(self, p: np.ndarray, y: np.ndarray) -> _Platt:
        self.lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], y)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        return self.lr.predict_proba(_logit(p)[:, None])[:, 1]


def _make_calibrator(kind: str) -> Any:
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0) if kind == "isotonic" else _Platt()


def _fold_of(keys: pd.Series) -> np.ndarray:
    """A deterministic two-fold split by key (customer), independent of row order.

    Each distinct key is hashed once (the real log's 834,792 validation rows hold 2,469
    customers) and the folds are spread back to the rows.
    """
    codes, uniques = pd.factorize(pd.Series(keys), use_na_sentinel=False)
    folds = np.array([hashlib.blake2b(str(k).encode(), digest_size=1).digest()[0] % 2 for k in uniques],
                     dtype=np.int64)
    return folds[codes]


def choose_calibration(p: np.ndarray, y: np.ndarray, folds: np.ndarray, mode: str) -> str:
    """``none``, ``isotonic`` or ``platt``, judged on a two-fold cross-fit over the window.

    A calibrator is kept only when its cross-fitted ECE is lower than the raw ECE and
    its cross-fitted log loss is no worse (isotonic steps to 0 can ruin log loss).
    """
    if mode == "never" or len(np.unique(y)) < 2:
        return "none"
    scores = {"none": (expected_calibration_error(y, p), log_loss(y, p))}
    for kind in ("isotonic", "platt"):
        out = np.empty_like(p)
        for f in (0, 1):
            train, test = folds != f, folds == f
            if len(np.unique(y[train])) < 2 or not test.any():
                out[test] = p[test]
                continue
            out[test] = _make_calibrator(kind).fit(p[train], y[train]).predict(p[test])
        scores[kind] = (expected_calibration_error(y, out), log_loss(y, out))
    if mode == "always":
        return min(("isotonic", "platt"), key=lambda k: scores[k])
    allowed = [k for k in scores if scores[k][1] <= scores["none"][1]]
    return min(allowed, key=lambda k: (scores[k][0], k != "none"))


class NextPurchaseModel(BaseEstimator):
    """LightGBM P(buy within H days) with optional calibration, plus LightGBM E[units | buy].

    Parameters
    ----------
    classifier, regressor : LightGBMParams
        Tree parameters; ``n_estimators`` is the cap that early stopping cuts.
    seed, threads : int
        Random seed (deterministic training) and LightGBM threads.
    calibrate : {"auto", "always", "never"}
    """

    def __init__(
        self,
        *,
        classifier: LightGBMParams | None = None,
        regressor: LightGBMParams | None = None,
        seed: int = 7,
        threads: int = 2,
        calibrate: str = "auto",
    ) -> None:
        self.classifier = classifier
        self.regressor = regressor
        self.seed = seed
        self.threads = threads
        self.calibrate = calibrate

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> NextPurchaseModel:
        """A model with the parameters of ``model`` in the config."""
        return cls(
            classifier=cfg.classifier,
            regressor=cfg.regressor,
            seed=cfg.seed,
            threads=cfg.threads,
            calibrate=cfg.calibrate,
        )

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        units: np.ndarray,
        *,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        units_val: np.ndarray,
        groups_val: pd.Series | None = None,
    ) -> NextPurchaseModel:
        """Fit on training windows; early-stop and calibrate on the validation window.

        ``units`` are the units bought in the horizon (0 for non-buyers); ``groups_val``
        (customer ids) defines the calibration cross-fit folds (default: row index).
        """
        import lightgbm as lgb

        self.feature_names_ = list(X.columns)
        cls_params = self.classifier or LightGBMParams()
        self.classifier_ = lgb.LGBMClassifier(
            **_lgbm_kwargs(cls_params, seed=self.seed, threads=self.threads)
        )
        with _quiet():
            self.classifier_.fit(
                X,
                y,
                eval_set=[(X_val, y_val)],
                eval_metric="binary_logloss",
                callbacks=[lgb.early_stopping(cls_params.early_stopping_rounds, verbose=False)],
            )
        self.best_iteration_ = int(self.classifier_.best_iteration_ or cls_params.n_estimators)
        self._calibrate(X_val, np.asarray(y_val), groups_val)
        self._fit_units(
            X, np.asarray(y), np.asarray(units, float), X_val, np.asarray(y_val), np.asarray(units_val, float)
        )
        return self

    def _fit_units(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        units: np.ndarray,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        units_val: np.ndarray,
    ) -> None:
        import lightgbm as lgb

        buyers, val_buyers = y == 1, y_val == 1
        self.units_mean_ = float(units[buyers].mean()) if buyers.any() else 1.0
        self.regressor_ = None
        if buyers.sum() < MIN_BUYERS_FOR_REGRESSOR or val_buyers.sum() < 10:
            return
        params = self.regressor or LightGBMParams()
        kwargs = _lgbm_kwargs(params, seed=self.seed, threads=self.threads)
        self.regressor_ = lgb.LGBMRegressor(objective="poisson", **kwargs)
        with _quiet():
            self.regressor_.fit(
                X[buyers],
                units[buyers],
                eval_set=[(X_val[val_buyers], units_val[val_buyers])],
                callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
            )

    def _calibrate(self, X_val: pd.DataFrame, y_val: np.ndarray, groups_val: pd.Series | None) -> None:
        """Choose and fit the calibrator on the validation window (``calibration_``, ``calibrator_``).

        The choice is judged on a two-fold cross-fit over ``groups_val`` (customer ids;
        default: the row index), see :func:`choose_calibration`.
        """
        raw_val = self._raw_proba(X_val)
        folds = _fold_of(groups_val if groups_val is not None else pd.Series(np.arange(len(y_val))))
        self.calibration_ = choose_calibration(raw_val, y_val, folds, self.calibrate)
        self.calibrator_ = (
            None if self.calibration_ == "none" else _make_calibrator(self.calibration_).fit(raw_val, y_val)
        )

    def fixed_round_params(self) -> dict[str, dict[str, Any] | None]:
        """LightGBM keyword arguments to refit each tree model with the rounds early stopping chose.

        ``{"classifier": kwargs, "regressor": kwargs or None}`` (None when the fit kept
        no quantity model); ``n_estimators`` is the fitted model's best iteration. For a
        refit elsewhere (on a cluster) whose boosters come back through
        :meth:`refit_from_boosters`.
        """
        check_is_fitted(self, "classifier_")
        cls = _lgbm_kwargs(self.classifier or LightGBMParams(), seed=self.seed, threads=self.threads)
        cls["n_estimators"] = self.best_iteration_
        if self.regressor_ is None:
            return {"classifier": cls, "regressor": None}
        reg = _lgbm_kwargs(self.regressor or LightGBMParams(), seed=self.seed, threads=self.threads)
        reg["n_estimators"] = int(self.regressor_.best_iteration_ or reg["n_estimators"])
        return {"classifier": cls, "regressor": {"objective": "poisson", **reg}}

    def refit_from_boosters(
        self,
        classifier: Any,
        regressor: Any | None,
        *,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        groups_val: pd.Series | None = None,
    ) -> NextPurchaseModel:
        """Take refitted tree models (e.g. fitted on a cluster with :meth:`fixed_round_params`), recalibrate.

        ``classifier`` (and ``regressor``, or None to keep none) are ordinary fitted
        LightGBM sklearn models on ``feature_names_``; the calibration is chosen again
        on the validation window. Sets ``rounds_`` = ``{"classifier": n, "regressor": n}``
        (0 without a quantity model). Returns self.
        """
        check_is_fitted(self, "classifier_")
        self.classifier_ = classifier
        self.regressor_ = regressor
        self.rounds_ = {
            "classifier": int(classifier.n_estimators),
            "regressor": 0 if regressor is None else int(regressor.n_estimators),
        }
        self._calibrate(X_val, np.asarray(y_val), groups_val)
        return self

    def fit_summary(self) -> dict[str, Any]:
        """What the fit chose: ``best_iteration`` (classifier rounds), ``calibration`` and ``rounds``.

        ``rounds`` is ``{"classifier": n, "regressor": n}`` after :meth:`refit_from_boosters`,
        else None.
        """
        check_is_fitted(self, "classifier_")
        return {
            "best_iteration": self.best_iteration_,
            "calibration": self.calibration_,
            "rounds": getattr(self, "rounds_", None),
        }

    def _raw_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.classifier_.predict_proba(X[self.feature_names_])[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(at least one order of the pair within the horizon), calibrated when chosen."""
        check_is_fitted(self, "classifier_")
        p = self._raw_proba(X)
        return np.clip(self.calibrator_.predict(p), 0.0, 1.0) if self.calibrator_ is not None else p

    def predict_units(self, X: pd.DataFrame) -> np.ndarray:
        """E[units in the horizon | the pair orders] (>= 1)."""
        check_is_fitted(self, "classifier_")
        if self.regressor_ is None:
            return np.full(len(X), max(self.units_mean_, 1.0))
        return np.maximum(self.regressor_.predict(X[self.feature_names_]), 1.0)

    def gain_importance(self) -> pd.Series:
        """Total split gain per feature of the classifier, largest first."""
        check_is_fitted(self, "classifier_")
        gain = self.classifier_.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_).sort_values(ascending=False)
