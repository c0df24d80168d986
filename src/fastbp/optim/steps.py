r"""The optimizer's formulas, written once: penalties, gradient, and one step per solver.

Plain Python scalar functions, like :mod:`fastbp.nn`: the CPU kernels
(:mod:`fastbp.kernels.cpu.optim`) and the GPU kernels
(:mod:`fastbp.kernels.cuda.optim`) compile them
(:func:`fastbp.kernels.compile_math`), and the GPU's host code calls
:func:`solver_constants` and :func:`penalty` as they are.

The gradient of parameter :math:`\theta_k` from its raw sum :math:`p_k` over a
batch of weight :math:`W = \sum_i w_i` is

.. math:: g_k = c \, \frac{p_k + \alpha \theta_k + \lambda_1 \operatorname{sign}\theta_k}{W}

(:func:`penalised_gradient`; biases and batch-normalisation parameters carry
no penalty: they are passed :math:`\alpha = \lambda_1 = 0`), with :math:`c =
\min(1, \text{max\_grad\_norm} / \lVert g \rVert)` when clipping is on and 1
otherwise.  A step updates one parameter in place, in the arrays of the
parameters ``theta`` and of the optimizer's two moments ``m``, ``v``, reading
the per-solver values :func:`solver_constants` computes once per step.
"""

import math

from fastbp.optim import H_BETA1, H_BETA2, H_DECAY, H_EPSILON, H_LR, H_MOMENTUM, H_NESTEROV, H_SOLVER, RMSPROP, SGD

#: Number of values :func:`solver_constants` returns (and :func:`step` reads).
N_CONSTANTS = 7
#: Index of AdamW's decay among them: 0 for the parameters without a penalty.
DECAY = 6


def penalised_gradient(p, th, alpha, l1, inv):
    r"""The gradient of one parameter, :math:`(p + \alpha\theta + \lambda_1 \operatorname{sign}\theta)
    \cdot \text{inv}`, from its raw sum ``p`` (``inv``: :math:`1/W`, times the clipping factor)."""
    l1_term = l1 if th > 0 else (-l1 if th < 0 else l1 - l1)  # (l1 - l1: 0 in l1's own type)
    return (p + alpha * th + l1_term) * inv


def penalty(alpha, l1, sq, ab, sw_sum):
    r"""The penalty's share of the batch loss, :math:`(\tfrac{\alpha}{2} \sum W^2 + \lambda_1
    \sum |W|) / W`, from the weights' sums of squares ``sq`` and of absolute values ``ab``."""
    return (0.5 * alpha * sq + l1 * ab) / sw_sum


def solver_constants(hyper, t):
    r"""The values one step of ``hyper[H_SOLVER]`` reads, as a tuple of :data:`N_CONSTANTS` floats.

    ``t`` is Adam's step count, this step included (read by Adam and AdamW only).

    - SGD: ``(lr, momentum, nesterov, 0, 0, 0, 0)``;
    - RMSprop: ``(lr, rho, 1 - rho, epsilon, 0, 0, 0)``, :math:`\rho = \beta_2`;
    - Adam, AdamW: ``(lr_t, beta1, 1 - beta1, beta2, 1 - beta2, epsilon, decay)``, the bias
      correction folded into the rate, :math:`\eta_t = \eta \sqrt{1 - \beta_2^t} / (1 - \beta_1^t)`,
      and AdamW's decoupled decay per step :math:`\eta\lambda` (0 for Adam).

    The differences ``1 - beta`` are taken here, once, in float64.
    """
    solver = hyper[H_SOLVER]
    lr = hyper[H_LR]
    if solver == SGD:
        return (lr, hyper[H_MOMENTUM], hyper[H_NESTEROV], 0.0, 0.0, 0.0, 0.0)
    if solver == RMSPROP:
        rho = hyper[H_BETA2]
        return (lr, rho, 1.0 - rho, hyper[H_EPSILON], 0.0, 0.0, 0.0)
    b1 = hyper[H_BETA1]
    b2 = hyper[H_BETA2]
    lr_t = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    return (lr_t, b1, 1.0 - b1, b2, 1.0 - b2, hyper[H_EPSILON], lr * hyper[H_DECAY])


def sgd(theta, m, k, g, th, lr, momentum, nesterov):
    r"""SGD with momentum :math:`\mu`: :math:`v \leftarrow \mu v - \eta g`, then
    :math:`\theta \leftarrow \theta + v`, or with Nesterov's momentum :math:`\theta
    \leftarrow \theta + \mu v - \eta g`."""
    vk = momentum * m[k] - lr * g
    m[k] = vk
    theta[k] = th + (momentum * vk - lr * g if nesterov != 0 else vk)


def rmsprop(theta, v, k, g, th, lr, rho, one_minus_rho, eps):
    r"""RMSprop: :math:`v \leftarrow \rho v + (1-\rho) g^2`, :math:`\theta \leftarrow
    \theta - \eta g / (\sqrt v + \epsilon)`."""
    vk = rho * v[k] + one_minus_rho * (g * g)
    v[k] = vk
    theta[k] = th - lr * g / (math.sqrt(vk) + eps)


def adam(theta, m, v, k, g, th, lr_t, b1, one_minus_b1, b2, one_minus_b2, eps, decay):
    r"""Adam (Kingma & Ba) and AdamW (``decay`` :math:`= \eta\lambda`, 0 for Adam):

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \theta \leftarrow (1 - \eta\lambda)\theta - \eta_t \frac{m}{\sqrt{v} + \epsilon}
    """
    mk = b1 * m[k] + one_minus_b1 * g
    vk = b2 * v[k] + one_minus_b2 * (g * g)
    m[k] = mk
    v[k] = vk
    th = th - decay * th
    theta[k] = th - lr_t * mk / (math.sqrt(vk) + eps)


def step(theta, m, v, k, g, th, solver, c):
    """One step of ``solver`` for parameter ``k`` (current value ``th``, gradient ``g``), with
    ``c`` the values of :func:`solver_constants` (a tuple, or an array in the parameters' dtype)."""
    if solver == SGD:
        sgd(theta, m, k, g, th, c[0], c[1], c[2])
    elif solver == RMSPROP:
        rmsprop(theta, v, k, g, th, c[0], c[1], c[2], c[3])
    else:
        adam(theta, m, v, k, g, th, c[0], c[1], c[2], c[3], c[4], c[5], c[6])
