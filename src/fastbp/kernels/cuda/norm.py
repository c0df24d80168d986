r"""Batch-normalised hidden layers on the GPU, twins of :mod:`fastbp.kernels.cpu.norm`.

The formulas are those of :mod:`fastbp.nn.norm`.  Column statistics take one
thread per hidden unit, which walks the mini-batch's rows in order (two
passes, float64 sums: deterministic, no atomics); the element-wise steps take
one thread per element.  ``stats`` is the same ``(6, H)`` float64 array as on
the CPU (running mean and variance, batch mean and variance, the batch's
:math:`\frac{1}{n}\sum g` and :math:`\frac{1}{n}\sum g \hat x`), resident on
the device for the whole fit; ``h`` is the first column of the layer's units.
"""

from numba import cuda

from fastbp.nn import norm as norm_math
from fastbp.nn.norm import MEAN, MEAN_G, MEAN_GX, RUN_MEAN, RUN_VAR, VAR

_device = cuda.jit(device=True)

inv_std = _device(norm_math.inv_std)
normalised_grad = _device(norm_math.normalised_grad)
running_update = _device(norm_math.running_update)


@cuda.jit
def batch_stats_kernel(Z, stats, h, momentum, train):
    r"""Mean and biased variance of each column of ``Z`` into ``stats``; with ``train``
    and more than one row, the running statistics' update too.  One thread per column."""
    j = cuda.grid(1)
    n, m = Z.shape
    if j < m:
        total = 0.0
        for i in range(n):
            total += Z[i, j]
        mean = total / n
        total = 0.0
        for i in range(n):
            d = Z[i, j] - mean
            total += d * d
        var = total / n
        stats[MEAN, h + j] = mean
        stats[VAR, h + j] = var
        if train and n > 1:
            stats[RUN_MEAN, h + j] = running_update(stats[RUN_MEAN, h + j], mean, momentum)
            stats[RUN_VAR, h + j] = running_update(stats[RUN_VAR, h + j], var * n / (n - 1), momentum)


@cuda.jit
def normalise_kernel(Z, xhat, gamma, stats, h, eps):
    r""":math:`\hat x = (z - \mu) / \sqrt{\sigma^2 + \epsilon}` into ``xhat``, and
    :math:`Z \leftarrow \gamma \hat x` (the shift is added with the activation).  One thread per element."""
    k = cuda.grid(1)
    n, m = Z.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        x = (Z[i, j] - stats[MEAN, h + j]) * inv_std(stats[VAR, h + j], eps)
        xhat[i, j] = x
        Z[i, j] = gamma[j] * x


@cuda.jit
def norm_grad_sums_kernel(G, xhat, g_gamma, g_beta, stats, h):
    r"""Raw gradients :math:`\sum_i g_{ij} \hat x_{ij}` and :math:`\sum_i g_{ij}` of the
    scale and shift, and their means into ``stats``.  One thread per column."""
    j = cuda.grid(1)
    n, m = G.shape
    if j < m:
        g_sum = 0.0
        gx_sum = 0.0
        for i in range(n):
            g_sum += G[i, j]
            gx_sum += G[i, j] * xhat[i, j]
        g_beta[j] = g_sum
        g_gamma[j] = gx_sum
        stats[MEAN_G, h + j] = g_sum / n
        stats[MEAN_GX, h + j] = gx_sum / n


@cuda.jit
def norm_grad_kernel(G, xhat, gamma, stats, h, eps):
    r"""``G`` from :math:`\partial J / \partial y` to :math:`\partial J / \partial z`
    (:func:`fastbp.nn.norm.normalised_grad`).  One thread per element."""
    k = cuda.grid(1)
    n, m = G.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        scale = gamma[j] * inv_std(stats[VAR, h + j], eps)
        G[i, j] = normalised_grad(G[i, j], xhat[i, j], scale, stats[MEAN_G, h + j], stats[MEAN_GX, h + j])
