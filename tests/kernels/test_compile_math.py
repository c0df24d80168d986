"""fastbp.kernels.compile_math: one math module, compiled for a target with the calls between
its functions resolved to their compiled twins."""

import math
import types

import numba
import numpy as np
import pytest

from fastbp.kernels import compile_math
from fastbp.kernels.cpu._jit import inline
from fastbp.nn import activations as act
from fastbp.nn import losses as L


def make_math_module():
    """A small math module whose ladder calls two formulas and reads a module constant."""
    module = types.ModuleType("fastbp_test_math")
    source = (
        "import math\n"
        "SCALE = 3.0\n"
        "def double(x):\n    return 2.0 * x\n"
        "def root(x):\n    return math.sqrt(x)\n"
        "def ladder(x, code):\n"
        "    if code == 0:\n        return SCALE * double(x)\n"
        "    return root(x)\n"
    )
    exec(compile(source, "<fastbp_test_math>", "exec"), module.__dict__)
    return module


def test_calls_between_functions_resolve_to_the_twins():
    module = make_math_module()
    compiled = []

    def wrap(func):
        compiled.append(func.__name__)
        return numba.njit(func)

    twin = compile_math(module, wrap, "cpu")
    assert sorted(compiled) == ["double", "ladder", "root"]
    assert twin.__name__ == "fastbp_test_math[cpu]" and twin.SCALE == 3.0 and twin.math is math
    assert isinstance(twin.ladder, numba.core.registry.CPUDispatcher)
    assert twin.ladder(2.0, 0) == 12.0 and twin.ladder(9.0, 1) == 3.0
    # The ladder's compiled code called the twins (each compiled, for float64, on the way).
    assert twin.double.signatures and twin.root.signatures
    # The plain module is untouched: its functions are the plain ones, and they still work.
    assert isinstance(module.ladder, types.FunctionType) and module.ladder(2.0, 0) == 12.0


def test_twins_compile_inside_a_kernel_through_module_attributes():
    twin = compile_math(act, inline, "cpu")

    @numba.njit
    def apply(z, code):
        out = np.empty_like(z)
        for i in range(z.shape[0]):
            out[i] = twin.activation(z[i], code)
        return out

    z = np.linspace(-3, 3, 13)
    for name, code in act.ACTIVATION_CODES.items():
        expected = [act.activation(x, code) for x in z]
        np.testing.assert_allclose(apply(z, code), expected, rtol=1e-15, atol=1e-300, err_msg=name)


def test_ladders_of_both_devices_are_the_ones_in_nn():
    from fastbp.kernels.cpu import activations as cpu_act
    from fastbp.kernels.cpu import losses as cpu_losses

    assert cpu_losses.M.element_delta.py_func.__code__ is L.element_delta.__code__
    assert cpu_act.acts.gelu.py_func.__code__ is act.gelu.__code__


LOSS_M = compile_math(L, inline, "cpu")


@numba.njit
def compiled_losses(y, p, code, eps, param):
    """Every loss ladder of nn.losses, as the CPU kernels compile them."""
    return (
        LOSS_M.element_loss(y, p, code, eps, param),
        LOSS_M.element_delta(y, p, code, param),
        LOSS_M.canonical_loss(y, p, code, eps) if code < L.ABSOLUTE_ERROR else LOSS_M.extra_loss(y, p, code, param),
    )


@pytest.mark.parametrize("name, code", list(L.LOSS_CODES.items()))
def test_loss_ladders_compiled_for_the_cpu_equal_the_python_ones(name, code):
    eps, param = 1e-7, 0.4
    for y, p in [(0.0, 0.3), (1.0, 0.7), (2.0, 2.5), (0.5, 0.5)]:
        split = L.canonical_loss(y, p, code, eps) if code in L.CANONICAL else L.extra_loss(y, p, code, param)
        expected = (L.element_loss(y, p, code, eps, param), L.element_delta(y, p, code, param), split)
        assert expected[0] == expected[2]
        assert compiled_losses(y, p, code, eps, param) == pytest.approx(expected, rel=1e-15, abs=1e-300), (y, p)
