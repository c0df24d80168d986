"""What the training features cost: epoch time with and without them, same data, one run.

The medium network of the benchmark (W2: 50,000 x 100, hidden (256, 128),
batch 256, Adam, float32), fitted alternately without and with each feature;
prints median seconds per epoch and the overhead.  Targets:
dropout under +15%, a do-nothing callback under +2%.

Usage: ``python -m benchmarks.features [--repeats 5] [--epochs 3]``
"""

import argparse
import time
import warnings

import numpy as np

from benchmarks.workloads import WORKLOADS
from fastbp import BackpropClassifier


class Nothing:
    """A callback that does nothing."""

    def on_epoch_end(self, estimator, epoch, logs):
        return False


VARIANTS = {
    "baseline": {},
    "dropout=0.2": {"dropout": 0.2},
    "callback (no-op)": {"callbacks": [Nothing()]},
    "l1=1e-4": {"l1": 1e-4},
    "max_grad_norm=1": {"max_grad_norm": 1.0},
    "solver=adamw": {"solver": "adamw"},
    "activation=gelu": {"activation": "gelu"},
    "batch_norm=True": {"batch_norm": True},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    w = WORKLOADS["W2"]
    X, y = w.data(np.float32, scale=args.scale)
    warnings.simplefilter("ignore")
    base = dict(hidden_layer_sizes=w.hidden, batch_size=w.batch_size, max_iter=args.epochs, random_state=0,
                tol=0.0, n_iter_no_change=10**9)
    for params in VARIANTS.values():  # compile every variant first
        BackpropClassifier(**{**base, **params, "max_iter": 1}).fit(X[:1000], y[:1000])
    times = {k: [] for k in VARIANTS}
    for _ in range(args.repeats):
        for name, params in VARIANTS.items():  # interleaved
            start = time.perf_counter()
            BackpropClassifier(**{**base, **params}).fit(X, y)
            times[name].append((time.perf_counter() - start) / args.epochs)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(f"W2 ({X.shape[0]} x {X.shape[1]}, hidden {w.hidden}, batch {w.batch_size}, adam, float32), "
          f"median of {args.repeats}:")
    for name, value in med.items():
        print(f"  {name:18s} {value:8.4f} s/epoch   {100 * (value / med['baseline'] - 1):+6.1f}%")


if __name__ == "__main__":
    main()
