"""Activations over a block of rows, compiled for the CPU.

The scalar functions come from :mod:`fastbp.nn.activations` (``acts``, compiled
by :func:`fastbp.kernels.compile_math`); here they are inlined into loops.
The activation is picked by its integer code once per block, outside the
loops, which are written out for each function: every loop body is
branch-free and vectorises (a code test per element measured 2.4x
slower on W2, and handing the scalar function to a generic loop as an
argument defeats Numba's disk cache).
"""

import math

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from fastbp.kernels import compile_math
from fastbp.kernels.cpu._jit import inline, kernel
from fastbp.nn import activations as act

acts = compile_math(act, inline, "cpu")


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE-754 bits are the int32 ``bits`` (a bitcast, which vectorises)."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


def vexp(x):
    """:math:`e^x`, in a form LLVM vectorises for float32 (see the overload below)."""
    return math.exp(x)


@overload(vexp)  # not cached on its own: the cached entries hold it
def _vexp(x):
    """float32: Cody-Waite reduction :math:`x = n \\ln 2 + r`, :math:`|r| \\le \\ln 2 / 2`, a
    degree-7 Taylor polynomial of :math:`e^r` (truncation below 5.3e-9) and
    :math:`2^n` built from its exponent bits (``math.floor`` gives an integer
    ``n``, so the reduction and the polynomial run in float64 lanes, which
    still vectorise; the result is float32).  Within 0.59 ulp of the exact
    value over [-87.3, 88] (NumPy's float32 ``exp``: 2.4 ulp; tested), and 0
    where the result would be denormal (below 1.2e-38, x < -87.3365).  Numba
    has no vector ``exp`` without Intel's SVML, and one ``expf`` call per
    element made W2's ``predict_proba`` (softmax output, ~32 ms) 1.1-2.3 ms
    slower than the same network's identity output; with this, -0.1-1.0 ms
    (three alternating processes each, AMD EPYC).  float64 keeps ``math.exp``.
    """
    if x != types.float32:
        return lambda x: math.exp(x)

    def impl(x):
        xc = min(max(x, np.float32(-87.33654)), np.float32(88.3))
        n = math.floor(xc * np.float32(1.44269504) + np.float32(0.5))
        r = xc - n * np.float32(0.693359375) + n * np.float32(2.12194440e-4)
        p = np.float32(1.0 / 5040.0)
        p = p * r + np.float32(1.0 / 720.0)
        p = p * r + np.float32(1.0 / 120.0)
        p = p * r + np.float32(1.0 / 24.0)
        p = p * r + np.float32(1.0 / 6.0)
        p = p * r + np.float32(0.5)
        p = p * r + np.float32(1.0)
        p = p * r + np.float32(1.0)
        scale = _float32_from_bits(np.int32((np.int64(n) + 127) << 23))
        return p * scale if x >= np.float32(-87.33654) else np.float32(0.0)

    return impl


@kernel
def needs_z(code):
    """True when the derivative of activation ``code`` needs the pre-activation."""
    return code == act.GELU or code == act.SILU


@kernel
def bias_activate(Z, b, code, pre):
    r"""Add the bias to every row of ``Z`` and apply the activation in place.

    .. math:: Z_{ij} \leftarrow f(Z_{ij} + b_j)

    For ``SOFTMAX`` each row becomes :math:`e^{z_j - \max z} / \sum_k e^{z_k - \max z}`.
    scikit-learn's activations and the output activations; any other code
    adds the bias only (the extra activations are :func:`bias_activate_extra`'s).
    """
    n, m = Z.shape
    if code == act.SOFTMAX:
        for i in range(n):
            zmax = Z[i, 0] + b[0]
            for j in range(m):
                Z[i, j] = Z[i, j] + b[j]
                if Z[i, j] > zmax:
                    zmax = Z[i, j]
            for j in range(m):
                Z[i, j] = Z[i, j] - zmax
        flat = Z.reshape(n * m)  # one loop over the whole block: vexp vectorises across rows
        for k in range(n * m):
            flat[k] = vexp(flat[k])
        for i in range(n):
            total = 0.0
            for j in range(m):
                total += Z[i, j]
            for j in range(m):
                Z[i, j] = Z[i, j] / total
    elif code == act.RELU:
        for i in range(n):
            for j in range(m):
                Z[i, j] = acts.relu(Z[i, j] + b[j])
    elif code == act.TANH:
        for i in range(n):
            for j in range(m):
                Z[i, j] = acts.tanh(Z[i, j] + b[j])
    elif code == act.LOGISTIC:
        for i in range(n):
            for j in range(m):
                Z[i, j] = acts.logistic(Z[i, j] + b[j])
    elif code == act.EXP:
        for i in range(n):
            for j in range(m):
                Z[i, j] = math.exp(Z[i, j] + b[j])
    else:
        for i in range(n):
            for j in range(m):
                Z[i, j] = Z[i, j] + b[j]


@kernel
def multiply_grad(A, pre, D, code):
    r"""Multiply the back-propagated error by the activation's derivative.

    .. math:: D_{ij} \leftarrow D_{ij} \, f'(A_{ij}, Z_{ij})

    where ``A`` holds the layer's outputs :math:`a = f(z)` and ``pre`` the
    pre-activations (read only where :func:`needs_z`).
    """
    n, m = A.shape
    if code == act.RELU:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.relu_grad(A[i, j], pre[i, j])
    elif code == act.TANH:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.tanh_grad(A[i, j], pre[i, j])
    elif code == act.LOGISTIC:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.logistic_grad(A[i, j], pre[i, j])


@kernel
def bias_activate_extra(Z, b, code, pre):
    r""":func:`bias_activate` for fastbp's extra hidden activations (codes from
    ``FIRST_EXTRA``: leaky ReLU, ELU, softplus, GELU, SiLU).

    Where the derivative needs it (:func:`needs_z`), the pre-activation
    :math:`Z_{ij} + b_j` is also written to ``pre`` (same shape as ``Z``).
    Kept apart so that a fit which uses none of them never compiles their
    loops (see :class:`fastbp.kernels.cpu.dense.Net`).
    """
    n, m = Z.shape
    if code == act.LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                Z[i, j] = acts.leaky_relu(Z[i, j] + b[j])
    elif code == act.ELU:
        for i in range(n):
            for j in range(m):
                Z[i, j] = acts.elu(Z[i, j] + b[j])
    elif code == act.SOFTPLUS:
        for i in range(n):
            for j in range(m):
                Z[i, j] = acts.softplus(Z[i, j] + b[j])
    elif code == act.GELU:
        for i in range(n):
            for j in range(m):
                z = Z[i, j] + b[j]
                pre[i, j] = z
                Z[i, j] = acts.gelu(z)
    elif code == act.SILU:
        for i in range(n):
            for j in range(m):
                z = Z[i, j] + b[j]
                pre[i, j] = z
                Z[i, j] = acts.silu(z)


@kernel
def multiply_grad_extra(A, pre, D, code):
    """:func:`multiply_grad` for the extra hidden activations (see :func:`bias_activate_extra`)."""
    n, m = A.shape
    if code == act.LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.leaky_relu_grad(A[i, j], pre[i, j])
    elif code == act.ELU:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.elu_grad(A[i, j], pre[i, j])
    elif code == act.SOFTPLUS:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.softplus_grad(A[i, j], pre[i, j])
    elif code == act.GELU:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.gelu_grad(A[i, j], pre[i, j])
    elif code == act.SILU:
        for i in range(n):
            for j in range(m):
                D[i, j] = D[i, j] * acts.silu_grad(A[i, j], pre[i, j])
