"""Weight initialisation: scikit-learn's draws for the same seed, and He's bound."""

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from fastbp.nn.init import glorot_uniform


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
def test_glorot_draws_are_scikit_learns(activation):
    X = np.random.RandomState(0).rand(20, 4)
    y = np.arange(20) % 3
    # one epoch at a rate far too small to move a weight: the fitted weights are the initial draws
    sk = MLPClassifier(hidden_layer_sizes=(6, 5), activation=activation, solver="sgd", momentum=0.0,
                       learning_rate_init=1e-300, max_iter=1, shuffle=False, random_state=3)
    with pytest.warns(Warning):
        sk.fit(X, y)
    coefs, intercepts = glorot_uniform(np.random.RandomState(3), [4, 6, 5, 3], activation, np.float64)
    for a, b in zip(coefs + intercepts, sk.coefs_ + sk.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_glorot_bounds_and_dtype():
    coefs, intercepts = glorot_uniform(np.random.RandomState(0), [200, 300, 10], "relu", np.float32)
    assert all(c.dtype == np.float32 for c in coefs + intercepts)
    bound = np.sqrt(6.0 / 500)
    assert np.abs(coefs[0]).max() <= bound and np.abs(coefs[0]).max() > 0.95 * bound
    logistic = glorot_uniform(np.random.RandomState(0), [200, 300], "logistic", np.float64)[0][0]
    assert np.abs(logistic).max() <= np.sqrt(2.0 / 500) < bound


def test_he_uses_the_fan_in_only_and_the_same_number_of_draws():
    rng_g, rng_h = np.random.RandomState(5), np.random.RandomState(5)
    glorot_uniform(rng_g, [50, 20, 3], "relu", np.float64)
    coefs, _ = glorot_uniform(rng_h, [50, 20, 3], "relu", np.float64, scheme="he")
    assert rng_g.randint(1 << 30) == rng_h.randint(1 << 30)  # both generators advanced alike
    assert np.sqrt(6.0 / 50) * 0.95 < np.abs(coefs[0]).max() <= np.sqrt(6.0 / 50)
    assert np.abs(coefs[1]).max() <= np.sqrt(6.0 / 20)
