"""dsnb.theory: the trajectory space's validation and the metrics [C1] [DIV1-3] [KL1-2] [PK0]."""

import itertools
import math

import numpy as np
import pytest

from dsnb.theory import (
    TrajectorySpace,
    correct_entropy,
    correct_variance,
    correctness,
    effective_solutions,
    exact_pass_at_k,
    kl_forward,
    kl_optimum,
    kl_reverse,
    simulate,
    zipf_space,
)

LOGP = np.log([0.5, 0.3, 0.2])
CORRECT = np.array([True, False, True])


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(base_logp=[0.0, np.nan], correct=[1, 0]), "NaN"),
        (dict(base_logp=[0.0, -np.inf], correct=[1, 0]), "finite"),
        (dict(base_logp=[0.0, 0.0, 0.0], correct=[1, 0]), "one correctness flag per trajectory"),
        (dict(base_logp=[0.0, 0.0], correct=[0, 0]), "no correct trajectory"),
        (dict(base_logp=[[0.0, 0.0], [0.0, 0.0]], correct=[[1, 0], [0, 0]]), "prompt 1"),
        (dict(base_logp=[0.0], correct=[1]), "N >= 2"),
        (dict(base_logp=np.zeros((2, 2, 2)), correct=np.ones((2, 2, 2))), "(P, N)"),
        (dict(base_logp=[0.0, 0.0], correct=[2, 0]), "boolean"),
    ],
)
def test_bad_spaces_raise_teaching_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        TrajectorySpace(**kwargs)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: kl_optimum(LOGP, CORRECT, beta=0.0), "beta"),
        (lambda: kl_optimum(LOGP, CORRECT, beta=-1.0), "beta"),
        (lambda: kl_optimum(LOGP, CORRECT, 1.0, "ds", gamma_p=-0.1), "gamma_p"),
        (lambda: kl_optimum(LOGP, CORRECT, 1.0, "ds", gamma_n=-0.1), "gamma_n"),
        (lambda: kl_optimum(LOGP, CORRECT, 1.0, "entropy", entropy_coef=-1.0), "non-concave"),
        (lambda: kl_optimum(LOGP, CORRECT, 1.0, "vanilla", gamma_p=0.1), "ignores gamma_p"),
        (lambda: kl_optimum(LOGP, CORRECT, 1.0, "ppo"), "choose one of"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, group_size=1, lr=0.1), "group_size >= 2"),
        (lambda: simulate(LOGP, CORRECT, "ds", 5, 4, 0.1, gamma_p=-1.0), "gamma_p"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, 4, 0.1, gamma_p=1.0), "ignores gamma_p"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, 4, 0.1, gama_p=1.0), "unknown coefficient"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, 4, 0.0), "lr"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, 4, 0.1, beta=-0.5), "beta"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, 4, 0.1, mode="exact"), "mode"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, 4, 0.1, strategies=[0, -1, 1]), "strategies"),
        (lambda: simulate(LOGP, CORRECT, "grpo", 5, 4, 0.1, record_every=0), "record_every"),
    ],
)
def test_bad_arguments_raise_teaching_errors(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def test_space_normalises_logits_and_keeps_one_prompt_shape():
    space = TrajectorySpace([1.0, 1.0, 1.0 + math.log(2.0)], [1, 0, 0])
    np.testing.assert_allclose(space.base_probs, [[0.25, 0.25, 0.5]])
    assert space.single and kl_optimum([1.0, 1.0, 2.0], [1, 0, 0], beta=1.0).shape == (3,)


def test_metrics_on_a_hand_computed_policy():
    probs = np.array([0.1, 0.3, 0.2, 0.4])
    correct = np.array([True, True, False, False])
    q = np.array([0.25, 0.75])  # pi renormalised on the correct set
    assert correctness(probs, correct) == pytest.approx(0.4)
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert correct_entropy(probs, correct) == pytest.approx(h)
    assert effective_solutions(probs, correct) == pytest.approx(math.exp(h))
    assert correct_variance(probs, correct) == pytest.approx(2 * np.sum(q**2) - 1)  # = 0.25


def test_diversity_extremes_uniform_and_one_hot():
    correct = np.array([1, 1, 1, 1, 0], bool)
    uniform = np.array([0.2, 0.2, 0.2, 0.2, 0.2])
    one_hot = np.array([0.5, 0.0, 0.0, 0.0, 0.5])
    assert correct_entropy(uniform, correct) == pytest.approx(math.log(4))
    assert correct_variance(uniform, correct) == pytest.approx(0.0)
    assert correct_entropy(one_hot, correct) == pytest.approx(0.0)
    assert correct_variance(one_hot, correct) == pytest.approx(3.0)  # K - 1


def test_kl_directions_by_hand():
    p, b = np.array([0.75, 0.25]), np.array([0.5, 0.5])
    assert kl_reverse(p, b) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert kl_forward(p, b) == pytest.approx(0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2.0))
    assert kl_reverse(b, b) == 0.0 and np.isinf(kl_forward(np.array([1.0, 0.0]), b))


def test_pass_at_k_matches_enumeration_of_all_k_sample_sequences():
    probs = np.array([0.5, 0.2, 0.3])
    correct = np.array([False, True, True])
    for k in (1, 2, 3):
        hit = sum(
            np.prod(probs[list(seq)])
            for seq in itertools.product(range(3), repeat=k)
            if correct[list(seq)].any()
        )
        assert exact_pass_at_k(probs, correct, k) == pytest.approx(hit)


def test_pass_at_k_over_prompts_matches_monte_carlo():
    rng = np.random.default_rng(0)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    correct = np.array([[False, True], [True, False], [True, True]])
    k, n = 5, 20000
    samples = [rng.choice(2, size=(n, k), p=row) for row in probs]  # per prompt
    hits = np.mean([c[s].any(axis=1).mean() for c, s in zip(correct, samples)])
    assert exact_pass_at_k(probs, correct, k) == pytest.approx(hits, abs=0.01)


def test_zipf_space_has_the_requested_correct_count_and_includes_the_mode():
    for n_correct in (1, 7, 50):
        logp, correct = zipf_space(n=200, n_correct=n_correct, skew=1.2)
        assert correct.sum() == n_correct and correct[0]
        assert np.exp(logp).sum() == pytest.approx(1.0) and np.all(np.diff(logp) < 0)
