"""CPU kernels compiled with Numba.

Every kernel is decorated with one of :mod:`fastbp.kernels.cpu._jit`'s
decorators: ``entry`` for the few that Python calls, ``kernel`` (or
``parallel_kernel``, ``inline``) for those only other kernels call.

Array arguments are grouped in small tuples so that no kernel takes a long
positional list:

``data``  ``(X, x_data, x_indices, x_indptr, Y, sw)``
    Training inputs.  Dense X is a C-contiguous ``(n, n_features)`` array and
    the CSR arrays are empty; sparse X is ``(0, n_features)`` and the CSR arrays
    hold the matrix.  ``Y`` is ``(n, n_outputs)`` in the working dtype, ``sw``
    the per-sample weights (ones when none were given).
``net``   :class:`fastbp.kernels.cpu.dense.Net`, ``(units, w_off, b_off, codes, extensions)``
    Layer widths, offsets of weights and biases in the flat parameter buffer
    (see :mod:`fastbp.nn.layout`), ``codes = [hidden activation, output
    activation, loss]``, and ``extensions``: None for a fit that uses none of
    fastbp's extensions to scikit-learn's MLP (the kernels are then compiled
    without the extensions' code), else ``[seed, step, rate of each hidden
    layer]`` (float64; the dropout masks' seed and step, and rates of 0 at
    prediction).
``work``  ``(acts, deltas, xbuf, pre)``
    Preallocated workspaces for one mini-batch: the outputs and deltas of every
    layer (flat), the gathered input rows of dense X, and the pre-activations
    (flat, empty unless the hidden activation's derivative needs them).
"""
