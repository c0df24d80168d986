"""CPU backend: turns estimator-side arrays into kernel tuples and calls the kernels.

One :class:`CPUBackend` serves one network shape and dtype.  It owns the
workspaces (allocated once per fit, never per mini-batch) and exposes the three
operations the estimators need: one training epoch, the full-batch loss and
gradient (for L-BFGS), and prediction.
"""

import contextlib
import functools
import os
import threading

import numba
import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from fastbp import _config
from fastbp import optim as O
from fastbp.kernels.cpu import epoch as K
from fastbp.kernels.cpu.dense import Net
from fastbp.nn.activations import NEEDS_Z
from fastbp.nn.norm import MEAN, RUN_MEAN, RUN_VAR, VAR, prediction_parameters


def as_kernel_data(X, Y=None, sample_weight=None, dtype=np.float64):
    """Pack X (dense or sparse), targets and weights into the kernels' ``data`` tuple.

    Dense X becomes C-contiguous and writeable in ``dtype`` (read-only input,
    such as a memory map, is copied: the kernels are compiled for writeable
    arrays only, which bounds the number of specialisations).  Sparse X becomes
    CSR with int64 indices; it is never densified.
    """
    n = X.shape[0]
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        x_data = np.array(X.data, dtype=dtype)
        x_indices = np.array(X.indices, dtype=np.int64)
        x_indptr = np.array(X.indptr, dtype=np.int64)
        dense = np.zeros((0, X.shape[1]), dtype=dtype)
    else:
        dense = np.ascontiguousarray(X, dtype=dtype)
        if not dense.flags.writeable:
            dense = dense.copy()
        x_data = np.zeros(0, dtype=dtype)
        x_indices = np.zeros(0, dtype=np.int64)
        x_indptr = np.zeros(0, dtype=np.int64)
    if Y is None:
        Y = np.zeros((n, 0), dtype=dtype)
    else:
        Y = np.ascontiguousarray(np.asarray(Y).reshape(n, -1), dtype=dtype)
    if sample_weight is None:
        sw = np.ones(n, dtype=dtype)
    else:
        sw = np.ascontiguousarray(sample_weight, dtype=dtype)
    return (dense, x_data, x_indices, x_indptr, Y, sw)


def prediction_chunk(n, n_threads, most):
    """Rows per chunk of a prediction of ``n`` rows on ``n_threads`` workspaces: at most
    ``most``, as many rounds of ``n_threads`` chunks as that needs (the kernel
    deals chunk ``c`` to workspace ``c % n_threads``), and chunks of one length
    (the last shorter), so the threads' row counts differ by less than one
    row per round and thread.

    Chunks of ``most`` rows leave one thread up to a whole chunk more: on W2
    (50,000 rows, 2 threads, 2048 rows) 25,424 against 24,576 rows; here 26
    chunks of 1924 rows (the last 1900), 25,012 against 24,988.
    """
    per_thread = -(-n // n_threads)
    rounds = -(-per_thread // most)
    return -(-n // (n_threads * rounds))


_threads_lock = threading.Lock()  # guards the thread bookkeeping below
_blas_holders = 0  # threads inside thread_limits
_blas_saved = []  # (library controller, its thread count before the first holder)
_parallel_threads = {}  # ident -> threading.Thread: Python threads that ran kernels on several Numba threads
_DummyThread = getattr(threading, "_DummyThread", ())  # threads not started by threading: never seen to end


def note_parallel():
    """Record that this Python thread runs fastbp's kernels on more than one Numba thread.

    Under GNU OpenMP (Numba's ``omp`` layer) such a thread owns a team of
    OpenMP threads for as long as it lives; see :func:`others_ran_parallel`.
    """
    thread = threading.current_thread()
    if not isinstance(thread, _DummyThread):
        with _threads_lock:
            _parallel_threads[thread.ident] = thread


def others_ran_parallel():
    """Whether another live Python thread has run fastbp's kernels on several Numba threads.

    Then GNU OpenMP has a team of threads for each of them, more OpenMP
    threads than cores, and it spins only 100 iterations before sleeping
    (libgomp's throttled spin): every parallel loop started from here pays a
    wake-up, 76-110 us measured on the 2-core Intel Xeon.  Kernels with
    little work per parallel loop then run faster on one thread
    (``_config.SECOND_THREAD_MACS``).
    """
    me = threading.get_ident()
    with _threads_lock:
        for ident in [i for i, t in _parallel_threads.items() if not t.is_alive()]:
            del _parallel_threads[ident]
        return any(ident != me for ident in _parallel_threads)


def default_threads():
    """Threads a fit may use: Numba's thread count, capped by every limit in force.

    The limits honoured are ``NUMBA_NUM_THREADS`` and ``numba.set_num_threads``
    (through ``numba.get_num_threads``), ``OMP_NUM_THREADS``, and the BLAS
    thread limit set with ``threadpoolctl`` or by joblib's loky workers (which
    give each worker of ``GridSearchCV(n_jobs=k)`` a share of the cores), so
    a parallel sweep is not oversubscribed.  While another Python thread runs
    fastbp's kernels (which hold the BLAS at one thread), the BLAS counts read
    are the ones in force before it.
    """
    n = numba.get_num_threads()
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        n = min(n, int(omp))
    with _threads_lock:  # while fastbp itself holds the BLAS at one thread, the counts it found
        if _blas_holders:
            blas = [n for _, n in _blas_saved]
        else:
            blas = [lib.num_threads for lib in _blas_libraries()]
    if blas:
        n = min(n, min(blas))
    return max(n, 1)


@functools.lru_cache(maxsize=1)
def _controller():
    # scipy's BLAS is the one Numba's np.dot calls: load it before looking.
    import scipy.linalg.cython_blas  # noqa: F401

    return ThreadpoolController()


def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded in this process.

    Their ``num_threads`` and ``set_num_threads`` read and set one library's
    thread count directly: ``ThreadpoolController.info()`` and ``limit()``
    also read every library's version and architecture on each call (50 us
    of the 370 us a one-row prediction took).
    """
    return [lib for lib in _controller().lib_controllers if lib.user_api == "blas"]


@contextlib.contextmanager
def thread_limits(n_threads):
    """Run Numba's parallel regions on ``n_threads`` threads and BLAS on one, then restore both.

    The kernels split every mini-batch between Numba's threads, each calling a
    single-threaded BLAS: no two thread pools compete for the cores.

    Numba's thread count is per Python thread; the BLAS's is one for the
    process, so it is held at one from the first of several Python threads
    running kernels at the same time to the last, and then restored (each
    restoring what it found would leave the BLAS on one thread whenever two
    overlapped).
    """
    global _blas_holders, _blas_saved
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        with _threads_lock:
            if _blas_holders == 0:
                blas = _blas_libraries()
                _blas_saved = [(lib, lib.num_threads) for lib in blas]
                _control_blas(blas, take=True)
                for lib in blas:
                    lib.set_num_threads(1)
            _blas_holders += 1
        try:
            yield
        finally:
            with _threads_lock:
                _blas_holders -= 1
                if _blas_holders == 0:
                    _control_blas([lib for lib, _ in _blas_saved], take=True)
                    for lib, n in _blas_saved:
                        lib.set_num_threads(n)
                    _control_blas([lib for lib, _ in _blas_saved], take=False)
    finally:
        numba.set_num_threads(previous)


@contextlib.contextmanager
def numba_threads(n_threads):
    """Run Numba's parallel regions on ``n_threads`` threads, then restore the count (the
    BLAS untouched: for products under ``_config.BLAS_SERIAL_MNK``)."""
    previous = numba.get_num_threads()
    if previous == n_threads:
        yield
        return
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _control_blas(blas, take):
    """Let this Python thread set the BLAS thread counts (``take``), or give that up.

    threadpoolctl (3.8 and later) lets one Python thread at a time set the
    thread count of an OpenBLAS with its own thread pool, the first that
    sets it, until it gives up control, and silently ignores the others.
    Without taking control, a fit in a worker thread after one in the main
    thread runs its kernels on an OpenBLAS still using two threads: 2.1x
    slower on 2 cores (W2-like fit, 0.61 against 0.29 s).  Taking it is safe here:
    the counts are restored before control is given up, so a limit another
    thread set is back when it next looks.
    """
    for cls in {type(lib) for lib in blas}:
        clear = getattr(cls, "clear_controlling_thread", None)
        if clear is not None:
            clear(force=take)


def make_net(spec, seed=0):
    """The kernels' :class:`~fastbp.kernels.cpu.dense.Net` record for ``spec``.

    Its ``extensions`` array (``[seed, step, rate of each hidden layer]``)
    is there where ``spec.extended``; None otherwise, so the kernels are
    compiled without the extensions' code.
    """
    layout = spec.layout
    extensions = None
    if spec.extended:
        n_hidden = len(layout.units) - 2
        extensions = np.zeros(2 + max(n_hidden, 0) + 1)
        extensions[0] = seed
        if spec.dropout:
            extensions[2 : 2 + n_hidden] = spec.dropout
    return Net(layout.units, layout.w_off, layout.b_off, np.asarray(spec.codes, dtype=np.int64), extensions,
               layout.trainable_starts(spec.frozen_layers))



@functools.lru_cache(maxsize=64)
def prediction_net(spec):
    """:func:`make_net` of a prediction spec, built once per spec (it is immutable)."""
    return make_net(spec)


class ScratchPool:
    """Flat scratch buffers kept between prediction calls, one per dtype.

    A new workspace is memory the kernel pages in with its first writes
    (the operating system faults in and zeroes every page): on the project's
    2-core Intel Xeon that took 330 of the 546 us of a 1,797-row W1
    prediction kernel.  Predictions borrow a buffer from here instead.

    Thread-safe: a buffer is taken out of the pool while a prediction uses
    it, so predictions running at the same time in several threads never
    share one (the second allocates its own).  Buffers over ``max_bytes`` are
    not kept, so the pool holds at most ``max_bytes`` per dtype.

    Parameters
    ----------
    max_bytes : int
        Largest buffer kept.
    """

    def __init__(self, max_bytes):
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._free = {}

    @contextlib.contextmanager
    def borrow(self, size, dtype):
        """Context manager giving a flat buffer of at least ``size`` entries of ``dtype``
        (uninitialised), returned to the pool on exit."""
        dtype = np.dtype(dtype)
        with self._lock:
            buf = self._free.get(dtype)
            if buf is not None and buf.size >= size:
                del self._free[dtype]
            else:
                buf = None
        if buf is None:
            buf = np.empty(size, dtype=dtype)
        try:
            yield buf
        finally:
            if buf.nbytes <= self.max_bytes:
                with self._lock:
                    kept = self._free.get(dtype)
                    if kept is None or kept.size < buf.size:
                        self._free[dtype] = buf

    def clear(self):
        """Drop every buffer kept."""
        with self._lock:
            self._free.clear()


#: The ``rows`` argument of a one-row prediction (the kernels only read it).
_ROW_ZERO = np.zeros(1, dtype=np.int64)
#: One-row prediction workspaces of this Python thread, by spec (:attr:`CPUBackend._one_row_work`).
_ONE_ROW = threading.local()
_MISSING = object()

#: The pool :meth:`CPUBackend.predict` borrows its workspaces from.
PREDICT_SCRATCH = ScratchPool(_config.PREDICT_SCRATCH_BYTES)


def _aligned(n):
    """``n`` rounded up to a multiple of 16 entries (64 bytes of float32)."""
    return -(-n // 16) * 16


class CPUBackend:
    r"""Kernel driver for one network on the CPU.

    Parameters
    ----------
    spec : fastbp.nn.spec.NetworkSpec
        The network: layout, activations, loss, dtype and extensions.
    n_threads : int, default=None
        Threads to use; by default :func:`default_threads`.
    seed : int, default=0
        Seed of the dropout masks.
    norm_stats : ndarray of shape (6, n_hidden_units), default=None
        With a batch-normalised layout: the statistics array of
        :mod:`fastbp.kernels.cpu.norm` (rows 0 and 1 the running mean and
        variance, used at prediction and updated in place by training).
    norm_eps : float, default=1e-5
        Batch normalisation's :math:`\epsilon`, for prediction.
    """

    def __init__(self, spec, n_threads=None, seed=0, norm_stats=None, norm_eps=1e-5):
        self.spec = spec
        self.layout = spec.layout
        self.dtype = spec.dtype
        self.codes = spec.codes
        if n_threads is not None:
            self.n_threads = int(n_threads)
        self.seed = seed
        self.norm_stats = norm_stats
        self.norm_eps = norm_eps

    @functools.cached_property
    def n_threads(self):
        """Threads this backend uses (:func:`default_threads` unless given): read on first use,
        so a one-row prediction, which needs one, never reads the thread pools."""
        return default_threads()

    # The kernels' records are built on first use: a backend made for one prediction
    # never needs the training one (make_net is 3 us a call).
    @functools.cached_property
    def net(self):
        """The kernels' ``net`` record for training (:func:`make_net`)."""
        return make_net(self.spec, self.seed)

    @property
    def net_eval(self):
        """The kernels' ``net`` record for prediction (no dropout, no clipping)."""
        return prediction_net(self.spec.for_prediction())

    def training_net(self, hyper):
        """The ``net`` record for training with ``hyper``.

        Raises
        ------
        RuntimeError
            If ``hyper`` asks for gradient clipping and the spec does not say
            so (the kernels would be compiled without it).
        """
        if hyper[O.H_MAX_NORM] > 0.0 and not self.spec.clipping:
            raise RuntimeError("hyper asks for gradient clipping but the network spec has clipping=False.")
        return self.net

    def use_batch_statistics(self):
        """Make the running statistics those of the last full batch evaluated (for L-BFGS,
        which predicts with the statistics of the whole training set)."""
        self.fetch_norm_stats()
        h = int(self.layout.units[1 : 1 + self.spec.frozen_layers].sum())  # frozen layers' statistics stay
        self.norm_stats[RUN_MEAN, h:] = self.norm_stats[MEAN, h:]
        self.norm_stats[RUN_VAR, h:] = self.norm_stats[VAR, h:]

    def limits(self):
        """Context manager that sets the thread pools for this backend's kernels."""
        return thread_limits(self.n_threads)

    def workspace(self, capacity):
        """Per-thread buffers for ``capacity`` rows split between the threads.

        Returns ``(activations, deltas, gathered input, pre-activations)`` of
        shapes ``(T, rows * sum(units[1:]))``, the same, ``(T, rows,
        n_features)`` and ``(T, rows * sum(units[1:]))`` (``(T, 0)`` unless the
        hidden activation needs them), with ``rows = ceil(capacity / T)``.
        """
        T = self.n_threads
        rows = -(-capacity // T)
        per_row = int(self.layout.units[1:].sum())
        pre = rows * per_row if self.codes[0] in NEEDS_Z else 0
        return (
            np.empty((T, rows * per_row), dtype=self.dtype),
            np.empty((T, rows * per_row), dtype=self.dtype),
            np.empty((T, rows, int(self.layout.units[0])), dtype=self.dtype),
            np.empty((T, pre), dtype=self.dtype),
        )

    def norm_workspace(self, capacity):
        """The kernels' ``norm`` tuple for ``capacity`` rows (see :mod:`fastbp.kernels.cpu.norm`)."""
        T = self.n_threads
        units = self.layout.units
        rows = -(-capacity // T)
        return (
            self.layout.g_off,
            self.norm_stats,
            np.zeros((T, int(units[1:].max()))),
            np.empty((T, rows * int(units[1:].sum())), dtype=self.dtype),
        )

    def fetch_norm_stats(self):
        """Bring the batch-normalisation statistics to ``norm_stats`` (on the CPU they are there already)."""

    def gradient_parts(self):
        """Per-thread raw gradient buffers, ``(T, n_params)``."""
        return np.empty((self.n_threads, self.layout.size), dtype=self.dtype)

    def trainer(self, data, theta, opt, batch_size):
        """A stochastic-training trainer over ``data`` (see :class:`CPUTrainer`)."""
        return CPUTrainer(self, data, theta, opt, batch_size)

    def full_batch(self, data):
        """A function ``(theta, grad, hyper) -> loss`` giving the full-batch loss and
        gradient of ``data`` (for L-BFGS; call it inside :meth:`limits`)."""
        rows = np.arange(data[4].shape[0], dtype=np.int64)
        work = self.workspace(rows.shape[0])
        parts = self.gradient_parts()
        if self.n_threads > 1:
            note_parallel()
        if self.layout.batch_norm:
            from fastbp.kernels.cpu.norm import batch_loss_grad_normed

            norm = self.norm_workspace(rows.shape[0])

            def loss_grad(theta, grad, hyper):
                return batch_loss_grad_normed(data, rows, theta, grad, parts, self.net, work, norm, hyper)

            return loss_grad

        def loss_grad(theta, grad, hyper):
            return K.batch_loss_grad(data, rows, theta, grad, parts, self.net, work, hyper)

        return loss_grad

    def predict(self, data, theta, limited=False, return_finite=False):
        """Output-layer activations for every row of ``data``.

        ``limited=True`` when the caller is already inside :meth:`limits`.
        With ``return_finite``, also whether every value of dense X is finite
        (the kernel's sums, :func:`fastbp.kernels.cpu.epoch.predict`; a sum
        that overflows says False for finite values too).
        """
        n = data[4].shape[0]
        out = np.empty((n, int(self.layout.units[-1])), dtype=self.dtype)
        theta = prediction_parameters(theta, self.layout, self.norm_stats, self.norm_eps)
        if n == 1 and self._one_row_work is not None:  # no thread pool touched, no scratch pool
            sums = np.zeros(1)
            K.predict(data, _ROW_ZERO, theta, self.net_eval, self._one_row_work, out, sums)
            return (out, bool(np.isfinite(sums[0]))) if return_finite else out
        T = 1 if n <= 1 else self.n_threads  # one row: one workspace, whatever the thread count
        sums = np.zeros(T)
        if n:
            rows = prediction_chunk(n, T, _config.PREDICT_CHUNK_BYTES // self.dtype.itemsize)
            sizes = self._prediction_sizes(rows, T)
            threads = 1 if T == 1 else self.prediction_threads(n)
            with PREDICT_SCRATCH.borrow(sum(_aligned(s) for s in sizes), self.dtype) as scratch:
                work = self._prediction_workspace(scratch, rows, sizes, T)
                if threads > 1:
                    note_parallel()
                if (limited and threads == T) or (T == 1 and self.largest_layer() <= _config.BLAS_SERIAL_MNK):
                    pools = contextlib.nullcontext()  # one row: one workspace, one loop iteration, a serial BLAS
                elif threads == 1 and rows * self.largest_layer() <= _config.BLAS_SERIAL_MNK:
                    pools = numba_threads(1)  # products this small run on one BLAS thread anyway
                else:
                    pools = thread_limits(threads)
                with pools:
                    K.predict(data, np.arange(n, dtype=np.int64), theta, self.net_eval, work, out, sums)
        if return_finite:
            with np.errstate(over="ignore", invalid="ignore"):
                return out, bool(np.isfinite(sums.sum()))
        return out

    @property
    def _one_row_work(self):
        """The prediction workspace of one row (:meth:`_prediction_workspace`), kept per Python
        thread and spec (so that two threads predicting at once never share one), or None where
        the network's products are too large for a serial BLAS to be certain."""
        kept = getattr(_ONE_ROW, "work", None)
        if kept is None:
            kept = _ONE_ROW.work = {}
        work = kept.get(self.spec, _MISSING)
        if work is _MISSING:
            work = None
            if self.largest_layer() <= _config.BLAS_SERIAL_MNK:
                sizes = self._prediction_sizes(1, 1)
                buf = np.empty(sum(_aligned(s) for s in sizes), dtype=self.dtype)
                work = self._prediction_workspace(buf, 1, sizes, 1)
            if len(kept) >= 64:
                kept.clear()
            kept[self.spec] = work
        return work

    def largest_layer(self):
        """The largest ``n_in * n_out`` of the network's layers."""
        units = self.layout.units
        return int((units[:-1] * units[1:]).max())

    def prediction_threads(self, n):
        """Numba threads a prediction of ``n`` rows runs on: one where its multiply-adds
        are under ``_config.PREDICT_PARALLEL_MACS`` (or ``n`` is 1), or under
        ``_config.SECOND_THREAD_MACS`` while :func:`others_ran_parallel`; else all.

        The rows are split into the same ``n_threads`` blocks either way (on one
        thread they are taken in turn), so the result does not depend on it.
        """
        if self.n_threads < 2 or n < 2:
            return 1
        macs = n * self.macs_per_row()
        if macs < _config.PREDICT_PARALLEL_MACS or (macs < _config.SECOND_THREAD_MACS and others_ran_parallel()):
            return 1
        return self.n_threads

    def macs_per_row(self):
        """Multiply-adds of one row's forward pass."""
        units = self.layout.units
        return int((units[:-1] * units[1:]).sum())

    def _prediction_sizes(self, rows, T):
        """Entries of the activations and pre-activations of a prediction workspace
        with ``rows`` rows per thread and ``T`` threads."""
        per_row = int(self.layout.units[1:].sum())
        pre = rows * per_row if self.codes[0] in NEEDS_Z else 0
        return (T * rows * per_row, T * pre)

    def _prediction_workspace(self, scratch, rows, sizes, T):
        """:meth:`workspace` for prediction, laid out in the flat ``scratch`` buffer.

        The same types (each part C-contiguous, so the kernel's compiled code
        is the same), with nothing in the parts a forward pass never touches:
        the deltas, ``(T, 0)``, and the gathered input, ``(T, 0, n_features)``
        (the kernel reads X's rows in place).
        """
        acts, pre = sizes
        a = _aligned(acts)
        return (
            scratch[:acts].reshape(T, acts // T),
            np.empty((T, 0), dtype=self.dtype),
            np.empty((T, 0, int(self.layout.units[0])), dtype=self.dtype),
            scratch[a : a + pre].reshape(T, pre // T),
        )


class CPUTrainer:
    """Stochastic training of one fit on the CPU: the parameters stay in ``theta``.

    Every backend's trainer has this interface, so the estimator's epoch loop
    does not know where the parameters live.

    Parameters
    ----------
    backend : CPUBackend
    data : tuple
        Training data from :func:`as_kernel_data`.
    theta : ndarray
        Flat parameters, trained in place.
    opt : fastbp.optim.OptimizerState
        Optimizer state, updated in place.
    batch_size : int
    """

    def __init__(self, backend, data, theta, opt, batch_size):
        self.backend = backend
        self.data = data
        self.theta = theta
        self.opt = opt
        self.batch_size = batch_size
        self.work = backend.workspace(batch_size)
        self.parts = backend.gradient_parts()
        self.norm = backend.norm_workspace(batch_size) if backend.layout.batch_norm else None
        # forward and backward of a mini-batch: three products per layer
        self.batch_macs = 3 * min(batch_size, data[4].shape[0]) * backend.macs_per_row()

    def epoch(self, order, rng_state, hyper):
        """One compiled epoch (inside ``backend.limits()``); returns its mean training loss.

        While :func:`others_ran_parallel`, an epoch whose mini-batches are
        small (``_config.SECOND_THREAD_MACS`` per parallel loop, two loops per
        mini-batch) runs its loops on one Numba thread: the per-thread blocks
        are the same, taken in turn, so the result is the same to the bit.
        """
        if self.backend.n_threads > 1 and self.batch_macs < 2 * _config.SECOND_THREAD_MACS and others_ran_parallel():
            with thread_limits(1):
                return self._epoch(order, rng_state, hyper)
        if self.backend.n_threads > 1:
            note_parallel()
        return self._epoch(order, rng_state, hyper)

    def _epoch(self, order, rng_state, hyper):
        if self.norm is not None:
            from fastbp.kernels.cpu.norm import run_epoch_normed

            return run_epoch_normed(
                self.data, order, rng_state, self.theta, self.parts, (self.opt.moments, self.opt.counters),
                self.backend.training_net(hyper), self.work, self.norm, hyper, self.batch_size,
            )
        return K.run_epoch(
            self.data, order, rng_state, self.theta, self.parts, (self.opt.moments, self.opt.counters),
            self.backend.training_net(hyper), self.work, hyper, self.batch_size,
        )

    def snapshot(self):
        """A copy of the current parameters and running statistics (for early stopping's best weights)."""
        stats = self.backend.norm_stats
        return self.theta.copy(), (None if stats is None else stats.copy())

    def restore(self, snapshot):
        """Make ``snapshot`` the current parameters (and running statistics)."""
        self.theta[:] = snapshot[0]
        if snapshot[1] is not None:
            self.backend.norm_stats[:] = snapshot[1]

    def predict(self, data):
        """Outputs of the current network for ``data`` (a host array)."""
        return self.backend.predict(data, self.theta, limited=True)

    def finish(self):
        """The trained parameters as a host array (the optimizer state is already on the host)."""
        return self.theta
