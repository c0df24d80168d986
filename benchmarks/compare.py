"""Side-by-side comparison: fastbp vs scikit-learn's MLP vs a plain PyTorch loop.

Runs the workloads W1-W4 with the same data, architecture, optimizer (Adam) and
batch size for every library, interleaving the libraries' repeats in one run,
and prints per-epoch time (median and spread), GFLOP/s, the ratio to each
peer, the ratio to the time of the epoch's matrix products alone (NumPy BLAS,
measured in the same run; with PyTorch installed, also through ``torch.mm``,
whose BLAS may be faster than NumPy's), prediction time against the
prediction's products alone, and peak traced memory of a fit.

Usage::

    python -m benchmarks.compare                     # all workloads, float32
    python -m benchmarks.compare --workloads W1 W2 --dtype float64 --repeats 5
    python -m benchmarks.compare --scale 0.05        # quick smoke run
"""

import argparse
import gc
import platform
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from benchmarks.workloads import WORKLOADS
from fastbp import BackpropClassifier, BackpropRegressor

EPOCHS = {"W1": 50, "W2": 2, "W3": 1, "W4": 2}


def _params(w, epochs):
    return dict(
        hidden_layer_sizes=w.hidden, batch_size=w.batch_size, max_iter=epochs, random_state=0,
        tol=0.0, n_iter_no_change=10**9, shuffle=True,
    )


def _fit_seconds(make, X, y):
    model = make()
    gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start, model


def run_fastbp(w, X, y, epochs):
    cls = BackpropClassifier if w.task == "classification" else BackpropRegressor
    return _fit_seconds(lambda: cls(**_params(w, epochs)), X, y)


def run_sklearn(w, X, y, epochs):
    cls = MLPClassifier if w.task == "classification" else MLPRegressor
    return _fit_seconds(lambda: cls(**_params(w, epochs)), X, y)


def _products_seconds(X, Ws, batch_size, epochs, mm, empty):
    """Seconds of ``epochs`` epochs of only the matrix products, through ``mm(a, b, out=c)``.

    Every sample, the last (shorter) batch included, as the trainers do;
    outputs preallocated with ``empty(shape)``.
    """
    n = X.shape[0]
    acts = [empty((batch_size, W.shape[1])) for W in Ws]
    grads = [empty(tuple(W.shape)) for W in Ws]
    start = time.perf_counter()
    for _ in range(epochs):
        for s in range(0, n, batch_size):
            m = min(batch_size, n - s)
            a = [X[s : s + m]] + [act[:m] for act in acts]
            for l, W in enumerate(Ws):
                mm(a[l], W, out=a[l + 1])
            for l in range(len(Ws) - 1, -1, -1):
                mm(a[l].T, a[l + 1], out=grads[l])
                if l:
                    mm(a[l + 1], Ws[l].T, out=a[l])
    return time.perf_counter() - start


def _weights(w, dtype):
    """Fixed random weights of workload ``w``'s layers (the products-only baselines' operands)."""
    rng = np.random.RandomState(0)
    units = w.layer_units
    return [rng.standard_normal((a, b)).astype(dtype) * 0.01 for a, b in zip(units[:-1], units[1:])]


def run_matmul_only(w, X, y, epochs):
    """Only the epoch's matrix products, NumPy BLAS, preallocated outputs."""
    empty = lambda shape: np.empty(shape, X.dtype)
    return _products_seconds(X, _weights(w, X.dtype), w.batch_size, epochs, np.dot, empty), None


def run_torch_matmul_only(w, X, y, epochs):
    """The same products as :func:`run_matmul_only`, through ``torch.mm`` (PyTorch's BLAS,
    MKL on x86 builds): the floor of the PyTorch loop, which may differ from NumPy's."""
    import torch

    Xt = torch.from_numpy(X)
    Ws = [torch.from_numpy(W) for W in _weights(w, X.dtype)]
    empty = lambda shape: torch.empty(shape, dtype=Xt.dtype)
    return _products_seconds(Xt, Ws, w.batch_size, epochs, torch.mm, empty), None


def predict_matmul_only(w, X, chunk=4096):
    """Seconds of a prediction's matrix products alone, NumPy BLAS, preallocated outputs.

    The faster of two ways to do them: one product per layer over all of X
    (what scikit-learn does), and the same in chunks of ``chunk`` rows (the
    activations stay in cache; on large X it is the faster one).
    """
    units = w.layer_units
    Ws = _weights(w, X.dtype)

    def products(rows):
        outs = [np.empty((rows, u), X.dtype) for u in units[1:]]
        start = time.perf_counter()
        for s in range(0, X.shape[0], rows):
            m = min(rows, X.shape[0] - s)
            a = X[s : s + m]
            for W, out in zip(Ws, outs):
                a = np.dot(a, W, out=out[:m])
        return time.perf_counter() - start

    return min(products(X.shape[0]), products(min(chunk, X.shape[0])))


def run_torch(w, X, y, epochs):
    import torch

    torch.manual_seed(0)
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    layers, units = [], w.layer_units
    for i, (a, b) in enumerate(zip(units[:-1], units[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(units) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    Xt = torch.from_numpy(X)
    if w.task == "classification":
        yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        yt = torch.from_numpy(np.asarray(y, dtype=X.dtype)).reshape(-1, 1)
        loss_fn = torch.nn.MSELoss()
    n, bs = X.shape[0], w.batch_size
    gc.collect()
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for s in range(0, n, bs):
            idx = perm[s : s + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - start, None


def peak_memory(fn, w, X, y):
    tracemalloc.start()
    fn(w, X, y, 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of each workload's samples")
    parser.add_argument("--threads", type=int, default=None, help="thread limit for every library")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory fits")
    args = parser.parse_args(argv)

    runners = {"fastbp": run_fastbp, "sklearn": run_sklearn, "matmul": run_matmul_only}
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        runners["torch"] = run_torch
        runners["torch_mm"] = run_torch_matmul_only
    except ImportError:
        print("PyTorch not installed: its column is left out.")

    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(args.threads) if args.threads else None
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, dtype {args.dtype}, repeats {args.repeats}, scale {args.scale}")
    rows = []
    for name in args.workloads:
        w = WORKLOADS[name]
        X, y = w.data(np.dtype(args.dtype), scale=args.scale)
        epochs = EPOCHS[name]
        run_fastbp(w, X[: 4 * w.batch_size], y[: 4 * w.batch_size], 1)  # compile / load the kernels
        times = {k: [] for k in runners}
        for _ in range(args.repeats):
            for key, fn in runners.items():  # interleaved: noise hits every library alike
                times[key].append(fn(w, X, y, epochs)[0] / epochs)
        med = {k: float(np.median(v)) for k, v in times.items()}
        spread = {k: (min(v), max(v)) for k, v in times.items()}
        pred = {}
        for key, fn in (("fastbp", run_fastbp), ("sklearn", run_sklearn)):
            _, model = fn(w, X[: 4 * w.batch_size], y[: 4 * w.batch_size], 1)
            method = model.predict_proba if w.task == "classification" else model.predict
            method(X[:100])
            ptimes = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                method(X)
                ptimes.append(time.perf_counter() - start)
            pred[key] = float(np.median(ptimes))
        pred["matmul"] = float(np.median([predict_matmul_only(w, X) for _ in range(args.repeats)]))
        mem = {} if args.no_memory else {k: peak_memory(runners[k], w, X, y) for k in ("fastbp", "sklearn")}
        gflops = w.flops_per_epoch(X.shape[0]) / 1e9
        rows.append((name, X.shape, med, spread, gflops, mem))
        print(f"\n{name}: {X.shape[0]} x {X.shape[1]}, hidden {w.hidden}, batch {w.batch_size}, {w.task}")
        print(f"  {'':8s}{'ms/epoch':>10s}{'min':>10s}{'max':>10s}{'GFLOP/s':>9s}")
        for key in runners:
            lo, hi = spread[key]
            print(f"  {key:8s}{med[key] * 1e3:10.3f}{lo * 1e3:10.3f}{hi * 1e3:10.3f}{gflops / med[key]:9.1f}")
        ratio = lambda k: med[k] / med["fastbp"]
        line = f"  fastbp speed-up: vs sklearn {ratio('sklearn'):.2f}x"
        if "torch" in med:
            line += f", vs torch {ratio('torch'):.2f}x"
        line += f"; fastbp / matmul-only time {med['fastbp'] / med['matmul']:.2f}"
        print(line)
        if "torch_mm" in med:
            print(f"  NumPy's products / torch.mm's (same products) {med['matmul'] / med['torch_mm']:.2f}; "
                  f"fastbp / torch-matmul-only {med['fastbp'] / med['torch_mm']:.2f}, "
                  f"torch / torch-matmul-only {med['torch'] / med['torch_mm']:.2f}")
        print(f"  predict{'_proba' if w.task == 'classification' else ''} on all {X.shape[0]} rows: fastbp "
              f"{pred['fastbp'] * 1e3:.1f} ms, sklearn {pred['sklearn'] * 1e3:.1f} ms, "
              f"speed-up {pred['sklearn'] / pred['fastbp']:.2f}x; products alone (NumPy) "
              f"{pred['matmul'] * 1e3:.1f} ms: fastbp at {pred['fastbp'] / pred['matmul']:.2f}x of it, "
              f"sklearn at {pred['sklearn'] / pred['matmul']:.2f}x")
        if mem:
            print(f"  peak traced memory of a 1-epoch fit: fastbp {mem['fastbp'] / 2**20:.1f} MiB, "
                  f"sklearn {mem['sklearn'] / 2**20:.1f} MiB")
    if limits is not None:
        limits.restore_original_limits()
    return rows


if __name__ == "__main__":
    main()
