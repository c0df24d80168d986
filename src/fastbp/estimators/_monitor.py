"""Early stopping's bookkeeping for one fit: the best values seen, the epochs without
progress, and the best weights.

scikit-learn's rules, epoch by epoch: with ``early_stopping`` the validation
score (or, with ``early_stopping_metric='loss'``, the validation loss) must beat
the best one by ``tol``; without it the training loss must fall below the best
by ``tol``.  More than ``n_iter_no_change`` epochs in a row without that end
training (or, with ``learning_rate='adaptive'``, divide the rate).
"""

import numpy as np


class Monitor:
    """What one fit watches between epochs.

    Parameters
    ----------
    estimator : BaseBackprop
        Its fitted state seeds the monitor (``best_loss_``,
        ``best_validation_score_``, ``_no_improvement_count``,
        ``_best_monitored``), so ``warm_start`` and ``partial_fit`` continue
        the count; :meth:`record` writes it back after every epoch, so
        callbacks see it current.
    trainer : fastbp.backends.Trainer
        The training trainer whose weights are snapshotted.
    validating : bool
        Whether a validation set is scored every epoch.
    keep_best : bool
        Keep a snapshot of the best epoch's weights (``early_stopping`` or
        ``restore_best_weights``) for :meth:`restore_best`.

    Attributes
    ----------
    best_loss : float or None
        Lowest training loss (None with ``early_stopping``, as in scikit-learn).
    best_score : float or None
        Best validation score (with ``early_stopping``).
    best_monitored : float
        Best value of the quantity watched, higher is better.
    no_improvement : int
        Epochs in a row without enough progress.
    """

    def __init__(self, estimator, trainer, validating, keep_best):
        self.early_stopping = estimator.early_stopping
        self.metric = estimator.early_stopping_metric
        self.tol = estimator.tol
        self.patience = estimator.n_iter_no_change
        self.validating = validating
        self.best_loss = estimator.best_loss_
        self.best_score = estimator.best_validation_score_
        self.best_monitored = getattr(estimator, "_best_monitored", -np.inf)
        self.no_improvement = estimator._no_improvement_count
        self.trainer = trainer
        self.keep_best = keep_best
        self.best_weights = trainer.snapshot() if keep_best else None
        self.best_value = -np.inf

    def watched(self, logs):
        """The quantity this fit watches, higher is better: the validation score or minus
        the validation loss (with a validation set), else minus the training loss."""
        if not self.validating:
            return -logs["loss"]
        if self.metric == "loss":
            return -logs["validation_loss"]
        return logs["validation_score"]

    def record(self, estimator, logs):
        """Take one epoch's ``logs`` into account, snapshot the weights of a new best epoch,
        and write the state back to ``estimator``."""
        value = self.watched(logs)
        if self.early_stopping:
            best = self.best_score if self.metric == "score" else self.best_monitored
            if not value >= best + self.tol:  # NaN counts as no progress
                self.no_improvement += 1
            else:
                self.no_improvement = 0
            self.best_score = max(self.best_score, logs["validation_score"])
        else:
            loss = logs["loss"]
            if loss > self.best_loss - self.tol:
                self.no_improvement += 1
            else:
                self.no_improvement = 0
            if loss < self.best_loss:
                self.best_loss = loss
        self.best_monitored = max(self.best_monitored, value)
        if self.keep_best and value > self.best_value:
            self.best_weights, self.best_value = self.trainer.snapshot(), value
        self.write(estimator)

    def write(self, estimator):
        """The monitored state as the estimator's fitted attributes."""
        estimator.best_loss_ = self.best_loss
        estimator.best_validation_score_ = self.best_score
        estimator._best_monitored = self.best_monitored
        estimator._no_improvement_count = self.no_improvement

    def stalled(self):
        """Whether more than ``n_iter_no_change`` epochs in a row made no progress."""
        return self.no_improvement > self.patience

    def message(self):
        """scikit-learn's message for a stall."""
        what = "Validation score" if self.early_stopping else "Training loss"
        return "%s did not improve more than tol=%f for %d consecutive epochs." % (what, self.tol, self.patience)

    def reset(self, estimator):
        """Start counting epochs without progress again (after the rate was lowered)."""
        self.no_improvement = 0
        self.write(estimator)

    def restore_best(self):
        """Put the best epoch's weights back in the trainer (when they are kept)."""
        if self.keep_best:
            self.trainer.restore(self.best_weights)
