r"""Per-element losses, each paired with its output activation.

The four canonical losses are partners of their output activation, so the
derivative of the loss with respect to the output layer's pre-activation is
simply :math:`\hat y - y` (times the sample weight), with no derivative of
its own.

======================  =================  ==========================================
loss                    output activation  per-element value
======================  =================  ==========================================
``squared_error``       identity           :math:`(y - \hat y)^2 / 2`
``poisson``             exp                :math:`y \log(y / \hat y) - y + \hat y`
``log_loss``            softmax            :math:`-y \log \hat y`
``binary_log_loss``     logistic           :math:`-y\log\hat y - (1-y)\log(1-\hat y)`
======================  =================  ==========================================

``absolute_error`` (:math:`|y - \hat y|`), ``huber`` (quadratic within
``huber_delta`` of the target, linear beyond) and ``quantile`` (the pinball
loss of level ``quantile_alpha``) use the identity output; their delta is
:math:`\partial l / \partial \hat y`, given by the ``*_grad`` functions.

Probabilities are clipped to :math:`[\epsilon, 1 - \epsilon]` (machine epsilon of
the working dtype) inside the logarithms, as scikit-learn does.

The ladders (:func:`canonical_loss`, :func:`extra_loss`, :func:`element_loss`,
:func:`element_delta`) pick a loss by its code; the kernels of both devices
compile them (:func:`fastbp.kernels.compile_math`), so a new loss is one
function and one rung here.  The canonical and the extra losses have ladders
of their own so that a fit with a canonical loss compiles only the first.
"""

import math

SQUARED_ERROR = 0
POISSON = 1
LOG_LOSS = 2
BINARY_LOG_LOSS = 3

# Regression losses beyond scikit-learn's, with an identity output.  They are
# not canonical partners of their link, so their output delta is dl/dp.
ABSOLUTE_ERROR = 4
HUBER = 5
QUANTILE = 6

LOSS_CODES = {
    "squared_error": SQUARED_ERROR,
    "poisson": POISSON,
    "log_loss": LOG_LOSS,
    "binary_log_loss": BINARY_LOG_LOSS,
    "absolute_error": ABSOLUTE_ERROR,
    "huber": HUBER,
    "quantile": QUANTILE,
}

#: Losses whose output delta is :math:`\hat y - y` (canonical link).
CANONICAL = (SQUARED_ERROR, POISSON, LOG_LOSS, BINARY_LOG_LOSS)


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


def absolute_error(y, p, c):
    r"""Absolute error, :math:`|y - p|`."""
    return abs(y - p)


def absolute_error_grad(y, p, c):
    r""":math:`\partial |y - p| / \partial p = \operatorname{sign}(p - y)` (0 at a tie)."""
    if p > y:
        return 1.0
    if p < y:
        return -1.0
    return 0.0


def huber(y, p, delta):
    r"""Huber loss, :math:`r^2/2` for :math:`|r| \le \delta`, else :math:`\delta(|r| - \delta/2)`, :math:`r = p - y`."""
    r = abs(p - y)
    if r <= delta:
        return 0.5 * r * r
    return delta * (r - 0.5 * delta)


def huber_grad(y, p, delta):
    r"""Derivative of the Huber loss, :math:`p - y` clipped to :math:`[-\delta, \delta]`."""
    r = p - y
    if r > delta:
        return delta
    if r < -delta:
        return -delta
    return r


def quantile(y, p, alpha):
    r"""Pinball loss of level :math:`\alpha`: :math:`\alpha (y - p)` if :math:`y \ge p`, else :math:`(1 - \alpha)(p - y)`."""
    if y >= p:
        return alpha * (y - p)
    return (1.0 - alpha) * (p - y)


def quantile_grad(y, p, alpha):
    r"""Derivative of the pinball loss: :math:`-\alpha` below the target, :math:`1 - \alpha` above, 0 at a tie."""
    if y > p:
        return -alpha
    if y < p:
        return 1.0 - alpha
    return 0.0


def canonical_loss(y, p, code, eps):
    """Loss of one output element for the four canonical losses (scikit-learn's)."""
    if code == SQUARED_ERROR:
        return squared_error(y, p)
    if code == POISSON:
        return poisson(y, p)
    if code == LOG_LOSS:
        return log_loss(y, p, eps)
    return binary_log_loss(y, p, eps)


def extra_loss(y, p, code, param):
    """Loss of one output element for fastbp's extra losses; ``param`` is ``huber_delta`` or
    ``quantile_alpha``."""
    if code == ABSOLUTE_ERROR:
        return absolute_error(y, p, param)
    if code == HUBER:
        return huber(y, p, param)
    return quantile(y, p, param)


def element_loss(y, p, code, eps, param):
    """Loss of one output element for any loss code."""
    if code < ABSOLUTE_ERROR:
        return canonical_loss(y, p, code, eps)
    return extra_loss(y, p, code, param)


def element_delta(y, p, code, param):
    r"""Derivative of the loss with respect to the output pre-activation: :math:`p - y`
    for the canonical losses, :math:`\partial l / \partial p` (identity output) for the others."""
    if code == ABSOLUTE_ERROR:
        return absolute_error_grad(y, p, param)
    if code == HUBER:
        return huber_grad(y, p, param)
    if code == QUANTILE:
        return quantile_grad(y, p, param)
    return p - y


def batch_loss(loss_sum, sw_sum, n_outputs, code):
    r"""The batch loss as scikit-learn reports it, from the weighted sum :math:`S = \sum_i w_i
    \sum_j l(y_{ij}, p_{ij})` and the weight sum :math:`W`: :math:`S / (c W)`, :math:`c` the
    number of outputs for ``squared_error`` (its per-output losses are averaged) and 1 for
    the other losses (summed); 0 when the weights sum to 0."""
    if sw_sum == 0.0:
        return 0.0
    if code == SQUARED_ERROR:
        return loss_sum / (sw_sum * n_outputs)
    return loss_sum / sw_sum
