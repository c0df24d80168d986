r"""All weights and biases of a network in one flat buffer.

The buffer holds every layer's weight matrix (row-major, ``n_in x n_out``) in
layer order, then every layer's bias vector: the order scikit-learn's ``lbfgs``
solver packs parameters in.  With batch normalisation, the scale
:math:`\gamma` and shift :math:`\beta` of every hidden layer follow, in that
order, layer after layer; the first part of the buffer is unchanged, so the
kernels that do not normalise read it as they would any other network.  Gradients and optimizer state use the same layout,
so an optimizer step is one loop over one array.
"""

import numpy as np


class Layout:
    """Offsets of each layer's weights and biases in the flat buffer.

    Parameters
    ----------
    layer_units : sequence of int
        Width of every layer, input first, output last.
    batch_norm : bool, default=False
        Whether every hidden layer has a batch-normalisation scale and shift.

    Attributes
    ----------
    units : ndarray of int64
        ``layer_units`` as an array (what the kernels read).
    w_off : ndarray of int64
        Start of each layer's weights.
    b_off : ndarray of int64
        Start of each layer's biases.
    n_coef : int
        Number of weights (the part of the buffer that is L2-penalised).
    g_off : ndarray of int64
        Start of each hidden layer's scale; its shift follows at
        ``g_off[l] + units[l + 1]`` (empty without batch normalisation).
    base_size : int
        Length of the weights and biases alone.
    size : int
        Total length of the buffer.
    """

    def __init__(self, layer_units, batch_norm=False):
        units = np.asarray(layer_units, dtype=np.int64)
        n_layers = len(units) - 1
        w_sizes = units[:-1] * units[1:]
        self.units = units
        self.w_off = np.zeros(n_layers, dtype=np.int64)
        self.w_off[1:] = np.cumsum(w_sizes)[:-1]
        self.n_coef = int(w_sizes.sum())
        self.b_off = np.zeros(n_layers, dtype=np.int64)
        self.b_off[:] = self.n_coef + np.concatenate(([0], np.cumsum(units[1:])[:-1]))
        self.base_size = self.n_coef + int(units[1:].sum())
        hidden = units[1:-1] if batch_norm else units[:0]
        self.g_off = self.base_size + 2 * np.concatenate(([0], np.cumsum(hidden)))[:-1].astype(np.int64)
        self.batch_norm = bool(batch_norm)
        self.size = self.base_size + 2 * int(hidden.sum())

    def pack(self, coefs, intercepts, dtype, scales=(), shifts=()):
        """Copy lists of weight matrices and bias vectors (and, with batch
        normalisation, of scales and shifts) into a new flat buffer."""
        flat = np.empty(self.size, dtype=dtype)
        for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
            flat[self.w_off[i] : self.w_off[i] + coef.size] = np.ravel(coef)
            flat[self.b_off[i] : self.b_off[i] + intercept.size] = intercept
        for i, (scale, shift) in enumerate(zip(scales, shifts)):
            start = self.g_off[i]
            flat[start : start + scale.size] = scale
            flat[start + scale.size : start + 2 * scale.size] = shift
        return flat

    def unpack(self, flat):
        """Views of ``flat`` as sklearn's ``coefs_`` and ``intercepts_`` lists."""
        coefs, intercepts = [], []
        for i in range(len(self.units) - 1):
            n_in, n_out = int(self.units[i]), int(self.units[i + 1])
            coefs.append(flat[self.w_off[i] : self.w_off[i] + n_in * n_out].reshape(n_in, n_out))
            intercepts.append(flat[self.b_off[i] : self.b_off[i] + n_out])
        return coefs, intercepts

    def unpack_norm(self, flat):
        """Views of ``flat`` as the lists of batch-normalisation scales and shifts."""
        scales, shifts = [], []
        for i, start in enumerate(self.g_off):
            m = int(self.units[i + 1])
            scales.append(flat[start : start + m])
            shifts.append(flat[start + m : start + 2 * m])
        return scales, shifts

    def trainable_starts(self, frozen):
        """``[frozen, w_lo, n_coef, b_lo, base_size, g_lo]`` when the first ``frozen`` layers
        (from the input side) do not train.

        The parameters that train are the weights ``[w_lo, n_coef)``, the
        biases ``[b_lo, base_size)`` and the batch-normalisation scales and
        shifts ``[g_lo, size)``: a frozen prefix of each block.
        """
        n_layers = len(self.units) - 1
        n_hidden = n_layers - 1
        w_lo = self.w_off[frozen] if frozen < n_layers else self.n_coef
        b_lo = self.b_off[frozen] if frozen < n_layers else self.base_size
        g_lo = self.g_off[frozen] if self.batch_norm and frozen < n_hidden else self.size
        return np.array([frozen, w_lo, self.n_coef, b_lo, self.base_size, g_lo], dtype=np.int64)

    def trainable_mask(self, frozen):
        """Boolean mask of the parameters that train (see :meth:`trainable_starts`)."""
        _, w_lo, n_coef, b_lo, base, g_lo = self.trainable_starts(frozen)
        mask = np.zeros(self.size, dtype=bool)
        mask[w_lo:n_coef] = True
        mask[b_lo:base] = True
        mask[g_lo:] = True
        return mask
