"""Host-side drivers of the kernels: one interface, one factory that owns the choice of device.

The estimators depend on this module alone: :func:`make_backend` returns a
:class:`Backend` for a :class:`~fastbp.nn.spec.NetworkSpec` on the device asked
for, :func:`require_device` fails early where that device cannot train,
:func:`kernel_data` packs arrays the way every backend takes them, and
:func:`evaluation_loss` scores outputs with the kernels' loss.  The CUDA
backend is imported only when a GPU is asked for.
"""

from typing import Protocol, runtime_checkable

import numpy as np

from fastbp import optim as O
from fastbp.backends.cpu import CPUBackend, as_kernel_data

__all__ = ["Backend", "Trainer", "make_backend", "require_device", "kernel_data", "evaluation_loss"]


@runtime_checkable
class Trainer(Protocol):
    """Stochastic training of one fit: the parameters live wherever the backend keeps them."""

    def epoch(self, order, rng_state, hyper):
        """Train one epoch (shuffle, every mini-batch); return its mean training loss."""

    def snapshot(self):
        """An opaque copy of the current parameters and running statistics."""

    def restore(self, snapshot):
        """Make a :meth:`snapshot` the current parameters and running statistics."""

    def predict(self, data):
        """Outputs of the current network for ``data`` (a :func:`kernel_data` tuple), on the host."""

    def finish(self):
        """The trained parameters as a host array (optimizer state and statistics brought back)."""


@runtime_checkable
class Backend(Protocol):
    """Kernel driver for one network (:attr:`spec`) on one device.

    Attributes
    ----------
    spec : fastbp.nn.spec.NetworkSpec
    norm_stats : ndarray of shape (6, n_hidden_units) or None
        Batch-normalisation statistics (rows :data:`fastbp.nn.norm.RUN_MEAN`
        and :data:`~fastbp.nn.norm.RUN_VAR` are the running ones), on the host.
    """

    spec: object
    norm_stats: object

    def limits(self):
        """Context manager that sets the host's thread pools for this backend's kernels."""

    def trainer(self, data, theta, opt, batch_size):
        """A :class:`Trainer` over ``data``, training ``theta`` with optimizer state ``opt``."""

    def full_batch(self, data):
        """A function ``(theta, grad, hyper) -> loss``: full-batch loss and gradient (L-BFGS)."""

    def predict(self, data, theta, limited=False, return_finite=False):
        """Outputs for every row of ``data``; with ``return_finite``, also whether X is all finite."""

    def use_batch_statistics(self):
        """Make the running statistics those of the last full batch evaluated."""


def require_device(device):
    """Raise a ``RuntimeError`` saying why, if ``device`` cannot train here ('cuda' without a GPU)."""
    if device == "cuda":
        from fastbp.backends.cuda import require_cuda

        require_cuda()


def make_backend(spec, device="cpu", training=True, seed=0, norm_stats=None, norm_eps=1e-5):
    """The backend that runs ``spec`` on ``device``.

    Parameters
    ----------
    spec : fastbp.nn.spec.NetworkSpec
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        'auto' takes the GPU where one is usable.  For prediction
        (``training=False``), 'cuda' without a GPU falls back to the CPU, so a
        model trained on a GPU predicts on any machine; for training it
        raises a ``RuntimeError``.
    training : bool, default=True
    seed : int, default=0
        Seed of the dropout masks.
    norm_stats : ndarray of shape (6, n_hidden_units), default=None
        Batch-normalisation statistics (updated in place by training).
    norm_eps : float, default=1e-5

    Returns
    -------
    Backend
    """
    if device != "cpu":
        from fastbp.backends import cuda

        if (device == "cuda" and training) or cuda.cuda_available():
            return cuda.CUDABackend(spec, seed=seed, norm_stats=norm_stats, norm_eps=norm_eps)
    return CPUBackend(spec, seed=seed, norm_stats=norm_stats, norm_eps=norm_eps)


def kernel_data(X, Y=None, sample_weight=None, dtype=np.float64):
    """X (dense or sparse), targets and weights as the backends take them
    (:func:`fastbp.backends.cpu.as_kernel_data`)."""
    return as_kernel_data(X, Y, sample_weight, dtype)


def evaluation_loss(output, Y, sample_weight, loss_code, hyper):
    """Mean loss of network outputs against targets, without penalties (the compiled loss kernel)."""
    from fastbp.kernels.cpu.losses import mean_loss

    n = output.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    P = np.ascontiguousarray(output, dtype=np.float64)
    Y = np.ascontiguousarray(Y, dtype=np.float64).reshape(n, -1)
    return float(mean_loss(P, Y, sw, loss_code, np.finfo(output.dtype).eps, hyper[O.H_LOSS_PARAM]))
