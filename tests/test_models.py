"""BG/NBD, the baselines and the LightGBM next-purchase model."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from anticipate.config import LightGBMParams, ModelConfig
from anticipate.metrics import classification_metrics
from anticipate.models.baselines import BGNBDBaseline, RecencyFrequencyBaseline
from anticipate.models.bgnbd import BGNBD
from anticipate.models.next_purchase import NextPurchaseModel, choose_calibration


def _simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, T: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customers from the BG/NBD story; also their purchases in (T, T + 7]."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, alive, times = 0.0, True, []
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > T + 7:
                break
            times.append(t)
            alive = rng.random() > p[i]
        past = [s for s in times if s <= T]
        x[i], t_x[i] = len(past), (past[-1] if past else 0.0)
        future[i] = any(T < s <= T + 7 for s in times)
    return x, t_x, np.full(n, T), future, lam


def test_bgnbd_recovers_parameters_and_predicts_like_simulation() -> None:
    x, t_x, T, future, _ = _simulate_bgnbd(4000, r=0.8, alpha=20.0, a=0.8, b=2.5, T=200.0, seed=1)
    model = BGNBD().fit(x, t_x, T)
    assert model.r_ == pytest.approx(0.8, rel=0.25)
    assert model.alpha_ == pytest.approx(20.0, rel=0.3)
    p = model.prob_at_least_one(7.0, x, t_x, T)
    assert abs(p.mean() - future.mean()) < 0.02
    assert classification_metrics(future, p)["auc"] > 0.75


def test_prob_alive_is_one_without_repeats_and_falls_with_long_silence() -> None:
    model = BGNBD().fit(*_simulate_bgnbd(500, 0.8, 20.0, 0.8, 2.5, 200.0, 2)[:3])
    assert model.prob_alive(np.array([0.0]), np.array([0.0]), np.array([200.0]))[0] == 1.0
    recent, stale = model.prob_alive(np.array([5.0, 5.0]), np.array([195.0, 20.0]), np.array([200.0, 200.0]))
    assert recent > stale


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2, 0.02, n)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i // 3}" for i in range(n)],
            "cust_recency_days": rng.exponential(30, n),
            "cust_orders_365d": rng.poisson(rate * 365) + 1.0,
            "ci_days_since_last": rng.exponential(60, n),
            "ci_orders_365d": rng.poisson(rate * 100) + 1.0,
            "noise": rng.normal(size=n),
        }
    )
    logit = (
        -3.5 + 1.5 * np.log1p(frame["ci_orders_365d"]) - 0.03 * frame["ci_days_since_last"].clip(upper=150)
    )
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["units"] = frame["y"] * (1 + rng.poisson(0.5, n))
    return frame


FEATS = ["cust_recency_days", "cust_orders_365d", "ci_days_since_last", "ci_orders_365d", "noise"]
FAST = ModelConfig(
    classifier=LightGBMParams(n_estimators=150, learning_rate=0.1),
    regressor=LightGBMParams(n_estimators=50, learning_rate=0.1),
    threads=1,
)


def _fit(seed: int = 0) -> tuple[NextPurchaseModel, pd.DataFrame]:
    train, val, test = _frame(6000, 1), _frame(3000, 2), _frame(3000, 3)
    model = NextPurchaseModel.from_config(FAST.model_copy(update={"seed": seed})).fit(
        train[FEATS],
        train["y"].to_numpy(),
        train["units"].to_numpy(),
        X_val=val[FEATS],
        y_val=val["y"].to_numpy(),
        units_val=val["units"].to_numpy(),
        groups_val=val["customer_id"],
    )
    return model, test


def test_model_learns_and_is_deterministic_and_picklable() -> None:
    model, test = _fit()
    p = model.predict_proba(test[FEATS])
    assert classification_metrics(test["y"].to_numpy(), p)["auc"] > 0.7
    again, _ = _fit()
    np.testing.assert_array_equal(p, again.predict_proba(test[FEATS]))
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(p, clone.predict_proba(test[FEATS]))
    from anticipate.tracking.pyfunc import NextPurchasePyfunc

    scored = NextPurchasePyfunc(model, {}).predict(None, test)  # the registered model's expected units
    np.testing.assert_allclose(scored["expected_units"], p * model.predict_units(test[FEATS]))
    p_only = NextPurchasePyfunc(model, {}).predict_p_buy(test)  # evaluate's shortcut: same p_buy
    np.testing.assert_array_equal(p_only.to_numpy(), scored["p_buy"].to_numpy())
    assert p_only.index.equals(test.index)
    assert (model.predict_units(test[FEATS]) >= 1).all()
    assert list(model.gain_importance().index[:1]) != ["noise"]


def test_refit_from_boosters_takes_the_trees_and_recalibrates_like_fit() -> None:
    import lightgbm as lgb

    model, test = _fit()
    train, val = _frame(6000, 1), _frame(3000, 2)
    params = model.fixed_round_params()
    assert params["classifier"]["n_estimators"] == model.best_iteration_
    classifier = lgb.LGBMClassifier(**params["classifier"]).fit(train[FEATS], train["y"])
    buyers = train[train["y"] == 1]
    regressor = None
    if params["regressor"] is not None:
        regressor = lgb.LGBMRegressor(**params["regressor"]).fit(buyers[FEATS], buyers["units"])
    refit = pickle.loads(pickle.dumps(model)).refit_from_boosters(
        classifier, regressor, X_val=val[FEATS], y_val=val["y"].to_numpy(), groups_val=val["customer_id"]
    )
    assert refit.classifier_ is classifier and refit.regressor_ is regressor
    assert refit.rounds_ == {
        "classifier": model.best_iteration_,
        "regressor": 0 if regressor is None else params["regressor"]["n_estimators"],
    }
    # the same trees as the early-stopped fit (deterministic LightGBM), so the same calibration choice
    raw = classifier.predict_proba(test[FEATS])[:, 1]
    np.testing.assert_allclose(raw, model.classifier_.predict_proba(test[FEATS])[:, 1], rtol=1e-12)
    assert refit.calibration_ == model.calibration_
    assert refit.fit_summary()["rounds"] == refit.rounds_ and model.fit_summary()["rounds"] is None
    np.testing.assert_allclose(refit.predict_proba(test[FEATS]), model.predict_proba(test[FEATS]), rtol=1e-12)


def _cross_fitted(p: np.ndarray, y: np.ndarray, folds: np.ndarray, kind: str) -> np.ndarray:
    """Each fold calibrated by a calibrator fitted on the other fold (an independent re-implementation)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))[:, None]
    out = np.empty_like(p)
    for f in (0, 1):
        train, test = folds != f, folds == f
        if kind == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p[train], y[train])
            out[test] = iso.predict(p[test])
        else:
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(logit[train], y[train])
            out[test] = platt.predict_proba(logit[test])[:, 1]
    return out


def test_calibration_is_never_chosen_when_it_makes_ece_worse() -> None:
    """Over calibrated, over- and under-confident scores and small and large windows: the calibrator
    ``auto`` picks has a cross-fitted ECE no worse than the raw scores', every calibrator that makes ECE
    worse is refused, and ``never`` always gives ``none``."""
    from anticipate.metrics import expected_calibration_error as ece

    refused = 0
    for seed in range(6):
        for n, skew in ((300, 1.0), (4000, 1.0), (4000, 2.5), (300, 0.5)):
            rng = np.random.default_rng(seed)
            p0 = rng.uniform(0, 0.3, n)
            y = (rng.random(n) < p0).astype(int)
            p, folds = np.clip(p0 * skew, 0, 1), np.arange(n) % 2
            raw = ece(y, p)
            calibrated = {k: ece(y, _cross_fitted(p, y, folds, k)) for k in ("isotonic", "platt")}
            chosen = choose_calibration(p, y, folds, "auto")
            assert chosen == "none" or calibrated[chosen] < raw, (seed, n, skew, chosen, raw, calibrated)
            worse = {k for k, v in calibrated.items() if v >= raw}
            assert chosen not in worse, (seed, n, skew, chosen, raw, calibrated)
            refused += len(worse)
            if skew > 2:  # badly over-confident scores: a calibrator halves ECE and is taken
                assert chosen != "none" and calibrated[chosen] < raw / 2
            assert choose_calibration(p, y, folds, "never") == "none"
    assert refused >= 5  # the property was exercised: calibrators that make ECE worse came up


def test_baselines_rank_better_than_chance() -> None:
    train, test = _frame(5000, 4), _frame(3000, 5)
    rf = RecencyFrequencyBaseline().fit(train, train["y"].to_numpy())
    assert classification_metrics(test["y"].to_numpy(), rf.predict_proba(test))["auc"] > 0.65
    # the BG/NBD summary (repeats x, age of the last order t_x, observed span T) of the history that
    # drives the label, so a baseline that ranks by it must beat chance clearly
    test = test.assign(
        cust_bgnbd_x=test["ci_orders_365d"] - 1,
        cust_bgnbd_t_x=(365.0 - test["ci_days_since_last"]).clip(0, 365),
        cust_tenure_days=365.0,
        ci_share_of_orders=(test["ci_orders_365d"] / test["cust_orders_365d"]).clip(0, 1),
    )
    p = BGNBDBaseline(horizon_days=7).fit(test).predict_proba(test)
    assert ((p >= 0) & (p <= 1)).all()
    assert classification_metrics(test["y"].to_numpy(), p)["auc"] > 0.6


def test_calibration_folds_hash_each_customer_once_with_the_per_row_rule() -> None:
    import hashlib

    from anticipate.models.next_purchase import _fold_of

    keys = pd.Series(["c10", "c2", "c10", "c7", None, "c2", "c10", "c3"] * 50)
    per_row = [hashlib.blake2b(str(k).encode(), digest_size=1).digest()[0] % 2 for k in keys]
    folds = _fold_of(keys)
    np.testing.assert_array_equal(folds, per_row)
    assert set(folds) == {0, 1}  # both folds occur: the check would catch a constant



def test_a_config_that_differs_from_the_models_spec_is_a_warning_naming_the_key() -> None:
    """forecast/allocate/predict use the model's horizon, lookback, item level and families: a changed
    config key does nothing until a retrain, so each difference is said, and none when they agree."""
    from types import SimpleNamespace

    from anticipate.config import Config
    from anticipate.features.spec import FeatureSpec
    from anticipate.models.scoring import spec_warnings

    cfg = Config()
    trained = FeatureSpec.from_config(cfg)
    wrapper = SimpleNamespace(meta={"feature_spec": trained.to_dict()})
    assert spec_warnings(wrapper, cfg) == []
    reordered = cfg.model_copy(update={"features": cfg.features.model_copy(
        update={"families": list(reversed(cfg.features.families))})})
    assert spec_warnings(wrapper, reordered) == []  # the same families in another order
    changed = cfg.model_copy(update={"time": cfg.time.model_copy(update={"horizon_days": 14})})
    (warning,) = spec_warnings(wrapper, changed)
    assert warning.startswith(f"time.horizon_days is 14 in the config but the model was trained with "
                              f"{trained.horizon_days}, which is used; retrain")


def test_baselines_on_a_single_class_window_are_a_data_error_saying_what_to_change(tmp_path) -> None:
    """A tiny log: in the window the baselines are fitted on nobody buys again, so evaluate must stop
    with a DataError (exit 2) naming the window and the fix, not a scikit-learn ValueError (exit 1)."""
    from anticipate.errors import DataError
    from anticipate.features.spec import FeatureSpec
    from anticipate.models.evaluation import baseline_predictions
    from anticipate.storage.files import DataSet

    orders = pd.DataFrame({
        "customer_id": ["C1", "C1", "C2", "C1", "C3"], "sku": ["S1", "S1", "S2", "S1", "S3"],
        "order_ts": pd.to_datetime(["2025-01-01 10:00", "2025-01-20 10:00", "2025-01-05 10:00",
                                    "2025-02-10 10:00", "2025-02-11 10:00"]),
        "quantity": [1.0, 1.0, 1.0, 2.0, 1.0], "price": 1.0, "region": "R1", "order_id": None,
    })
    ds = DataSet(tmp_path, orders, None, None, None, None, "digest")
    spec = FeatureSpec(lookback_days=60, horizon_days=7)
    said = r"fitted on \(features at 2025-02-03, labels to 2025-02-10\) did not buy .*later --cutoff"
    with pytest.raises(DataError, match=said):
        baseline_predictions(ds, pd.DataFrame(), pd.Timestamp("2025-02-10"), spec, seed=0)


def test_a_model_trained_long_before_the_date_it_scores_at_is_a_warning() -> None:
    from types import SimpleNamespace

    from anticipate.models.scoring import OLD_MODEL_DAYS, age_warnings

    wrapper = SimpleNamespace(meta={"until": "2025-01-01"})
    assert age_warnings(wrapper, pd.Timestamp("2025-01-01") + pd.Timedelta(days=OLD_MODEL_DAYS)) == []
    (warning,) = age_warnings(wrapper, pd.Timestamp("2026-01-01"))
    assert warning.startswith("the model was trained on orders up to 2025-01-01, 365 days before 2026-01-01")
    assert age_warnings(SimpleNamespace(meta={}), pd.Timestamp("2026-01-01")) == []  # no until: no verdict


def test_promoting_a_model_trained_on_older_data_than_the_alias_held_is_a_warning() -> None:
    from anticipate.pipelines.model import promotion_warnings

    serving = {"version": "4", "cutoff": "2025-12-24", "val_auc": 0.95}
    junk = {"version": "5", "cutoff": "2024-01-20", "val_auc": 0.597}
    (warning,) = promotion_warnings(junk, serving, "production")
    assert warning.startswith("@production now points at version 5, trained until 2024-01-20, before version")
    assert "anticipate promote 4 --alias production" in warning
    assert promotion_warnings(serving, junk, "production") == []  # newer data: fine
    assert promotion_warnings(junk, None, "production") == []  # the alias pointed nowhere
    assert promotion_warnings({**junk, "cutoff": None}, serving, "production") == []  # no verdict
