"""Optimizer steps over the flat parameter buffer, CPU.

Hyperparameters arrive in one float64 array ``hyper`` indexed by the constants
of :mod:`fastbp.optim`; optimizer state (velocity, or Adam's moments) is a
``(2, n_params)`` array in the parameter dtype, and ``counters[0]`` is Adam's
step count.
"""

import math

import numba

from fastbp import _config
from fastbp import optim as O

_jit = numba.njit(**_config.JIT_OPTIONS)


@_jit
def squared_norm(theta, n_coef):
    r""":math:`\sum_k \theta_k^2` over the weights (the first ``n_coef`` entries)."""
    total = 0.0
    for k in range(n_coef):
        total += theta[k] * theta[k]
    return total


@_jit
def finish_gradient(theta, grad, n_coef, alpha, sw_sum):
    r"""Add the L2 term and divide by the weight sum, in place.

    .. math::
        g_W \leftarrow (g_W + \alpha W) / \textstyle\sum w, \qquad
        g_b \leftarrow g_b / \textstyle\sum w
    """
    for k in range(n_coef):
        grad[k] = (grad[k] + alpha * theta[k]) / sw_sum
    for k in range(n_coef, theta.shape[0]):
        grad[k] = grad[k] / sw_sum


@_jit
def sgd_step(theta, grad, state, hyper):
    r"""One SGD step with (Nesterov) momentum.

    .. math::
        v \leftarrow \mu v - \eta g, \qquad
        \theta \leftarrow \theta + v \;\text{(classical)}
        \;\text{or}\; \theta + \mu v - \eta g \;\text{(Nesterov)}
    """
    lr = hyper[O.H_LR]
    mu = hyper[O.H_MOMENTUM]
    nesterov = hyper[O.H_NESTEROV] != 0.0
    v = state[0]
    for k in range(theta.shape[0]):
        vk = mu * v[k] - lr * grad[k]
        v[k] = vk
        if nesterov:
            theta[k] += mu * vk - lr * grad[k]
        else:
            theta[k] += vk


@_jit
def adam_step(theta, grad, state, hyper, counters):
    r"""One Adam step (Kingma & Ba), bias correction folded into the rate.

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
    eps = hyper[O.H_EPSILON]
    lr = hyper[O.H_LR] * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    m = state[0]
    v = state[1]
    for k in range(theta.shape[0]):
        g = grad[k]
        mk = b1 * m[k] + (1.0 - b1) * g
        vk = b2 * v[k] + (1.0 - b2) * (g * g)
        m[k] = mk
        v[k] = vk
        theta[k] += -lr * mk / (math.sqrt(vk) + eps)


@_jit
def step(theta, grad, state, hyper, counters):
    """Apply the update of the solver named by ``hyper[H_SOLVER]``."""
    if hyper[O.H_SOLVER] == O.ADAM:
        adam_step(theta, grad, state, hyper, counters)
    else:
        sgd_step(theta, grad, state, hyper)
