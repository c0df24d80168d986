"""ONNX export (``fastbp.onnx``), checked against onnxruntime: labels equal, probabilities and
regression outputs within 1e-5 relative (float graphs) and 1e-9 (double graphs)."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import fastbp.onnx  # noqa: E402  (registers the converters)
from fastbp import BackpropClassifier, BackpropRegressor  # noqa: E402

TOL = {np.float32: dict(rtol=1e-5, atol=1e-12), np.float64: dict(rtol=1e-9, atol=1e-15)}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


def run(onx, X):
    runtime = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return runtime.run(None, {runtime.get_inputs()[0].name: X})


def fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", fastbp.onnx.HIDDEN_ACTIVATIONS)
def test_every_activation_in_a_pipeline(digits, activation, dtype):
    X, y = digits
    X = X.astype(dtype)
    pipe = fit(make_pipeline(StandardScaler(), BackpropClassifier(hidden_layer_sizes=(24, 12), activation=activation,
                                                                  max_iter=8, random_state=0)), X, y)
    onx = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    labels, proba = run(onx, X)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    assert proba.dtype == dtype
    np.testing.assert_allclose(proba, pipe.predict_proba(X), **TOL[dtype])


def test_binary_and_string_labels_with_zipmap(digits):
    # (ZipMap takes float probabilities: double graphs need zipmap=False, as for scikit-learn's MLP)
    X, y = digits
    X = (X / 16).astype(np.float32)
    labels = np.where(y % 2 == 0, "even", "odd")
    clf = fit(BackpropClassifier(hidden_layer_sizes=(10,), max_iter=10, random_state=0), X, labels)
    got_labels, got_proba = run(skl2onnx.to_onnx(clf, X[:1]), X)  # zipmap: a list of {class: probability}
    np.testing.assert_array_equal(got_labels, clf.predict(X))
    proba = np.array([[row["even"], row["odd"]] for row in got_proba])
    np.testing.assert_allclose(proba, clf.predict_proba(X), **TOL[np.float32])
    columns = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": "columns"}), X)
    np.testing.assert_allclose(columns[2], clf.predict_proba(X)[:, 1], **TOL[np.float32])
    indices, _ = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False, "nocl": True}), X)
    np.testing.assert_array_equal(indices, (clf.predict(X) == "odd").astype(np.int64))


def test_binary_double_graph(digits):
    X, y = digits
    X = X / 16
    clf = fit(BackpropClassifier(hidden_layer_sizes=(10,), max_iter=10, random_state=0), X, y % 2)
    labels, proba = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), **TOL[np.float64])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multilabel(digits, dtype):
    X, y = digits
    X = (X / 16).astype(dtype)
    Y = np.stack([y % 2 == 0, y > 4, y % 3 == 0], axis=1).astype(int)
    clf = fit(BackpropClassifier(hidden_layer_sizes=(16,), max_iter=15, random_state=0), X, Y)
    labels, proba = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss,outputs", [("squared_error", 1), ("squared_error", 3), ("poisson", 1), ("huber", 2)])
def test_regression(loss, outputs, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5)).astype(dtype)
    Y = np.abs(X[:, :outputs] + 0.1 * rng.normal(size=(200, outputs)))
    y = Y.ravel() if outputs == 1 else Y
    reg = fit(BackpropRegressor(hidden_layer_sizes=(12, 6), activation="tanh", loss=loss, max_iter=20,
                                random_state=0), X, y)
    (out,) = run(skl2onnx.to_onnx(reg, X[:1]), X)
    expected = reg.predict(X)
    assert out.shape == (200, outputs) and out.dtype == dtype
    # relative to the outputs' scale: an output near 0 carries the rounding of larger intermediates
    rtol = TOL[dtype]["rtol"]
    np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_is_folded(digits, dtype):
    X, y = digits
    X = (X / 16).astype(dtype)
    clf = fit(BackpropClassifier(hidden_layer_sizes=(20, 10), batch_norm=True, activation="silu", max_iter=10,
                                 random_state=0), X, y)
    labels, proba = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), **TOL[dtype])


def test_double_erf_series_against_scipy():
    """The double graph's erf (a series: onnxruntime has no double Erf) against SciPy's."""
    from scipy.special import erf

    clf = fit(BackpropClassifier(hidden_layer_sizes=(1,), activation="gelu", max_iter=1, random_state=0),
              np.zeros((4, 1)), np.arange(4) % 2)
    clf.coefs_ = [np.ones((1, 1)), np.ones((1, 1))]
    clf.intercepts_ = [np.zeros(1), np.zeros(1)]
    z = np.linspace(-12, 12, 20001).reshape(-1, 1)
    _, proba = run(skl2onnx.to_onnx(clf, z[:1], options={"zipmap": False}), z)
    gelu = 0.5 * z * (1 + erf(z / np.sqrt(2)))  # the hidden unit; the output is its logistic
    np.testing.assert_allclose(proba[:, 1:], 1 / (1 + np.exp(-gelu)), rtol=1e-13, atol=1e-15)


def test_float_labels_export_as_integers_and_unfitted_models_are_refused(digits):
    X, y = digits
    X = (X / 16).astype(np.float32)
    clf = fit(BackpropClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0), X, y.astype(float))
    labels, _ = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False}), X)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, clf.predict(X))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(BackpropRegressor(), X[:1].astype(np.float32))


def test_import_fastbp_does_not_import_skl2onnx():
    code = "import sys, fastbp; fastbp.BackpropClassifier(); print('skl2onnx' in sys.modules, 'onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
