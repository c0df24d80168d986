"""Prediction input checks: the fast path for plain float arrays accepts only what
``validate_data`` would return unchanged, and everything else gets scikit-learn's
own errors and warnings."""

import warnings

import numpy as np
import pytest
import sklearn

from fastbp import BackpropClassifier, BackpropRegressor

import reference


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = np.arange(80) % 3
    return BackpropClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X, y), X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad, message", [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")])
def test_non_finite_values_raise_sklearns_error(fitted, dtype, bad, message):
    model, X = fitted
    X = X.astype(dtype)
    X[7, 2] = bad
    for method in (model.predict, model.predict_proba):
        with pytest.raises(ValueError, match=message):
            method(X)


def test_wrong_feature_count_raises_sklearns_error(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="X has 3 features, but BackpropClassifier is expecting 4 features"):
        model.predict(X[:, :3])


def test_empty_input_raises_sklearns_error(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="0 sample"):
        model.predict(X[:0])


def test_assume_finite_skips_the_check_as_sklearn_does(fitted):
    model, X = fitted
    X = X.copy()
    X[0, 0] = np.nan
    with sklearn.config_context(assume_finite=True):
        proba = model.predict_proba(X)
    assert np.isnan(proba[0]).all()
    np.testing.assert_array_equal(proba[1:], model.predict_proba(X[1:]))


def test_finite_values_whose_sum_overflows_are_accepted_silently():
    # The fast test (a sum in X's dtype) fails on finite values this large;
    # the full check must then accept them, as scikit-learn does, and the
    # overflow of the test itself must not warn.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 2))
    model = BackpropRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, X[:, 0])
    big = np.full((3, 2), 3e38, dtype=np.float32)  # float32 sum overflows; the float64 network does not
    with np.errstate(over="ignore"):
        assert not np.isfinite(big.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model.predict(big)
    np.testing.assert_allclose(out, model.predict(big.astype(np.float64)))


def test_feature_name_warnings_are_sklearns():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.standard_normal((50, 3)), columns=["a", "b", "c"])
    model = BackpropRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(frame, frame["a"])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(frame.to_numpy())
    plain = BackpropRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(frame.to_numpy(), frame["a"])
    with pytest.warns(UserWarning, match="X has feature names"):
        plain.predict(frame)


@pytest.mark.parametrize("layout", ["C", "F", "list", "int"])
def test_other_inputs_give_the_same_predictions(fitted, layout):
    model, X = fitted
    expected = model.predict_proba(X)
    if layout == "F":
        other = np.asfortranarray(X)
    elif layout == "list":
        other = X.tolist()
    elif layout == "int":
        other = np.round(X * 10).astype(np.int64)
        expected = model.predict_proba(other.astype(np.float64))
    else:
        other = X.copy()
    np.testing.assert_array_equal(model.predict_proba(other), expected)


def test_float64_values_whose_sum_overflows_are_accepted():
    # The compiled prediction's float64 sum overflows on these finite values;
    # scikit-learn's full check then accepts them.
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 2))
    model = BackpropRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, X[:, 0])
    big = np.full((5, 2), 1.5e308)
    out = model.predict(big)
    assert out.shape == (5,)


@pytest.mark.parametrize("rows", [1, 3, 2500])
def test_a_nan_anywhere_is_found(fitted, rows):
    # The test for NaN runs inside the compiled prediction, chunk by chunk:
    # a NaN in the last row of the last chunk must be found too.
    model, X = fitted
    X = np.tile(X, (-(-rows // len(X)), 1))[:rows].copy()
    X[-1, -1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict_proba(X)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 4])
def test_prediction_chunks_share_rows_evenly(n_threads):
    # Chunk c goes to workspace c % n_threads: the chunk length is chosen so
    # the threads' row counts differ by less than one row per round of chunks
    # (2048-row chunks on 50,000 rows and 2 threads left one thread 848 rows more).
    from fastbp.backends.cpu import prediction_chunk

    for n in [1, 2, 3, 7, 899, 2048, 4095, 4096, 4097, 50_000, 60_000, 100_001]:
        chunk = prediction_chunk(n, n_threads, 2048)
        assert 1 <= chunk <= 2048
        lengths = [min(chunk, n - s) for s in range(0, n, chunk)]
        totals = [sum(lengths[t::n_threads]) for t in range(n_threads)]
        rounds = -(-len(lengths) // n_threads)
        assert sum(totals) == n
        assert max(totals) - min(totals) <= n_threads * rounds, (n, chunk, totals)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prediction_reads_rows_in_place_across_chunks(dtype):
    # Dense rows go to the first product straight from X (no gathered copy):
    # many chunks, a short last one, a view into X, Fortran order and CSR all
    # agree with a plain NumPy forward pass.
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    X = rng.standard_normal((5003, 7)).astype(dtype)
    y = np.arange(5003) % 4
    model = BackpropClassifier(hidden_layer_sizes=(9, 5), activation="tanh", max_iter=2, random_state=0)
    model.fit(X[:300], y[:300])
    assert model.coefs_[0].dtype == dtype

    def expected(A):
        coefs = [c.astype(np.float64) for c in model.coefs_]
        intercepts = [b.astype(np.float64) for b in model.intercepts_]
        return reference.forward(A.astype(np.float64), coefs, intercepts, "tanh", "softmax")[-1]

    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for A in (X, X[1:], np.asfortranarray(X), sp.csr_matrix(X)):
        dense = A.toarray() if sp.issparse(A) else A
        np.testing.assert_allclose(model.predict_proba(A), expected(dense), rtol=rtol, atol=1e-6)


def _expected(model, X):
    coefs = [c.astype(np.float64) for c in model.coefs_]
    intercepts = [b.astype(np.float64) for b in model.intercepts_]
    return reference.forward(np.asarray(X, dtype=np.float64), coefs, intercepts, "relu", "softmax")[-1]


@pytest.mark.parametrize("n", [1, 7])
def test_prediction_follows_every_change_to_the_weights(n):
    """Prediction reads the fit's flat buffer while coefs_ and intercepts_ view it: edits in
    place show, replaced arrays show, and copies or pickles never share what they read."""
    import copy
    import pickle

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    model = BackpropClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0).fit(X, np.arange(60) % 3)
    rows = X[:n]
    np.testing.assert_allclose(model.predict_proba(rows), _expected(model, rows), rtol=1e-5)
    model.coefs_[0][1, 2] += 0.5  # in place, in the viewed buffer
    np.testing.assert_allclose(model.predict_proba(rows), _expected(model, rows), rtol=1e-5)
    model.coefs_[1] = model.coefs_[1] * 2.0  # a new array
    np.testing.assert_allclose(model.predict_proba(rows), _expected(model, rows), rtol=1e-5)
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        before = model.predict_proba(rows)
        twin.intercepts_[0][:] += 1.0
        np.testing.assert_allclose(twin.predict_proba(rows), _expected(twin, rows), rtol=1e-5)
        np.testing.assert_array_equal(model.predict_proba(rows), before)


def test_one_row_predictions_from_many_threads_agree():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 5))
    model = BackpropClassifier(hidden_layer_sizes=(16, 8), max_iter=3, random_state=0).fit(X, np.arange(200) % 4)
    expected = np.vstack([model.predict_proba(X[i : i + 1]) for i in range(200)])
    with ThreadPoolExecutor(4) as pool:
        got = np.vstack(list(pool.map(lambda i: model.predict_proba(X[i : i + 1]), range(200))))
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(expected, model.predict_proba(X), rtol=1e-12)
