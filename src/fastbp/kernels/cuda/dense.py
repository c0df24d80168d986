"""Dense layers on the GPU, twins of :mod:`fastbp.kernels.cpu.dense`.

One shared-memory tiled matrix product serves the three products of
backpropagation through its ``trans_a`` / ``trans_b`` flags, gathers the
mini-batch rows of X through ``rows`` (no gathered copy of X is made), and
applies the element-wise step that follows it in its epilogue (bias and
activation forward, the activation's derivative backward), one launch
instead of two; a row of ones below ``A^T`` gives a layer's bias gradient
with its weight gradient.
:func:`forward` and :func:`backward`, under the CPU twins' names, are the layer
loops: host functions that launch this module's kernels and those of
:mod:`~fastbp.kernels.cuda.activations` and :mod:`~fastbp.kernels.cuda.norm`,
one layer after the other.
"""

import collections

import numpy as np
from numba import cuda, float32, float64

from fastbp import _config
from fastbp.kernels.cuda import activations as K_act
from fastbp.kernels.cuda import norm as K_norm
from fastbp.nn.activations import NEEDS_Z, SOFTMAX

#: What the layer loops read of a network: ``codes`` (hidden, output, loss), the dropout
#: rate of each hidden layer, the masks' ``seed`` and mini-batch ``step``, the number of
#: ``frozen`` layers from the input side, and the working ``dtype``.
Plan = collections.namedtuple("Plan", ["codes", "dropout", "seed", "step", "frozen", "dtype"])

_TILE = _config.CUDA_TILE


@cuda.jit(device=True)
def _load_a(A, rows, use_rows, trans_a, i, k, M, K, ones):
    # op(A)[i, k], 0 outside the matrix; with ``ones``, 1 on a row M below it (the row that
    # gives the column sums of op(B)); with rows, A is X and row r of op(A) is X[rows[r]].
    if k >= K or i > M or (i == M and not ones):
        return 0.0
    if i == M:
        return 1.0
    if trans_a:
        r = rows[k] if use_rows else k
        return A[r, i]
    r = rows[i] if use_rows else i
    return A[r, k]


#: What the product does with each element of ``C`` before storing it (``epilogue``):
#: nothing; add the bias and apply the activation (the forward pass); multiply by the
#: activation's derivative (the delta of the layer below, in the backward pass).
PLAIN, ACTIVATE, DERIVATIVE = 0, 1, 2


def _build_matmul(tile_type):
    @cuda.jit
    def matmul_kernel(A, B, C, rows, use_rows, trans_a, trans_b, epilogue, code, b, pre, keep_pre, act, sums):
        r"""``C = op(A) @ op(B)`` with shared-memory tiles of ``CUDA_TILE`` squared, and an epilogue.

        ``op(A)`` is ``A``, ``A.T``, ``A[rows]`` or ``A[rows].T``; ``op(B)`` is
        ``B`` or ``B.T``.  With ``sums``, the grid covers one row more, a row of
        ones below ``op(A)``, whose product, the column sums of ``op(B)``
        summed in row order, goes to ``b`` (a layer's bias gradient
        :math:`\sum_i D_{ij}` with its weight gradient :math:`A^T D`).  ``epilogue``: :data:`PLAIN` stores the product;
        :data:`ACTIVATE` stores :math:`f(c_{ij} + b_j)` for activation ``code``
        (and, with ``keep_pre``, the pre-activation into ``pre``);
        :data:`DERIVATIVE` stores :math:`c_{ij} f'(a_{ij}, z_{ij})` with ``a`` the
        layer's outputs ``act`` and ``z`` its pre-activations ``pre`` (read
        with ``keep_pre``).  The element is rounded to the working dtype before
        its epilogue, as a separate kernel reading ``C`` would see it, so fused
        and separate launches give the same bits.  Launch a 2-D grid of
        ``(CUDA_TILE, CUDA_TILE)`` blocks covering ``C``.
        """
        sa = cuda.shared.array((_TILE, _TILE), dtype=tile_type)
        sb = cuda.shared.array((_TILE, _TILE), dtype=tile_type)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        i = cuda.blockIdx.y * _TILE + ty
        j = cuda.blockIdx.x * _TILE + tx
        M, N = C.shape
        K = B.shape[1] if trans_b else B.shape[0]
        acc = tile_type(0.0)
        for k0 in range(0, K, _TILE):
            sa[ty, tx] = _load_a(A, rows, use_rows, trans_a, i, k0 + tx, M, K, sums)
            kb = k0 + ty
            if kb < K and j < N:
                sb[ty, tx] = B[j, kb] if trans_b else B[kb, j]
            else:
                sb[ty, tx] = 0.0
            cuda.syncthreads()
            for k in range(_TILE):
                acc += sa[ty, k] * sb[k, tx]
            cuda.syncthreads()
        if i < M and j < N:
            if epilogue == ACTIVATE:
                z = acc + b[j]
                if keep_pre:
                    pre[i, j] = z
                C[i, j] = K_act.acts.activation(z, code)
            elif epilogue == DERIVATIVE:
                a = act[i, j]
                C[i, j] = acc * K_act.acts.activation_grad(a, pre[i, j] if keep_pre else a, code)
            else:
                C[i, j] = acc
        elif sums and i == M and j < N:
            b[j] = acc

    return matmul_kernel


#: The tiled matrix product, one compiled kernel per dtype (the tiles' type).
matmul_kernels = {np.dtype(np.float32): _build_matmul(float32), np.dtype(np.float64): _build_matmul(float64)}


@cuda.jit
def csr_dot_kernel(x_data, x_indices, x_indptr, rows, W, Z):
    r"""Sparse first layer :math:`Z = X_{rows} W`; one thread per element of ``Z``."""
    k = cuda.grid(1)
    n, m = Z.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        r = rows[i]
        acc = 0.0
        for p in range(x_indptr[r], x_indptr[r + 1]):
            acc += x_data[p] * W[x_indices[p], j]
        Z[i, j] = acc


@cuda.jit
def csr_tdot_kernel(x_data, x_indices, x_indptr, rows, D, G):
    r"""Sparse first-layer gradient :math:`G \mathrel{+}= X_{rows}^T D` (``G`` zeroed first).

    One thread per element of ``D``, scattering with atomic adds: the only
    kernel whose summation order is not fixed.
    """
    k = cuda.grid(1)
    n, m = D.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        r = rows[i]
        d = D[i, j]
        for p in range(x_indptr[r], x_indptr[r + 1]):
            cuda.atomic.add(G, (x_indices[p], j), x_data[p] * d)


@cuda.jit
def colsum_kernel(D, g):
    r"""Bias gradient :math:`g_j = \sum_i D_{ij}`; one thread per column, rows in order."""
    j = cuda.grid(1)
    n, m = D.shape
    if j < m:
        acc = 0.0
        for i in range(n):
            acc += D[i, j]
        g[j] = acc


@cuda.jit
def fill_kernel(a, value):
    """``a[:] = value`` for a 1-D array."""
    k = cuda.grid(1)
    if k < a.shape[0]:
        a[k] = value


def _blocks(n):
    return max(1, -(-n // _config.CUDA_THREADS))


def matmul(plan, A, B, C, rows, use_rows, trans_a, trans_b, epilogue=PLAIN, code=0, b=None, pre=None,
           keep_pre=False, act=None, sums=False):
    """Launch the tiled product ``C = op(A) @ op(B)`` (:func:`matmul_kernel`) over ``C``, with
    its ``epilogue``, and with ``sums`` the column sums of ``op(B)`` into ``b`` (arrays the
    launch does not read default to views of ``C``)."""
    T = _config.CUDA_TILE
    M, N = C.shape
    grid = (max(1, -(-N // T)), max(1, -(-(M + 1 if sums else M) // T)))
    matmul_kernels[np.dtype(plan.dtype)][grid, (T, T)](
        A, B, C, rows, use_rows, trans_a, trans_b, epilogue, code,
        C[0] if b is None else b, C if pre is None else pre, keep_pre, C if act is None else act, sums,
    )


def forward(plan, d_data, rows, n, params, work, train=False, norm=None):
    r"""Forward pass of the ``n`` samples ``rows`` (a device array); returns the output block.

    For each layer :math:`A_{l+1} = f_l(A_l W_l + b_l)`, ``params = (Ws, bs)``
    the per-layer device views.  ``train`` applies dropout (the masks of
    ``plan.step``); ``norm`` (the backend's batch-norm context) normalises the
    hidden layers with the batch's statistics, and updates the running ones of
    the layers that train.
    """
    Ws, bs = params
    hidden, out_code = plan.codes[0], plan.codes[1]
    X, x_data, x_indices, x_indptr = d_data[0], d_data[1], d_data[2], d_data[3]
    sparse = x_indptr.shape[0] > 0
    threads = _config.CUDA_THREADS
    L = len(Ws)
    for l in range(L):
        Z = work["acts"][l][:n]
        code = out_code if l == L - 1 else hidden
        keep = code in NEEDS_Z
        pre = work["pre"][l][:n] if keep else work["pre"][l]
        # Bias and activation in the product's epilogue, unless the layer is normalised
        # first, its output is a softmax (a row-wise step), or X is sparse.
        fused = not (norm is not None and l < L - 1) and code != SOFTMAX and not (l == 0 and sparse)
        epilogue = (ACTIVATE, code, bs[l], pre, keep) if fused else (PLAIN,)
        if l == 0:
            if sparse:
                csr_dot_kernel[_blocks(Z.size), threads](x_data, x_indices, x_indptr, rows, Ws[0], Z)
            else:
                matmul(plan, X, Ws[0], Z, rows, True, False, False, *epilogue)
        else:
            matmul(plan, work["acts"][l - 1][:n], Ws[l], Z, rows, False, False, False, *epilogue)
        bias = bs[l]
        if norm is not None and l < L - 1:
            h = norm["first"][l]
            K_norm.batch_stats_kernel[_blocks(Z.shape[1]), threads](  # a frozen layer's statistics stay
                Z, rows, d_data[5], norm["stats"], h, norm["momentum"], norm["train"] and l >= plan.frozen
            )
            K_norm.normalise_kernel[_blocks(Z.size), threads](
                Z, work["xhat"][l][:n], norm["gammas"][l], norm["stats"], h, norm["eps"]
            )
            bias = norm["betas"][l]
        if code == SOFTMAX:
            K_act.softmax_kernel[_blocks(n), threads](Z, bias)
        elif not fused:
            K_act.bias_activate_kernel[_blocks(Z.size), threads](Z, bias, code, pre, keep)
        if train and l < L - 1 and plan.dropout[l] > 0:
            K_act.dropout_kernel[_blocks(Z.size), threads](Z, rows, plan.seed, plan.step, l, plan.dropout[l])
    return work["acts"][L - 1][:n]


def backward(plan, d_data, rows, n, params, work, norm=None):
    """Back-propagate the output delta in ``work['deltas'][-1]`` into the raw gradients
    ``params = (Ws, gWs, gbs)`` (the weights and the gradient's per-layer views), through
    the batch statistics of normalised hidden layers with ``norm``.  The first
    ``plan.frozen`` layers do not train: no gradient, and no delta below the lowest
    layer that trains.
    """
    Ws, gWs, gbs = params
    X, x_data, x_indices, x_indptr = d_data[0], d_data[1], d_data[2], d_data[3]
    sparse = x_indptr.shape[0] > 0
    threads = _config.CUDA_THREADS
    hidden = plan.codes[0]
    for l in range(len(Ws) - 1, plan.frozen - 1, -1):
        D = work["deltas"][l][:n]
        normalised = norm is not None and l < len(Ws) - 1  # the shift replaces the bias: gradient 0
        # The bias gradient, D's column sums, comes with the weight gradient from one product,
        # except after the sparse product and for a normalised layer.
        fused = not normalised and not (l == 0 and sparse)
        if l == 0 and sparse:
            G = gWs[0].reshape(gWs[0].size)
            fill_kernel[_blocks(G.size), threads](G, 0.0)
            csr_tdot_kernel[_blocks(D.size), threads](x_data, x_indices, x_indptr, rows, D, gWs[0])
        else:
            A_l = X if l == 0 else work["acts"][l - 1][:n]
            matmul(plan, A_l, D, gWs[l], rows, l == 0, True, False, b=gbs[l], sums=fused)
        if normalised:
            fill_kernel[_blocks(D.shape[1]), threads](gbs[l], 0.0)
        elif not fused:
            colsum_kernel[_blocks(D.shape[1]), threads](D, gbs[l])
        if l > plan.frozen:
            D_prev = work["deltas"][l - 1][:n]
            use_pre = hidden in NEEDS_Z
            pre = work["pre"][l - 1][:n] if use_pre else work["pre"][l - 1]
            A_prev = work["acts"][l - 1][:n]
            if plan.dropout[l - 1] > 0:  # the derivative goes through the masks: a kernel of its own
                matmul(plan, D, Ws[l], D_prev, rows, False, False, True)
                K_act.dropout_grad_kernel[_blocks(D_prev.size), threads](
                    A_prev, pre, D_prev, hidden, use_pre, rows, plan.seed, plan.step, l - 1, plan.dropout[l - 1],
                )
            else:  # the activation's derivative in the product's epilogue
                matmul(plan, D, Ws[l], D_prev, rows, False, False, True, DERIVATIVE, hidden, None, pre, use_pre, A_prev)
            if norm is not None:
                k, h = l - 1, norm["first"][l - 1]
                xhat = work["xhat"][k][:n]
                K_norm.norm_grad_sums_kernel[_blocks(D_prev.shape[1]), threads](
                    D_prev, xhat, rows, d_data[5], norm["g_gammas"][k], norm["g_betas"][k], norm["stats"], h
                )
                K_norm.norm_grad_kernel[_blocks(D_prev.size), threads](
                    D_prev, xhat, rows, d_data[5], norm["gammas"][k], norm["stats"], h, norm["eps"]
                )
