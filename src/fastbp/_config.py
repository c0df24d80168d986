"""The one home of fastbp's tunables.

Kernels read these values when they are compiled; changing them afterwards has
no effect on functions already compiled in this process (or cached on disk),
so treat them as frozen once fastbp has trained a model.
"""

import os

#: LLVM fast-math flags for the CPU kernels.  ``nnan`` and ``ninf`` are left
#: out on purpose so that non-finite values are still detected, and ``afn``
#: (approximate exp/log/tanh) is left out so results stay within float
#: tolerance of scikit-learn's.
FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})

#: Cache compiled CPU kernels on disk (``__pycache__`` beside the sources, or
#: ``NUMBA_CACHE_DIR``), so a second process does not compile them again.
CACHE = True

#: Keyword arguments shared by every ``numba.njit`` kernel.  ``error_model``
#: is NumPy's: a division by zero gives an infinity or NaN, as in NumPy,
#: instead of raising ``ZeroDivisionError`` from compiled code (inside a
#: parallel loop that surfaces as a ``SystemError``); the estimators test the
#: results for finiteness and raise a ``ValueError`` themselves.
JIT_OPTIONS = {"cache": CACHE, "fastmath": set(FASTMATH), "nogil": True, "error_model": "numpy"}

#: Options of the kernels only other kernels call: no CPython or C wrapper is
#: built for them, which saves compiling them on a cold start (see
#: :mod:`fastbp.kernels.cpu._jit`).
INNER_JIT_OPTIONS = dict(JIT_OPTIONS, no_cpython_wrapper=True, no_cfunc_wrapper=True)

#: Compile machine code for the entry kernels only (the ones Python calls):
#: every kernel below an entry is linked into it as LLVM and optimised and
#: emitted there, once, instead of once per level of calls as well
#: (:mod:`fastbp.kernels.cpu._jit`).  Off: Numba's ordinary compilation, the
#: same results, a slower first fit.  It reaches into Numba internals, so the
#: environment variable ``FASTBP_EMIT_ENTRIES_ONLY=0``, read at import,
#: switches it off without editing the package.
EMIT_ENTRIES_ONLY = os.environ.get("FASTBP_EMIT_ENTRIES_ONLY", "1") != "0"

#: CUDA: threads per block of the one-dimensional kernels.  The simulator tests
#: set it small so that tiny inputs still cross several blocks.
CUDA_THREADS = 128

#: CUDA: side of the square shared-memory tiles of the matrix-product kernel
#: (blocks of ``CUDA_TILE x CUDA_TILE`` threads).
CUDA_TILE = 16

#: CPU: rows per thread and chunk when predicting, as the bytes of one column
#: of a chunk (rows x itemsize): 2048 rows of float32, 1024 of float64.
#: Prediction on a large X needs memory for one chunk of activations per
#: thread, not for the whole of X.  Chosen from ``predict_proba`` of the
#: benchmark workloads (2 threads, medians of interleaved repeats, scratch
#: buffers kept between calls): on a 2-core Intel Xeon VM (2 MiB L2 per core)
#: 1024 against 2048 rows of float32 gave W3 858 against 841 ms, W2 29.2
#: against 30.5 ms, W4 16.1 against 16.8 ms, and of float64 W3 1746 against
#: 1794 ms; 512 rows of float32 were slower (W2 69 against 43 ms); on a 2-core
#: AMD EPYC VM (1 MiB L2) 512 to 2048 rows measured the same on W2.
PREDICT_CHUNK_BYTES = 8192

#: CPU: multiply-adds below which a prediction runs on one thread.  Measured
#: on the 2-core Intel Xeon (one prediction kernel call, medians of 200): two
#: threads start to pay at 237 K (W1-shaped network, 32 rows: 33 against 33
#: us), 477 K (W2, 8 rows: 34 against 36 us) and 469 K (W4, 32 rows: 34
#: against 37 us) from the main thread; below that they cost 0-3 us more.
#: From a second Python thread every parallel loop costs 90-110 us more (GNU
#: OpenMP's throttled spin, see benchmarks/README.md): one thread there was
#: 26-51 us against 120-146 us up to these sizes.
PREDICT_PARALLEL_MACS = 300_000

#: CPU: multiply-adds per parallel loop below which kernels run on one thread
#: while another live Python thread has run fastbp's kernels on several
#: threads (GNU OpenMP's throttled spin: :func:`fastbp.backends.cpu.others_ran_parallel`).
#: Measured on the 2-core Intel Xeon from a worker thread after the main
#: thread had fitted: W1 fit (4.4 M per mini-batch) 127 ms on two threads
#: against 52 on one, W2-like (46 M) 0.42 against 0.41-0.46 s; predictions of
#: 256 rows, W1 (1.9 M) 160 against 96 us, W4 (3.8 M) 207 against 115, W2
#: (15 M) 305 against 340.
SECOND_THREAD_MACS = 10_000_000

#: CPU: largest ``m * n * k`` of a matrix product that OpenBLAS computes on one
#: thread whatever its thread count (``65536 * GEMM_MULTITHREAD_THRESHOLD``, 4
#: by default, in its interface/gemm.c).  A prediction whose products are all
#: under it and that runs on one Numba thread leaves the BLAS thread count
#: alone: setting and restoring it through threadpoolctl was most of a one-row
#: ``predict_proba``'s time.
BLAS_SERIAL_MNK = 65536 * 4

#: CPU: bytes of prediction scratch memory kept between ``predict`` calls, per
#: dtype (:class:`fastbp.backends.cpu.ScratchPool`).  Fresh memory is paged in
#: by the kernel's first writes to it: on the 2-core Intel Xeon, 330 of the
#: 546 us a W1 prediction kernel took (1,797 rows, a 1.25 MB workspace).
#: A workspace larger than this is allocated per call and not kept.
PREDICT_SCRATCH_BYTES = 32 * 2**20

#: CUDA: rows per chunk when predicting (one kernel launch per layer and chunk).
CUDA_PREDICT_CHUNK = 4096

#: Relative tolerances the parity tests hold fastbp to, per dtype.
TEST_RTOL = {"float64": 1e-6, "float32": 1e-4}
