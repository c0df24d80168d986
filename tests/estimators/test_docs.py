"""The docstring examples run (and their outputs hold)."""

import doctest

import pytest

import fastbp._precompile
import fastbp.estimators.classifier
import fastbp.estimators.regressor


@pytest.mark.parametrize("module", [fastbp.estimators.classifier, fastbp.estimators.regressor, fastbp._precompile])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_callable_is_documented():
    for cls in (fastbp.BackpropClassifier, fastbp.BackpropRegressor):
        assert "Parameters" in cls.__doc__ and "hidden_layer_sizes :" in cls.__doc__
        for name in ("fit", "predict", "partial_fit"):
            assert "Parameters" in getattr(cls, name).__doc__
    assert "Parameters" in fastbp.precompile.__doc__ and "Returns" in fastbp.precompile.__doc__
