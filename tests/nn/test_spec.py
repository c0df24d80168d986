"""The network spec: one field per extension, checked when it is made, and the kernels'
``Net`` record built from it (extension code compiled only where a field asks for it)."""

import numpy as np
import pytest

import fastbp.estimators._base as base
from fastbp import BackpropClassifier, BackpropRegressor
from fastbp.backends.cpu import make_net
from fastbp.nn.layout import Layout
from fastbp.nn.spec import NetworkSpec, network_spec

#: (estimator, parameters) of every extension that changes the compiled kernels, and the
#: spec field that must say so.
EXTENSIONS = [
    (BackpropClassifier, {"activation": "gelu"}, "extra_activation"),
    (BackpropClassifier, {"activation": "leaky_relu"}, "extra_activation"),
    (BackpropRegressor, {"loss": "huber"}, "extra_loss"),
    (BackpropRegressor, {"loss": "quantile"}, "extra_loss"),
    (BackpropClassifier, {"dropout": 0.2}, "uses_dropout"),
    (BackpropClassifier, {"dropout": [0.0, 0.3]}, "uses_dropout"),
    (BackpropClassifier, {"max_grad_norm": 1.0}, "clipping"),
    (BackpropClassifier, {"batch_norm": True}, "batch_norm"),
]
FLAGS = ["extra_activation", "extra_loss", "uses_dropout", "clipping", "batch_norm"]


def specs_of_a_fit(monkeypatch, Est, params):
    seen = []
    make = base.make_backend

    def spy(spec, **kwargs):
        seen.append((spec, kwargs.get("training", True)))
        return make(spec, **kwargs)

    monkeypatch.setattr(base, "make_backend", spy)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    y = np.arange(30) % 2 if Est is BackpropClassifier else X[:, 0]
    model = Est(hidden_layer_sizes=(4, 3), max_iter=2, random_state=0, **params).fit(X, y)
    model.predict(X)
    return seen


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Est,params,flag", EXTENSIONS)
def test_every_extension_parameter_sets_its_field(monkeypatch, Est, params, flag):
    (train, training), (predict, predicting) = specs_of_a_fit(monkeypatch, Est, params)
    assert training and not predicting
    assert getattr(train, flag) and train.extended
    assert [f for f in FLAGS if getattr(train, f)] == [flag]
    assert make_net(train).extensions is not None
    # prediction compiles the extensions only where its own forward pass needs them
    assert predict.extended == (flag in ("extra_activation", "extra_loss", "batch_norm"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_default_fit_uses_no_extension(monkeypatch):
    for spec, _ in specs_of_a_fit(monkeypatch, BackpropClassifier, {}):
        assert not spec.extended and not any(getattr(spec, f) for f in FLAGS)
        assert make_net(spec).extensions is None


@pytest.mark.parametrize("flag", ["extra_activation", "extra_loss", "uses_dropout", "batch_norm"])
def test_a_field_that_disagrees_with_the_network_is_an_error(flag):
    right = network_spec(Layout([3, 4, 2], batch_norm=flag == "batch_norm"),
                         "gelu" if flag == "extra_activation" else "relu", "identity",
                         "huber" if flag == "extra_loss" else "squared_error", np.float64,
                         dropout=[0.2] if flag == "uses_dropout" else ())
    assert getattr(right, flag)
    fields = {k: getattr(right, k) for k in ("layout", "activation", "output", "loss", "dtype", "sparse", "dropout",
                                             "extra_activation", "extra_loss", "uses_dropout", "clipping",
                                             "batch_norm")}
    with pytest.raises(ValueError, match=f"NetworkSpec.{flag} is False"):
        NetworkSpec(**dict(fields, **{flag: False}))


def test_unknown_names_and_wrong_dropout_length_are_errors():
    with pytest.raises(ValueError, match="Unknown activation"):
        network_spec(Layout([3, 4, 2]), "swish", "identity", "squared_error", np.float64)
    with pytest.raises(ValueError, match="2 dropout rates for 1 hidden layers"):
        network_spec(Layout([3, 4, 2]), "relu", "identity", "squared_error", np.float64, dropout=[0.1, 0.2])


def test_net_record_carries_the_dropout_rates_and_seed():
    spec = network_spec(Layout([3, 4, 5, 2]), "relu", "softmax", "log_loss", np.float32, dropout=[0.1, 0.4])
    net = make_net(spec, seed=11)
    np.testing.assert_array_equal(net.extensions, [11, 0, 0.1, 0.4, 0])
    np.testing.assert_array_equal(net.units, [3, 4, 5, 2])
    assert make_net(spec.for_prediction()).extensions is None
