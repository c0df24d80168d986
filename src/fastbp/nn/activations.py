"""Scalar activation functions and their derivatives.

Each hidden activation has a forward function ``f(z)`` and a derivative written
in terms of the *output* ``a = f(z)``, as backpropagation only keeps the
outputs of each layer.  Activations are selected inside the kernels by a small
integer code (see :data:`ACTIVATION_CODES`), so one compiled kernel serves
every activation.
"""

import math

IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
# Output-only activations.
SOFTMAX = 4
EXP = 5

#: Hidden activations accepted by the ``activation`` parameter.
ACTIVATION_CODES = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}

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


def identity_grad(a):
    """Derivative of the identity, :math:`f'(z) = 1`."""
    return 1.0


def logistic(z):
    r"""Logistic sigmoid, :math:`f(z) = 1 / (1 + e^{-z})`."""
    return 1.0 / (1.0 + math.exp(-z))


def logistic_grad(a):
    r"""Derivative of the sigmoid from its output, :math:`a (1 - a)`."""
    return a * (1.0 - a)


def tanh(z):
    r"""Hyperbolic tangent, :math:`f(z) = \tanh z`."""
    return math.tanh(z)


def tanh_grad(a):
    r"""Derivative of tanh from its output, :math:`1 - a^2`."""
    return 1.0 - a * a


def relu(z):
    r"""Rectified linear unit, :math:`f(z) = \max(z, 0)`."""
    return z if z > 0.0 else 0.0 * z


def relu_grad(a):
    """Derivative of ReLU from its output: 0 where ``a == 0``, else 1."""
    return 0.0 if a == 0.0 else 1.0
