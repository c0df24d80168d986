"""The code -> formula ladders of fastbp.nn, which both devices compile: every code reaches its
own formula, and the derivatives agree with finite differences of the values."""

import numpy as np
import pytest

from fastbp.nn import activations as act
from fastbp.nn import losses as L

HIDDEN = {name: code for name, code in act.ACTIVATION_CODES.items()}
POINTS = [-2.3, -0.4, 0.35, 1.7]


@pytest.mark.parametrize("name, code", list(HIDDEN.items()) + [("exp", act.EXP)])
def test_activation_ladder_reaches_each_function(name, code):
    f = np.exp if name == "exp" else getattr(act, name)
    for z in POINTS:
        assert act.activation(z, code) == f(z)
    if name != "exp":
        for z in POINTS:
            a = f(z)
            assert act.activation_grad(a, z, code) == getattr(act, name + "_grad")(a, z)


@pytest.mark.parametrize("name, code", list(HIDDEN.items()))
def test_activation_grad_is_the_derivative(name, code):
    h = 1e-6
    for z in POINTS:
        numeric = (act.activation(z + h, code) - act.activation(z - h, code)) / (2 * h)
        assert act.activation_grad(act.activation(z, code), z, code) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name, code", list(L.LOSS_CODES.items()))
def test_loss_ladders_reach_each_function(name, code):
    f = getattr(L, name)
    eps, param = 1e-7, 0.3
    for y, p in [(0.0, 0.2), (1.0, 0.6), (0.5, 0.9)]:
        args = (y, p, eps) if name in ("log_loss", "binary_log_loss") else (y, p, param) if code not in L.CANONICAL else (y, p)
        assert L.element_loss(y, p, code, eps, param) == f(*args)


@pytest.mark.parametrize("name", ["absolute_error", "huber", "quantile"])
def test_extra_losses_delta_is_the_derivative(name):
    code = L.LOSS_CODES[name]
    h = 1e-7
    for y, p in [(0.0, 0.2), (1.0, 0.6), (0.5, 0.9), (2.0, 0.1)]:
        numeric = (L.element_loss(y, p + h, code, 0.0, 0.3) - L.element_loss(y, p - h, code, 0.0, 0.3)) / (2 * h)
        assert L.element_delta(y, p, code, 0.3) == pytest.approx(numeric, rel=1e-6)


@pytest.mark.parametrize("name", ["squared_error", "poisson", "log_loss", "binary_log_loss"])
def test_canonical_losses_delta_is_p_minus_y(name):
    assert L.element_delta(0.25, 0.75, L.LOSS_CODES[name], 0.3) == 0.5


def test_batch_loss_averages_squared_error_over_outputs_only():
    assert L.batch_loss(12.0, 2.0, 3, L.SQUARED_ERROR) == 2.0
    for code in (L.POISSON, L.LOG_LOSS, L.BINARY_LOG_LOSS, L.HUBER):
        assert L.batch_loss(12.0, 2.0, 3, code) == 6.0
    assert L.batch_loss(0.0, 0.0, 3, L.LOG_LOSS) == 0.0
