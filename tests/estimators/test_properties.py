"""Property-based tests: whatever a user hands a public method, the call either succeeds with
finite outputs of the right shape and dtype, or raises a ``ValueError``/``TypeError`` that
says what is wrong, never another exception and never a Numba error; a failed call leaves
the model unchanged; ``fit`` and ``predict`` accept the same inputs.

Drawn: the container (ndarray, list, pandas DataFrame with mixed dtypes, CSR/CSC/COO,
read-only memmap, read-only array), the dtype (float16/32/64, ints, bool, object numbers,
object strings, strings, bytes, complex, datetime64, timedelta64), the layout (C, Fortran,
negative strides, every other row or column), the shape (0 or 1 row, 0 columns, 1-D, 3-D)
and special values (NaN, +-inf, 1e300, float32's max, subnormals) in X, y and
``sample_weight``.  The number of examples is fixed and the draws derandomized under the
``ci`` profile (``tests/conftest.py``); ``HYPOTHESIS_PROFILE=dev`` draws more, at random.
The riskiest inputs also run in a subprocess (``test_no_input_crashes_the_interpreter``),
so that a crash would be reported, not take pytest down.
"""

import copy
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from fastbp import BackpropClassifier, BackpropRegressor

from test_reliability import assert_identical, fitted_state

pd = pytest.importorskip("pandas")

DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool", "object", "object-str",
          "str", "bytes", "complex128", "datetime64[s]", "timedelta64[s]"]
SPECIALS = [np.nan, np.inf, -np.inf, 1e300, -1e300, float(np.finfo(np.float32).max), 1e-310, 1e-40]
LAYOUTS = ["C", "F", "reversed rows", "reversed columns", "every other row", "every other column"]
CONTAINERS = ["ndarray", "list", "dataframe", "mixed dataframe", "csr", "csc", "coo", "memmap", "read-only"]
SHAPES = [(0, 3), (1, 3), (2, 3), (7, 3), (12, 3), (12, 1), (5, 0), ("1-D", 6), ("3-D", 4)]

#: Words that would mean an error leaked out of Numba or out of fastbp's internals.
LEAKS = re.compile(r"numba|nopython|llvm|NoneType|has no attribute|unsupported operand|index \d+ is out of bounds",
                   re.IGNORECASE)

_TMP = tempfile.TemporaryDirectory(prefix="fastbp-properties-")


def _convert(values, dtype):
    """float64 ``values`` as ``dtype`` (strings keep the numbers as text)."""
    if dtype == "object":
        return values.astype(object)
    if dtype == "object-str":
        out = values.astype(object)
        if out.size:
            out.flat[0] = str(out.flat[0])
        return out
    if dtype in ("str", "bytes"):
        return values.astype(str if dtype == "str" else bytes)
    if dtype.startswith(("datetime64", "timedelta64")):
        return np.nan_to_num(values, nan=0, posinf=0, neginf=0).clip(-1e9, 1e9).astype(np.int64).astype(dtype)
    if dtype == "bool":
        return values > 0
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        clean = np.nan_to_num(values, nan=0, posinf=0, neginf=0).clip(info.min / 2, info.max / 2)
        return np.round(clean).astype(dtype)
    with np.errstate(over="ignore"):
        return values.astype(dtype)


def _layout(values, layout):
    """``values`` (2-D) in ``layout``: the same logical shape, another memory order."""
    if values.ndim != 2:
        return values
    if layout == "F":
        return np.asfortranarray(values)
    if layout == "reversed rows":
        return values[::-1]
    if layout == "reversed columns":
        return values[:, ::-1]
    if layout == "every other row":
        wide = np.repeat(values, 2, axis=0)
        return wide[::2]
    if layout == "every other column":
        wide = np.repeat(values, 2, axis=1)
        return wide[:, ::2]
    return values


def _container(values, container, dtype):
    if container == "list":
        return values.tolist()
    if values.ndim != 2:
        return values
    if container == "dataframe":
        return pd.DataFrame(values, columns=[f"c{j}" for j in range(values.shape[1])])
    if container == "mixed dataframe" and values.shape[1] >= 2:
        frame = pd.DataFrame(values, columns=[f"c{j}" for j in range(values.shape[1])])
        if dtype.startswith("float"):
            frame["c0"] = frame["c0"].astype(np.float32)
            frame["c1"] = np.arange(values.shape[0], dtype=np.int64)
        return frame
    if container in ("csr", "csc", "coo") and values.dtype.kind in "fiub" and values.dtype != np.float16:
        return {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[container](values)
    if container == "memmap" and values.dtype.kind in "fiubc" and values.size:
        path = tempfile.mktemp(dir=_TMP.name)
        np.ascontiguousarray(values).tofile(path)
        return np.memmap(path, dtype=values.dtype, mode="r", shape=values.shape)
    if container == "read-only":
        values = values.copy(order="K")
        values.setflags(write=False)
    return values


@st.composite
def inputs(draw):
    """A drawn X, with what was drawn (for the messages) and whether it holds special values."""
    shape = draw(st.sampled_from(SHAPES))
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    container = draw(st.sampled_from(CONTAINERS))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    if shape[0] == "1-D":
        values = rng.normal(size=shape[1])
    elif shape[0] == "3-D":
        values = rng.normal(size=(shape[1], 3, 2))
    else:
        values = rng.normal(size=shape)
    special = None
    if values.size and draw(st.booleans()):
        special = draw(st.sampled_from(SPECIALS))
        values.flat[draw(st.integers(0, values.size - 1))] = special
    X = _container(_layout(_convert(values, dtype), layout), container, dtype)
    return X, {"shape": shape, "dtype": dtype, "layout": layout, "container": container, "special": special}


def _n_rows(about):
    shape = about["shape"]
    return shape[1] if shape[0] in ("1-D", "3-D") else shape[0]


def _width(about):
    shape = about["shape"]
    return 3 if shape[0] in ("1-D", "3-D") else shape[1]


@functools.lru_cache(maxsize=None)
def _fitted(kind, width):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, max(width, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "classifier":
            return BackpropClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, np.arange(30) % 3)
        return BackpropRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, X[:, 0])


def fitted(kind, width):
    """A model fitted on clean data with ``width`` features (a fresh copy for every call)."""
    return copy.deepcopy(_fitted(kind, width))


def targets(kind, n, special=None, seed=0):
    if kind == "classifier":
        y = (np.arange(n) % 3).astype(float)
    else:
        y = np.random.RandomState(seed).normal(size=n)
    if special is not None and n:
        y[0] = special
    return y


def attempt(model, call):
    """Run ``call``; on failure check the exception and that ``model`` did not change.

    Returns the result, or None when the call raised.
    """
    before = fitted_state(model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert message, f"{type(exc).__name__} without a message"
        assert not LEAKS.search(message), message
        assert_identical(fitted_state(model), before)
        return None


def check_output(out, n, shape_tail, model):
    assert isinstance(out, np.ndarray)
    assert out.shape == (n, *shape_tail)
    if out.dtype.kind == "f":
        assert out.dtype == model.coefs_[0].dtype or out.dtype == np.float64
        assert np.isfinite(out).all()


KINDS = st.sampled_from(["classifier", "regressor"])


@given(kind=KINDS, drawn=inputs())
def test_predict(kind, drawn):
    X, about = drawn
    model = fitted(kind, _width(about))
    out = attempt(model, lambda: model.predict(X))
    if out is not None:
        n = _n_rows(about)
        check_output(out, n, (), model)
        if kind == "classifier":
            assert set(out) <= set(model.classes_)


@given(drawn=inputs())
def test_predict_proba(drawn):
    X, about = drawn
    model = fitted("classifier", _width(about))
    out = attempt(model, lambda: model.predict_proba(X))
    if out is not None:
        check_output(out, _n_rows(about), (3,), model)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-4)


@given(kind=KINDS, drawn=inputs(), y_special=st.sampled_from([None] + SPECIALS))
def test_score(kind, drawn, y_special):
    X, about = drawn
    model = fitted(kind, _width(about))
    y = targets(kind, _n_rows(about), y_special)
    out = attempt(model, lambda: model.score(X, y))
    if out is not None:
        # R^2 of a single sample is undefined: scikit-learn's r2_score warns and returns NaN
        assert np.isfinite(out) or (kind == "regressor" and _n_rows(about) == 1)


WEIGHTS = st.sampled_from(["none", "ones", "special", "negative", "zeros", "short", "2-D", "strings"])


def weights(kind, n, special):
    if kind == "none":
        return None
    sw = np.ones(n)
    if kind == "special" and n:
        sw[0] = special
    elif kind == "negative" and n:
        sw[0] = -1.0
    elif kind == "zeros":
        sw[:] = 0.0
    elif kind == "short":
        sw = sw[:-1]
    elif kind == "2-D":
        sw = sw.reshape(-1, 1)
    elif kind == "strings":
        sw = sw.astype(str)
    return sw


def _fit_call(model, method, X, y, sw):
    if method == "partial_fit":
        return lambda: model.partial_fit(X, y, sample_weight=sw)
    return lambda: model.fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@given(kind=KINDS, drawn=inputs(), y_special=st.sampled_from([None] + SPECIALS), sw_kind=WEIGHTS,
       sw_special=st.sampled_from(SPECIALS), warm=st.booleans())
def test_fit_and_partial_fit(method, kind, drawn, y_special, sw_kind, sw_special, warm):
    X, about = drawn
    n = _n_rows(about)
    model = fitted(kind, _width(about)).set_params(warm_start=warm)
    y = targets(kind, n, y_special, seed=1)
    sw = weights(sw_kind, n, sw_special)
    result = attempt(model, _fit_call(model, method, X, y, sw))
    if result is not None:
        assert result is model
        assert all(np.isfinite(c).all() for c in model.coefs_)
        # whatever fit accepted, predict accepts (with the same meaning: the same rows)
        out = attempt(model, lambda: model.predict(X))
        assert out is not None, about
        assert out.shape[0] == n


@given(kind=KINDS, drawn=inputs())
def test_fit_and_predict_accept_the_same_inputs(kind, drawn):
    """On clean values (no special value), a fresh fit succeeds exactly when a prediction does."""
    X, about = drawn
    n = _n_rows(about)
    if about["special"] is not None or n < 3:
        return  # special values may fail one way only (divergence); 1-2 rows cannot hold 3 classes
    fresh = BackpropClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0) if kind == "classifier" \
        else BackpropRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    fit_ok = attempt(fresh, lambda: fresh.fit(X, targets(kind, n))) is not None
    model = fitted(kind, _width(about))
    predict_ok = attempt(model, lambda: model.predict(X)) is not None
    assert fit_ok == predict_ok, about


# ----------------------------------------------------------------- crashes
CRASH_SCRIPT = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from fastbp import BackpropClassifier, BackpropRegressor
outcomes = []
rng = np.random.RandomState(0)
specials = [np.nan, np.inf, -np.inf, 1e300, -1e300, float(np.finfo(np.float32).max), 1e-310, 1e-40]
for dtype in (np.float32, np.float64):
    for special in specials:
        for layout in ("C", "F", "reversed", "strided"):
            base = rng.normal(size=(24, 6)).astype(dtype)
            with np.errstate(over="ignore"):
                base[3, 2] = dtype(special)
            X = {"C": base, "F": np.asfortranarray(base), "reversed": base[::-1, ::-1],
                 "strided": np.repeat(base, 2, axis=1)[:, ::2]}[layout]
            for Est, y in ((BackpropClassifier, np.arange(24) % 3), (BackpropRegressor, rng.normal(size=24))):
                for solver in ("adam", "sgd", "lbfgs"):
                    clean = Est(hidden_layer_sizes=(5, 3), solver=solver, max_iter=3, random_state=0)
                    clean.fit(rng.normal(size=(24, 6)).astype(dtype), y)
                    for what, call in (("fit", lambda: Est(hidden_layer_sizes=(5,), solver=solver, max_iter=3).fit(X, y)),
                                       ("predict", lambda: clean.predict(X)),
                                       ("partial_fit", lambda: clean.partial_fit(X, y) if solver != "lbfgs" else None)):
                        try:
                            call()
                            outcomes.append("ok")
                        except (ValueError, TypeError):
                            outcomes.append("refused")
print(json.dumps(outcomes))
"""


def test_no_input_crashes_the_interpreter():
    """Special values in every layout through fit, predict and partial_fit, in a child process:
    it must exit normally, every call succeeding or refusing with ValueError/TypeError."""
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(outcomes) == 2 * 8 * 4 * 2 * 3 * 3
    assert "refused" in outcomes and "ok" in outcomes
