"""Optimizer steps on the GPU, twins of :mod:`fastbp.kernels.cpu.optim`.

One thread per parameter.  The batch's sums live on the device
(``sums = [loss, weight, sum W^2, sum |W|, |g|^2]``, see
:func:`fastbp.kernels.cuda.losses.batch_sums_kernel` and
:func:`grad_norm_kernel`), so a step needs nothing from the host but the
scalar hyperparameters.
"""

import math

from numba import cuda, float64

from fastbp import _config
from fastbp import optim as O

_THREADS = _config.CUDA_THREADS


@cuda.jit(device=True)
def _gradient(theta, grad, k, n_coef, alpha, l1, inv):
    """Penalised, normalised gradient of parameter ``k`` (before clipping)."""
    g = grad[k]
    if k < n_coef:
        th = theta[k]
        g += alpha * th
        if th > 0:
            g += l1
        elif th < 0:
            g -= l1
    return g * inv


@cuda.jit(device=True)
def _trains(k, lo):
    """Whether parameter ``k`` trains: ``lo = [w_lo, n_coef, b_lo, base_size, g_lo]``
    (:meth:`fastbp.nn.layout.Layout.trainable_starts` without its first entry)."""
    return (lo[0] <= k and k < lo[1]) or (lo[2] <= k and k < lo[3]) or k >= lo[4]


@cuda.jit(device=True)
def _scale(sums, max_norm):
    """``1 / sum w`` times the clipping factor."""
    inv = 1.0 / sums[1]
    if max_norm > 0:
        norm = math.sqrt(sums[4]) * inv
        if norm > max_norm:
            inv *= max_norm / norm
    return inv


@cuda.jit
def grad_norm_kernel(theta, grad, n_coef, alpha, l1, sums, lo):
    r"""One block: ``sums[4] = sum_k (sum w * g_k)^2`` over the parameters that train (the
    gradient norm before the division by the weight sum), by a fixed-order tree reduction."""
    acc = cuda.shared.array(_THREADS, dtype=float64)
    t = cuda.threadIdx.x
    total = 0.0
    for k in range(t, theta.shape[0], _THREADS):
        if _trains(k, lo):
            g = _gradient(theta, grad, k, n_coef, alpha, l1, 1.0)
            total += g * g
    acc[t] = total
    cuda.syncthreads()
    step = _THREADS // 2
    while step > 0:
        if t < step:
            acc[t] += acc[t + step]
        cuda.syncthreads()
        step //= 2
    if t == 0:
        sums[4] = acc[0]


@cuda.jit
def finish_gradient_kernel(theta, grad, n_coef, alpha, l1, sums, max_norm, lo):
    r"""``grad`` becomes the penalised, normalised, clipped gradient, in place (0 for the
    parameters of frozen layers)."""
    k = cuda.grid(1)
    if k < theta.shape[0]:
        if _trains(k, lo):
            grad[k] = _gradient(theta, grad, k, n_coef, alpha, l1, _scale(sums, max_norm))
        else:
            grad[k] = 0.0


@cuda.jit
def update_kernel(theta, grad, m, v, n_coef, alpha, l1, sums, max_norm, solver, lo, c0, c1, c2, c3, c4):
    r"""One step of ``solver`` for parameter ``k`` (one thread each).

    ``c0..c4`` are ``lr, momentum, nesterov`` (SGD), ``lr_t, beta1, beta2,
    epsilon, decay`` (Adam, AdamW: :math:`\theta \leftarrow (1 - \text{decay})
    \theta - lr_t\, m / (\sqrt v + \epsilon)` on weights) or ``lr, rho,
    epsilon`` (RMSprop), as in :func:`fastbp.kernels.cpu.optim.update`.
    Scalars, not an array, so a step copies nothing to the device.  Parameters
    of frozen layers (outside ``lo``, see :func:`_trains`) are left as they are.
    """
    k = cuda.grid(1)
    if k < theta.shape[0] and _trains(k, lo):
        g = _gradient(theta, grad, k, n_coef, alpha, l1, _scale(sums, max_norm))
        if solver == O.SGD:
            lr, mu = c0, c1
            vk = mu * m[k] - lr * g
            m[k] = vk
            if c2 != 0:
                theta[k] += mu * vk - lr * g
            else:
                theta[k] += vk
        elif solver == O.RMSPROP:
            lr, rho, eps = c0, c1, c2
            vk = rho * v[k] + (1.0 - rho) * (g * g)
            v[k] = vk
            theta[k] -= lr * g / (math.sqrt(vk) + eps)
        else:
            lr_t, b1, b2, eps, decay = c0, c1, c2, c3, c4
            mk = b1 * m[k] + (1.0 - b1) * g
            vk = b2 * v[k] + (1.0 - b2) * (g * g)
            m[k] = mk
            v[k] = vk
            th = theta[k]
            if k < n_coef:
                th -= decay * th
            theta[k] = th - lr_t * mk / (math.sqrt(vk) + eps)
