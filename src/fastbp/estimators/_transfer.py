"""Transfer learning: a new fit starts from the hidden layers of a fitted network.

The source may be any fitted fastbp estimator or scikit-learn MLP (they share
``coefs_``, ``intercepts_`` and ``activation``), or a
``sklearn.frozen.FrozenEstimator`` of one, which ``clone`` leaves as it is.
"""

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted


def _source_model(init_from):
    """The fitted estimator behind ``init_from`` (a FrozenEstimator's is its ``estimator``)."""
    model = init_from
    if type(model).__name__ == "FrozenEstimator" and hasattr(model, "estimator"):
        model = model.estimator
    try:
        check_is_fitted(model, "coefs_")
    except NotFittedError:
        raise ValueError(
            f"init_from ({type(model).__name__}) is not fitted. clone() - and so GridSearchCV, "
            "cross_val_score and every other sweep - clones an estimator parameter unfitted: pass "
            "sklearn.frozen.FrozenEstimator(source) as init_from to keep the source's weights."
        ) from None
    return model


def transfer_hidden_layers(est, layer_units, dtype):
    """Copy the hidden layers of ``est.init_from`` into ``est``'s freshly initialised network.

    Parameters
    ----------
    est : BaseBackprop
        Its ``coefs_``, ``intercepts_`` (and batch-normalisation attributes)
        are set for ``layer_units``; the source's hidden layers replace the
        first of them.
    layer_units : list of int
        The new network's layer widths, input first.
    dtype : numpy dtype

    Raises
    ------
    ValueError
        If the source is not fitted, has more hidden layers than the new
        network, or a layer's shape, the activation or the use of batch
        normalisation differ; the message names the layer and both shapes.
    """
    source = _source_model(est.init_from)
    coefs, intercepts = source.coefs_, source.intercepts_
    n_copy = len(coefs) - 1
    n_hidden = len(layer_units) - 2
    src_sizes = tuple(int(c.shape[1]) for c in coefs[:-1])
    if n_copy > n_hidden:
        raise ValueError(
            f"init_from has {n_copy} hidden layers {src_sizes} but this network has {n_hidden} "
            f"{tuple(layer_units[1:-1])}: hidden_layer_sizes must begin with the source's."
        )
    for l in range(n_copy):
        need = (layer_units[l], layer_units[l + 1])
        if tuple(coefs[l].shape) != need:
            raise ValueError(
                f"Layer {l} of init_from has weights of shape {tuple(coefs[l].shape)}, but layer {l} of "
                f"this network needs {need}: hidden_layer_sizes must begin with the source's "
                f"{src_sizes}, on the same number of features."
            )
    if source.activation != est.activation:
        raise ValueError(
            f"init_from was trained with activation={source.activation!r}; its hidden layers mean "
            f"nothing under activation={est.activation!r}. Use the same activation."
        )
    source_norm = hasattr(source, "batch_norm_scales_")
    if source_norm != bool(est.batch_norm):
        raise ValueError(
            f"init_from was trained with batch_norm={source_norm}, this network has "
            f"batch_norm={bool(est.batch_norm)}: both must be the same."
        )
    for l in range(n_copy):
        est.coefs_[l] = np.array(coefs[l], dtype=dtype)
        est.intercepts_[l] = np.array(intercepts[l], dtype=dtype)
        if source_norm:
            est.batch_norm_scales_[l] = np.array(source.batch_norm_scales_[l], dtype=dtype)
            est.batch_norm_shifts_[l] = np.array(source.batch_norm_shifts_[l], dtype=dtype)
            est.batch_norm_means_[l] = np.array(source.batch_norm_means_[l], dtype=np.float64)
            est.batch_norm_vars_[l] = np.array(source.batch_norm_vars_[l], dtype=np.float64)
