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
    :math:`(e + 1) / (w + 1)` during the first :math:`w` epochs.
    """
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
