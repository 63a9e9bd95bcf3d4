"""Trajectory spaces: the toy world of notebooks 01 and 02.

The theory needs only two things from a language model and a prompt: the base policy's
log-probability of each of N whole completions (trajectories), and which of them are correct.
Several prompts stack as rows, shape (P, N). Everything in ``dsnb.theory`` validates its input
through :func:`as_space`, so a mistake gets one clear message wherever it is made.

Equations: none here; docs/method.md section 1 is the setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, shifted by the max so exp never overflows.

    >>> np.round(np.exp(log_softmax(np.array([0.0, np.log(3.0)]))), 3)
    array([0.25, 0.75])
    """
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis: the policy pi(y) ∝ exp(z_y) of a logit vector z.

    >>> softmax(np.zeros(4))
    array([0.25, 0.25, 0.25, 0.25])
    """
    return np.exp(log_softmax(z))


@dataclass
class TrajectorySpace:
    """The base policy over N trajectories for P prompts, and which trajectories are correct."""

    base_logp: np.ndarray
    """(P, N) or (N,) base log-probabilities log pi_base(y); any finite logits, normalised here."""
    correct: np.ndarray
    """Same shape, True where the trajectory is correct (reward r(y) = 1)."""

    def __post_init__(self):
        logp = np.asarray(self.base_logp, dtype=float)
        correct = np.asarray(self.correct)
        if logp.ndim not in (1, 2):
            raise ValueError(
                f"base_logp has shape {logp.shape}: give (N,) for one prompt or "
                "(P, N) for P prompts, one row of trajectories per prompt"
            )
        if correct.shape != logp.shape:
            raise ValueError(
                f"base_logp has shape {logp.shape} but correct has shape "
                f"{correct.shape}: give one correctness flag per trajectory"
            )
        if logp.shape[-1] < 2:
            raise ValueError("a space of one trajectory has nothing to sharpen: use N >= 2")
        if np.isnan(logp).any():
            raise ValueError(
                "base_logp contains NaN: check the logits you passed "
                "(a NaN usually comes from log(0) * 0 or 0/0 upstream)"
            )
        if not np.isfinite(logp).all():
            raise ValueError(
                "base_logp must be finite: a trajectory with zero base probability "
                "is never sampled and log 0 = -inf breaks the DS reward; drop it"
            )
        if correct.dtype != bool and not np.isin(correct, (0, 1)).all():
            raise ValueError("correct must be boolean (or 0/1): the theory uses a binary reward")
        self.single = logp.ndim == 1
        self.base_logp = log_softmax(np.atleast_2d(logp))  # (P, N), rows sum to 1 in prob
        self.correct = np.atleast_2d(correct.astype(bool))  # (P, N)
        empty = np.flatnonzero(~self.correct.any(axis=1))
        if empty.size:
            raise ValueError(
                f"prompt {int(empty[0])} has no correct trajectory: with a 0/1 reward "
                "every group there scores 0 and RL gets no signal; drop the prompt "
                "or mark at least one correct trajectory"
            )

    @property
    def base_probs(self) -> np.ndarray:
        """(P, N) pi_base."""
        return np.exp(self.base_logp)

    @property
    def reward(self) -> np.ndarray:
        """(P, N) r(y) in {0, 1} as floats."""
        return self.correct.astype(float)

    def unbatch(self, x: np.ndarray, per_trajectory: bool = True) -> np.ndarray:
        """Give a result back in the caller's shape: drop the prompt axis if the input was (N,).

        x is (..., P, N) when per_trajectory, else (..., P).
        """
        if not self.single:
            return x
        return x[..., 0, :] if per_trajectory else x[..., 0]


def as_space(base_logp, correct) -> TrajectorySpace:
    """Validate (base_logp, correct) once, with the teaching messages of :class:`TrajectorySpace`.

    >>> as_space([0.0, 0.0, 0.0], [True, False, False]).base_probs.round(3)
    array([[0.333, 0.333, 0.333]])
    """
    if isinstance(base_logp, TrajectorySpace):
        return base_logp
    return TrajectorySpace(base_logp, correct)


def check_positive(name: str, value: float, why: str) -> float:
    """Raise a teaching ValueError unless value > 0 (and finite)."""
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} = {value} must be > 0: {why}")
    return float(value)


def check_nonnegative(name: str, value: float, why: str) -> float:
    """Raise a teaching ValueError unless value >= 0 (and finite)."""
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} = {value} must be >= 0: {why}")
    return float(value)


def zipf_space(n: int = 1000, n_correct: int = 10, skew: float = 1.0):
    """A one-prompt space: Zipf base pi_base(rank i) ∝ (1 + i)^(−skew), correct ranks spread
    geometrically from the most likely trajectory to the rarest.

    Returns (base_logp (N,), correct (N,)). skew = 0 is uniform; skew = 1 is a long tail, the
    shape of an LLM's distribution over whole completions. The correct set always contains the
    mode, so the "rich get richer" story is visible from the first step.

    >>> logp, correct = zipf_space(n=6, n_correct=2, skew=1.0)
    >>> np.flatnonzero(correct), np.round(np.exp(logp[:2]), 3)
    (array([0, 5]), array([0.408, 0.204]))
    """
    if not 1 <= n_correct <= n:
        raise ValueError(f"n_correct = {n_correct} must be between 1 and n = {n}")
    check_nonnegative("skew", skew, "skew 0 is uniform; a negative skew reverses the ranks")
    logits = -skew * np.log1p(np.arange(n, dtype=float))
    ranks = np.unique(np.round(np.geomspace(1, n, n_correct)).astype(int) - 1)
    spare = np.setdiff1d(np.arange(n), ranks)  # fill collisions with the next free ranks
    ranks = np.sort(np.concatenate([ranks, spare[: n_correct - ranks.size]]))
    correct = np.zeros(n, dtype=bool)
    correct[ranks] = True
    return log_softmax(logits), correct
