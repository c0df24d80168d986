"""Gradient reduction and optimizer steps over the flat parameter buffer, CPU.

Each thread of the block pass leaves its raw gradient in one row of
``parts`` (``(n_threads, n_params)``).  The kernels here reduce those rows in
a fixed order (deterministic, no atomics), add the penalties, divide by the
batch's weight sum, optionally clip the global gradient norm and, for the
stochastic solvers, apply the update in the same parallel loop over
parameters.  The update arithmetic runs in the parameters' dtype (float32
stays float32, and vectorises twice as wide).

The formulas (the penalised gradient, each solver's step, the per-step
constants) are :mod:`fastbp.optim.steps`, compiled here as inline functions
(``S``); the GPU's kernels compile the same ones.

Hyperparameters arrive in one float64 array ``hyper`` indexed by the constants
of :mod:`fastbp.optim`; optimizer state (velocity, or the moments) is a
``(2, n_params)`` array in the parameter dtype, and ``counters[0]`` is Adam's
step count.
"""

import math

import numba
import numpy as np

from fastbp import optim as O
from fastbp.kernels import compile_math
from fastbp.kernels.cpu._jit import inline, kernel, parallel_kernel
from fastbp.optim import steps

S = compile_math(steps, inline, "cpu")


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


@parallel_kernel
def _norm_sq(theta, g, a, l1, inv):
    total = 0.0
    for k in numba.prange(theta.shape[0]):
        x = np.float64(S.penalised_gradient(g[k], theta[k], a, l1, inv))
        total += x * x
    return total


@parallel_kernel
def _write_gradient(theta, g, grad, a, l1, inv):
    for k in numba.prange(theta.shape[0]):
        grad[k] = S.penalised_gradient(g[k], theta[k], a, l1, inv)


# The update loops take slices and run prange over their whole length: a prange with a
# start offset does not vectorise (measured 9x slower).  One loop body serves every
# solver (the solver test is loop-invariant, LLVM unswitches it into one vectorised loop
# per solver); the second part enters with a weight of 0 or 1 instead of through a test,
# which would double those loops (each one more for Numba to compile).  Weights and
# biases take separate calls of the loop, with their own constants: with the penalty
# constants selected per element the loop stopped vectorising (measured 3-4x slower).
@parallel_kernel
def _step_range(theta, g0, g1, m, v, pen, c, solver):
    """Step every parameter of the slice from the raw gradient ``g0 + pen[3] * g1`` (``pen[3]``
    1: two threads' parts, reduced in this same pass; 0: ``g0`` alone), penalised with
    ``pen[:3] = (alpha, l1, inv)``; ``c``: :func:`fastbp.optim.steps.solver_constants`."""
    a, l1, inv, w1 = pen[0], pen[1], pen[2], pen[3]
    for k in numba.prange(theta.shape[0]):
        th = theta[k]
        S.step(theta, m, v, k, S.penalised_gradient(g0[k] + w1 * g1[k], th, a, l1, inv), th, solver, c)


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

    The steps are :func:`fastbp.optim.steps.sgd`, :func:`~fastbp.optim.steps.rmsprop` and
    :func:`~fastbp.optim.steps.adam` (Adam and AdamW; AdamW's decay on weights only).
    """
    # Two threads' parts are reduced inside the step; more are summed into parts[0] first.
    n_parts = parts.shape[0]
    if n_parts > 2:
        sum_parts(parts)
    solver = np.int64(hyper[O.H_SOLVER])
    if solver != O.SGD and solver != O.RMSPROP:
        counters[0] += 1  # Adam's step count
    c = constants(theta, S.solver_constants(hyper, counters[0]))
    w1 = 1.0 if n_parts == 2 else 0.0  # the weight of the second part
    pen = constants(theta, (hyper[O.H_ALPHA], hyper[O.H_L1], inv, w1))
    m, v = state[0], state[1]
    g0, g1 = parts[0], parts[1 if n_parts == 2 else 0]
    w_lo, n_coef, b_lo, base, g_lo = trainable[1], trainable[2], trainable[3], trainable[4], trainable[5]
    _step_range(theta[w_lo:n_coef], g0[w_lo:n_coef], g1[w_lo:n_coef], m[w_lo:n_coef], v[w_lo:n_coef], pen, c, solver)
    pen[0] = 0.0  # the biases: no penalty, no decay
    pen[1] = 0.0
    c[steps.DECAY] = 0.0
    # The biases in a parallel loop too: the same loop on one thread did not vectorise and
    # reference-counted the arrays per element (35 ns per bias, against ~1.5 us per region).
    # With no batch-normalisation parameter frozen, biases and those parameters are one range.
    top = theta.shape[0] if g_lo == base else base
    _step_range(theta[b_lo:top], g0[b_lo:top], g1[b_lo:top], m[b_lo:top], v[b_lo:top], pen, c, solver)
    if g_lo != base:
        _step_range(theta[g_lo:], g0[g_lo:], g1[g_lo:], m[g_lo:], v[g_lo:], pen, c, solver)
