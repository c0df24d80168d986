"""The compiled epoch, the full-batch loss and gradient, and prediction (CPU).

These are the entry points the CPU backend calls: one call per epoch, per
L-BFGS evaluation, or per ``predict``.  No Python runs per mini-batch.

Parallelism: a mini-batch is split into one block of rows per thread.  Each
thread runs the forward pass, the loss and the backward pass of its rows on
its own workspace (single-threaded BLAS for the matrix products, since rows
are independent no thread waits for another) and leaves its raw gradient in
its own row of ``parts``; it also sums the penalty's norms over its own block
of the weights (:func:`fastbp.kernels.cpu.optim.thread_norms`).  A second
parallel loop over the parameters reduces the rows in a fixed order and
applies the optimizer step.  Two parallel regions per mini-batch, no atomics,
the same result for the same thread count.

Compile time shaped two choices here: :func:`run_epoch` holds its parallel
loop itself instead of calling :func:`block_pass` (without entries-only
compilation Numba optimises and emits the whole training tree again at every
level of calls above it: a level more costs 2.3 s of a cold first fit), and the extensions of
scikit-learn's MLP are compiled only for fits that use them
(:class:`fastbp.kernels.cpu.dense.Net`).
"""

import numba
import numpy as np

from fastbp import optim as O
from fastbp.kernels.cpu._jit import entry, kernel, parallel_entry, parallel_kernel
from fastbp.kernels.cpu.dense import (
    backward,
    block,
    forward,
    forward_block,
    is_sparse,
    layer_offsets,
)
from fastbp.kernels.cpu.losses import (
    canonical_delta,
    canonical_loss_sum,
    normalised_loss,
    output_delta,
    weighted_loss_sum,
)
from fastbp.kernels.cpu.optim import (
    S,
    clip_factor,
    reduce_gradient,
    sum_parts,
    thread_norms,
    update,
)
from fastbp.kernels.cpu.rng import shuffle
from fastbp.nn import losses as L


@kernel
def thread_work(work, t):
    """Thread ``t``'s slice of the per-thread workspaces."""
    return (work[0][t], work[1][t], work[2][t], work[3][t])


@kernel
def thread_rows(rows, t, n_threads):
    """Thread ``t``'s block of ``rows`` (the mini-batch split between the threads)."""
    n = rows.shape[0]
    return rows[t * n // n_threads : (t + 1) * n // n_threads]


@kernel
def loss_and_delta(t, data, own, sums, net, w, offsets, hyper):
    """Loss and weight sums of the rows ``own`` into ``sums[t]``, and their output delta.

    Expects the forward pass done on thread workspace ``w``.
    """
    units, codes = net.units, net.codes
    n_layers = units.shape[0] - 1
    n_out = units[n_layers]
    m = own.shape[0]
    P = block(w[0], offsets, n_layers, m, n_out)
    D = block(w[1], offsets, n_layers, m, n_out)
    loss_sum, sw_sum = output_loss_delta(P, D, data, own, codes[2], hyper, net.extensions)
    sums[t, 0] = loss_sum
    sums[t, 1] = sw_sum


@kernel
def output_loss_delta(P, D, data, own, code, hyper, extensions):
    """Weighted loss sum and weight sum of the rows ``own`` (outputs ``P``), and their output
    delta into ``D``; fastbp's extra losses only where ``extensions`` is not None."""
    param = hyper[O.H_LOSS_PARAM]
    if extensions is not None and code >= L.ABSOLUTE_ERROR:  # fastbp's extra losses
        loss_sum, sw_sum = weighted_loss_sum(P, data[4], own, data[5], code, hyper[O.H_CLIP_EPS], param)
        output_delta(P, data[4], own, data[5], hyper[O.H_OUT_SCALE], code, param, D)
    else:
        loss_sum, sw_sum = canonical_loss_sum(P, data[4], own, data[5], code, hyper[O.H_CLIP_EPS])
        canonical_delta(P, data[4], own, data[5], hyper[O.H_OUT_SCALE], D)
    return loss_sum, sw_sum


@kernel
def thread_block(t, data, rows, theta, parts, sums, net, work, hyper):
    """Thread ``t``'s share of :func:`block_pass` (kept out of the parallel loop:
    a small parfor body compiles in a fraction of the time), and its block of
    the weights' norms into ``sums[t, 2:4]``."""
    thread_norms(t, theta, net, sums)
    own = thread_rows(rows, t, parts.shape[0])
    if own.shape[0] > 0:
        w = thread_work(work, t)
        offsets = layer_offsets(net.units, own.shape[0])
        forward(data, own, theta, net, w, offsets)
        loss_and_delta(t, data, own, sums, net, w, offsets, hyper)
        backward(data, own, theta, parts[t], net, w, offsets)
    else:
        sums[t, 0] = 0.0
        sums[t, 1] = 0.0
        parts[t, :] = 0.0


@parallel_kernel
def block_pass(data, rows, theta, parts, sums, net, work, hyper):
    r"""Forward, loss and backward of the samples ``rows``, one block of rows per thread.

    Thread ``t`` writes the raw gradient :math:`A_l^T D_l`, :math:`\sum_i D_{l,i}`
    of its rows to ``parts[t]``, and its loss sum and weight sum
    (:func:`fastbp.kernels.cpu.losses.weighted_loss_sum`) and its block of the
    weights' norms to ``sums[t]`` (see :data:`N_SUMS`).  :func:`run_epoch`
    runs the same loop in its own body.
    """
    for t in numba.prange(parts.shape[0]):
        thread_block(np.int64(t), data, rows, theta, parts, sums, net, work, hyper)


#: Columns of a pass's per-thread sums: loss sum, weight sum (of the thread's rows), and the
#: squared and absolute sums of the thread's block of the weights (:func:`thread_norms`).
N_SUMS = 4


@kernel
def batch_totals(sums):
    """Loss sum, sample-weight sum, and the weights' squared and absolute sums of a pass,
    reduced over threads in order."""
    loss_sum = 0.0
    sw_sum = 0.0
    sq = 0.0
    ab = 0.0
    for t in range(sums.shape[0]):
        loss_sum += sums[t, 0]
        sw_sum += sums[t, 1]
        sq += sums[t, 2]
        ab += sums[t, 3]
    return loss_sum, sw_sum, sq, ab


@entry
def batch_loss_grad(data, rows, theta, grad, parts, net, work, hyper):
    r"""Loss and gradient of one batch of samples, scikit-learn's definition.

    .. math::
        J = \ell(Y_{rows}, \hat Y) + \frac{\alpha}{2 \sum_i w_i} \lVert W \rVert^2

    with :math:`\ell` from :func:`fastbp.kernels.cpu.losses.normalised_loss`; the
    gradient of every weight and bias is written to ``grad``.
    """
    sums = np.zeros((parts.shape[0], N_SUMS))
    block_pass(data, rows, theta, parts, sums, net, work, hyper)
    return finish_batch(theta, grad, parts, sums, net, hyper)


@kernel
def finish_batch(theta, grad, parts, sums, net, hyper):
    """The batch loss, and its full gradient in ``grad``, from a pass's per-thread results."""
    units, codes = net.units, net.codes
    loss_sum, sw_sum, sq, ab = batch_totals(sums)
    if sw_sum == 0.0:
        grad[:] = 0.0
        return 0.0
    reduce_gradient(theta, parts, grad, net.trainable, hyper, sw_sum)
    loss = normalised_loss(loss_sum, sw_sum, units[units.shape[0] - 1], codes[2])
    return loss + penalty(hyper, sq, ab, sw_sum)


@kernel
def train_step(theta, parts, sums, opt, net, hyper):
    """The optimizer step after a pass; returns the batch loss (0 for a batch without weight)."""
    units, codes = net.units, net.codes
    loss_sum, sw_sum, sq, ab = batch_totals(sums)
    if sw_sum > 0.0:
        step(theta, parts, opt, hyper, net.trainable, 1.0 / sw_sum, net.extensions)
        return normalised_loss(loss_sum, sw_sum, units[units.shape[0] - 1], codes[2]) + penalty(hyper, sq, ab, sw_sum)
    return 0.0


@kernel
def step(theta, parts, opt, hyper, trainable, inv, extensions):
    """The optimizer update of the parameters that train (``trainable``, see
    :mod:`fastbp.kernels.cpu.optim`) from the per-thread gradients, scaled by ``inv``; with
    gradient clipping (only where ``extensions`` is not None) the summed gradient's norm is
    clipped."""
    if extensions is not None and hyper[O.H_MAX_NORM] > 0.0:
        sum_parts(parts)  # the norm is that of the summed gradient
        inv = clip_factor(theta, parts[0], trainable, hyper, inv)
        update(theta, parts[:1], opt[0], hyper, opt[1], trainable, inv)
    else:
        update(theta, parts, opt[0], hyper, opt[1], trainable, inv)


@kernel
def set_dropout_step(extensions, step):
    """Make ``step`` the mini-batch step the dropout masks are drawn for (where ``extensions``
    is not None)."""
    if extensions is not None:
        extensions[1] = step


@kernel
def penalty(hyper, sq, ab, sw_sum):
    """The penalty's share of the batch loss (:func:`fastbp.optim.steps.penalty`)."""
    return S.penalty(hyper[O.H_ALPHA], hyper[O.H_L1], sq, ab, sw_sum)


@parallel_entry
def run_epoch(data, order, rng_state, theta, parts, opt, net, work, hyper, batch_size):
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
    theta : ndarray
        Flat parameters, updated in place.
    parts : ndarray of shape (n_threads, n_params)
        Per-thread gradient buffers; their row count sets the thread count.
    opt : tuple of (ndarray, ndarray)
        Optimizer moments ``(2, n_params)`` and counters (``[0]`` Adam's step
        count, ``[1]`` the mini-batch count that seeds the dropout masks).
    net, work : tuple
        See :mod:`fastbp.kernels.cpu`.
    hyper : ndarray of float64
        Hyperparameters, indexed by :mod:`fastbp.optim` constants.
    batch_size : int

    Returns
    -------
    loss : float
        Sum over batches of the batch loss times the batch length, divided by
        the number of samples (scikit-learn's ``loss_``).  Batches whose
        weights are all 0 teach nothing and are skipped.
    """
    n = order.shape[0]
    key, pos = rng_state
    if key.shape[0] > 0:
        shuffle(order, key, pos)
    sums = np.empty((parts.shape[0], N_SUMS))  # (np.zeros would be a parallel loop of its own)
    accumulated = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        set_dropout_step(net.extensions, opt[1][1])
        opt[1][1] += 1
        rows = order[start:stop]
        for t in numba.prange(parts.shape[0]):  # block_pass, inlined: one level of calls fewer to compile
            thread_block(np.int64(t), data, rows, theta, parts, sums, net, work, hyper)
        accumulated += train_step(theta, parts, sums, opt, net, hyper) * (stop - start)
    return accumulated / n


@kernel
def predict_thread(t, data, rows, theta, net, work, out, sums):
    """Thread slot ``t``'s share of :func:`predict`: chunks ``t, t + T, t + 2T, ...``,
    and the sum of the dense input values it read into ``sums[t]`` (row sums in
    X's dtype, which vectorise; their total in float64)."""
    units = net.units
    n_layers = units.shape[0] - 1
    n_out = units[n_layers]
    n = out.shape[0]
    n_threads = work[0].shape[0]
    per_row = 0
    for l in range(1, units.shape[0]):  # (a loop: np.sum compiles its axis checks, 0.1 s)
        per_row += units[l]
    chunk = work[0].shape[1] // per_row
    n_chunks = (n + chunk - 1) // chunk
    w = thread_work(work, t)
    total = 0.0
    for c in range(t, n_chunks, n_threads):
        start = c * chunk
        stop = min(start + chunk, n)
        m = stop - start
        offsets = layer_offsets(units, m)
        if is_sparse(data):
            forward(data, rows[start:stop], theta, net, w, offsets)
        else:  # the chunk's input rows: the first product finds them in cache
            X = data[0][start:stop]
            for i in range(m):
                row_sum = X.dtype.type(0.0)
                for j in range(X.shape[1]):
                    row_sum += X[i, j]
                total += row_sum
            forward_block(X, rows[start:stop], theta, net, w, offsets)
        P = block(w[0], offsets, n_layers, m, n_out)
        for i in range(m):  # an explicit copy: a slice assignment compiles Numba's shape-error formatting
            for j in range(n_out):
                out[start + i, j] = P[i, j]
    sums[t] = total


@parallel_entry
def predict(data, rows, theta, net, work, out, sums):
    """Forward pass of the samples ``rows`` (all of them: ``0, 1, ..., n - 1``) of ``data``
    into ``out``, in chunks, one thread per workspace.

    ``sums[t]`` receives the sum of the dense input values slot ``t`` read:
    their total is finite only if every value of X is, which is the caller's
    test for NaN and infinity (an overflow of finite values sends it to the
    full check), made on each chunk just before the first product reads the
    same rows from cache, instead of in a pass of its own over X (W2's
    ``predict_proba``: 28.1 against 30.4 ms, medians of three alternating
    processes).  Sparse input leaves them 0.

    Dense X is C-contiguous, so a chunk's rows are a contiguous block of it,
    which the first product reads in place (:func:`forward_block`; training's
    gather into the workspace is for shuffled mini-batches): W2 35.7 against
    36.9 ms with a gather, together with even chunks (medians of six
    alternating processes, AMD EPYC VM, see
    ``fastbp.backends.cpu.prediction_chunk``).  Sparse rows are multiplied
    straight from CSR.

    Thread slot ``t`` handles chunks ``t, t + T, t + 2T, ...`` with its own
    workspace (:func:`predict_thread`, kept out of the parallel loop like
    :func:`thread_block`); the chunk length is what a thread's activation
    buffer holds.  ``rows`` comes from the caller: ``np.arange`` here would
    compile its implementation on the first prediction (0.15-0.35 s).
    """
    for t in numba.prange(work[0].shape[0]):
        predict_thread(np.int64(t), data, rows, theta, net, work, out, sums)
