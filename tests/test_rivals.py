"""The study's rival methods, one switch each: the unlikeliness reward [UNL1], the analytic pass@k
advantage [PKA1] and Clip-Cov [COV1]. Hand cases, a second method (brute force over ranks and
k-subsets), and the reason CISPO and KL-Cov are not among them (both are GRPO on-policy)."""

import itertools
import math
import statistics
from dataclasses import replace

import pytest
import torch

from dsnb.metrics import describe
from dsnb.report.palette import family
from dsnb.rl.advantages import (
    compute_advantages,
    group_advantages,
    group_ranks,
    passk_advantages,
    unlikeliness_rewards,
)
from dsnb.rl.loss import LossConfig, clip_cov_mask, policy_loss

F64 = torch.float64


def t(*xs):
    return torch.tensor(xs, dtype=F64)


# ----------------------------------------------------------------------------- unlikeliness [UNL1]
def test_unlikeliness_hand_case_through_compute_advantages():
    # ranks by log pi (0 = least likely): -3 -> 0, -2 -> 1, -1 -> 2, -0.5 -> 3; beta = 0.5, G = 4
    # r~ = 1·(1 − 0.5·2/4), 1·(1 − 0), 0, 1·(1 − 0.5·3/4) = 0.75, 1, 0, 0.625; mean 0.59375
    cfg = LossConfig(group_size=4, unlikeliness_coef=0.5, normalize_std=False)
    adv = compute_advantages(t(1, 1, 0, 1), t(-1, -3, -2, -0.5), cfg)
    assert adv.tolist() == pytest.approx([0.15625, 0.40625, -0.59375, 0.03125])


def test_unlikeliness_in_an_all_correct_group_moves_mass_from_common_to_rare():
    cfg = LossConfig(group_size=4, unlikeliness_coef=0.5)
    lp = t(-0.5, -1.0, -2.0, -4.0)  # most likely first
    adv = compute_advantages(t(1, 1, 1, 1), lp, cfg)
    assert torch.equal(group_advantages(t(1, 1, 1, 1), 4), torch.zeros(4))  # GRPO: no signal
    assert adv[0] < adv[1] < adv[2] < adv[3] and adv.sum().abs() < 1e-12


def test_unlikeliness_only_touches_correct_answers_and_zero_is_grpo():
    r, lp = t(1, 0.1, 0, 1), t(-2, -1, -3, -0.1)
    assert unlikeliness_rewards(r, lp, 4, 1.0).tolist() == pytest.approx([1 - 1 * 1 / 4, 0.1, 0, 1 - 3 / 4])
    assert torch.equal(
        compute_advantages(r, lp, LossConfig(group_size=4, unlikeliness_coef=0.0)), group_advantages(r, 4)
    )
    # an explicit `correct` overrides reward == 1 (rewards 1 stay 1 when marked wrong)
    assert unlikeliness_rewards(r, lp, 4, 1.0, correct=torch.tensor([False] * 4)).tolist() == r.tolist()


def test_group_ranks_match_the_authors_double_argsort_without_ties_and_share_ties():
    gen = torch.Generator().manual_seed(0)
    lp = -5 * torch.rand(40, generator=gen, dtype=F64)
    mine = group_ranks(lp, 8).view(5, 8)
    theirs = torch.argsort(torch.argsort(lp.view(5, 8), dim=1), dim=1).to(F64)  # the released code
    assert torch.equal(mine, theirs)
    assert group_ranks(t(-1, -2, -1, -1), 4).tolist() == [2.0, 0.0, 2.0, 2.0]  # ranks 1, 2, 3 -> 2


def test_unlikeliness_needs_the_sequence_logp():
    with pytest.raises(ValueError, match="pass seq_logp"):
        compute_advantages(t(1, 0), None, LossConfig(group_size=2, unlikeliness_coef=0.5))


# ----------------------------------------------------------------------------- pass@k [PKA1]
def brute_force_passk(correct: list[bool], k: int) -> list[float]:
    """Every k-subset of the group gets reward max(correct in it); centre and scale over subsets;
    each completion's advantage is the average over the subsets that hold it."""
    subsets = list(itertools.combinations(range(len(correct)), k))
    rew = [float(any(correct[i] for i in s)) for s in subsets]
    mean, sd = statistics.fmean(rew), statistics.pstdev(rew)
    if sd == 0:
        return [0.0] * len(correct)
    return [
        statistics.fmean((rw - mean) / sd for s, rw in zip(subsets, rew) if i in s)
        for i in range(len(correct))
    ]


def test_passk_hand_case():
    # G = 4, c = 1, k = 2: rho = 1 − C(3,2)/C(4,2) = 1/2, sigma = 1/2; A+ = 1, A− = (1/2 − 2/3)/(1/2)
    adv = passk_advantages(torch.tensor([1, 0, 0, 0]), 4, 2, eps=0.0, dtype=F64)
    assert adv.tolist() == pytest.approx([1.0, -1 / 3, -1 / 3, -1 / 3])


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_passk_equals_the_brute_force_average_over_k_subsets(k):
    gen = torch.Generator().manual_seed(k)
    correct = torch.rand(6 * 7, generator=gen) < 0.4
    adv = passk_advantages(correct, 6, k, eps=0.0, dtype=F64)
    for b in range(7):
        group = correct[6 * b : 6 * b + 6].tolist()
        assert adv[6 * b : 6 * b + 6].tolist() == pytest.approx(brute_force_passk(group, k), abs=1e-12)


def test_passk_with_k_one_is_grpo_with_the_population_std():
    correct = [1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1]
    adv = compute_advantages(t(*correct), None, LossConfig(group_size=4, passk_k=1, std_eps=0.0))
    expected = []
    for b in range(3):
        g = correct[4 * b : 4 * b + 4]
        mean, sd = statistics.fmean(g), statistics.pstdev(g)  # ÷ G, not G − 1
        expected += [(x - mean) / sd if sd else 0.0 for x in g]
    assert adv.tolist() == pytest.approx(expected)


def test_passk_uses_binary_correctness_not_the_format_score():
    a = compute_advantages(t(1, 0.1, 0, 0), None, LossConfig(group_size=4, passk_k=2))
    b = compute_advantages(t(1, 0, 0, 0), None, LossConfig(group_size=4, passk_k=2))
    assert torch.equal(a, b)


# ----------------------------------------------------------------------------- Clip-Cov [COV1]
def test_clip_cov_mask_by_hand_counts_and_exclusions():
    lp = t(-0.1, -3.0, -2.0, -0.5).view(2, 2)  # mean −1.4; A = ±2: Cov = 2.6, −3.2, 1.2, −1.8
    m, adv = torch.ones(2, 2), t(2.0, -2.0)
    assert clip_cov_mask(lp, adv, m, frac=1.0, low=0.5).tolist() == [[True, False], [True, False]]
    assert clip_cov_mask(lp, adv, m, frac=1.0, low=2.0).tolist() == [[True, False], [False, False]]
    # ⌊0.25 · 4⌋ = 1 of the 2 candidates, at random
    one = clip_cov_mask(lp, adv, m, frac=0.25, low=0.5, generator=torch.Generator().manual_seed(0))
    assert one.sum() == 1 and one[:, 1].sum() == 0
    assert clip_cov_mask(lp, adv, m, frac=0.01, low=0.5).sum() == 1  # at least one token
    assert clip_cov_mask(lp, adv, m, frac=0.0, low=0.5).sum() == 0
    excl = torch.tensor([[True, False], [False, False]])
    assert clip_cov_mask(lp, adv, m, frac=1.0, low=0.5, exclude=excl).tolist() == [
        [False, False],
        [True, False],
    ]
    # padding never takes part (nor in the means)
    pad = torch.tensor([[1, 1], [1, 0]])
    assert not clip_cov_mask(lp, adv, pad, frac=1.0, low=-10, high=10)[1, 1]


def test_clip_cov_mutes_exactly_its_tokens_and_leaves_the_rest_reinforce():
    logp = torch.tensor([[-0.1, -3.0], [-2.0, -0.5]], dtype=F64, requires_grad=True)
    adv, mask = t(2.0, -2.0), torch.ones(2, 2)
    cfg = LossConfig(group_size=2, clipcov_frac=1.0, clipcov_low=2.0)  # mutes token (0, 0) only
    loss, stats = policy_loss(logp, logp.detach(), adv, mask, cfg)
    loss.backward()
    # token-mean over 4 tokens, ratio 1: d loss / d logp_t = −A_t / 4, except the muted token
    assert logp.grad.flatten().tolist() == pytest.approx([0.0, -0.5, 0.5, 0.5])
    assert stats["clipcov/frac"] == 0.25 and describe("clipcov/frac")
    plain = policy_loss(logp.detach(), logp.detach(), adv, mask, replace(cfg, clipcov_frac=0.0))[0]
    assert loss.item() == pytest.approx(plain.item() - (-2.0 * 1.0) / 4)  # the muted −A·rho is gone


# ----------------------------------------------------------------------------- why not CISPO or KL-Cov
def test_cispo_and_kl_cov_are_grpo_when_the_update_is_on_policy():
    """With one update per batch rho = 1, and both rivals' gradients are GRPO's exactly."""
    gen = torch.Generator().manual_seed(0)
    logp0 = -3 * torch.rand(4, 5, generator=gen, dtype=F64)
    adv, mask = t(1.0, -0.5, 2.0, -2.5), torch.ones(4, 5)

    def grad(loss_fn):
        logp = logp0.clone().requires_grad_()
        loss_fn(logp, logp.detach()).backward()
        return logp.grad

    def grpo(logp, old):
        return policy_loss(logp, old, adv, mask, LossConfig(group_size=2))[0]

    def cispo(logp, old):  # MiniMax-M1: −sg(clip(rho))·A·log pi, token-mean
        rho = torch.exp(logp - old).clamp(1 - 0.2, 1 + 0.2).detach()
        return (-(rho * adv.unsqueeze(1) * logp)).mean()

    def kl_cov(logp, old):  # Cui et al.: −rho·A + coef·|log pi − log pi_old| on the top-Cov tokens
        rho = torch.exp(logp - old)
        lp = logp.detach()
        cov = (adv.unsqueeze(1) - adv.mean()) * (lp - lp.mean())
        top = cov.flatten().topk(5).indices
        pen = torch.zeros(20, dtype=F64)
        pen[top] = 1.0
        return (-(rho * adv.unsqueeze(1)) + 1.0 * pen.view(4, 5) * (logp - old).abs()).mean()

    g = grad(grpo)
    assert torch.allclose(grad(cispo), g, rtol=0, atol=1e-15)
    assert torch.allclose(grad(kl_cov), g, rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(unlikeliness_coef=1.5), "below a wrong one"),
        (dict(unlikeliness_coef=-0.1), "in \\[0, 1\\]"),
        (dict(passk_k=8), "1 <= k < G"),
        (dict(passk_k=2, normalize_std=False), "own normalisation"),
        (dict(clipcov_frac=2.0), "fraction"),
        (dict(clipcov_frac=0.1, clipcov_low=5.0, clipcov_high=1.0), "below clipcov_high"),
        (dict(gamma_p=1.0, unlikeliness_coef=0.5), "switch on one of them"),
        (dict(passk_k=2, unlikeliness_coef=0.5), "switch on one of them"),
    ],
)
def test_rival_settings_are_validated_with_a_teaching_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LossConfig(group_size=8, **kwargs)


def test_rival_presets_and_families():
    u, p, c = LossConfig.unlikeliness(0.5), LossConfig.passk(4), LossConfig.clip_cov(0.05)
    assert (u.unlikeliness_coef, u.ds_logp, p.passk_k, c.clipcov_frac) == (0.5, "mean", 4, 0.05)
    assert [family(vars(x)) for x in (u, p, c)] == ["unlikeliness", "passk", "clipcov"]
    assert u.needs_seq_logp and not p.needs_seq_logp and not c.needs_seq_logp and not u.uses_ds
    # Clip-Cov is a token-level switch: it combines with any advantage (DS keeps the DS colour)
    assert family(vars(LossConfig(gamma_p=1.0, clipcov_frac=0.1))) == "ds"


# ----------------------------------------------------------------------------- a real run
@pytest.mark.parametrize(
    "loss",
    [
        dict(unlikeliness_coef=0.5, ds_logp="mean"),
        dict(passk_k=2),
        dict(clipcov_frac=0.2, clipcov_low=-1e9, clipcov_high=1e9),
    ],
)
def test_each_rival_trains_the_tiny_model(smoke_cfg, loss):
    from dsnb.rl.trainer import Trainer
    from dsnb.tasks.registry import Task

    cfg = replace(smoke_cfg, steps=2, loss=LossConfig(group_size=4, **loss))
    trainer = Trainer(cfg, progress=False)
    # the tiny model never solves Countdown: grade "even length" as correct, about half of them
    even = lambda prompts, completions, **kw: [float(len(c) % 2 == 0) for c in completions]  # noqa: E731
    trainer.task = Task("even", trainer.task.load, even, lambda c, cols: c, "nano")
    before = {n: p.detach().clone() for n, p in trainer.policy.model.named_parameters() if "lora_" in n}
    rows = trainer.train()
    after = dict(trainer.policy.model.named_parameters())
    assert len(rows) == 2 and all(math.isfinite(r["loss/total"]) for r in rows)
    assert any(not torch.equal(before[n], after[n].detach()) for n in before)
    if "clipcov_frac" in loss:
        assert all(0 < r["clipcov/frac"] <= 0.25 for r in rows)
