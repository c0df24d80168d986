"""Prediction scratch memory: kept between calls, never shared by two predictions
running at once, and never the cause of a different result."""

import threading

import numpy as np
import pytest

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp.backends import cpu
from fastbp.backends.cpu import PREDICT_SCRATCH, ScratchPool

import reference


def numpy_forward(model, X):
    """The fitted network's output layer before its output activation, from the NumPy oracle
    (ReLU hidden layers)."""
    coefs = [c.astype(np.float64) for c in model.coefs_]
    intercepts = [b.astype(np.float64) for b in model.intercepts_]
    return reference.forward(np.asarray(X, dtype=np.float64), coefs, intercepts, "relu", "identity")[-1]


def test_borrow_reuses_a_returned_buffer():
    pool = ScratchPool(max_bytes=1 << 20)
    with pool.borrow(100, np.float32) as first:
        assert first.size >= 100 and first.dtype == np.float32
    with pool.borrow(50, np.float32) as second:
        assert second is first
    with pool.borrow(100, np.float64) as other:  # one buffer per dtype
        assert other is not first and other.dtype == np.float64


def test_a_buffer_in_use_is_not_lent_again():
    pool = ScratchPool(max_bytes=1 << 20)
    with pool.borrow(100, np.float32) as kept:
        pass
    with pool.borrow(100, np.float32) as outer:
        assert outer is kept
        with pool.borrow(100, np.float32) as inner:
            assert inner is not outer
            assert not np.shares_memory(inner, outer)


def test_too_small_and_too_large_buffers():
    pool = ScratchPool(max_bytes=4000)
    with pool.borrow(10, np.float64) as small:
        pass
    with pool.borrow(100, np.float64) as larger:  # the kept one is too small: a new one
        assert larger is not small and larger.size >= 100
    with pool.borrow(100, np.float64) as again:  # the larger one replaced it
        assert again is larger
    with pool.borrow(1000, np.float64) as huge:  # 8000 bytes: not kept
        pass
    with pool.borrow(1000, np.float64) as huge_again:
        assert huge_again is not huge
    pool.clear()
    with pool.borrow(10, np.float64) as fresh:
        assert fresh is not larger


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_alternating_between_shapes_match_numpy(dtype):
    # Models of different widths and input sizes share the pool; every
    # prediction must still be its own network's, whatever the pool held.
    rng = np.random.default_rng(0)
    models, inputs = [], []
    for n_features, hidden in [(6, (9,)), (3, (20, 4)), (11, (2,))]:
        X = rng.standard_normal((60, n_features)).astype(dtype)
        y = rng.standard_normal(60)
        models.append(BackpropRegressor(hidden_layer_sizes=hidden, max_iter=5, random_state=0).fit(X, y))
        inputs.append(rng.standard_normal((rng.integers(1, 3000), n_features)).astype(dtype))
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for _ in range(2):
        for model, X in zip(models, inputs):
            for rows in (X, X[:1], X[: len(X) // 2]):
                np.testing.assert_allclose(model.predict(rows), numpy_forward(model, rows).ravel(), rtol=rtol, atol=1e-5)


def test_scratch_is_kept_and_reused_by_predict():
    X = np.random.default_rng(1).standard_normal((500, 4))
    model = BackpropClassifier(hidden_layer_sizes=(7,), max_iter=3, random_state=0).fit(X, np.arange(500) % 3)
    PREDICT_SCRATCH.clear()
    expected = model.predict_proba(X)
    kept = PREDICT_SCRATCH._free.get(np.dtype(np.float64))
    assert kept is not None
    kept[:] = np.nan  # stale contents must not leak into the next prediction
    np.testing.assert_array_equal(model.predict_proba(X), expected)
    assert PREDICT_SCRATCH._free.get(np.dtype(np.float64)) is kept


def test_large_workspaces_are_not_kept(monkeypatch):
    monkeypatch.setattr(cpu, "PREDICT_SCRATCH", ScratchPool(max_bytes=1000))
    X = np.random.default_rng(2).standard_normal((300, 4))
    model = BackpropRegressor(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, X[:, 0])
    model.predict(X)
    assert cpu.PREDICT_SCRATCH._free == {}


def test_concurrent_predictions_give_each_its_own_result():
    rng = np.random.default_rng(3)
    models, inputs, expected = [], [], []
    for k in range(4):
        X = rng.standard_normal((400 + 300 * k, 5))
        y = rng.standard_normal(X.shape[0])
        model = BackpropRegressor(hidden_layer_sizes=(8 + 5 * k,), max_iter=3, random_state=k).fit(X, y)
        models.append(model)
        inputs.append(X)
        expected.append(model.predict(X))
    results = [[] for _ in models]
    barrier = threading.Barrier(len(models))

    def work(k):
        barrier.wait()
        for _ in range(20):
            results[k].append(models[k].predict(inputs[k]))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(models))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(len(models)):
        assert len(results[k]) == 20
        for got in results[k]:
            np.testing.assert_array_equal(got, expected[k])
