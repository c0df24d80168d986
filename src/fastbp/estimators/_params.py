"""Validation of the estimators' constructor parameters.

Every check raises a ``ValueError`` that names the parameter and the offending
value.  Validation runs at ``fit`` (never in ``__init__``), and never mutates
the parameters.
"""

from numbers import Integral, Real

import numpy as np

from fastbp.nn.activations import ACTIVATION_CODES
from fastbp.optim.schedules import SCHEDULES


def _fail(name, value, expected):
    raise ValueError(f"The '{name}' parameter must be {expected}. Got {value!r} instead.")


def check_real(est, name, low=None, high=None, low_open=False, high_open=False):
    """Check that ``est.<name>`` is a real number in the given interval."""
    value = getattr(est, name)
    if isinstance(value, bool) or not isinstance(value, Real) or np.isnan(value):
        _fail(name, value, "a float")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        _fail(name, value, f"a float in the range {lo}{low}, {'inf' if high is None else high}{hi}")


def check_int(est, name, low):
    """Check that ``est.<name>`` is an integer ``>= low``."""
    value = getattr(est, name)
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        _fail(name, value, f"an int in the range [{low}, inf)")


def check_bool(est, name):
    """Check that ``est.<name>`` is a boolean."""
    value = getattr(est, name)
    if not isinstance(value, (bool, np.bool_)):
        _fail(name, value, "a bool")


def check_choice(est, name, options):
    """Check that ``est.<name>`` is one of ``options``."""
    value = getattr(est, name)
    if not isinstance(value, str) or value not in options:
        _fail(name, value, "one of " + ", ".join(repr(o) for o in sorted(options)))


def hidden_layer_sizes(value):
    """Validate ``hidden_layer_sizes`` and return it as a list of ints.

    An int means one hidden layer; an empty sequence means no hidden layer.
    """
    sizes = [value] if not hasattr(value, "__iter__") or isinstance(value, str) else list(value)
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, Integral):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {value!r} "
                f"(element {size!r} is not an integer)."
            )
    if any(size <= 0 for size in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(size) for size in sizes]


def validate_params(est):
    """Check every constructor parameter of a fastbp estimator.

    Raises
    ------
    ValueError
        Naming the first parameter whose value is not allowed.
    """
    hidden_layer_sizes(est.hidden_layer_sizes)
    check_choice(est, "activation", set(ACTIVATION_CODES))
    check_choice(est, "solver", {"lbfgs", "sgd", "adam", "adamw", "rmsprop"})
    check_real(est, "alpha", low=0)
    if not (isinstance(est.batch_size, str) and est.batch_size == "auto"):
        if isinstance(est.batch_size, bool) or not isinstance(est.batch_size, Integral) or est.batch_size < 1:
            _fail("batch_size", est.batch_size, "'auto' or an int in the range [1, inf)")
    check_choice(est, "learning_rate", set(SCHEDULES))
    check_real(est, "learning_rate_init", low=0, low_open=True)
    check_real(est, "power_t", low=0)
    check_int(est, "max_iter", 1)
    check_bool(est, "shuffle")
    check_real(est, "tol", low=0)
    if not isinstance(est.verbose, (bool, np.bool_, Integral)):
        _fail("verbose", est.verbose, "a bool or an int")
    check_bool(est, "warm_start")
    check_real(est, "momentum", low=0, high=1)
    check_bool(est, "nesterovs_momentum")
    check_bool(est, "early_stopping")
    check_real(est, "validation_fraction", low=0, high=1, high_open=True)
    check_real(est, "beta_1", low=0, high=1, high_open=True)
    check_real(est, "beta_2", low=0, high=1, high_open=True)
    check_real(est, "epsilon", low=0, low_open=True)
    if not (isinstance(est.n_iter_no_change, Real) and est.n_iter_no_change == np.inf):
        check_int(est, "n_iter_no_change", 1)
    check_int(est, "max_fun", 1)
    check_choice(est, "device", {"cpu", "cuda", "auto"})
    check_choice(est, "init", {"glorot", "he"})
    rates = np.asarray(est.dropout, dtype=object)
    if rates.ndim > 1 or any(
        isinstance(r, bool) or not isinstance(r, Real) or not 0 <= r < 1 for r in np.ravel(rates)
    ):
        _fail("dropout", est.dropout, "a float in [0, 1) or a sequence of them, one per hidden layer")
    check_real(est, "l1", low=0)
    if est.max_grad_norm is not None:
        check_real(est, "max_grad_norm", low=0, low_open=True)
    check_bool(est, "batch_norm")
    check_real(est, "batch_norm_momentum", low=0, high=1)
    check_real(est, "batch_norm_epsilon", low=0, low_open=True)
    if est.lr_decay is not None:
        check_real(est, "lr_decay", low=0, high=1, low_open=True)
    if est.lr_step_size is not None:
        check_int(est, "lr_step_size", 1)
    check_int(est, "warmup_epochs", 0)
    check_choice(est, "early_stopping_metric", {"score", "loss"})
    check_bool(est, "restore_best_weights")
    check_bool(est, "progress_bar")
    check_int(est, "frozen_layers", 0)
    init_from = est.init_from
    if init_from is not None and not hasattr(getattr(init_from, "estimator", init_from), "get_params"):
        _fail("init_from", init_from, "None or a fitted BackpropClassifier, BackpropRegressor, MLPClassifier or "
              "MLPRegressor (or a sklearn.frozen.FrozenEstimator of one)")
    # Parameters one estimator has and the other has not.
    if hasattr(est, "label_smoothing"):
        check_real(est, "label_smoothing", low=0, high=1, high_open=True)
    if hasattr(est, "huber_delta"):
        check_real(est, "huber_delta", low=0, low_open=True)
        check_real(est, "quantile_alpha", low=0, high=1, low_open=True, high_open=True)
