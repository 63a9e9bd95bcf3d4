"""What we measure on a policy over trajectories: correctness, diversity on the correct set, KL.

Used by every experiment of notebooks 01 and 02. All functions take probabilities of shape
(..., N) and a correct mask that broadcasts against them, and reduce the last axis.
Equations: NOTATION.md tags [C1], [DIV1], [DIV2], [DIV3], [KL1], [KL2], [PK0].

You should know: the diversity measures look only at the *correct* set. A policy that spreads
over many wrong answers is not "diverse" in the sense that matters for pass@k.
"""

from __future__ import annotations

import numpy as np


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x·log y with the convention 0·log 0 = 0 (a trajectory with no mass contributes nothing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


def correctness(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """[C1] C(pi) = Σ_{y correct} pi(y), the probability that one sample is correct (pass@1).

    >>> float(correctness(np.array([0.5, 0.3, 0.2]), np.array([True, False, True])))
    0.7
    """
    return np.sum(np.where(correct, probs, 0.0), axis=-1)


def correct_distribution(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """q(y) = pi(y)/C(pi) on the correct set, 0 elsewhere: the policy *given* it is correct.

    >>> correct_distribution(np.array([0.5, 0.3, 0.2]), np.array([True, False, True])).round(3)
    array([0.714, 0.   , 0.286])
    """
    masked = np.where(correct, probs, 0.0)
    return masked / masked.sum(axis=-1, keepdims=True)


def correct_entropy(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """[DIV1] H_c(pi) = −Σ_{y correct} q(y) log q(y), entropy of pi renormalised on the correct set.

    Between 0 (one correct answer takes everything) and log K (K correct answers, uniform).

    >>> round(float(correct_entropy(np.array([0.25, 0.25, 0.5]), np.array([1, 1, 0]))), 4)
    0.6931
    """
    q = correct_distribution(probs, correct)
    return -np.sum(_xlogy(q, q), axis=-1)


def correct_variance(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """[DIV2] V_c(pi) = K·Σ q(y)² − 1 over the K correct trajectories: 0 uniform, K − 1 one-hot.

    It is the variance of K·q, so *lower* means more diverse (the opposite of H_c).

    >>> float(correct_variance(np.array([0.3, 0.0, 0.7]), np.array([True, True, False])))
    1.0
    """
    q = correct_distribution(probs, correct)
    k = np.sum(np.broadcast_to(correct, np.shape(q)), axis=-1)
    return k * np.sum(q**2, axis=-1) - 1.0


def effective_solutions(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """[DIV3] N_eff = exp(H_c): how many equally likely correct answers the policy behaves like.

    >>> round(float(effective_solutions(np.array([0.2, 0.2, 0.6]), np.array([1, 1, 0]))), 6)
    2.0
    """
    return np.exp(correct_entropy(probs, correct))


def kl_reverse(probs: np.ndarray, base_probs: np.ndarray) -> np.ndarray:
    """[KL1] KL(pi ‖ pi_base) = Σ pi log(pi/pi_base), the divergence the RL objective penalises.

    >>> round(float(kl_reverse(np.array([1.0, 0.0]), np.array([0.5, 0.5]))), 4)  # log 2
    0.6931
    """
    return np.sum(_xlogy(probs, probs) - _xlogy(probs, base_probs), axis=-1)


def kl_forward(probs: np.ndarray, base_probs: np.ndarray) -> np.ndarray:
    """[KL2] KL(pi_base ‖ pi) = Σ pi_base log(pi_base/pi): infinite once pi drops a base answer.

    Forward KL punishes *forgetting*: it is the one that notices sharpening.

    >>> float(kl_forward(np.array([1.0, 0.0]), np.array([0.5, 0.5])))
    inf
    """
    with np.errstate(divide="ignore"):
        return kl_reverse(base_probs, probs)


def exact_pass_at_k(probs: np.ndarray, correct: np.ndarray, k) -> np.ndarray:
    """[PK0] pass@k = 1 − (1 − C)^k per prompt, averaged over prompts if probs is (P, N).

    Exact for a known policy: k independent samples all miss with probability (1 − C)^k.
    k may be an int or an array (the result has k's shape). For one prompt pass@k depends only on
    C; diversity matters for pass@k only *across prompts*, which is why the crossover needs several.

    >>> exact_pass_at_k(np.array([0.5, 0.5]), np.array([True, False]), np.array([1, 2, 3]))
    array([0.5  , 0.75 , 0.875])
    """
    c = np.atleast_1d(correctness(probs, correct))  # (P,)
    k = np.asarray(k, dtype=float)
    miss = (1.0 - c)[:, None] ** k.reshape(1, -1)  # (P, K)
    return (1.0 - miss.mean(axis=0)).reshape(k.shape)
