"""The optimizer's formulas (fastbp.optim.steps) against closed forms written with NumPy, as
plain Python and as the CPU kernels compile them, and the per-step constants."""

import math

import numba
import numpy as np
import pytest

from fastbp import optim as O
from fastbp.kernels.cpu.optim import S
from fastbp.optim import steps

SOLVERS = ["sgd", "nesterov", "rmsprop", "adam", "adamw"]


def hyper_of(solver):
    name = "sgd" if solver == "nesterov" else solver
    return O.make_hyper(
        np.float64, solver=name, learning_rate=0.03, momentum=0.8, nesterov=solver == "nesterov",
        beta_1=0.85, beta_2=0.97, epsilon=1e-6, alpha=0.02,
    )


def numpy_steps(solver, theta, grads, hyper):
    """``len(grads)`` steps of ``solver`` from ``theta``, written with NumPy from the papers'
    formulas (not from fastbp.optim.steps)."""
    lr, mu = 0.03, 0.8
    b1, b2, eps = 0.85, 0.97, 1e-6
    theta = theta.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        if solver in ("sgd", "nesterov"):
            m = mu * m - lr * g
            theta = theta + (mu * m - lr * g if solver == "nesterov" else m)
        elif solver == "rmsprop":
            v = b2 * v + (1 - b2) * g**2
            theta = theta - lr * g / (np.sqrt(v) + eps)
        else:
            # Kingma & Ba's efficient form (section 2): the bias correction folded into the
            # rate, epsilon added to sqrt(v) (as scikit-learn does); AdamW's decay decoupled.
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            decay = 0.02 if solver == "adamw" else 0.0
            theta = theta * (1 - lr * decay) - lr_t * m / (np.sqrt(v) + eps)
    return theta, m, v


def run_steps(step_fn, constants_fn, solver, theta, grads, hyper):
    theta = theta.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    code = int(hyper[O.H_SOLVER])
    for t, g in enumerate(grads, start=1):
        c = np.asarray(constants_fn(hyper, t), dtype=theta.dtype)
        for k in range(theta.size):
            step_fn(theta, m, v, k, g[k], theta[k], code, c)
    return theta, m, v


@numba.njit
def compiled_step(theta, m, v, k, g, th, solver, c):
    S.step(theta, m, v, k, g, th, solver, c)


@numba.njit
def compiled_constants(hyper, t):
    return S.solver_constants(hyper, t)


@pytest.fixture
def problem():
    rng = np.random.RandomState(3)
    return rng.standard_normal(40), [rng.standard_normal(40) for _ in range(4)]


@pytest.mark.parametrize("compiled", [False, True], ids=["python", "cpu"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_steps_match_the_closed_forms(problem, solver, compiled):
    theta0, grads = problem
    hyper = hyper_of(solver)
    step_fn, constants_fn = (compiled_step, compiled_constants) if compiled else (steps.step, steps.solver_constants)
    theta, m, v = run_steps(step_fn, constants_fn, solver, theta0, grads, hyper)
    expected, m_ref, v_ref = numpy_steps(solver, theta0, grads, hyper)
    np.testing.assert_allclose(theta, expected, rtol=1e-13, atol=1e-15)
    if solver != "sgd" and solver != "nesterov":
        np.testing.assert_allclose(v, v_ref, rtol=1e-13)
    if solver != "rmsprop":
        np.testing.assert_allclose(m, m_ref, rtol=1e-13, atol=1e-15)
    assert not np.array_equal(theta, theta0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_compiled_steps_equal_python_bit_for_bit_in_float64(problem, solver):
    theta0, grads = problem
    hyper = hyper_of(solver)
    a = run_steps(steps.step, steps.solver_constants, solver, theta0, grads, hyper)
    b = run_steps(compiled_step, compiled_constants, solver, theta0, grads, hyper)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=2e-16, atol=0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_steps_stay_close_to_float64(problem, solver):
    theta0, grads = problem
    hyper = hyper_of(solver)
    a = run_steps(compiled_step, compiled_constants, solver, theta0, grads, hyper)[0]
    b = run_steps(compiled_step, compiled_constants, solver, theta0.astype(np.float32),
                  [g.astype(np.float32) for g in grads], hyper)[0]
    assert b.dtype == np.float32
    np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)


def test_solver_constants_name_each_solvers_values():
    hyper = hyper_of("adamw")
    lr_t, b1, one_minus_b1, b2, one_minus_b2, eps, decay = steps.solver_constants(hyper, 3)
    assert lr_t == pytest.approx(0.03 * math.sqrt(1 - 0.97**3) / (1 - 0.85**3), rel=1e-15)
    assert (b1, one_minus_b1, b2, one_minus_b2, eps) == (0.85, 1 - 0.85, 0.97, 1 - 0.97, 1e-6)
    assert decay == pytest.approx(0.03 * 0.02) and steps.DECAY == 6
    assert steps.solver_constants(hyper_of("adam"), 3)[steps.DECAY] == 0.0
    assert steps.solver_constants(hyper_of("rmsprop"), 1)[:4] == (0.03, 0.97, 1 - 0.97, 1e-6)
    assert steps.solver_constants(hyper_of("nesterov"), 1)[:3] == (0.03, 0.8, 1.0)
    assert steps.solver_constants(hyper_of("sgd"), 1)[:3] == (0.03, 0.8, 0.0)
    for solver in SOLVERS:
        assert len(steps.solver_constants(hyper_of(solver), 1)) == steps.N_CONSTANTS
        assert compiled_constants(hyper_of(solver), 2) == pytest.approx(steps.solver_constants(hyper_of(solver), 2), rel=1e-15)


@pytest.mark.parametrize("th", [-0.7, 0.0, 0.4])
def test_penalised_gradient_and_penalty(th):
    g = steps.penalised_gradient(0.5, th, 0.1, 0.03, 0.25)
    assert g == pytest.approx((0.5 + 0.1 * th + 0.03 * np.sign(th)) * 0.25, rel=1e-15)
    assert steps.penalised_gradient(0.5, th, 0.0, 0.0, 0.25) == 0.125  # no penalty: exact
    w = np.array([0.3, -1.2, th])
    assert steps.penalty(0.1, 0.03, (w**2).sum(), np.abs(w).sum(), 4.0) == pytest.approx(
        (0.05 * (w**2).sum() + 0.03 * np.abs(w).sum()) / 4.0, rel=1e-15
    )
