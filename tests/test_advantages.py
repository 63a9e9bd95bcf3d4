"""GRPO and DS advantages ([GRPO1], [DS3], [DS4], [DS5]): hand cases, a second method, signs."""

import math
import statistics

import pytest
import torch

from dsnb.rl.advantages import ds_advantages, ds_score_advantages, group_advantages, sequence_logp


def t(*xs):
    return torch.tensor(xs, dtype=torch.float64)


def test_grpo_advantage_hand_case():
    # mean 1/4; unbiased std = sqrt((0.75² + 3·0.25²)/3) = 0.5
    adv = group_advantages(t(1, 0, 0, 0), group_size=4, eps=0.0)
    assert torch.allclose(adv, t(1.5, -0.5, -0.5, -0.5))


def test_grpo_std_is_unbiased_like_statistics_stdev():
    gen = torch.Generator().manual_seed(0)
    rewards = torch.rand(24, generator=gen, dtype=torch.float64)
    adv = group_advantages(rewards, group_size=6, eps=1e-4)
    for b in range(4):
        r = rewards[6 * b : 6 * b + 6].tolist()
        mean, sd = statistics.fmean(r), statistics.stdev(r)  # stdev divides by n - 1
        expected = [(x - mean) / (sd + 1e-4) for x in r]
        assert adv[6 * b : 6 * b + 6].tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("value", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("eps", [0.0, 1e-4])
def test_equal_rewards_give_exactly_zero_advantage(value, eps):
    rewards = torch.full((8,), value, dtype=torch.float32)  # 0.1·8/8 is not 0.1 in float32
    for normalize_std in (True, False):
        adv = group_advantages(rewards, 8, normalize_std=normalize_std, eps=eps)
        assert torch.equal(adv, torch.zeros(8))


def test_dr_grpo_advantage_only_centres():
    adv = group_advantages(t(1, 0, 0, 0, 1, 1, 0, 0), group_size=4, normalize_std=False)
    assert torch.allclose(adv, t(0.75, -0.25, -0.25, -0.25, 0.5, 0.5, -0.5, -0.5))


def test_groups_do_not_see_each_other():
    a = group_advantages(t(1, 0, 1, 1, 0, 0), group_size=3)
    b = group_advantages(t(1, 0, 1, 0, 1, 1), group_size=3)
    assert torch.equal(a[:3], b[:3]) and not torch.equal(a[3:], b[3:])


def test_group_size_must_divide_n():
    with pytest.raises(ValueError, match="groups of 4"):
        group_advantages(t(1, 0, 0), group_size=4)


def test_sequence_logp_sum_and_mean_by_hand_ignore_padding():
    lp = t(-1, -2, -3, -0.5, float("-inf"), float("nan"))
    lp = lp.view(2, 3)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert torch.equal(sequence_logp(lp, mask, "sum"), t(-6, -0.5))
    assert torch.equal(sequence_logp(lp, mask, "mean"), t(-2, -0.5))
    with pytest.raises(ValueError, match="'sum'"):
        sequence_logp(lp, mask, "max")


def test_ds_with_zero_gamma_is_grpo_exactly():
    rewards, lp = t(1, 0, 0, 1, 0.1, 0, 1, 1), t(-3, -1, -7, -2, -5, -1, -2, -9)
    for normalize_std in (True, False):
        assert torch.equal(
            ds_advantages(rewards, lp, 4, 0.0, 0.0, normalize_std),
            group_advantages(rewards, 4, normalize_std),
        )
    assert torch.equal(
        ds_score_advantages(rewards, lp, 4, 0.0, 0.0), group_advantages(rewards, 4, normalize_std=False)
    )


def test_ds_advantage_hand_case():
    # [GRPO1] gives (1.5, -0.5, -0.5, -0.5); correct: −0.1·(−2) = +0.2; incorrect: +0.3·log pi
    adv = ds_advantages(t(1, 0, 0, 0), t(-2, -1, -1, -4), 4, gamma_p=0.1, gamma_n=0.3, eps=0.0)
    assert torch.allclose(adv, t(1.7, -0.8, -0.8, -1.7))


def test_rare_correct_gets_larger_advantage_than_common_correct():
    rewards, lp = t(1, 1, 0, 0), t(-1.0, -6.0, -2.0, -2.0)  # completion 1 is the rare correct one
    adv = ds_advantages(rewards, lp, 4, gamma_p=0.1, gamma_n=0.0)
    assert adv[1] > adv[0]
    assert ds_score_advantages(rewards, lp, 4, 0.1, 0.0)[1] > ds_score_advantages(rewards, lp, 4, 0.1, 0.0)[0]


def test_rare_incorrect_gets_more_negative_advantage_than_common_incorrect():
    rewards, lp = t(1, 1, 0, 0), t(-2.0, -2.0, -1.0, -6.0)  # completion 3 is the rare error
    adv = ds_advantages(rewards, lp, 4, gamma_p=0.0, gamma_n=0.1)
    assert adv[3] < adv[2] < 0
    score = ds_score_advantages(rewards, lp, 4, 0.0, 0.1)
    assert score[3] < score[2]


def test_ds_shaping_still_applies_when_all_rewards_are_equal():
    lp = t(-1, -2, -4, -8)
    adv = ds_advantages(t(1, 1, 1, 1), lp, 4, gamma_p=0.5, gamma_n=0.25)
    assert torch.allclose(adv, -0.5 * lp)  # GRPO part is 0, the DS bonus −gamma_p·log pi remains
    adv = ds_advantages(t(0, 0, 0, 0), lp, 4, gamma_p=0.5, gamma_n=0.25)
    assert torch.allclose(adv, 0.25 * lp)


def test_format_score_counts_as_incorrect_unless_overridden():
    rewards, lp = t(1, 0.1), t(-2, -2)
    adv = ds_advantages(rewards, lp, 2, gamma_p=1.0, gamma_n=0.5, normalize_std=False)
    assert torch.allclose(adv, t(0.45 + 2.0, -0.45 - 1.0))  # 0.1 takes the gamma_n branch
    both = torch.tensor([True, True])
    adv = ds_advantages(rewards, lp, 2, gamma_p=1.0, gamma_n=0.5, normalize_std=False, correct=both)
    assert torch.allclose(adv, t(0.45 + 2.0, -0.45 + 2.0))


def test_ds_does_not_backpropagate_through_seq_logp():
    lp = t(-1, -2, -3, -4).requires_grad_()
    for adv in (
        ds_advantages(t(1, 0, 1, 0), lp, 2, 0.3, 0.3),
        ds_score_advantages(t(1, 0, 1, 0), lp, 2, 0.3, 0.3),
    ):
        assert not adv.requires_grad


def test_score_form_hand_case_and_groups_sum_to_zero():
    # s = (1 + 0.5, 1 + 1.5, 0 − 0.5, 0 − 1.5) = (1.5, 2.5, −0.5, −1.5), mean 0.5
    adv = ds_score_advantages(t(1, 1, 0, 0), t(-1, -3, -1, -3), 4, gamma_p=0.5, gamma_n=0.5)
    assert torch.allclose(adv, t(1.0, 2.0, -1.0, -2.0))
    gen = torch.Generator().manual_seed(1)
    rewards = (torch.rand(12, generator=gen) > 0.5).double()
    adv = ds_score_advantages(rewards, -5 * torch.rand(12, generator=gen).double(), 4, 0.2, 0.1)
    assert torch.allclose(adv.view(3, 4).sum(dim=1), torch.zeros(3, dtype=torch.float64))


def test_ds_is_grpo_plus_the_ds1_reward_term():
    # second method: [DS3] = [GRPO1] + (r_DS − r) of [DS1] with pi_base -> pi_old
    gen = torch.Generator().manual_seed(2)
    rewards = (torch.rand(16, generator=gen) > 0.6).double()
    lp = -10 * torch.rand(16, generator=gen).double()
    adv = ds_advantages(rewards, lp, 8, gamma_p=0.07, gamma_n=0.02)
    grpo = group_advantages(rewards, 8)
    for i in range(16):
        extra = -0.07 * lp[i] if rewards[i] == 1 else 0.02 * lp[i]
        assert math.isclose(adv[i].item(), (grpo[i] + extra).item(), rel_tol=1e-12)


def test_negative_gamma_is_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        ds_advantages(t(1, 0), t(-1, -1), 2, gamma_p=-0.1, gamma_n=0.0)


def test_integer_rewards_are_accepted():
    ints = torch.tensor([1, 0, 0, 0])
    assert torch.allclose(group_advantages(ints, 4, eps=0.0), torch.tensor([1.5, -0.5, -0.5, -0.5]))
    adv = ds_advantages(ints, torch.tensor([-1.0, -1.0, -2.0, -2.0]), 4, 0.5, 0.0, eps=0.0)
    assert torch.allclose(adv, torch.tensor([2.0, -0.5, -0.5, -0.5]))
    assert torch.allclose(
        ds_score_advantages(ints, torch.zeros(4), 4, 0.5, 0.5), torch.tensor([0.75, -0.25, -0.25, -0.25])
    )
