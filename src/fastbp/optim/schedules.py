"""Per-epoch learning-rate schedules beyond scikit-learn's.

scikit-learn's ``'constant'``, ``'invscaling'`` and ``'adaptive'`` live in
:class:`fastbp.optim.OptimizerState`; the schedules here multiply the rate it
holds by a factor that depends only on the epoch, so they compose with any
solver.  Epochs are counted from 0 within each ``fit`` call; ``partial_fit``
(one epoch per call) counts every epoch trained so far, so its calls walk
through the schedule.
"""

import math

SCHEDULES = ("constant", "invscaling", "adaptive", "cosine", "step", "exponential", "one_cycle")


#: Factor of the 'step' schedule when ``lr_decay`` is None.
STEP_DECAY = 0.5
#: What the 'exponential' schedule leaves of the rate after ``max_iter`` epochs when
#: ``lr_decay`` is None: its mean factor over the fit is then 0.50, as cosine's.
EXPONENTIAL_END = 0.2
#: Decays of the 'step' schedule within ``max_iter`` epochs when ``lr_step_size`` is None.
STEP_PARTS = 4


def decay_and_step(schedule, lr_decay, lr_step_size, max_iter):
    r"""The ``(lr_decay, lr_step_size)`` a schedule uses, its own defaults filled in for None.

    Each schedule has defaults of its own (as PyTorch's and Keras's
    schedulers do), chosen so that at its defaults it trains a problem as
    far as the constant rate does within ``max_iter`` epochs:

    - ``'step'``: :math:`\gamma = 0.5` every :math:`s = \max(1, \lfloor E / 4 \rfloor)`
      epochs, :math:`E` = ``max_iter`` (a factor 1/8 in the last quarter);
    - ``'exponential'``: :math:`\gamma = 0.2^{1/E}`, which leaves 1/5 of the
      rate after :math:`E` epochs.
    """
    if lr_step_size is None:
        lr_step_size = max(1, max_iter // STEP_PARTS)
    if lr_decay is None:
        lr_decay = EXPONENTIAL_END ** (1.0 / max_iter) if schedule == "exponential" else STEP_DECAY
    return lr_decay, lr_step_size


def epoch_factor(schedule, epoch, max_iter, lr_decay, lr_step_size, warmup_epochs):
    r"""Multiplier of ``learning_rate_init`` for ``epoch`` (0-based).

    - ``'cosine'``: :math:`\tfrac12 (1 + \cos(\pi e / E))`, :math:`E` = ``max_iter``;
    - ``'step'``: :math:`\gamma^{\lfloor e / s \rfloor}`, :math:`\gamma` = ``lr_decay``,
      :math:`s` = ``lr_step_size``;
    - ``'exponential'``: :math:`\gamma^e`;
    - ``'one_cycle'``: from 1/25 up to 1 over the first 30% of ``max_iter``
      epochs, then down to 1/10000, both by half cosines;
    - anything else: 1.

    With ``warmup_epochs`` = :math:`w > 0`, the factor is further multiplied by
    :math:`(e + 1) / (w + 1)` during the first :math:`w` epochs.  ``lr_decay``
    and ``lr_step_size`` may be None: :func:`decay_and_step` fills them in.
    """
    lr_decay, lr_step_size = decay_and_step(schedule, lr_decay, lr_step_size, max_iter)
    if schedule == "cosine":  # held at 0 past max_iter (partial_fit can go on)
        factor = 0.5 * (1.0 + math.cos(math.pi * min(epoch, max_iter) / max_iter))
    elif schedule == "step":
        factor = lr_decay ** (epoch // lr_step_size)
    elif schedule == "exponential":
        factor = lr_decay**epoch
    elif schedule == "one_cycle":
        rise = max(1.0, 0.3 * max_iter)
        if epoch < rise:
            start, end, frac = 1.0 / 25.0, 1.0, epoch / rise
        else:
            start, end, frac = 1.0, 1e-4, min(1.0, (epoch - rise) / max(1.0, max_iter - rise))
        factor = end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * frac))
    else:
        factor = 1.0
    if epoch < warmup_epochs:
        factor *= (epoch + 1) / (warmup_epochs + 1)
    return factor
