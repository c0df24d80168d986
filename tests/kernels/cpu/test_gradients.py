"""Backpropagation checked by central finite differences and against the NumPy oracle."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastbp.backends.cpu import as_kernel_data
from helpers import LOSS_PAIRS, LOSS_PARAM, Net, finite_differences, make_problem
import reference

from fastbp.nn.activations import ACTIVATION_CODES

ACTIVATIONS = list(ACTIVATION_CODES)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss,out,kind", LOSS_PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_matches_finite_differences(activation, loss, out, kind, dtype):
    X, y, sw = make_problem(kind, dtype=dtype)
    net = Net([5, 7, 4, 3], activation, out, loss, dtype)
    alpha = 0.3
    _, grad = net.loss_grad(X, y, sw, alpha=alpha)
    # Differences are taken in float64 on the float64 copy of the problem.
    net64 = Net([5, 7, 4, 3], activation, out, loss, np.float64)
    X64, y64, sw64 = (a.astype(np.float64) for a in (X, y, sw))
    theta = net.theta.astype(np.float64)
    fd = finite_differences(net64, X64, y64, sw64, theta, alpha)
    if loss in ("absolute_error", "quantile"):
        # kinks: differences across a tie are meaningless; the problem has none
        assert not np.any(np.isclose(net64.backend.predict(as_kernel_data(X64, dtype=np.float64), theta), y64, atol=1e-5))
    if loss == "squared_error":
        # scikit-learn's stochastic gradient is that of the summed (not averaged)
        # per-output losses; the kernels reproduce it: n_outputs times the loss's.
        fd_data = fd - alpha * np.concatenate([theta[: net.layout.n_coef], np.zeros(theta.size - net.layout.n_coef)]) / sw64.sum()
        fd = fd_data * y.shape[1] + (fd - fd_data)
    rtol, atol = (1e-6, 1e-8) if dtype == np.float64 else (2e-3, 2e-4)
    np.testing.assert_allclose(grad, fd, rtol=rtol, atol=atol)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_exact_squared_error_gradient_with_output_scale(activation):
    """With out_scale = 1/n_outputs the squared-error gradient is the loss's own (lbfgs)."""
    X, y, sw = make_problem("real")
    net = Net([5, 6, 3], activation, "identity", "squared_error", np.float64)
    scale = 1.0 / y.shape[1]
    loss_value, grad = net.loss_grad(X, y, sw, alpha=0.1, out_scale=scale)
    fd = finite_differences(net, X, y, sw, net.theta, 0.1)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss,out,kind", LOSS_PAIRS[:4])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_loss_and_gradient_match_numpy_reference(activation, loss, out, kind):
    X, y, sw = make_problem(kind, n=31)
    net = Net([5, 8, 6, 3], activation, out, loss, np.float64)
    value, grad = net.loss_grad(X, y, sw, alpha=0.05)
    coefs, intercepts = net.layout.unpack(net.theta)
    ref_value, gW, gb = reference.loss_and_grad(X, y, sw, coefs, intercepts, activation, out, loss, 0.05)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, net.layout.pack(gW, gb, np.float64), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "activation,loss,out,kind",
    [(a, "squared_error", "identity", "real") for a in reference.EXTRA_HIDDEN]
    + [("tanh", loss, out, kind) for loss, out, kind in LOSS_PAIRS[4:]],
)
def test_extensions_match_numpy_reference(activation, loss, out, kind):
    """The extra activations and losses (whose gradients the finite differences check
    against the kernels' own loss) give the oracle's outputs and loss."""
    X, y, sw = make_problem(kind, n=31)
    net = Net([5, 8, 6, 3], activation, out, loss, np.float64)
    coefs, intercepts = net.layout.unpack(net.theta)
    outputs = net.backend.predict(as_kernel_data(X, dtype=np.float64), net.theta)
    np.testing.assert_allclose(outputs, reference.forward(X, coefs, intercepts, activation, out)[-1], rtol=1e-12)
    value, _ = net.loss_grad(X, y, sw, alpha=0.05)
    penalty = 0.5 * 0.05 * sum(np.sum(W * W) for W in coefs) / sw.sum()
    expected = reference.data_loss(y, outputs, loss, sw, LOSS_PARAM.get(loss)) + penalty
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gives_the_dense_gradient(fmt):
    X, y, sw = make_problem("onehot", n=40, n_features=9)
    X[np.random.RandomState(3).rand(*X.shape) < 0.6] = 0.0
    net = Net([9, 6, 3], "tanh", "softmax", "log_loss", np.float64)
    dense = net.loss_grad(X, y, sw, alpha=0.1)
    sparse = net.loss_grad(sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X), y, sw, alpha=0.1)
    assert sparse[0] == pytest.approx(dense[0], rel=1e-12)
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("clip", [0.0, 0.05])
@pytest.mark.parametrize("n_threads", [1, 2, 3, 7])
def test_sgd_step_for_any_thread_count(n_threads, clip):
    """One SGD step of a whole-batch epoch equals the step NumPy takes from the oracle's
    gradient, for any number of per-thread gradient parts (two are summed inside the step,
    more beforehand; each thread also sums the penalty's norms over its block of the
    weights), with and without clipping the gradient's norm."""
    import numba

    from fastbp import optim as O
    from fastbp.backends.cpu import thread_limits

    X, y, sw = make_problem("onehot", n=29, n_features=60)
    net = Net([60, 80, 3], "tanh", "softmax", "log_loss", np.float64, n_threads=n_threads, clipping=bool(clip))
    # More blocks of rows than this machine may have threads: prange runs them all anyway.
    net.backend.limits = lambda: thread_limits(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    coefs, intercepts = net.layout.unpack(net.theta)
    value, gW, gb = reference.loss_and_grad(X, y, sw, coefs, intercepts, "tanh", "softmax", "log_loss", 0.1)
    g = net.layout.pack(gW, gb, np.float64)
    if clip:
        assert np.linalg.norm(g) > clip  # the clipping acts
        g = g * clip / np.linalg.norm(g)
    expected = net.theta - 0.01 * g  # (Adam's first step would hide the gradient's scale)

    hyper = net.hyper(alpha=0.1)
    hyper[[O.H_SOLVER, O.H_LR, O.H_MOMENTUM, O.H_MAX_NORM]] = [O.SGD, 0.01, 0.0, clip]
    theta = net.theta.copy()
    opt = O.OptimizerState("sgd", theta.size, np.float64, 0.01)
    trainer = net.backend.trainer(as_kernel_data(X, y, sw, np.float64), theta, opt, batch_size=29)
    with net.backend.limits():
        loss = trainer.epoch(np.arange(29, dtype=np.int64), (np.zeros(0, np.uint32), np.zeros(1, np.int64)), hyper)
    assert loss == pytest.approx(value, rel=1e-12)  # the loss (and its penalty) of the weights before the step
    np.testing.assert_allclose(theta, expected, rtol=1e-9, atol=1e-12)
