"""Progress output and user callbacks around the epoch loop.

A callback is any object with a method
``on_epoch_end(estimator, epoch, logs) -> bool``; returning True stops
training after that epoch.  ``logs`` holds ``loss`` (training loss of the
epoch), ``learning_rate``, and, when a validation set is in use,
``validation_score`` and ``validation_loss``.

Examples
--------
Save the weights after every epoch:

>>> import pickle
>>> class Checkpoint:
...     def __init__(self, path):
...         self.path = path
...     def on_epoch_end(self, estimator, epoch, logs):
...         with open(self.path, "wb") as f:
...             pickle.dump((estimator.coefs_, estimator.intercepts_), f)
...         return False

Stop as soon as the training loss falls below a target:

>>> class StopBelow:
...     def __init__(self, target):
...         self.target = target
...     def on_epoch_end(self, estimator, epoch, logs):
...         return logs["loss"] < self.target
"""


class Progress:
    """A tqdm bar over the epochs of one fit (``progress_bar=True``)."""

    def __init__(self, total, desc):
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:
            raise ImportError(
                "progress_bar=True needs the optional dependency tqdm: pip install tqdm "
                "(or pip install 'fastbp[progress]')."
            ) from exc
        self.bar = tqdm(total=total, desc=desc, unit="epoch")

    def update(self, logs):
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k in ("loss", "validation_score", "validation_loss")}
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    def close(self):
        self.bar.close()


def check_callbacks(callbacks):
    """Validate the ``callbacks`` parameter; returns a list."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(f"callbacks must be a list of objects with an on_epoch_end method, got {callbacks!r}.")
    for cb in callbacks:
        if not callable(getattr(cb, "on_epoch_end", None)):
            raise ValueError(f"callback {cb!r} has no on_epoch_end(estimator, epoch, logs) method.")
    return list(callbacks)
