"""Features scikit-learn declined: each one tested here on the CPU; CUDA twins in tests/kernels/cuda."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from fastbp import BackpropClassifier, BackpropRegressor

import reference

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NEW_ACTIVATIONS = ["leaky_relu", "elu", "gelu", "silu", "softplus"]


@pytest.fixture(scope="module")
def digits(digits_all):
    X, y = digits_all
    return X[:500], y[:500]


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


# ---------------------------------------------------------------- optimizers
def _one_step(solver, **params):
    """A one-batch, one-epoch fit and the same step in NumPy from the oracle's gradient."""
    import reference

    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3))
    y = rng.normal(size=20)
    kw = dict(hidden_layer_sizes=(4,), activation="tanh", solver=solver, batch_size=20, max_iter=1, shuffle=False,
              random_state=0, learning_rate_init=0.05, alpha=0.1, **params)
    start = BackpropRegressor(**{**kw, "learning_rate_init": 1e-300}).fit(X, y)  # the initial weights, unchanged
    after = BackpropRegressor(**kw).fit(X, y)
    coefs = [c.copy() for c in start.coefs_]
    intercepts = [b.copy() for b in start.intercepts_]
    alpha_in_grad = 0.0 if solver == "adamw" else 0.1
    _, gW, gb = reference.loss_and_grad(X, y[:, None], np.ones(20), coefs, intercepts, "tanh", "identity",
                                        "squared_error", alpha_in_grad)
    return coefs + intercepts, gW + gb, after.coefs_ + after.intercepts_


def test_adamw_step_closed_form():
    params, grads, got = _one_step("adamw")
    for k, (p, g, q) in enumerate(zip(params, grads, got)):
        m, v = 0.1 * g, 0.001 * g * g
        lr_t = 0.05 * np.sqrt(1 - 0.999) / (1 - 0.9)
        decay = 0.05 * 0.1 if k < 2 else 0.0  # weights only
        np.testing.assert_allclose(q, p - decay * p - lr_t * m / (np.sqrt(v) + 1e-8), rtol=1e-9, atol=1e-12)


def test_rmsprop_step_closed_form():
    params, grads, got = _one_step("rmsprop")
    for p, g, q in zip(params, grads, got):
        v = (1 - 0.999) * g * g
        np.testing.assert_allclose(q, p - 0.05 * g / (np.sqrt(v) + 1e-8), rtol=1e-9, atol=1e-12)


def test_max_grad_norm_clips_the_step():
    params, grads, got = _one_step("sgd", momentum=0.0, max_grad_norm=1e-3)
    norm = np.sqrt(sum(np.sum(g * g) for g in grads))
    assert norm > 1e-3
    for p, g, q in zip(params, grads, got):
        np.testing.assert_allclose(q, p - 0.05 * g * (1e-3 / norm), rtol=1e-9, atol=1e-13)


def test_l1_step_and_sparsity():
    params, grads, got = _one_step("sgd", momentum=0.0, l1=0.5)
    for k, (p, g, q) in enumerate(zip(params, grads, got)):
        l1 = 0.5 * np.sign(p) / 20 if k < 2 else 0.0
        np.testing.assert_allclose(q, p - 0.05 * (g + l1), rtol=1e-9, atol=1e-13)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 10))
    y = X[:, 0] - X[:, 1]
    dense = BackpropRegressor(hidden_layer_sizes=(8,), max_iter=200, random_state=0, learning_rate_init=0.01).fit(X, y)
    sparse = BackpropRegressor(hidden_layer_sizes=(8,), max_iter=200, random_state=0, learning_rate_init=0.01,
                               l1=5.0).fit(X, y)
    assert np.abs(sparse.coefs_[0][2:]).sum() < 0.5 * np.abs(dense.coefs_[0][2:]).sum()


# ----------------------------------------------------------------- schedules
def test_schedule_factors():
    from fastbp.optim.schedules import epoch_factor

    assert epoch_factor("cosine", 0, 10, 0.5, 10, 0) == 1.0
    assert epoch_factor("cosine", 5, 10, 0.5, 10, 0) == pytest.approx(0.5)
    assert epoch_factor("step", 25, 100, 0.5, 10, 0) == 0.25
    assert epoch_factor("exponential", 3, 100, 0.9, 10, 0) == pytest.approx(0.729)
    cycle = [epoch_factor("one_cycle", e, 100, 0.5, 10, 0) for e in range(100)]
    assert cycle[0] == pytest.approx(1 / 25) and max(cycle) == pytest.approx(1.0) and cycle[-1] < 1e-3
    assert int(np.argmax(cycle)) == 30
    assert epoch_factor("constant", 1, 10, 0.5, 10, 3) == pytest.approx(0.5)  # warmup (1+1)/(3+1)


class Recorder:
    def __init__(self):
        self.logs = []

    def on_epoch_end(self, estimator, epoch, logs):
        self.logs.append(dict(logs, epoch=epoch))
        return False


def test_partial_fit_walks_through_the_schedule(digits):
    X, y = digits
    seen = []

    class Record:
        def on_epoch_end(self, estimator, epoch, logs):
            seen.append(logs["learning_rate"])

    clf = BackpropClassifier(learning_rate="step", lr_decay=0.5, lr_step_size=1, learning_rate_init=0.01,
                             warmup_epochs=1, callbacks=[Record()], random_state=0)
    for _ in range(4):
        clf.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_allclose(seen, [0.01 * 0.5, 0.01 * 0.5, 0.01 * 0.25, 0.01 * 0.125])  # warmup, then decay
    from fastbp.optim.schedules import epoch_factor

    assert epoch_factor("cosine", 12, 10, 0.5, 10, 0) == 0.0  # past max_iter: held at the end


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
def test_schedules_drive_every_solver(digits, solver):
    X, y = digits
    rec = Recorder()
    BackpropClassifier(solver=solver, learning_rate="step", lr_decay=0.5, lr_step_size=2, warmup_epochs=1,
                       learning_rate_init=0.01, max_iter=6, random_state=0, callbacks=[rec]).fit(X, y)
    rates = [log["learning_rate"] for log in rec.logs]
    np.testing.assert_allclose(rates, [0.005, 0.01, 0.005, 0.005, 0.0025, 0.0025])


def test_adaptive_also_for_adam(digits):
    X, y = digits
    clf = BackpropClassifier(solver="adam", learning_rate="adaptive", n_iter_no_change=1, tol=1e3, max_iter=6,
                             random_state=0).fit(X, y)
    assert clf.n_iter_ == 6  # adaptive divides the rate instead of stopping
    assert clf._optimizer.learning_rate == pytest.approx(0.001 / 5**2)  # plateaus end epochs 3 and 5


# ------------------------------------------------------------------- dropout
def test_dropout_preserves_the_expected_activation():
    from fastbp.backends.cpu import CPUBackend
    from fastbp.kernels.cpu.dense import apply_dropout
    from fastbp.nn.layout import Layout
    from fastbp.nn.spec import network_spec

    spec = network_spec(Layout([3, 400, 1]), "relu", "identity", "squared_error", np.float64, dropout=[0.3])
    backend = CPUBackend(spec, seed=7)
    A = np.ones((500, 400))
    apply_dropout(A, np.arange(500, dtype=np.int64), backend.net.extensions, 0)
    assert abs((A == 0).mean() - 0.3) < 0.01
    assert abs(A.mean() - 1.0) < 0.01  # inverted dropout: E[mask / (1 - p)] = 1
    assert np.allclose(A[A != 0], 1 / 0.7)


def test_dropout_is_reproducible_off_at_predict_and_regularises():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 20))
    y = X[:, 0] + 0.5 * rng.normal(size=60)
    X_test = rng.normal(size=(500, 20))
    make = lambda **kw: BackpropRegressor(hidden_layer_sizes=(200, 200), max_iter=300, learning_rate_init=0.003,
                                          alpha=0.0, random_state=0, **kw).fit(X, y)
    plain, dropped, again = make(), make(dropout=0.5), make(dropout=0.5)
    np.testing.assert_array_equal(dropped.coefs_[0], again.coefs_[0])  # same random_state, same masks
    # no dropout at predict: the plain NumPy forward pass of the same weights, no mask, no rescaling
    expected = reference.forward(X_test, dropped.coefs_, dropped.intercepts_, "relu", "identity")[-1].ravel()
    np.testing.assert_allclose(dropped.predict(X_test), expected, rtol=1e-10, atol=1e-12)
    assert not np.allclose(make(dropout=0.5, warm_start=False).coefs_[0], plain.coefs_[0])
    assert dropped.score(X, y) < plain.score(X, y)  # it no longer interpolates the training set
    with pytest.raises(ValueError, match="dropout"):
        BackpropRegressor(hidden_layer_sizes=(5, 5), dropout=[0.1, 0.2, 0.3]).fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        BackpropRegressor(dropout=1.0).fit(X, y)
    with pytest.raises(ValueError, match="lbfgs"):
        BackpropRegressor(dropout=0.2, solver="lbfgs").fit(X, y)


# ------------------------------------------------------ weights and init
def test_class_weight_balanced_and_dict():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=1000) > 1.6).astype(int)  # about 8% positives
    plain = BackpropClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0).fit(X, y)
    balanced = BackpropClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0, class_weight="balanced").fit(X, y)
    recall = lambda m: m.predict(X)[y == 1].mean()
    assert recall(balanced) > recall(plain) + 0.2
    as_dict = BackpropClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, class_weight={1: 3.0}).fit(X, y)
    as_sw = BackpropClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_allclose(as_dict.coefs_[0], as_sw.coefs_[0])
    with pytest.raises(ValueError, match="class_weight"):
        BackpropClassifier(class_weight={7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        BackpropClassifier(class_weight="even").fit(X, y)


def test_he_init_bounds():
    X = np.random.RandomState(0).normal(size=(10, 50))
    clf = BackpropClassifier(hidden_layer_sizes=(30,), init="he", max_iter=1, learning_rate_init=1e-300,
                             random_state=0).fit(X, np.arange(10) % 2)
    bound = np.sqrt(6 / 50)
    assert np.abs(clf.coefs_[0]).max() <= bound and np.abs(clf.coefs_[0]).max() > 0.9 * bound


# -------------------------------------------------------------- validation
def test_given_validation_set_and_curves(digits):
    X, y = digits
    clf = BackpropClassifier(max_iter=8, random_state=0).fit(X[:400], y[:400], X_val=X[400:], y_val=y[400:])
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_ == 8
    proba = clf.predict_proba(X[400:])
    expected = -np.mean(np.log(np.clip(proba[np.arange(100), y[400:]], 1e-16, 1)))
    assert clf.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-6)
    assert clf.validation_scores_[-1] == pytest.approx(clf.score(X[400:], y[400:]))
    stopped = BackpropClassifier(max_iter=300, early_stopping=True, n_iter_no_change=3, random_state=0)
    stopped.fit(X[:400], y[:400], X_val=X[400:], y_val=y[400:])
    assert stopped.t_ == 400 * stopped.n_iter_  # no split: every training sample trains
    with pytest.raises(ValueError, match="together"):
        BackpropClassifier().fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="classes not seen"):
        BackpropClassifier(max_iter=2).fit(X[y < 5], y[y < 5], X_val=X, y_val=y)


def test_regressor_validation_set_on_a_first_fit():
    """The validation targets are checked against y's outputs before any fitted state exists."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=(60, 2))
    reg = BackpropRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(X[:40], y[:40], X_val=X[40:], y_val=y[40:])
    assert len(reg.validation_loss_curve_) == 3
    fresh = BackpropRegressor(hidden_layer_sizes=(4,), max_iter=3)
    with pytest.raises(ValueError, match=r"different number of outputs than y \(2\)"):
        fresh.fit(X[:40], y[:40], X_val=X[40:], y_val=y[40:, 0])
    assert not hasattr(fresh, "coefs_")


def test_early_stopping_on_validation_loss(digits):
    X, y = digits
    clf = BackpropClassifier(max_iter=300, early_stopping=True, early_stopping_metric="loss", n_iter_no_change=4,
                             learning_rate_init=0.02, random_state=0).fit(X, y)
    best = int(np.argmin(clf.validation_loss_curve_))
    assert clf.n_iter_ < 300 and clf.n_iter_ - 1 - best >= 4
    probe = BackpropClassifier(max_iter=best + 1, early_stopping=True, n_iter_no_change=10**6, early_stopping_metric="loss",
                               learning_rate_init=0.02, random_state=0).fit(X, y)
    for a, b in zip(clf.coefs_, probe.coefs_):
        np.testing.assert_allclose(a, b)


def test_restore_best_weights_on_training_loss():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, -2.0, 0.5]
    kw = dict(solver="sgd", learning_rate_init=0.3, momentum=0.95, max_iter=30, random_state=0, hidden_layer_sizes=(6,))
    noisy = BackpropRegressor(**kw, restore_best_weights=True).fit(X, y)
    best = int(np.argmin(noisy.loss_curve_))
    assert best < len(noisy.loss_curve_) - 1  # the test needs a non-monotone curve
    probe = BackpropRegressor(**{**kw, "max_iter": best + 1}).fit(X, y)
    for a, b in zip(noisy.coefs_, probe.coefs_):
        np.testing.assert_allclose(a, b)


# ------------------------------------------------ callbacks and progress
def test_callbacks_see_every_epoch_and_can_stop(digits):
    X, y = digits

    class StopAt:
        def on_epoch_end(self, estimator, epoch, logs):
            return epoch == 2

    rec = Recorder()
    clf = BackpropClassifier(max_iter=50, random_state=0, callbacks=[rec, StopAt()]).fit(X, y)
    assert clf.n_iter_ == 3 and [log["epoch"] for log in rec.logs] == [0, 1, 2]
    assert [log["loss"] for log in rec.logs] == clf.loss_curve_
    silent = BackpropClassifier(max_iter=3, random_state=0, callbacks=[Recorder()]).fit(X, y)
    plain = BackpropClassifier(max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(silent.coefs_[0], plain.coefs_[0])
    with pytest.raises(ValueError, match="on_epoch_end"):
        BackpropClassifier(callbacks=[object()]).fit(X, y)


def test_progress_bar_needs_tqdm(digits, monkeypatch):
    import sys

    X, y = digits
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="pip install tqdm"):
        BackpropClassifier(max_iter=2, progress_bar=True).fit(X, y)
