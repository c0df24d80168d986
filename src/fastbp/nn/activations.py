"""Scalar activation functions and their derivatives.

Each hidden activation has a forward function ``f(z)`` and a derivative
``f'(a, z)`` given both the output ``a = f(z)`` and the pre-activation ``z``.
Most derivatives need only ``a`` (which backpropagation keeps anyway); GELU
and SiLU need ``z``, which the kernels then keep too (see :data:`NEEDS_Z`).  Activations are selected inside the kernels by a small
integer code (see :data:`ACTIVATION_CODES`), so one compiled kernel serves
every activation: :func:`activation` and :func:`activation_grad` are the
ladders from code to function (the GPU's element-wise kernels compile them;
the CPU's kernels choose a whole written-out loop per code instead, which
vectorises).
"""

import math

IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
# Output-only activations.
SOFTMAX = 4
EXP = 5
# Hidden activations beyond scikit-learn's four (codes from FIRST_EXTRA up).
FIRST_EXTRA = 6
LEAKY_RELU = 6
ELU = 7
GELU = 8
SILU = 9
SOFTPLUS = 10

#: Hidden activations accepted by the ``activation`` parameter.
ACTIVATION_CODES = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SILU,
    "softplus": SOFTPLUS,
}

#: Activations whose derivative needs the pre-activation ``z``.
NEEDS_Z = (GELU, SILU)

#: Slope of leaky ReLU for negative inputs.
LEAKY_SLOPE = 0.01

#: Output activations, chosen from the task and the loss.
OUTPUT_CODES = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "softmax": SOFTMAX,
    "exp": EXP,
}


def identity(z):
    """Identity, :math:`f(z) = z`."""
    return z


def identity_grad(a, z):
    """Derivative of the identity, :math:`f'(z) = 1`."""
    return 1.0


def logistic(z):
    r"""Logistic sigmoid, :math:`f(z) = 1 / (1 + e^{-z})`."""
    return 1.0 / (1.0 + math.exp(-z))


def logistic_grad(a, z):
    r"""Derivative of the sigmoid from its output, :math:`a (1 - a)`."""
    return a * (1.0 - a)


def tanh(z):
    r"""Hyperbolic tangent, :math:`f(z) = \tanh z`."""
    return math.tanh(z)


def tanh_grad(a, z):
    r"""Derivative of tanh from its output, :math:`1 - a^2`."""
    return 1.0 - a * a


def relu(z):
    r"""Rectified linear unit, :math:`f(z) = \max(z, 0)`."""
    return z if z > 0.0 else 0.0 * z


def relu_grad(a, z):
    """Derivative of ReLU from its output: 0 where ``a == 0``, else 1."""
    return 0.0 if a == 0.0 else 1.0


def leaky_relu(z):
    r"""Leaky ReLU, :math:`f(z) = z` for :math:`z > 0`, else :math:`0.01 z`."""
    return z if z > 0.0 else 0.01 * z


def leaky_relu_grad(a, z):
    """Derivative of leaky ReLU from its output: 1 where ``a > 0``, else 0.01."""
    return 1.0 if a > 0.0 else 0.01


def elu(z):
    r"""ELU, :math:`f(z) = z` for :math:`z > 0`, else :math:`e^z - 1`."""
    return z if z > 0.0 else math.expm1(z)


def elu_grad(a, z):
    r"""Derivative of ELU from its output: 1 where ``a > 0``, else :math:`a + 1 = e^z`."""
    return 1.0 if a > 0.0 else a + 1.0


def gelu(z):
    r"""GELU (exact), :math:`f(z) = z \Phi(z) = \tfrac{z}{2}(1 + \operatorname{erf}(z/\sqrt2))`."""
    return 0.5 * z * (1.0 + math.erf(z * 0.7071067811865476))


def gelu_grad(a, z):
    r"""Derivative of GELU, :math:`\Phi(z) + z \varphi(z)`."""
    return 0.5 * (1.0 + math.erf(z * 0.7071067811865476)) + z * 0.3989422804014327 * math.exp(-0.5 * z * z)


def silu(z):
    r"""SiLU (swish), :math:`f(z) = z / (1 + e^{-z})`."""
    return z / (1.0 + math.exp(-z))


def silu_grad(a, z):
    r"""Derivative of SiLU, :math:`\sigma(z) (1 + z (1 - \sigma(z)))`."""
    s = 1.0 / (1.0 + math.exp(-z))
    return s * (1.0 + z * (1.0 - s))


def softplus(z):
    r"""Softplus, :math:`f(z) = \log(1 + e^z)`, computed without overflow."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def softplus_grad(a, z):
    r"""Derivative of softplus from its output, :math:`\sigma(z) = 1 - e^{-a}`."""
    return -math.expm1(-a)


def activation(z, code):
    """The activation of code ``code`` at ``z`` (any code but ``SOFTMAX``, which is not element-wise)."""
    if code == RELU:
        return relu(z)
    if code == TANH:
        return tanh(z)
    if code == LOGISTIC:
        return logistic(z)
    if code == EXP:
        return math.exp(z)
    if code == LEAKY_RELU:
        return leaky_relu(z)
    if code == ELU:
        return elu(z)
    if code == GELU:
        return gelu(z)
    if code == SILU:
        return silu(z)
    if code == SOFTPLUS:
        return softplus(z)
    return identity(z)


def activation_grad(a, z, code):
    """Derivative of the hidden activation ``code`` given its output ``a`` and input ``z``."""
    if code == RELU:
        return relu_grad(a, z)
    if code == TANH:
        return tanh_grad(a, z)
    if code == LOGISTIC:
        return logistic_grad(a, z)
    if code == LEAKY_RELU:
        return leaky_relu_grad(a, z)
    if code == ELU:
        return elu_grad(a, z)
    if code == GELU:
        return gelu_grad(a, z)
    if code == SILU:
        return silu_grad(a, z)
    if code == SOFTPLUS:
        return softplus_grad(a, z)
    return identity_grad(a, z)
