"""Solutions to notebook 04 (a real model): exercises 04.1-04.3."""

import torch


def sequence_logp(token_logp, mask, how):
    """04.1 [DS5] sum (or mean) of the token log-probs over the real tokens."""
    keep = mask.bool()
    total = torch.where(keep, token_logp, torch.zeros_like(token_logp)).sum(dim=-1)  # nan-safe
    return total if how == "sum" else total / keep.sum(dim=-1)


# 04.2: summed, short = 20*(-0.5) = -10 and long = 200*(-0.1) = -20: the long answer has the lower
# log pi, so the bigger bonus -gamma_p*log pi. Averaged, -0.5 vs -0.1: the short one.
SUM_VS_MEAN = {"sum": "long", "mean": "short"}


def clipped_surrogate(logp, logp_old, adv, eps_low, eps_high):
    """04.3 [PPO1] -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A), rho = exp(logp - logp_old)."""
    ratio = torch.exp(logp - logp_old.detach())  # (N, T)
    a = adv.unsqueeze(1)  # (N,) -> (N, 1): one advantage per sequence, for all its tokens
    return -torch.minimum(ratio * a, torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * a)


SOLUTIONS = {"04.1": sequence_logp, "04.2": SUM_VS_MEAN, "04.3": clipped_surrogate}
