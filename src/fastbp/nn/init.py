"""Weight initialisation."""

import numpy as np


def glorot_uniform(random_state, layer_units, activation, dtype, scheme="glorot"):
    r"""Draw Glorot-uniform weights and biases for every layer.

    Each layer's weights and then its biases are drawn from
    :math:`U(-b, b)` with :math:`b = \sqrt{k / (n_{in} + n_{out})}`, where
    :math:`k = 2` for the logistic activation and :math:`k = 6` otherwise.
    The draws are made in float64 from ``random_state`` in exactly the order
    scikit-learn's MLP makes them, so the same seed gives the same network.

    Parameters
    ----------
    random_state : numpy.random.RandomState
        The generator to draw from; it is advanced.
    layer_units : sequence of int
        Width of every layer, input first, output last.
    activation : str
        Hidden activation name.
    dtype : numpy dtype
        Dtype of the returned arrays.
    scheme : {'glorot', 'he'}, default='glorot'
        ``'he'`` draws from :math:`U(-b, b)` with :math:`b = \sqrt{6 / n_{in}}`
        instead (He et al., for ReLU-like activations), with the same number
        of draws in the same order.

    Returns
    -------
    coefs : list of ndarray of shape (n_in, n_out)
    intercepts : list of ndarray of shape (n_out,)
    """
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(6.0 / fan_in) if scheme == "he" else np.sqrt(factor / (fan_in + fan_out))
        coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = random_state.uniform(-bound, bound, fan_out)
        coefs.append(coef.astype(dtype, copy=False))
        intercepts.append(intercept.astype(dtype, copy=False))
    return coefs, intercepts
