"""CPU backend: turns estimator-side arrays into kernel tuples and calls the kernels.

One :class:`CPUBackend` serves one network shape and dtype.  It owns the
workspaces (allocated once per fit, never per mini-batch) and exposes the three
operations the estimators need: one training epoch, the full-batch loss and
gradient (for L-BFGS), and prediction.
"""

import numpy as np
import scipy.sparse as sp

from fastbp import _config
from fastbp.kernels.cpu import epoch as K


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


class CPUBackend:
    """Kernel driver for one network on the CPU.

    Parameters
    ----------
    layout : fastbp.nn.layout.Layout
        Layer widths and parameter offsets.
    codes : tuple of int
        ``(hidden activation, output activation, loss)`` codes.
    dtype : numpy dtype
        Working dtype (float32 or float64).
    """

    def __init__(self, layout, codes, dtype):
        self.layout = layout
        self.dtype = np.dtype(dtype)
        self.net = (
            layout.units,
            layout.w_off,
            layout.b_off,
            np.asarray(codes, dtype=np.int64),
        )

    def workspace(self, capacity):
        """Buffers for ``capacity`` rows: activations, deltas and the gathered input."""
        per_row = int(self.layout.units[1:].sum())
        return (
            np.empty(capacity * per_row, dtype=self.dtype),
            np.empty(capacity * per_row, dtype=self.dtype),
            np.empty((capacity, int(self.layout.units[0])), dtype=self.dtype),
        )

    def epoch(self, data, order, rng_state, theta, opt, hyper, batch_size, work):
        """Run one compiled epoch; returns the epoch's mean training loss."""
        grad = np.empty_like(theta)
        return K.run_epoch(data, order, rng_state, theta, grad, opt, self.net, work, hyper, batch_size)

    def loss_grad(self, data, theta, grad, hyper, work):
        """Full-batch loss, with the gradient written to ``grad``."""
        rows = np.arange(data[4].shape[0], dtype=np.int64)
        return K.batch_loss_grad(data, rows, theta, grad, self.net, work, hyper)[0]

    def predict(self, data, theta):
        """Output-layer activations for every row of ``data``."""
        n = data[4].shape[0]
        out = np.empty((n, int(self.layout.units[-1])), dtype=self.dtype)
        if n:
            work = self.workspace(min(n, _config.PREDICT_CHUNK))
            K.predict(data, theta, self.net, work, out)
        return out
