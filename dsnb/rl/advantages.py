"""Group advantages for GRPO and differential smoothing (DS-GRPO), as pure torch functions.

**This is where differential smoothing lives.** :func:`compute_advantages` is the one call the
trainer makes (``dsnb.rl.trainer``, the line marked ``# DS-GRPO``): GRPO's group advantage
[GRPO1] plus the DS shaping [DS3] (or its score-level form [DS4]); with gamma_p = gamma_n = 0 it
is plain GRPO. Used by the trainer, the TRL bridge and notebooks 03-04. Equations: the method
page (docs/method.md) section 5 and NOTATION.md tags [GRPO1], [DS3], [DS4], [DS5].

The advantage-level rivals DS is compared with live here too, one switch each: the unlikeliness
reward [UNL1] (He et al. 2025, ``unlikeliness_coef``) and the analytic pass@k advantage [PKA1]
(Chen et al. 2025, ``passk_k``). The loss-level rival, Clip-Cov [COV1], is in ``dsnb.rl.loss``.

Conventions. Completion tensors are flat: ``rewards`` and ``seq_logp`` have shape (N,) with
N = B·G, ordered group by group (completions 0..G-1 belong to prompt 0, G..2G-1 to prompt 1,
...). They are viewed as (B, G) only where a group statistic is needed.

Correct means reward == 1 exactly: the Countdown score gives 0.1 for a well-formatted wrong
answer, and that is *incorrect* for DS. Pass ``correct=`` to override.

You should know: the sample std is the unbiased one (divide by G - 1), as ``torch.std`` and TRL
do. With G = 8 it is sqrt(8/7) ≈ 1.07 times the population std, so advantages are ~7% smaller.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dsnb.rl.loss import SEQ_LOGP, LossConfig


def _grouped(x: Tensor, group_size: int) -> Tensor:
    """View a flat (N,) tensor as (B, G), with a teaching error when N is not a multiple of G."""
    x = x if x.is_floating_point() else x.float()  # integer rewards (0/1) are fine too
    if x.dim() != 1:
        raise ValueError(f"expected a flat (N,) tensor, got shape {tuple(x.shape)}")
    if group_size < 1 or x.numel() % group_size:
        raise ValueError(
            f"{x.numel()} completions do not split into groups of {group_size}: "
            "N must be B·G with the G completions of a prompt stored contiguously"
        )
    return x.view(-1, group_size)  # (N,) -> (B, G)


def group_advantages(
    rewards: Tensor, group_size: int, normalize_std: bool = True, eps: float = 1e-4
) -> Tensor:
    """[GRPO1] A_i = (r_i − mean(r)) / (std(r) + eps), statistics over the G completions of a group.

    Shapes: rewards (N,) flat, groups contiguous -> advantages (N,).
    ``normalize_std=False`` only centres (Dr.GRPO). std is the unbiased sample std (÷ G − 1).

    What a learner gets wrong: a group whose rewards are all equal (all right or all wrong)
    carries no signal, and its advantage is exactly 0 here, with no float round-off from the mean
    and no 0/0 even when eps = 0. (DS shaping, [DS3], is added afterwards and still applies.)

    >>> group_advantages(torch.tensor([1., 0., 0., 0., 1., 1., 1., 1.]), group_size=4, eps=0.0)
    tensor([ 1.5000, -0.5000, -0.5000, -0.5000,  0.0000,  0.0000,  0.0000,  0.0000])
    """
    r = _grouped(rewards, group_size)  # (B, G)
    same = (r == r[:, :1]).all(dim=1, keepdim=True)  # (B, 1): no variance in this group
    centred = (r - r.mean(dim=1, keepdim=True)).masked_fill(same, 0.0)  # (B, G)
    if normalize_std:
        denom = r.std(dim=1, keepdim=True) + eps  # (B, 1), unbiased std as in TRL
        centred = centred / denom.masked_fill(same, 1.0)
    return centred.reshape(-1)  # (B, G) -> (N,)


def sequence_logp(token_logp: Tensor, mask: Tensor, how: str = "sum") -> Tensor:
    """[DS5] log pi(y) = Σ_t log pi(y_t) ("sum") or (1/T) Σ_t log pi(y_t) ("mean"), over real tokens.

    Shapes: token_logp (N, T), mask (N, T) with 1 on completion tokens, 0 on padding -> (N,).

    What a learner gets wrong: "sum" is the true sequence log-prob and grows with length
    (−50 … −500 for long answers), so gamma for "sum" must be ~100x smaller than for "mean".
    Padding is excluded with ``where`` (not a product), so -inf or nan in padding is harmless.

    >>> lp = torch.tensor([[-1.0, -2.0, -3.0], [-4.0, float("nan"), float("nan")]])
    >>> m = torch.tensor([[1, 1, 1], [1, 0, 0]])
    >>> sequence_logp(lp, m, "sum"), sequence_logp(lp, m, "mean")
    (tensor([-6., -4.]), tensor([-2., -4.]))
    """
    if how not in SEQ_LOGP:
        raise ValueError(
            f"how={how!r}: use 'sum' (true sequence log-prob, the paper's formula) "
            "or 'mean' (length-normalised, the authors' later code)"
        )
    if token_logp.shape != mask.shape:
        raise ValueError(
            f"token_logp {tuple(token_logp.shape)} and mask {tuple(mask.shape)} "
            "must have the same (N, T) shape"
        )
    keep = mask.bool()
    total = torch.where(keep, token_logp, torch.zeros_like(token_logp)).sum(dim=-1)  # (N,)
    if how == "sum":
        return total
    return total / keep.sum(dim=-1).clamp(min=1).to(total.dtype)


def _ds_shaping(
    rewards: Tensor, seq_logp: Tensor, gamma_p: float, gamma_n: float, correct: Tensor | None
) -> Tensor:
    """The per-sequence DS term: −gamma_p·log pi(y) if correct, +gamma_n·log pi(y) otherwise. (N,)"""
    if seq_logp.shape != rewards.shape:
        raise ValueError(
            f"seq_logp {tuple(seq_logp.shape)} must match rewards "
            f"{tuple(rewards.shape)}: one sequence log-prob per completion"
        )
    if gamma_p < 0 or gamma_n < 0:
        raise ValueError("gamma_p and gamma_n must be >= 0; the signs are built into the formula")
    ok = (rewards == 1) if correct is None else correct.bool()
    dtype = rewards.dtype if rewards.is_floating_point() else torch.float32
    lp = seq_logp.detach().to(dtype)  # pi_old is a constant: no gradient through DS
    return torch.where(ok, -gamma_p * lp, gamma_n * lp)


def ds_advantages(
    rewards: Tensor,
    seq_logp: Tensor,
    group_size: int,
    gamma_p: float,
    gamma_n: float,
    normalize_std: bool = True,
    eps: float = 1e-4,
    correct: Tensor | None = None,
) -> Tensor:
    """[DS3] A_i^DS = A_i − gamma_p·log pi_old(y_i) if r_i = 1; A_i + gamma_n·log pi_old(y_i) otherwise.

    Shapes: rewards (N,), seq_logp (N,) from :func:`sequence_logp` (detached here), correct (N,)
    bool (default rewards == 1) -> (N,). A_i is [GRPO1]; the DS term is added after
    normalisation and is not itself normalised.

    What a learner gets wrong: the signs. log pi <= 0, so −gamma_p·log pi >= 0 is a *bonus* that
    grows as a correct answer gets rarer (smoothing the correct set), and +gamma_n·log pi <= 0 is
    a *penalty* that grows as a wrong answer gets rarer (sharpening the incorrect set).
    A group whose rewards are all equal gets zero GRPO advantage, but the DS shaping still applies,
    as in the paper's formula: an all-correct group still moves mass from common to rare answers.

    >>> r = torch.tensor([1., 1., 0., 0.])
    >>> lp = torch.tensor([-1., -3., -1., -3.])     # two common, two rare completions
    >>> ds_advantages(r, lp, group_size=4, gamma_p=0.5, gamma_n=0.5, normalize_std=False)
    tensor([ 1.,  2., -1., -2.])
    """
    adv = group_advantages(rewards, group_size, normalize_std, eps)  # (N,)
    return adv + _ds_shaping(rewards, seq_logp, gamma_p, gamma_n, correct)


def ds_score_advantages(
    rewards: Tensor,
    seq_logp: Tensor,
    group_size: int,
    gamma_p: float,
    gamma_n: float,
    correct: Tensor | None = None,
) -> Tensor:
    """[DS4] s_i = r_i − γp·log pi_old(y_i) if r_i = 1, else r_i + γn·log pi_old(y_i); A_i = s_i − mean(s).

    Shapes: rewards (N,), seq_logp (N,) (detached here), correct (N,) bool -> (N,).
    This is the authors' latest code (TinyZero style): shape the score, then centre each group,
    with no std division (Dr.GRPO). With gamma = 0 it is exactly the centred reward.

    What a learner gets wrong: centring removes any constant, so here DS only acts through the
    *differences* of log pi within a group. In an all-correct group [DS3] gives every completion
    a positive bonus, while [DS4] gives the common ones a negative advantage and the rare ones a
    positive one (same direction of change, zero net push).

    >>> r = torch.tensor([1., 1., 1., 1.])           # all correct: GRPO alone gives zeros
    >>> lp = torch.tensor([-1., -3., -1., -3.])
    >>> ds_score_advantages(r, lp, group_size=4, gamma_p=0.5, gamma_n=0.5)
    tensor([-0.5000,  0.5000, -0.5000,  0.5000])
    >>> ds_advantages(r, lp, group_size=4, gamma_p=0.5, gamma_n=0.5)
    tensor([0.5000, 1.5000, 0.5000, 1.5000])
    """
    rewards = rewards if rewards.is_floating_point() else rewards.float()
    score = rewards + _ds_shaping(rewards, seq_logp, gamma_p, gamma_n, correct)  # (N,)
    s = _grouped(score, group_size)  # (N,) -> (B, G)
    return (s - s.mean(dim=1, keepdim=True)).reshape(-1)  # (B, G) -> (N,)


def group_ranks(seq_logp: Tensor, group_size: int) -> Tensor:
    """The rank of each completion in its group by log pi_old(y): 0 = least likely, G − 1 = most likely.

    Shapes: seq_logp (N,) -> ranks (N,) as floats. Ties (the same completion sampled twice has
    the same log-prob) share their mean rank, so a repeated answer never gets two different
    credits depending on where in the group it happened to be sampled.

    >>> group_ranks(torch.tensor([-1., -3., -2., -0.5, -1., -1., -2., -3.]), group_size=4)
    tensor([2.0000, 0.0000, 1.0000, 3.0000, 2.5000, 2.5000, 1.0000, 0.0000])
    """
    lp = _grouped(seq_logp.detach(), group_size)  # (B, G)
    below = (lp.unsqueeze(1) < lp.unsqueeze(2)).sum(dim=2)  # (B, G): others strictly less likely
    ties = (lp.unsqueeze(1) == lp.unsqueeze(2)).sum(dim=2) - 1  # (B, G): others equally likely
    return (below + ties / 2).reshape(-1).to(lp.dtype)  # (B, G) -> (N,)


def unlikeliness_rewards(
    rewards: Tensor, seq_logp: Tensor, group_size: int, coef: float, correct: Tensor | None = None
) -> Tensor:
    """[UNL1] r̃_i = r_i·(1 − β·rank_i/G) if y_i is correct, r_i otherwise; rank_i from :func:`group_ranks`.

    The unlikeliness reward of He, Fried & Welleck (2025, arXiv 2506.02355), in the rank form of
    their released code: the G completions of a group are ranked by log pi_old (0 = least
    likely), and a correct one loses β·rank/G of its reward, so the rarest correct answer keeps
    all of it and the most likely keeps 1 − β(G − 1)/G. The GRPO advantage [GRPO1] of r̃ follows.

    Shapes: rewards, seq_logp (N,) (detached here), correct (N,) bool -> r̃ (N,).

    What a learner gets wrong: this is a *penalty on likely* correct answers, not a bonus on rare
    ones; after the group normalisation that is the same thing, and an all-correct group (which
    GRPO ignores) now pushes mass from its common answers to its rare ones.

    >>> unlikeliness_rewards(torch.tensor([1., 1., 0., 1.]), torch.tensor([-1., -3., -2., -0.5]), 4, 0.5)
    tensor([0.7500, 1.0000, 0.0000, 0.6250])
    """
    if seq_logp.shape != rewards.shape:
        raise ValueError(f"seq_logp {tuple(seq_logp.shape)} must match rewards {tuple(rewards.shape)}")
    rewards = rewards if rewards.is_floating_point() else rewards.float()
    ok = (rewards == 1) if correct is None else correct.bool()
    rank = group_ranks(seq_logp, group_size).to(rewards.dtype)  # (N,)
    return torch.where(ok, rewards * (1 - coef * rank / group_size), rewards)


def passk_advantages(
    correct: Tensor, group_size: int, k: int, eps: float = 1e-4, dtype: torch.dtype = torch.float32
) -> Tensor:
    """[PKA1] A⁺ = (1 − ρ)/(σ + eps), A⁻ = (1 − ρ − C(G−c−1, k−1)/C(G−1, k−1))/(σ + eps).

    ρ = 1 − C(G−c, k)/C(G, k) is the group's mean pass@k over its k-subsets, σ = √(ρ(1 − ρ)).

    The analytic pass@k advantage of Chen et al. (2025, arXiv 2508.10751): reward every k-subset
    of the group with its pass@k (1 if it holds a correct answer), centre by the mean ρ and scale
    by the std σ over subsets, and give each completion the average over the subsets it is in.
    For a group of G with c correct that is A⁺ for the correct and A⁻ for the incorrect ones.
    Shapes: correct (N,) bool -> (N,).

    What a learner gets wrong: k = 1 is GRPO with the population std (÷ G, not G − 1); a larger k
    blames a wrong answer less when its group has correct ones (a k-subset with it in may still
    pass), and once c > G − k every k-subset passes and nobody in the group gets any advantage.

    >>> passk_advantages(torch.tensor([1, 0, 0, 0]), group_size=4, k=2, eps=0.0)
    tensor([ 1.0000, -0.3333, -0.3333, -0.3333])
    """
    ok = _grouped(correct.bool().to(torch.float64), group_size)  # (B, G) of 0/1
    G = group_size
    if not 1 <= k < G:
        raise ValueError(f"k = {k}: the pass@k advantage needs 1 <= k < G = {G} (k = G gives no signal)")
    table = torch.zeros(G + 1, 2, dtype=torch.float64, device=ok.device)  # c -> (A⁺, A⁻)
    for c in range(1, G):  # c = 0 or G: no signal, A = 0
        rho = 1 - math.comb(G - c, k) / math.comb(G, k)
        sigma = math.sqrt(max(rho * (1 - rho), 0.0))
        blame = math.comb(G - c - 1, k - 1) / math.comb(G - 1, k - 1)
        if sigma > 0:  # sigma = 0 once c > G − k: every k-subset passes, A = 0
            table[c, 0], table[c, 1] = (1 - rho) / (sigma + eps), (1 - rho - blame) / (sigma + eps)
    c = ok.sum(dim=1).long()  # (B,)
    adv = torch.where(ok.bool(), table[c, 0].unsqueeze(1), table[c, 1].unsqueeze(1))  # (B, G)
    return adv.reshape(-1).to(dtype)  # (B, G) -> (N,)


def compute_advantages(
    rewards: Tensor, seq_logp: Tensor | None, cfg: LossConfig, correct: Tensor | None = None
) -> Tensor:
    """[DS3] (cfg.ds_where = "advantage") or [DS4] ("score"); gamma_p = gamma_n = 0 gives [GRPO1].

    The rivals, when their switch is on: [UNL1] (cfg.unlikeliness_coef > 0) reweights the
    rewards before [GRPO1]; [PKA1] (cfg.passk_k > 0) replaces [GRPO1] by the pass@k advantage.

    Shapes: rewards (N,), seq_logp (N,) = :func:`sequence_logp` of pi_old (or of the base model
    when cfg.ds_ref == "base") with cfg.ds_logp, correct (N,) bool -> advantages (N,).
    ``seq_logp`` may be None when neither DS nor the unlikeliness reward is on.

    What a learner gets wrong: seq_logp must come from the policy that *sampled* the group
    (detached), not from the policy being updated; it is a fixed part of the reward.

    >>> compute_advantages(torch.tensor([1., 0.]), None, LossConfig(group_size=2, std_eps=0.0))
    tensor([ 0.7071, -0.7071])
    """
    if seq_logp is None:
        if cfg.needs_seq_logp:
            raise ValueError(
                "DS or the unlikeliness reward is on (gamma_p, gamma_n or unlikeliness_coef > 0): "
                "pass seq_logp, the sequence log-prob of each completion under pi_old"
            )
        seq_logp = torch.zeros_like(rewards)
    if cfg.passk_k:
        ok = (rewards == 1) if correct is None else correct
        dtype = rewards.dtype if rewards.is_floating_point() else torch.float32
        return passk_advantages(ok, cfg.group_size, cfg.passk_k, cfg.std_eps, dtype)
    if cfg.unlikeliness_coef:
        correct = (rewards == 1) if correct is None else correct  # decided before r̃ replaces r
        rewards = unlikeliness_rewards(rewards, seq_logp, cfg.group_size, cfg.unlikeliness_coef, correct)
    if cfg.ds_where == "score":
        return ds_score_advantages(rewards, seq_logp, cfg.group_size, cfg.gamma_p, cfg.gamma_n, correct)
    return ds_advantages(
        rewards, seq_logp, cfg.group_size, cfg.gamma_p, cfg.gamma_n, cfg.normalize_std, cfg.std_eps, correct
    )
