"""A plain NumPy MLP: the one oracle the compiled kernels are tested against.

Written independently of ``fastbp.kernels``: whole-matrix NumPy operations,
no flat buffers, no Numba.
"""

import numpy as np
from scipy.special import erf

HIDDEN = {
    "identity": (lambda z: z, lambda a: np.ones_like(a)),
    "logistic": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
    "tanh": (np.tanh, lambda a: 1 - a**2),
    "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype)),
}

#: fastbp's extra hidden activations, forward only (their derivatives are checked by finite differences).
EXTRA_HIDDEN = {
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1),
    "gelu": lambda z: z * 0.5 * (1 + erf(z / np.sqrt(2))),
    "silu": lambda z: z / (1 + np.exp(-z)),
    "softplus": lambda z: np.logaddexp(0, z),
}


def output(z, kind):
    """Output activation."""
    if kind == "identity":
        return z
    if kind == "exp":
        return np.exp(z)
    if kind == "logistic":
        return 1 / (1 + np.exp(-z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def data_loss(y, p, loss, sw, param=None):
    """Sample-weighted loss as scikit-learn defines it (without the L2 term); ``param``
    is ``huber_delta`` or ``quantile_alpha`` for those losses."""
    w = sw[:, None] / sw.sum()
    eps = np.finfo(p.dtype).eps
    if loss == "squared_error":
        return 0.5 * np.sum(w * (y - p) ** 2) / y.shape[1]
    if loss == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / p), 0.0) - y + p
        return np.sum(w * term)
    r = y - p
    if loss == "absolute_error":
        return np.sum(w * np.abs(r))
    if loss == "huber":  # param: delta
        return np.sum(w * np.where(np.abs(r) <= param, 0.5 * r**2, param * (np.abs(r) - 0.5 * param)))
    if loss == "quantile":  # param: alpha
        return np.sum(w * np.maximum(param * r, (param - 1) * r))
    q = np.clip(p, eps, 1 - eps)
    if loss == "log_loss":
        return -np.sum(w * np.where(y > 0, y * np.log(q), 0.0))
    return -np.sum(w * (np.where(y > 0, y * np.log(q), 0.0) + np.where(y < 1, (1 - y) * np.log(1 - q), 0.0)))


def forward(X, coefs, intercepts, activation, out):
    """All layer outputs, input first."""
    f = HIDDEN[activation][0] if activation in HIDDEN else EXTRA_HIDDEN[activation]
    acts = [X]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = acts[-1] @ W + b
        acts.append(output(z, out) if i == len(coefs) - 1 else f(z))
    return acts


def loss_and_grad(X, y, sw, coefs, intercepts, activation, out, loss, alpha, out_scale=1.0):
    """Loss and its gradient by textbook backpropagation.

    ``out_scale`` multiplies the output delta (1/n_outputs gives the exact
    gradient of the squared error averaged over outputs).
    """
    acts = forward(X, coefs, intercepts, activation, out)
    sw_sum = sw.sum()
    value = data_loss(y, acts[-1], loss, sw) + 0.5 * alpha * sum(np.sum(W * W) for W in coefs) / sw_sum
    delta = out_scale * (acts[-1] - y) * sw[:, None]
    gW, gb = [None] * len(coefs), [None] * len(coefs)
    for i in range(len(coefs) - 1, -1, -1):
        gW[i] = (acts[i].T @ delta + alpha * coefs[i]) / sw_sum
        gb[i] = delta.sum(axis=0) / sw_sum
        if i:
            delta = (delta @ coefs[i].T) * HIDDEN[activation][1](acts[i])
    return value, gW, gb


def forward_batch_norm(X, coefs, scales, shifts, intercept_out, activation, out, eps, stats=None, sw=None):
    """Layer outputs with every hidden layer batch-normalised.

    Without ``stats``, the statistics of the rows of X weighted by ``sw``
    (training); with ``stats = (means, variances)``, those (prediction).
    Returns the outputs and the batch means and (biased) variances of every
    hidden layer.
    """
    f = HIDDEN[activation][0]
    a = X
    w = np.ones(X.shape[0]) if sw is None else sw
    means, variances = [], []
    for i, W in enumerate(coefs[:-1]):
        z = a @ W
        if stats is None:
            mean = np.average(z, axis=0, weights=w)
            var = np.average((z - mean) ** 2, axis=0, weights=w)
        else:
            mean, var = stats[0][i], stats[1][i]
        means.append(mean)
        variances.append(var)
        a = f(scales[i] * (z - mean) / np.sqrt(var + eps) + shifts[i])
    return output(a @ coefs[-1] + intercept_out, out), means, variances
