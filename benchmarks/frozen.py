"""Seconds per epoch with the first 0, 1 and 2 layers frozen (``frozen_layers``), on W2.

Frozen layers need no weight gradient and, below the lowest layer that trains, no
delta: the backward pass stops there, and the optimizer steps only the parameters
that train.  Each repeat times every setting in turn (interleaved), after a warm-up
fit that compiles the kernels; prints the medians and the ratio to no frozen layer.

Usage: ``python -m benchmarks.frozen [--repeats 5] [--epochs 5] [--scale 1.0] [--dtype float32]``
"""

import argparse
import time
import warnings

import numpy as np

from benchmarks.workloads import WORKLOADS
from fastbp import BackpropClassifier


def epoch_seconds(X, y, workload, frozen, epochs):
    """Seconds per epoch of a warm-started fit of ``epochs`` epochs with ``frozen`` layers frozen."""
    model = BackpropClassifier(hidden_layer_sizes=workload.hidden, batch_size=workload.batch_size, max_iter=1,
                               frozen_layers=frozen, random_state=0, tol=0.0, n_iter_no_change=10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
        model.set_params(warm_start=True, max_iter=epochs)
        start = time.perf_counter()
        model.fit(X, y)
    return (time.perf_counter() - start) / epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of W2's samples")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)
    workload = WORKLOADS["W2"]
    X, y = workload.data(np.dtype(args.dtype), scale=args.scale)
    settings = (0, 1, 2)
    times = {k: [] for k in settings}
    for k in settings:  # warm-up: compile
        epoch_seconds(X[:512], y[:512], workload, k, 1)
    for _ in range(args.repeats):
        for k in settings:
            times[k].append(epoch_seconds(X, y, workload, k, args.epochs))
    base = np.median(times[0])
    print(f"W2 ({X.shape[0]} x {X.shape[1]}, hidden {workload.hidden}, batch {workload.batch_size}, "
          f"{args.dtype}), seconds per epoch, median of {args.repeats}:")
    for k in settings:
        med = np.median(times[k])
        print(f"  frozen_layers={k}: {1000 * med:8.2f} ms  ({med / base:.2f}x of none frozen; "
              f"min {1000 * min(times[k]):.2f}, max {1000 * max(times[k]):.2f})")
    return times


if __name__ == "__main__":
    main()
