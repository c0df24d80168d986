"""The CUDA twins agree with the CPU kernels, kernel by kernel and fit by fit.

Shapes are tiny: under the simulator every CUDA thread is a Python thread.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp import optim as O
from fastbp._config import TEST_RTOL
from fastbp.backends.cpu import CPUBackend, as_kernel_data
from fastbp.nn.activations import ACTIVATION_CODES
from fastbp.nn.layout import Layout
from fastbp.nn.spec import network_spec
from helpers import LOSS_PAIRS, LOSS_PARAM

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Every activation with one loss, every loss with one activation: the kernels
# branch on each separately, and the simulator is slow.
COMBINATIONS = [(a, LOSS_PAIRS[0]) for a in ACTIVATION_CODES] + [("tanh", pair) for pair in LOSS_PAIRS[1:]]


def problem(kind, dtype, n=9, n_features=3, n_outputs=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = {
        "real": lambda: rng.normal(size=(n, n_outputs)),
        "count": lambda: rng.poisson(1.5, size=(n, n_outputs)).astype(float),
        "onehot": lambda: np.eye(n_outputs)[rng.randint(n_outputs, size=n)],
        "binary": lambda: (rng.rand(n, n_outputs) > 0.5).astype(float),
    }[kind]()
    return X.astype(dtype), y.astype(dtype), rng.uniform(0.5, 2.0, n).astype(dtype)


def hyper(dtype, alpha=0.1, param=0.0):
    return O.make_hyper(dtype, alpha=alpha, loss_param=param)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation,pair", COMBINATIONS, ids=[f"{a}-{p[0]}" for a, p in COMBINATIONS])
def test_loss_and_gradient_agree_with_cpu(activation, pair, dtype):
    from fastbp.backends.cuda import CUDABackend

    loss, out, kind = pair
    X, y, sw = problem(kind, dtype)
    layout = Layout([3, 5, 2])
    spec = network_spec(layout, activation, out, loss, dtype)
    theta = np.random.RandomState(1).uniform(-0.7, 0.7, layout.size).astype(dtype)
    data = as_kernel_data(X, y, sw, dtype)
    results = []
    for backend in (CPUBackend(spec), CUDABackend(spec)):
        grad = np.empty_like(theta)
        with backend.limits():
            value = backend.full_batch(data)(theta, grad, hyper(dtype, param=LOSS_PARAM.get(loss, 0.0)))
        results.append((value, grad))
    rtol = TEST_RTOL[np.dtype(dtype).name]
    assert results[1][0] == pytest.approx(results[0][0], rel=rtol)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=rtol, atol=rtol * np.abs(results[0][1]).max())


def test_sparse_gradient_agrees_with_cpu():
    from fastbp.backends.cuda import CUDABackend

    X, y, sw = problem("onehot", np.float64, n=10, n_features=6)
    X[np.abs(X) < 0.8] = 0.0
    layout = Layout([6, 4, 2])
    spec = network_spec(layout, "tanh", "softmax", "log_loss", np.float64, sparse=True)
    theta = np.random.RandomState(2).uniform(-0.5, 0.5, layout.size)
    grads = []
    for backend in (CPUBackend(spec), CUDABackend(spec)):
        grad = np.empty_like(theta)
        with backend.limits():
            backend.full_batch(as_kernel_data(sp.csr_matrix(X), y, sw, np.float64))(theta, grad, hyper(np.float64))
        grads.append(grad)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


def fit_pair(make, X, y, **fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = make(device="cpu").fit(X, y, **fit_kwargs)
        gpu = make(device="cuda").fit(X, y, **fit_kwargs)
    return cpu, gpu


def assert_fits_agree(cpu, gpu, dtype):
    rtol = TEST_RTOL[np.dtype(dtype).name]
    if hasattr(cpu, "loss_curve_"):
        np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=rtol)
    for a, b in zip(gpu.coefs_ + gpu.intercepts_, cpu.coefs_ + cpu.intercepts_):
        assert isinstance(a, np.ndarray) and a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_fit_agrees_with_cpu(solver, dtype):
    X, y, sw = problem("onehot", dtype, n=12)
    labels = y.argmax(1)
    make = lambda device: BackpropClassifier(hidden_layer_sizes=(4,), solver=solver, batch_size=7, max_iter=2,
                                             learning_rate_init=0.05, random_state=0, device=device)
    cpu, gpu = fit_pair(make, X, labels, sample_weight=sw)
    assert_fits_agree(cpu, gpu, dtype)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-4)


def test_regression_poisson_and_early_stopping_agree_with_cpu():
    X, y, _ = problem("count", np.float64, n=14)
    make = lambda device: BackpropRegressor(loss="poisson", hidden_layer_sizes=(3,), batch_size=8, max_iter=2,
                                            early_stopping=True, validation_fraction=0.3, random_state=0, device=device)
    cpu, gpu = fit_pair(make, X, y)
    assert_fits_agree(cpu, gpu, np.float64)
    np.testing.assert_allclose(gpu.validation_scores_, cpu.validation_scores_, rtol=1e-6)


def test_lbfgs_and_multilabel_agree_with_cpu():
    X, y, _ = problem("binary", np.float64, n=10)
    make = lambda device: BackpropClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=2, random_state=0, device=device)
    cpu, gpu = fit_pair(make, X, y.astype(int))
    assert gpu.n_iter_ == cpu.n_iter_
    assert gpu.loss_ == pytest.approx(cpu.loss_, rel=1e-6)
    assert_fits_agree(cpu, gpu, np.float64)


def test_partial_fit_and_warm_start_on_cuda():
    X, y, _ = problem("onehot", np.float64, n=10)
    labels = y.argmax(1)
    models = []
    for device in ("cpu", "cuda"):
        model = BackpropClassifier(hidden_layer_sizes=(3,), batch_size=5, random_state=0, device=device)
        model.partial_fit(X, labels, classes=[0, 1])
        model.partial_fit(X, labels)
        models.append(model)
    assert_fits_agree(models[0], models[1], np.float64)


def test_gpu_model_predicts_on_a_machine_without_gpu(monkeypatch):
    X, y, _ = problem("onehot", np.float64, n=8)
    model = BackpropClassifier(hidden_layer_sizes=(3,), batch_size=8, max_iter=1, random_state=0, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y.argmax(1))
    expected = model.predict_proba(X)
    clone = pickle.loads(pickle.dumps(model))
    import fastbp.backends.cuda as cuda_backend

    monkeypatch.setattr(cuda_backend, "cuda_available", lambda: False)
    np.testing.assert_allclose(clone.predict_proba(X), expected, rtol=1e-10)


@pytest.mark.parametrize("solver", ["adamw", "rmsprop"])
def test_new_solvers_with_penalties_and_clipping_agree_with_cpu(solver):
    X, y, sw = problem("real", np.float64, n=12)
    make = lambda device: BackpropRegressor(hidden_layer_sizes=(4,), solver=solver, batch_size=7, max_iter=2, alpha=0.05,
                                            l1=0.01, max_grad_norm=0.5, learning_rate_init=0.05, random_state=0,
                                            device=device)
    cpu, gpu = fit_pair(make, X, y, sample_weight=sw)
    assert_fits_agree(cpu, gpu, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_masks_and_fit_agree_with_cpu(dtype):
    X, y, _ = problem("onehot", dtype, n=12)
    make = lambda device: BackpropClassifier(hidden_layer_sizes=(5, 4), activation="gelu", dropout=[0.3, 0.5],
                                             batch_size=6, max_iter=2, learning_rate_init=0.05, random_state=0,
                                             device=device)
    cpu, gpu = fit_pair(make, X, y.argmax(1))
    assert_fits_agree(cpu, gpu, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_batch_norm_loss_gradient_and_statistics_agree_with_cpu(activation, dtype):
    from fastbp.backends.cuda import CUDABackend

    X, y, sw = problem("onehot", dtype, n=11)
    layout = Layout([3, 5, 4, 2], batch_norm=True)
    spec = network_spec(layout, activation, "softmax", "log_loss", dtype)
    theta = np.random.RandomState(1).uniform(-0.7, 0.7, layout.size).astype(dtype)
    data = as_kernel_data(X, y, sw, dtype)
    h = hyper(dtype)
    h[O.H_BN_EPSILON] = 1e-5
    results = []
    for make in (CPUBackend, CUDABackend):
        stats = np.zeros((6, 9))
        backend = make(spec, norm_stats=stats)
        grad = np.empty_like(theta)
        with backend.limits():
            value = backend.full_batch(data)(theta, grad, h)
        backend.fetch_norm_stats()
        results.append((value, grad, stats))
    rtol = TEST_RTOL[np.dtype(dtype).name]
    (v0, g0, s0), (v1, g1, s1) = results
    assert v1 == pytest.approx(v0, rel=rtol)
    np.testing.assert_allclose(g1, g0, rtol=rtol, atol=rtol * np.abs(g0).max())
    np.testing.assert_allclose(s1[2:4], s0[2:4], rtol=rtol, atol=1e-12)
    assert np.abs(g0[layout.base_size :]).max() > 1e-3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_norm_fit_with_dropout_agrees_with_cpu(dtype):
    X, y, _ = problem("onehot", dtype, n=13)
    make = lambda device: BackpropClassifier(hidden_layer_sizes=(5, 4), batch_norm=True, dropout=0.2,
                                             batch_size=6, max_iter=2, learning_rate_init=0.05, random_state=0,
                                             device=device)
    cpu, gpu = fit_pair(make, X, y.argmax(1))
    assert_fits_agree(cpu, gpu, dtype)
    rtol = TEST_RTOL[np.dtype(dtype).name]
    for name in ("batch_norm_scales_", "batch_norm_shifts_", "batch_norm_means_", "batch_norm_vars_"):
        for a, b in zip(getattr(gpu, name), getattr(cpu, name)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-4, atol=1e-6)


def test_batch_norm_lbfgs_and_restored_best_weights_agree_with_cpu():
    X, y, _ = problem("real", np.float64, n=12)
    make = lambda device: BackpropRegressor(hidden_layer_sizes=(4,), batch_norm=True, solver="lbfgs", max_iter=3,
                                            random_state=0, device=device)
    cpu, gpu = fit_pair(make, X, y)
    assert_fits_agree(cpu, gpu, np.float64)
    np.testing.assert_allclose(gpu.batch_norm_vars_[0], cpu.batch_norm_vars_[0], rtol=1e-8)
    X_val, y_val, _ = problem("real", np.float64, n=6, seed=5)
    make = lambda device: BackpropRegressor(hidden_layer_sizes=(4,), batch_norm=True, batch_size=5, max_iter=3,
                                            learning_rate_init=0.2, restore_best_weights=True, random_state=0,
                                            device=device)
    cpu, gpu = fit_pair(make, X, y, X_val=X_val, y_val=y_val)
    assert_fits_agree(cpu, gpu, np.float64)
    np.testing.assert_allclose(gpu.batch_norm_means_[0], cpu.batch_norm_means_[0], rtol=1e-8)
    np.testing.assert_allclose(gpu.validation_loss_curve_, cpu.validation_loss_curve_, rtol=1e-8)


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("solver", ["sgd", "adamw", "lbfgs"])
def test_frozen_layers_stay_bit_identical_and_agree_with_cpu(solver, batch_norm):
    X, y, _ = problem("onehot", np.float64, n=14)
    labels = y.argmax(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = BackpropClassifier(hidden_layer_sizes=(5, 4), batch_norm=batch_norm, max_iter=3,
                                    random_state=1).fit(X, labels)
    make = lambda device: BackpropClassifier(hidden_layer_sizes=(5, 4), init_from=source, frozen_layers=1,
                                             solver=solver, batch_norm=batch_norm, alpha=0.05, batch_size=6,
                                             max_iter=3, learning_rate_init=0.05, random_state=0, device=device)
    cpu, gpu = fit_pair(make, X, labels)
    for model in (cpu, gpu):
        assert model.coefs_[0].tobytes() == source.coefs_[0].tobytes()
        assert model.intercepts_[0].tobytes() == source.intercepts_[0].tobytes()
        if batch_norm:
            for name in ("batch_norm_scales_", "batch_norm_shifts_", "batch_norm_means_", "batch_norm_vars_"):
                assert getattr(model, name)[0].tobytes() == getattr(source, name)[0].tobytes(), name
    assert not np.array_equal(gpu.coefs_[1], source.coefs_[1])
    assert_fits_agree(cpu, gpu, np.float64)


@pytest.mark.parametrize("hidden,expected", [((4,), 9), ((4, 3), 12)])
def test_kernel_launches_per_mini_batch_on_the_step_by_step_path(monkeypatch, hidden, expected):
    """The step-by-step executor launches a fixed number of kernels per mini-batch (dense, Adam,
    no extension): with bias and activation, and the activation's derivative, in the products'
    epilogues and the bias gradients from the weight gradients' products, 9 with one hidden
    layer (13 as separate launches) and 12 with two (19)."""
    import os

    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        pytest.skip("counts launches through the simulator's kernel objects")
    import numba.cuda.simulator.kernel as sim

    from fastbp.backends import cuda as backend

    count = [0]
    launch = sim.FakeCUDAKernel.__call__

    def counted(self, *args):
        if not self._device:
            count[0] += 1
        return launch(self, *args)

    per_epoch = []
    epoch = backend.CUDATrainer.epoch

    def counted_epoch(self, order, rng_state, hyper):
        before = count[0]
        loss = epoch(self, order, rng_state, hyper)
        per_epoch.append(count[0] - before)
        return loss

    monkeypatch.setattr(sim.FakeCUDAKernel, "__call__", counted)
    monkeypatch.setattr(backend.CUDATrainer, "epoch", counted_epoch)
    X = np.random.RandomState(0).rand(24, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BackpropClassifier(hidden_layer_sizes=hidden, max_iter=2, batch_size=8, shuffle=False, random_state=0,
                           device="cuda").fit(X, np.arange(24) % 3)
    assert per_epoch == [3 * expected] * 2  # three mini-batches an epoch


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(ACTIVATION_CODES) + ["exp"])
def test_matmul_epilogues_equal_numpy_and_the_separate_kernels(activation, dtype):
    """The fused product's epilogues against NumPy (the nn formulas applied to A @ B + b, and to
    (D @ W.T) * f'(a, z)), and bit for bit against the product followed by the separate kernel."""
    from numba import cuda

    from fastbp.kernels.cuda import activations as K_act
    from fastbp.kernels.cuda import dense as K
    from fastbp.nn import activations as act

    code = act.EXP if activation == "exp" else ACTIVATION_CODES[activation]
    rng = np.random.RandomState(1)
    A, B = rng.standard_normal((9, 6)).astype(dtype), rng.standard_normal((6, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    plan = K.Plan((code, code, 0), [0.0], 0, 0, 0, dtype)
    rows = cuda.to_device(np.arange(9, dtype=np.int64))
    d_A, d_B, d_b = cuda.to_device(A), cuda.to_device(B), cuda.to_device(b)

    fused, pre = cuda.device_array((9, 5), dtype), cuda.device_array((9, 5), dtype)
    K.matmul(plan, d_A, d_B, fused, rows, False, False, False, K.ACTIVATE, code, d_b, pre, True)
    separate, pre2 = cuda.device_array((9, 5), dtype), cuda.device_array((9, 5), dtype)
    K.matmul(plan, d_A, d_B, separate, rows, False, False, False)
    K_act.bias_activate_kernel[4, 16](separate, d_b, code, pre2, True)
    assert fused.copy_to_host().tobytes() == separate.copy_to_host().tobytes()
    assert pre.copy_to_host().tobytes() == pre2.copy_to_host().tobytes()
    Z = (A.astype(np.float64) @ B) + b
    expected = np.vectorize(lambda z: act.activation(z, code))(Z)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused.copy_to_host(), expected, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(pre.copy_to_host(), Z, rtol=rtol, atol=rtol)

    if code == act.EXP:
        return  # an output activation: no derivative in the backward pass
    # Backward: D_prev = (D @ W.T) * f'(a, z), with a = f(z) the layer below's outputs.
    D, W = rng.standard_normal((9, 5)).astype(dtype), rng.standard_normal((6, 5)).astype(dtype)
    z = rng.standard_normal((9, 6)).astype(dtype)
    a = np.vectorize(lambda x: act.activation(x, code))(z).astype(dtype)
    keep = code in act.NEEDS_Z
    out = cuda.device_array((9, 6), dtype)
    K.matmul(plan, cuda.to_device(D), cuda.to_device(W), out, rows, False, False, True, K.DERIVATIVE, code, None,
             cuda.to_device(z), keep, cuda.to_device(a))
    grads = np.vectorize(lambda x, y: act.activation_grad(x, y if keep else x, code))(a.astype(np.float64), z)
    np.testing.assert_allclose(out.copy_to_host(), (D.astype(np.float64) @ W.T) * grads, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_rows", [False, True])
def test_weight_and_bias_gradients_from_one_product(use_rows, dtype):
    """``A[rows].T @ D`` and, from the row of ones below ``A.T``, ``D``'s column sums, against
    NumPy; without ``sums`` the bias array is left alone."""
    from numba import cuda

    from fastbp.kernels.cuda import dense as K

    rng = np.random.RandomState(2)
    A, D = rng.standard_normal((11, 6)).astype(dtype), rng.standard_normal((9, 5)).astype(dtype)
    rows = np.array([3, 0, 7, 7, 10, 1, 2, 9, 5]) if use_rows else np.arange(9)
    A_rows = A[rows] if use_rows else A[:9]
    plan = K.Plan((0, 0, 0), [0.0], 0, 0, 0, dtype)
    d_rows = cuda.to_device(rows.astype(np.int64))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for sums in (True, False):
        G, gb = cuda.device_array((6, 5), dtype), cuda.to_device(np.full(5, 7.0, dtype))
        K.matmul(plan, cuda.to_device(A if use_rows else A[:9]), cuda.to_device(D), G, d_rows, use_rows, True, False,
                 b=gb, sums=sums)
        np.testing.assert_allclose(G.copy_to_host(), A_rows.astype(np.float64).T @ D, rtol=rtol, atol=rtol)
        expected = D.astype(np.float64).sum(axis=0) if sums else np.full(5, 7.0)
        np.testing.assert_allclose(gb.copy_to_host(), expected, rtol=rtol, atol=rtol)
