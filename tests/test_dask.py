"""fastbp on a Dask cluster: a real ``distributed.LocalCluster`` (2 worker processes, 1 thread
each), started by the tests.  Grid searches under the dask joblib backend, dask-ml's
``Incremental``, and the thread count a fit uses inside a one-thread worker."""

import sys

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
dask_ml = pytest.importorskip("dask_ml")
import cloudpickle  # noqa: E402  (a dependency of distributed)
import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from dask_ml.wrappers import Incremental  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from fastbp import BackpropClassifier  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.filterwarnings("ignore::FutureWarning")]

# The workers are other processes: functions of this module travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    return X, y


def test_grid_search_on_the_cluster_equals_one_process(client, data):
    X, y = data
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (16,)]}
    make = lambda: GridSearchCV(BackpropClassifier(max_iter=30, random_state=0), grid, cv=3)  # noqa: E731
    local = make().set_params(n_jobs=1).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = make().fit(X, y)
    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    workers_used = client.run(lambda: "fastbp.estimators._base" in sys.modules)
    assert all(workers_used.values())  # the fits ran on the workers


def test_incremental_equals_the_same_partial_fit_calls(client, data):
    X, y = data
    classes = np.unique(y)
    chunks = 75
    dX, dy = da.from_array(X, chunks=(chunks, 8)), da.from_array(y, chunks=chunks)
    params = dict(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=0.01)
    remote = Incremental(BackpropClassifier(**params), scoring="accuracy", shuffle_blocks=False)
    for _ in range(3):  # passes over the chunked array
        remote.partial_fit(dX, dy, classes=classes)
    local = BackpropClassifier(**params)
    for _ in range(3):
        for start in range(0, len(y), chunks):
            local.partial_fit(X[start : start + chunks], y[start : start + chunks], classes=classes)
    fitted = remote.estimator_
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, local.coefs_ + local.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert fitted.loss_curve_ == local.loss_curve_ and len(local.loss_curve_) == 12


def _fit_and_report_threads():
    """In a worker: fit, and report the Numba thread count seen inside the fit (a callback)."""
    import numba

    seen = []

    class Record:
        def on_epoch_end(self, estimator, epoch, logs):
            seen.append(numba.get_num_threads())
            return False

    X = np.random.RandomState(0).rand(400, 5)
    BackpropClassifier(hidden_layer_sizes=(32,), max_iter=3, callbacks=[Record()]).fit(X, np.arange(400) % 2)
    return sorted(set(seen)), numba.config.NUMBA_NUM_THREADS


def test_a_fit_in_a_one_thread_worker_uses_one_numba_thread(client):
    results = client.run(_fit_and_report_threads)
    for used, available in results.values():
        assert used == [1], (used, available)


def test_precompile_runs_on_every_worker(client):
    import fastbp

    timings = client.run(fastbp.precompile, dtypes=("float32",))
    assert len(timings) == 2 and all(set(t) == {"float32"} for t in timings.values())
