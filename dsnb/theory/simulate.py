"""Simulated RL training on a trajectory space: the experiments of notebooks 01 and 02.

:func:`simulate` runs GRPO, DS, or an entropy bonus/penalty on a softmax policy over
trajectories, either with the exact expected gradient [PG1] or with sampled groups of G
completions, and returns a :class:`History` with the metrics of ``dsnb.theory.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dsnb.theory import metrics
from dsnb.theory.dynamics import COEFS, DIRECTIONS, SimConfig
from dsnb.theory.space import TrajectorySpace, as_space, log_softmax


@dataclass
class History:
    """A training run recorded at checkpoints. Metric arrays are (T,), averaged over prompts."""

    config: SimConfig
    """The settings of the run."""
    step: np.ndarray
    """(T,) the step of each checkpoint (0 = before training)."""
    probs: np.ndarray
    """(T, N) or (T, P, N) the policy at each checkpoint."""
    space: TrajectorySpace = field(repr=False)
    """The base policy and correct mask."""
    C: np.ndarray = None
    """(T,) correctness [C1] (= pass@1)."""
    H_c: np.ndarray = None
    """(T,) entropy on the correct set [DIV1]."""
    V_c: np.ndarray = None
    """(T,) normalised variance on the correct set [DIV2]."""
    N_eff: np.ndarray = None
    """(T,) effective number of correct solutions [DIV3]."""
    kl: np.ndarray = None
    """(T,) KL(pi ‖ pi_base) [KL1]."""
    kl_fwd: np.ndarray = None
    """(T,) KL(pi_base ‖ pi) [KL2]."""
    samples: np.ndarray = None
    """(N,) or (P, N) how often each trajectory was sampled over the run (None if "expected")."""

    def __post_init__(self):
        p = self.probs if self.probs.ndim == 3 else self.probs[:, None, :]  # (T, P, N)
        c, base = self.space.correct, self.space.base_probs
        h_c = metrics.correct_entropy(p, c)  # (T, P)
        self.H_c, self.N_eff = h_c.mean(axis=1), np.exp(h_c).mean(axis=1)  # [DIV3] = exp(H_c)
        self.C = metrics.correctness(p, c).mean(axis=1)
        self.V_c = metrics.correct_variance(p, c).mean(axis=1)
        self.kl = metrics.kl_reverse(p, base).mean(axis=1)
        self.kl_fwd = metrics.kl_forward(p, base).mean(axis=1)

    @property
    def final(self) -> np.ndarray:
        """The policy after the last step, (N,) or (P, N)."""
        return self.probs[-1]

    def pass_at_k(self, k) -> np.ndarray:
        """[PK0] exact pass@k of the final policy, averaged over prompts."""
        return metrics.exact_pass_at_k(self.final, self.space.unbatch(self.space.correct), k)


def _parameters(space: TrajectorySpace, strategies):
    """Initial parameters and the map theta -> logit offsets, with shared strategies or not."""
    if strategies is None:
        return np.zeros_like(space.base_logp), (lambda theta: theta), (lambda grad: grad)
    strategies = np.atleast_2d(np.asarray(strategies))
    if (
        strategies.shape != space.base_logp.shape
        or not np.issubdtype(strategies.dtype, np.integer)
        or strategies.min() < 0
    ):
        raise ValueError(
            f"strategies must be ints >= 0 of shape {space.base_logp.shape} "
            "(one strategy id per trajectory), got "
            f"{strategies.dtype} {strategies.shape}"
        )
    n_strat, n_prompts = int(strategies.max()) + 1, strategies.shape[0]

    def reduce(grad):  # d/d theta_s = mean over prompts of the sum over its trajectories
        return np.bincount(strategies.ravel(), grad.ravel(), minlength=n_strat) / n_prompts

    return np.zeros(n_strat), (lambda theta: theta[strategies]), reduce


def simulate(
    base_logp,
    correct,
    method: str,
    steps: int,
    group_size: int,
    lr: float,
    seed: int = 0,
    *,
    mode: str = "sampled",
    ref: str = "old",
    strategies=None,
    record_every: int | None = None,
    **coefs,
) -> History:
    """Train pi = softmax(log pi_base + theta) with ``method`` and record the metrics.

    method: "grpo", "ds", "entropy_bonus", "entropy_penalty". coefs: beta (KL weight),
    gamma_p / gamma_n (ds), entropy_coef (entropy_*), all >= 0. mode="expected" follows the
    exact expected gradient [PG1] of E[r + shaping] − beta·KL; mode="sampled" is GRPO with G
    completions per prompt, advantage [GRPO1] plus the shaping of each sample [DS3].
    ``strategies`` (P, N) ints ties the logits of all trajectories with the same id, across
    prompts: then theta has one entry per strategy and gets the prompt-averaged gradient.
    Without it every prompt is its own independent problem.

    What a learner gets wrong: the sampled GRPO update is not a noisy copy of the expected one:
    std normalisation rescales it by ~1/sqrt(C(1 − C)), and rare trajectories that are never
    sampled get no credit at all.

    >>> h = simulate(np.log([0.6, 0.3, 0.1]), [True, True, False], "grpo", steps=50,
    ...              group_size=2, lr=1.0, mode="expected")
    >>> bool(h.C[-1] > h.C[0]), bool(h.final[0] / h.final[1] > 2.0)  # C rises; the ratio sharpens
    (True, True)
    """
    unknown = set(coefs) - set(COEFS)
    if unknown:
        raise ValueError(f"unknown coefficient(s) {sorted(unknown)}: simulate takes {COEFS}")
    cfg = SimConfig(method, steps, group_size, lr, seed, mode=mode, ref=ref, **coefs)
    space = as_space(base_logp, correct)
    rng = np.random.default_rng(seed)
    theta, expand, reduce = _parameters(space, strategies)
    direction = DIRECTIONS[mode]
    every = max(1, steps // 100) if record_every is None else record_every
    if int(every) != every or every < 1:
        raise ValueError(f"record_every = {record_every} must be a whole number >= 1")
    base, corr = space.base_logp, space.correct
    steps_seen, snapshots = [], []
    counts = np.zeros(base.size, dtype=np.int64) if mode == "sampled" else None
    for t in range(steps + 1):
        logp = log_softmax(base + expand(theta))  # (P, N)
        if t % every == 0 or t == steps:
            steps_seen.append(t)
            snapshots.append(np.exp(logp))
        if t < steps:
            theta = theta + lr * reduce(direction(logp, base, corr, cfg, rng, counts))
    probs = np.stack(snapshots)  # (T, P, N)
    samples = None if counts is None else space.unbatch(counts.reshape(base.shape))
    return History(cfg, np.array(steps_seen), space.unbatch(probs), space, samples=samples)
