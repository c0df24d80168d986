"""Activations over a block of rows, compiled for the CPU.

The scalar functions come from :mod:`fastbp.nn.activations`; here they are
inlined into loops.  The activation is chosen by an integer code outside the
loops, so each loop body is branch-free.
"""

import math

import numba

from fastbp import _config
from fastbp.nn import activations as act

_inline = numba.njit(inline="always", **_config.JIT_OPTIONS)
_jit = numba.njit(**_config.JIT_OPTIONS)

identity = _inline(act.identity)
logistic = _inline(act.logistic)
tanh = _inline(act.tanh)
relu = _inline(act.relu)
logistic_grad = _inline(act.logistic_grad)
tanh_grad = _inline(act.tanh_grad)
relu_grad = _inline(act.relu_grad)


@_jit
def bias_activate(Z, b, code):
    r"""Add the bias to every row of ``Z`` and apply the activation in place.

    .. math:: Z_{ij} \leftarrow f(Z_{ij} + b_j)

    For ``SOFTMAX`` each row becomes :math:`e^{z_j - \max z} / \sum_k e^{z_k - \max z}`.

    Parameters
    ----------
    Z : ndarray of shape (n_rows, n_units)
        Pre-activations without bias; overwritten with the activations.
    b : ndarray of shape (n_units,)
        Bias.
    code : int
        Activation code from :mod:`fastbp.nn.activations`.
    """
    n, m = Z.shape
    if code == act.IDENTITY:
        for i in range(n):
            for j in range(m):
                Z[i, j] = Z[i, j] + b[j]
    elif code == act.RELU:
        for i in range(n):
            for j in range(m):
                Z[i, j] = relu(Z[i, j] + b[j])
    elif code == act.TANH:
        for i in range(n):
            for j in range(m):
                Z[i, j] = tanh(Z[i, j] + b[j])
    elif code == act.LOGISTIC:
        for i in range(n):
            for j in range(m):
                Z[i, j] = logistic(Z[i, j] + b[j])
    elif code == act.EXP:
        for i in range(n):
            for j in range(m):
                Z[i, j] = math.exp(Z[i, j] + b[j])
    else:  # SOFTMAX
        for i in range(n):
            zmax = Z[i, 0] + b[0]
            for j in range(m):
                Z[i, j] = Z[i, j] + b[j]
                if Z[i, j] > zmax:
                    zmax = Z[i, j]
            total = 0.0
            for j in range(m):
                Z[i, j] = math.exp(Z[i, j] - zmax)
                total += Z[i, j]
            for j in range(m):
                Z[i, j] = Z[i, j] / total


@_jit
def multiply_grad(A, D, code):
    r"""Multiply the back-propagated error by the activation's derivative.

    .. math:: D_{ij} \leftarrow D_{ij} \, f'(A_{ij})

    where ``A`` holds the layer's outputs :math:`a = f(z)`.
    """
    n, m = A.shape
    if code == act.RELU:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * relu_grad(A[i, j])
    elif code == act.TANH:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * tanh_grad(A[i, j])
    elif code == act.LOGISTIC:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * logistic_grad(A[i, j])
