"""BackpropClassifier: a drop-in for scikit-learn's MLPClassifier."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import validate_data

from fastbp.estimators._base import BaseBackprop, stochastic_only
from fastbp.estimators._docs import fill


class BackpropClassifier(ClassifierMixin, BaseBackprop):
    r"""Multi-layer perceptron classifier trained by compiled backpropagation.

    Same parameters, defaults, attributes and results as scikit-learn's
    :class:`~sklearn.neural_network.MLPClassifier`: binary, multiclass
    (softmax output) and multilabel (logistic outputs) classification with the
    log-loss, trained with L-BFGS, SGD or Adam.  Every epoch runs in compiled
    code; with the same ``random_state`` the initial weights, the shuffles and
    the validation split are scikit-learn's.

    Parameters
    ----------
%(parameters)s

    label_smoothing : float, default=0.0
        Train against smoothed targets :math:`y (1 - \varepsilon) + \varepsilon / K`
        (:math:`K` the number of classes, 2 per label for binary and
        multilabel outputs); 0 is scikit-learn's behaviour.  In [0, 1).

    class_weight : dict, 'balanced' or None, default=None
        Weight of each class, multiplied into ``sample_weight``: a dict
        ``{label: weight}`` (missing labels weigh 1) or 'balanced',
        ``n_samples / (n_classes * count(class))`` on the training data.
        Not for multilabel targets.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels.

%(attributes)s

    See Also
    --------
    BackpropRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : The estimator this one replaces.

    Notes
    -----
    Unlike scikit-learn, a ``y`` with a single class raises a ``ValueError``
    (there is nothing to learn), and negative sample weights are refused.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from fastbp import BackpropClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
    >>> clf = BackpropClassifier(max_iter=50, random_state=0).fit(X_train, y_train)
    >>> clf.predict(X_test[:5]).shape
    (5,)
    >>> clf.score(X_test, y_test) > 0.9
    True
    """

    _loss = "log_loss"

    def __init__(
        self,
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
        label_smoothing=0.0,
        class_weight=None,
    ):
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
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight

    def _train_targets(self, y):
        """Label-smoothed training targets (float), or ``y`` unchanged."""
        eps = self.label_smoothing
        if eps == 0:
            return y
        k = y.shape[1] if self.out_activation_ == "softmax" else 2
        return y * (1.0 - eps) + eps / k

    def _binarized_targets(self, y):
        return self._one_hot(y).astype(np.float64)

    def _one_hot(self, y):
        """``self._label_binarizer.transform(y)`` as booleans, computed directly for the common
        case (1-D binary or multiclass labels, all seen at fit): the same array, without
        re-inferring the target type on every fit and epoch."""
        binarizer = self._label_binarizer
        if binarizer.y_type_ in ("binary", "multiclass") and np.ndim(y) == 1 and len(y):
            classes = binarizer.classes_
            index = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
            if np.array_equal(classes[index], y):
                if binarizer.y_type_ == "binary":
                    return (index == 1).reshape(-1, 1)
                out = np.zeros((len(y), len(classes)), dtype=bool)
                out[np.arange(len(y)), index] = True
                return out
        return binarizer.transform(y).astype(bool)

    def _check_validation_targets(self, y_val, n, n_outputs):
        if self._label_binarizer.y_type_.startswith("multilabel"):
            y_val = check_array(y_val, ensure_2d=True, input_name="y_val")
        else:
            y_val = column_or_1d(y_val)
        if y_val.shape[0] != n:
            raise ValueError(f"X_val and y_val have {n} and {y_val.shape[0]} samples.")
        unknown = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unknown):
            raise ValueError(f"y_val has classes not seen in y: {unknown}.")
        return y_val

    def _class_weighted(self, y, sample_weight):
        """``sample_weight`` times the weight of each sample's class."""
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError("class_weight is not supported for multilabel targets.")
        index = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.ravel(y).astype(int)
        if isinstance(self.class_weight, str):
            if self.class_weight != "balanced":
                raise ValueError(f"class_weight must be a dict, 'balanced' or None, got {self.class_weight!r}.")
            counts = np.bincount(index, minlength=len(self.classes_)).astype(float)
            per_class = np.where(counts > 0, len(index) / (len(self.classes_) * np.maximum(counts, 1)), 0.0)
        elif isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names classes not in y: {sorted(unknown, key=str)}.")
            per_class = np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_.tolist()])
            if np.any(per_class < 0) or not np.isfinite(per_class).all():
                raise ValueError("class_weight values must be finite and non-negative.")
        else:
            raise ValueError(f"class_weight must be a dict, 'balanced' or None, got {self.class_weight!r}.")
        weights = per_class[index]
        combined = weights if sample_weight is None else sample_weight * weights
        if np.all(combined == 0):
            raise ValueError("class_weight and sample_weight leave every sample with weight 0.")
        return combined.astype(sample_weight.dtype if sample_weight is not None else np.float64)

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            binarizer = LabelBinarizer().fit(y)
            if len(binarizer.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but y "
                    f"contains only one class: {binarizer.classes_[0]!r}."
                )
            self._label_binarizer = binarizer
            self.classes_ = binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}.")
        return X, self._one_hot(y)

    def _predict_from_output(self, output):
        if self.n_outputs_ == 1:
            output = output.ravel()
        return self._label_binarizer.inverse_transform(output)

    @staticmethod
    def _score(y_true, y_pred, sample_weight):
        return accuracy_score(y_true, y_pred, sample_weight=sample_weight)

    def predict(self, X):
        """Predict the class labels of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Predicted classes (a label-indicator matrix for multilabel problems).
        """
        return self._predict_from_output(self._forward(X))

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    @available_if(stochastic_only)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        classes : array of shape (n_classes,), default=None
            All classes across calls; required on the first call, where ``y``
            need not contain all of them.

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
            if not hasattr(self, "classes_"):
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                if type_of_target(y).startswith("multilabel"):
                    binarizer = LabelBinarizer().fit(y)
                else:
                    binarizer = LabelBinarizer().fit(classes)
                if len(binarizer.classes_) < 2:
                    raise ValueError(f"classes must hold at least 2 classes, got {binarizer.classes_!r}.")
                self._label_binarizer = binarizer
                self.classes_ = binarizer.classes_
            elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"`classes={classes!r}` is not the same as on the first call to partial_fit, which was {self.classes_!r}.")
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


BackpropClassifier.__doc__ = fill(BackpropClassifier.__doc__)
