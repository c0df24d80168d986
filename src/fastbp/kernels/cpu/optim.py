"""Gradient reduction and optimizer steps over the flat parameter buffer, CPU.

Each thread of the block pass leaves its raw gradient in one row of
``parts`` (``(n_threads, n_params)``).  The kernels here reduce those rows in
a fixed order (deterministic, no atomics), add the L2 term, divide by the
batch's weight sum and, for the stochastic solvers, apply the update in the
same parallel loop over parameters.  The update arithmetic runs in the
parameters' dtype (float32 stays float32, and vectorises twice as wide).

Hyperparameters arrive in one float64 array ``hyper`` indexed by the constants
of :mod:`fastbp.optim`; optimizer state (velocity, or Adam's moments) is a
``(2, n_params)`` array in the parameter dtype, and ``counters[0]`` is Adam's
step count.
"""

import math

import numba
import numpy as np

from fastbp import _config
from fastbp import optim as O

_jit = numba.njit(**_config.JIT_OPTIONS)
_pjit = numba.njit(parallel=True, **_config.JIT_OPTIONS)


@_jit
def constants(theta, values):
    """``values`` (float64) cast to the parameters' dtype, so the update loops stay in it."""
    return np.asarray(values).astype(theta.dtype)


@_pjit
def squared_norm(theta, n_coef):
    r""":math:`\sum_k \theta_k^2` over the weights (the first ``n_coef`` entries), in float64."""
    sq = 0.0
    for k in numba.prange(n_coef):
        sq += np.float64(theta[k]) * theta[k]
    return sq


@_pjit
def _add(total, part):
    for k in numba.prange(total.shape[0]):
        total[k] += part[k]


@_jit
def sum_parts(parts):
    r"""``parts[0] += parts[1] + parts[2] + ...``, in thread order."""
    for t in range(1, parts.shape[0]):
        _add(parts[0], parts[t])


@_pjit
def _scaled_gradient(theta, g, grad, a, inv, decay):
    for k in numba.prange(theta.shape[0]):
        gk = g[k]
        if decay:
            gk += a * theta[k]
        grad[k] = gk * inv


@_jit
def reduce_gradient(theta, parts, grad, n_coef, alpha, sw_sum):
    r"""Write the full gradient to ``grad``.

    .. math:: g_k = \Big(\sum_t P_{tk} + [k < n_W]\,\alpha \theta_k\Big) / \textstyle\sum w
    """
    c = constants(theta, (alpha, 1.0 / sw_sum))
    sum_parts(parts)
    g = parts[0]
    _scaled_gradient(theta[:n_coef], g[:n_coef], grad[:n_coef], c[0], c[1], True)
    _scaled_gradient(theta[n_coef:], g[n_coef:], grad[n_coef:], c[0], c[1], False)


# The update loops take slices and run prange over their whole length: a
# prange with a start offset does not vectorise (measured 9x slower).
@_pjit
def _sgd_range(theta, grad, v, c, decay):
    lr, mu, a, inv = c[0], c[1], c[2], c[3]
    nesterov = c[4] != 0
    for k in numba.prange(theta.shape[0]):
        g = grad[k]
        if decay:
            g += a * theta[k]
        g *= inv
        vk = mu * v[k] - lr * g
        v[k] = vk
        if nesterov:
            theta[k] += mu * vk - lr * g
        else:
            theta[k] += vk


@_jit
def sgd_update(theta, parts, state, hyper, n_coef, sw_sum):
    r"""Reduce the gradient and take one SGD step with (Nesterov) momentum.

    .. math::
        v \leftarrow \mu v - \eta g, \qquad
        \theta \leftarrow \theta + v \;\text{(classical)}
        \;\text{or}\; \theta + \mu v - \eta g \;\text{(Nesterov)}
    """
    c = constants(theta, (hyper[O.H_LR], hyper[O.H_MOMENTUM], hyper[O.H_ALPHA], 1.0 / sw_sum, hyper[O.H_NESTEROV]))
    sum_parts(parts)
    g, v = parts[0], state[0]
    _sgd_range(theta[:n_coef], g[:n_coef], v[:n_coef], c, True)
    _sgd_range(theta[n_coef:], g[n_coef:], v[n_coef:], c, False)


@_pjit
def _adam_range(theta, grad, m, v, c, decay):
    b1, c1, b2, c2, lr, eps, a, inv = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    for k in numba.prange(theta.shape[0]):
        g = grad[k]
        if decay:
            g += a * theta[k]
        g *= inv
        mk = b1 * m[k] + c1 * g
        vk = b2 * v[k] + c2 * (g * g)
        m[k] = mk
        v[k] = vk
        theta[k] -= lr * mk / (np.sqrt(vk) + eps)


@_jit
def adam_update(theta, parts, state, hyper, counters, n_coef, sw_sum):
    r"""Reduce the gradient and take one Adam step (Kingma & Ba).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \theta \leftarrow \theta - \eta \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}
        \frac{m}{\sqrt{v} + \epsilon}
    """
    counters[0] += 1
    t = counters[0]
    b1 = hyper[O.H_BETA1]
    b2 = hyper[O.H_BETA2]
    lr = hyper[O.H_LR] * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    c = constants(theta, (b1, 1.0 - b1, b2, 1.0 - b2, lr, hyper[O.H_EPSILON], hyper[O.H_ALPHA], 1.0 / sw_sum))
    sum_parts(parts)
    g, m, v = parts[0], state[0], state[1]
    _adam_range(theta[:n_coef], g[:n_coef], m[:n_coef], v[:n_coef], c, True)
    _adam_range(theta[n_coef:], g[n_coef:], m[n_coef:], v[n_coef:], c, False)
