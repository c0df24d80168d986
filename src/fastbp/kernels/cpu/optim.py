"""Gradient reduction and optimizer steps over the flat parameter buffer, CPU.

Each thread of the block pass leaves its raw gradient in one row of
``parts`` (``(n_threads, n_params)``).  The kernels here reduce those rows in
a fixed order (deterministic, no atomics), add the L2 term, divide by the
batch's weight sum and, for the stochastic solvers, apply the update in the
same parallel loop over parameters.

Hyperparameters arrive in one float64 array ``hyper`` indexed by the constants
of :mod:`fastbp.optim`; optimizer state (velocity, or Adam's moments) is a
``(2, n_params)`` array in the parameter dtype, and ``counters[0]`` is Adam's
step count.
"""

import math

import numba

from fastbp import _config
from fastbp import optim as O

_pjit = numba.njit(parallel=True, **_config.JIT_OPTIONS)
_inline = numba.njit(inline="always", **_config.JIT_OPTIONS)


@_inline
def reduced(parts, theta, k, n_coef, alpha, sw_sum):
    r"""Gradient of parameter ``k``: :math:`(\sum_t P_{tk} + [k < n_W]\,\alpha\theta_k) / \sum w`."""
    g = 0.0
    for t in range(parts.shape[0]):
        g += parts[t, k]
    if k < n_coef:
        g += alpha * theta[k]
    return g / sw_sum


@_pjit
def reduce_gradient(theta, parts, grad, n_coef, alpha, sw_sum):
    """Write the full gradient to ``grad``; returns the squared norm of the weights."""
    sq = 0.0
    for k in numba.prange(theta.shape[0]):
        if k < n_coef:
            sq += theta[k] * theta[k]
        grad[k] = reduced(parts, theta, k, n_coef, alpha, sw_sum)
    return sq


@_pjit
def sgd_update(theta, parts, state, hyper, n_coef, sw_sum):
    r"""Reduce the gradient and take one SGD step with (Nesterov) momentum.

    .. math::
        v \leftarrow \mu v - \eta g, \qquad
        \theta \leftarrow \theta + v \;\text{(classical)}
        \;\text{or}\; \theta + \mu v - \eta g \;\text{(Nesterov)}

    Returns the squared norm of the weights before the step.
    """
    lr = hyper[O.H_LR]
    mu = hyper[O.H_MOMENTUM]
    nesterov = hyper[O.H_NESTEROV] != 0.0
    alpha = hyper[O.H_ALPHA]
    v = state[0]
    sq = 0.0
    for k in numba.prange(theta.shape[0]):
        if k < n_coef:
            sq += theta[k] * theta[k]
        g = reduced(parts, theta, k, n_coef, alpha, sw_sum)
        vk = mu * v[k] - lr * g
        v[k] = vk
        if nesterov:
            theta[k] += mu * vk - lr * g
        else:
            theta[k] += vk
    return sq


@_pjit
def adam_update(theta, parts, state, hyper, counters, n_coef, sw_sum):
    r"""Reduce the gradient and take one Adam step (Kingma & Ba).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \theta \leftarrow \theta - \eta \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}
        \frac{m}{\sqrt{v} + \epsilon}

    Returns the squared norm of the weights before the step.
    """
    counters[0] += 1
    t = counters[0]
    b1 = hyper[O.H_BETA1]
    b2 = hyper[O.H_BETA2]
    eps = hyper[O.H_EPSILON]
    alpha = hyper[O.H_ALPHA]
    lr = hyper[O.H_LR] * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    m = state[0]
    v = state[1]
    sq = 0.0
    for k in numba.prange(theta.shape[0]):
        if k < n_coef:
            sq += theta[k] * theta[k]
        g = reduced(parts, theta, k, n_coef, alpha, sw_sum)
        mk = b1 * m[k] + (1.0 - b1) * g
        vk = b2 * v[k] + (1.0 - b2) * (g * g)
        m[k] = mk
        v[k] = vk
        theta[k] += -lr * mk / (math.sqrt(vk) + eps)
    return sq
