"""The benchmark workloads W1-W4, shared by the asv suite and the comparison script."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    """A training problem: data shape, network, batch size and task."""

    name: str
    n_samples: int
    n_features: int
    hidden: tuple
    n_outputs: int
    batch_size: int
    task: str  # "classification" or "regression"

    def data(self, dtype=np.float32, scale=1.0, seed=0):
        """Synthetic standardised inputs and targets (``scale`` shrinks n_samples)."""
        n = max(int(self.n_samples * scale), 2 * self.batch_size)
        rng = np.random.RandomState(seed)
        X = rng.standard_normal((n, self.n_features)).astype(dtype)
        W = rng.standard_normal((self.n_features, max(self.n_outputs, 1)))
        scores = X @ W / np.sqrt(self.n_features)
        if self.task == "classification":
            y = scores.argmax(axis=1) if self.n_outputs > 1 else (scores[:, 0] > 0).astype(int)
        else:
            y = scores[:, 0] + 0.1 * rng.standard_normal(n)
        return X, y

    @property
    def layer_units(self):
        return [self.n_features, *self.hidden, self.n_outputs]

    def flops_per_epoch(self, n):
        """Multiply-adds x 2 of the epoch's matrix products.

        Forward ``A W`` and weight gradient ``A^T D`` for every layer, and the
        delta propagation ``D W^T`` for every layer but the first.
        """
        units = self.layer_units
        per_sample = sum(2 * a * b for a, b in zip(units[:-1], units[1:]))
        back = sum(2 * a * b for a, b in zip(units[1:-1], units[2:]))
        return n * (2 * per_sample + back)


WORKLOADS = {
    "W1": Workload("W1", 1797, 64, (100,), 10, 200, "classification"),
    "W2": Workload("W2", 50_000, 100, (256, 128), 10, 256, "classification"),
    "W3": Workload("W3", 60_000, 784, (1024, 1024), 10, 512, "classification"),
    "W4": Workload("W4", 100_000, 50, (128, 64), 1, 256, "regression"),
}
