"""dsnb.theory training dynamics: [PG1], [SH1], [SEL1], sampled GRPO and simulate()."""

import itertools

import numpy as np
import pytest

from dsnb.theory import (
    SimConfig,
    credit_probability,
    group_advantage,
    log_softmax,
    policy_gradient,
    sample_groups,
    sampled_fraction,
    sharpening_rate,
    simulate,
    softmax,
    zipf_space,
)
from dsnb.theory.dynamics import SHAPING, sampled_direction

LOGP = np.log([0.4, 0.25, 0.15, 0.12, 0.08])
CORRECT = np.array([True, False, True, False, True])


def test_policy_gradient_matches_finite_differences():
    z = np.array([0.3, -0.2, 1.0, 0.1])
    r = np.array([1.0, 0.0, 1.0, 0.0])
    h = 1e-6
    fd = [(softmax(z + h * e) @ r - softmax(z - h * e) @ r) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(policy_gradient(softmax(z), r), fd, atol=1e-8)


@pytest.mark.parametrize("i, j", [(0, 2), (2, 4), (1, 3), (0, 1)])
def test_sharpening_identity_matches_one_real_step(i, j):
    lr = 0.3
    hist = simulate(LOGP, CORRECT, "grpo", steps=1, group_size=2, lr=lr, mode="expected")
    before, after = hist.probs[0], hist.probs[1]
    actual = np.log(after[i] / after[j]) - np.log(before[i] / before[j])
    assert sharpening_rate(before, CORRECT, i, j, lr) == pytest.approx(actual, rel=1e-9)


def test_sharpening_signs_correct_set_sharpens_incorrect_set_flattens():
    probs = np.exp(LOGP)
    j = probs[CORRECT].sum()
    assert sharpening_rate(probs, CORRECT, 0, 2, 1.0) == pytest.approx((1 - j) * (0.4 - 0.15))
    assert sharpening_rate(probs, CORRECT, 1, 3, 1.0) == pytest.approx(-j * (0.25 - 0.12))


def test_credit_probability_matches_monte_carlo():
    probs = np.array([0.6, 0.3, 0.08, 0.02])
    for g in (2, 8):
        mc = sampled_fraction(probs, g, n_groups=40000, seed=g)
        np.testing.assert_allclose(mc, credit_probability(probs, g), atol=0.01)


def test_sample_groups_draws_each_row_from_its_own_distribution():
    probs = np.array([[0.7, 0.2, 0.1, 0.0], [0.0, 0.0, 0.5, 0.5]])
    idx = sample_groups(np.tile(probs, (5000, 1)), 4, np.random.default_rng(1))  # rows alternate
    for row in range(2):
        freq = np.bincount(idx[row::2].ravel(), minlength=4) / idx[row::2].size
        np.testing.assert_allclose(freq, probs[row], atol=0.01)


def test_group_advantage_by_hand():
    adv = group_advantage(np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]), eps=0.0)
    s = np.std([1.0, 0.0], ddof=1)
    np.testing.assert_allclose(adv, [[0.5 / s, -0.5 / s], [0, 0], [0, 0]])


def _enumerated_direction(logp, correct, cfg):
    """E over all G-tuples of samples of (1/G)·Σ_i A_i (e_{y_i} − pi), by brute force."""
    probs, n = np.exp(logp), logp.size
    shaping = SHAPING[cfg.method](logp[None], logp[None], correct[None], cfg)[0]  # (N,)
    total = np.zeros(n)
    for seq in itertools.product(range(n), repeat=cfg.group_size):
        seq = list(seq)
        adv = group_advantage(correct[seq][None].astype(float), cfg.eps)[0] + shaping[seq]
        grad = sum(a * (np.eye(n)[y] - probs) for a, y in zip(adv, seq)) / cfg.group_size
        total += np.prod(probs[seq]) * grad
    return total


@pytest.mark.parametrize(
    "method, coefs",
    [("grpo", {}), ("entropy_bonus", {"entropy_coef": 0.5}), ("ds", {"gamma_p": 0.5, "gamma_n": 0.2})],
)
def test_sampled_update_is_unbiased_for_the_enumerated_expectation(method, coefs):
    logp, correct = np.log([0.5, 0.3, 0.2]), np.array([True, False, True])
    cfg = SimConfig(method, 1, 3, 1.0, **coefs)
    exact = _enumerated_direction(logp, correct, cfg)
    reps = 60000  # many independent groups of the same prompt, one vectorised call
    rows = np.repeat(logp[None], reps, axis=0)
    est = sampled_direction(
        rows, rows, np.repeat(correct[None], reps, axis=0), cfg, np.random.default_rng(0)
    ).mean(axis=0)
    np.testing.assert_allclose(est, exact, atol=0.01)


def test_expected_entropy_bonus_shaping_is_the_entropy_gradient():
    z = np.array([0.2, -0.5, 0.9])
    h = 1e-6

    def entropy(zz):
        p = softmax(zz)
        return -(p * np.log(p)).sum()

    fd = np.array([(entropy(z + h * e) - entropy(z - h * e)) / (2 * h) for e in np.eye(3)])
    cfg = SimConfig("entropy_bonus", 1, 2, 1.0, entropy_coef=1.0)
    logp = log_softmax(z)
    shaping = SHAPING["entropy_bonus"](logp, logp, np.zeros(3, bool), cfg)
    np.testing.assert_allclose(policy_gradient(np.exp(logp), shaping), fd, atol=1e-8)


def test_shared_strategy_step_follows_the_prompt_averaged_gradient():
    logp = np.log([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    correct = np.array([[True, False, False], [False, True, True]])
    strategies = np.array([[0, 1, 2], [0, 1, 2]])
    lr, h = 0.1, 1e-6

    def mean_c(theta):
        return np.mean(np.sum(softmax(logp + theta) * correct, axis=1))

    grad = np.array([(mean_c(h * e) - mean_c(-h * e)) / (2 * h) for e in np.eye(3)])
    hist = simulate(logp, correct, "grpo", 1, 2, lr, mode="expected", strategies=strategies)
    np.testing.assert_allclose(hist.final, softmax(logp + lr * grad), atol=1e-9)


def test_same_seed_repeats_and_different_seeds_differ():
    args = (LOGP, CORRECT, "grpo", 30, 4, 0.5)
    a, b, c = simulate(*args, seed=3), simulate(*args, seed=3), simulate(*args, seed=4)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert not np.allclose(a.probs, c.probs)


def test_sampled_grpo_raises_correctness_and_starves_rare_correct_answers():
    logp, correct = zipf_space(n=300, n_correct=8, skew=1.2)
    hist = simulate(logp, correct, "grpo", steps=150, group_size=4, lr=0.5, seed=0)
    assert hist.C[-1] > hist.C[0] + 0.3
    assert hist.N_eff[-1] < hist.N_eff[0]
    rare = np.flatnonzero(correct)[-3:]  # the three rarest correct trajectories
    assert np.all(hist.final[rare] < np.exp(logp[rare]))


def test_history_metrics_match_the_recorded_policy():
    hist = simulate(LOGP, CORRECT, "ds", 20, 4, 0.5, seed=1, gamma_p=0.3, record_every=5)
    np.testing.assert_array_equal(hist.step, [0, 5, 10, 15, 20])
    assert hist.C[-1] == pytest.approx(hist.final[CORRECT].sum())
    assert hist.kl[0] == pytest.approx(0.0, abs=1e-12)


def test_sample_counts_cover_every_draw_and_only_sampled_mode_has_them():
    hist = simulate(LOGP, CORRECT, "grpo", 25, 6, 0.5, seed=2)
    assert hist.samples.shape == (5,) and hist.samples.sum() == 25 * 6
    assert simulate(LOGP, CORRECT, "grpo", 3, 2, 0.5, mode="expected").samples is None
