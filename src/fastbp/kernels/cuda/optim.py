"""Optimizer steps on the GPU, twins of :mod:`fastbp.kernels.cpu.optim`.

One thread per parameter.  The batch's sums live on the device
(``sums = [loss, weight, sum W^2, sum |W|, |g|^2]``, see
:func:`fastbp.kernels.cuda.losses.batch_sums_kernel` and
:func:`grad_norm_kernel`), so a step needs nothing from the host but the
scalar hyperparameters.  The formulas are :mod:`fastbp.optim.steps`, compiled
here as device functions (``S``), as the CPU kernels compile them.
"""

import math

from numba import cuda, float64

from fastbp import _config
from fastbp.kernels import compile_math
from fastbp.kernels.cuda.losses import block_sum
from fastbp.optim import steps

S = compile_math(steps, cuda.jit(device=True), "cuda")

_THREADS = _config.CUDA_THREADS


@cuda.jit(device=True)
def _gradient(theta, grad, k, n_coef, alpha, l1, inv):
    """Gradient of parameter ``k`` (:func:`fastbp.optim.steps.penalised_gradient`): the
    weights (``k < n_coef``) penalised, the others not."""
    if k < n_coef:
        return S.penalised_gradient(grad[k], theta[k], alpha, l1, inv)
    return grad[k] * inv


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
    gradient norm before the division by the weight sum), by a fixed-order tree reduction
    (:func:`fastbp.kernels.cuda.losses.block_sum`)."""
    acc = cuda.shared.array(_THREADS, dtype=float64)
    t = cuda.threadIdx.x
    total = 0.0
    for k in range(t, theta.shape[0], _THREADS):
        if _trains(k, lo):
            g = _gradient(theta, grad, k, n_coef, alpha, l1, 1.0)
            total += g * g
    acc[t] = total
    block_sum(acc, t)
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
def update_kernel(theta, grad, m, v, n_coef, alpha, l1, sums, max_norm, solver, lo, c, c_bias):
    r"""One step of ``solver`` for parameter ``k`` (one thread each):
    :func:`fastbp.optim.steps.step`.

    ``c`` is :func:`fastbp.optim.steps.solver_constants` in the parameters'
    dtype, ``c_bias`` the same with no decay (for every parameter but the
    weights).  Tuples, not arrays, so a step copies nothing to the device.
    Parameters of frozen layers (outside ``lo``, see :func:`_trains`) are left
    as they are.
    """
    k = cuda.grid(1)
    if k < theta.shape[0] and _trains(k, lo):
        g = _gradient(theta, grad, k, n_coef, alpha, l1, _scale(sums, max_norm))
        S.step(theta, m, v, k, g, theta[k], solver, c if k < n_coef else c_bias)
