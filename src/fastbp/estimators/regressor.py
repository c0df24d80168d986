"""BackpropRegressor: a drop-in for scikit-learn's MLPRegressor."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import validate_data

from fastbp.estimators._base import BaseBackprop, stochastic_only
from fastbp.estimators._docs import fill
from fastbp.estimators._validation import refuse_non_numeric


class BackpropRegressor(RegressorMixin, BaseBackprop):
    """Multi-layer perceptron regressor trained by compiled backpropagation.

    Same parameters, defaults, attributes and results as scikit-learn's
    :class:`~sklearn.neural_network.MLPRegressor`: single- and multi-output
    regression with the half squared error (identity output) or the half
    Poisson deviance (exponential output).

    Parameters
    ----------
    loss : {'squared_error', 'poisson', 'absolute_error', 'huber', 'quantile'}, default='squared_error'
        Loss to minimise: half squared error (averaged over outputs, as
        scikit-learn), half Poisson deviance (non-negative targets, exponential
        output), and, fastbp only, absolute error, Huber loss (with
        ``huber_delta``) and the pinball loss of level ``quantile_alpha``
        (these three are summed over outputs and use the identity output).

%(parameters)s

    huber_delta : float, default=1.0
        Residual size where the Huber loss turns from quadratic to linear
        (``loss='huber'`` only), > 0.

    quantile_alpha : float, default=0.5
        Level of the quantile predicted with ``loss='quantile'``, in (0, 1).

    Attributes
    ----------
%(attributes)s

    See Also
    --------
    BackpropClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : The estimator this one replaces.

    Notes
    -----
    Two deliberate differences from scikit-learn 1.9.1, where it is wrong:

    - with ``solver='lbfgs'`` and several outputs, the gradient handed to
      L-BFGS is the gradient of the reported squared-error loss; scikit-learn's
      is ``n_outputs`` times too large (its issue #8349);
    - ``loss='poisson'`` with a negative target raises a ``ValueError``
      instead of training to a NaN loss.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fastbp import BackpropRegressor
    >>> X, y = make_regression(n_samples=200, n_features=20, noise=1.0, random_state=1)
    >>> reg = BackpropRegressor(max_iter=2000, tol=0.1, random_state=1).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> reg.score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="cpu",
        init="glorot",
        dropout=0.0,
        l1=0.0,
        max_grad_norm=None,
        batch_norm=False,
        batch_norm_momentum=0.1,
        batch_norm_epsilon=1e-5,
        lr_decay=None,
        lr_step_size=None,
        warmup_epochs=0,
        early_stopping_metric="score",
        restore_best_weights=False,
        progress_bar=False,
        callbacks=None,
        init_from=None,
        frozen_layers=0,
        huber_delta=1.0,
        quantile_alpha=0.5,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.init = init
        self.dropout = dropout
        self.l1 = l1
        self.max_grad_norm = max_grad_norm
        self.batch_norm = batch_norm
        self.batch_norm_momentum = batch_norm_momentum
        self.batch_norm_epsilon = batch_norm_epsilon
        self.lr_decay = lr_decay
        self.lr_step_size = lr_step_size
        self.warmup_epochs = warmup_epochs
        self.early_stopping_metric = early_stopping_metric
        self.restore_best_weights = restore_best_weights
        self.progress_bar = progress_bar
        self.callbacks = callbacks
        self.init_from = init_from
        self.frozen_layers = frozen_layers
        self.huber_delta = huber_delta
        self.quantile_alpha = quantile_alpha

    @property
    def _loss(self):
        return self.loss

    def _loss_param(self):
        return {"huber": self.huber_delta, "quantile": self.quantile_alpha}.get(self.loss, 0.0)

    def _binarized_targets(self, y):
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(y.shape[0], -1)

    def _check_validation_targets(self, y_val, n, n_outputs):
        y_val = check_array(y_val, ensure_2d=False, dtype=np.float64, input_name="y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = y_val.ravel()
        if y_val.shape[0] != n:
            raise ValueError(f"X_val and y_val have {n} and {y_val.shape[0]} samples.")
        if (y_val.ndim == 1 and n_outputs != 1) or (y_val.ndim == 2 and y_val.shape[1] != n_outputs):
            raise ValueError(f"y_val has a different number of outputs than y ({n_outputs}).")
        if self.loss == "poisson" and np.any(y_val < 0):
            raise ValueError("loss='poisson' requires non-negative targets; y_val has negative values.")
        return y_val

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        losses = ("squared_error", "poisson", "absolute_error", "huber", "quantile")
        if not isinstance(self.loss, str) or self.loss not in losses:
            raise ValueError(f"The 'loss' parameter must be one of {', '.join(map(repr, losses))}. Got {self.loss!r} instead.")
        refuse_non_numeric(y, "y")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' requires non-negative targets y; y has negative values.")
        return X, y

    def _predict_from_output(self, output):
        return output.ravel() if output.shape[1] == 1 else output

    @staticmethod
    def _score(y_true, y_pred, sample_weight):
        return r2_score(y_true, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict using the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        return self._predict_from_output(self._forward(X))

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination :math:`R^2` of the predictions of X against y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values for X.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            :math:`R^2` of ``self.predict(X)`` against ``y`` (scikit-learn's
            ``r2_score``; NaN, with scikit-learn's warning, for a single
            sample, where it is undefined).

        Raises
        ------
        ValueError
            Where scikit-learn would return NaN or infinity for two samples
            or more: finite values of y so large that their sums of squares
            overflow.
        """
        refuse_non_numeric(y, "y")
        value = super().score(X, y, sample_weight=sample_weight)
        if not np.isfinite(value) and len(y) > 1:
            raise ValueError(
                f"R^2 is {value} here: the values of y (largest magnitude {np.max(np.abs(np.asarray(y, float))):g}) "
                "are so large that their sums of squares overflow. Scale y as the training targets were scaled."
            )
        return value

    @available_if(stochastic_only)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            For invalid input, naming the problem, and when the epoch diverges
            (a non-finite loss or weights), naming the epoch and the loss.

        Notes
        -----
        A call that raises changes nothing: the weights, batch-normalisation
        statistics, optimizer state (the next call continues as if the failed
        one never happened), ``n_iter_``, ``t_`` and ``loss_curve_`` stay
        exactly as they were.
        """
        with self._transaction():
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)


BackpropRegressor.__doc__ = fill(BackpropRegressor.__doc__)
