"""Where an explicit-loop matrix product beats the BLAS: the measurement behind the kernels' choice.

The training kernels multiply one thread's rows at a time, on one thread,
with ``np.dot`` (single-threaded OpenBLAS through SciPy).  A tiled
explicit-loop kernel would be worth having wherever calling the BLAS costs
more than it saves: this script times, single-threaded and inside compiled code (no
Python per call), the three products of a dense layer:

- ``A W``       forward (``nn``),
- ``A^T D``     weight gradient (``tn``),
- ``D W^T``     delta of the layer below (``nt``),

each with ``np.dot`` and with explicit loops written the ways that vectorise
best (four rows at a time with the output row in the inner loop; dot
products of contiguous rows against a transposed copy of ``W``; scalar
accumulators), on small cubes and on every per-thread product of the
workloads W1-W4 (a mini-batch split between two threads).  It prints
microseconds per product and which side wins.

Usage: ``python -m benchmarks.gemm_crossover [--dtype float32|float64]``
"""

import argparse
import platform
import time

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS np.dot calls in compiled code: loaded so the limit reaches it)
from threadpoolctl import threadpool_info, threadpool_limits

from benchmarks.workloads import WORKLOADS

_jit = numba.njit(fastmath={"nsz", "arcp", "contract", "reassoc"}, cache=False)


@_jit
def nn_rows4(A, B, C):
    """``C = A B``, four rows of C at a time, the output row innermost."""
    n, k = A.shape
    m = B.shape[1]
    i = 0
    while i + 4 <= n:
        for j in range(m):
            C[i, j] = 0.0
            C[i + 1, j] = 0.0
            C[i + 2, j] = 0.0
            C[i + 3, j] = 0.0
        for p in range(k):
            a0, a1, a2, a3 = A[i, p], A[i + 1, p], A[i + 2, p], A[i + 3, p]
            for j in range(m):
                b = B[p, j]
                C[i, j] += a0 * b
                C[i + 1, j] += a1 * b
                C[i + 2, j] += a2 * b
                C[i + 3, j] += a3 * b
        i += 4
    for r in range(i, n):
        for j in range(m):
            C[r, j] = 0.0
        for p in range(k):
            a = A[r, p]
            for j in range(m):
                C[r, j] += a * B[p, j]


@_jit
def nn_dots4(A, BT, C):
    """``C = A B`` from ``BT = B^T``: dot products of contiguous rows, four rows of A at a time."""
    n, k = A.shape
    m = BT.shape[0]
    i = 0
    while i + 4 <= n:
        for j in range(m):
            s0 = s1 = s2 = s3 = 0.0
            for p in range(k):
                b = BT[j, p]
                s0 += A[i, p] * b
                s1 += A[i + 1, p] * b
                s2 += A[i + 2, p] * b
                s3 += A[i + 3, p] * b
            C[i, j] = s0
            C[i + 1, j] = s1
            C[i + 2, j] = s2
            C[i + 3, j] = s3
        i += 4
    for r in range(i, n):
        for j in range(m):
            s = 0.0
            for p in range(k):
                s += A[r, p] * BT[j, p]
            C[r, j] = s


@_jit
def tn_rows4(A, D, G):
    """``G = A^T D``, four rows of A and D at a time."""
    n, k = A.shape
    m = D.shape[1]
    G[:, :] = 0.0
    i = 0
    while i + 4 <= n:
        for p in range(k):
            a0, a1, a2, a3 = A[i, p], A[i + 1, p], A[i + 2, p], A[i + 3, p]
            for j in range(m):
                G[p, j] += a0 * D[i, j] + a1 * D[i + 1, j] + a2 * D[i + 2, j] + a3 * D[i + 3, j]
        i += 4
    for r in range(i, n):
        for p in range(k):
            a = A[r, p]
            for j in range(m):
                G[p, j] += a * D[r, j]


@_jit
def nt_dots(D, W, P):
    """``P = D W^T``: dot products of contiguous rows of D and W."""
    n, m = D.shape
    k = W.shape[0]
    for i in range(n):
        for p in range(k):
            s = 0.0
            for j in range(m):
                s += D[i, j] * W[p, j]
            P[i, p] = s


@_jit
def _repeat_blas(kind, X, Y, out, reps):
    for _ in range(reps):
        if kind == 0:
            np.dot(X, Y, out)
        elif kind == 1:
            np.dot(X.T, Y, out)
        else:
            np.dot(X, Y.T, out)


@_jit
def _repeat_loops(kind, X, Y, YT, out, reps):
    for _ in range(reps):
        if kind == 0:
            nn_rows4(X, Y, out)
        elif kind == 1:
            nn_dots4(X, YT, out)
        elif kind == 2:
            tn_rows4(X, Y, out)
        else:
            nt_dots(X, Y, out)


def _best_us(fn, args, reps, repeats=7):
    fn(*args, 1)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, reps)
        best = min(best, (time.perf_counter() - start) / reps)
    return best * 1e6


def shapes():
    """``(rows, n_in, n_out)`` of the products to time: small cubes, then every per-thread product of W1-W4."""
    out = [(s, s, s) for s in (4, 8, 16, 32, 64)]
    for w in WORKLOADS.values():
        rows = -(-w.batch_size // 2)
        units = w.layer_units
        out += [(rows, a, b) for a, b in zip(units[:-1], units[1:])]
    return list(dict.fromkeys(out))


def measure(n, k, m, dtype, rng):
    """Microseconds per product: BLAS and the best explicit loop, for nn, tn and nt."""
    A = rng.rand(n, k).astype(dtype)
    W = rng.rand(k, m).astype(dtype)
    WT = np.ascontiguousarray(W.T)
    D = rng.rand(n, m).astype(dtype)
    Z, G, P = np.empty((n, m), dtype), np.empty((k, m), dtype), np.empty((n, k), dtype)
    reps = max(2, int(5e7 / (2 * n * k * m)))
    blas = [
        _best_us(_repeat_blas, (0, A, W, Z), reps),
        _best_us(_repeat_blas, (1, A, D, G), reps),
        _best_us(_repeat_blas, (2, D, W, P), reps),
    ]
    loops = [
        min(_best_us(_repeat_loops, (0, A, W, WT, Z), reps), _best_us(_repeat_loops, (1, A, W, WT, Z), reps)),
        _best_us(_repeat_loops, (2, A, D, WT, G), reps),
        _best_us(_repeat_loops, (3, D, W, WT, P), reps),
    ]
    np.testing.assert_allclose(Z, A @ W, rtol=1e-3)
    np.testing.assert_allclose(G, A.T @ D, rtol=1e-3)
    np.testing.assert_allclose(P, D @ W.T, rtol=1e-3)
    return blas, loops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    rng = np.random.RandomState(0)
    print(f"{platform.processor() or platform.machine()}, {args.dtype}, one thread, microseconds per product "
          "(fastest of 7), BLAS / best explicit loop")
    print(f"{'rows x in x out':>18} {'nn: A W':>16} {'tn: A^T D':>16} {'nt: D W^T':>16}  loop wins")
    with threadpool_limits(1, user_api="blas"):
        threads = {i["internal_api"] + " " + i["filepath"].rsplit("/", 1)[-1]: i["num_threads"]
                   for i in threadpool_info() if i["user_api"] == "blas"}
        print(f"BLAS libraries and their threads: {threads}")
        for n, k, m in shapes():
            blas, loops = measure(n, k, m, dtype, rng)
            cells = [f"{b:7.2f} /{lp:7.2f}" for b, lp in zip(blas, loops)]
            wins = [name for name, b, lp in zip(("nn", "tn", "nt"), blas, loops) if lp < b]
            print(f"{n:>5} x{k:>4} x{m:>5}  {'  '.join(cells)}  {' '.join(wins) or '-'}")


if __name__ == "__main__":
    main()
