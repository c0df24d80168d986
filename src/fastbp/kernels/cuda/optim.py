"""Optimizer steps on the GPU, twins of :mod:`fastbp.kernels.cpu.optim`.

One thread per parameter.  The batch's weight sum is read from the device
(``sums[1]``, written by :func:`fastbp.kernels.cuda.losses.batch_sums_kernel`),
so a step needs no transfer from the host but the scalar hyperparameters.
"""

import math

from numba import cuda


@cuda.jit(device=True)
def _gradient(theta, grad, k, n_coef, alpha, inv):
    g = grad[k]
    if k < n_coef:
        g += alpha * theta[k]
    return g * inv


@cuda.jit
def finish_gradient_kernel(theta, grad, n_coef, alpha, sums):
    r"""``grad = (grad + alpha * [k < n_W] theta) / sum w`` in place."""
    k = cuda.grid(1)
    if k < theta.shape[0]:
        grad[k] = _gradient(theta, grad, k, n_coef, alpha, 1.0 / sums[1])


@cuda.jit
def sgd_kernel(theta, grad, v, n_coef, alpha, sums, lr, mu, nesterov):
    r"""SGD step with momentum: :math:`v \leftarrow \mu v - \eta g`, then
    :math:`\theta \mathrel{+}= v` or, with Nesterov, :math:`\mu v - \eta g`."""
    k = cuda.grid(1)
    if k < theta.shape[0]:
        g = _gradient(theta, grad, k, n_coef, alpha, 1.0 / sums[1])
        vk = mu * v[k] - lr * g
        v[k] = vk
        if nesterov:
            theta[k] += mu * vk - lr * g
        else:
            theta[k] += vk


@cuda.jit
def adam_kernel(theta, grad, m, v, n_coef, alpha, sums, lr_t, b1, b2, eps):
    r"""Adam step with the bias correction folded into ``lr_t``:
    :math:`\theta \mathrel{-}= \eta_t\, m / (\sqrt v + \epsilon)`."""
    k = cuda.grid(1)
    if k < theta.shape[0]:
        g = _gradient(theta, grad, k, n_coef, alpha, 1.0 / sums[1])
        mk = b1 * m[k] + (1.0 - b1) * g
        vk = b2 * v[k] + (1.0 - b2) * (g * g)
        m[k] = mk
        v[k] = vk
        theta[k] -= lr_t * mk / (math.sqrt(vk) + eps)
