"""ONNX export through skl2onnx (the ``fastbp[onnx]`` extra).

Importing this module registers a shape calculator and a converter for
:class:`~fastbp.BackpropClassifier` and :class:`~fastbp.BackpropRegressor`
with skl2onnx; ``skl2onnx.to_onnx(model_or_pipeline, X[:1])`` then converts
them as it converts scikit-learn's MLP, options included (``zipmap``,
``nocl``)::

    import fastbp.onnx  # noqa: F401  (registers the converters)
    onx = skl2onnx.to_onnx(pipeline, X[:1].astype(np.float32))

``import fastbp`` never imports skl2onnx.  The graph is the prediction network:
one ``MatMul`` and ``Add`` per layer (batch normalisation folded into the
weights with the running statistics, as prediction does), each hidden
activation as ONNX operators (GELU from ``Erf``, SiLU from ``Sigmoid``,
softplus as :math:`\\max(z, 0) + \\log(1 + e^{-|z|})`, the formulas fastbp
computes), the output activation, then the labels and probabilities of a
classifier.  Float input gives a float graph; double input (``X`` in float64)
a double graph (where GELU's ``Erf``, which onnxruntime has for float only,
is a series of elementary operators, :func:`_erf`).
"""

import numpy as np
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, guess_proto_type
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from skl2onnx.proto import onnx_proto
from sklearn.utils.validation import check_is_fitted

from fastbp import BackpropClassifier, BackpropRegressor
from fastbp.nn.activations import LEAKY_SLOPE
from fastbp.nn.layout import Layout
from fastbp.nn.norm import prediction_parameters

__all__ = ["HIDDEN_ACTIVATIONS"]

#: Hidden activations the converter writes (every one fastbp has).
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus")
_OUTPUTS = ("identity", "logistic", "softmax", "exp")


class _Graph:
    """Small helper around skl2onnx's scope and container: unique names and one-line nodes."""

    def __init__(self, scope, container, proto):
        self.scope, self.container, self.proto = scope, container, proto

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def node(self, op, inputs, hint, **attrs):
        out = self.name(hint)
        self.container.add_node(op, inputs, out, name=self.scope.get_unique_operator_name(op), **attrs)
        return out

    def const(self, hint, values, proto=None):
        values = np.asarray(values)
        name = self.name(hint)
        self.container.add_initializer(name, proto or self.proto, list(values.shape), values.ravel().tolist())
        return name


def _activation(g, code_name, z):
    """The ONNX nodes of activation ``code_name`` applied to ``z``; returns the output name."""
    if code_name == "identity":
        return z
    if code_name == "logistic":
        return g.node("Sigmoid", [z], "sigmoid")
    if code_name == "tanh":
        return g.node("Tanh", [z], "tanh")
    if code_name == "relu":
        return g.node("Relu", [z], "relu")
    # (onnxruntime has LeakyRelu and Elu for float only: both are composed, for every dtype)
    if code_name == "leaky_relu":  # max(z, 0.01 z) is z for z > 0, 0.01 z otherwise
        return g.node("Max", [z, g.node("Mul", [z, g.const("slope", [LEAKY_SLOPE])], "leaky_scaled")], "leaky_relu")
    if code_name == "elu":
        positive = g.node("Greater", [z, g.const("zero", [0.0])], "elu_positive")
        expm1 = g.node("Sub", [g.node("Exp", [z], "elu_exp"), g.const("one", [1.0])], "elu_expm1")
        return g.node("Where", [positive, z, expm1], "elu")
    if code_name == "gelu":  # z / 2 (1 + erf(z / sqrt 2))
        scaled = g.node("Mul", [z, g.const("inv_sqrt2", [0.7071067811865476])], "gelu_scaled")
        erf = g.node("Erf", [scaled], "gelu_erf") if g.proto != onnx_proto.TensorProto.DOUBLE else _erf(g, scaled)
        one_plus = g.node("Add", [erf, g.const("one", [1.0])], "gelu_cdf2")
        half_z = g.node("Mul", [z, g.const("half", [0.5])], "gelu_half")
        return g.node("Mul", [half_z, one_plus], "gelu")
    if code_name == "silu":
        return g.node("Mul", [z, g.node("Sigmoid", [z], "silu_sigmoid")], "silu")
    if code_name == "softplus":  # max(z, 0) + log(1 + exp(-|z|)), without overflow
        neg_abs = g.node("Neg", [g.node("Abs", [z], "softplus_abs")], "softplus_negabs")
        log1p = g.node("Log", [g.node("Add", [g.node("Exp", [neg_abs], "softplus_exp"), g.const("one", [1.0])],
                                      "softplus_1p")], "softplus_log")
        return g.node("Add", [g.node("Relu", [z], "softplus_relu"), log1p], "softplus")
    if code_name == "softmax":
        return g.node("Softmax", [z], "softmax", axis=1)
    if code_name == "exp":
        return g.node("Exp", [z], "exp")
    raise ValueError(f"activation {code_name!r} cannot be exported to ONNX.")


#: Terms of the series of :func:`_erf` (within 9e-15 of the exact erf over all doubles).
ERF_TERMS = 100


def _erf(g, x):
    r"""erf of ``x`` from elementary operators, for double graphs (onnxruntime's ``Erf`` is
    float only): :math:`\operatorname{erf}(x) = \frac{2}{\sqrt\pi} e^{-x^2} \sum_{n \ge 0}
    \frac{2^n x^{2n+1}}{1 \cdot 3 \cdots (2n+1)}`, with ``x`` clipped to [-6, 6] (beyond, erf
    is :math:`\pm 1` in double precision).  Every term has the sign of ``x``, so the sum
    does not cancel; :data:`ERF_TERMS` terms reach 9e-15 of the exact value."""
    c = g.node("Min", [g.node("Max", [x, g.const("erf_lo", [-6.0])], "erf_max"), g.const("erf_hi", [6.0])], "erf_x")
    c2 = g.node("Mul", [c, c], "erf_x2")
    two_c2 = g.node("Mul", [c2, g.const("two", [2.0])], "erf_2x2")
    term, total = c, c
    for n in range(1, ERF_TERMS + 1):
        term = g.node("Mul", [g.node("Mul", [term, two_c2], "erf_t"), g.const("inv_odd", [1.0 / (2 * n + 1)])], "erf_term")
        total = g.node("Add", [total, term], "erf_sum")
    gauss = g.node("Exp", [g.node("Neg", [c2], "erf_negx2")], "erf_gauss")
    scale = g.node("Mul", [gauss, g.const("two_over_sqrt_pi", [1.1283791670955126])], "erf_scale")
    return g.node("Mul", [scale, total], "erf")


def _check_exportable(model):
    check_is_fitted(model)
    if model.activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"activation={model.activation!r} cannot be exported to ONNX "
                         f"(supported: {', '.join(HIDDEN_ACTIVATIONS)}).")
    if model.out_activation_ not in _OUTPUTS:
        raise ValueError(f"the output activation {model.out_activation_!r} cannot be exported to ONNX.")


def _network(g, model, x):
    """Cast ``x`` to the graph's dtype and run the prediction network; returns the output name."""
    dtype = np.float64 if g.proto == onnx_proto.TensorProto.DOUBLE else np.float32
    coefs, intercepts = _prediction_weights(model)
    h = g.node("Cast", [x], "cast_input", to=g.proto)
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        z = g.node("Add", [g.node("MatMul", [h, g.const("coef", W.astype(dtype))], "matmul"),
                           g.const("intercept", b.astype(dtype).reshape(1, -1))], "z")
        h = _activation(g, model.activation if l < len(coefs) - 1 else model.out_activation_, z)
    return h


def _prediction_weights(model):
    """The weights prediction uses (batch normalisation folded in), as lists per layer."""
    layout = Layout(model._layer_units(), batch_norm=hasattr(model, "batch_norm_scales_"))
    theta = model._pack(layout, np.float64)
    folded = prediction_parameters(theta, layout, model._norm_stats(), getattr(model, "batch_norm_epsilon", 1e-5))
    return Layout(model._layer_units()).unpack(np.asarray(folded[: layout.base_size]))


def _proto(operator):
    proto = guess_proto_type(operator.inputs[0].type)
    return proto if proto == onnx_proto.TensorProto.DOUBLE else onnx_proto.TensorProto.FLOAT


def convert_regressor(scope, operator, container):
    """skl2onnx converter of :class:`~fastbp.BackpropRegressor`: the network's output."""
    model = operator.raw_operator
    _check_exportable(model)
    g = _Graph(scope, container, _proto(operator))
    out = _network(g, model, operator.inputs[0].full_name)
    container.add_node("Identity", [out], operator.outputs[0].full_name, name=scope.get_unique_operator_name("Id"))


def _classes(model):
    """``(values, proto type)`` of the class labels as ONNX stores them."""
    classes = np.asarray(model.classes_)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64), onnx_proto.TensorProto.INT64
    if classes.dtype.kind in "US" or (classes.dtype.kind == "O" and all(isinstance(c, str) for c in classes)):
        return np.array([str(c).encode("utf-8") for c in classes]), onnx_proto.TensorProto.STRING
    if classes.dtype.kind == "f" and np.array_equal(classes, np.round(classes)):
        return classes.astype(np.int64), onnx_proto.TensorProto.INT64
    raise ValueError(f"classes_ of dtype {classes.dtype} ({classes[:3]!r}...) cannot be exported to ONNX: "
                     "the labels must be integers or strings.")


def convert_classifier(scope, operator, container):
    """skl2onnx converter of :class:`~fastbp.BackpropClassifier`: labels, then probabilities."""
    model = operator.raw_operator
    _check_exportable(model)
    g = _Graph(scope, container, _proto(operator))
    out = _network(g, model, operator.inputs[0].full_name)
    label_name, proba_name = operator.outputs[0].full_name, operator.outputs[1].full_name
    multilabel = model._label_binarizer.y_type_.startswith("multilabel")
    if model.out_activation_ == "logistic" and not multilabel:  # binary: [1 - p, p]
        negative = g.node("Sub", [g.const("one", [1.0]), out], "negative_proba")
        container.add_node("Concat", [negative, out], proba_name, axis=1, name=scope.get_unique_operator_name("Concat"))
    else:
        container.add_node("Identity", [out], proba_name, name=scope.get_unique_operator_name("Id"))
    if multilabel:  # one label per output: p > 0.5, as LabelBinarizer.inverse_transform
        above = g.node("Greater", [out, g.const("half", [0.5])], "above_half")
        container.add_node("Cast", [above], label_name, to=onnx_proto.TensorProto.INT64,
                           name=scope.get_unique_operator_name("Cast"))
        return
    if scope.get_options(model, dict(nocl=False))["nocl"]:  # labels as class indices
        values, proto = np.arange(len(model.classes_), dtype=np.int64), onnx_proto.TensorProto.INT64
    else:
        values, proto = _classes(model)
    index = g.node("ArgMax", [proba_name], "argmax", axis=1, keepdims=0)
    container.add_node("Gather", [g.const("classes", values, proto=proto), index], label_name, axis=0,
                       name=scope.get_unique_operator_name("Gather"))


def classifier_shapes(operator):
    """Output types of a classifier: skl2onnx's, with one label column per output for multilabel."""
    _check_exportable(operator.raw_operator)
    calculate_linear_classifier_output_shapes(operator)
    model = operator.raw_operator
    if model._label_binarizer.y_type_.startswith("multilabel"):
        operator.outputs[0].type.shape = [operator.inputs[0].get_first_dimension(), len(model.classes_)]


def regressor_shapes(operator):
    """Output type of a regressor: ``[N, n_outputs]`` in the graph's dtype."""
    _check_exportable(operator.raw_operator)
    N = operator.inputs[0].get_first_dimension()
    kind = DoubleTensorType if _proto(operator) == onnx_proto.TensorProto.DOUBLE else FloatTensorType
    operator.outputs[0].type = kind([N, operator.raw_operator.n_outputs_])


update_registered_converter(
    BackpropClassifier, "FastbpBackpropClassifier", classifier_shapes, convert_classifier,
    options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
)
update_registered_converter(
    BackpropRegressor, "FastbpBackpropRegressor", regressor_shapes, convert_regressor,
)
