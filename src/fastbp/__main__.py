"""``python -m fastbp``: train on scikit-learn's bundled digits and compare with MLPClassifier.

Prints the test accuracy and fit time of a BackpropClassifier and of
scikit-learn's MLPClassifier with the same parameters, on the same split, in
the same run.  The first fastbp fit in a fresh environment includes compiling
the kernels (cached on disk afterwards): that time is printed separately.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from fastbp import BackpropClassifier, __version__


def _timed_fit(make, X, y, repeats):
    """Median fit time over ``repeats`` fits, and the last fitted model."""
    times = []
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), model


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastbp", description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=100, help="epochs per fit (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="fits per estimator; the median time is shown")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(args.dtype)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    params = dict(hidden_layer_sizes=(100,), max_iter=args.max_iter, random_state=0)
    print(f"fastbp {__version__}: digits, {X_train.shape[0]} train / {X_test.shape[0]} test samples, "
          f"{X.shape[1]} features, {args.dtype}, hidden (100,), adam, {args.max_iter} epochs")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        BackpropClassifier(**{**params, "max_iter": 1}).fit(X_train[:50], y_train[:50])
        warmup = time.perf_counter() - start
        t_fast, fast = _timed_fit(lambda: BackpropClassifier(**params), X_train, y_train, args.repeats)
        t_sk, sk = _timed_fit(lambda: MLPClassifier(**params), X_train, y_train, args.repeats)

    print(f"first call (compile or load from cache): {warmup:.2f} s")
    print(f"{'':20s}{'accuracy':>10s}{'fit time':>12s}")
    print(f"{'BackpropClassifier':20s}{fast.score(X_test, y_test):10.4f}{t_fast:11.3f}s")
    print(f"{'MLPClassifier':20s}{sk.score(X_test, y_test):10.4f}{t_sk:11.3f}s")
    print(f"speed-up: {t_sk / t_fast:.1f}x (median of {args.repeats} fits each)")


if __name__ == "__main__":
    main()
