"""Gradient reduction and optimizer steps over the flat parameter buffer, CPU.

Each thread of the block pass leaves its raw gradient in one row of
``parts`` (``(n_threads, n_params)``).  The kernels here reduce those rows in
a fixed order (deterministic, no atomics), add the penalties, divide by the
batch's weight sum, optionally clip the global gradient norm and, for the
stochastic solvers, apply the update in the same parallel loop over
parameters.  The update arithmetic runs in the parameters' dtype (float32
stays float32, and vectorises twice as wide).

The gradient of weight :math:`k` is

.. math:: g_k = c \\, \\frac{\\sum_t P_{tk} + \\alpha \\theta_k + \\lambda_1 \\operatorname{sign}\\theta_k}{\\sum w}

(biases carry no penalty), with :math:`c = \\min(1, \\text{max\\_grad\\_norm} / \\lVert g \\rVert)`
when clipping is on and 1 otherwise.

Hyperparameters arrive in one float64 array ``hyper`` indexed by the constants
of :mod:`fastbp.optim`; optimizer state (velocity, or the moments) is a
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
_inline = numba.njit(inline="always", **_config.JIT_OPTIONS)


@_jit
def constants(theta, values):
    """``values`` (float64) cast to the parameters' dtype, so the update loops stay in it."""
    return np.asarray(values).astype(theta.dtype)


@_pjit
def weight_norms(theta, n_coef):
    r""":math:`\sum_k \theta_k^2` and :math:`\sum_k |\theta_k|` over the weights (the first ``n_coef`` entries), in float64."""
    sq = 0.0
    ab = 0.0
    for k in numba.prange(n_coef):
        x = np.float64(theta[k])
        sq += x * x
        ab += abs(x)
    return sq, ab


@_pjit
def _add(total, part):
    for k in numba.prange(total.shape[0]):
        total[k] += part[k]


@_jit
def sum_parts(parts):
    r"""``parts[0] += parts[1] + parts[2] + ...``, in thread order."""
    for t in range(1, parts.shape[0]):
        _add(parts[0], parts[t])


@_inline
def finished(p, th, penalised, a, l1, inv):
    """The gradient of one parameter from its raw sum ``p`` (see the module docstring)."""
    if penalised:
        l1_term = l1 if th > 0 else (-l1 if th < 0 else l1 * 0)
        p = p + a * th + l1_term
    return p * inv


@_pjit
def _norm_sq(theta, g, penalised, a, l1, inv):
    total = 0.0
    for k in numba.prange(theta.shape[0]):
        x = np.float64(finished(g[k], theta[k], penalised, a, l1, inv))
        total += x * x
    return total


@_pjit
def _write_gradient(theta, g, grad, penalised, a, l1, inv):
    for k in numba.prange(theta.shape[0]):
        grad[k] = finished(g[k], theta[k], penalised, a, l1, inv)


# The update loops take slices and run prange over their whole length: a
# prange with a start offset does not vectorise (measured 9x slower).
@_pjit
def _sgd_range(theta, g, v, c, penalised):
    lr, mu, a, l1, inv = c[0], c[1], c[2], c[3], c[4]
    nesterov = c[5] != 0
    for k in numba.prange(theta.shape[0]):
        gk = finished(g[k], theta[k], penalised, a, l1, inv)
        vk = mu * v[k] - lr * gk
        v[k] = vk
        if nesterov:
            theta[k] += mu * vk - lr * gk
        else:
            theta[k] += vk


@_pjit
def _adam_range(theta, g, m, v, c, penalised):
    b1, c1, b2, c2, lr, eps, a, l1, inv, wd = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]
    for k in numba.prange(theta.shape[0]):
        th = theta[k]
        gk = finished(g[k], th, penalised, a, l1, inv)
        mk = b1 * m[k] + c1 * gk
        vk = b2 * v[k] + c2 * (gk * gk)
        m[k] = mk
        v[k] = vk
        if penalised:
            th = th - wd * th
        theta[k] = th - lr * mk / (np.sqrt(vk) + eps)


@_pjit
def _rmsprop_range(theta, g, v, c, penalised):
    rho, c2, lr, eps, a, l1, inv = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    for k in numba.prange(theta.shape[0]):
        gk = finished(g[k], theta[k], penalised, a, l1, inv)
        vk = rho * v[k] + c2 * (gk * gk)
        v[k] = vk
        theta[k] -= lr * gk / (np.sqrt(vk) + eps)


@_jit
def _scale(theta, g, n_coef, hyper, sw_sum):
    """``1 / sum w``, times the clipping factor when max_grad_norm is set."""
    inv = 1.0 / sw_sum
    max_norm = hyper[O.H_MAX_NORM]
    if max_norm > 0.0:
        c = constants(theta, (hyper[O.H_ALPHA], hyper[O.H_L1], inv))
        norm = math.sqrt(
            _norm_sq(theta[:n_coef], g[:n_coef], True, c[0], c[1], c[2])
            + _norm_sq(theta[n_coef:], g[n_coef:], False, c[0], c[1], c[2])
        )
        if norm > max_norm:
            inv *= max_norm / norm
    return inv


@_jit
def reduce_gradient(theta, parts, grad, n_coef, hyper, sw_sum):
    """Write the full (penalised, normalised, clipped) gradient to ``grad``."""
    sum_parts(parts)
    g = parts[0]
    inv = _scale(theta, g, n_coef, hyper, sw_sum)
    c = constants(theta, (hyper[O.H_ALPHA], hyper[O.H_L1], inv))
    _write_gradient(theta[:n_coef], g[:n_coef], grad[:n_coef], True, c[0], c[1], c[2])
    _write_gradient(theta[n_coef:], g[n_coef:], grad[n_coef:], False, c[0], c[1], c[2])


@_jit
def update(theta, parts, state, hyper, counters, n_coef, sw_sum):
    r"""Reduce the gradient and take one step of the solver ``hyper[H_SOLVER]``.

    SGD with (Nesterov) momentum:
    :math:`v \leftarrow \mu v - \eta g`, :math:`\theta \leftarrow \theta + v`
    (or :math:`+ \mu v - \eta g`).

    Adam (Kingma & Ba), bias correction folded into the rate, and AdamW, its
    decoupled-weight-decay variant (weights only):

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \theta \leftarrow (1 - \eta\lambda)\theta - \eta \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}
        \frac{m}{\sqrt{v} + \epsilon}

    RMSprop, with :math:`\rho = \beta_2`:
    :math:`v \leftarrow \rho v + (1-\rho) g^2`,
    :math:`\theta \leftarrow \theta - \eta g / (\sqrt v + \epsilon)`.
    """
    sum_parts(parts)
    g = parts[0]
    inv = _scale(theta, g, n_coef, hyper, sw_sum)
    solver = hyper[O.H_SOLVER]
    a, l1 = hyper[O.H_ALPHA], hyper[O.H_L1]
    if solver == O.SGD:
        c = constants(theta, (hyper[O.H_LR], hyper[O.H_MOMENTUM], a, l1, inv, hyper[O.H_NESTEROV]))
        v = state[0]
        _sgd_range(theta[:n_coef], g[:n_coef], v[:n_coef], c, True)
        _sgd_range(theta[n_coef:], g[n_coef:], v[n_coef:], c, False)
    elif solver == O.RMSPROP:
        rho = hyper[O.H_BETA2]
        c = constants(theta, (rho, 1.0 - rho, hyper[O.H_LR], hyper[O.H_EPSILON], a, l1, inv))
        v = state[1]
        _rmsprop_range(theta[:n_coef], g[:n_coef], v[:n_coef], c, True)
        _rmsprop_range(theta[n_coef:], g[n_coef:], v[n_coef:], c, False)
    else:
        counters[0] += 1
        t = counters[0]
        b1 = hyper[O.H_BETA1]
        b2 = hyper[O.H_BETA2]
        lr = hyper[O.H_LR] * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        wd = hyper[O.H_LR] * hyper[O.H_DECAY]
        c = constants(theta, (b1, 1.0 - b1, b2, 1.0 - b2, lr, hyper[O.H_EPSILON], a, l1, inv, wd))
        m, v = state[0], state[1]
        _adam_range(theta[:n_coef], g[:n_coef], m[:n_coef], v[:n_coef], c, True)
        _adam_range(theta[n_coef:], g[n_coef:], m[n_coef:], v[n_coef:], c, False)
