"""Loss, output delta and per-batch reductions, CUDA twins of :mod:`fastbp.kernels.cpu.losses`.

The losses and their ladders are :mod:`fastbp.nn.losses`, compiled here as
device functions (``M``).
"""

from numba import cuda, float64

from fastbp import _config
from fastbp.kernels import compile_math
from fastbp.nn import losses as L

M = compile_math(L, cuda.jit(device=True), "cuda")

_THREADS = _config.CUDA_THREADS


@cuda.jit
def loss_delta_kernel(P, Y, rows, sw, code, eps, param, scale, D, row_loss, row_w):
    r"""Per row :math:`i`: the weighted loss :math:`w_{r_i} \sum_j l(y, p)` into
    ``row_loss[i]``, the weight into ``row_w[i]``, and the output delta
    :math:`D_{ij} = s\,w_{r_i} \delta(y_{r_i j}, p_{ij})`.  One thread per row."""
    i = cuda.grid(1)
    n, m = P.shape
    if i < n:
        r = rows[i]
        w = sw[r]
        acc = 0.0
        for j in range(m):
            p = P[i, j]
            y = Y[r, j]
            acc += M.element_loss(y, p, code, eps, param)
            D[i, j] = scale * w * M.element_delta(y, p, code, param)
        row_loss[i] = w * acc
        row_w[i] = w


@cuda.jit(device=True)
def block_sum(acc, t):
    """Sum the shared array ``acc`` (one entry per thread of the block, ``t`` this thread's) into
    ``acc[0]``, by a fixed-order tree: the result does not depend on scheduling.  Every
    thread of the block must call it."""
    cuda.syncthreads()
    step = _THREADS // 2
    while step > 0:
        if t < step:
            acc[t] += acc[t + step]
        cuda.syncthreads()
        step //= 2


@cuda.jit
def batch_sums_kernel(row_loss, row_w, n, theta, n_coef, out):
    r"""One block: ``out[:4] = (sum row_loss[:n], sum row_w[:n], sum theta[:n_coef]^2, sum |theta[:n_coef]|)``.

    Fixed-order tree reductions in shared memory (:func:`block_sum`, float64
    whatever the data's dtype), so the result does not depend on scheduling.
    Launch with one block of ``CUDA_THREADS`` threads.
    """
    s_loss = cuda.shared.array(_THREADS, dtype=float64)
    s_w = cuda.shared.array(_THREADS, dtype=float64)
    s_sq = cuda.shared.array(_THREADS, dtype=float64)
    s_abs = cuda.shared.array(_THREADS, dtype=float64)
    t = cuda.threadIdx.x
    a = 0.0
    b = 0.0
    c = 0.0
    d = 0.0
    for k in range(t, n, _THREADS):
        a += row_loss[k]
        b += row_w[k]
    for k in range(t, n_coef, _THREADS):
        c += theta[k] * theta[k]
        d += abs(theta[k])
    s_loss[t] = a
    s_w[t] = b
    s_sq[t] = c
    s_abs[t] = d
    block_sum(s_loss, t)
    block_sum(s_w, t)
    block_sum(s_sq, t)
    block_sum(s_abs, t)
    if t == 0:
        out[0] = s_loss[0]
        out[1] = s_w[0]
        out[2] = s_sq[0]
        out[3] = s_abs[0]
