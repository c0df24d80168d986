r"""Batch normalisation of the hidden layers: the formulas, written once.

A normalised hidden layer computes, for the pre-activations :math:`z_{ij} =
(A W)_{ij}` of a mini-batch whose rows carry the sample weights :math:`w_i`
(all 1 without ``sample_weight``), :math:`W = \sum_i w_i`,

.. math::
    \mu_j = \frac{1}{W} \sum_i w_i z_{ij}, \qquad
    \sigma_j^2 = \frac{1}{W} \sum_i w_i (z_{ij} - \mu_j)^2, \qquad
    \hat x_{ij} = \frac{z_{ij} - \mu_j}{\sqrt{\sigma_j^2 + \epsilon}}, \qquad
    y_{ij} = \gamma_j \hat x_{ij} + \beta_j,

and feeds :math:`y` to its activation.  The layer's own bias is not used (the
shift :math:`\beta` takes its place).  Weighting the statistics keeps
scikit-learn's meaning of a sample weight: a weight of 2 is the sample twice,
a weight of 0 is the sample left out (a batch whose weights are all 0 has
statistics 0 and teaches nothing).  Backpropagation through the statistics,
with :math:`g_{ij} = \partial J / \partial y_{ij}`:

.. math::
    \frac{\partial J}{\partial \beta_j} = \sum_i g_{ij}, \qquad
    \frac{\partial J}{\partial \gamma_j} = \sum_i g_{ij} \hat x_{ij}, \qquad
    \frac{\partial J}{\partial z_{ij}} = \frac{\gamma_j}{\sqrt{\sigma_j^2 + \epsilon}}
    \Big(g_{ij} - \frac{w_i}{W}\frac{\partial J}{\partial \beta_j}
    - \hat x_{ij} \frac{w_i}{W}\frac{\partial J}{\partial \gamma_j}\Big).

Training keeps running statistics, :math:`m \leftarrow (1 - \rho) m + \rho
\mu` and :math:`v \leftarrow (1 - \rho) v + \rho \sigma^2` (:math:`\rho` the
momentum, PyTorch's convention; the batch variance as it is, as Keras keeps
it; a mini-batch of one row, or of weight 0, leaves them unchanged).
Prediction normalises with them, an affine map that :func:`fold` merges into
the layer's weights and bias.
"""

import math

import numpy as np

# Rows of the (6, n_hidden_units) float64 statistics array both backends keep:
# running mean and variance (what prediction uses), the current mini-batch's
# mean and biased variance, and its means of g and g * xhat (backward pass).
RUN_MEAN = 0
RUN_VAR = 1
MEAN = 2
VAR = 3
MEAN_G = 4
MEAN_GX = 5


def inv_std(var, eps):
    r""":math:`1 / \sqrt{\sigma^2 + \epsilon}`."""
    return 1.0 / math.sqrt(var + eps)


def normalised_grad(g, xhat, scale, mean_g, mean_gx):
    r""":math:`\partial J / \partial z` of one element, ``scale`` :math:`= \gamma / \sqrt{\sigma^2 + \epsilon}`,
    ``mean_g`` :math:`= \frac{w_i}{W} \partial J / \partial \beta`, ``mean_gx`` :math:`= \frac{w_i}{W} \partial J / \partial \gamma`."""
    return scale * (g - mean_g - xhat * mean_gx)


def running_update(running, batch, momentum):
    r"""One step of a running statistic, :math:`(1 - \rho)\, r + \rho\, b`."""
    return (1.0 - momentum) * running + momentum * batch


def fold(theta, layout, running_mean, running_var, eps):
    """Parameters of the equivalent network without normalisation, for prediction.

    Each normalised hidden layer's weights and bias become
    :math:`W_{:,j} \\gamma_j / \\sqrt{v_j + \\epsilon}` and
    :math:`\\beta_j - \\gamma_j m_j / \\sqrt{v_j + \\epsilon}`.

    Parameters
    ----------
    theta : ndarray
        Flat parameters of ``layout`` (host array).
    layout : fastbp.nn.layout.Layout
    running_mean, running_var : ndarray of float64
        Running statistics of every hidden unit, layer after layer.
    eps : float

    Returns
    -------
    ndarray
        The first ``layout.base_size`` entries: weights and biases in the
        usual layout, in ``theta``'s dtype.
    """
    out = np.array(theta[: layout.base_size])
    if not layout.batch_norm:
        return out
    scales, shifts = layout.unpack_norm(theta)
    start = 0
    for l in range(len(layout.units) - 2):
        n_in, m = int(layout.units[l]), int(layout.units[l + 1])
        factor = scales[l].astype(np.float64) / np.sqrt(running_var[start : start + m] + eps)
        w = out[layout.w_off[l] : layout.w_off[l] + n_in * m].reshape(n_in, m)
        w[:] = w * factor
        out[layout.b_off[l] : layout.b_off[l] + m] = shifts[l] - factor * running_mean[start : start + m]
        start += m
    return out


def prediction_parameters(theta, layout, stats, eps):
    """``theta`` as prediction uses it: folded with the running statistics (rows 0 and 1 of
    ``stats``) when ``layout`` is batch-normalised, unchanged otherwise."""
    if not layout.batch_norm:
        return theta
    return fold(theta, layout, stats[RUN_MEAN], stats[RUN_VAR], eps)
