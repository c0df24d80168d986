"""Shared base of the fastbp estimators: parameters, validation, the epoch loop.

Python loops over epochs only; each epoch (shuffle, mini-batches, forward,
backward, update) is one call into compiled code through the backend.  The
bookkeeping around epochs (loss curve, early stopping, learning-rate schedules,
warnings, verbose lines) follows scikit-learn's MLP step for step, so that the
same ``random_state`` gives the same numbers.
"""

import contextlib
import copy
import functools
import warnings
import weakref

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from fastbp import optim as O
from fastbp.backends import evaluation_loss, kernel_data, make_backend, require_device
from fastbp.estimators import _params
from fastbp.estimators._callbacks import Progress, check_callbacks
from fastbp.estimators._monitor import Monitor
from fastbp.estimators._transfer import transfer_hidden_layers
from fastbp.estimators._validation import check_sample_weight, refuse_non_numeric
from fastbp.nn.init import glorot_uniform
from fastbp.nn.layout import Layout
from fastbp.nn.losses import LOSS_CODES
from fastbp.nn.spec import network_spec
from fastbp.optim.schedules import epoch_factor

_STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop")


def _loss_name(out_activation, loss):
    """Name of the loss paired with an output activation."""
    if out_activation == "logistic":
        return "binary_log_loss"
    return loss


def stochastic_only(est):
    """``available_if`` condition of ``partial_fit``: only the stochastic solvers have it."""
    if est.solver not in _STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {est.solver!r} is not stochastic."
        )
    return True


def _diverged(loss, epoch, incremental, learning_rate_init):
    """The ``ValueError`` of a fit whose loss or weights stopped being finite at ``epoch``."""
    if incremental:
        where = f"in this partial_fit call (epoch {epoch} since the weights were initialised)"
    else:
        where = f"at epoch {epoch} of this fit"
    return ValueError(
        f"Training diverged {where}: the loss was {loss!r} and the solver produced non-finite "
        "parameter weights. The model is left as it was before the call. Scale X (for example "
        "with StandardScaler) or lower learning_rate_init (it is "
        f"{learning_rate_init!r})."
    )


#: Estimator -> (its coefs_ and intercepts_ arrays, the flat buffer they view): see
#: :meth:`BaseBackprop._viewed_buffer`.  Weak keys: an estimator's entry goes with it.
_VIEWED = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=64)
def _prediction_spec(layout, activation, output, loss, dtype, sparse):
    """The :class:`~fastbp.nn.spec.NetworkSpec` of a prediction (immutable, shared by every
    prediction of a fitted network: 15 us to build)."""
    return network_spec(layout, activation, output, loss, np.dtype(dtype), sparse=sparse)


@functools.lru_cache(maxsize=64)
def _prediction_layout(layer_units, batch_norm):
    """The :class:`Layout` of a fitted network, shared by its predictions (10 us to build;
    the kernels only read it)."""
    return Layout(layer_units, batch_norm=batch_norm)


class BaseBackprop(BaseEstimator):
    """Base class of :class:`BackpropClassifier` and :class:`BackpropRegressor`.

    Not for direct use.  Subclasses define ``_validate_input``, ``_output_activation``,
    ``_predict_from_output`` and ``_score``.
    """

    # ------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def _transaction(self):
        """Undo every change to the fitted state if the body raises.

        ``fit`` and ``partial_fit`` run inside one: a call that fails (bad
        input, divergence, an error from a callback, a ``KeyboardInterrupt``
        outside the epoch loop) leaves every attribute that is not a
        constructor parameter exactly as it was: weights, batch-normalisation
        statistics, optimizer state, ``n_iter_``, ``t_``, the curves, the
        early-stopping state.  A ``KeyboardInterrupt`` during an epoch is not
        a failure: training stops and keeps the last complete epoch.
        """
        params = set(self._get_param_names())
        saved = {k: copy.deepcopy(v) for k, v in vars(self).items() if k not in params}
        try:
            yield
        except BaseException:
            for name in [k for k in vars(self) if k not in params]:
                delattr(self, name)
            vars(self).update(saved)
            raise

    # ------------------------------------------------------------------ setup
    def _loss_param(self):
        """Parameter of the loss (``huber_delta``, ``quantile_alpha``), 0 when it has none."""
        return 0.0

    def _train_targets(self, y):
        """Targets the kernels train against (label smoothing hooks in here)."""
        return y

    def _loss_code(self):
        return LOSS_CODES[_loss_name(self.out_activation_, self._loss)]

    def _backend(self, layout, X, dtype, training=True, dropout=None, seed=0, norm_stats=None):
        """Backend (:func:`fastbp.backends.make_backend`) for a network of ``layout`` in ``dtype``
        on the requested device, with the :class:`~fastbp.nn.spec.NetworkSpec` of this fit.

        For training, ``device='cuda'`` without a usable GPU raises a
        ``RuntimeError``; for prediction it falls back to the CPU, so a model
        trained on a GPU predicts on any machine.
        """
        loss = _loss_name(self.out_activation_, self._loss)
        if training:
            spec = network_spec(
                layout, self.activation, self.out_activation_, loss, dtype, sparse=sp.issparse(X),
                dropout=dropout or (), clipping=bool(self.max_grad_norm), frozen_layers=self.frozen_layers,
            )
        else:
            spec = _prediction_spec(layout, self.activation, self.out_activation_, loss, np.dtype(dtype).str,
                                    sp.issparse(X))
        return make_backend(
            spec, device=getattr(self, "device", "cpu"), training=training, seed=seed, norm_stats=norm_stats,
            norm_eps=getattr(self, "batch_norm_epsilon", 1e-5),  # models pickled before it existed
        )

    def _initialize(self, y, layer_units, dtype, random_state):
        """Set the fitted attributes of a first fit and draw the initial weights."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        self.coefs_, self.intercepts_ = glorot_uniform(random_state, layer_units, self.activation, dtype, self.init)
        for name in ("batch_norm_scales_", "batch_norm_shifts_", "batch_norm_means_", "batch_norm_vars_"):
            if hasattr(self, name):
                delattr(self, name)
        if self.batch_norm:  # the shift replaces a normalised layer's intercept: 0 says it is unused
            hidden = layer_units[1:-1]
            for b in self.intercepts_[:-1]:
                b[:] = 0.0
            self.batch_norm_scales_ = [np.ones(m, dtype=dtype) for m in hidden]
            self.batch_norm_shifts_ = [np.zeros(m, dtype=dtype) for m in hidden]
            self.batch_norm_means_ = [np.zeros(m) for m in hidden]
            self.batch_norm_vars_ = [np.ones(m) for m in hidden]
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self.validation_loss_curve_ = None
            self._best_monitored = -np.inf
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # -------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False, X_val=None, y_val=None):
        _params.validate_params(self)
        refuse_non_numeric(X)
        refuse_non_numeric(X_val, "X_val")
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together.")
        if X_val is not None and self.solver == "lbfgs":
            raise ValueError("X_val / y_val need a stochastic solver; solver='lbfgs' has no epochs to validate.")
        if self.solver == "lbfgs" and np.any(np.asarray(self.dropout) > 0):
            raise ValueError("dropout needs a stochastic solver: with solver='lbfgs' the objective must be deterministic.")
        require_device(self.device)  # fail before touching any fitted state
        hidden = _params.hidden_layer_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        dtype = X.dtype
        sample_weight = self._class_weighted(y, check_sample_weight(sample_weight, X, dtype))
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        validation = None if X_val is None else self._check_validation_set(X_val, y_val, dtype, y.shape[1])
        layer_units = [X.shape[1]] + hidden + [y.shape[1]]
        if not first_pass:
            fitted_units = self._layer_units()
            if fitted_units != layer_units:
                raise ValueError(
                    f"The network fitted before has layer sizes {fitted_units}, but this "
                    f"fit needs {layer_units}: hidden_layer_sizes, the number of features "
                    "or the number of outputs changed. Set warm_start=False to start anew."
                )
            if self.batch_norm != hasattr(self, "batch_norm_scales_"):
                raise ValueError(
                    f"batch_norm={self.batch_norm} but the network fitted before was trained "
                    f"with batch_norm={not self.batch_norm}. Set warm_start=False to start anew."
                )
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, dtype, random_state)
            if self.init_from is not None:
                transfer_hidden_layers(self, layer_units, dtype)
        self.n_outputs_ = y.shape[1]
        layout = Layout(layer_units, batch_norm=self.batch_norm)
        rates = self._dropout_rates(len(hidden))
        # The dropout seed is drawn only when dropout is on, so the default draws stay sklearn's.
        seed = int(random_state.randint(2**31 - 1)) if any(rates) else 0
        stats = self._norm_stats()
        backend = self._backend(layout, X, dtype, dropout=rates, seed=seed, norm_stats=stats)
        theta = self._pack(layout, dtype)

        with backend.limits():
            if self.solver in _STOCHASTIC_SOLVERS:
                theta = self._fit_stochastic(backend, theta, X, y, sample_weight, random_state, incremental, validation)
            else:
                self._fit_lbfgs(backend, theta, X, y, sample_weight)

        if not np.isfinite(theta).all():
            epoch = len(self.loss_curve_) if incremental else self.n_iter_
            raise _diverged(getattr(self, "loss_", np.nan), epoch, incremental, self.learning_rate_init)
        self.coefs_, self.intercepts_ = layout.unpack(theta)
        if self.batch_norm:
            self.batch_norm_scales_, self.batch_norm_shifts_ = layout.unpack_norm(theta)
            ends = np.cumsum(hidden)[:-1]
            self.batch_norm_means_ = np.split(stats[0].copy(), ends) if hidden else []
            self.batch_norm_vars_ = np.split(stats[1].copy(), ends) if hidden else []
        return self

    def _pack(self, layout, dtype):
        """The fitted parameters in one flat buffer of ``layout``."""
        if layout.batch_norm:
            return layout.pack(self.coefs_, self.intercepts_, dtype, self.batch_norm_scales_, self.batch_norm_shifts_)
        return layout.pack(self.coefs_, self.intercepts_, dtype)

    def _viewed_buffer(self, layout, dtype):
        """The flat buffer ``coefs_`` and ``intercepts_`` are views of, where they still are (a
        fit leaves them so) and it is of ``dtype``: prediction reads it without a copy.  None
        after anything replaced one of them (then :meth:`_pack` copies them).

        The arrays found to be views are remembered (outside the estimator, so that no copy
        or pickle carries the finding to arrays that are not views) and compared by identity.
        """
        arrays = (*self.coefs_, *self.intercepts_)
        known = _VIEWED.get(self)
        if known is not None and len(known[0]) == len(arrays) and all(a is b for a, b in zip(arrays, known[0])):
            base = known[1]
            return base if base.dtype == dtype and not layout.batch_norm else None
        base = self.coefs_[0].base
        if (layout.batch_norm or not isinstance(base, np.ndarray) or base.ndim != 1
                or base.size != layout.size or base.base is not None):
            return None
        start, item = base.__array_interface__["data"][0], base.itemsize
        units = layout.units
        for l in range(len(units) - 1):
            for a, offset, shape in ((self.coefs_[l], layout.w_off[l], (units[l], units[l + 1])),
                                     (self.intercepts_[l], layout.b_off[l], (units[l + 1],))):
                if (a.base is not base or a.shape != shape or not a.flags.c_contiguous
                        or a.__array_interface__["data"][0] != start + int(offset) * item):
                    return None
        _VIEWED[self] = (arrays, base)
        return base if base.dtype == dtype else None

    def _norm_stats(self):
        """The kernels' batch-normalisation statistics array (rows 0, 1: the running
        mean and variance of every hidden unit), or None without batch norm."""
        if not hasattr(self, "batch_norm_means_"):
            return None
        means = np.concatenate(self.batch_norm_means_) if self.batch_norm_means_ else np.zeros(0)
        stats = np.zeros((6, means.shape[0]))
        stats[0] = means
        stats[1] = np.concatenate(self.batch_norm_vars_) if self.batch_norm_vars_ else means
        return stats

    def _hyper(self, dtype, learning_rate):
        """The float64 hyperparameter vector the kernels read (:func:`fastbp.optim.make_hyper`)."""
        return O.make_hyper(
            dtype, solver=self.solver, learning_rate=learning_rate, momentum=self.momentum,
            nesterov=self.nesterovs_momentum, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            alpha=self.alpha, loss_param=self._loss_param(), l1=self.l1, max_grad_norm=self.max_grad_norm,
            batch_norm_momentum=self.batch_norm_momentum, batch_norm_epsilon=self.batch_norm_epsilon,
        )

    def _fit_lbfgs(self, backend, theta, X, y, sample_weight):
        """Minimise the full-batch loss with SciPy's L-BFGS-B, loss and gradient compiled.

        Unlike scikit-learn 1.9, the gradient of a multi-output squared error is
        the gradient of the reported loss (scikit-learn's is ``n_outputs`` times
        too large, its issue #8349).
        """
        dtype = theta.dtype
        data = kernel_data(X, self._train_targets(y), sample_weight, dtype)
        evaluate = backend.full_batch(data)
        grad = np.empty_like(theta)
        hyper = self._hyper(dtype, self.learning_rate_init)
        if self._loss == "squared_error":
            hyper[O.H_OUT_SCALE] = 1.0 / y.shape[1]

        # Frozen layers stay out of the optimisation: L-BFGS sees only the parameters that train.
        train = backend.spec.layout.trainable_mask(self.frozen_layers) if self.frozen_layers else slice(None)

        def loss_grad(x):
            theta[train] = x
            loss = evaluate(theta, grad, hyper)
            return loss, grad[train].astype(np.float64)

        iteration = [0]

        def report(intermediate_result):
            iteration[0] += 1
            print("Iteration %d, loss = %.8f" % (iteration[0], intermediate_result.fun))

        result = scipy.optimize.minimize(
            loss_grad,
            theta[train].astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=report if self.verbose else None,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        self.n_iter_ = min(result.nit, self.max_iter)
        if result.status != 0:
            msg = f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n{result.message}\n"
            if self.n_iter_ == self.max_iter:
                msg += f"\nIncrease the number of iterations to improve the convergence (max_iter={self.max_iter})."
            msg += "\nYou might also want to scale the data, for example with StandardScaler."
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        self.loss_ = float(result.fun)
        theta[train] = result.x
        if backend.norm_stats is not None:  # predict with the statistics of the whole training set
            evaluate(theta, grad, hyper)
            backend.use_batch_statistics()

    def _validation_split(self, X, y, sample_weight, random_state):
        """Hold out ``validation_fraction`` of the data exactly as scikit-learn does."""
        stratify = y if (is_classifier(self) and self.n_outputs_ == 1) else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        split = train_test_split(
            *arrays, random_state=random_state, test_size=self.validation_fraction, stratify=stratify
        )
        X_train, X_val, y_train, y_val = split[:4]
        sw_train, sw_val = (split[4], split[5]) if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        return X_train, y_train, sw_train, X_val, y_val, sw_val

    def _check_validation_set(self, X_val, y_val, dtype, n_outputs):
        """Validate a user-supplied validation set like the training data (``n_outputs`` targets)."""
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"], reset=False, dtype=dtype)
        y_val = self._check_validation_targets(y_val, X_val.shape[0], n_outputs)
        return X_val, y_val, None

    def _class_weighted(self, y, sample_weight):
        """Sample weights combined with class weights (classifier only)."""
        return sample_weight

    def _fit_stochastic(self, backend, theta, X, y, sample_weight, random_state, incremental, validation):
        dtype = theta.dtype
        if not incremental or not hasattr(self, "_optimizer") or self._optimizer.moments.shape[1] != theta.size:
            self._optimizer = O.OptimizerState(self.solver, theta.size, dtype, self.learning_rate_init)
        opt = self._optimizer
        opt.moments = opt.moments.astype(dtype, copy=False)

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping and validation is None:
            X, y, sample_weight, X_val, y_val, sw_val = self._validation_split(X, y, sample_weight, random_state)
            validation = (X_val, y_val, sw_val)
        if validation is not None:
            val_data, y_val, sw_val, Y_val = self._validation_data(validation, dtype)
            if self.validation_scores_ is None:
                self.validation_scores_ = []
            if getattr(self, "validation_loss_curve_", None) is None:
                self.validation_loss_curve_ = []

        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                    stacklevel=4,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        if self.batch_norm and batch_size == 1:
            warnings.warn(
                "batch_norm=True with mini-batches of one sample: each hidden unit is normalised "
                "to 0, so nothing below the output layer can learn. Use a larger batch_size.",
                UserWarning,
                stacklevel=4,
            )

        trainer = backend.trainer(kernel_data(X, self._train_targets(y), sample_weight, dtype), theta, opt, batch_size)
        monitor = Monitor(self, trainer, validation is not None, early_stopping or self.restore_best_weights)
        order = np.arange(n_samples, dtype=np.int64)
        hyper = self._hyper(dtype, opt.learning_rate)
        callbacks = check_callbacks(self.callbacks)
        progress = Progress(self.max_iter if not incremental else 1, type(self).__name__) if self.progress_bar else None
        # The compiled shuffle advances a copy of random_state's Mersenne Twister;
        # it is written back once, when training ends (nothing else draws from
        # random_state meanwhile).
        if self.shuffle:
            state = random_state.get_state(legacy=True)
            rng_state = (state[1].copy(), np.array([state[2]], dtype=np.int64))
        else:
            rng_state = (np.zeros(0, dtype=np.uint32), np.zeros(1, dtype=np.int64))

        try:
            self.n_iter_ = 0
            # Schedules count the epochs of this fit, or, with partial_fit, every epoch so far.
            first_epoch = len(self.loss_curve_) if incremental else 0
            for epoch in range(self.max_iter):
                hyper[O.H_LR] = opt.learning_rate * epoch_factor(
                    self.learning_rate, first_epoch + epoch, self.max_iter, self.lr_decay, self.lr_step_size,
                    self.warmup_epochs,
                )
                loss = trainer.epoch(order, rng_state, hyper)

                self.n_iter_ += 1
                self.loss_ = float(loss)
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                if not np.isfinite(self.loss_):  # the transaction of fit / partial_fit undoes this call
                    raise _diverged(self.loss_, len(self.loss_curve_) if incremental else self.n_iter_,
                                    incremental, self.learning_rate_init)

                logs = {"loss": self.loss_, "learning_rate": float(hyper[O.H_LR])}
                if validation is not None:
                    output = trainer.predict(val_data)
                    logs.update(self._validate_epoch(output, y_val, sw_val, Y_val, hyper))
                monitor.record(self, logs)
                opt.end_of_epoch(self.learning_rate, self.learning_rate_init, self.power_t, self.t_)
                if progress is not None:
                    progress.update(logs)
                stop = any([bool(cb.on_epoch_end(self, epoch, logs)) for cb in callbacks])
                if monitor.stalled():
                    if opt.on_plateau(self.learning_rate, monitor.message(), self.verbose):
                        break
                    monitor.reset(self)
                if stop or incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                        "optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        finally:
            if self.shuffle:
                random_state.set_state((state[0], rng_state[0], int(rng_state[1][0]), state[3], state[4]))
            if progress is not None:
                progress.close()

        monitor.restore_best()
        return trainer.finish()

    def _dropout_rates(self, n_hidden):
        """The ``dropout`` parameter as one rate per hidden layer."""
        rates = np.broadcast_to(np.asarray(self.dropout, dtype=float), (n_hidden,)) if np.ndim(self.dropout) == 0 \
            else np.asarray(self.dropout, dtype=float)
        if rates.shape != (n_hidden,):
            raise ValueError(
                f"dropout must be one rate or one rate per hidden layer ({n_hidden}), got {self.dropout!r}."
            )
        return [float(r) for r in rates]

    def _validation_data(self, validation, dtype):
        """Kernel data, labels, weights and binarised targets of the validation set."""
        X_val, y_val, sw_val = validation
        Y_val = self._binarized_targets(y_val)
        return kernel_data(X_val, dtype=dtype), y_val, sw_val, Y_val

    def _validate_epoch(self, output, y_val, sw_val, Y_val, hyper):
        """Score and loss of the held-out set for this epoch; appended to the curves."""
        if not np.isfinite(output).all():
            score = loss = np.nan
        else:
            score = self._score(y_val, self._predict_from_output(output), sw_val)
            loss = evaluation_loss(output, Y_val, sw_val, self._loss_code(), hyper)
        self.validation_scores_.append(score)
        self.validation_loss_curve_.append(loss)
        if self.verbose:
            print("Validation score: %f" % score)
        return {"validation_score": score, "validation_loss": loss}

    # ---------------------------------------------------------------- predict
    def _layer_units(self):
        """Widths of every layer of the fitted network, input first."""
        return [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]]

    def _prediction_input(self, X):
        """``validate_data(self, X, reset=False)`` for prediction, with a fast path.

        Returns X and whether its test for NaN and infinity is still to be
        made.  A 2-D float32 or float64 ``numpy.ndarray`` with the fitted
        number of features and at least one row, for a model fitted without
        feature names, is what ``validate_data`` would return unchanged once
        its values are found finite: that test is all it still needs (unless
        ``assume_finite`` is set), and :meth:`_forward` makes it inside the
        compiled prediction or with scikit-learn's own first test (a finite
        sum).  Anything else goes through ``validate_data``, and so does such
        an array when the test fails, so every error and warning is
        scikit-learn's own.  (``validate_data``'s generic checks were 65 of
        the 160 us a one-row ``predict_proba`` took.)
        """
        if (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in (np.float32, np.float64)
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
        ):
            return X, not get_config()["assume_finite"]
        refuse_non_numeric(X)
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=False), False

    def _forward(self, X, check_input=True):
        """Output-layer activations for X (validated unless ``check_input`` is False)."""
        if "coefs_" not in self.__dict__:  # (check_is_fitted scans every attribute: 20 us a call)
            check_is_fitted(self)
        check_finite = False
        if check_input:
            X, check_finite = self._prediction_input(X)
        model_dtype = self.coefs_[0].dtype
        dtype = np.result_type(model_dtype, X.dtype)
        if dtype not in (np.float32, np.float64):
            dtype = np.float64
        layout = _prediction_layout(tuple(self._layer_units()), hasattr(self, "batch_norm_scales_"))
        theta = self._viewed_buffer(layout, dtype)
        if theta is None:
            theta = self._pack(layout, dtype)
        backend = self._backend(layout, X, dtype, training=False, norm_stats=self._norm_stats())
        if sp.issparse(X) and X.dtype != dtype:
            X = X.astype(dtype)
        data = kernel_data(X, dtype=dtype)
        if check_finite:
            out, finite = backend.predict(data, theta, return_finite=True)
        else:
            finite = True
            out = backend.predict(data, theta)
        if not finite:  # NaN or infinity in X (scikit-learn's error), or finite values whose sum overflows
            validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        # finite X whose values overflow the network (unchecked, as X is, under assume_finite)
        if not get_config()["assume_finite"] and not np.isfinite(out).all():
            bad = int((~np.isfinite(out)).any(axis=1).sum())
            raise ValueError(
                f"The network's output overflowed to infinity or NaN for {bad} of the {out.shape[0]} "
                f"rows of X ({np.dtype(dtype).name}): X holds values far outside the range the model was trained "
                "on. Scale X as the training data was scaled."
            )
        return out

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.  float32 input trains in float32, anything else in float64.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        X_val, y_val : array-like, default=None
            A validation set (fastbp only; stochastic solvers).  Its score and
            loss are recorded every epoch in ``validation_scores_`` and
            ``validation_loss_curve_``; with ``early_stopping=True`` it is
            used instead of holding out ``validation_fraction`` of X.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid parameters or input, naming the problem, and when
            training diverges (a non-finite loss or weights), naming the epoch
            and the loss.

        Notes
        -----
        A call that raises changes nothing: a fitted model keeps its weights,
        batch-normalisation statistics, optimizer state, ``n_iter_``, ``t_``,
        curves and early-stopping state exactly as they were before the call
        (an unfitted one stays unfitted).  Ctrl-C during training is not a
        failure: it stops after the last complete epoch, with a warning.
        """
        with self._transaction():
            return self._fit(X, y, sample_weight=sample_weight, incremental=False, X_val=X_val, y_val=y_val)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
