"""The scikit-learn face of fastbp."""

from fastbp.estimators.classifier import BackpropClassifier
from fastbp.estimators.regressor import BackpropRegressor

__all__ = ["BackpropClassifier", "BackpropRegressor"]
