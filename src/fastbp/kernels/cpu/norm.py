r"""Training with batch-normalised hidden layers, CPU.

The formulas are those of :mod:`fastbp.nn.norm`.  A normalised layer needs
the statistics of the whole mini-batch before any row can go on, so the pass
here runs layer by layer: each stage is one parallel loop over the threads'
blocks of rows (the blocks of :func:`fastbp.kernels.cpu.epoch.block_pass`),
and between stages the per-thread column sums are reduced in thread order
(deterministic, no atomics).  Per normalised layer the forward pass has three
stages (product and column sums; squared deviations; normalise and activate)
and the backward pass two (gradients and the sums of :math:`g` and
:math:`g \hat x`; the gradient through the statistics).

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
    LOSS_STAGE,
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
from fastbp.nn import norm as norm_math
from fastbp.nn.norm import MEAN, MEAN_G, MEAN_GX, RUN_MEAN, RUN_VAR, VAR

inv_std = inline(norm_math.inv_std)
normalised_grad = inline(norm_math.normalised_grad)
running_update = inline(norm_math.running_update)

# Stages of the layer-by-layer pass (LOSS_STAGE comes from the epoch module).
# Callers pass them as ``np.int64(code)``: a bare constant reaches the callee
# as a literal type, and Numba would compile the parallel stage once per code.
LINEAR = 0
VARIANCE = 1
NORMALISE = 2
GRADS = 3
NORM_GRAD = 4


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


@kernel
def stage_thread(stage, l, t, data, rows, theta, parts, sums, net, work, norm, hyper):
    """Thread ``t``'s share of ``stage`` for layer ``l`` (see the module docstring)."""
    units = net.units
    g_off, stats, col, xhat = norm
    n_threads = parts.shape[0]
    own = thread_rows(rows, t, n_threads)
    m = own.shape[0]
    width = units[l + 1]
    if stage == LOSS_STAGE:
        thread_norms(t, theta, net, sums)
    if m == 0:
        col[t, :] = 0.0
        if stage == LOSS_STAGE:
            sums[t, 0] = 0.0
            sums[t, 1] = 0.0
            parts[t, :] = 0.0
        return
    w = thread_work(work, t)
    offsets = layer_offsets(units, m)
    h = first_unit(units, l)
    if stage == LINEAR:
        Z = linear(data, own, theta, net, w, offsets, l)
        if is_normalised(net, l):
            for j in range(width):
                col[t, j] = 0.0
            for i in range(m):
                wi = data[5][own[i]]
                for j in range(width):
                    col[t, j] += wi * Z[i, j]
        else:
            activate(own, theta[net.b_off[l] : net.b_off[l] + width], net, w, offsets, l)
    elif stage == VARIANCE:
        Z = block(w[0], offsets, l + 1, m, width)
        for j in range(width):
            col[t, j] = 0.0
        for i in range(m):
            wi = data[5][own[i]]
            for j in range(width):
                d = Z[i, j] - stats[MEAN, h + j]
                col[t, j] += wi * (d * d)
    elif stage == NORMALISE:
        Z = block(w[0], offsets, l + 1, m, width)
        Xh = block(xhat[t], offsets, l + 1, m, width)
        gamma = theta[g_off[l] : g_off[l] + width]
        mean = stats[MEAN, h : h + width].astype(theta.dtype)
        inv = np.empty(width, dtype=theta.dtype)
        for j in range(width):
            inv[j] = inv_std(stats[VAR, h + j], hyper[O.H_BN_EPSILON])
        for i in range(m):
            for j in range(width):
                x = (Z[i, j] - mean[j]) * inv[j]
                Xh[i, j] = x
                Z[i, j] = gamma[j] * x
        activate(own, theta[g_off[l] + width : g_off[l] + 2 * width], net, w, offsets, l)
    elif stage == LOSS_STAGE:
        loss_and_delta(t, data, own, sums, net, w, offsets, hyper)
    elif stage == GRADS:
        layer_grads(data, own, parts[t], net, w, offsets, l)
        if is_normalised(net, l):  # the shift replaces the bias: its gradient is 0
            parts[t, net.b_off[l] : net.b_off[l] + width] = 0.0
        if l > net.trainable[0]:  # the layer below trains
            propagate(own, theta, net, w, offsets, l)
            k = l - 1  # the layer below is hidden, hence normalised: sums of g and g * xhat
            below = units[l]
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
    elif stage == NORM_GRAD:
        G = block(w[1], offsets, l + 1, m, width)
        Xh = block(xhat[t], offsets, l + 1, m, width)
        gamma = theta[g_off[l] : g_off[l] + width]
        scale = np.empty(width, dtype=theta.dtype)
        mean_g = stats[MEAN_G, h : h + width].astype(theta.dtype)
        mean_gx = stats[MEAN_GX, h : h + width].astype(theta.dtype)
        for j in range(width):
            scale[j] = gamma[j] * inv_std(stats[VAR, h + j], hyper[O.H_BN_EPSILON])
        for i in range(m):
            wi = data[5][own[i]]
            for j in range(width):
                G[i, j] = normalised_grad(G[i, j], Xh[i, j], scale[j], wi * mean_g[j], wi * mean_gx[j])


@parallel_kernel
def stage_pass(stage, l, data, rows, theta, parts, sums, net, work, norm, hyper):
    """One stage for every thread's block of rows: one parallel region."""
    for t in numba.prange(parts.shape[0]):
        stage_thread(stage, l, np.int64(t), data, rows, theta, parts, sums, net, work, norm, hyper)


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
    n_layers = units.shape[0] - 1
    n = rows.shape[0]
    momentum = hyper[O.H_BN_MOMENTUM]
    w_sum = 0.0
    for i in range(n):
        w_sum += data[5][rows[i]]
    inv_w = 1.0 / w_sum if w_sum > 0.0 else 0.0  # no weight: statistics 0, nothing learned either
    update_running = train and n > 1 and w_sum > 0.0
    for l in range(n_layers):
        stage_pass(np.int64(LINEAR), l, data, rows, theta, parts, sums, net, work, norm, hyper)
        if is_normalised(net, l):
            width = units[l + 1]
            h = first_unit(units, l)
            total = column_totals(col, width)
            for j in range(width):
                stats[MEAN, h + j] = total[j] * inv_w
            stage_pass(np.int64(VARIANCE), l, data, rows, theta, parts, sums, net, work, norm, hyper)
            total = column_totals(col, width)
            for j in range(width):
                var = total[j] * inv_w
                stats[VAR, h + j] = var
                if update_running and l >= net.trainable[0]:  # a frozen layer's statistics stay
                    stats[RUN_MEAN, h + j] = running_update(stats[RUN_MEAN, h + j], stats[MEAN, h + j], momentum)
                    stats[RUN_VAR, h + j] = running_update(stats[RUN_VAR, h + j], var, momentum)
            stage_pass(np.int64(NORMALISE), l, data, rows, theta, parts, sums, net, work, norm, hyper)
    stage_pass(np.int64(LOSS_STAGE), n_layers - 1, data, rows, theta, parts, sums, net, work, norm, hyper)
    frozen = net.trainable[0]
    for l in range(n_layers - 1, frozen - 1, -1):
        stage_pass(np.int64(GRADS), l, data, rows, theta, parts, sums, net, work, norm, hyper)
        if l > frozen:
            k = l - 1
            width = units[l]
            h = first_unit(units, k)
            for j in range(width):
                g_sum = 0.0
                gx_sum = 0.0
                for t in range(parts.shape[0]):
                    g_sum += parts[t, g_off[k] + width + j]
                    gx_sum += parts[t, g_off[k] + j]
                stats[MEAN_G, h + j] = g_sum * inv_w
                stats[MEAN_GX, h + j] = gx_sum * inv_w
            stage_pass(np.int64(NORM_GRAD), k, data, rows, theta, parts, sums, net, work, norm, hyper)


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
