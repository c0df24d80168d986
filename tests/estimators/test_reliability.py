"""A failed call changes nothing and says why.

Regression tests of defects found by hostile use (NaN at prediction, a divergent update
that destroyed the model, fit and predict disagreeing on what X may be, schedules whose
defaults do not train), and the transactional contract of ``fit`` and ``partial_fit``:
every call that raises leaves every fitted attribute bit for bit as it was.
"""

import copy

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp.optim import OptimizerState
from fastbp.optim.schedules import SCHEDULES

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

STOCHASTIC = ["sgd", "adam", "adamw", "rmsprop"]


# --------------------------------------------------------------------------- state
def fitted_state(est):
    """Every attribute of ``est`` that is not a constructor parameter, deep-copied."""
    params = set(est.get_params(deep=False))
    return {k: copy.deepcopy(v) for k, v in vars(est).items() if k not in params}


def assert_identical(a, b, path="state"):
    """Recursive bit-for-bit equality of fitted state (arrays by bytes, dtype and shape;
    floats with NaN equal to NaN; objects by their attributes)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        if a.dtype == object:
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel())):
                assert_identical(x, y, f"{path}[{i}]")
        else:
            assert a.tobytes() == b.tobytes(), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_identical(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    elif isinstance(a, (OptimizerState, LabelBinarizer)):
        assert type(a) is type(b), path
        assert_identical(vars(a), vars(b), path)
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


class Boom(Exception):
    pass


class RaiseAt:
    """A callback that raises after ``epoch`` epochs of a fit have updated the model."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, estimator, epoch, logs):
        if epoch == self.epoch:
            raise Boom(f"callback failed at epoch {epoch}")
        return False


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


@pytest.fixture(scope="module")
def regression():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(100, 4))
    return X, X @ rng.normal(size=4) + 0.1 * rng.normal(size=100)


# ------------------------------------------------------ NaN and infinity at predict
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "score"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_input_to_a_multiclass_model_is_a_value_error(value, method, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3)).astype(dtype)
    y = np.arange(40) % 3
    clf = BackpropClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    X_test = rng.normal(size=(30, 3)).astype(dtype)
    X_test[17, 1] = value
    args = (X_test, np.arange(30) % 3) if method == "score" else (X_test,)
    with pytest.raises(ValueError, match="NaN|infinity"):
        getattr(clf, method)(*args)


# ------------------------------------------------------------ divergence undone
def test_divergent_warm_start_fit_leaves_the_model_unchanged(regression):
    X, y = regression
    Xs = StandardScaler().fit_transform(X)
    reg = BackpropRegressor(solver="sgd", max_iter=30, random_state=0).fit(Xs, y)
    before = fitted_state(reg)
    prediction = reg.predict(Xs)
    reg.set_params(warm_start=True, learning_rate_init=1e6)
    with pytest.raises(ValueError, match=r"diverged at epoch \d+ of this fit: the loss was .*learning_rate_init"):
        reg.fit(X * 1000 + 500, y * 1000)
    assert_identical(fitted_state(reg), before)
    np.testing.assert_array_equal(reg.predict(Xs), prediction)


def test_divergent_partial_fit_names_the_call_and_changes_nothing(regression):
    X, y = regression
    reg = BackpropRegressor(solver="sgd", random_state=0)
    reg.partial_fit(X, y).partial_fit(X, y)
    before = fitted_state(reg)
    with pytest.raises(ValueError, match=r"in this partial_fit call \(epoch 3 since"):
        reg.partial_fit(np.full_like(X, 1e300), y)
    assert_identical(fitted_state(reg), before)


def test_divergent_first_fit_leaves_the_estimator_unfitted(regression):
    X, y = regression
    reg = BackpropRegressor(solver="sgd", activation="identity", learning_rate_init=1.0, max_iter=50, random_state=0)
    with pytest.raises(ValueError, match=r"diverged at epoch (\d+) of this fit"):
        reg.fit(X * 100, y)
    assert fitted_state(reg) == {}
    with pytest.raises(NotFittedError):
        reg.predict(X)


# ----------------------------------------------- every failed update, per method and solver
def _failing_calls(est, X, y, solver):
    """(name, call) pairs, each a call that raises after (or before) training has started."""
    calls = [
        ("bad input", lambda: est.fit(np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y)),
    ]
    if est.warm_start:
        calls.append(("warm start on another width", lambda: est.fit(X[:, :-1], y)))
    if solver == "lbfgs":
        calls.append(("evaluation fails", lambda: _lbfgs_failing(est, X, y)))
    else:
        calls.append(("callback raises", lambda: est.set_params(callbacks=[RaiseAt(2)]).fit(X, y)))
        calls.append(("partial_fit callback raises",
                      lambda: est.set_params(callbacks=[RaiseAt(0)]).partial_fit(X, y)))
        calls.append(("partial_fit on another width", lambda: est.partial_fit(X[:, :-1], y)))
    return calls


def _lbfgs_failing(est, X, y):
    """A fit whose 4th L-BFGS evaluation raises (after three updates to the weights)."""
    import fastbp.backends.cpu as cpu

    original = cpu.CPUBackend.full_batch

    def full_batch(self, data):
        evaluate = original(self, data)
        count = [0]

        def failing(theta, grad, hyper):
            count[0] += 1
            if count[0] == 4:
                raise Boom("evaluation failed")
            return evaluate(theta, grad, hyper)

        return failing

    cpu.CPUBackend.full_batch = full_batch
    try:
        est.fit(X, y)
    finally:
        cpu.CPUBackend.full_batch = original


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("solver", STOCHASTIC + ["lbfgs"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("warm_start", [False, True])
def test_every_failed_update_leaves_the_model_bit_identical(kind, solver, batch_norm, warm_start, blobs, regression):
    X, y = blobs if kind == "classifier" else regression
    Est = BackpropClassifier if kind == "classifier" else BackpropRegressor
    est = Est(hidden_layer_sizes=(6, 5), solver=solver, batch_norm=batch_norm, max_iter=8, random_state=0,
              early_stopping=False, batch_size=32)
    est.fit(X, y)
    if solver != "lbfgs":
        est.partial_fit(X, y)  # optimizer state and curves of a partial_fit too
    est.set_params(warm_start=warm_start)
    for name, call in _failing_calls(est, X, y, solver):
        before = fitted_state(est)
        with pytest.raises((ValueError, Boom)):
            call()
        est.set_params(callbacks=None)
        assert_identical(fitted_state(est), before, name)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_early_stopping_state_is_restored(solver, blobs):
    X, y = blobs
    clf = BackpropClassifier(hidden_layer_sizes=(6,), solver=solver, early_stopping=True, max_iter=6,
                             random_state=0).fit(X, y)
    before = fitted_state(clf)
    assert "best_validation_score_" in before and before["validation_scores_"]
    with pytest.raises(Boom):
        clf.set_params(warm_start=True, callbacks=[RaiseAt(3)]).fit(X, y)
    assert_identical(fitted_state(clf), before)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_partial_fit_continues_as_if_the_failed_call_never_happened(solver, blobs):
    X, y = blobs
    make = lambda: BackpropClassifier(hidden_layer_sizes=(6,), solver=solver, random_state=0)  # noqa: E731
    a, b = make(), make()
    classes = np.unique(y)
    for model in (a, b):
        model.partial_fit(X, y, classes=classes).partial_fit(X, y)
    with pytest.raises(Boom):
        a.set_params(callbacks=[RaiseAt(0)]).partial_fit(X, y)
    a.set_params(callbacks=None)
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    assert_identical(fitted_state(a), fitted_state(b))


def test_failed_first_partial_fit_leaves_no_classes(blobs):
    X, y = blobs
    clf = BackpropClassifier(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError):
        clf.partial_fit(np.full_like(X, np.nan), y, classes=np.unique(y))
    assert fitted_state(clf) == {}


def test_keyboard_interrupt_during_an_epoch_keeps_the_last_complete_epoch(blobs):
    X, y = blobs

    class Interrupt:
        def on_epoch_end(self, estimator, epoch, logs):
            if epoch == 2:
                raise KeyboardInterrupt
            return False

    with pytest.warns(UserWarning, match="interrupted"):
        clf = BackpropClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0,
                                 callbacks=[Interrupt()]).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert np.isfinite(clf.predict_proba(X)).all()


# ----------------------------------------------------------- what X may be
NON_NUMERIC = {
    "numeric strings": np.array([["1.5", "2"], ["3", "4"], ["5", "1"], ["2", "2"]] * 5),
    "bytes": np.array([[b"1", b"2"], [b"3", b"4"], [b"5", b"1"], [b"2", b"2"]] * 5),
    "datetime64": np.array(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"] * 5,
                           dtype="datetime64[D]").reshape(-1, 1),
    "timedelta64": np.arange(20, dtype="timedelta64[s]").reshape(-1, 1),
    "object strings": np.array([[1.0, "2"], [3.0, 4.0], [5.0, 1.0], [2.0, 2.0]] * 5, dtype=object),
    "list of strings": [["1.5", "2"], ["3", "4"], ["5", "1"], ["2", "2"]] * 5,
}


@pytest.mark.parametrize("name", sorted(NON_NUMERIC))
@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_non_numeric_x_is_refused_at_fit_naming_the_dtype(name, Est):
    X = NON_NUMERIC[name]
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="dtype .*numbers only"):
        Est(max_iter=2).fit(X, y)


@pytest.mark.parametrize("name", sorted(NON_NUMERIC))
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_non_numeric_x_is_refused_at_predict_the_same_way(name, method):
    X = NON_NUMERIC[name]
    width = np.asarray(X).shape[1]
    clf = BackpropClassifier(max_iter=2, hidden_layer_sizes=(3,), random_state=0).fit(
        np.random.RandomState(0).rand(20, width), np.arange(20) % 2)
    args = (X, np.arange(20) % 2) if method == "score" else (X,)
    with pytest.raises(ValueError, match="dtype .*numbers only"):
        getattr(clf, method)(*args)


def test_dataframe_columns_are_named_in_the_message():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"a": np.arange(20.0), "when": pd.date_range("2020-01-01", periods=20),
                      "b": np.ones(20)})
    with pytest.raises(ValueError, match="X column 'when' has dtype datetime64"):
        BackpropRegressor(max_iter=2).fit(X, np.arange(20.0))
    X = pd.DataFrame({"a": np.arange(20.0), "s": pd.Series(["x"] * 20, dtype="string")})
    with pytest.raises(ValueError, match="X column 's' has dtype string"):
        BackpropRegressor(max_iter=2).fit(X, np.arange(20.0))
    X = pd.DataFrame({"a": np.arange(20.0), "c": pd.Categorical(["u", "v"] * 10)})
    with pytest.raises(ValueError, match="X column 'c'"):
        BackpropRegressor(max_iter=2).fit(X, np.arange(20.0))


def test_string_targets_and_weights_of_a_regressor_are_refused():
    X = np.random.RandomState(0).rand(20, 2)
    with pytest.raises(ValueError, match="y has dtype <U"):
        BackpropRegressor(max_iter=2).fit(X, np.array(["1.5"] * 20))
    with pytest.raises(ValueError, match="sample_weight has dtype <U"):
        BackpropRegressor(max_iter=2).fit(X, np.arange(20.0), sample_weight=np.array(["1"] * 20))


def test_numbers_in_any_numeric_container_are_accepted_by_fit_and_predict():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = rng.rand(20, 2)
    y = np.arange(20) % 2
    reference = BackpropClassifier(max_iter=3, hidden_layer_sizes=(3,), random_state=0).fit(X, y)
    for variant in (X.astype(object), X.tolist(), pd.DataFrame(X, columns=["a", "b"]), (X > 0.5)):
        clf = BackpropClassifier(max_iter=3, hidden_layer_sizes=(3,), random_state=0).fit(variant, y)
        assert clf.predict_proba(variant).shape == (20, 2)
        if not isinstance(variant, np.ndarray) or variant.dtype != bool:
            np.testing.assert_array_equal(clf.coefs_[0], reference.coefs_[0])


# ------------------------------------------------------------ schedules' defaults
@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _score(cancer, **params):
    X, y = cancer
    model = BackpropClassifier(hidden_layer_sizes=(16,), max_iter=80, random_state=0, **params).fit(X, y)
    return model.score(X, y)


def test_exponential_schedule_at_its_defaults_trains(cancer):
    """The reported case: Adam at its default rate, the exponential schedule at its defaults."""
    constant = _score(cancer)
    assert constant > 0.97
    for schedule in SCHEDULES:
        assert _score(cancer, learning_rate=schedule) >= constant - 0.03, schedule


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_every_schedule_at_its_defaults_trains_like_the_constant_rate(cancer, solver):
    constant = _score(cancer, solver=solver, learning_rate_init=0.01)
    assert constant > 0.97
    for schedule in SCHEDULES:
        score = _score(cancer, solver=solver, learning_rate_init=0.01, learning_rate=schedule)
        if solver == "sgd" and schedule == "invscaling":
            # scikit-learn's own schedule (the rate over samples seen ** power_t), kept for parity:
            # it must give scikit-learn's number, whatever that is.
            X, y = cancer
            sk = MLPClassifier(hidden_layer_sizes=(16,), max_iter=80, random_state=0, solver="sgd",
                               learning_rate_init=0.01, learning_rate="invscaling").fit(X, y)
            assert score == pytest.approx(sk.score(X, y), abs=1e-12)
        else:
            assert score >= constant - 0.03, schedule


def test_explicit_decay_is_still_honoured(cancer):
    a = _score(cancer, learning_rate="exponential", lr_decay=0.5)
    b = _score(cancer, learning_rate="exponential")
    assert a < b - 0.2  # halving every epoch stops training early, as asked
