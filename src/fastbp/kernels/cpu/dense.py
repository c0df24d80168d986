"""Dense layers: forward and backward passes of a mini-batch, CPU.

The matrix products go through ``np.dot`` (the BLAS) on contiguous workspace
views; everything around them (gather, bias, activation, derivative, column
sums, sparse first layer) is an explicit loop.
"""

import collections

import numpy as np

from fastbp.kernels import compile_math
from fastbp.kernels.cpu._jit import entry, inline, kernel
from fastbp.kernels.cpu.activations import (
    bias_activate,
    bias_activate_extra,
    multiply_grad,
    multiply_grad_extra,
    needs_z,
)
from fastbp.nn import activations as act
from fastbp.nn import dropout as dropout_math

masks = compile_math(dropout_math, inline, "cpu")

#: The network the kernels run, one named record (see :mod:`fastbp.kernels.cpu`).
#: ``extensions`` is None for a fit that uses none of fastbp's extensions to
#: scikit-learn's MLP (extra activations and losses, dropout, gradient
#: clipping, batch normalisation), else a float64 array ``[seed, step, rate of
#: each hidden layer]``.  Kernels that hold an extension's code take
#: ``extensions`` as an argument of their own and test ``extensions is not
#: None``: Numba resolves the test while compiling (the argument's type is
#: ``none`` or an array) and drops the branches that cannot run without
#: typing or compiling them, so a default fit compiles a smaller tree, and a
#: fit with an extension compiles the full one once.  ``trainable`` (int64)
#: says which parameters train: ``[frozen layers, w_lo, n_coef, b_lo,
#: base_size, g_lo]``, the first layers from the input side being frozen (see
#: :mod:`fastbp.kernels.cpu.optim`).  The backend builds the record from an
#: explicit :class:`fastbp.nn.spec.NetworkSpec`.
Net = collections.namedtuple("Net", ["units", "w_off", "b_off", "codes", "extensions", "trainable"])


@kernel
def layer_offsets(units, capacity):
    """Start of every layer's block in the flat activation workspace.

    Layer ``l`` (``1 <= l <= n_layers``) owns ``capacity * units[l]`` entries
    starting at ``offsets[l - 1]``.
    """
    n_layers = units.shape[0] - 1
    offsets = np.zeros(n_layers + 1, dtype=np.int64)
    for l in range(n_layers):
        offsets[l + 1] = offsets[l] + capacity * units[l + 1]
    return offsets


@kernel
def weights(theta, net, l):
    """View of layer ``l``'s weight matrix ``(n_in, n_out)`` in the flat buffer."""
    units, w_off = net.units, net.w_off
    n_in, n_out = units[l], units[l + 1]
    return theta[w_off[l] : w_off[l] + n_in * n_out].reshape((n_in, n_out))


@kernel
def bias(theta, net, l):
    """View of layer ``l``'s bias vector in the flat buffer."""
    units, b_off = net.units, net.b_off
    return theta[b_off[l] : b_off[l] + units[l + 1]]


@kernel
def block(buf, offsets, l, n_rows, n_cols):
    """Layer ``l``'s ``(n_rows, n_cols)`` block (``1 <= l``) of a flat workspace."""
    start = offsets[l - 1]
    return buf[start : start + n_rows * n_cols].reshape((n_rows, n_cols))


@kernel
def is_sparse(data):
    """True when ``data`` carries X as CSR arrays."""
    return data[3].shape[0] > 0


@kernel
def gather_rows(X, rows, out):
    """``out[i] = X[rows[i]]``: the mini-batch of dense X, contiguous."""
    n_features = X.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(n_features):
            out[i, j] = X[r, j]


@kernel
def csr_rows_dot(data, rows, W, Z):
    r"""Sparse first layer: :math:`Z = X_{rows} W` with X in CSR form."""
    x_data, x_indices, x_indptr = data[1], data[2], data[3]
    n_out = W.shape[1]
    for i in range(rows.shape[0]):
        for j in range(n_out):
            Z[i, j] = 0.0
        r = rows[i]
        for k in range(x_indptr[r], x_indptr[r + 1]):
            v = x_data[k]
            c = x_indices[k]
            for j in range(n_out):
                Z[i, j] += v * W[c, j]


@kernel
def csr_rows_tdot(data, rows, D, G):
    r"""Sparse first-layer weight gradient: :math:`G = X_{rows}^T D`."""
    x_data, x_indices, x_indptr = data[1], data[2], data[3]
    G[:, :] = 0.0
    n_out = D.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        for k in range(x_indptr[r], x_indptr[r + 1]):
            v = x_data[k]
            c = x_indices[k]
            for j in range(n_out):
                G[c, j] += v * D[i, j]


@kernel
def drop_rate(extensions, l):
    """Dropout rate of hidden layer ``l`` (``extensions = [seed, step, rate_0, rate_1, ...]``)."""
    return extensions[2 + l]


@entry
def apply_dropout(A, rows, extensions, l):
    r"""Inverted dropout of hidden layer ``l``: :math:`A_{ij} \leftarrow A_{ij} m_{ij} / (1 - p)`,
    :math:`m_{ij}` = :func:`fastbp.nn.dropout.keep` of ``(seed, step, rows[i], l, j)``.

    The backward pass applies the same function to the layer's delta: the
    same mask and the same scale.
    """
    rate = drop_rate(extensions, l)
    seed = np.int64(extensions[0])
    step = np.int64(extensions[1])
    limit = masks.threshold(rate)
    scale = 1.0 / (1.0 - rate)
    n, m = A.shape
    for i in range(n):
        key = masks.row_key(seed, step, rows[i])
        for j in range(m):
            A[i, j] = A[i, j] * scale if masks.keep(key, l, j, limit) else 0.0 * A[i, j]


@kernel
def unscale(A, extensions, l):
    r"""Undo the dropout scale of a layer's stored output, :math:`A \leftarrow A (1 - p)`."""
    factor = 1.0 - drop_rate(extensions, l)
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            A[i, j] = A[i, j] * factor


@kernel
def linear(data, rows, theta, net, work, offsets, l):
    r"""Layer ``l``'s product :math:`Z_{l+1} = A_l W_l` (no bias) into its block of ``work[0]``.

    For ``l = 0``, :math:`A_0 = X_{rows}`: dense rows are gathered into
    ``work[2]`` first, sparse rows are multiplied straight from CSR.
    """
    units = net.units
    acts, xbuf = work[0], work[2]
    n = rows.shape[0]
    W = weights(theta, net, l)
    Z = block(acts, offsets, l + 1, n, units[l + 1])
    if l == 0:
        if is_sparse(data):
            csr_rows_dot(data, rows, W, Z)
        else:
            A = xbuf[:n]
            gather_rows(data[0], rows, A)
            np.dot(A, W, Z)
    else:
        np.dot(block(acts, offsets, l, n, units[l]), W, Z)
    return Z


@kernel
def activate(rows, b, net, work, offsets, l):
    r""":math:`A_{l+1} = f_l(Z_{l+1} + b)` in place, then inverted dropout on a hidden layer with a rate.

    :math:`f_l` is the hidden activation, or the output activation for the
    last layer; where its derivative needs the pre-activation it is kept in
    ``work[3]``.
    """
    units, codes = net.units, net.codes
    n_layers = units.shape[0] - 1
    n = rows.shape[0]
    Z = block(work[0], offsets, l + 1, n, units[l + 1])
    code = codes[1] if l == n_layers - 1 else codes[0]
    Zpre = block(work[3], offsets, l + 1, n, units[l + 1]) if needs_z(code) else Z
    activate_block(Z, b, code, Zpre, net.extensions)
    if l < n_layers - 1:
        drop_block(Z, rows, net.extensions, l)


@kernel
def activate_block(Z, b, code, Zpre, extensions):
    """:func:`bias_activate`, or :func:`bias_activate_extra` for fastbp's extra activations
    (compiled only where ``extensions`` is not None)."""
    if extensions is not None and code >= act.FIRST_EXTRA:
        bias_activate_extra(Z, b, code, Zpre)
    else:
        bias_activate(Z, b, code, Zpre)


@kernel
def drop_block(A, rows, extensions, l):
    """Inverted dropout of hidden layer ``l``'s block where its rate is not 0 (and ``extensions``
    is not None)."""
    if extensions is not None and drop_rate(extensions, l) > 0.0:
        apply_dropout(A, rows, extensions, l)


@kernel
def forward(data, rows, theta, net, work, offsets):
    r"""Forward pass of the samples ``rows`` through every layer.

    For each layer :math:`l`, :math:`A_{l+1} = f_l(A_l W_l + b_l)` with
    :math:`A_0 = X_{rows}`, :math:`f_l` the hidden activation and, for the last
    layer, the output activation, followed by inverted dropout on hidden
    layers with a rate (training only: prediction passes rates of 0).  The
    outputs land in ``work[0]`` at ``offsets`` (:func:`linear`, :func:`activate`).
    """
    for l in range(net.units.shape[0] - 1):
        linear(data, rows, theta, net, work, offsets, l)
        activate(rows, bias(theta, net, l), net, work, offsets, l)


@kernel
def forward_block(X, rows, theta, net, work, offsets):
    r"""Forward pass of a block of dense input rows ``X`` (a contiguous view, ``rows`` their
    indices), as :func:`forward` without the gather: prediction's chunks are
    consecutive rows of C-contiguous X, which the first product reads where
    they are (for W2's ``predict_proba`` a gather would copy 5 M values of X per call).
    """
    units = net.units
    n = X.shape[0]
    for l in range(units.shape[0] - 1):
        Z = block(work[0], offsets, l + 1, n, units[l + 1])
        A = X if l == 0 else block(work[0], offsets, l, n, units[l])
        np.dot(A, weights(theta, net, l), Z)
        activate(rows, bias(theta, net, l), net, work, offsets, l)


@kernel
def layer_grads(data, rows, grad, net, work, offsets, l):
    r"""Layer ``l``'s raw gradient from its delta :math:`D_l`: :math:`G_{W_l} = A_l^T D_l`,
    :math:`G_{b_l} = \sum_i D_{l,i}`."""
    units = net.units
    acts, deltas, xbuf = work[0], work[1], work[2]
    n = rows.shape[0]
    D = block(deltas, offsets, l + 1, n, units[l + 1])
    GW = weights(grad, net, l)
    if l == 0:
        if is_sparse(data):
            csr_rows_tdot(data, rows, D, GW)
        else:
            np.dot(xbuf[:n].T, D, GW)
    else:
        np.dot(block(acts, offsets, l, n, units[l]).T, D, GW)
    gb = bias(grad, net, l)
    gb[:] = 0.0
    for i in range(n):
        for j in range(D.shape[1]):
            gb[j] += D[i, j]


@kernel
def propagate(rows, theta, net, work, offsets, l):
    r"""The delta of the layer below, :math:`D_{l-1} = (D_l W_l^T) \odot f'(A_l)` (``l >= 1``),
    through dropout where it is on."""
    units, codes = net.units, net.codes
    acts, deltas = work[0], work[1]
    n = rows.shape[0]
    D = block(deltas, offsets, l + 1, n, units[l + 1])
    D_prev = block(deltas, offsets, l, n, units[l])
    np.dot(D, weights(theta, net, l).T, D_prev)
    A = block(acts, offsets, l, n, units[l])
    Zpre = block(work[3], offsets, l, n, units[l]) if needs_z(codes[0]) else A
    derivative_block(A, Zpre, D_prev, codes[0], rows, net.extensions, l - 1)


@kernel
def derivative_block(A, Zpre, D, code, rows, extensions, k):
    r""":math:`D \leftarrow D \odot f'` of hidden layer ``k`` (output ``A``), through its dropout mask.

    Where ``extensions`` is not None: the extra activations' derivatives,
    and with a dropout rate, ``A`` (scaled by dropout, not needed any more)
    is unscaled in place first and ``D`` gets the forward pass's mask.
    """
    if extensions is not None:
        dropped = drop_rate(extensions, k) > 0.0
        if dropped:
            unscale(A, extensions, k)
        if code >= act.FIRST_EXTRA:
            multiply_grad_extra(A, Zpre, D, code)
        else:
            multiply_grad(A, Zpre, D, code)
        if dropped:
            apply_dropout(D, rows, extensions, k)
    else:
        multiply_grad(A, Zpre, D, code)


@kernel
def backward(data, rows, theta, grad, net, work, offsets):
    r"""Back-propagate the output delta and write the raw gradient.

    Expects ``work[1]``'s last block to hold the output delta :math:`D_L`.
    For each layer from the last, :func:`layer_grads` then :func:`propagate`.
    Penalties and the division by the weight sum are left to
    :mod:`fastbp.kernels.cpu.optim`.  The first ``net.trainable[0]`` layers
    are frozen: their gradients are not computed, nor the deltas below them.
    """
    frozen = net.trainable[0]
    for l in range(net.units.shape[0] - 2, frozen - 1, -1):
        layer_grads(data, rows, grad, net, work, offsets, l)
        if l > frozen:
            propagate(rows, theta, net, work, offsets, l)
