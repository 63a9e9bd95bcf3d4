"""dsnb.theory closed forms [RL1] [ENT1] [DS1] [DS2] [REI1], checked by hand and against the
long-run expected-gradient dynamics of E[r_method] − beta·KL."""

import math

import numpy as np
import pytest

from dsnb.theory import correct_entropy, correctness, ds_reward, kl_optimum, reinforcement_gain, simulate

BASE = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
LOGP = np.log(BASE)
CORRECT = np.array([True, False, True, False, True])


def test_vanilla_optimum_on_two_trajectories_by_hand():
    # pi* ∝ pi_base·e^{r/beta}: correct 0.2·e^2, incorrect 0.8
    probs = kl_optimum(np.log([0.2, 0.8]), [True, False], beta=0.5)
    expected = 0.2 * math.e**2 / (0.2 * math.e**2 + 0.8)
    assert probs[0] == pytest.approx(expected)


def test_entropy_optimum_by_hand():
    beta, g = 1.0, 1.0  # exponent 1/2, boost 1/2
    probs = kl_optimum(np.log([0.16, 0.64, 0.2]), [True, False, False], beta, "entropy", entropy_coef=g)
    w = np.array([0.4 * math.exp(0.5), 0.8, math.sqrt(0.2)])
    np.testing.assert_allclose(probs, w / w.sum())


def test_ds_reward_by_hand_and_sign():
    r = ds_reward(np.log([0.5, 0.125, 0.25, 0.125]), [1, 1, 0, 0], gamma_p=0.5, gamma_n=2.0)
    np.testing.assert_allclose(
        r, [1 + 0.5 * math.log(2), 1 + 0.5 * math.log(8), -2 * math.log(4), -2 * math.log(8)]
    )
    assert r[1] > r[0] and r[3] < r[2]  # rare correct earns more, rare incorrect loses more


def test_ds_optimum_powers_each_set_with_its_own_exponent():
    # would fail if either DS sign were flipped: ratios within each set are powers of base ratios
    beta, gp, gn = 0.5, 0.2, 0.3
    probs = kl_optimum(LOGP, CORRECT, beta, "ds", gamma_p=gp, gamma_n=gn)
    assert probs[0] / probs[2] == pytest.approx((0.4 / 0.15) ** (1 - gp / beta))
    assert probs[1] / probs[3] == pytest.approx((0.25 / 0.12) ** (1 + gn / beta))
    # between sets: correct weight e^{1/beta}·pi_base^{1−gp/beta} against pi_base^{1+gn/beta}
    assert probs[0] / probs[1] == pytest.approx(
        math.exp(1 / beta) * 0.4 ** (1 - gp / beta) / 0.25 ** (1 + gn / beta)
    )


def test_ds_smooths_the_correct_set_and_vanilla_keeps_its_shape():
    vanilla = kl_optimum(LOGP, CORRECT, 0.5)
    ds = kl_optimum(LOGP, CORRECT, 0.5, "ds", gamma_p=0.3)
    base_h = correct_entropy(BASE, CORRECT)
    assert correct_entropy(vanilla, CORRECT) == pytest.approx(base_h)
    assert correct_entropy(ds, CORRECT) > base_h + 1e-3


def test_zero_coefficients_reduce_every_method_to_vanilla():
    vanilla = kl_optimum(LOGP, CORRECT, 0.7)
    np.testing.assert_allclose(kl_optimum(LOGP, CORRECT, 0.7, "ds"), vanilla)
    np.testing.assert_allclose(kl_optimum(LOGP, CORRECT, 0.7, "entropy"), vanilla)


@pytest.mark.parametrize(
    "train, closed",
    [
        (("grpo", {}), ("vanilla", {})),
        (("entropy_bonus", {"entropy_coef": 0.3}), ("entropy", {"entropy_coef": 0.3})),
        (("entropy_penalty", {"entropy_coef": 0.2}), ("entropy", {"entropy_coef": -0.2})),
        (("ds", {"gamma_p": 0.2, "gamma_n": 0.3}), ("ds", {"gamma_p": 0.2, "gamma_n": 0.3})),
    ],
)
def test_closed_form_is_the_limit_of_expected_gradient_dynamics(train, closed):
    beta = 0.5
    hist = simulate(
        LOGP,
        CORRECT,
        train[0],
        steps=5000,
        group_size=2,
        lr=2.0,
        mode="expected",
        ref="base",
        record_every=5000,
        beta=beta,
        **train[1],
    )
    np.testing.assert_allclose(hist.final, kl_optimum(LOGP, CORRECT, beta, closed[0], **closed[1]), atol=1e-7)


def test_closed_forms_over_several_prompts_are_row_by_row():
    logp = np.log([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    correct = np.array([[1, 0, 1], [0, 1, 0]], bool)
    both = kl_optimum(logp, correct, 0.4, "ds", gamma_p=0.1)
    for row in range(2):
        np.testing.assert_allclose(both[row], kl_optimum(logp[row], correct[row], 0.4, "ds", gamma_p=0.1))


def test_reinforcement_gain_is_proportional_to_base_probability():
    beta = 0.8
    gain = reinforcement_gain(LOGP, CORRECT, beta)
    np.testing.assert_allclose(gain, kl_optimum(LOGP, CORRECT, beta) - BASE, atol=1e-12)
    ratio = gain[CORRECT] / BASE[CORRECT]
    np.testing.assert_allclose(ratio, ratio[0])  # same relative gain for every correct y
    c_base = correctness(BASE, CORRECT)
    z = c_base * math.exp(1 / beta) + 1 - c_base
    assert ratio[0] == pytest.approx(math.exp(1 / beta) / z - 1)
