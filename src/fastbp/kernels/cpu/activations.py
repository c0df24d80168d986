"""Activations over a block of rows, compiled for the CPU.

The scalar functions come from :mod:`fastbp.nn.activations`; here they are
inlined into loops.  ``scalar`` and ``scalar_grad`` pick a function by its
integer code; the code is the same for every element, so LLVM hoists the
choice out of the loops (loop unswitching) and each loop body stays
branch-free.
"""

import math

import numba

from fastbp import _config
from fastbp.nn import activations as act

_inline = numba.njit(inline="always", **_config.JIT_OPTIONS)
_jit = numba.njit(**_config.JIT_OPTIONS)

logistic = _inline(act.logistic)
tanh = _inline(act.tanh)
relu = _inline(act.relu)
leaky_relu = _inline(act.leaky_relu)
elu = _inline(act.elu)
gelu = _inline(act.gelu)
silu = _inline(act.silu)
softplus = _inline(act.softplus)
logistic_grad = _inline(act.logistic_grad)
tanh_grad = _inline(act.tanh_grad)
relu_grad = _inline(act.relu_grad)
leaky_relu_grad = _inline(act.leaky_relu_grad)
elu_grad = _inline(act.elu_grad)
gelu_grad = _inline(act.gelu_grad)
silu_grad = _inline(act.silu_grad)
softplus_grad = _inline(act.softplus_grad)


@_inline
def scalar(z, code):
    """The activation of code ``code`` (not softmax) at ``z``."""
    if code == act.RELU:
        return relu(z)
    if code == act.TANH:
        return tanh(z)
    if code == act.LOGISTIC:
        return logistic(z)
    if code == act.EXP:
        return math.exp(z)
    if code == act.LEAKY_RELU:
        return leaky_relu(z)
    if code == act.ELU:
        return elu(z)
    if code == act.GELU:
        return gelu(z)
    if code == act.SILU:
        return silu(z)
    if code == act.SOFTPLUS:
        return softplus(z)
    return z


@_inline
def scalar_grad(a, z, code):
    """Derivative of the activation of code ``code`` given output ``a`` and input ``z``."""
    if code == act.RELU:
        return relu_grad(a, z)
    if code == act.TANH:
        return tanh_grad(a, z)
    if code == act.LOGISTIC:
        return logistic_grad(a, z)
    if code == act.LEAKY_RELU:
        return leaky_relu_grad(a, z)
    if code == act.ELU:
        return elu_grad(a, z)
    if code == act.GELU:
        return gelu_grad(a, z)
    if code == act.SILU:
        return silu_grad(a, z)
    if code == act.SOFTPLUS:
        return softplus_grad(a, z)
    return 1.0


@_jit
def needs_z(code):
    """True when the derivative of activation ``code`` needs the pre-activation."""
    return code == act.GELU or code == act.SILU


@_jit
def bias_activate(Z, b, code, pre):
    r"""Add the bias to every row of ``Z`` and apply the activation in place.

    .. math:: Z_{ij} \leftarrow f(Z_{ij} + b_j)

    For ``SOFTMAX`` each row becomes :math:`e^{z_j - \max z} / \sum_k e^{z_k - \max z}`.
    Where the derivative needs it (:func:`needs_z`), the pre-activation
    :math:`Z_{ij} + b_j` is also written to ``pre`` (same shape as ``Z``).
    """
    n, m = Z.shape
    if code == act.SOFTMAX:
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
    elif needs_z(code):
        for i in range(n):
            for j in range(m):
                z = Z[i, j] + b[j]
                pre[i, j] = z
                Z[i, j] = scalar(z, code)
    else:
        for i in range(n):
            for j in range(m):
                Z[i, j] = scalar(Z[i, j] + b[j], code)


@_jit
def multiply_grad(A, pre, D, code):
    r"""Multiply the back-propagated error by the activation's derivative.

    .. math:: D_{ij} \leftarrow D_{ij} \, f'(A_{ij}, Z_{ij})

    where ``A`` holds the layer's outputs :math:`a = f(z)` and ``pre`` the
    pre-activations (read only where :func:`needs_z`).
    """
    n, m = A.shape
    if code == act.IDENTITY:
        return
    if needs_z(code):
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * scalar_grad(A[i, j], pre[i, j], code)
    else:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * scalar_grad(A[i, j], A[i, j], code)
