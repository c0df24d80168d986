r"""Training with batch-normalised hidden layers, CPU.

The formulas are those of :mod:`fastbp.nn.norm`.  A normalised layer needs
the statistics of the whole mini-batch before any row can go on, so the pass
here runs layer by layer: each stage is a small kernel for one thread's rows
(a ``*_stage`` function, built on the per-layer functions of
:mod:`fastbp.kernels.cpu.dense` that the plain pass uses too) run in one
parallel loop over the threads' blocks of rows (a ``*_pass`` function; the
blocks of :func:`fastbp.kernels.cpu.epoch.block_pass`), and between passes
the per-thread column sums are reduced in thread order (deterministic, no
atomics).  Per normalised layer the forward pass has three passes (product
and column sums; squared deviations; normalise and activate) and the
backward pass one (the delta through the statistics, then the gradients and
the sums of :math:`g` and :math:`g \hat x` of the layer below); the output
layer's forward, loss and gradient share one pass, as they need no barrier.

These functions are compiled only by a fit with ``batch_norm=True``; the
other kernels never call them.  Prediction needs none of them: the running
statistics fold into the weights (:func:`fastbp.nn.norm.fold`).

The ``norm`` tuple is ``(g_off, stats, col, xhat)``: the offsets of each
hidden layer's scale in the flat parameters (its shift follows), a float64
``(6, H)`` array over the ``H`` hidden units (rows: running mean, running
variance, batch mean, batch variance, and the batch's :math:`\sum_i g_i / W`
and :math:`\sum_i g_i \hat x_i / W`, :math:`W` its weight sum), float64
per-thread column sums ``(T, max width)``, and the per-thread normalised values :math:`\hat x`
(laid out like the activations).
"""

import numba
import numpy as np

from fastbp import optim as O
from fastbp.kernels.cpu._jit import entry, inline, kernel, parallel_kernel
from fastbp.kernels.cpu.dense import (
    activate,
    block,
    layer_grads,
    layer_offsets,
    linear,
    propagate,
)
from fastbp.kernels.cpu.epoch import (
    N_SUMS,
    finish_batch,
    loss_and_delta,
    thread_rows,
    thread_work,
    set_dropout_step,
    train_step,
)
from fastbp.kernels.cpu.optim import thread_norms
from fastbp.kernels.cpu.rng import shuffle
from fastbp.kernels import compile_math
from fastbp.nn import norm as norm_math
from fastbp.nn.norm import MEAN, MEAN_G, MEAN_GX, RUN_MEAN, RUN_VAR, VAR

bn = compile_math(norm_math, inline, "cpu")

@kernel
def first_unit(units, l):
    """Index of hidden layer ``l``'s first unit among all hidden units."""
    start = 0
    for k in range(1, l + 1):
        start += units[k]
    return start


@kernel
def is_normalised(net, l):
    """True for hidden layers (every one is normalised in this pass)."""
    return l < net.units.shape[0] - 2


# Every stage of a pass takes the same arguments: the layer ``l``, the thread ``t``,
# ``data``, ``net``, ``work``, ``norm`` and ``state = (rows, theta, parts, sums, hyper)``
# (flat tuples: a parallel region cannot take a record that holds tuples).


@kernel
def thread_share(t, net, work, state):
    """Thread ``t``'s block of the pass's rows, its workspace and the layer offsets in it."""
    own = thread_rows(state[0], t, state[2].shape[0])
    return own, thread_work(work, t), layer_offsets(net.units, own.shape[0])


@kernel
def linear_stage(l, t, data, net, work, norm, state):
    """Layer ``l``'s product; for a normalised layer the weighted column sums of thread ``t``'s
    rows into ``col[t]`` (the batch mean's numerator), else bias and activation."""
    own, w, offsets = thread_share(t, net, work, state)
    theta, col = state[1], norm[2]
    width = net.units[l + 1]
    col[t, :] = 0.0
    if own.shape[0] == 0:
        return
    Z = linear(data, own, theta, net, w, offsets, l)
    if is_normalised(net, l):
        for i in range(own.shape[0]):
            wi = data[5][own[i]]
            for j in range(width):
                col[t, j] += wi * Z[i, j]
    else:
        activate(own, theta[net.b_off[l] : net.b_off[l] + width], net, w, offsets, l)


@kernel
def variance_stage(l, t, data, net, work, norm, state):
    """Weighted squared deviations from the batch mean of layer ``l``, thread ``t``'s rows, into ``col[t]``."""
    own, w, offsets = thread_share(t, net, work, state)
    stats, col = norm[1], norm[2]
    width = net.units[l + 1]
    h = first_unit(net.units, l)
    col[t, :] = 0.0
    Z = block(w[0], offsets, l + 1, own.shape[0], width)
    for i in range(own.shape[0]):
        wi = data[5][own[i]]
        for j in range(width):
            d = Z[i, j] - stats[MEAN, h + j]
            col[t, j] += wi * (d * d)


@kernel
def normalise_stage(l, t, data, net, work, norm, state):
    r"""Normalise layer ``l`` with the batch statistics (:math:`\hat x` kept), then scale,
    shift and activate it."""
    own, w, offsets = thread_share(t, net, work, state)
    m = own.shape[0]
    if m == 0:
        return
    g_off, stats, xhat = norm[0], norm[1], norm[3]
    theta = state[1]
    width = net.units[l + 1]
    h = first_unit(net.units, l)
    Z = block(w[0], offsets, l + 1, m, width)
    Xh = block(xhat[t], offsets, l + 1, m, width)
    gamma = theta[g_off[l] : g_off[l] + width]
    mean = stats[MEAN, h : h + width].astype(theta.dtype)
    inv = np.empty(width, dtype=theta.dtype)
    for j in range(width):
        inv[j] = bn.inv_std(stats[VAR, h + j], state[4][O.H_BN_EPSILON])
    for i in range(m):
        for j in range(width):
            x = (Z[i, j] - mean[j]) * inv[j]
            Xh[i, j] = x
            Z[i, j] = gamma[j] * x
    activate(own, theta[g_off[l] + width : g_off[l] + 2 * width], net, w, offsets, l)


@kernel
def loss_stage(l, t, data, net, work, norm, state):
    """Loss, weight and weight-norm sums of thread ``t``'s rows into ``sums[t]``, and their
    output delta (``l`` is the output layer)."""
    own, w, offsets = thread_share(t, net, work, state)
    theta, parts, sums = state[1], state[2], state[3]
    thread_norms(t, theta, net, sums)
    if own.shape[0] == 0:
        sums[t, 0] = 0.0
        sums[t, 1] = 0.0
        parts[t, :] = 0.0
        return
    loss_and_delta(t, data, own, sums, net, w, offsets, state[4])


@kernel
def grads_stage(l, t, data, net, work, norm, state):
    r"""Layer ``l``'s raw gradient from thread ``t``'s rows and, where the layer below trains,
    its delta and the sums of :math:`g` and :math:`g \hat x` of that (normalised) layer."""
    own, w, offsets = thread_share(t, net, work, state)
    m = own.shape[0]
    if m == 0:
        return
    parts, g_off, xhat = state[2], norm[0], norm[3]
    layer_grads(data, own, parts[t], net, w, offsets, l)
    if is_normalised(net, l):  # the shift replaces the bias: its gradient is 0
        parts[t, net.b_off[l] : net.b_off[l] + net.units[l + 1]] = 0.0
    if l > net.trainable[0]:  # the layer below trains
        propagate(own, state[1], net, w, offsets, l)
        k = l - 1  # the layer below is hidden, hence normalised: sums of g and g * xhat
        below = net.units[l]
        G = block(w[1], offsets, l, m, below)
        Xh = block(xhat[t], offsets, l, m, below)
        g_gamma = parts[t, g_off[k] : g_off[k] + below]
        g_beta = parts[t, g_off[k] + below : g_off[k] + 2 * below]
        g_gamma[:] = 0.0
        g_beta[:] = 0.0
        for i in range(m):
            for j in range(below):
                g_beta[j] += G[i, j]
                g_gamma[j] += G[i, j] * Xh[i, j]


@kernel
def norm_grad_stage(l, t, data, net, work, norm, state):
    """The delta of normalised layer ``l`` through its batch statistics
    (:func:`fastbp.nn.norm.normalised_grad`)."""
    own, w, offsets = thread_share(t, net, work, state)
    m = own.shape[0]
    if m == 0:
        return
    g_off, stats, xhat = norm[0], norm[1], norm[3]
    theta = state[1]
    width = net.units[l + 1]
    h = first_unit(net.units, l)
    G = block(w[1], offsets, l + 1, m, width)
    Xh = block(xhat[t], offsets, l + 1, m, width)
    gamma = theta[g_off[l] : g_off[l] + width]
    scale = np.empty(width, dtype=theta.dtype)
    mean_g = stats[MEAN_G, h : h + width].astype(theta.dtype)
    mean_gx = stats[MEAN_GX, h : h + width].astype(theta.dtype)
    for j in range(width):
        scale[j] = gamma[j] * bn.inv_std(stats[VAR, h + j], state[4][O.H_BN_EPSILON])
    for i in range(m):
        wi = data[5][own[i]]
        for j in range(width):
            G[i, j] = bn.normalised_grad(G[i, j], Xh[i, j], scale[j], wi * mean_g[j], wi * mean_gx[j])


@kernel
def output_stage(l, t, data, net, work, norm, state):
    """The output layer ``l`` for thread ``t``'s rows, from its product to its gradient:
    :func:`linear_stage` (bias and activation), :func:`loss_stage`, :func:`grads_stage`.
    Each reads only what the thread itself wrote, so they share one parallel region."""
    linear_stage(l, t, data, net, work, norm, state)
    loss_stage(l, t, data, net, work, norm, state)
    grads_stage(l, t, data, net, work, norm, state)


@kernel
def backward_stage(l, t, data, net, work, norm, state):
    """Normalised layer ``l`` for thread ``t``'s rows: its delta through the batch statistics
    (:func:`norm_grad_stage`), then its gradient and the delta below (:func:`grads_stage`)."""
    norm_grad_stage(l, t, data, net, work, norm, state)
    grads_stage(l, t, data, net, work, norm, state)


# One parallel region per barrier over the threads' blocks of rows: each pass needs what
# the one before reduced across threads.  The five loops are written out on purpose: one
# loop taking the stage as a function would be compiled once per function passed anyway,
# and one taking a stage code would need a ladder of codes.
@parallel_kernel
def linear_pass(l, data, net, work, norm, state):
    for t in numba.prange(state[2].shape[0]):
        linear_stage(l, np.int64(t), data, net, work, norm, state)


@parallel_kernel
def variance_pass(l, data, net, work, norm, state):
    for t in numba.prange(state[2].shape[0]):
        variance_stage(l, np.int64(t), data, net, work, norm, state)


@parallel_kernel
def normalise_pass(l, data, net, work, norm, state):
    for t in numba.prange(state[2].shape[0]):
        normalise_stage(l, np.int64(t), data, net, work, norm, state)


@parallel_kernel
def output_pass(l, data, net, work, norm, state):
    for t in numba.prange(state[2].shape[0]):
        output_stage(l, np.int64(t), data, net, work, norm, state)


@parallel_kernel
def backward_pass(l, data, net, work, norm, state):
    for t in numba.prange(state[2].shape[0]):
        backward_stage(l, np.int64(t), data, net, work, norm, state)


@kernel
def column_totals(col, width):
    """Column sums of every thread, added in thread order (float64)."""
    total = np.zeros(width)
    for t in range(col.shape[0]):
        for j in range(width):
            total[j] += col[t, j]
    return total


@kernel
def normed_pass(data, rows, theta, parts, sums, net, work, norm, hyper, train):
    """Forward, loss and backward of ``rows`` with every hidden layer normalised.

    Leaves the same per-thread results as :func:`fastbp.kernels.cpu.epoch.block_pass`
    (raw gradients in ``parts``, loss, weight and weight-norm sums in ``sums``), the
    batch statistics in ``norm[1]`` and, when ``train``, updated running
    statistics (momentum ``hyper[H_BN_MOMENTUM]``).
    """
    units = net.units
    g_off, stats, col = norm[0], norm[1], norm[2]
    state = (rows, theta, parts, sums, hyper)
    n_layers = units.shape[0] - 1
    n = rows.shape[0]
    momentum = hyper[O.H_BN_MOMENTUM]
    w_sum = 0.0
    for i in range(n):
        w_sum += data[5][rows[i]]
    inv_w = 1.0 / w_sum if w_sum > 0.0 else 0.0  # no weight: statistics 0, nothing learned either
    update_running = train and n > 1 and w_sum > 0.0
    frozen = net.trainable[0]
    for l in range(n_layers - 1):  # the hidden layers, each normalised: three passes
        linear_pass(l, data, net, work, norm, state)
        width = units[l + 1]
        h = first_unit(units, l)
        total = column_totals(col, width)
        for j in range(width):
            stats[MEAN, h + j] = total[j] * inv_w
        variance_pass(l, data, net, work, norm, state)
        total = column_totals(col, width)
        for j in range(width):
            var = total[j] * inv_w
            stats[VAR, h + j] = var
            if update_running and l >= frozen:  # a frozen layer's statistics stay
                stats[RUN_MEAN, h + j] = bn.running_update(stats[RUN_MEAN, h + j], stats[MEAN, h + j], momentum)
                stats[RUN_VAR, h + j] = bn.running_update(stats[RUN_VAR, h + j], var, momentum)
        normalise_pass(l, data, net, work, norm, state)
    output_pass(n_layers - 1, data, net, work, norm, state)
    for l in range(n_layers - 2, frozen - 1, -1):  # the hidden layers that train, top down
        width = units[l + 1]
        h = first_unit(units, l)
        for j in range(width):  # the sums of g and g * xhat that the layer above left
            g_sum = 0.0
            gx_sum = 0.0
            for t in range(parts.shape[0]):
                g_sum += parts[t, g_off[l] + width + j]
                gx_sum += parts[t, g_off[l] + j]
            stats[MEAN_G, h + j] = g_sum * inv_w
            stats[MEAN_GX, h + j] = gx_sum * inv_w
        backward_pass(l, data, net, work, norm, state)


@entry
def batch_loss_grad_normed(data, rows, theta, grad, parts, net, work, norm, hyper):
    """:func:`fastbp.kernels.cpu.epoch.batch_loss_grad` with normalised hidden layers
    (batch statistics of ``rows``; running statistics untouched)."""
    sums = np.zeros((parts.shape[0], N_SUMS))
    normed_pass(data, rows, theta, parts, sums, net, work, norm, hyper, np.bool_(False))
    return finish_batch(theta, grad, parts, sums, net, hyper)


@entry
def run_epoch_normed(data, order, rng_state, theta, parts, opt, net, work, norm, hyper, batch_size):
    """:func:`fastbp.kernels.cpu.epoch.run_epoch` with normalised hidden layers.

    Every mini-batch is normalised with its own statistics, which also update
    the running ones in ``norm[1]``.
    """
    n = order.shape[0]
    key, pos = rng_state
    if key.shape[0] > 0:
        shuffle(order, key, pos)
    sums = np.zeros((parts.shape[0], N_SUMS))
    accumulated = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        set_dropout_step(net.extensions, opt[1][1])
        opt[1][1] += 1
        normed_pass(data, order[start:stop], theta, parts, sums, net, work, norm, hyper, np.bool_(True))
        accumulated += train_step(theta, parts, sums, opt, net, hyper) * (stop - start)
    return accumulated / n
