r"""Per-element losses, each paired with its output activation.

Every loss here is the canonical partner of its output activation, so the
derivative of the loss with respect to the output layer's pre-activation is
simply :math:`\hat y - y` (times the sample weight).  That is why no loss
derivative appears in this module: the kernels compute the output delta
directly.

======================  =================  ==========================================
loss                    output activation  per-element value
======================  =================  ==========================================
``squared_error``       identity           :math:`(y - \hat y)^2 / 2`
``poisson``             exp                :math:`y \log(y / \hat y) - y + \hat y`
``log_loss``            softmax            :math:`-y \log \hat y`
``binary_log_loss``     logistic           :math:`-y\log\hat y - (1-y)\log(1-\hat y)`
======================  =================  ==========================================

Probabilities are clipped to :math:`[\epsilon, 1 - \epsilon]` (machine epsilon of
the working dtype) inside the logarithms, as scikit-learn does.
"""

import math

SQUARED_ERROR = 0
POISSON = 1
LOG_LOSS = 2
BINARY_LOG_LOSS = 3

LOSS_CODES = {
    "squared_error": SQUARED_ERROR,
    "poisson": POISSON,
    "log_loss": LOG_LOSS,
    "binary_log_loss": BINARY_LOG_LOSS,
}


# Each function is self-contained (no calls between them) so that every
# compilation target can wrap it on its own.


def squared_error(y, p):
    r"""Half squared error, :math:`(y - p)^2 / 2`."""
    d = y - p
    return 0.5 * d * d


def poisson(y, p):
    r"""Half Poisson deviance of one element, :math:`y \log(y/p) - y + p`."""
    if y == 0.0:
        return p
    return y * math.log(y / p) - y + p


def log_loss(y, p, eps):
    r"""Categorical cross-entropy term, :math:`-y \log p`, ``p`` clipped to ``[eps, 1-eps]``."""
    if y == 0.0:
        return 0.0 * p
    q = min(max(p, eps), 1.0 - eps)
    return -y * math.log(q)


def binary_log_loss(y, p, eps):
    r"""Binary cross-entropy, :math:`-y \log p - (1 - y) \log(1 - p)`, ``p`` clipped."""
    q = min(max(p, eps), 1.0 - eps)
    loss = 0.0 * q
    if y != 0.0:
        loss -= y * math.log(q)
    if y != 1.0:
        loss -= (1.0 - y) * math.log(1.0 - q)
    return loss
