"""Learning-rate schedules (closed forms) and the hyperparameter record."""

import math

import numpy as np
import pytest

from fastbp import optim as O
from fastbp.optim.schedules import SCHEDULES, decay_and_step, epoch_factor


def factor(schedule, epoch, max_iter=40, lr_decay=None, lr_step_size=None, warmup=0):
    return epoch_factor(schedule, epoch, max_iter, lr_decay, lr_step_size, warmup)


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
def test_scikit_learns_schedules_are_applied_elsewhere(schedule):
    assert [factor(schedule, e) for e in range(50)] == [1.0] * 50


def test_cosine_closed_form_and_held_at_zero_after_max_iter():
    for e in range(41):
        assert factor("cosine", e) == pytest.approx(0.5 * (1 + math.cos(math.pi * e / 40)))
    assert factor("cosine", 40) == pytest.approx(0.0, abs=1e-15)
    assert factor("cosine", 55) == factor("cosine", 40)


def test_step_defaults_halve_at_each_quarter_of_max_iter():
    assert decay_and_step("step", None, None, 40) == (0.5, 10)
    assert [factor("step", e) for e in (0, 9, 10, 19, 20, 39)] == [1, 1, 0.5, 0.5, 0.25, 0.125]
    assert factor("step", 7, lr_decay=0.1, lr_step_size=3) == pytest.approx(0.01)
    assert decay_and_step("step", None, None, 3) == (0.5, 1)  # never a step of 0 epochs


def test_exponential_default_leaves_a_fifth_after_max_iter():
    gamma, _ = decay_and_step("exponential", None, None, 40)
    assert gamma**40 == pytest.approx(0.2)
    assert factor("exponential", 40) == pytest.approx(0.2)
    rates = [factor("exponential", e) for e in range(40)]
    assert np.mean(rates) == pytest.approx(0.5, abs=0.02)  # as cosine's mean
    assert factor("exponential", 3, lr_decay=0.5) == 0.125


def test_one_cycle_rises_then_anneals():
    rates = [factor("one_cycle", e, max_iter=100) for e in range(101)]
    peak = int(np.argmax(rates))
    assert rates[0] == pytest.approx(1 / 25) and rates[peak] == pytest.approx(1.0) and 25 <= peak <= 35
    assert np.all(np.diff(rates[: peak + 1]) >= 0) and np.all(np.diff(rates[peak:]) <= 0)
    assert rates[-1] == pytest.approx(1e-4)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_warmup_ramps_every_schedule(schedule):
    for e in range(3):
        assert factor(schedule, e, warmup=3) == pytest.approx(factor(schedule, e) * (e + 1) / 4)
    assert factor(schedule, 3, warmup=3) == factor(schedule, 3)


def test_make_hyper_names_every_slot():
    h = O.make_hyper(np.float32, solver="rmsprop", learning_rate=0.1, momentum=0.5, nesterov=False, beta_1=0.8,
                     beta_2=0.99, epsilon=1e-7, alpha=0.01, out_scale=0.5, loss_param=1.5, l1=0.2,
                     max_grad_norm=3.0, batch_norm_momentum=0.2, batch_norm_epsilon=1e-3)
    assert h.dtype == np.float64 and h.shape == (O.N_HYPER,)
    expected = {O.H_SOLVER: O.RMSPROP, O.H_LR: 0.1, O.H_MOMENTUM: 0.5, O.H_NESTEROV: 0.0, O.H_BETA1: 0.8,
                O.H_BETA2: 0.99, O.H_EPSILON: 1e-7, O.H_ALPHA: 0.01, O.H_CLIP_EPS: np.finfo(np.float32).eps,
                O.H_OUT_SCALE: 0.5, O.H_LOSS_PARAM: 1.5, O.H_L1: 0.2, O.H_MAX_NORM: 3.0, O.H_DECAY: 0.0,
                O.H_BN_MOMENTUM: 0.2, O.H_BN_EPSILON: 1e-3}
    assert sorted(expected) == list(range(O.N_HYPER))
    for slot, value in expected.items():
        assert h[slot] == pytest.approx(value), slot


def test_make_hyper_adamw_decouples_the_penalty():
    h = O.make_hyper(np.float64, solver="adamw", alpha=0.03)
    assert h[O.H_DECAY] == 0.03 and h[O.H_ALPHA] == 0.0 and h[O.H_SOLVER] == O.ADAMW
    assert O.make_hyper(np.float64, solver="lbfgs")[O.H_SOLVER] == O.SGD
    assert O.make_hyper(np.float64)[O.H_MAX_NORM] == 0.0
