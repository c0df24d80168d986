"""The compiled shuffle reproduces RandomState.shuffle bit for bit."""

import numpy as np
import pytest

from fastbp.kernels.cpu import rng


@pytest.mark.parametrize("seed", [0, 7, 2**31 - 1])
@pytest.mark.parametrize("n", [1, 2, 3, 200, 1797, 70001])
def test_shuffle_matches_randomstate(seed, n):
    reference = np.random.RandomState(seed)
    reference.uniform(size=seed % 5)  # start mid-way through the state
    state = reference.get_state()
    key, pos = state[1].copy(), np.array([state[2]], dtype=np.int64)
    expected, got = np.arange(n), np.arange(n)
    for _ in range(3):  # successive epochs reshuffle the previous order
        reference.shuffle(expected)
        rng.shuffle(got, key, pos)
    np.testing.assert_array_equal(got, expected)
    after = reference.get_state()
    np.testing.assert_array_equal(key, after[1])
    assert pos[0] == after[2]
