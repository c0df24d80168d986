"""Activations over a block of rows, CUDA twins of :mod:`fastbp.kernels.cpu.activations`.

One thread per element, which picks the activation by its code
(:func:`fastbp.nn.activations.activation` and its derivative, compiled here as
device functions, ``acts``).
"""

import math

from numba import cuda

from fastbp.kernels import compile_math
from fastbp.nn import activations as act
from fastbp.nn import dropout as dropout_math

_device = cuda.jit(device=True)

acts = compile_math(act, _device, "cuda")
masks = compile_math(dropout_math, _device, "cuda")


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
        Z[i, j] = acts.activation(z, code)


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
def dropout_kernel(A, rows, seed, step, layer, rate):
    r"""Inverted dropout, twin of :func:`fastbp.kernels.cpu.dense.apply_dropout`: the same hash, the same masks."""
    k = cuda.grid(1)
    n, m = A.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        if masks.keep(masks.row_key(seed, step, rows[i]), layer, j, masks.threshold(rate)):
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
        if masks.keep(masks.row_key(seed, step, rows[i]), layer, j, masks.threshold(rate)):
            kept = 1.0 - rate
            a = A[i, j] * kept
            z = pre[i, j] if use_pre else a
            D[i, j] = D[i, j] * acts.activation_grad(a, z, code) * (1.0 / kept)
        else:
            D[i, j] = 0.0
