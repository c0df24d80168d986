"""fastbp on a Dask ``LocalCluster`` (2 worker processes, 1 thread each).

1. A fresh worker's first task: the workers get an empty Numba cache
   (``NUMBA_CACHE_DIR``), as on a new machine; the seconds of the first fit
   submitted to each, without and with ``client.run(fastbp.precompile)`` first
   (whose own time is reported too).
2. A grid search (digits, 8 candidates x 3 folds): ``GridSearchCV`` under the dask
   joblib backend on the cluster, under loky (``n_jobs=2``), and scikit-learn's
   ``MLPClassifier`` on the same cluster.  Medians of ``--repeats``, warm kernels.

Usage: ``python -m benchmarks.cluster [--repeats 3]``
"""

import argparse
import tempfile
import time
import warnings

import numpy as np


def _first_fit():
    import warnings

    import numpy as np

    from fastbp import BackpropClassifier

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = np.random.RandomState(0).rand(500, 20).astype(np.float32)
        BackpropClassifier(hidden_layer_sizes=(32,), max_iter=5).fit(X, np.arange(500) % 3).predict(X)
    return time.perf_counter() - start


def first_task(precompile):
    """Seconds of the first fit on each of two fresh workers (and of ``precompile`` before it)."""
    import distributed

    import fastbp

    with tempfile.TemporaryDirectory() as cache:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, env={"NUMBA_CACHE_DIR": cache})
        with distributed.Client(cluster) as client:
            prepared = None
            if precompile:
                start = time.perf_counter()
                client.run(fastbp.precompile, dtypes=("float32",))
                prepared = time.perf_counter() - start
            workers = list(client.scheduler_info()["workers"])
            futures = [client.submit(_first_fit, pure=False, workers=[w]) for w in workers]
            times = client.gather(futures)
        cluster.close()
    return prepared, times


def sweep(repeats):
    import distributed
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier

    from fastbp import BackpropClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    grid = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "hidden_layer_sizes": [(64,), (128,)]}
    results = {"fastbp, dask cluster": [], "fastbp, loky n_jobs=2": [], "sklearn, dask cluster": []}
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster):
        for rep in range(repeats + 1):  # the first round warms every worker up
            for name, est, backend in (("fastbp, dask cluster", BackpropClassifier, "dask"),
                                       ("fastbp, loky n_jobs=2", BackpropClassifier, "loky"),
                                       ("sklearn, dask cluster", MLPClassifier, "dask")):
                search = GridSearchCV(est(max_iter=50, random_state=0), grid, cv=3, n_jobs=2)
                start = time.perf_counter()
                with warnings.catch_warnings(), joblib.parallel_backend(backend):
                    warnings.simplefilter("ignore")
                    search.fit(X, y)
                if rep:
                    results[name].append(time.perf_counter() - start)
    cluster.close()
    return {k: float(np.median(v)) for k, v in results.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    _, cold = first_task(precompile=False)
    prepared, warm = first_task(precompile=True)
    print("fresh workers (empty Numba cache), first fit of each, seconds:")
    print(f"  without precompile: {', '.join(f'{t:.2f}' for t in cold)}")
    print(f"  with precompile:    {', '.join(f'{t:.2f}' for t in warm)}  (client.run(fastbp.precompile): "
          f"{prepared:.2f} s, both workers at once)")
    times = sweep(args.repeats)
    base = times["fastbp, dask cluster"]
    print(f"GridSearchCV, digits (1797 x 64), 8 candidates x 3 folds, max_iter=50, median of {args.repeats}:")
    for name, t in times.items():
        print(f"  {name:24s} {t:7.2f} s  ({t / base:.2f}x fastbp on the cluster)")


if __name__ == "__main__":
    main()
