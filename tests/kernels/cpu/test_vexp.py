"""The softmax's vectorisable exponential (``fastbp.kernels.cpu.activations.vexp``)
against the exact value: float32 within one ulp wherever the result is a
normal float32, 0 below, and float64 through ``math.exp`` unchanged."""

import math

import numba
import numpy as np

from fastbp.kernels.cpu.activations import vexp


@numba.njit
def _apply(x, out):
    for k in range(x.shape[0]):
        out[k] = vexp(x[k])


def test_float32_within_one_ulp_and_zero_below_the_normal_range():
    x = np.linspace(-110.0, 88.0, 400_001).astype(np.float32)
    x = np.concatenate([x, np.float32([0.0, -0.0, 1e-8, -1e-8, -87.3365, -87.3366, 88.0])])
    out = np.empty_like(x)
    _apply(x, out)
    assert out.dtype == np.float32
    exact = np.exp(x.astype(np.float64))
    normal = exact >= np.finfo(np.float32).tiny
    ulps = np.abs(out[normal] - exact[normal]) / np.spacing(exact[normal].astype(np.float32))
    assert ulps.max() <= 1.0, ulps.max()
    assert np.all(out[~normal] == 0.0) and np.all(out[~normal] < np.finfo(np.float32).tiny)
    assert out[x == 0.0].tolist() == [1.0, 1.0]


def test_float64_is_math_exp():
    x = np.linspace(-700.0, 700.0, 10_001)
    out = np.empty_like(x)
    _apply(x, out)
    assert out.tolist() == [math.exp(v) for v in x]
