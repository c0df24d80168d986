"""The explicit description of the network one fit trains or one prediction runs.

:class:`NetworkSpec` is built once per fit (and per prediction) from the
estimator's settings and handed to :func:`fastbp.backends.make_backend`; the
backends derive the kernels' arguments from it.  Which of fastbp's extensions
to scikit-learn's MLP are on is one field each; the record checks, when it is
made, that every field agrees with what it describes, so a forgotten flag is an
error, not kernel code that Numba silently compiled out.
"""

from dataclasses import dataclass, field

import numpy as np

from fastbp.nn.activations import ACTIVATION_CODES, FIRST_EXTRA, OUTPUT_CODES
from fastbp.nn.layout import Layout
from fastbp.nn.losses import CANONICAL, LOSS_CODES


@dataclass(frozen=True)
class NetworkSpec:
    """What the kernels run: layer layout, activations, loss, dtype, input kind and extensions.

    Parameters
    ----------
    layout : fastbp.nn.layout.Layout
        Layer widths and the flat buffer's offsets (with or without batch norm).
    activation, output, loss : str
        Hidden activation, output activation and loss names (keys of
        ``ACTIVATION_CODES``, ``OUTPUT_CODES``, ``LOSS_CODES``).
    dtype : numpy dtype
        Working dtype, float32 or float64.
    sparse : bool
        Whether X is a sparse matrix (CSR in the kernels).
    dropout : tuple of float
        Dropout rate of each hidden layer; empty for none.
    extra_activation : bool
        An activation beyond scikit-learn's is used (hidden or output).
    extra_loss : bool
        A loss beyond scikit-learn's four is used.
    uses_dropout : bool
        A dropout rate is above 0.
    clipping : bool
        Global gradient-norm clipping (``max_grad_norm``) is on.
    batch_norm : bool
        Every hidden layer is batch-normalised (``layout.batch_norm``).
    frozen_layers : int
        The first layers from the input side that do not train (their
        weights, biases, batch-normalisation parameters and statistics);
        0 for none.  At most the number of layers minus one.

    Raises
    ------
    ValueError
        If a name is unknown, or an extension's field disagrees with the
        setting it describes.
    """

    layout: Layout
    activation: str
    output: str
    loss: str
    dtype: np.dtype
    sparse: bool = False
    dropout: tuple = ()
    extra_activation: bool = False
    extra_loss: bool = False
    uses_dropout: bool = False
    clipping: bool = False
    batch_norm: bool = False
    frozen_layers: int = 0
    codes: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        for name, table in (("activation", ACTIVATION_CODES), ("output", OUTPUT_CODES), ("loss", LOSS_CODES)):
            if getattr(self, name) not in table:
                raise ValueError(f"Unknown {name} {getattr(self, name)!r}.")
        codes = (ACTIVATION_CODES[self.activation], OUTPUT_CODES[self.output], LOSS_CODES[self.loss])
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "dropout", tuple(float(r) for r in self.dropout))
        expected = {
            "extra_activation": codes[0] >= FIRST_EXTRA or codes[1] >= FIRST_EXTRA,
            "extra_loss": codes[2] not in CANONICAL,
            "uses_dropout": any(r > 0 for r in self.dropout),
            "batch_norm": bool(self.layout.batch_norm),
        }
        for name, value in expected.items():
            if getattr(self, name) != value:
                raise ValueError(f"NetworkSpec.{name} is {getattr(self, name)}, but the network it describes "
                                 f"needs {value}.")
        n_layers = len(self.layout.units) - 1
        if not 0 <= self.frozen_layers < n_layers:
            raise ValueError(f"frozen_layers={self.frozen_layers}: a network of {n_layers} layers can freeze 0 to "
                             f"{n_layers - 1} of them (at least the output layer trains).")
        if self.dropout and len(self.dropout) != len(self.layout.units) - 2:
            raise ValueError(f"{len(self.dropout)} dropout rates for {len(self.layout.units) - 2} hidden layers.")

    @property
    def extended(self):
        """Whether any extension is on: the kernels are then compiled with the extensions' code."""
        return self.extra_activation or self.extra_loss or self.uses_dropout or self.clipping or self.batch_norm

    def for_prediction(self):
        """This spec without what only training uses (dropout, clipping, frozen layers)."""
        if not (self.dropout or self.clipping or self.frozen_layers):
            return self
        return network_spec(self.layout, self.activation, self.output, self.loss, self.dtype, sparse=self.sparse)


def network_spec(layout, activation, output, loss, dtype, sparse=False, dropout=(), clipping=False, frozen_layers=0):
    """A :class:`NetworkSpec` with every extension field filled in from the settings.

    Parameters
    ----------
    layout : fastbp.nn.layout.Layout
    activation, output, loss : str
    dtype : numpy dtype
    sparse : bool, default=False
    dropout : sequence of float, default=()
        One rate per hidden layer.
    clipping : bool, default=False
        Whether ``max_grad_norm`` is set.
    frozen_layers : int, default=0
        Layers from the input side that do not train.

    Returns
    -------
    NetworkSpec
    """
    codes = (ACTIVATION_CODES.get(activation, -1), OUTPUT_CODES.get(output, -1), LOSS_CODES.get(loss, -1))
    rates = tuple(dropout or ())
    return NetworkSpec(
        layout=layout,
        activation=activation,
        output=output,
        loss=loss,
        dtype=dtype,
        sparse=bool(sparse),
        dropout=rates,
        extra_activation=codes[0] >= FIRST_EXTRA or codes[1] >= FIRST_EXTRA,
        extra_loss=codes[2] not in CANONICAL,
        uses_dropout=any(r > 0 for r in rates),
        clipping=bool(clipping),
        batch_norm=bool(layout.batch_norm),
        frozen_layers=int(frozen_layers),
    )
