"""The flat parameter buffer: offsets, packing and views, checked against scikit-learn's
own packing order (``MLP._pack``: every weight matrix row-major, then every bias)."""

import numpy as np
import pytest

from fastbp.nn.layout import Layout


@pytest.mark.parametrize("units", [[4, 3], [5, 7, 2], [3, 6, 4, 1], [2, 1, 1, 1]])
def test_offsets_and_sizes(units):
    layout = Layout(units)
    sizes = [a * b for a, b in zip(units[:-1], units[1:])]
    assert layout.n_coef == sum(sizes)
    assert list(layout.w_off) == list(np.cumsum([0] + sizes)[:-1])
    assert list(layout.b_off) == list(sum(sizes) + np.cumsum([0] + units[1:])[:-1])
    assert layout.size == layout.base_size == sum(sizes) + sum(units[1:])
    assert layout.g_off.size == 0 and not layout.batch_norm


def test_pack_is_scikit_learns_order_and_unpack_gives_views():
    rng = np.random.RandomState(0)
    units = [3, 5, 4, 2]
    coefs = [rng.normal(size=(a, b)) for a, b in zip(units[:-1], units[1:])]
    intercepts = [rng.normal(size=b) for b in units[1:]]
    layout = Layout(units)
    flat = layout.pack(coefs, intercepts, np.float64)
    expected = np.concatenate([c.ravel() for c in coefs] + intercepts)  # sklearn's _pack order
    np.testing.assert_array_equal(flat, expected)
    c2, i2 = layout.unpack(flat)
    for a, b in zip(c2 + i2, coefs + intercepts):
        np.testing.assert_array_equal(a, b)
        assert np.shares_memory(a, flat)
    c2[1][0, 0] = 123.0  # a view: writes land in the buffer
    assert flat[layout.w_off[1]] == 123.0


def test_batch_norm_parameters_follow_the_base_buffer():
    units = [3, 5, 4, 2]
    plain, normed = Layout(units), Layout(units, batch_norm=True)
    assert normed.base_size == plain.size
    assert normed.size == plain.size + 2 * (5 + 4)
    assert list(normed.g_off) == [plain.size, plain.size + 2 * 5]
    rng = np.random.RandomState(1)
    coefs = [rng.normal(size=(a, b)) for a, b in zip(units[:-1], units[1:])]
    intercepts = [rng.normal(size=b) for b in units[1:]]
    scales, shifts = [rng.normal(size=5), rng.normal(size=4)], [rng.normal(size=5), rng.normal(size=4)]
    flat = normed.pack(coefs, intercepts, np.float32, scales, shifts)
    assert flat.dtype == np.float32
    np.testing.assert_array_equal(flat[: plain.size], plain.pack(coefs, intercepts, np.float32))
    got_scales, got_shifts = normed.unpack_norm(flat)
    for a, b in zip(got_scales + got_shifts, scales + shifts):
        np.testing.assert_array_equal(a, b.astype(np.float32))
