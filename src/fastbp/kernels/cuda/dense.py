"""Dense layers on the GPU, twins of :mod:`fastbp.kernels.cpu.dense`.

One shared-memory tiled matrix product serves the three products of
backpropagation through its ``trans_a`` / ``trans_b`` flags, and gathers the
mini-batch rows of X through ``rows`` (no gathered copy of X is made).
"""

import numpy as np
from numba import cuda, float32, float64

from fastbp import _config

_TILE = _config.CUDA_TILE


@cuda.jit(device=True)
def _load_a(A, rows, use_rows, trans_a, i, k, M, K):
    # op(A)[i, k], 0 outside the matrix; with rows, A is X and row r of op(A) is X[rows[r]].
    if i >= M or k >= K:
        return 0.0
    if trans_a:
        r = rows[k] if use_rows else k
        return A[r, i]
    r = rows[i] if use_rows else i
    return A[r, k]


def _build_matmul(tile_type):
    @cuda.jit
    def matmul_kernel(A, B, C, rows, use_rows, trans_a, trans_b):
        r"""``C = op(A) @ op(B)`` with shared-memory tiles of ``CUDA_TILE`` squared.

        ``op(A)`` is ``A``, ``A.T``, ``A[rows]`` or ``A[rows].T``; ``op(B)`` is
        ``B`` or ``B.T``.  Launch a 2-D grid of ``(CUDA_TILE, CUDA_TILE)``
        blocks covering ``C``.
        """
        sa = cuda.shared.array((_TILE, _TILE), dtype=tile_type)
        sb = cuda.shared.array((_TILE, _TILE), dtype=tile_type)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        i = cuda.blockIdx.y * _TILE + ty
        j = cuda.blockIdx.x * _TILE + tx
        M, N = C.shape
        K = B.shape[1] if trans_b else B.shape[0]
        acc = tile_type(0.0)
        for k0 in range(0, K, _TILE):
            sa[ty, tx] = _load_a(A, rows, use_rows, trans_a, i, k0 + tx, M, K)
            kb = k0 + ty
            if kb < K and j < N:
                sb[ty, tx] = B[j, kb] if trans_b else B[kb, j]
            else:
                sb[ty, tx] = 0.0
            cuda.syncthreads()
            for k in range(_TILE):
                acc += sa[ty, k] * sb[k, tx]
            cuda.syncthreads()
        if i < M and j < N:
            C[i, j] = acc

    return matmul_kernel


#: The tiled matrix product, one compiled kernel per dtype (the tiles' type).
matmul_kernels = {np.dtype(np.float32): _build_matmul(float32), np.dtype(np.float64): _build_matmul(float64)}


@cuda.jit
def csr_dot_kernel(x_data, x_indices, x_indptr, rows, W, Z):
    r"""Sparse first layer :math:`Z = X_{rows} W`; one thread per element of ``Z``."""
    k = cuda.grid(1)
    n, m = Z.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        r = rows[i]
        acc = 0.0
        for p in range(x_indptr[r], x_indptr[r + 1]):
            acc += x_data[p] * W[x_indices[p], j]
        Z[i, j] = acc


@cuda.jit
def csr_tdot_kernel(x_data, x_indices, x_indptr, rows, D, G):
    r"""Sparse first-layer gradient :math:`G \mathrel{+}= X_{rows}^T D` (``G`` zeroed first).

    One thread per element of ``D``, scattering with atomic adds: the only
    kernel whose summation order is not fixed.
    """
    k = cuda.grid(1)
    n, m = D.shape
    if k < n * m:
        i = k // m
        j = k - i * m
        r = rows[i]
        d = D[i, j]
        for p in range(x_indptr[r], x_indptr[r + 1]):
            cuda.atomic.add(G, (x_indices[p], j), x_data[p] * d)


@cuda.jit
def colsum_kernel(D, g):
    r"""Bias gradient :math:`g_j = \sum_i D_{ij}`; one thread per column, rows in order."""
    j = cuda.grid(1)
    n, m = D.shape
    if j < m:
        acc = 0.0
        for i in range(n):
            acc += D[i, j]
        g[j] = acc


@cuda.jit
def fill_kernel(a, value):
    """``a[:] = value`` for a 1-D array."""
    k = cuda.grid(1)
    if k < a.shape[0]:
        a[k] = value
