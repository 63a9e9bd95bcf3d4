"""The verified Theorem 3.4 [THM1], its counter-examples, and the KL-budget frontier."""

import math

import numpy as np
import pytest

from dsnb.theory import (
    correct_entropy,
    correctness,
    frontier,
    holds_rate,
    kl_forward,
    kl_optimum,
    kl_reverse,
    log_softmax,
    random_instance,
    theorem_construction,
    zipf_space,
)

LOGP = np.log([0.5, 0.1, 0.25, 0.1, 0.05])
CORRECT = np.array([True, True, False, False, False])


def ds_policies(logp, correct, a, c, b):
    """Every DS-shaped policy on a grid: correct ∝ pi_base^a·e^b, incorrect ∝ pi_base^c. (M, N)"""
    A, Cc, B = np.meshgrid(a, c, b, indexing="ij")
    logits = np.where(correct, A[..., None] * logp + B[..., None], Cc[..., None] * logp)
    return np.exp(log_softmax(logits)).reshape(-1, logp.size)


@pytest.mark.parametrize("g_over_beta", [0.1, 0.5, 1.0, -0.3, -0.6])
def test_construction_dominates_whenever_its_boost_is_nonnegative(g_over_beta):
    rng = np.random.default_rng(int(100 * abs(g_over_beta)))
    held = 0
    for _ in range(60):
        logp, correct, beta = random_instance(rng)
        t = theorem_construction(logp, correct, beta, g_over_beta * beta)
        if not t.holds:
            continue
        held += 1
        assert t.C[1] == pytest.approx(t.C[0], abs=1e-9)
        assert t.H_c[1] >= t.H_c[0] - 1e-9
        if t.construction == "bonus":
            assert t.H_c[1] == pytest.approx(t.H_c[0], abs=1e-9)
        assert t.kl[1] <= t.kl[0] * (1 + 1e-9) + 1e-12
        assert t.kl_fwd[1] <= t.kl_fwd[0] * (1 + 1e-9) + 1e-12
    assert held > 0


def test_constructed_policy_is_the_ds_optimum_of_its_parameters():
    rng = np.random.default_rng(0)
    for g_over_beta in (0.3, -0.4):
        for _ in range(20):
            logp, correct, beta = random_instance(rng)
            t = theorem_construction(logp, correct, beta, g_over_beta * beta)
            if t.holds and np.isfinite(t.beta_ds):
                ds = kl_optimum(logp, correct, t.beta_ds, "ds", gamma_p=t.gamma_p, gamma_n=t.gamma_n)
                np.testing.assert_allclose(t.ds_policy, ds, atol=1e-10)


def test_no_entropy_term_gives_back_vanilla_with_boost_one_over_beta():
    t = theorem_construction(LOGP, CORRECT, beta=0.7, entropy_coef=0.0)
    assert t.holds and t.boost == pytest.approx(1 / 0.7)
    np.testing.assert_allclose(t.ds_policy, kl_optimum(LOGP, CORRECT, 0.7), atol=1e-12)


def test_weak_bonus_usually_holds_strong_bonus_usually_fails():
    assert holds_rate(0.1, n_instances=200, seed=1) > 0.9
    assert holds_rate(2.0, n_instances=200, seed=1) < 0.2


def test_strong_bonus_counter_example_no_ds_policy_in_budget_is_as_flat():
    t = theorem_construction(LOGP, CORRECT, beta=1.0, entropy_coef=1.0)  # g = beta
    assert not t.holds and t.boost < 0
    p = ds_policies(
        LOGP, CORRECT, np.linspace(-1, 1, 101), [1.0, 1.5, 2.0, 4.0], np.linspace(0, 6, 301)
    )  # gamma_p, gamma_n >= 0 and b = 1/beta >= 0
    base = np.exp(LOGP)
    in_budget = kl_reverse(p, base) <= t.kl[0]
    as_flat = correct_entropy(p, CORRECT) >= t.H_c[0]
    assert in_budget.any() and not np.any(in_budget & as_flat)
    f = frontier(LOGP, CORRECT, kappa=t.kl[0])
    assert not f.ds_dominates[np.argmin(np.abs(f.ent_exponent - 0.5))]  # e = beta/(beta+g)


def test_frontier_matches_brute_force_sweeps():
    base = np.exp(LOGP)
    for divergence, kl in (("reverse", kl_reverse), ("forward", kl_forward)):
        f = frontier(LOGP, CORRECT, kappa=0.15, divergence=divergence, n_grid=11)
        # entropy family at e = 0.7: pi ∝ pi_base^0.7·e^(t·r), t >= 0
        p = ds_policies(LOGP, CORRECT, [0.7], [0.7], np.linspace(0, 8, 8001))
        best = correctness(p, CORRECT)[kl(p, base) <= 0.15].max()
        assert f.ent_C[7] == pytest.approx(best, abs=2e-3)
        # DS family at a = 0.7, c swept
        p = ds_policies(LOGP, CORRECT, [0.7], [1.0, 1.25, 1.5, 2.0, 3.0], np.linspace(0, 8, 4001))
        best = correctness(p, CORRECT)[kl(p, base) <= 0.15].max()
        assert f.ds_C[7] == pytest.approx(best, abs=2e-3)
        assert f.ds_H[7] == pytest.approx(correct_entropy(p[0], CORRECT))


def test_vanilla_frontier_point_is_the_kl_optimum_that_spends_the_budget():
    f = frontier(LOGP, CORRECT, kappa=0.1)
    lo, hi = 0.05, 50.0  # bisection on beta for KL(pi*_beta ‖ pi_base) = kappa
    for _ in range(100):
        mid = math.sqrt(lo * hi)
        too_far = kl_reverse(kl_optimum(LOGP, CORRECT, mid), np.exp(LOGP)) > 0.1
        lo, hi = (mid, hi) if too_far else (lo, mid)
    assert f.vanilla[1] == pytest.approx(correctness(kl_optimum(LOGP, CORRECT, hi), CORRECT))


def test_ds_dominates_every_penalty_but_not_every_strong_bonus():
    logp, correct = zipf_space(n=300, n_correct=12, skew=1.0)
    f = frontier(logp, correct, kappa=0.3)
    penalty = f.ent_exponent > 1
    assert f.ds_dominates[penalty].all()
    feasible = np.isfinite(f.ent_C)
    lost = feasible & ~f.ds_dominates
    assert lost.any() and np.all(f.ent_exponent[lost] < 1)


@pytest.mark.parametrize(
    "kwargs, fragment", [(dict(kappa=0.0), "kappa"), (dict(kappa=0.1, divergence="js"), "divergence")]
)
def test_frontier_rejects_bad_budgets(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        frontier(LOGP, CORRECT, **kwargs)


def test_theorem_rejects_several_prompts_and_all_correct_spaces():
    with pytest.raises(ValueError, match="one prompt"):
        theorem_construction(np.zeros((2, 3)), np.ones((2, 3), bool), 1.0, 0.1)
    with pytest.raises(ValueError, match="every trajectory is correct"):
        theorem_construction(np.zeros(3), np.ones(3, bool), 1.0, 0.1)
