"""Features scikit-learn declined (issue 5): each one tested here on the CPU; CUDA twins in tests/cuda."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fastbp import BackpropClassifier, BackpropRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NEW_ACTIVATIONS = ["leaky_relu", "elu", "gelu", "silu", "softplus"]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:500], y[:500]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
def test_new_activations_train(digits, activation, dtype):
    X, y = digits
    clf = BackpropClassifier(hidden_layer_sizes=(32,), activation=activation, max_iter=30,
                             learning_rate_init=0.01, random_state=0).fit(X.astype(dtype), y)
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X.astype(dtype), y) > 0.9
    assert clf.coefs_[0].dtype == dtype


def _heteroscedastic(n=3000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 1))
    y = X[:, 0] + (0.2 + 0.3 * (X[:, 0] + 1)) * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_quantile_loss_predicts_the_quantile(alpha):
    X, y = _heteroscedastic()
    reg = BackpropRegressor(loss="quantile", quantile_alpha=alpha, hidden_layer_sizes=(16,), max_iter=150,
                            learning_rate_init=0.01, random_state=0).fit(X, y)
    coverage = np.mean(y <= reg.predict(X))
    assert abs(coverage - alpha) < 0.04


def test_absolute_and_huber_losses_resist_outliers():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(1000, 1))
    y = 2 * X[:, 0] + 0.05 * rng.normal(size=1000)
    y[:50] += 30.0  # gross outliers
    clean = 2 * X[:, 0]
    errors = {}
    for loss in ["squared_error", "absolute_error", "huber"]:
        reg = BackpropRegressor(loss=loss, huber_delta=0.5, hidden_layer_sizes=(16,), max_iter=200,
                                learning_rate_init=0.01, random_state=0).fit(X, y)
        errors[loss] = np.median(np.abs(reg.predict(X[50:]) - clean[50:]))
    assert errors["absolute_error"] < errors["squared_error"] / 3
    assert errors["huber"] < errors["squared_error"] / 3


def test_new_loss_values_match_their_formulas():
    """loss_ of a one-batch, zero-learning-rate-like epoch equals the formula on the outputs."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=(40, 2))
    for loss, formula in [
        ("absolute_error", lambda r: np.abs(r)),
        ("huber", lambda r: np.where(np.abs(r) <= 0.7, 0.5 * r**2, 0.7 * (np.abs(r) - 0.35))),
        ("quantile", lambda r: np.where(r >= 0, 0.3 * r, (0.3 - 1) * r)),
    ]:
        reg = BackpropRegressor(loss=loss, huber_delta=0.7, quantile_alpha=0.3, hidden_layer_sizes=(4,), alpha=0.0,
                                solver="sgd", learning_rate_init=1e-12, momentum=0.0, batch_size=40, max_iter=1,
                                random_state=0, shuffle=False)
        reg.fit(X, y)
        expected = formula(y - reg.predict(X)).sum(axis=1).mean()
        assert reg.loss_ == pytest.approx(expected, rel=1e-6), loss


def test_label_smoothing_softens_probabilities(digits):
    X, y = digits
    hard = BackpropClassifier(max_iter=60, random_state=0).fit(X, y)
    soft = BackpropClassifier(max_iter=300, random_state=0, label_smoothing=0.2).fit(X, y)
    assert soft.predict_proba(X).max(axis=1).mean() < hard.predict_proba(X).max(axis=1).mean()
    # the optimum probability of the true class is 1 - 0.2 + 0.2 / 10 = 0.82
    assert abs(np.median(soft.predict_proba(X).max(axis=1)) - 0.82) < 0.05
    assert soft.score(X, y) > 0.9


def test_label_smoothing_loss_is_cross_entropy_with_smoothed_targets():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4))
    y = rng.randint(3, size=30)
    clf = BackpropClassifier(hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=1e-12, momentum=0.0, alpha=0.0,
                             batch_size=30, max_iter=1, shuffle=False, random_state=0, label_smoothing=0.3).fit(X, y)
    target = np.eye(3)[y] * 0.7 + 0.1
    expected = -(target * np.log(clf.predict_proba(X))).sum(axis=1).mean()
    assert clf.loss_ == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("params,name", [
    (dict(label_smoothing=1.0), "label_smoothing"),
    (dict(label_smoothing=-0.1), "label_smoothing"),
])
def test_bad_feature_parameters(digits, params, name):
    X, y = digits
    with pytest.raises(ValueError, match=name):
        BackpropClassifier(**params).fit(X, y)


@pytest.mark.parametrize("params,name", [
    (dict(loss="huber", huber_delta=0.0), "huber_delta"),
    (dict(loss="quantile", quantile_alpha=1.0), "quantile_alpha"),
])
def test_bad_regression_loss_parameters(params, name):
    X, y = _heteroscedastic(50)
    reg = BackpropRegressor(**params)
    with pytest.raises(ValueError, match=name):
        reg.fit(X, y)
    assert not hasattr(reg, "coefs_")
