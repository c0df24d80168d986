r"""Batch-normalised hidden layers on the GPU, twins of :mod:`fastbp.kernels.cpu.norm`.

The formulas are those of :mod:`fastbp.nn.norm`.  Column statistics take one
thread per hidden unit, which walks the mini-batch's rows in order (two
passes, float64 sums: deterministic, no atomics); the element-wise steps take
one thread per element.  ``stats`` is the same ``(6, H)`` float64 array as on
the CPU (running mean and variance, batch mean and variance, the batch's
:math:`\sum g / W` and :math:`\sum g \hat x / W`, :math:`W` its weight sum), resident on
the device for the whole fit; ``h`` is the first column of the layer's units.
"""

from numba import cuda

from fastbp.kernels import compile_math
from fastbp.nn import norm as norm_math
from fastbp.nn.norm import MEAN, MEAN_G, MEAN_GX, RUN_MEAN, RUN_VAR, VAR

_device = cuda.jit(device=True)

bn = compile_math(norm_math, _device, "cuda")


@cuda.jit(device=True)
def weight_sum(rows, sw, n):
    """The mini-batch's weight sum (each column's thread adds it up itself: no shared state)."""
    total = 0.0
    for i in range(n):
        total += sw[rows[i]]
    return total


@cuda.jit
def batch_stats_kernel(Z, rows, sw, stats, h, momentum, train):
    r"""Weighted mean and variance of each column of ``Z`` into ``stats``; with ``train``,
    more than one row and some weight, the running statistics' update too.  One thread per column."""
    j = cuda.grid(1)
    n, m = Z.shape
    if j < m:
        w_sum = weight_sum(rows, sw, n)
        inv_w = 1.0 / w_sum if w_sum > 0.0 else 0.0
        total = 0.0
        for i in range(n):
            total += sw[rows[i]] * Z[i, j]
        mean = total * inv_w
        total = 0.0
        for i in range(n):
            d = Z[i, j] - mean
            total += sw[rows[i]] * (d * d)
        var = total * inv_w
        stats[MEAN, h + j] = mean
        stats[VAR, h + j] = var
        if train and n > 1 and w_sum > 0.0:
            stats[RUN_MEAN, h + j] = bn.running_update(stats[RUN_MEAN, h + j], mean, momentum)
            stats[RUN_VAR, h + j] = bn.running_update(stats[RUN_VAR, h + j], var, momentum)


@cuda.jit
def normalise_kernel(Z, xhat, gamma, stats, h, eps):
    r""":math:`\hat x = (z - \mu) / \sqrt{\sigma^2 + \epsilon}` into ``xhat``, and
    :math:`Z \leftarrow \gamma \hat x` (the shift is added with the activation).  One thread per element."""
    k = cuda.grid(1)
    n, m = Z.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        x = (Z[i, j] - stats[MEAN, h + j]) * bn.inv_std(stats[VAR, h + j], eps)
        xhat[i, j] = x
        Z[i, j] = gamma[j] * x


@cuda.jit
def norm_grad_sums_kernel(G, xhat, rows, sw, g_gamma, g_beta, stats, h):
    r"""Raw gradients :math:`\sum_i g_{ij} \hat x_{ij}` and :math:`\sum_i g_{ij}` of the
    scale and shift, and the same divided by the weight sum into ``stats``.  One thread per column."""
    j = cuda.grid(1)
    n, m = G.shape
    if j < m:
        w_sum = weight_sum(rows, sw, n)
        inv_w = 1.0 / w_sum if w_sum > 0.0 else 0.0
        g_sum = 0.0
        gx_sum = 0.0
        for i in range(n):
            g_sum += G[i, j]
            gx_sum += G[i, j] * xhat[i, j]
        g_beta[j] = g_sum
        g_gamma[j] = gx_sum
        stats[MEAN_G, h + j] = g_sum * inv_w
        stats[MEAN_GX, h + j] = gx_sum * inv_w


@cuda.jit
def norm_grad_kernel(G, xhat, rows, sw, gamma, stats, h, eps):
    r"""``G`` from :math:`\partial J / \partial y` to :math:`\partial J / \partial z`
    (:func:`fastbp.nn.norm.normalised_grad`).  One thread per element."""
    k = cuda.grid(1)
    n, m = G.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        wi = sw[rows[i]]
        scale = gamma[j] * bn.inv_std(stats[VAR, h + j], eps)
        G[i, j] = bn.normalised_grad(G[i, j], xhat[i, j], scale, wi * stats[MEAN_G, h + j], wi * stats[MEAN_GX, h + j])
