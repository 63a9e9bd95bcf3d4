"""The DS-GRPO loss ([PPO1], [KL3], [ENT2], [AGG1]) and LossConfig.

Tier 1: hand-computed clipping, k3, entropy and aggregation values. Tier 2: the gradient at
ratio = 1 equals REINFORCE with the shaped advantage (closed-form softmax gradient) and finite
differences; k3 by Monte Carlo; entropy by brute force. Tier 3: one gradient step on a tiny
bigram softmax policy moves probability the way each switch promises.
"""

import math

import pytest
import torch

from dsnb.metrics import describe
from dsnb.rl.advantages import compute_advantages, ds_advantages, group_advantages, sequence_logp
from dsnb.rl.loss import LossConfig, aggregate, clipped_surrogate, k3_kl, policy_loss, token_entropy

F64 = torch.float64


# ----------------------------------------------------------------------------- LossConfig


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(group_size=1), "group_size >= 2"),
        (dict(clip_eps_low=-0.1), "clip_eps_low"),
        (dict(clip_eps_low=1.0), "stay positive"),
        (dict(clip_eps_high=-0.1), "clip_eps_high"),
        (dict(beta=-1.0), "beta must be >= 0"),
        (dict(gamma_p=-0.01), "opposite of DS"),
        (dict(gamma_n=-0.01), "gamma_p and gamma_n must be >= 0"),
        (dict(loss_agg="mean"), "loss_agg='mean'"),
        (dict(ds_logp="max"), "ds_logp='max'"),
        (dict(ds_where="reward"), "ds_where='reward'"),
        (dict(ds_ref="ref"), "ds_ref='ref'"),
        (dict(loss_agg="dr-grpo"), "set max_completion_len"),
        (dict(max_completion_len=0), "positive number of tokens"),
        (dict(ds_where="score"), "normalize_std=False"),
        (dict(std_eps=-1.0), "std_eps"),
    ],
)
def test_loss_config_rejects_bad_settings_with_a_teaching_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LossConfig(**kwargs)


def test_loss_config_defaults_are_plain_grpo():
    cfg = LossConfig()
    assert not cfg.uses_ds and not cfg.needs_ref
    assert cfg == LossConfig.grpo()


def test_presets_set_their_switch_and_flags():
    assert LossConfig.ds().uses_ds and LossConfig.ds().ds_logp == "mean"
    assert not LossConfig.ds().needs_ref
    assert LossConfig.ds(ds_ref="base").needs_ref and LossConfig.grpo(beta=0.04).needs_ref
    assert not LossConfig.grpo(ds_ref="base").needs_ref  # no DS -> ds_ref is unused
    nano = LossConfig.ds_nano()
    assert (nano.ds_logp, nano.gamma_p, nano.gamma_n) == ("sum", 1.0, 0.0)
    score = LossConfig.ds_score()
    assert score.ds_where == "score" and not score.normalize_std
    dr = LossConfig.dr_grpo(max_completion_len=64)
    assert dr.loss_agg == "dr-grpo" and not dr.normalize_std and dr.max_completion_len == 64
    assert LossConfig.entropy_bonus(0.01).entropy_coef == 0.01
    assert LossConfig.entropy_penalty(0.01).entropy_coef == -0.01
    assert LossConfig.clip_higher().clip_eps_high > LossConfig.clip_higher().clip_eps_low
    with pytest.raises(ValueError, match="unknown LossConfig field"):
        LossConfig.ds(gama_p=0.1)


# ----------------------------------------------------------------------------- advantages


def test_compute_advantages_dispatches_on_ds_where():
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=F64)
    lp = torch.tensor([-1.0, -2.0, -3.0, -4.0], dtype=F64)
    cfg = LossConfig.ds(gamma_p=0.2, gamma_n=0.1, group_size=2)
    assert torch.equal(compute_advantages(rewards, lp, cfg), ds_advantages(rewards, lp, 2, 0.2, 0.1))
    cfg = LossConfig.ds_score(gamma_p=0.2, gamma_n=0.1, group_size=2)
    # all-correct group 2: s = 1 + 0.2·(3, 4), centred -> (−0.1, +0.1)
    assert torch.allclose(compute_advantages(rewards, lp, cfg)[2:], torch.tensor([-0.1, 0.1], dtype=F64))


def test_compute_advantages_with_gamma_zero_is_grpo_and_needs_no_logp():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.1], dtype=F64)
    assert torch.equal(
        compute_advantages(rewards, None, LossConfig(group_size=4)), group_advantages(rewards, 4)
    )
    assert torch.equal(
        compute_advantages(rewards, None, LossConfig.dr_grpo(8, group_size=2)),
        group_advantages(rewards, 2, normalize_std=False),
    )
    with pytest.raises(ValueError, match="pass seq_logp"):
        compute_advantages(rewards, None, LossConfig.ds(group_size=4))


# ----------------------------------------------------------------------------- clipping


@pytest.mark.parametrize(
    "ratio, adv, loss, clipped",
    [
        (1.5, +1.0, -1.2, True),  # pushed up past 1 + eps with A > 0: clipped
        (1.5, -1.0, +1.5, False),  # ratio above, but A < 0 wants it down: keeps gradient
        (0.5, +1.0, -0.5, False),  # ratio below, A > 0 wants it up: keeps gradient
        (0.5, -1.0, +0.8, True),  # pushed down past 1 − eps with A < 0: clipped
        (1.1, +1.0, -1.1, False),  # inside the trust region: never clipped
        (1.0, 0.0, 0.0, False),
    ],
)
def test_clipping_by_hand(ratio, adv, loss, clipped):
    logp = torch.tensor([[math.log(ratio)]], dtype=F64, requires_grad=True)
    out, mask = clipped_surrogate(
        logp, torch.zeros(1, 1, dtype=F64), torch.tensor([adv], dtype=F64), 0.2, 0.2
    )
    assert out.item() == pytest.approx(loss) and mask.item() == clipped
    out.sum().backward()
    expected_grad = 0.0 if clipped else -ratio * adv  # d(−rho·A)/dlogp = −rho·A
    assert logp.grad.item() == pytest.approx(expected_grad)


def test_clip_higher_lets_a_positive_token_grow_further():
    logp = torch.tensor([[math.log(1.25)]], dtype=F64)
    zero, one = torch.zeros(1, 1, dtype=F64), torch.tensor([1.0], dtype=F64)
    assert clipped_surrogate(logp, zero, one, 0.2, 0.2)[1].item()
    loss, clipped = clipped_surrogate(logp, zero, one, 0.2, 0.28)
    assert not clipped.item() and loss.item() == pytest.approx(-1.25)
    # the low side is unchanged by eps_high
    low = torch.tensor([[math.log(0.7)]], dtype=F64)
    assert clipped_surrogate(low, zero, -one, 0.2, 0.28)[0].item() == pytest.approx(0.8)


def test_logp_old_is_a_constant_even_if_it_carries_gradient():
    # passing the same graph as logp and logp_old must still give −A·∇logp, not a zero gradient
    logp = torch.tensor([[-1.0, -2.0]], dtype=F64, requires_grad=True)
    loss, _ = clipped_surrogate(logp, logp, torch.tensor([2.0], dtype=F64), 0.2, 0.2)
    loss.sum().backward()
    assert torch.equal(logp.grad, torch.tensor([[-2.0, -2.0]], dtype=F64))


def test_surrogate_rejects_token_level_advantages():
    with pytest.raises(ValueError, match="one advantage per sequence"):
        clipped_surrogate(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), 0.2, 0.2)


# ----------------------------------------------------------------------------- k3 and entropy


def test_k3_is_nonnegative_and_zero_only_at_equality():
    gen = torch.Generator().manual_seed(0)
    logp = -5 * torch.rand(200, generator=gen, dtype=F64)
    logp_ref = -5 * torch.rand(200, generator=gen, dtype=F64)
    k3 = k3_kl(logp, logp_ref)
    assert (k3 > 0).all()
    assert torch.equal(k3_kl(logp, logp), torch.zeros_like(logp))
    assert k3_kl(torch.tensor([-1.0]), torch.tensor([0.0])).item() == pytest.approx(math.e - 2)


def test_k3_averages_to_the_exact_kl_under_sampling():
    gen = torch.Generator().manual_seed(3)
    pi = torch.softmax(torch.randn(5, generator=gen, dtype=F64), 0)
    ref = torch.softmax(torch.randn(5, generator=gen, dtype=F64), 0)
    exact = (pi * (pi / ref).log()).sum().item()  # KL(pi ‖ ref)
    y = torch.multinomial(pi, 200_000, replacement=True, generator=gen)
    mc = k3_kl(pi.log()[y], ref.log()[y]).mean().item()
    assert mc == pytest.approx(exact, abs=5e-3)


def brute_entropy(row):
    z = max(row)
    e = [math.exp(v - z) for v in row]
    p = [x / sum(e) for x in e]
    return -sum(q * math.log(q) for q in p if q > 0)


def test_token_entropy_matches_brute_force():
    gen = torch.Generator().manual_seed(4)
    logits = 3 * torch.randn(2, 3, 7, generator=gen, dtype=F64)
    ent = token_entropy(logits)
    assert ent.shape == (2, 3)
    for n in range(2):
        for t in range(3):
            assert ent[n, t].item() == pytest.approx(brute_entropy(logits[n, t].tolist()), rel=1e-12)
    assert token_entropy(torch.zeros(1, 1, 6)).item() == pytest.approx(math.log(6))


def test_token_entropy_is_stable_for_huge_and_masked_logits():
    logits = torch.tensor([[[1e4, 0.0, -1e4], [0.0, 0.0, float("-inf")]]], requires_grad=True)
    ent = token_entropy(logits)
    assert ent[0, 0].item() == pytest.approx(0.0, abs=1e-6)
    assert ent[0, 1].item() == pytest.approx(math.log(2))
    ent.sum().backward()
    assert torch.isfinite(logits.grad).all()


# ----------------------------------------------------------------------------- aggregation


def test_aggregation_modes_by_hand_and_padding_never_leaks():
    L = torch.tensor([[1.0, 2.0, 3.0], [4.0, float("nan"), float("inf")]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert aggregate(L, mask, "token-mean").item() == pytest.approx(10 / 4)
    assert aggregate(L, mask, "seq-mean").item() == pytest.approx((6 / 3 + 4 / 1) / 2)
    assert aggregate(L, mask, "dr-grpo", max_len=5).item() == pytest.approx(10 / (2 * 5))
    with pytest.raises(ValueError, match="max_len"):
        aggregate(L, mask, "dr-grpo")
    with pytest.raises(ValueError, match="how='sum'"):
        aggregate(L, mask, "sum")


def test_policy_loss_adds_kl_and_entropy_terms_by_hand():
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -9.0]], dtype=F64)
    mask = torch.tensor([[1, 1], [1, 0]])
    logp_ref = logp - 0.5  # k3 = e^{−0.5} − (−0.5) − 1 on every token
    entropy = torch.tensor([[1.0, 2.0], [3.0, 100.0]], dtype=F64)
    adv = torch.tensor([1.0, -2.0], dtype=F64)
    cfg = LossConfig(group_size=2, beta=0.1, entropy_coef=0.01)
    loss, stats = policy_loss(logp, logp, adv, mask, cfg, logp_ref=logp_ref, entropy=entropy)
    policy = -(1 + 1 - 2) / 3  # ratio 1: −A per token, token-mean over 3 real tokens
    k3 = math.exp(-0.5) - 0.5
    assert stats["loss/policy"] == pytest.approx(policy)
    assert stats["kl"] == pytest.approx(k3) and stats["loss/kl"] == pytest.approx(k3)
    assert stats["entropy/token_mean"] == pytest.approx(2.0)
    assert stats["clip/frac"] == 0.0
    assert loss.item() == pytest.approx(policy + 0.1 * k3 - 0.01 * 2.0)
    assert stats["loss/total"] == pytest.approx(loss.item())
    for key in stats:
        describe(key)  # every logged key is defined in the glossary


def test_policy_loss_demands_what_its_config_needs():
    z, m, a = torch.zeros(2, 2), torch.ones(2, 2), torch.zeros(2)
    with pytest.raises(ValueError, match="logp_ref"):
        policy_loss(z, z, a, m, LossConfig(group_size=2, beta=0.1))
    with pytest.raises(ValueError, match="token_entropy"):
        policy_loss(z, z, a, m, LossConfig(group_size=2, entropy_coef=0.1))
    _, stats = policy_loss(z, z, a, m, LossConfig(group_size=2))
    assert "loss/kl" not in stats and "kl" not in stats and "entropy/token_mean" not in stats


# ----------------------------------------------------------------------------- tiny policy

V, T, G = 4, 3, 4


def batch():
    """Two groups of G = 4 bigram sequences over V = 4 tokens, with padding."""
    y = torch.tensor([[0, 1, 2], [0, 1, 2], [3, 3, 0], [2, 0, 1], [1, 1, 1], [2, 3, 0], [0, 2, 0], [3, 1, 2]])
    mask = torch.tensor(
        [[1, 1, 1], [1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1]]
    )
    rewards = torch.tensor([1, 1, 0, 0.1, 1, 1, 1, 1], dtype=F64)
    return y, mask, rewards


def prev_tokens(y):
    return torch.cat([torch.full((y.shape[0], 1), V), y[:, :-1]], dim=1)  # V = start token


def token_logp(W, y):
    """Bigram softmax policy: logits of y_t are W[y_{t−1}] (row V is the start state). (N, T)."""
    logits = W[prev_tokens(y)]  # (N, T, V)
    return torch.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)


def initial_weights(seed=0):
    return torch.randn(V + 1, V, generator=torch.Generator().manual_seed(seed), dtype=F64)


def ds_adv(W, y, mask, rewards, cfg):
    lp_old = sequence_logp(token_logp(W, y), mask, cfg.ds_logp)  # (N,)
    return compute_advantages(rewards, lp_old, cfg)


def reinforce_grad(W, y, mask, adv, scale):
    """−Σ_i scale_i·A_i·Σ_t ∇log pi(y_t) with the closed form ∇_z log softmax(z)_y = e_y − p."""
    grad = torch.zeros_like(W)
    probs = torch.softmax(W, -1)
    prev = prev_tokens(y)
    for i in range(y.shape[0]):
        for t in range(T):
            if mask[i, t]:
                row = prev[i, t]
                grad[row] -= scale[i] * adv[i] * (torch.eye(V, dtype=F64)[y[i, t]] - probs[row])
    return grad


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean", "dr-grpo"])
def test_gradient_at_ratio_one_is_reinforce_with_the_shaped_advantage(agg):
    y, mask, rewards = batch()
    cfg = LossConfig.ds(
        gamma_p=0.3, gamma_n=0.2, ds_logp="sum", group_size=G, loss_agg=agg, max_completion_len=T
    )
    W = initial_weights().requires_grad_()
    adv = ds_adv(W.detach(), y, mask, rewards, cfg)
    logp = token_logp(W, y)
    loss, stats = policy_loss(logp, logp.detach(), adv, mask, cfg)
    loss.backward()
    lengths = mask.sum(1).to(F64)
    scale = {
        "token-mean": torch.full((8,), 1 / lengths.sum().item(), dtype=F64),
        "seq-mean": 1 / (8 * lengths),
        "dr-grpo": torch.full((8,), 1 / (8 * T), dtype=F64),
    }[agg]
    expected = reinforce_grad(W.detach(), y, mask, adv, scale)
    assert torch.allclose(W.grad, expected, rtol=1e-10, atol=1e-12)
    assert stats["clip/frac"] == 0.0


def test_gradient_matches_finite_differences_off_policy_with_all_terms():
    y, mask, rewards = batch()
    cfg = LossConfig.ds(
        gamma_p=0.3,
        gamma_n=0.2,
        group_size=G,
        beta=0.05,
        entropy_coef=0.02,
        clip_eps_low=10.0 / 11,
        clip_eps_high=10.0,
    )  # wide clip: no kinks nearby
    W_old, W_ref = initial_weights(0), initial_weights(1)
    adv = ds_adv(W_old, y, mask, rewards, cfg)

    def loss_at(W):
        logits = W[prev_tokens(y)]  # (N, T, V)
        return policy_loss(
            token_logp(W, y),
            token_logp(W_old, y),
            adv,
            mask,
            cfg,
            logp_ref=token_logp(W_ref, y),
            entropy=token_entropy(logits),
        )[0]

    W = (W_old + 0.3 * initial_weights(2)).requires_grad_()  # ratio != 1
    loss_at(W).backward()
    h, numeric = 1e-6, torch.zeros_like(W_old)
    for idx in range(W.numel()):
        e = torch.zeros(W.numel(), dtype=F64)
        e[idx] = h
        e = e.view_as(W_old)
        numeric.view(-1)[idx] = (loss_at(W.detach() + e) - loss_at(W.detach() - e)).item() / (2 * h)
    assert torch.allclose(W.grad, numeric, rtol=1e-6, atol=1e-9)


def sgd_step(W, y, mask, adv, cfg, lr=1.0, logp_ref=None):
    W = W.clone().requires_grad_()
    logp = token_logp(W, y)
    entropy = token_entropy(W[prev_tokens(y)]) if cfg.entropy_coef else None
    loss, _ = policy_loss(logp, logp.detach(), adv, mask, cfg, logp_ref=logp_ref, entropy=entropy)
    loss.backward()
    return (W - lr * W.grad).detach()


def seq_prob(W, seq):
    return token_logp(W, torch.tensor([seq])).sum().exp().item()


def test_ds_step_moves_mass_from_common_to_rare_correct_answer():
    # one group, all correct: GRPO has no signal; DS must favour the rarer answer
    y = torch.tensor([[0, 1], [0, 1], [0, 1], [2, 3]])
    mask, rewards = torch.ones(4, 2), torch.ones(4, dtype=F64)
    W = torch.zeros(V + 1, V, dtype=F64)
    W[V, 0] = 2.0  # 0 -> 1 is the common answer, 2 -> 3 the rare one
    for cfg, direction in [
        (LossConfig(group_size=4), 0),
        (LossConfig.ds(gamma_p=0.5, gamma_n=0.0, ds_logp="sum", group_size=4), 1),
    ]:
        adv = ds_adv(W, y, mask, rewards, cfg)
        W_new = sgd_step(W, y, mask, adv, cfg)
        before = math.log(seq_prob(W, [2, 3]) / seq_prob(W, [0, 1]))
        after = math.log(seq_prob(W_new, [2, 3]) / seq_prob(W_new, [0, 1]))
        assert (after - before > 1e-6) if direction else abs(after - before) < 1e-12


def test_ds_step_pushes_rare_errors_down_harder():
    # one group, all incorrect; gamma_n sharpens the incorrect set: the rare error loses more
    y = torch.tensor([[0, 1], [0, 1], [0, 1], [2, 3]])
    mask, rewards = torch.ones(4, 2), torch.zeros(4, dtype=F64)
    W = torch.zeros(V + 1, V, dtype=F64)
    W[V, 0] = 2.0
    cfg = LossConfig.ds(gamma_p=0.0, gamma_n=0.5, ds_logp="sum", group_size=4)
    W_new = sgd_step(W, y, mask, ds_adv(W, y, mask, rewards, cfg), cfg)
    assert (
        math.log(seq_prob(W_new, [2, 3]) / seq_prob(W_new, [0, 1]))
        < math.log(seq_prob(W, [2, 3]) / seq_prob(W, [0, 1])) - 1e-6
    )


@pytest.mark.parametrize("coef", [0.5, -0.5])
def test_entropy_bonus_raises_and_penalty_lowers_entropy(coef):
    y, mask, _ = batch()
    W = initial_weights()
    cfg = LossConfig(group_size=G, entropy_coef=coef)
    W_new = sgd_step(W, y, mask, torch.zeros(8, dtype=F64), cfg, lr=0.5)
    ent = [token_entropy(w[prev_tokens(y)]).mean().item() for w in (W, W_new)]
    assert (ent[1] - ent[0]) * coef > 0


def test_kl_term_pulls_the_policy_towards_the_reference():
    y, mask, _ = batch()
    W, W_ref = initial_weights(0), initial_weights(1)
    cfg = LossConfig(group_size=G, beta=1.0)
    logp_ref = token_logp(W_ref, y)
    W_new = sgd_step(W, y, mask, torch.zeros(8, dtype=F64), cfg, lr=0.5, logp_ref=logp_ref)
    kl = [k3_kl(token_logp(w, y), logp_ref)[mask.bool()].mean().item() for w in (W, W_new)]
    assert kl[1] < kl[0]
