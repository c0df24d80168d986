"""Activations over a block of rows, CUDA twins of :mod:`fastbp.kernels.cpu.activations`."""

import math

from numba import cuda

from fastbp.nn import activations as act
from fastbp.nn import dropout as dropout_math

_device = cuda.jit(device=True)

relu = _device(act.relu)
tanh = _device(act.tanh)
logistic = _device(act.logistic)
leaky_relu = _device(act.leaky_relu)
elu = _device(act.elu)
gelu = _device(act.gelu)
silu = _device(act.silu)
softplus = _device(act.softplus)
relu_grad = _device(act.relu_grad)
tanh_grad = _device(act.tanh_grad)
logistic_grad = _device(act.logistic_grad)
leaky_relu_grad = _device(act.leaky_relu_grad)
elu_grad = _device(act.elu_grad)
gelu_grad = _device(act.gelu_grad)
silu_grad = _device(act.silu_grad)
softplus_grad = _device(act.softplus_grad)
threshold = _device(dropout_math.threshold)
row_key = _device(dropout_math.row_key)
keep = _device(dropout_math.keep)


@cuda.jit(device=True)
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


@cuda.jit(device=True)
def scalar_grad(a, z, code):
    """Derivative of activation ``code`` given output ``a`` and input ``z``."""
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


@cuda.jit
def bias_activate_kernel(Z, b, code, pre, keep_pre):
    r"""``Z[i, j] = f(Z[i, j] + b[j])``, one thread per element; with ``keep_pre``
    the pre-activation goes to ``pre`` too.  Softmax: :func:`softmax_kernel`."""
    k = cuda.grid(1)
    n, m = Z.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        z = Z[i, j] + b[j]
        if keep_pre:
            pre[i, j] = z
        Z[i, j] = scalar(z, code)


@cuda.jit
def softmax_kernel(Z, b):
    r"""Row-wise softmax of ``Z + b``; one thread per row."""
    i = cuda.grid(1)
    n, m = Z.shape
    if i < n:
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


@cuda.jit
def multiply_grad_kernel(A, pre, D, code, use_pre):
    r"""``D[i, j] *= f'(A[i, j], Z[i, j])``; one thread per element."""
    k = cuda.grid(1)
    n, m = A.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        a = A[i, j]
        z = pre[i, j] if use_pre else a
        D[i, j] = D[i, j] * scalar_grad(a, z, code)


@cuda.jit
def dropout_kernel(A, rows, seed, step, layer, rate):
    r"""Inverted dropout, twin of :func:`fastbp.kernels.cpu.dense.apply_dropout`: the same hash, the same masks."""
    k = cuda.grid(1)
    n, m = A.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        if keep(row_key(seed, step, rows[i]), layer, j, threshold(rate)):
            A[i, j] = A[i, j] * (1.0 / (1.0 - rate))
        else:
            A[i, j] = 0.0


@cuda.jit
def dropout_grad_kernel(A, pre, D, code, use_pre, rows, seed, step, layer, rate):
    r"""Derivative through activation and dropout: :math:`D \leftarrow D f'(A (1-p)) m / (1-p)`,
    what the CPU's backward pass does in three vectorised passes."""
    k = cuda.grid(1)
    n, m = A.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        if keep(row_key(seed, step, rows[i]), layer, j, threshold(rate)):
            kept = 1.0 - rate
            a = A[i, j] * kept
            z = pre[i, j] if use_pre else a
            D[i, j] = D[i, j] * scalar_grad(a, z, code) * (1.0 / kept)
        else:
            D[i, j] = 0.0
