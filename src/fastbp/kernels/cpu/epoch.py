"""The compiled epoch, the full-batch loss and gradient, and prediction (CPU).

These are the entry points the CPU backend calls: one call per epoch, per
L-BFGS evaluation, or per ``predict``.  No Python runs per mini-batch.
"""

import numba
import numpy as np

from fastbp import _config
from fastbp import optim as O
from fastbp.kernels.cpu.dense import backward, block, forward, layer_offsets
from fastbp.kernels.cpu.losses import output_delta, weighted_loss
from fastbp.kernels.cpu.optim import finish_gradient, squared_norm, step
from fastbp.kernels.cpu.rng import shuffle

_jit = numba.njit(**_config.JIT_OPTIONS)


@_jit
def batch_loss_grad(data, rows, theta, grad, net, work, hyper):
    r"""Loss and gradient of one batch of samples, scikit-learn's definition.

    .. math::
        J = \ell(Y_{rows}, \hat Y) + \frac{\alpha}{2 \sum_i w_i} \lVert W \rVert^2

    with :math:`\ell` from :func:`fastbp.kernels.cpu.losses.weighted_loss`; the
    gradient of every weight and bias is written to ``grad``.

    Returns
    -------
    loss : float
    sw_sum : float
        Sum of the batch's sample weights.  When it is 0 the batch carries no
        information: the loss is 0 and ``grad`` is left undefined.
    """
    units, codes = net[0], net[3]
    n_layers = units.shape[0] - 1
    n = rows.shape[0]
    offsets = layer_offsets(units, n)
    forward(data, rows, theta, net, work, offsets)
    P = block(work[0], offsets, n_layers, n, units[n_layers])
    Y, sw = data[4], data[5]
    loss, sw_sum = weighted_loss(P, Y, rows, sw, codes[2], hyper[O.H_CLIP_EPS])
    if sw_sum == 0.0:
        return 0.0, sw_sum
    n_coef = net[2][0]
    alpha = hyper[O.H_ALPHA]
    loss += 0.5 * alpha * squared_norm(theta, n_coef) / sw_sum
    output_delta(P, Y, rows, sw, hyper[O.H_OUT_SCALE], block(work[1], offsets, n_layers, n, units[n_layers]))
    backward(data, rows, theta, grad, net, work, offsets)
    finish_gradient(theta, grad, n_coef, alpha, sw_sum)
    return loss, sw_sum


@_jit
def run_epoch(data, order, rng_state, theta, grad, opt, net, work, hyper, batch_size):
    """Train for one epoch: shuffle, then one optimizer step per mini-batch.

    Parameters
    ----------
    data : tuple
        See :mod:`fastbp.kernels.cpu`.
    order : ndarray of int64
        Sample order; shuffled in place first when ``rng_state`` is not empty,
        so successive epochs keep shuffling the previous order as
        scikit-learn does.
    rng_state : tuple of (ndarray of uint32, ndarray of int64)
        MT19937 key and position (see :mod:`fastbp.kernels.cpu.rng`); an empty
        key means no shuffling.
    theta, grad : ndarray
        Flat parameters (updated in place) and gradient workspace.
    opt : tuple of (ndarray, ndarray)
        Optimizer moments ``(2, n_params)`` and counters.
    net, work : tuple
        See :mod:`fastbp.kernels.cpu`.
    hyper : ndarray of float64
        Hyperparameters, indexed by :mod:`fastbp.optim` constants.
    batch_size : int

    Returns
    -------
    loss : float
        Sum over batches of the batch loss times the batch length, divided by
        the number of samples (scikit-learn's ``loss_``).
    """
    n = order.shape[0]
    key, pos = rng_state
    if key.shape[0] > 0:
        shuffle(order, key, pos)
    accumulated = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        rows = order[start:stop]
        loss, sw_sum = batch_loss_grad(data, rows, theta, grad, net, work, hyper)
        if sw_sum > 0.0:  # a batch whose weights are all 0 teaches nothing
            accumulated += loss * (stop - start)
            step(theta, grad, opt[0], hyper, opt[1])
    return accumulated / n


@_jit
def predict(data, theta, net, work, out):
    """Forward pass of every sample of ``data``, chunk by chunk, into ``out``.

    The chunk length is what ``work``'s activation buffer holds.
    """
    units = net[0]
    n_layers = units.shape[0] - 1
    n_out = units[n_layers]
    n = out.shape[0]
    chunk = work[0].shape[0] // np.sum(units[1:])
    rows = np.arange(n)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        m = stop - start
        offsets = layer_offsets(units, m)
        forward(data, rows[start:stop], theta, net, work, offsets)
        P = block(work[0], offsets, n_layers, m, n_out)
        out[start:stop] = P
