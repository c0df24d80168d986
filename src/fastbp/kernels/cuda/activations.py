"""Activations over a block of rows, CUDA twins of :mod:`fastbp.kernels.cpu.activations`."""

import math

from numba import cuda

from fastbp.nn import activations as act

_device = cuda.jit(device=True)

relu = _device(act.relu)
tanh = _device(act.tanh)
logistic = _device(act.logistic)
relu_grad = _device(act.relu_grad)
tanh_grad = _device(act.tanh_grad)
logistic_grad = _device(act.logistic_grad)


@cuda.jit
def bias_activate_kernel(Z, b, code):
    r"""``Z[i, j] = f(Z[i, j] + b[j])`` for every element; one thread per element.

    Softmax is row-wise: see :func:`softmax_kernel`.
    """
    k = cuda.grid(1)
    n, m = Z.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        z = Z[i, j] + b[j]
        if code == act.RELU:
            z = relu(z)
        elif code == act.TANH:
            z = tanh(z)
        elif code == act.LOGISTIC:
            z = logistic(z)
        elif code == act.EXP:
            z = math.exp(z)
        Z[i, j] = z


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
def multiply_grad_kernel(A, D, code):
    r"""``D[i, j] *= f'(A[i, j])``; one thread per element."""
    k = cuda.grid(1)
    n, m = A.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        a = A[i, j]
        if code == act.RELU:
            D[i, j] = D[i, j] * relu_grad(a)
        elif code == act.TANH:
            D[i, j] = D[i, j] * tanh_grad(a)
        elif code == act.LOGISTIC:
            D[i, j] = D[i, j] * logistic_grad(a)
