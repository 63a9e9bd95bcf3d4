"""Why RL sharpens: the two-trajectory identity, selection bias and reinforcement bias.

Notebook 01 shows each numerically. Equations: docs/method.md section 2; NOTATION.md tags [SH1],
[SEL1] (and [REI1], implemented in ``dsnb.theory.optima.reinforcement_gain``).
"""

from __future__ import annotations

import numpy as np

from dsnb.theory.dynamics import sample_groups
from dsnb.theory.space import check_positive


def sharpening_rate(probs: np.ndarray, correct: np.ndarray, i: int, j: int, lr: float) -> float:
    """[SH1] Δ log(pi_i/pi_j) = lr(1 − J)(pi_i − pi_j), both correct; −lr·J(pi_i − pi_j), both wrong

    The change of the log-ratio of trajectories i and j after one expected-gradient step
    z ← z + lr·∂J/∂z on J = E_pi[r] (one prompt, probs and correct of shape (N,)). In general it
    is lr·(pi_i(r_i − J) − pi_j(r_j − J)); the two cases above are the ones that matter.
    Because log(pi_i/pi_j) = z_i − z_j, the formula is exact for any lr, not only small ones.

    What a learner gets wrong: both trajectories are correct and rewarded equally, yet the
    more likely one pulls away ("rich get richer"): the correct set sharpens. Among incorrect
    ones the sign flips and that set flattens.

    >>> round(sharpening_rate(np.array([0.4, 0.2, 0.4]), np.array([1, 1, 0]), 0, 1, lr=1.0), 12)
    0.08
    """
    probs, r = np.asarray(probs, dtype=float), np.asarray(correct, dtype=float)
    j_val = float(np.sum(probs * r))
    return float(lr * (probs[i] * (r[i] - j_val) - probs[j] * (r[j] - j_val)))


def credit_probability(probs, group_size: int) -> np.ndarray:
    """[SEL1] P(y credited) = 1 − (1 − pi(y))^G: the chance y is sampled at least once in a group.

    A trajectory that is not sampled gets no direct credit, however correct it is. For
    pi(y) ≪ 1/G this is ≈ G·pi(y): a correct answer ten times rarer is credited ten times less
    often (selection bias). For pi(y) ≫ 1/G it saturates at 1.

    >>> credit_probability(np.array([0.5, 0.01]), group_size=4).round(4)
    array([0.9375, 0.0394])
    """
    if group_size < 1:
        raise ValueError(f"group_size = {group_size}: a group needs at least one completion")
    return 1.0 - (1.0 - np.asarray(probs, dtype=float)) ** group_size


def sampled_fraction(probs, group_size: int, n_groups: int, seed: int = 0) -> np.ndarray:
    """Monte Carlo of [SEL1]: the fraction of n_groups groups of G samples that contain each y.

    probs (N,) -> (N,). A second, independent way to get credit_probability.
    """
    check_positive("n_groups", n_groups, "it is the number of simulated groups")
    rng = np.random.default_rng(seed)
    probs = np.asarray(probs, dtype=float)[None, :]
    idx = sample_groups(np.repeat(probs, n_groups, axis=0), group_size, rng)  # (n_groups, G)
    seen = np.zeros((n_groups, probs.shape[1]), dtype=bool)
    seen[np.arange(n_groups)[:, None], idx] = True
    return seen.mean(axis=0)
