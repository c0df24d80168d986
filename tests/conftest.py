"""Shared test configuration: the digits data the tests train on, and the Hypothesis
profiles of the property-based tests.

``ci`` (the default): a fixed number of examples, drawn deterministically, no deadline
(the first example of a test may compile kernels).  ``dev``: more examples, drawn at
random; select it with ``HYPOTHESIS_PROFILE=dev``.
"""

import os

import pytest
from hypothesis import HealthCheck, settings
from sklearn.datasets import load_digits

settings.register_profile(
    "ci",
    max_examples=120,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="package")
def digits_all():
    """scikit-learn's bundled digits, X scaled to [0, 1]: (1797 x 64 floats, labels 0-9),
    loaded once for the whole test directory."""
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y
