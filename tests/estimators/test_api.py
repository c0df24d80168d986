"""Behaviour of the estimators as a scikit-learn user sees it."""

import pickle
import re

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import BackpropClassifier, BackpropRegressor

import reference
from fastbp.backends.cpu import CPUBackend, CPUTrainer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits(digits_all):
    X, y = digits_all
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=150, n_features=6, n_targets=2, random_state=0)
    return X, y / y.std()


#: Parameters fastbp adds to scikit-learn's, each defaulting to sklearn's behaviour.
EXTRA_COMMON = {
    "device": "cpu", "init": "glorot", "dropout": 0.0, "l1": 0.0, "max_grad_norm": None, "batch_norm": False,
    "batch_norm_momentum": 0.1, "batch_norm_epsilon": 1e-5, "lr_decay": None,
    "lr_step_size": None, "warmup_epochs": 0, "early_stopping_metric": "score", "restore_best_weights": False,
    "progress_bar": False, "callbacks": None, "init_from": None, "frozen_layers": 0,
}
EXTRA_PARAMS = {
    BackpropClassifier: {**EXTRA_COMMON, "label_smoothing": 0.0, "class_weight": None},
    BackpropRegressor: {**EXTRA_COMMON, "huber_delta": 1.0, "quantile_alpha": 0.5},
}


def test_same_parameters_and_defaults_as_sklearn():
    for ours, theirs in [(BackpropClassifier, MLPClassifier), (BackpropRegressor, MLPRegressor)]:
        params = ours().get_params()
        assert {k: params[k] for k in theirs().get_params()} == theirs().get_params()
        assert {k: v for k, v in params.items() if k not in theirs().get_params()} == EXTRA_PARAMS[ours]


def test_fitted_attributes_like_sklearn(digits):
    X, y = digits
    ours = BackpropClassifier(max_iter=5, random_state=0).fit(X, y)
    theirs = MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    public = lambda est: {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
    assert public(ours) == public(theirs) | {"validation_loss_curve_"}  # the one fastbp adds
    assert ours.out_activation_ == "softmax" and ours.n_layers_ == 3 and ours.n_outputs_ == 10


def test_float32_stays_float32(digits):
    X, y = digits
    clf = BackpropClassifier(max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert BackpropClassifier(max_iter=3, random_state=0).fit(X, y).coefs_[0].dtype == np.float64


def test_predict_proba_and_log_proba(digits):
    X, y = digits
    clf = BackpropClassifier(max_iter=20, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))
    assert clf.score(X, y) > 0.85


def test_binary_string_labels():
    X, y = make_classification(n_samples=100, random_state=0)
    labels = np.array(["no", "yes"])[y]
    clf = BackpropClassifier(max_iter=30, random_state=0).fit(X, labels)
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert clf.predict_proba(X).shape == (100, 2)
    assert clf.out_activation_ == "logistic"


def test_multilabel():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0]).astype(int)
    clf = BackpropClassifier(max_iter=200, random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert (clf.predict(X) == Y).mean() > 0.9


def test_multioutput_regression(regression):
    X, y = regression
    reg = BackpropRegressor(max_iter=300, random_state=0).fit(X, y)
    assert reg.predict(X).shape == y.shape
    assert reg.score(X, y) > 0.9


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_input_equals_dense(digits, fmt):
    X, y = digits
    dense = BackpropClassifier(max_iter=5, random_state=0).fit(X, y)
    sparse = BackpropClassifier(max_iter=5, random_state=0).fit(fmt(X), y)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(sparse.predict_proba(fmt(X)), dense.predict_proba(X), rtol=1e-8)


def test_sparse_first_layer_is_not_densified(digits, monkeypatch):
    """The kernels receive CSR arrays and an empty dense block."""
    X, y = digits
    seen = []
    original = CPUBackend.trainer

    def spy(self, data, *args):
        seen.append((data[0].shape, data[1].shape))
        return original(self, data, *args)

    monkeypatch.setattr(CPUBackend, "trainer", spy)
    Xs = sp.csr_matrix(X)
    BackpropClassifier(max_iter=2, random_state=0).fit(Xs, y)
    assert seen[0] == ((0, 64), (Xs.nnz,))


def test_pickle_joblib_clone(digits, tmp_path):
    X, y = digits
    clf = BackpropClassifier(max_iter=5, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict_proba(X), expected)
    fresh = clone(clf)
    assert not hasattr(fresh, "coefs_") and fresh.get_params() == clf.get_params()
    # an unpickled model keeps training
    again = pickle.loads(pickle.dumps(clf)).set_params(warm_start=True)
    again.fit(X, y)
    assert again.n_iter_ == 5


def test_pipeline_and_grid_search(digits):
    X, y = digits
    grids = []
    for model in (BackpropClassifier, MLPClassifier):
        pipe = make_pipeline(StandardScaler(), model(max_iter=30, learning_rate_init=0.01, random_state=0))
        name = model.__name__.lower()
        grid = GridSearchCV(pipe, {f"{name}__alpha": [1e-4, 1e-1], f"{name}__hidden_layer_sizes": [(20,), (40,)]}, cv=2, n_jobs=2)
        grids.append(grid.fit(X, y))
    ours, theirs = grids
    assert ours.best_score_ > 0.8
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], rtol=1e-6)


def test_warm_start_continues(digits):
    X, y = digits
    clf = BackpropClassifier(max_iter=3, random_state=0, warm_start=True)
    clf.fit(X, y)
    first = [c.copy() for c in clf.coefs_]
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 6
    assert not np.allclose(first[0], clf.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 5], y[y < 5])


def test_partial_fit_requires_classes_and_stochastic_solver(digits):
    X, y = digits
    clf = BackpropClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 3], y[y < 3], classes=np.arange(10))
    assert list(clf.classes_) == list(range(10)) and clf.n_iter_ == 1
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 10)
    assert not hasattr(BackpropClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(BackpropRegressor(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        BackpropRegressor(early_stopping=True).partial_fit(X, y.astype(float))


def test_early_stopping_restores_best_weights(digits):
    X, y = digits
    clf = BackpropClassifier(early_stopping=True, n_iter_no_change=2, max_iter=100, random_state=0, learning_rate_init=0.05)
    clf.fit(X, y)
    best = int(np.argmax(clf.validation_scores_))
    assert clf.n_iter_ < 100
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # refit for exactly best+1 epochs without early stopping's restore: same weights
    probe = BackpropClassifier(early_stopping=True, n_iter_no_change=1000, max_iter=best + 1, random_state=0, learning_rate_init=0.05).fit(X, y)
    for a, b in zip(clf.coefs_, probe.coefs_):
        np.testing.assert_allclose(a, b)


def test_verbose_lines(digits, capsys):
    X, y = digits
    BackpropClassifier(max_iter=2, verbose=True, early_stopping=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Iteration 1, loss = ") and out[1].startswith("Validation score: ")


def test_convergence_warning(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        BackpropClassifier(max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        BackpropClassifier(solver="lbfgs", max_iter=2, random_state=0).fit(X, y)


def test_keyboard_interrupt_keeps_model_usable(digits, monkeypatch):
    X, y = digits
    calls = []
    original = CPUTrainer.epoch

    def interrupted(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(CPUTrainer, "epoch", interrupted)
    with pytest.warns(UserWarning, match="interrupted"):
        clf = BackpropClassifier(max_iter=50, random_state=0).fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert clf.predict(X).shape == y.shape


def test_divergence_raises(regression):
    X, y = regression
    reg = BackpropRegressor(solver="sgd", activation="identity", learning_rate_init=1.0, max_iter=50, random_state=0)
    with pytest.raises(ValueError, match="non-finite") as info:
        reg.fit(X * 100, y)
    epoch = int(re.search(r"at epoch (\d+) of this fit", str(info.value)).group(1))
    assert epoch < 50  # stopped at the first non-finite epoch


def test_poisson_rejects_negative_targets(regression):
    X, y = regression
    with pytest.raises(ValueError, match="non-negative"):
        BackpropRegressor(loss="poisson").fit(X, y)


def test_lbfgs_multioutput_gradient_is_that_of_the_loss(regression, monkeypatch):
    """sklearn's multi-output lbfgs gradient is n_outputs times too large; ours is the loss's."""
    X, y = regression
    evaluations = []
    original = CPUBackend.full_batch

    def spy(self, data):
        evaluate = original(self, data)

        def checked(theta, grad, hyper):
            loss = evaluate(theta, grad, hyper)
            if not evaluations:
                h, fd = 1e-6, []
                for k in range(0, theta.size, 7):
                    saved = theta[k]
                    theta[k] = saved + h
                    plus = evaluate(theta, np.empty_like(grad), hyper)
                    theta[k] = saved - h
                    minus = evaluate(theta, np.empty_like(grad), hyper)
                    theta[k] = saved
                    fd.append((plus - minus) / (2 * h))
                evaluate(theta, grad, hyper)
                evaluations.append((grad[::7].copy(), np.array(fd)))
            return loss

        return checked

    monkeypatch.setattr(CPUBackend, "full_batch", spy)
    reg = BackpropRegressor(solver="lbfgs", max_iter=200, random_state=0, hidden_layer_sizes=(8,)).fit(X, y)
    analytic, numeric = evaluations[0]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    assert reg.score(X, y) > 0.95


def test_zero_weight_batches_are_skipped(digits):
    X, y = digits
    sw = np.ones(len(y))
    sw[:200] = 0.0
    clf = BackpropClassifier(max_iter=5, random_state=0, shuffle=False, batch_size=50).fit(X, y, sample_weight=sw)
    assert np.isfinite(clf.loss_curve_).all()


BAD_PARAMS = [
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(-3, 4)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(2.5,)), "hidden_layer_sizes"),
    (dict(activation="swish!"), "activation"),
    (dict(solver="newton"), "solver"),
    (dict(alpha=-1.0), "alpha"),
    (dict(batch_size=0), "batch_size"),
    (dict(learning_rate="sometimes"), "learning_rate"),
    (dict(learning_rate_init=0.0), "learning_rate_init"),
    (dict(max_iter=0), "max_iter"),
    (dict(momentum=1.5), "momentum"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(beta_1=1.0), "beta_1"),
    (dict(epsilon=0.0), "epsilon"),
    (dict(n_iter_no_change=0), "n_iter_no_change"),
    (dict(shuffle="yes"), "shuffle"),
]


@pytest.mark.parametrize("params,name", BAD_PARAMS)
def test_bad_parameters_name_themselves(digits, params, name):
    X, y = digits
    clf = BackpropClassifier(**params)
    with pytest.raises(ValueError, match=name):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")
    with pytest.raises(ValueError, match="loss"):
        BackpropRegressor(loss="hinge").fit(X, y.astype(float))


def test_bad_input_gets_clear_errors(digits):
    X, y = digits
    clf = BackpropClassifier(max_iter=2, random_state=0)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(Xnan, y)
    Xinf = X.copy()
    Xinf[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.fit(Xinf, y)
    with pytest.raises(ValueError, match="NaN"):
        BackpropRegressor().fit(X, np.where(y == 1, np.nan, y))
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="dim 3"):
        clf.fit(X.reshape(len(X), 8, 8), y)
    with pytest.raises(ValueError, match="dtype object .objects holding strings.: fastbp trains on numbers only"):
        clf.fit(np.array([["a", "b"]] * 10, dtype=object), np.arange(10) % 2)
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="Negative"):
        clf.fit(X, y, sample_weight=-np.ones(len(y)))
    clf.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError, match="layer sizes"):
        clf.set_params(warm_start=True, hidden_layer_sizes=(7,)).fit(X, y)


def test_predict_converts_integer_and_float32_input(digits):
    X, y = digits
    clf = BackpropClassifier(max_iter=5, random_state=0).fit(X, y)
    Xi = (X * 16).astype(np.int64)
    np.testing.assert_allclose(clf.predict_proba(Xi), clf.predict_proba(Xi.astype(float)))


def test_predict_large_input_in_chunks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(9000, 3))
    y = X.sum(1)
    reg = BackpropRegressor(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X[:100], y[:100])
    # the plain NumPy forward pass is the reference
    expected = reference.forward(X, reg.coefs_, reg.intercepts_, "relu", "identity")[-1].ravel()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-12)


def test_readonly_memmap_input(digits, tmp_path):
    X, y = digits
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    a = BackpropClassifier(max_iter=3, random_state=0).fit(Xm, y)
    b = BackpropClassifier(max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


@pytest.mark.parametrize("labels", [
    np.arange(60) % 3,                                   # multiclass ints
    np.arange(60) % 2,                                   # binary
    np.array(["b", "a", "c"] * 20, dtype=object),        # strings
    np.array(["no", "yes"] * 30),                        # binary strings
    (np.arange(60) % 4) - 1.0,                           # integral float labels
])
def test_direct_one_hot_is_label_binarizers(labels):
    """The fast one-hot path gives exactly LabelBinarizer's array; unseen labels fall back to it."""
    from sklearn.preprocessing import LabelBinarizer

    clf = BackpropClassifier()
    clf._label_binarizer = LabelBinarizer().fit(labels)
    expected = clf._label_binarizer.transform(labels).astype(bool)
    got = clf._one_hot(labels)
    assert got.dtype == bool and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    subset = labels[labels != labels[0]]  # a class missing: still the fitted columns
    np.testing.assert_array_equal(clf._one_hot(subset), clf._label_binarizer.transform(subset).astype(bool))
    if labels.dtype.kind in "iu":
        unseen = np.append(labels[:5], labels.max() + 7)
        np.testing.assert_array_equal(clf._one_hot(unseen), clf._label_binarizer.transform(unseen).astype(bool))
