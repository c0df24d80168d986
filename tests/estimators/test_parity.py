"""Parity with scikit-learn's own MLP: same seed, same data, same numbers.

Each combination of activation, stochastic solver, learning-rate schedule,
task and sample weighting is fitted for 10 epochs by both libraries; the loss
curves and the fitted weights must agree to the dtype's tolerance
(``fastbp._config.TEST_RTOL``).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp._config import TEST_RTOL

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
SOLVERS = [("sgd", "constant"), ("sgd", "invscaling"), ("sgd", "adaptive"), ("adam", "constant")]
TASKS = ["binary", "multiclass", "multilabel", "regression", "multioutput", "poisson", "poisson_multioutput"]


def make_task(task, dtype, n=120):
    if task in ("binary", "multiclass"):
        X, y = make_classification(
            n_samples=n, n_features=8, n_informative=5, n_classes=2 if task == "binary" else 4, random_state=0
        )
    elif task == "multilabel":
        X, y = make_multilabel_classification(n_samples=n, n_features=8, n_classes=3, random_state=0)
    else:
        n_targets = 1 if task in ("regression", "poisson") else 3
        X, y = make_regression(n_samples=n, n_features=8, n_targets=n_targets, noise=0.5, random_state=0)
        y = y / np.std(y)
        if task.startswith("poisson"):
            y = np.random.RandomState(1).poisson(np.exp(np.clip(y, -2, 2)))
    X = (X - X.mean(0)) / X.std(0)
    return X.astype(dtype), y


def pair(task, **params):
    if task in ("binary", "multiclass", "multilabel"):
        return BackpropClassifier(**params), MLPClassifier(**params)
    loss = "poisson" if task.startswith("poisson") else "squared_error"
    return BackpropRegressor(loss=loss, **params), MLPRegressor(loss=loss, **params)


def fit_both(task, dtype, fit_kwargs=None, X=None, y=None, **params):
    if X is None:
        X, y = make_task(task, dtype)
    fast, sk = pair(task, **params)
    fit_kwargs = fit_kwargs or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast.fit(X, y, **fit_kwargs)
        sk.fit(X, y, **fit_kwargs)
    return fast, sk


def assert_same_fit(fast, sk, dtype):
    rtol = TEST_RTOL[np.dtype(dtype).name]
    if hasattr(sk, "loss_curve_"):
        assert len(fast.loss_curve_) == len(sk.loss_curve_)
        np.testing.assert_allclose(fast.loss_curve_, sk.loss_curve_, rtol=rtol)
    assert fast.n_iter_ == sk.n_iter_
    assert fast.t_ == sk.t_
    for a, b in zip(fast.coefs_ + fast.intercepts_, sk.coefs_ + sk.intercepts_):
        assert a.dtype == dtype
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver,schedule", SOLVERS, ids=[f"{s}-{l}" for s, l in SOLVERS])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stochastic_parity(dtype, activation, solver, schedule, task, weighted):
    X, y = make_task(task, dtype)
    params = dict(
        hidden_layer_sizes=(7, 5),
        activation=activation,
        solver=solver,
        learning_rate=schedule,
        learning_rate_init=0.01,
        batch_size=32,
        max_iter=10,
        random_state=0,
    )
    if schedule == "adaptive":
        params.update(n_iter_no_change=1, tol=1e3)  # make the schedule act within 10 epochs
    fit_kwargs = {}
    if weighted:
        fit_kwargs["sample_weight"] = np.random.RandomState(2).uniform(0.2, 3.0, size=X.shape[0])
    fast, sk = fit_both(task, dtype, fit_kwargs, X, y, **params)
    assert_same_fit(fast, sk, dtype)
    np.testing.assert_allclose(fast.predict(X), sk.predict(X), rtol=TEST_RTOL[np.dtype(dtype).name] * 10, atol=1e-5)


@pytest.mark.parametrize("task", ["multiclass", "regression", "multilabel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_early_stopping_parity(task, dtype):
    fast, sk = fit_both(
        task, dtype, hidden_layer_sizes=(6,), early_stopping=True, n_iter_no_change=3, max_iter=40,
        learning_rate_init=0.05, random_state=3,
    )
    assert_same_fit(fast, sk, dtype)
    np.testing.assert_allclose(fast.validation_scores_, sk.validation_scores_, rtol=TEST_RTOL[np.dtype(dtype).name])
    assert fast.best_validation_score_ == pytest.approx(sk.best_validation_score_, rel=1e-6)
    assert fast.best_loss_ is None


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_no_shuffle_and_sparse_parity(task):
    X, y = make_task(task, np.float64)
    X[np.abs(X) < 0.7] = 0.0
    fast, sk = fit_both(task, np.float64, X=sp.csr_matrix(X), y=y, shuffle=False, max_iter=10, random_state=0)
    assert_same_fit(fast, sk, np.float64)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "poisson"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lbfgs_parity(task, activation):
    fast, sk = fit_both(task, np.float64, solver="lbfgs", activation=activation, max_iter=15, random_state=0,
                        hidden_layer_sizes=(6,))
    assert fast.n_iter_ == sk.n_iter_
    assert fast.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    for a, b in zip(fast.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.abs(b).max())


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_warm_start_and_partial_fit_parity(solver):
    X, y = make_task("multiclass", np.float64)
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=4, random_state=0, warm_start=True)
    fast, sk = pair("multiclass", **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            fast.fit(X, y)
            sk.fit(X, y)
    assert_same_fit(fast, sk, np.float64)

    fast, sk = pair("multiclass", hidden_layer_sizes=(6,), solver=solver, random_state=0)
    for start in range(0, 120, 40):
        fast.partial_fit(X[start : start + 40], y[start : start + 40], classes=np.unique(y))
        sk.partial_fit(X[start : start + 40], y[start : start + 40], classes=np.unique(y))
    assert_same_fit(fast, sk, np.float64)


def test_same_initial_weights_given_by_hand():
    """Start both from identical hand-set weights (warm_start) and compare one epoch."""
    X, y = make_task("regression", np.float64)
    rng = np.random.RandomState(5)
    fast, sk = pair("regression", hidden_layer_sizes=(4,), warm_start=True, max_iter=1, random_state=0, solver="sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast.fit(X, y)
        sk.fit(X, y)
        for model in (fast, sk):
            model.coefs_ = [rng.normal(size=c.shape) for c in sk.coefs_]
            model.intercepts_ = [rng.normal(size=b.shape) for b in sk.intercepts_]
            rng = np.random.RandomState(5)
        fast.fit(X, y)
        sk.fit(X, y)
    assert_same_fit(fast, sk, np.float64)
