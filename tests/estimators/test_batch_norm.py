"""Batch normalisation (``batch_norm=True``): gradients, statistics, prediction, estimator contract."""

import pickle

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp.backends.cpu import thread_limits
from helpers import LOSS_PAIRS, Net, finite_differences, make_problem
import reference

UNITS = [5, 7, 4, 3]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss,out,kind", [LOSS_PAIRS[0], LOSS_PAIRS[2], LOSS_PAIRS[3], LOSS_PAIRS[5]])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "gelu", "identity"])
def test_gradient_through_batch_statistics_matches_finite_differences(activation, loss, out, kind, dtype):
    X, y, sw = make_problem(kind, n=29, dtype=dtype)
    net = Net(UNITS, activation, out, loss, dtype, batch_norm=True)
    alpha = 0.2
    _, grad = net.loss_grad(X, y, sw, alpha=alpha)
    net64 = Net(UNITS, activation, out, loss, np.float64, batch_norm=True)
    X64, y64, sw64 = (a.astype(np.float64) for a in (X, y, sw))
    theta = net.theta.astype(np.float64)
    fd = finite_differences(net64, X64, y64, sw64, theta, alpha)
    if loss == "squared_error":  # sklearn's stochastic gradient: n_outputs times the mean loss's (test_gradients)
        penalty = alpha * np.concatenate([theta[: net.layout.n_coef], np.zeros(theta.size - net.layout.n_coef)]) / sw64.sum()
        fd = (fd - penalty) * y.shape[1] + penalty
    rtol, atol = (1e-6, 1e-8) if dtype == np.float64 else (2e-3, 3e-4)
    np.testing.assert_allclose(grad, fd, rtol=rtol, atol=atol)
    # The hidden layers' own intercepts do not enter the function: their gradient is exactly 0.
    for l in range(len(UNITS) - 2):
        start = net.layout.b_off[l]
        assert np.all(grad[start : start + UNITS[l + 1]] == 0.0)
    # ... while the scales and shifts have a gradient.
    assert np.abs(grad[net.layout.base_size :]).max() > 1e-3


@pytest.mark.parametrize("n_threads", [1, 2, 3, 7])
def test_statistics_and_loss_match_the_numpy_reference_for_any_thread_count(n_threads):
    """Column sums are reduced across threads; 7 threads over 29 rows leaves blocks of 4 and 5."""
    X, y, sw = make_problem("onehot", n=29)
    net = Net(UNITS, "tanh", "softmax", "log_loss", np.float64, batch_norm=True, n_threads=n_threads)
    # More blocks of rows than this machine may have threads: prange runs them all anyway.
    net.backend.limits = lambda: thread_limits(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    value, grad = net.loss_grad(X, y, sw, alpha=0.0)
    coefs, intercepts = net.layout.unpack(net.theta)
    scales, shifts = net.layout.unpack_norm(net.theta)
    P, means, variances = reference.forward_batch_norm(
        X, coefs, scales, shifts, intercepts[-1], "tanh", "softmax", 1e-5, sw=sw
    )
    assert value == pytest.approx(reference.data_loss(y, P, "log_loss", sw), rel=1e-12)
    np.testing.assert_allclose(net.norm_stats[2], np.concatenate(means), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(net.norm_stats[3], np.concatenate(variances), rtol=1e-12)
    reference_grad = Net(UNITS, "tanh", "softmax", "log_loss", np.float64, batch_norm=True, n_threads=1).loss_grad(X, y, sw)[1]
    np.testing.assert_allclose(grad, reference_grad, rtol=1e-10, atol=1e-14)


def test_sparse_input_gives_the_dense_gradient():
    X, y, sw = make_problem("onehot", n=40, n_features=5)
    X[np.random.RandomState(3).rand(*X.shape) < 0.6] = 0.0
    net = Net(UNITS, "relu", "softmax", "log_loss", np.float64, batch_norm=True)
    dense = net.loss_grad(X, y, sw, alpha=0.1)
    sparse = net.loss_grad(sp.csr_matrix(X), y, sw, alpha=0.1)
    assert sparse[0] == pytest.approx(dense[0], rel=1e-12)
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-10, atol=1e-14)


def test_lbfgs_predicts_with_the_statistics_of_the_training_set(digits_all):
    """After L-BFGS the running statistics are the full training set's: predict equals the training-mode network."""
    X, y = digits_all
    X, y = X[:300], y[:300]
    clf = BackpropClassifier((20, 12), solver="lbfgs", batch_norm=True, max_iter=15, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    P, means, variances = reference.forward_batch_norm(
        X, clf.coefs_, clf.batch_norm_scales_, clf.batch_norm_shifts_, clf.intercepts_[-1], "relu", "softmax", 1e-5
    )
    for l in range(2):
        np.testing.assert_allclose(clf.batch_norm_means_[l], means[l], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(clf.batch_norm_vars_[l], variances[l], rtol=1e-9)
    np.testing.assert_allclose(clf.predict_proba(X), P, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_running_statistics_follow_the_momentum_recursion(dtype):
    """With a negligible learning rate, the running statistics are the momentum
    recursion over the mini-batches' means and variances."""
    rng = np.random.RandomState(0)
    X = rng.normal(2.0, 3.0, size=(50, 4)).astype(dtype)
    y = rng.normal(size=50).astype(dtype)
    momentum, batch = 0.3, 16  # batches of 16, 16, 16, 2
    reg = BackpropRegressor(hidden_layer_sizes=(6,), batch_norm=True, batch_norm_momentum=momentum, batch_size=batch, shuffle=False,
                            learning_rate_init=1e-12, max_iter=3, random_state=0)
    with pytest.warns(Warning):
        reg.fit(X, y)
    Z = X.astype(np.float64) @ reg.coefs_[0].astype(np.float64)
    mean, var = np.zeros(6), np.ones(6)
    for _ in range(3):
        for start in range(0, 50, batch):
            z = Z[start : start + batch]
            mean = (1 - momentum) * mean + momentum * z.mean(axis=0)
            var = (1 - momentum) * var + momentum * z.var(axis=0)
    rtol = 1e-7 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(reg.batch_norm_means_[0], mean, rtol=rtol)
    np.testing.assert_allclose(reg.batch_norm_vars_[0], var, rtol=rtol)


def test_sample_weights_count_like_repeated_samples():
    """The statistics are weighted: weight 2 is the sample twice, weight 0 the sample left out
    (full-batch L-BFGS, so the batches are the same data)."""
    rng = np.random.RandomState(0)
    X = rng.normal(1.0, 2.0, size=(40, 4))
    y = rng.normal(size=40)
    sw = rng.randint(0, 3, size=40)
    kwargs = dict(hidden_layer_sizes=(5,), solver="lbfgs", batch_norm=True, max_iter=20, random_state=0)
    with pytest.warns(Warning):
        weighted = BackpropRegressor(**kwargs).fit(X, y, sample_weight=sw)
        repeated = BackpropRegressor(**kwargs).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    np.testing.assert_allclose(weighted.batch_norm_means_[0], repeated.batch_norm_means_[0], rtol=1e-7)
    np.testing.assert_allclose(weighted.batch_norm_vars_[0], repeated.batch_norm_vars_[0], rtol=1e-7)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6, atol=1e-9)


def test_a_batch_of_one_row_leaves_the_running_statistics_alone():
    X = np.random.RandomState(1).normal(size=(5, 3))
    y = np.arange(5.0)
    reg = BackpropRegressor(hidden_layer_sizes=(4,), batch_norm=True, batch_size=1, max_iter=2, shuffle=False, random_state=0)
    with pytest.warns(UserWarning, match="mini-batches of one sample"), pytest.warns(ConvergenceWarning):
        reg.fit(X, y)
    np.testing.assert_array_equal(reg.batch_norm_means_[0], 0.0)
    np.testing.assert_array_equal(reg.batch_norm_vars_[0], 1.0)
    assert np.isfinite(reg.predict(X)).all()


def test_prediction_statistics_approach_those_of_the_training_data(digits_all):
    """Statistical check, train vs predict: after training, the running statistics
    the model predicts with are close to the hidden pre-activations' statistics on the training data."""
    X, y = digits_all
    clf = BackpropClassifier((32,), batch_norm=True, max_iter=15, random_state=0, batch_size=64)
    with pytest.warns(Warning):
        clf.fit(X, y)
    Z = X @ clf.coefs_[0]
    std = Z.std(axis=0)
    active = std > 1e-3
    assert np.median(np.abs(clf.batch_norm_means_[0] - Z.mean(axis=0))[active] / std[active]) < 0.1
    ratio = clf.batch_norm_vars_[0][active] / Z.var(axis=0)[active]
    assert 0.8 < np.median(ratio) < 1.25
    # At prediction every hidden unit is then normalised to about zero mean and unit variance.
    xhat = (Z - clf.batch_norm_means_[0]) / np.sqrt(clf.batch_norm_vars_[0] + 1e-5)
    assert abs(np.median(xhat.mean(axis=0)[active])) < 0.1
    assert 0.8 < np.median(xhat.var(axis=0)[active]) < 1.25


def test_prediction_of_a_row_does_not_depend_on_its_batch(digits_all):
    X, y = digits_all
    clf = BackpropClassifier((16, 8), batch_norm=True, max_iter=3, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X[:400], y[:400])
    together = clf.predict_proba(X[:50])
    alone = np.vstack([clf.predict_proba(X[i : i + 1]) for i in range(0, 50, 7)])
    np.testing.assert_allclose(alone, together[::7], rtol=1e-12, atol=1e-15)


def test_batch_norm_trains_reproducibly_and_changes_the_model(digits_all):
    X, y = digits_all
    kwargs = dict(hidden_layer_sizes=(24,), max_iter=4, random_state=3)
    with pytest.warns(Warning):
        a = BackpropClassifier(batch_norm=True, **kwargs).fit(X, y)
        b = BackpropClassifier(batch_norm=True, **kwargs).fit(X, y)
        plain = BackpropClassifier(**kwargs).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    np.testing.assert_array_equal(a.batch_norm_vars_[0], b.batch_norm_vars_[0])
    assert a.loss_curve_ == b.loss_curve_
    assert a.loss_curve_ != plain.loss_curve_
    assert not hasattr(plain, "batch_norm_scales_")
    # Normalised hidden units learn faster here (the reason batch norm exists): lower loss after 4 epochs.
    assert a.loss_curve_[-1] < plain.loss_curve_[-1]


def test_float32_stays_float32(digits_all):
    X, y = digits_all
    with pytest.warns(Warning):
        clf = BackpropClassifier((16,), batch_norm=True, max_iter=2, random_state=0).fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32
    assert clf.batch_norm_scales_[0].dtype == np.float32
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_partial_fit_warm_start_pickle_and_clone(digits_all):
    X, y = digits_all
    clf = BackpropClassifier((16,), batch_norm=True, random_state=0)
    clf.partial_fit(X, y, classes=np.unique(y))
    first = [m.copy() for m in clf.batch_norm_means_]
    clf.partial_fit(X, y)
    assert not np.allclose(first[0], clf.batch_norm_means_[0])  # running statistics carried on
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).batch_norm is True
    warm = BackpropClassifier((16,), batch_norm=False, warm_start=True, random_state=0)
    warm.partial_fit(X, y, classes=np.unique(y))
    warm.set_params(batch_norm=True)
    with pytest.raises(ValueError, match="batch_norm=True but the network fitted before"):
        warm.fit(X, y)


def test_refit_without_batch_norm_drops_its_attributes(digits_all):
    X, y = digits_all
    clf = BackpropClassifier((8,), batch_norm=True, max_iter=1, random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
        clf.set_params(batch_norm=False).fit(X, y)
    assert not hasattr(clf, "batch_norm_means_")


def test_restore_best_weights_restores_the_running_statistics_too(digits_all):
    X, y = digits_all
    X_train, y_train, X_val, y_val = X[:1200], y[:1200], X[1200:], y[1200:]
    kwargs = dict(hidden_layer_sizes=(16,), batch_norm=True, random_state=0, learning_rate_init=0.05,
                  early_stopping_metric="loss")
    with pytest.warns(Warning):
        best_of = BackpropClassifier(restore_best_weights=True, max_iter=12, **kwargs).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    best = int(np.argmin(best_of.validation_loss_curve_))
    assert best < 11, "the setting must make the best epoch an earlier one"
    with pytest.warns(Warning):
        upto = BackpropClassifier(max_iter=best + 1, **kwargs).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    np.testing.assert_array_equal(best_of.batch_norm_means_[0], upto.batch_norm_means_[0])
    np.testing.assert_array_equal(best_of.batch_norm_vars_[0], upto.batch_norm_vars_[0])
    np.testing.assert_array_equal(best_of.coefs_[0], upto.coefs_[0])


@pytest.mark.parametrize("name,value", [("batch_norm", 1), ("batch_norm_momentum", 1.5), ("batch_norm_epsilon", 0.0)])
def test_bad_batch_norm_parameters_are_named(name, value, digits_all):
    X, y = digits_all
    with pytest.raises(ValueError, match=name):
        BackpropClassifier(**{name: value}).fit(X[:20], y[:20])


def test_no_hidden_layer_means_nothing_to_normalise(digits_all):
    X, y = digits_all
    with pytest.warns(Warning):
        clf = BackpropClassifier((), batch_norm=True, max_iter=2, random_state=0).fit(X, y)
        ref = BackpropClassifier((), max_iter=2, random_state=0).fit(X, y)
    assert clf.batch_norm_scales_ == [] and clf.batch_norm_means_ == []
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=1e-12)
