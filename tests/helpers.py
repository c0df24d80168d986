"""Helpers shared by the kernel-level tests."""

import numpy as np

from fastbp.backends.cpu import CPUBackend, as_kernel_data
from fastbp.nn.layout import Layout
from fastbp.nn.spec import network_spec
from fastbp import optim as O

#: (loss, output activation, target kind) of every canonical pair.
LOSS_PAIRS = [
    ("squared_error", "identity", "real"),
    ("poisson", "exp", "count"),
    ("log_loss", "softmax", "onehot"),
    ("binary_log_loss", "logistic", "binary"),
    ("absolute_error", "identity", "real"),
    ("huber", "identity", "real"),
    ("quantile", "identity", "real"),
]

#: The parameter each loss is tested with (huber_delta, quantile_alpha).
LOSS_PARAM = {"huber": 0.4, "quantile": 0.3}


def make_problem(loss_kind, n=23, n_features=5, n_outputs=3, seed=0, dtype=np.float64):
    """Small random inputs and targets suited to a loss."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    if loss_kind == "real":
        y = rng.normal(size=(n, n_outputs))
    elif loss_kind == "count":
        y = rng.poisson(1.5, size=(n, n_outputs)).astype(float)
    elif loss_kind == "onehot":
        y = np.eye(n_outputs)[rng.randint(n_outputs, size=n)]
    else:
        y = (rng.rand(n, n_outputs) > 0.5).astype(float)
    sw = rng.uniform(0.5, 2.0, size=n)
    return X.astype(dtype), y.astype(dtype), sw.astype(dtype)


class Net:
    """A CPU backend with random weights, for kernel-level tests."""

    def __init__(self, units, activation, out, loss, dtype, seed=1, batch_norm=False, n_threads=None, clipping=False):
        self.layout = Layout(units, batch_norm=batch_norm)
        self.norm_stats = np.zeros((6, int(sum(units[1:-1])))) if batch_norm else None
        self.backend = CPUBackend(
            network_spec(self.layout, activation, out, loss, dtype, clipping=clipping), n_threads=n_threads,
            norm_stats=self.norm_stats,
        )
        rng = np.random.RandomState(seed)
        self.theta = (rng.uniform(-0.6, 0.6, self.layout.size)).astype(dtype)
        self.dtype = np.dtype(dtype)
        self.loss_param = LOSS_PARAM.get(loss, 0.0)

    def hyper(self, alpha=0.0, out_scale=1.0):
        return O.make_hyper(self.dtype, alpha=alpha, out_scale=out_scale, loss_param=self.loss_param)

    def loss_grad(self, X, y, sw, theta=None, alpha=0.0, out_scale=1.0):
        theta = self.theta if theta is None else theta
        data = as_kernel_data(X, y, sw, self.dtype)
        grad = np.empty_like(theta)
        with self.backend.limits():
            loss = self.backend.full_batch(data)(theta, grad, self.hyper(alpha, out_scale))
        return loss, grad


def finite_differences(net, X, y, sw, theta, alpha, h=1e-6):
    """Central differences of ``net``'s full-batch loss at ``theta``, one parameter at a time."""
    fd = np.empty_like(theta)
    for k in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[k] += h
        minus[k] -= h
        fd[k] = (net.loss_grad(X, y, sw, plus, alpha)[0] - net.loss_grad(X, y, sw, minus, alpha)[0]) / (2 * h)
    return fd
