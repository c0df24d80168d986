"""Input checks shared by the estimators' ``fit``, ``partial_fit`` and prediction methods.

``fit`` and the prediction methods accept the same inputs with the same
meaning: numbers (any real dtype, booleans, objects holding numbers) in a
NumPy array, a sequence, a pandas DataFrame or a SciPy sparse matrix.
Strings (even numeric ones), bytes, dates and times are refused by both with
a ``ValueError`` that names the dtype, where NumPy would otherwise turn
``"1.5"`` or a ``datetime64`` into a float at ``fit`` and refuse it at
``predict``.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array

#: NumPy dtype kinds that are not numbers, and what to call them.
_NOT_NUMBERS = {
    "U": "strings",
    "S": "bytes",
    "M": "dates",
    "m": "time differences",
    "V": "structured or raw values",
}


def _refuse(input_name, column, dtype, what):
    where = f"{input_name} column {column!r}" if column is not None else input_name
    raise ValueError(
        f"{where} has dtype {dtype} ({what}): fastbp trains on numbers only. Convert it to numeric "
        "features first (for example with a ColumnTransformer, or pandas.to_numeric for numeric strings)."
    )


def _holds_text(values):
    """Whether an object array holds any ``str`` or ``bytes`` value."""
    return any(isinstance(v, (str, bytes)) for v in np.ravel(values))


def _check_dtype(input_name, column, dtype, values):
    kind = getattr(dtype, "kind", None)
    if kind in _NOT_NUMBERS:
        _refuse(input_name, column, dtype, _NOT_NUMBERS[kind])
    name = str(dtype)
    if name in ("string", "str") or name.startswith("string["):  # pandas' string dtypes
        _refuse(input_name, column, dtype, "strings")
    categories = getattr(dtype, "categories", None)
    if categories is not None:  # pandas' categorical: its categories are what NumPy would see
        _check_dtype(input_name, column, categories.dtype, np.asarray(categories, dtype=object))
    elif kind == "O" and values is not None and _holds_text(values):
        _refuse(input_name, column, dtype, "objects holding strings")


def refuse_non_numeric(X, input_name="X"):
    """Raise a ``ValueError`` naming the dtype (and column) if ``X`` holds no numbers.

    Parameters
    ----------
    X : array-like, DataFrame, sparse matrix or None
        The input as the user gave it (before conversion).  Anything NumPy
        cannot turn into an array is left to ``check_array``, which says why.
    input_name : str
        Name used in the message (``'X'``, ``'y'``, ``'sample_weight'``, ...).
    """
    if X is None or isinstance(X, numbers.Number):
        return
    if sp.issparse(X):
        _check_dtype(input_name, None, X.dtype, None)
        return
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns") and hasattr(dtypes, "items"):  # a DataFrame
        for column, dtype in dtypes.items():
            _check_dtype(input_name, column, dtype, X[column].to_numpy(dtype=object) if dtype == object else None)
        return
    dtype = getattr(X, "dtype", None)
    if dtype is not None and hasattr(X, "__array__"):  # a NumPy array, a Series, a memmap...
        values = np.asarray(X, dtype=object) if getattr(dtype, "kind", "O") == "O" else None
        _check_dtype(input_name, None, dtype, values)
        return
    try:
        array = np.asarray(X)
    except Exception:  # noqa: BLE001 - ragged or otherwise not an array: check_array's message
        return
    _check_dtype(input_name, None, array.dtype, array if array.dtype.kind == "O" else None)


def check_sample_weight(sample_weight, X, dtype):
    """Validate ``sample_weight``: 1-D, one finite non-negative value per sample, not all 0.

    Returns ``None`` when no weights are given.
    """
    if sample_weight is None:
        return None
    n = X.shape[0]
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n, sample_weight, dtype=dtype)
    refuse_non_numeric(sample_weight, "sample_weight")
    sw = check_array(sample_weight, ensure_2d=False, dtype=dtype, order="C", input_name="sample_weight")
    if sw.ndim != 1:
        raise ValueError(f"Sample weights must be a 1D array or a scalar, got a {sw.ndim}D array.")
    if sw.shape != (n,):
        raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n,)}!")
    if np.any(sw < 0):
        raise ValueError("Negative values in sample_weight are not allowed.")
    if np.all(sw == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw
