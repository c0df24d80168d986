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

from fastbp import optim as O
from fastbp.kernels.cpu._jit import inline, kernel, parallel_kernel


@kernel
def constants(theta, values):
    """``values`` (float64) cast to the parameters' dtype, so the update loops stay in it."""
    return np.asarray(values).astype(theta.dtype)


@kernel
def thread_norms(t, theta, net, sums):
    r"""Thread ``t``'s share of :math:`\sum_k \theta_k^2` and :math:`\sum_k |\theta_k|` over
    the weights (the first ``net.b_off[0]`` entries of ``theta``), in float64, into ``sums[t, 2:4]``.

    Each thread of a pass sums its own block of the weights inside the pass's
    parallel region, so the penalty's norms cost no parallel region (nor
    compilation) of their own, and their order is fixed by the thread count.
    (Summed in the step's parallel loop instead, the reductions keep LLVM from
    unswitching that loop on the solver code, and the step does not
    vectorise: 28 against 13 us per W4 step on one thread.)
    """
    n_threads = sums.shape[0]
    n_coef = net.b_off[0]
    part = theta[t * n_coef // n_threads : (t + 1) * n_coef // n_threads]
    sq = 0.0
    ab = 0.0
    for k in range(part.shape[0]):
        x = np.float64(part[k])
        sq += x * x
        ab += abs(x)
    sums[t, 2] = sq
    sums[t, 3] = ab


@parallel_kernel
def _add(total, part):
    for k in numba.prange(total.shape[0]):
        total[k] += part[k]


@kernel
def sum_parts(parts):
    r"""``parts[0] += parts[1] + parts[2] + ...``, in thread order."""
    for t in range(1, parts.shape[0]):
        _add(parts[0], parts[t])


# Weights and biases run through the same loops; the biases' penalty
# constants (alpha, l1, AdamW's decay) are 0, which leaves their values
# unchanged bit for bit (p + 0 th + 0 = p).  A literal True/False flag instead
# would compile every loop twice, once per literal (measured 0.4 s cold).
@inline
def finished(p, th, a, l1, inv):
    """The gradient of one parameter from its raw sum ``p`` (see the module docstring)."""
    l1_term = l1 if th > 0 else (-l1 if th < 0 else l1 - l1)  # (l1 * 0 is float64: it widened the loop)
    return (p + a * th + l1_term) * inv


@parallel_kernel
def _norm_sq(theta, g, a, l1, inv):
    total = 0.0
    for k in numba.prange(theta.shape[0]):
        x = np.float64(finished(g[k], theta[k], a, l1, inv))
        total += x * x
    return total


@parallel_kernel
def _write_gradient(theta, g, grad, a, l1, inv):
    for k in numba.prange(theta.shape[0]):
        grad[k] = finished(g[k], theta[k], a, l1, inv)


# The update loops take slices and run prange over their whole length: a prange with a
# start offset does not vectorise (measured 9x slower).  One loop body serves every
# solver (the solver test is loop-invariant, LLVM unswitches it into one vectorised loop
# per solver); the second part enters with a weight of 0 or 1 instead of through a test,
# which would double those loops (each one more for Numba to compile).  Weights and
# biases take separate calls of the loop, with their own constants: with the penalty
# constants selected per element the loop stopped vectorising (measured 3-4x slower).
@inline
def _step_one(theta, m, v, k, gk, th, c, solver):
    """Update parameter ``k`` from its finished gradient ``gk`` (constants ``c``, see :func:`update`)."""
    lr = c[3]
    c4, c5, c6, c7, c8, c9 = c[4], c[5], c[6], c[7], c[8], c[9]
    if solver == O.SGD:  # c4 momentum, c5 nesterov
        vk = c4 * m[k] - lr * gk
        m[k] = vk
        theta[k] = th + (c4 * vk - lr * gk if c5 != 0 else vk)
    elif solver == O.RMSPROP:  # c4 rho, c5 1 - rho, c6 epsilon
        vk = c4 * v[k] + c5 * (gk * gk)
        v[k] = vk
        theta[k] = th - lr * gk / (np.sqrt(vk) + c6)
    else:  # Adam / AdamW: c4 beta1, c5 1 - beta1, c6 beta2, c7 1 - beta2, c8 epsilon, c9 decay
        mk = c4 * m[k] + c5 * gk
        vk = c6 * v[k] + c7 * (gk * gk)
        m[k] = mk
        v[k] = vk
        th = th - c9 * th
        theta[k] = th - lr * mk / (np.sqrt(vk) + c8)


@parallel_kernel
def _step_range(theta, g0, g1, m, v, c, solver):
    """Step every parameter of the slice from the raw gradient ``g0 + c[10] * g1`` (``c[10]``
    1: two threads' parts, reduced in this same pass; 0: ``g0`` alone)."""
    w1 = c[10]
    for k in numba.prange(theta.shape[0]):
        th = theta[k]
        _step_one(theta, m, v, k, finished(g0[k] + w1 * g1[k], th, c[0], c[1], c[2]), th, c, solver)


# Which parameters train: ``trainable = [frozen layers, w_lo, n_coef, b_lo, base_size, g_lo]``
# (``Net.trainable``).  The weights that train are ``[w_lo, n_coef)`` (penalised), the
# biases ``[b_lo, base_size)`` and the batch-normalisation scales and shifts
# ``[g_lo, size)`` (not penalised): the layers frozen from the input side are a prefix
# of each block.  Nothing frozen: ``w_lo = 0``, ``b_lo = n_coef``, ``g_lo = base_size``.


@kernel
def clip_factor(theta, g, trainable, hyper, inv):
    r"""``inv`` times the clipping factor :math:`\min(1, \text{max\_grad\_norm} / \lVert g \rVert)`
    of the (reduced) gradient ``g`` of the parameters that train."""
    w_lo, n_coef, b_lo, base, g_lo = trainable[1], trainable[2], trainable[3], trainable[4], trainable[5]
    c = constants(theta, (hyper[O.H_ALPHA], hyper[O.H_L1], inv, 0.0))
    norm = math.sqrt(
        _norm_sq(theta[w_lo:n_coef], g[w_lo:n_coef], c[0], c[1], c[2])
        + _norm_sq(theta[b_lo:base], g[b_lo:base], c[3], c[3], c[2])  # biases: no penalty
        + _norm_sq(theta[g_lo:], g[g_lo:], c[3], c[3], c[2])
    )
    max_norm = hyper[O.H_MAX_NORM]
    return inv * (max_norm / norm) if norm > max_norm else inv


@kernel
def reduce_gradient(theta, parts, grad, trainable, hyper, sw_sum):
    """Write the full (penalised, normalised, clipped) gradient to ``grad``: 0 for the
    parameters of frozen layers."""
    sum_parts(parts)
    g = parts[0]
    inv = 1.0 / sw_sum
    if hyper[O.H_MAX_NORM] > 0.0:
        inv = clip_factor(theta, g, trainable, hyper, inv)
    w_lo, n_coef, b_lo, base, g_lo = trainable[1], trainable[2], trainable[3], trainable[4], trainable[5]
    c = constants(theta, (hyper[O.H_ALPHA], hyper[O.H_L1], inv, 0.0))
    grad[:w_lo] = 0.0
    grad[n_coef:b_lo] = 0.0
    grad[base:g_lo] = 0.0
    _write_gradient(theta[w_lo:n_coef], g[w_lo:n_coef], grad[w_lo:n_coef], c[0], c[1], c[2])
    _write_gradient(theta[b_lo:base], g[b_lo:base], grad[b_lo:base], c[3], c[3], c[2])  # no penalty
    _write_gradient(theta[g_lo:], g[g_lo:], grad[g_lo:], c[3], c[3], c[2])


@kernel
def update(theta, parts, state, hyper, counters, trainable, inv):
    r"""Reduce the gradient and take one step of the solver ``hyper[H_SOLVER]``.

    The gradient is the threads' ``parts`` summed, penalised and multiplied by
    ``inv`` (``1 / sum w``, times the clipping factor where there is one).
    Only the parameters that train (``trainable``, see above) are read and
    stepped: those of frozen layers keep their values and moments bit for bit.

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
    # Two threads' parts are reduced inside the step; more are summed into parts[0] first.
    n_parts = parts.shape[0]
    if n_parts > 2:
        sum_parts(parts)
    solver = np.int64(hyper[O.H_SOLVER])
    lr = hyper[O.H_LR]
    if solver == O.SGD:
        extra = (hyper[O.H_MOMENTUM], hyper[O.H_NESTEROV], 0.0, 0.0, 0.0, 0.0)
    elif solver == O.RMSPROP:
        rho = hyper[O.H_BETA2]
        extra = (rho, 1.0 - rho, hyper[O.H_EPSILON], 0.0, 0.0, 0.0)
    else:
        counters[0] += 1
        t = counters[0]
        b1 = hyper[O.H_BETA1]
        b2 = hyper[O.H_BETA2]
        decay = lr * hyper[O.H_DECAY]
        lr = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        extra = (b1, 1.0 - b1, b2, 1.0 - b2, hyper[O.H_EPSILON], decay)
    w1 = 1.0 if n_parts == 2 else 0.0  # the weight of the second part
    c = constants(theta, (hyper[O.H_ALPHA], hyper[O.H_L1], inv, lr) + extra + (w1,))
    m, v = state[0], state[1]
    g0, g1 = parts[0], parts[1 if n_parts == 2 else 0]
    w_lo, n_coef, b_lo, base, g_lo = trainable[1], trainable[2], trainable[3], trainable[4], trainable[5]
    _step_range(theta[w_lo:n_coef], g0[w_lo:n_coef], g1[w_lo:n_coef], m[w_lo:n_coef], v[w_lo:n_coef], c, solver)
    c[0] = 0.0  # the biases: no penalty, no decay
    c[1] = 0.0
    c[9] = 0.0
    # The biases in a parallel loop too: the same loop on one thread did not vectorise and
    # reference-counted the arrays per element (35 ns per bias, against ~1.5 us per region).
    # With no batch-normalisation parameter frozen, biases and those parameters are one range.
    top = theta.shape[0] if g_lo == base else base
    _step_range(theta[b_lo:top], g0[b_lo:top], g1[b_lo:top], m[b_lo:top], v[b_lo:top], c, solver)
    if g_lo != base:
        _step_range(theta[g_lo:], g0[g_lo:], g1[g_lo:], m[g_lo:], v[g_lo:], c, solver)
