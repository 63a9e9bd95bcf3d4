"""Solutions to notebook 03 (live DS-GRPO on the nano model): exercises 03.1-03.4."""

import torch


def group_advantage(rewards, group_size, eps=1e-4):
    """03.1 [GRPO1] A_i = (r_i - mean r) / (std r + eps) per group; the sample std (÷ G - 1)."""
    r = rewards.view(-1, group_size)  # (N,) -> (B, G): groups are contiguous
    centred = r - r.mean(dim=1, keepdim=True)
    return (centred / (r.std(dim=1, keepdim=True) + eps)).reshape(-1)  # all-equal group: 0 / eps = 0


def ds_advantage(rewards, seq_logp, group_size, gamma_p, gamma_n):
    """03.2 [DS3] A_i - gamma_p log pi(y_i) if r_i = 1, else A_i + gamma_n log pi(y_i)."""
    A = group_advantage(rewards, group_size)
    lp = seq_logp.detach()  # pi_old is a constant: no gradient through the DS term
    return A + torch.where(rewards == 1, -gamma_p * lp, gamma_n * lp)  # 0.1 format score: wrong


# 03.3: all four are correct, so GRPO gives A = 0. [DS3] adds -gamma_p*log pi = +1, +1, +2, +6: all
# positive. [DS4] centres the shaped scores 2, 2, 3, 7 (mean 3.5): only the rare one is positive.
DS3_VS_DS4 = {"DS3": [0, 1, 2, 3], "DS4": [3]}

# 03.4: raising gamma_n adds gamma_n*log pi_old <= 0 to every wrong completion: down; the rarest
# wrong answer (log pi = -8) is pushed down the most.
GAMMA_N_SLIDER = {"direction": "down", "hardest": "rare"}

SOLUTIONS = {
    "03.1": group_advantage,
    "03.2": ds_advantage,
    "03.3": DS3_VS_DS4,
    "03.4": GAMMA_N_SLIDER,
}
