"""fastbp: dense neural networks trained by compiled backpropagation.

Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``
whose training epochs run in Numba-compiled code.
"""

from fastbp._precompile import precompile
from fastbp.estimators import BackpropClassifier, BackpropRegressor

__version__ = "0.1.0"

__all__ = ["BackpropClassifier", "BackpropRegressor", "precompile", "__version__"]
