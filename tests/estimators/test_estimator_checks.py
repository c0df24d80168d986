"""scikit-learn's estimator checks, with nothing marked as expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastbp import BackpropClassifier, BackpropRegressor


@parametrize_with_checks([
    BackpropClassifier(max_iter=100),
    BackpropRegressor(max_iter=100),
    BackpropClassifier(max_iter=100, batch_norm=True),
    BackpropRegressor(max_iter=100, batch_norm=True),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
