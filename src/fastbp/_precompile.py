"""Compile the CPU kernels ahead of time: for a container image's build step, or for every
worker of a cluster before its first task (``client.run(fastbp.precompile)``)."""

import time
import warnings

import numpy as np


def precompile(dtypes=("float64", "float32"), extensions=False):
    """Compile (or load from Numba's disk cache) the kernels that fits and predictions need.

    Each compiled kernel is saved in the disk cache (``__pycache__`` beside the
    package, or ``NUMBA_CACHE_DIR``), so later processes on the machine load it
    instead of compiling; in the calling process the kernels are then ready.
    Dense and sparse input share the same compiled kernels.

    Parameters
    ----------
    dtypes : sequence of {'float64', 'float32'}, default=('float64', 'float32')
        Working dtypes to compile for (float32 input trains in float32,
        anything else in float64).
    extensions : bool, default=False
        Also compile the kernels that fastbp's extensions to scikit-learn's
        MLP use (extra activations and losses, dropout, clipping, batch
        normalisation).

    Returns
    -------
    dict
        Seconds spent per dtype (and per ``'<dtype> extensions'``).

    Examples
    --------
    >>> import fastbp
    >>> timings = fastbp.precompile(dtypes=("float64",))
    >>> sorted(timings)
    ['float64']
    """
    from fastbp import BackpropClassifier

    timings = {}
    rng = np.random.RandomState(0)
    for name in dtypes:
        dtype = np.dtype(name)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtypes must hold 'float64' and/or 'float32', got {name!r}.")
        X = rng.rand(24, 3).astype(dtype)
        y = np.arange(24) % 2
        variants = [("", [dict(), dict(solver="lbfgs"), dict(early_stopping=True, validation_fraction=0.25)])]
        if extensions:
            variants.append((" extensions", [dict(activation="gelu", dropout=0.1, max_grad_norm=1.0),
                                             dict(batch_norm=True, batch_size=8),
                                             dict(batch_norm=True, solver="lbfgs")]))
        for suffix, settings in variants:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for params in settings:
                    model = BackpropClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0, **params)
                    model.fit(X, y).predict_proba(X)
            timings[dtype.name + suffix] = time.perf_counter() - start
    return timings
