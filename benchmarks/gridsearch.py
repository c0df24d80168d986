"""Does a parallel grid search scale?  ``GridSearchCV(n_jobs=2)`` against ``n_jobs=1``.

Eight configurations of BackpropClassifier on W2-like data (shrunk), 2-fold CV,
timed with ``n_jobs=1`` and ``n_jobs=2`` alternately; prints the medians and
their ratio.  fastbp caps its threads at the BLAS limit loky gives each worker,
so two workers on two cores do not oversubscribe them.

Also prints the ceiling of that ratio: ``n_jobs=1`` already trains each fit
on both cores, so two one-thread workers can at best halve the one-thread
time; the ceiling is ``2 x (n_jobs=1 time) / (one-thread time)``.

Usage: ``python -m benchmarks.gridsearch [--repeats 3] [--epochs 3] [--scale 0.2]``
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from benchmarks.workloads import WORKLOADS
from fastbp import BackpropClassifier


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=3, help="max_iter of every fit")
    args = parser.parse_args(argv)
    w = WORKLOADS["W2"]
    X, y = w.data(np.float32, scale=args.scale)
    grid = {"alpha": [1e-4, 1e-3], "hidden_layer_sizes": [(256, 128), (128, 64)], "learning_rate_init": [1e-3, 3e-3]}
    est = BackpropClassifier(batch_size=w.batch_size, max_iter=args.epochs, random_state=0)
    warnings.simplefilter("ignore", ConvergenceWarning)
    GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X[:2000], y[:2000])  # warm the workers' caches
    times = {"1": [], "1, one thread": [], "2": []}
    for _ in range(args.repeats):
        for key in times:
            start = time.perf_counter()
            if key == "1, one thread":
                with threadpool_limits(1):
                    GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X, y)
            else:
                GridSearchCV(est, grid, cv=2, n_jobs=int(key)).fit(X, y)
            times[key].append(time.perf_counter() - start)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"GridSearchCV, 8 configurations x 2 folds, {X.shape[0]} x {X.shape[1]}, median of {args.repeats}:")
    for key, value in med.items():
        print(f"  n_jobs={key:14s} {value:6.2f} s   ({med['1'] / value:.2f}x of n_jobs=1)")
    print(f"  n_jobs=2 vs n_jobs=1 with fastbp limited to one thread: {med['1, one thread'] / med['2']:.2f}x")
    # n_jobs=1 already runs each fit on both cores; two single-threaded workers can at best
    # halve the one-thread time, so n_jobs=2 can gain at most this over n_jobs=1:
    print(f"  ceiling of n_jobs=2 vs n_jobs=1 (two perfect one-thread workers): "
          f"{2 * med['1'] / med['1, one thread']:.2f}x")


if __name__ == "__main__":
    main()
