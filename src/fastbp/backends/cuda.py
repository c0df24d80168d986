"""CUDA backend: the same interface as :mod:`fastbp.backends.cpu`, data resident on the GPU.

``numba.cuda`` is imported here, lazily: importing fastbp never imports the
CUDA toolchain, and a ``device="cuda"`` fit on a machine without a usable GPU
raises a ``RuntimeError`` that says so.

During a stochastic fit the training data, the parameters, the optimizer
state and every workspace stay on the device.  Per epoch the host sends the
shuffled sample order (the shuffle is NumPy's Mersenne Twister, run on the
host by the compiled CPU kernel so the order is exactly scikit-learn's) and
gets back one loss sum per mini-batch; per mini-batch nothing crosses.
"""

import contextlib

import numpy as np

from fastbp import _config
from fastbp import optim as O
from fastbp.optim import steps
from fastbp.optim.steps import penalty
from fastbp.nn.activations import NEEDS_Z
from fastbp.nn.losses import batch_loss
from fastbp.nn.norm import MEAN, RUN_MEAN, RUN_VAR, VAR, prediction_parameters


def cuda_available():
    """True when numba.cuda is importable and finds a usable GPU (or the simulator)."""
    try:
        from numba import cuda
    except Exception:  # pragma: no cover - depends on the installation
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # pragma: no cover
        return False


def require_cuda():
    """Import the CUDA kernels, or raise a ``RuntimeError`` explaining why they cannot run."""
    try:
        from numba import cuda
    except Exception as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "device='cuda' needs numba's CUDA target: pip install 'fastbp[cuda]'. "
            f"Importing numba.cuda failed: {exc}"
        ) from exc
    if not cuda.is_available():
        raise RuntimeError(
            "device='cuda' was requested but no usable CUDA GPU or driver was found "
            "(numba.cuda.is_available() is False). Use device='cpu' or device='auto'."
        )
    from fastbp.kernels.cuda import activations, dense, losses, norm, optim

    return cuda, activations, dense, losses, optim, norm


def _blocks(n):
    return max(1, -(-n // _config.CUDA_THREADS))


class CUDABackend:
    """Kernel driver for one network on the GPU (same interface as ``CPUBackend``).

    Parameters
    ----------
    spec : fastbp.nn.spec.NetworkSpec
        The network: layout, activations, loss, dtype, dropout rates.
    seed : int, default=0
        Seed of the dropout masks.
    norm_stats : ndarray of shape (6, n_hidden_units), default=None
        Batch-normalisation statistics (host array; see ``CPUBackend``).
        Training works on a device copy; :meth:`fetch_norm_stats` and the
        trainer's ``finish`` bring it back.
    norm_eps : float, default=1e-5
    """

    def __init__(self, spec, seed=0, norm_stats=None, norm_eps=1e-5):
        self.cuda, self.K_act, self.K_dense, self.K_loss, self.K_opt, self.K_norm = require_cuda()
        self.spec = spec
        self.norm_stats = norm_stats
        self.norm_eps = norm_eps
        self.d_stats = None  # the device copy of norm_stats while a fit uses it
        self.layout = spec.layout
        self.dtype = spec.dtype
        self.codes = tuple(int(c) for c in spec.codes)
        self.n_threads = 1
        self.dropout = list(spec.dropout) if spec.dropout else [0.0] * (len(self.layout.units) - 2)
        self.seed = int(seed)
        self.step = 0  # mini-batch step the dropout masks are drawn for

    # ------------------------------------------------------------ plumbing
    def limits(self):
        """Nothing to limit on the host: a no-op context manager."""
        return contextlib.nullcontext()

    def to_device(self, data):
        """Copy a kernel ``data`` tuple (see :mod:`fastbp.kernels.cpu`) to the device."""
        return tuple(self.cuda.to_device(np.ascontiguousarray(a)) for a in data)

    def views(self, d_flat):
        """Per-layer weight-matrix and bias views of a flat device buffer."""
        lay = self.layout
        Ws, bs = [], []
        for l in range(len(lay.units) - 1):
            n_in, n_out = int(lay.units[l]), int(lay.units[l + 1])
            Ws.append(d_flat[int(lay.w_off[l]) : int(lay.w_off[l]) + n_in * n_out].reshape(n_in, n_out))
            bs.append(d_flat[int(lay.b_off[l]) : int(lay.b_off[l]) + n_out])
        return Ws, bs

    def _norm_views(self, d_flat):
        """Per-hidden-layer scale and shift views of a flat device buffer (batch norm)."""
        lay = self.layout
        gammas, betas = [], []
        for l, start in enumerate(lay.g_off):
            m = int(lay.units[l + 1])
            gammas.append(d_flat[int(start) : int(start) + m])
            betas.append(d_flat[int(start) + m : int(start) + 2 * m])
        return gammas, betas

    def norm_context(self, d_theta, d_grad, hyper, train):
        """What the passes need to normalise (None without batch norm): the device
        statistics, scale and shift views of the parameters and of the gradient."""
        if not self.layout.batch_norm:
            return None
        gammas, betas = self._norm_views(d_theta)
        g_gammas, g_betas = self._norm_views(d_grad)
        starts = np.concatenate(([0], np.cumsum(self.layout.units[1:-1])))
        return {
            "stats": self.d_stats, "gammas": gammas, "betas": betas, "g_gammas": g_gammas, "g_betas": g_betas,
            "first": [int(h) for h in starts], "momentum": float(hyper[O.H_BN_MOMENTUM]),
            "eps": float(hyper[O.H_BN_EPSILON]), "train": bool(train),
        }

    def upload_norm_stats(self):
        """Put a device copy of ``norm_stats`` in ``d_stats`` (batch norm; at the start of a fit)."""
        self.d_stats = self.cuda.to_device(self.norm_stats) if self.layout.batch_norm else None

    def fetch_norm_stats(self):
        """Copy the device's batch-normalisation statistics into ``norm_stats``."""
        if self.d_stats is not None:
            self.d_stats.copy_to_host(self.norm_stats)

    def use_batch_statistics(self):
        """Make the running statistics those of the last full batch evaluated (for L-BFGS)."""
        self.fetch_norm_stats()
        h = int(self.layout.units[1 : 1 + self.spec.frozen_layers].sum())  # frozen layers' statistics stay
        self.norm_stats[RUN_MEAN, h:] = self.norm_stats[MEAN, h:]
        self.norm_stats[RUN_VAR, h:] = self.norm_stats[VAR, h:]

    def predict_theta(self, theta):
        """Parameters prediction uses (:func:`fastbp.nn.norm.prediction_parameters`)."""
        return prediction_parameters(theta, self.layout, self.norm_stats, self.norm_eps)

    def workspace(self, capacity):
        """Device buffers for ``capacity`` rows: each layer's outputs and deltas, row losses
        (and, with batch norm, each hidden layer's normalised values)."""
        cuda = self.cuda
        units = [int(u) for u in self.layout.units]
        return {
            "xhat": [cuda.device_array((capacity, u) if self.layout.batch_norm else (1, 1), dtype=self.dtype)
                     for u in units[1:-1]],
            "acts": [cuda.device_array((capacity, u), dtype=self.dtype) for u in units[1:]],
            "deltas": [cuda.device_array((capacity, u), dtype=self.dtype) for u in units[1:]],
            "pre": [cuda.device_array((capacity, u) if self.codes[0] in NEEDS_Z else (1, 1), dtype=self.dtype)
                    for u in units[1:]],
            "row_loss": cuda.device_array(capacity, dtype=self.dtype),
            "row_w": cuda.device_array(capacity, dtype=self.dtype),
        }

    # ------------------------------------------------------------- kernels
    def plan(self):
        """What the layer loops of :mod:`fastbp.kernels.cuda.dense` read of this network
        (:class:`~fastbp.kernels.cuda.dense.Plan`), for the current mini-batch step."""
        return self.K_dense.Plan(self.codes, tuple(self.dropout), self.seed, self.step, self.spec.frozen_layers,
                                 self.dtype)

    def forward(self, d_data, rows, n, Ws, bs, work, train=False, norm=None):
        """:func:`fastbp.kernels.cuda.dense.forward` of this network (dropout at step ``self.step``)."""
        return self.K_dense.forward(self.plan(), d_data, rows, n, (Ws, bs), work, train, norm)

    def backward(self, d_data, rows, n, Ws, gWs, gbs, work, norm=None):
        """:func:`fastbp.kernels.cuda.dense.backward` of this network."""
        self.K_dense.backward(self.plan(), d_data, rows, n, (Ws, gWs, gbs), work, norm)

    def loss_and_delta(self, d_data, rows, n, P, work, hyper, d_theta, sums):
        threads = _config.CUDA_THREADS
        self.K_loss.loss_delta_kernel[_blocks(n), threads](
            P, d_data[4], rows, d_data[5], self.codes[2], self.dtype.type(hyper[O.H_CLIP_EPS]),
            self.dtype.type(hyper[O.H_LOSS_PARAM]), self.dtype.type(hyper[O.H_OUT_SCALE]),
            work["deltas"][-1][:n], work["row_loss"], work["row_w"],
        )
        self.K_loss.batch_sums_kernel[1, threads](
            work["row_loss"], work["row_w"], n, d_theta, self.layout.n_coef, sums
        )

    def penalties(self, hyper):
        dt = self.dtype.type
        return dt(hyper[O.H_ALPHA]), dt(hyper[O.H_L1]), float(hyper[O.H_MAX_NORM])

    def grad_norm(self, d_theta, d_grad, sums, hyper):
        alpha, l1, max_norm = self.penalties(hyper)
        if max_norm > 0:
            self.K_opt.grad_norm_kernel[1, _config.CUDA_THREADS](
                d_theta, d_grad, self.layout.n_coef, alpha, l1, sums, self.trainable_starts()
            )

    def finish_gradient(self, d_theta, d_grad, sums, hyper):
        """Penalise, normalise and clip the raw gradient in place (L-BFGS)."""
        self.grad_norm(d_theta, d_grad, sums, hyper)
        alpha, l1, max_norm = self.penalties(hyper)
        self.K_opt.finish_gradient_kernel[_blocks(d_theta.shape[0]), _config.CUDA_THREADS](
            d_theta, d_grad, self.layout.n_coef, alpha, l1, sums, max_norm, self.trainable_starts()
        )

    def trainable_starts(self):
        """Device copy of where the parameters that train start (uploaded once)."""
        if getattr(self, "_d_trainable", None) is None:
            starts = self.layout.trainable_starts(self.spec.frozen_layers)[1:]
            self._d_trainable = self.cuda.to_device(starts)
        return self._d_trainable

    # ------------------------------------------------------------ interface
    def trainer(self, data, theta, opt, batch_size):
        """A stochastic-training trainer with everything resident on the device."""
        return CUDATrainer(self, data, theta, opt, batch_size)

    def full_batch(self, data):
        """A function ``(theta, grad, hyper) -> loss``: full-batch loss and gradient on the GPU.

        The data and workspaces are uploaded once; each evaluation sends the
        parameters and brings back the gradient (what SciPy's L-BFGS needs).
        """
        cuda = self.cuda
        d_data = self.to_device(data)
        n = data[4].shape[0]
        work = self.workspace(n)
        rows = cuda.to_device(np.arange(n, dtype=np.int64))
        sums = cuda.device_array(5, dtype=np.float64)
        d_theta = cuda.device_array(self.layout.size, dtype=self.dtype)
        d_grad = cuda.device_array(self.layout.size, dtype=self.dtype)
        Ws, bs = self.views(d_theta)
        gWs, gbs = self.views(d_grad)
        self.upload_norm_stats()

        def loss_grad(theta, grad, hyper):
            d_theta.copy_to_device(theta)
            norm = self.norm_context(d_theta, d_grad, hyper, train=False)
            P = self.forward(d_data, rows, n, Ws, bs, work, norm=norm)
            self.loss_and_delta(d_data, rows, n, P, work, hyper, d_theta, sums)
            self.backward(d_data, rows, n, Ws, gWs, gbs, work, norm=norm)
            self.finish_gradient(d_theta, d_grad, sums, hyper)
            host = sums.copy_to_host()
            d_grad.copy_to_host(grad)
            return _batch_loss(host, hyper, self.codes[2], int(self.layout.units[-1]))

        return loss_grad

    def predict(self, data, theta, limited=False, return_finite=False):
        """Output-layer activations for every row of ``data``, computed on the GPU.

        With ``return_finite``, also whether every value of X is finite (a
        host-side sum, as :meth:`fastbp.backends.cpu.CPUBackend.predict` reports it).
        """
        cuda = self.cuda
        n = data[4].shape[0]
        out = np.empty((n, int(self.layout.units[-1])), dtype=self.dtype)
        if n:
            d_data = self.to_device(data)
            d_theta = cuda.to_device(self.predict_theta(theta))
            out = self.predict_device(d_data, d_theta, out)
        if return_finite:
            values = data[1] if data[3].shape[0] else data[0]
            with np.errstate(over="ignore", invalid="ignore"):
                return out, bool(np.isfinite(values.sum(dtype=np.float64)))
        return out

    def predict_device(self, d_data, d_theta, out):
        cuda = self.cuda
        n = out.shape[0]
        chunk = min(n, _config.CUDA_PREDICT_CHUNK)
        work = self.workspace(chunk)
        Ws, bs = self.views(d_theta)
        all_rows = cuda.to_device(np.arange(n, dtype=np.int64))
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            P = self.forward(d_data, all_rows[start:stop], stop - start, Ws, bs, work)
            out[start:stop] = P.copy_to_host()
        return out


def _batch_loss(sums, hyper, loss_code, n_outputs):
    """scikit-learn's batch loss from the device sums ``[loss, weight, sum W^2, sum |W|, ...]``
    (:func:`fastbp.nn.losses.batch_loss` plus :func:`fastbp.optim.steps.penalty`)."""
    loss_sum, sw_sum, sq, ab = sums[0], sums[1], sums[2], sums[3]
    if sw_sum == 0.0:
        return 0.0
    loss = batch_loss(loss_sum, sw_sum, n_outputs, loss_code)
    return float(loss + penalty(hyper[O.H_ALPHA], hyper[O.H_L1], sq, ab, sw_sum))


class CUDATrainer:
    """Stochastic training of one fit with data, parameters and state on the GPU.

    Same interface as :class:`fastbp.backends.cpu.CPUTrainer`.
    """

    def __init__(self, backend, data, theta, opt, batch_size):
        cuda = backend.cuda
        self.backend = backend
        self.host_theta = theta
        self.opt = opt
        self.batch_size = batch_size
        self.sw = np.asarray(data[5], dtype=np.float64)
        self.d_data = backend.to_device(data)
        self.d_theta = cuda.to_device(theta)
        self.d_grad = cuda.device_array_like(self.d_theta)
        self.d_moments = cuda.to_device(opt.moments)
        self.work = backend.workspace(batch_size)
        n = data[4].shape[0]
        self.n_batches = -(-n // batch_size)
        self.d_sums = cuda.device_array((self.n_batches, 5), dtype=np.float64)
        self.Ws, self.bs = backend.views(self.d_theta)
        self.gWs, self.gbs = backend.views(self.d_grad)
        backend.upload_norm_stats()

    def epoch(self, order, rng_state, hyper):
        """One epoch: host shuffle, one order upload, every mini-batch on the device."""
        from fastbp.kernels.cpu.rng import shuffle

        be, cuda = self.backend, self.backend.cuda
        key, pos = rng_state
        if key.shape[0] > 0:
            shuffle(order, key, pos)
        d_order = cuda.to_device(order)
        n = order.shape[0]
        bs = self.batch_size
        starts = np.arange(0, n, bs)
        batch_w = np.add.reduceat(self.sw[order], starts)  # which batches carry weight
        dt = be.dtype.type
        n_params = self.d_theta.shape[0]
        alpha, l1, max_norm = be.penalties(hyper)
        solver = int(hyper[O.H_SOLVER])
        n_coef = be.layout.n_coef
        norm = be.norm_context(self.d_theta, self.d_grad, hyper, train=True)
        for b, start in enumerate(starts):
            stop = min(start + bs, n)
            m = stop - start
            rows = d_order[start:stop]
            sums = self.d_sums[b]
            be.step = int(self.opt.counters[1])  # dropout masks of this mini-batch
            self.opt.counters[1] += 1
            P = be.forward(self.d_data, rows, m, self.Ws, self.bs, self.work, train=True, norm=norm)
            be.loss_and_delta(self.d_data, rows, m, P, self.work, hyper, self.d_theta, sums)
            if batch_w[b] <= 0.0:
                continue
            be.backward(self.d_data, rows, m, self.Ws, self.gWs, self.gbs, self.work, norm=norm)
            be.grad_norm(self.d_theta, self.d_grad, sums, hyper)
            if solver != O.SGD and solver != O.RMSPROP:
                self.opt.counters[0] += 1  # Adam's step count
            c = tuple(dt(x) for x in steps.solver_constants(hyper, int(self.opt.counters[0])))
            c_bias = c[: steps.DECAY] + (dt(0.0),) + c[steps.DECAY + 1 :]
            be.K_opt.update_kernel[_blocks(n_params), _config.CUDA_THREADS](
                self.d_theta, self.d_grad, self.d_moments[0], self.d_moments[1], n_coef, alpha, l1, sums,
                max_norm, solver, be.trainable_starts(), c, c_bias,
            )
        host_sums = self.d_sums.copy_to_host()  # the one transfer back per epoch
        total = 0.0
        for b, start in enumerate(starts):
            if batch_w[b] > 0.0:
                total += _batch_loss(host_sums[b], hyper, be.codes[2], int(be.layout.units[-1])) * (
                    min(start + bs, n) - start
                )
        return total / n

    def snapshot(self):
        """A device copy of the current parameters (and batch-normalisation statistics)."""
        cuda, d_stats = self.backend.cuda, self.backend.d_stats
        snap = cuda.device_array_like(self.d_theta)
        snap.copy_to_device(self.d_theta)
        stats = None
        if d_stats is not None:
            stats = cuda.device_array_like(d_stats)
            stats.copy_to_device(d_stats)
        return snap, stats

    def restore(self, snapshot):
        self.d_theta.copy_to_device(snapshot[0])
        if snapshot[1] is not None:
            self.backend.d_stats.copy_to_device(snapshot[1])

    def predict(self, data):
        """Outputs of the current network for ``data``, the parameters staying on the device.

        ``data`` is uploaded once and kept for later epochs (the validation set).
        """
        out = np.empty((data[4].shape[0], int(self.backend.layout.units[-1])), dtype=self.backend.dtype)
        if out.shape[0] == 0:
            return out
        if getattr(self, "_uploaded", (None,))[0] is not data:
            self._uploaded = (data, self.backend.to_device(data))
        d_theta = self.d_theta
        if self.backend.layout.batch_norm:  # fold the running statistics in, on the host (small)
            self.backend.fetch_norm_stats()
            d_theta = self.backend.cuda.to_device(self.backend.predict_theta(self.d_theta.copy_to_host()))
        return self.backend.predict_device(self._uploaded[1], d_theta, out)

    def finish(self):
        """Copy the parameters and optimizer state back to the host; returns the parameters."""
        self.d_theta.copy_to_host(self.host_theta)
        self.d_moments.copy_to_host(self.opt.moments)
        self.backend.fetch_norm_stats()
        return self.host_theta
