"""Transfer learning: ``init_from`` (start from a fitted network's hidden layers) and
``frozen_layers`` (layers from the input side that do not train)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp.nn.init import glorot_uniform

import reference

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["sgd", "adam", "adamw", "rmsprop", "lbfgs"]


@pytest.fixture(scope="module")
def task():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6))
    y3 = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    return X, y3


@pytest.fixture(scope="module")
def source(task):
    X, y = task
    return BackpropClassifier(hidden_layer_sizes=(8, 5), max_iter=30, random_state=1).fit(X, y)


@pytest.fixture(scope="module")
def source_bn(task):
    X, y = task
    return BackpropClassifier(hidden_layer_sizes=(8, 5), batch_norm=True, max_iter=20, random_state=1).fit(X, y)


def hidden_state(model, n):
    """Copies of the first ``n`` layers' weights, biases and batch-norm attributes."""
    state = [model.coefs_[:n], model.intercepts_[:n]]
    for name in ("batch_norm_scales_", "batch_norm_shifts_", "batch_norm_means_", "batch_norm_vars_"):
        if hasattr(model, name):
            state.append(getattr(model, name)[:n])
    return [[np.array(a, copy=True) for a in part] for part in state]


def assert_same_state(a, b):
    assert len(a) == len(b)
    for pa, pb in zip(a, b):
        for x, y in zip(pa, pb):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()


# ------------------------------------------------------------------- copying
def test_hidden_layers_are_copied_and_the_output_layer_is_new(task, source):
    X, y3 = task
    y2 = (X[:, 2] > 0).astype(int)
    model = BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=source, frozen_layers=2, max_iter=5,
                               random_state=0).fit(X, y2)
    assert_same_state(hidden_state(model, 2), hidden_state(source, 2))
    assert model.coefs_[2].shape == (5, 1) and source.coefs_[2].shape == (5, 3)
    reg = BackpropRegressor(hidden_layer_sizes=(8, 5, 4), init_from=source, max_iter=3, random_state=0)
    reg.fit(X, X[:, :2])  # regression from a classifier, with one more (new) hidden layer
    assert [c.shape for c in reg.coefs_] == [(6, 8), (8, 5), (5, 4), (4, 2)]


def test_float32_target_casts_the_source(task, source):
    X, y = task
    model = BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=source, frozen_layers=2, max_iter=3,
                               random_state=0).fit(X.astype(np.float32), y)
    assert model.coefs_[0].dtype == np.float32
    np.testing.assert_array_equal(model.coefs_[0], source.coefs_[0].astype(np.float32))


def test_a_scikit_learn_mlp_is_a_source_too(task):
    X, y = task
    sk = MLPClassifier(hidden_layer_sizes=(7,), max_iter=50, random_state=0).fit(X, y)
    model = BackpropClassifier(hidden_layer_sizes=(7,), init_from=sk, frozen_layers=1, max_iter=3).fit(X, y)
    np.testing.assert_array_equal(model.coefs_[0], sk.coefs_[0])


def test_init_from_equals_the_same_start_set_by_hand(task, source):
    """A fit from ``init_from`` is the fit that starts from the same weights set by hand."""
    X, y = task
    # (no stopping on a plateau: the warm-started fit carries the first fit's best loss)
    params = dict(hidden_layer_sizes=(8, 5), frozen_layers=1, max_iter=15, shuffle=False, random_state=0,
                  alpha=0.01, n_iter_no_change=1000)
    transferred = BackpropClassifier(init_from=source, **params).fit(X, y)
    coefs, intercepts = glorot_uniform(np.random.RandomState(0), [6, 8, 5, 3], "relu", np.float64)
    coefs[:2], intercepts[:2] = [c.copy() for c in source.coefs_[:2]], [b.copy() for b in source.intercepts_[:2]]
    by_hand = BackpropClassifier(warm_start=True, **dict(params, max_iter=1)).fit(X, y)
    by_hand.coefs_, by_hand.intercepts_ = coefs, intercepts
    by_hand.set_params(max_iter=15).fit(X, y)
    for a, b in zip(transferred.coefs_ + transferred.intercepts_, by_hand.coefs_ + by_hand.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_training_above_frozen_layers_is_training_on_their_features(task, source, solver):
    """With every hidden layer frozen, the output layer trains exactly as a network without
    hidden layers trains on the frozen layers' outputs (computed by the NumPy oracle)."""
    X, y = task
    params = dict(solver=solver, max_iter=12, shuffle=False, random_state=0, alpha=0.003, batch_size=32,
                  n_iter_no_change=1000)
    model = BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=source, frozen_layers=2, **params).fit(X, y)
    H = reference.forward(X, source.coefs_[:2], source.intercepts_[:2], "relu", "identity")[-1]
    H = np.maximum(H, 0)  # the second hidden layer's relu (the oracle applied "identity" as output)
    start = glorot_uniform(np.random.RandomState(0), [6, 8, 5, 3], "relu", np.float64)
    head = BackpropClassifier(hidden_layer_sizes=(), warm_start=True, **dict(params, max_iter=1)).fit(H, y)
    head.coefs_, head.intercepts_ = [start[0][2].copy()], [start[1][2].copy()]
    head.set_params(max_iter=12).fit(H, y)
    np.testing.assert_allclose(model.coefs_[2], head.coefs_[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.intercepts_[2], head.intercepts_[0], rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------- freezing
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("frozen", [1, 2])
def test_frozen_layers_stay_bit_identical(task, source, source_bn, solver, frozen, batch_norm):
    X, y = task
    src = source_bn if batch_norm else source
    penalties = dict(alpha=0.05) if solver == "lbfgs" else dict(alpha=0.05, l1=0.01, max_grad_norm=0.5)
    model = BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=src, frozen_layers=frozen, solver=solver,
                               batch_norm=batch_norm, max_iter=10, random_state=0, batch_size=32,
                               learning_rate_init=0.05 if solver != "lbfgs" else 0.001, **penalties)
    model.fit(X, y)
    assert_same_state(hidden_state(model, frozen), hidden_state(src, frozen))
    unfrozen = model.coefs_[frozen]
    assert not np.array_equal(unfrozen, src.coefs_[frozen]) if frozen < 2 else unfrozen.shape == (5, 3)
    if solver != "lbfgs":
        model.partial_fit(X, y)
        model.set_params(warm_start=True).fit(X, y)
        assert_same_state(hidden_state(model, frozen), hidden_state(src, frozen))


def test_freezing_without_a_source_keeps_the_random_layers(task):
    X, y = task
    model = BackpropClassifier(hidden_layer_sizes=(8,), frozen_layers=1, max_iter=10, random_state=0).fit(X, y)
    first = glorot_uniform(np.random.RandomState(0), [6, 8, 3], "relu", np.float64)
    np.testing.assert_array_equal(model.coefs_[0], first[0][0])
    assert not np.array_equal(model.coefs_[1], first[0][1])


# ------------------------------------------------------------------- errors
def test_mismatched_shapes_name_the_layer_and_both_shapes(task, source):
    X, y = task
    with pytest.raises(ValueError, match=r"Layer 1 of init_from has weights of shape \(8, 5\), but layer 1 "
                                         r"of this network needs \(8, 6\)"):
        BackpropClassifier(hidden_layer_sizes=(8, 6), init_from=source).fit(X, y)
    with pytest.raises(ValueError, match=r"Layer 0 of init_from has weights of shape \(6, 8\).*needs \(5, 8\)"):
        BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=source).fit(X[:, :5], y)
    with pytest.raises(ValueError, match=r"init_from has 2 hidden layers \(8, 5\) but this network has 1"):
        BackpropClassifier(hidden_layer_sizes=(8,), init_from=source).fit(X, y)
    with pytest.raises(ValueError, match="activation='relu'.*activation='tanh'"):
        BackpropClassifier(hidden_layer_sizes=(8, 5), activation="tanh", init_from=source).fit(X, y)
    with pytest.raises(ValueError, match="batch_norm=False, this network has batch_norm=True"):
        BackpropClassifier(hidden_layer_sizes=(8, 5), batch_norm=True, init_from=source).fit(X, y)


def test_bad_parameters_are_named(task):
    X, y = task
    with pytest.raises(ValueError, match="frozen_layers"):
        BackpropClassifier(frozen_layers=-1).fit(X, y)
    with pytest.raises(ValueError, match="frozen_layers=2: a network of 2 layers can freeze 0 to 1"):
        BackpropClassifier(hidden_layer_sizes=(4,), frozen_layers=2).fit(X, y)
    with pytest.raises(ValueError, match="init_from"):
        BackpropClassifier(init_from="model.pkl").fit(X, y)


def test_an_unfitted_source_is_an_error_that_names_the_cure(task):
    X, y = task
    with pytest.raises(ValueError, match="FrozenEstimator"):
        BackpropClassifier(init_from=BackpropClassifier()).fit(X, y)


# ------------------------------------------------------ clone, sweeps, pickle
def test_a_bare_source_does_not_silently_train_from_scratch_in_a_sweep(task, source):
    X, y = task
    model = BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=source, max_iter=3)
    assert not hasattr(clone(model).init_from, "coefs_")  # what clone does to an estimator parameter
    with pytest.raises(ValueError, match="not fitted.*FrozenEstimator"):
        GridSearchCV(model, {"alpha": [1e-4, 1e-2]}, cv=2, error_score="raise").fit(X, y)


def test_a_frozen_estimator_source_survives_clone_and_sweeps(task, source):
    X, y = task
    model = BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=FrozenEstimator(source), frozen_layers=2,
                               max_iter=3, random_state=0)
    assert clone(model).init_from.estimator is source
    pipe = make_pipeline(FunctionTransformer(), model)
    search = GridSearchCV(pipe, {"backpropclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
    best = search.best_estimator_[-1]
    assert_same_state(hidden_state(best, 2), hidden_state(source, 2))


def test_pickle_keeps_the_model_and_its_parameters(task, source):
    X, y = task
    model = BackpropClassifier(hidden_layer_sizes=(8, 5), init_from=FrozenEstimator(source), frozen_layers=1,
                               max_iter=3, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.get_params()["frozen_layers"] == 1
    np.testing.assert_array_equal(again.init_from.estimator.coefs_[0], source.coefs_[0])


# --------------------------------------------------------- the worked example
@pytest.mark.slow
def test_transfer_beats_training_from_scratch_on_few_labels(digits_all):
    """Source: digit identity on half of the digits images.  Target: parity (even or odd) on
    the other half, from 50 labelled images.  Frozen transferred features beat a network
    trained from scratch (mean test accuracy over four draws of the 50)."""
    X, y = digits_all
    perm = np.random.RandomState(0).permutation(len(y))
    S, T = perm[: len(y) // 2], perm[len(y) // 2 :]
    src = BackpropClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=0).fit(X[S], y[S])
    Xt, yt = X[T], y[T] % 2
    scores = {"scratch": [], "frozen": []}
    for seed in range(4):
        idx = np.random.RandomState(seed).permutation(len(yt))
        train, test = idx[:50], idx[50:]
        for name, extra in (("scratch", {}), ("frozen", dict(init_from=src, frozen_layers=1))):
            model = BackpropClassifier(hidden_layer_sizes=(64,), max_iter=300, learning_rate_init=0.01,
                                       random_state=0, **extra).fit(Xt[train], yt[train])
            scores[name].append(model.score(Xt[test], yt[test]))
    assert np.mean(scores["frozen"]) > np.mean(scores["scratch"]) + 0.02, scores
