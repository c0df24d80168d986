"""Mini-batch loss and output delta, compiled for the CPU."""

import numba

from fastbp import _config
from fastbp.nn import losses as L

_inline = numba.njit(inline="always", **_config.JIT_OPTIONS)
_jit = numba.njit(**_config.JIT_OPTIONS)

squared_error = _inline(L.squared_error)
poisson = _inline(L.poisson)
log_loss = _inline(L.log_loss)
binary_log_loss = _inline(L.binary_log_loss)


@_jit
def weighted_loss_sum(P, Y, rows, sw, code, eps):
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

    Returns
    -------
    loss_sum : float
    sw_sum : float
    """
    n, m = P.shape
    total = 0.0
    sw_sum = 0.0
    for i in range(n):
        r = rows[i]
        acc = 0.0
        if code == L.SQUARED_ERROR:
            for j in range(m):
                acc += squared_error(Y[r, j], P[i, j])
        elif code == L.POISSON:
            for j in range(m):
                acc += poisson(Y[r, j], P[i, j])
        elif code == L.LOG_LOSS:
            for j in range(m):
                acc += log_loss(Y[r, j], P[i, j], eps)
        else:
            for j in range(m):
                acc += binary_log_loss(Y[r, j], P[i, j], eps)
        total += sw[r] * acc
        sw_sum += sw[r]
    return total, sw_sum


@_jit
def normalised_loss(loss_sum, sw_sum, n_outputs, code):
    r"""The batch loss :math:`S / (c W)`: :math:`c` is the number of outputs for
    ``squared_error`` (its per-output losses are averaged, as in scikit-learn)
    and 1 for the other losses (summed); 0 when the weights sum to 0."""
    if sw_sum == 0.0:
        return 0.0
    if code == L.SQUARED_ERROR:
        return loss_sum / (sw_sum * n_outputs)
    return loss_sum / sw_sum


@_jit
def output_delta(P, Y, rows, sw, scale, D):
    r"""Error at the output pre-activation for a canonical loss/link pair.

    .. math:: D_{ij} = s \, w_{r_i} (p_{ij} - y_{r_i j})

    Parameters
    ----------
    P : ndarray of shape (n_rows, n_outputs)
        Network outputs of the batch.
    Y, rows, sw
        As in :func:`weighted_loss`.
    scale : float
        Extra factor :math:`s` (1, or ``1 / n_outputs`` where the gradient must
        match a loss averaged over outputs).
    D : ndarray of shape (n_rows, n_outputs)
        Output.
    """
    n, m = P.shape
    for i in range(n):
        r = rows[i]
        w = scale * sw[r]
        for j in range(m):
            D[i, j] = w * (P[i, j] - Y[r, j])
