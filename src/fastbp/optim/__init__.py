"""Optimizer hyperparameters, state and learning-rate schedules.

The stochastic solvers run inside the compiled epoch; this module holds what
the host side keeps between epochs: the packed hyperparameter vector the
kernels read, the optimizer state arrays, and the per-epoch schedules
(``invscaling``, ``adaptive``) that scikit-learn applies at the end of each
epoch.
"""

import numpy as np

SGD = 0
ADAM = 1
ADAMW = 2
RMSPROP = 3
SOLVER_CODES = {"sgd": SGD, "adam": ADAM, "adamw": ADAMW, "rmsprop": RMSPROP}

# Layout of the float64 hyperparameter vector read by the kernels.
H_SOLVER = 0
H_LR = 1
H_MOMENTUM = 2
H_NESTEROV = 3
H_BETA1 = 4
H_BETA2 = 5
H_EPSILON = 6
H_ALPHA = 7
H_CLIP_EPS = 8
H_OUT_SCALE = 9
H_LOSS_PARAM = 10
H_L1 = 11  # L1 penalty (in the gradient, like alpha)
H_MAX_NORM = 12  # global gradient-norm clipping threshold, 0 for none
H_DECAY = 13  # decoupled weight decay (adamw), per step: theta -= lr * decay * theta
H_BN_MOMENTUM = 14  # batch norm: weight of a mini-batch's statistics in the running ones
H_BN_EPSILON = 15  # batch norm: added to the variance before its square root
N_HYPER = 16


def make_hyper(
    dtype,
    solver="adam",
    learning_rate=0.001,
    momentum=0.9,
    nesterov=True,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    alpha=0.0001,
    out_scale=1.0,
    loss_param=0.0,
    l1=0.0,
    max_grad_norm=None,
    batch_norm_momentum=0.1,
    batch_norm_epsilon=1e-5,
):
    """The float64 hyperparameter vector the kernels read, from named values.

    The one place that packs it: the estimators and the tests build it here.
    Defaults are scikit-learn's (and fastbp's extensions off).  With
    ``solver='adamw'`` the L2 penalty ``alpha`` becomes decoupled weight decay
    (applied to the step, not in the gradient).

    Parameters
    ----------
    dtype : numpy dtype
        Working dtype (its machine epsilon clips probabilities in the log-losses).
    solver : {'sgd', 'adam', 'adamw', 'rmsprop'}, default='adam'
        Any other value (L-BFGS) packs as 'sgd': the full-batch kernels read no solver.
    learning_rate, momentum, nesterov, beta_1, beta_2, epsilon, alpha : float
        The optimizer's and the L2 penalty's parameters.
    out_scale : float, default=1.0
        Factor of the output delta (``1 / n_outputs`` for L-BFGS on a squared error).
    loss_param : float, default=0.0
        ``huber_delta`` or ``quantile_alpha``.
    l1 : float, default=0.0
    max_grad_norm : float or None, default=None
    batch_norm_momentum, batch_norm_epsilon : float

    Returns
    -------
    ndarray of float64 of shape (N_HYPER,)
        Indexed by the ``H_*`` constants of this module.
    """
    hyper = np.zeros(N_HYPER)
    hyper[H_SOLVER] = SOLVER_CODES.get(solver, SGD)
    hyper[H_LR] = learning_rate
    hyper[H_MOMENTUM] = momentum
    hyper[H_NESTEROV] = float(nesterov)
    hyper[H_BETA1] = beta_1
    hyper[H_BETA2] = beta_2
    hyper[H_EPSILON] = epsilon
    hyper[H_ALPHA] = alpha
    hyper[H_CLIP_EPS] = np.finfo(dtype).eps
    hyper[H_OUT_SCALE] = out_scale
    hyper[H_LOSS_PARAM] = loss_param
    hyper[H_L1] = l1
    hyper[H_MAX_NORM] = max_grad_norm or 0.0
    hyper[H_BN_MOMENTUM] = batch_norm_momentum
    hyper[H_BN_EPSILON] = batch_norm_epsilon
    if solver == "adamw":
        hyper[H_DECAY] = alpha
        hyper[H_ALPHA] = 0.0
    return hyper


class OptimizerState:
    """What a stochastic solver carries from one epoch (or ``partial_fit``) to the next.

    Parameters
    ----------
    solver : {'sgd', 'adam', 'adamw', 'rmsprop'}
    n_params : int
        Length of the flat parameter buffer.
    dtype : numpy dtype
        Parameter dtype.
    learning_rate_init : float

    Attributes
    ----------
    moments : ndarray of shape (2, n_params)
        SGD velocity in row 0, or Adam's first and second moments.
    counters : ndarray of int64 of shape (2,)
        Adam's step count, and the mini-batch count (seeds dropout masks).
    learning_rate : float
        Current SGD learning rate (changed by ``invscaling`` and ``adaptive``).
    """

    def __init__(self, solver, n_params, dtype, learning_rate_init):
        self.solver = solver
        self.moments = np.zeros((2, n_params), dtype=dtype)
        self.counters = np.zeros(2, dtype=np.int64)
        self.learning_rate = float(learning_rate_init)

    def end_of_epoch(self, schedule, learning_rate_init, power_t, time_step):
        """Apply the ``invscaling`` schedule after an epoch (SGD only)."""
        if self.solver == "sgd" and schedule == "invscaling":
            self.learning_rate = float(learning_rate_init) / (time_step + 1) ** power_t

    def on_plateau(self, schedule, msg, verbose):
        """React to ``n_iter_no_change`` epochs without progress.

        With the ``adaptive`` schedule the learning rate is divided by 5, for
        every solver (scikit-learn does this for SGD only and stops Adam).

        Returns
        -------
        stop : bool
            True to stop training; False when the ``adaptive`` schedule divided
            the SGD learning rate by 5 instead.
        """
        if schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False
