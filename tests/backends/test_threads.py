"""Thread pools: fastbp honours the limits a user or joblib sets, holds the BLAS to one
thread while its own threads run, and restores every pool afterwards."""

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from fastbp import BackpropClassifier
from fastbp.backends.cpu import _blas_libraries, default_threads, thread_limits


def blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two Numba threads")
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(previous)


def test_scipy_blas_is_seen():
    # The BLAS Numba's np.dot calls is SciPy's; the limits must reach it.
    assert _blas_libraries(), "no BLAS library found"
    assert any("scipy" in lib.filepath for lib in _blas_libraries())


def test_default_threads_honours_threadpoolctl_limit(two_threads):
    with threadpool_limits(limits=2, user_api="blas"):
        assert default_threads() == 2
    with threadpool_limits(limits=1, user_api="blas"):
        assert default_threads() == 1


def test_default_threads_honours_numba_and_omp_limits(two_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert default_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    numba.set_num_threads(1)
    assert default_threads() == 1


def test_thread_limits_sets_and_restores_both_pools(two_threads):
    before = blas_threads()
    with thread_limits(2):
        assert numba.get_num_threads() == 2
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
    assert numba.get_num_threads() == 2
    numba.set_num_threads(1)
    with pytest.raises(RuntimeError, match="inside"):
        with thread_limits(2):
            assert numba.get_num_threads() == 2
            raise RuntimeError("inside")
    assert blas_threads() == before  # restored on an exception too
    assert numba.get_num_threads() == 1


def test_fit_and_predict_leave_the_pools_as_they_were(two_threads):
    X = np.random.RandomState(0).rand(60, 4)
    y = np.arange(60) % 3
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        model = BackpropClassifier(hidden_layer_sizes=(5,), max_iter=3).fit(X, y)
        model.predict_proba(X)
        assert blas_threads() == before
        assert numba.get_num_threads() == 2



class FakeBlas:
    """Stands in for a threadpoolctl library controller (OpenBLAS itself ignores
    ``set_num_threads`` from a thread other than the one that last set it, so the
    real library cannot show the bookkeeping)."""

    def __init__(self, n):
        self.num_threads = n

    def set_num_threads(self, n):
        self.num_threads = n


def test_overlapping_limits_in_two_python_threads_restore_the_blas(two_threads, monkeypatch):
    # A enters, B enters, A leaves, B leaves: the BLAS stays on one thread
    # until B leaves, then gets back the count it had before A entered.
    import threading

    from fastbp.backends import cpu

    fake = FakeBlas(2)
    monkeypatch.setattr(cpu, "_blas_libraries", lambda: [fake])
    steps = {name: threading.Event() for name in ("a_in", "b_in", "a_out")}
    seen = {}

    def a():
        with thread_limits(2):
            steps["a_in"].set()
            seen["inside_a"] = fake.num_threads
            steps["b_in"].wait(10)
        steps["a_out"].set()

    def b():
        steps["a_in"].wait(10)
        with thread_limits(2):
            steps["b_in"].set()
            steps["a_out"].wait(10)
            seen["inside_b_after_a"] = fake.num_threads
            seen["numba_in_b"] = numba.get_num_threads()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"inside_a": 1, "inside_b_after_a": 1, "numba_in_b": 2}
    assert fake.num_threads == 2
    with thread_limits(2):  # and the next one saves and restores afresh
        fake_inside = fake.num_threads
    assert (fake_inside, fake.num_threads) == (1, 2)


def test_limits_work_in_a_worker_thread_after_the_main_thread(two_threads):
    # threadpoolctl (3.8+) lets only one Python thread at a time set OpenBLAS's
    # thread count and silently ignores the others: a fit in a worker thread
    # after one in the main thread must still hold the BLAS to one thread.
    import threading

    seen = {}

    def worker():
        with thread_limits(2):
            seen["worker"] = blas_threads()
        seen["worker_after"] = blas_threads()

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with thread_limits(2):
            seen["main"] = blas_threads()
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(20)
        assert set(seen["main"]) == {1}
        assert set(seen["worker"]) == {1}
        assert seen["worker_after"] == before
        assert blas_threads() == before


def test_limits_in_a_worker_thread_while_the_main_thread_holds_a_limit(two_threads):
    import threading

    seen = {}

    def worker():
        with thread_limits(2):
            seen["worker"] = blas_threads()

    original = blas_threads()
    with threadpool_limits(limits=2, user_api="blas"):  # the main thread controls OpenBLAS now
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(20)
        assert set(seen["worker"]) == {1}
        assert set(blas_threads()) == {2}  # the main thread's limit is back
    assert blas_threads() == original  # and its own restore still works


def test_default_threads_ignores_fastbps_own_hold_on_the_blas(two_threads):
    # While one Python thread runs kernels (BLAS held at one thread), a fit or
    # prediction starting in another must still see the limit the user set,
    # not fastbp's own: it would run on one thread, and chunk its rows
    # differently from a prediction made alone.
    import threading

    inside, leave, seen = threading.Event(), threading.Event(), {}

    def holder():
        with thread_limits(2):
            inside.set()
            leave.wait(10)

    with threadpool_limits(limits=2, user_api="blas"):
        thread = threading.Thread(target=holder)
        thread.start()
        inside.wait(10)
        seen["blas"] = blas_threads()
        seen["default"] = default_threads()
        leave.set()
        thread.join(20)
    assert set(seen["blas"]) == {1}
    assert seen["default"] == 2


def test_small_predictions_run_on_one_thread(two_threads, monkeypatch):
    # A parallel loop costs more than it saves below _config.PREDICT_PARALLEL_MACS
    # multiply-adds (and much more from a second Python thread): such
    # predictions run on one thread, larger ones on all.
    from fastbp import _config
    from fastbp.backends import cpu

    X = np.random.RandomState(0).rand(3000, 10)
    model = BackpropClassifier(hidden_layer_sizes=(20,), max_iter=2).fit(X[:100], np.arange(100) % 3)
    macs_per_row = 10 * 20 + 20 * 3
    seen = []
    real = cpu.K.predict

    def spy(data, rows, theta, net, work, *outputs):
        seen.append((rows.shape[0], work[0].shape[0], numba.get_num_threads()))
        return real(data, rows, theta, net, work, *outputs)

    monkeypatch.setattr(cpu.K, "predict", spy)
    with threadpool_limits(limits=2, user_api="blas"):
        small = _config.PREDICT_PARALLEL_MACS // macs_per_row - 1
        large = _config.PREDICT_PARALLEL_MACS // macs_per_row + 1
        for n in (1, small, large):
            np.testing.assert_allclose(model.predict_proba(X[:n]), model.predict_proba(X[:n].copy()))
    by_rows = {n: (slots, numba_threads) for n, slots, numba_threads in seen}
    assert by_rows[1] == (1, 2)  # one row: one workspace, its one loop iteration, no pool touched
    assert by_rows[small] == (2, 1)
    assert by_rows[large] == (2, 2)


def _in_thread(fn):
    import threading

    out = {}

    def target():
        out["value"] = fn()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    return out["value"]


@pytest.fixture
def epoch_threads(two_threads, monkeypatch):
    """Numba thread counts the compiled epochs ran with, per fit; fresh thread registry."""
    from fastbp.backends import cpu

    monkeypatch.setattr(cpu, "_parallel_threads", {})
    seen = []
    real = cpu.K.run_epoch

    def spy(*args):
        seen.append(numba.get_num_threads())
        return real(*args)

    monkeypatch.setattr(cpu.K, "run_epoch", spy)
    return seen


def small_fit(hidden=(8,)):
    X = np.random.RandomState(0).rand(300, 6)
    return BackpropClassifier(hidden_layer_sizes=hidden, max_iter=3, batch_size=50, random_state=0).fit(X, np.arange(300) % 3)


def test_small_fits_in_a_second_thread_run_on_one_thread_with_the_same_result(epoch_threads):
    from fastbp.backends import cpu

    with threadpool_limits(limits=2, user_api="blas"):
        in_main = small_fit()
        main_threads = list(epoch_threads)
        epoch_threads.clear()
        in_worker = _in_thread(small_fit)
        worker_threads = list(epoch_threads)
        assert not cpu.others_ran_parallel()  # the worker ran on one thread: no team of its own
    assert set(main_threads) == {2}
    assert set(worker_threads) == {1}
    for a, b in zip(in_main.coefs_ + in_main.intercepts_, in_worker.coefs_ + in_worker.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_large_fits_in_a_second_thread_stay_parallel(epoch_threads):
    from fastbp import _config
    from fastbp.backends import cpu

    hidden = (2 * _config.SECOND_THREAD_MACS // (3 * 50 * 6),)  # two loops' worth per mini-batch and more
    with threadpool_limits(limits=2, user_api="blas"):
        small_fit()
        epoch_threads.clear()
        _in_thread(lambda: small_fit(hidden))
        assert set(epoch_threads) == {2}
        assert not cpu.others_ran_parallel()  # the worker has ended: its team does not count


def test_without_another_parallel_thread_fits_use_every_thread(epoch_threads):
    with threadpool_limits(limits=2, user_api="blas"):
        _in_thread(small_fit)  # a worker alone (the main thread has not run any kernel)
        small_fit()
    assert set(epoch_threads) == {2}


def test_a_prediction_is_the_same_whatever_thread_it_runs_on(two_threads, monkeypatch):
    # One Numba thread (a small prediction, or a second Python thread) takes
    # the same blocks of rows in turn: the result is the same to the bit.
    # (Blocks cut for one thread instead gave a 1-ulp difference in the first
    # of these networks.)
    from fastbp import BackpropRegressor, _config
    from fastbp.backends import cpu

    monkeypatch.setattr(cpu, "_parallel_threads", {})
    rng = np.random.RandomState(3)
    with threadpool_limits(limits=2, user_api="blas"):
        for n_features, hidden, n in [(5, (8,), 1300), (5, (13,), 1000), (7, (17,), 1501)]:
            X = rng.rand(n, n_features)
            model = BackpropRegressor(hidden_layer_sizes=hidden, max_iter=2, random_state=0).fit(X[:200], X[:200, 0])
            monkeypatch.setattr(_config, "PREDICT_PARALLEL_MACS", 0)
            parallel = model.predict(X)
            monkeypatch.setattr(_config, "PREDICT_PARALLEL_MACS", 10**12)
            one_thread = model.predict(X)
            monkeypatch.setattr(_config, "PREDICT_PARALLEL_MACS", 0)
            in_worker = _in_thread(lambda: model.predict(X))  # the main thread ran on two: one there
            np.testing.assert_array_equal(one_thread, parallel)
            np.testing.assert_array_equal(in_worker, parallel)
