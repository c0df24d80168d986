"""Mini-batch loss and output delta, compiled for the CPU.

The per-element losses, their ladders and the batch loss are
:mod:`fastbp.nn.losses`, compiled here as inline functions (``M``).
"""


import numpy as np

from fastbp.kernels import compile_math
from fastbp.kernels.cpu._jit import entry, inline, kernel
from fastbp.nn import losses as L

M = compile_math(L, inline, "cpu")


# The row loop is written twice, here and in weighted_loss_sum, on purpose: each copy
# inlines one ladder of nn.losses, so a fit with a canonical loss never compiles the
# extra losses (handing the ladder to one loop as an argument defeats the disk cache).
@kernel
def canonical_loss_sum(P, Y, rows, sw, code, eps):
    """:func:`weighted_loss_sum` for the canonical losses only: the training kernels of a
    fit without extensions compile this, not the other losses (see
    :class:`fastbp.kernels.cpu.dense.Net`); :func:`weighted_loss_sum` hands it
    the canonical codes."""
    n, m = P.shape
    total = 0.0
    sw_sum = 0.0
    for i in range(n):
        r = rows[i]
        acc = 0.0
        for j in range(m):
            acc += M.canonical_loss(Y[r, j], P[i, j], code, eps)
        total += sw[r] * acc
        sw_sum += sw[r]
    return total, sw_sum


@kernel
def weighted_loss_sum(P, Y, rows, sw, code, eps, param):
    r"""Sample-weighted loss sum of a block of rows, and the block's weight sum.

    .. math:: S = \sum_i w_i \sum_j l(y_{ij}, p_{ij}), \qquad W = \sum_i w_i

    The batch loss as scikit-learn defines it is :math:`S / (c W)` over the
    whole batch (see :func:`normalised_loss`).

    Parameters
    ----------
    P : ndarray of shape (n_rows, n_outputs)
        Network outputs of the batch.
    Y : ndarray of shape (n_samples, n_outputs)
        All targets; row ``rows[i]`` is the target of ``P[i]``.
    rows : ndarray of int64
        Indices of the batch's samples.
    sw : ndarray of shape (n_samples,)
        Sample weights.
    code : int
        Loss code from :mod:`fastbp.nn.losses`.
    eps : float
        Probability clipping threshold for the log losses.
    param : float
        ``huber_delta`` or ``quantile_alpha`` (ignored by the other losses).

    Returns
    -------
    loss_sum : float
    sw_sum : float
    """
    if code < L.ABSOLUTE_ERROR:
        return canonical_loss_sum(P, Y, rows, sw, code, eps)
    n, m = P.shape
    total = 0.0
    sw_sum = 0.0
    for i in range(n):
        r = rows[i]
        acc = 0.0
        for j in range(m):
            acc += M.extra_loss(Y[r, j], P[i, j], code, param)
        total += sw[r] * acc
        sw_sum += sw[r]
    return total, sw_sum


normalised_loss = kernel(L.batch_loss)


@kernel
def output_delta(P, Y, rows, sw, scale, code, param, D):
    r"""Error at the output pre-activation.

    .. math:: D_{ij} = s \, w_{r_i} \, \delta(y_{r_i j}, p_{ij})

    with :math:`\delta = p - y` for the canonical loss/link pairs and
    :math:`\partial l / \partial p` for the others.

    Parameters
    ----------
    P : ndarray of shape (n_rows, n_outputs)
        Network outputs of the batch.
    Y, rows, sw
        As in :func:`weighted_loss_sum`.
    scale : float
        Extra factor :math:`s` (1, or ``1 / n_outputs`` where the gradient must
        match a loss averaged over outputs).
    code, param
        Loss code and its parameter.
    D : ndarray of shape (n_rows, n_outputs)
        Output.
    """
    n, m = P.shape
    for i in range(n):
        r = rows[i]
        w = scale * sw[r]
        for j in range(m):
            D[i, j] = w * M.element_delta(Y[r, j], P[i, j], code, param)


@kernel
def canonical_delta(P, Y, rows, sw, scale, D):
    r""":func:`output_delta` for the canonical losses, :math:`D_{ij} = s \, w_{r_i} (p_{ij} - y_{r_i j})`."""
    n, m = P.shape
    for i in range(n):
        r = rows[i]
        w = scale * sw[r]
        for j in range(m):
            D[i, j] = w * (P[i, j] - Y[r, j])


@entry
def mean_loss(P, Y, sw, code, eps, param):
    """The loss of outputs ``P`` against targets ``Y`` as scikit-learn reports it (no
    penalty): :func:`normalised_loss` of :func:`weighted_loss_sum` over every row.  The
    estimators' validation loss, called from Python."""
    loss_sum, sw_sum = weighted_loss_sum(P, Y, np.arange(P.shape[0]), sw, code, eps, param)
    return normalised_loss(loss_sum, sw_sum, P.shape[1], code)
