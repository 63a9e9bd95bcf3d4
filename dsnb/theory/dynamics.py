"""One training step of a softmax policy over trajectories: exact expected gradient or sampled GRPO.

The policy is pi = softmax(z) with one logit per trajectory (notebooks 01 and 02), optionally
tied to a few shared "strategy" parameters across prompts (the crossover of notebook 01).
:func:`dsnb.theory.simulate` loops these steps. Equations: docs/method.md sections 2 and 5;
NOTATION.md tags [PG1], [GRPO1], [DS3].

A method is the reward it adds to r(y), as a per-trajectory shaping term:
    grpo             0
    ds               −gamma_p·log pi_ref(y) on correct, +gamma_n·log pi_ref(y) on incorrect   [DS3]
    entropy_bonus    −g·log pi(y)     (its expected gradient is exactly g·∇H(pi))
    entropy_penalty  +g·log pi(y)
with pi_ref = pi_old (the sampling policy, practice, ``ref="old"``) or pi_base (theory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsnb.theory.optima import ds_score
from dsnb.theory.space import check_nonnegative, check_positive

TRAIN_METHODS = ("grpo", "ds", "entropy_bonus", "entropy_penalty")
COEFS = ("beta", "gamma_p", "gamma_n", "entropy_coef")


@dataclass
class SimConfig:
    """Settings of one simulated training run (see :func:`dsnb.theory.simulate`)."""

    method: str
    """"grpo", "ds", "entropy_bonus" or "entropy_penalty"."""
    steps: int
    """Number of updates."""
    group_size: int
    """G, completions sampled per prompt per step (sampled mode)."""
    lr: float
    """Learning rate on the logits (or on the shared strategy parameters)."""
    seed: int = 0
    """Seed of this run's own numpy Generator: runs with different seeds are independent."""
    mode: str = "sampled"
    """"sampled": GRPO on G samples per prompt; "expected": the exact expected gradient [PG1]."""
    ref: str = "old"
    """Which log-prob DS shapes with: "old" (pi_old, the sampling policy: practice) or "base"."""
    beta: float = 0.0
    """KL weight: the update also descends beta·KL(pi ‖ pi_base) (exact gradient, both modes)."""
    gamma_p: float = 0.0
    """DS smoothing strength on the correct set."""
    gamma_n: float = 0.0
    """DS sharpening strength on the incorrect set."""
    entropy_coef: float = 0.0
    """g >= 0; the method name gives the sign (bonus adds g·H, penalty subtracts it)."""
    eps: float = 1e-4
    """Added to the group std in the GRPO advantage."""

    def __post_init__(self):
        if self.method not in TRAIN_METHODS:
            raise ValueError(f"method={self.method!r}: choose one of {TRAIN_METHODS}")
        if self.mode not in ("sampled", "expected"):
            raise ValueError(f"mode={self.mode!r}: use 'sampled' (GRPO groups) or 'expected'")
        if self.ref not in ("old", "base"):
            raise ValueError(f"ref={self.ref!r}: use 'old' (pi_old, practice) or 'base' (theory)")
        if int(self.steps) != self.steps or self.steps < 0:
            raise ValueError(f"steps = {self.steps} must be a whole number >= 0")
        if int(self.group_size) != self.group_size or self.group_size < 2:
            raise ValueError(
                f"group_size = {self.group_size}: a group of one completion has no "
                "baseline (its advantage is always 0); use group_size >= 2"
            )
        check_positive("lr", self.lr, "the learning rate scales every update")
        for name in COEFS:
            check_nonnegative(
                name,
                getattr(self, name),
                "the method name carries the sign "
                "(entropy_bonus / entropy_penalty); coefficients are magnitudes",
            )
        used = {
            "grpo": (),
            "ds": ("gamma_p", "gamma_n"),
            "entropy_bonus": ("entropy_coef",),
            "entropy_penalty": ("entropy_coef",),
        }[self.method]
        for name in ("gamma_p", "gamma_n", "entropy_coef"):
            if name not in used and getattr(self, name) != 0:
                raise ValueError(
                    f"method={self.method!r} ignores {name}={getattr(self, name)}; "
                    f"it belongs to {'ds' if 'gamma' in name else 'entropy_*'}"
                )


def _no_shaping(logp, base_logp, correct, cfg):
    return np.zeros_like(logp)


def _ds_shaping(logp, base_logp, correct, cfg):
    ref = logp if cfg.ref == "old" else base_logp
    return ds_score(ref, correct, cfg.gamma_p, cfg.gamma_n) - correct


def _bonus_shaping(logp, base_logp, correct, cfg):
    return -cfg.entropy_coef * logp


def _penalty_shaping(logp, base_logp, correct, cfg):
    return cfg.entropy_coef * logp


SHAPING = {
    "grpo": _no_shaping,
    "ds": _ds_shaping,
    "entropy_bonus": _bonus_shaping,
    "entropy_penalty": _penalty_shaping,
}


def policy_gradient(probs: np.ndarray, score: np.ndarray) -> np.ndarray:
    """[PG1] ∂J/∂z_y = pi(y)·(s(y) − J) for J = E_pi[s], softmax policy pi = softmax(z).

    Shapes: (..., N) in and out. The factor pi(y) is the whole story of notebook 01: a correct
    trajectory's logit grows in proportion to how likely it already is.

    >>> policy_gradient(np.array([0.5, 0.25, 0.25]), np.array([1.0, 1.0, 0.0]))
    array([ 0.125 ,  0.0625, -0.1875])
    """
    j = np.sum(probs * score, axis=-1, keepdims=True)
    return probs * (score - j)


def kl_gradient(probs: np.ndarray, logp: np.ndarray, base_logp: np.ndarray) -> np.ndarray:
    """∂KL(pi ‖ pi_base)/∂z_y = pi(y)·(log pi(y)/pi_base(y) − KL): [PG1] with s = log(pi/pi_base).

    >>> kl_gradient(np.array([0.5, 0.5]), np.log([0.5, 0.5]), np.log([0.5, 0.5]))
    array([0., 0.])
    """
    return policy_gradient(probs, logp - base_logp)


def sample_groups(probs: np.ndarray, group_size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw G trajectory indices per prompt from pi: (P, N) -> (P, G), one searchsorted call.

    Each row's CDF is shifted by its row number so all prompts share one sorted array.
    """
    n_prompts, n = probs.shape
    rows = np.arange(n_prompts)[:, None]
    cdf = np.cumsum(probs, axis=1)
    cdf = cdf / cdf[:, -1:]  # the last entry is exactly 1.0
    u = rng.random((n_prompts, group_size)) + rows
    idx = np.searchsorted((cdf + rows).ravel(), u.ravel(), side="right").reshape(u.shape)
    return np.minimum(idx - rows * n, n - 1)  # u + row may round up to row + 1


def group_advantage(rewards: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """[GRPO1] A_i = (r_i − mean r)/(std r + eps) within each group (rows); 0 if all r are equal.

    Shapes: (P, G) -> (P, G). std is the unbiased one (÷ G − 1), as in dsnb.rl.loss and TRL.

    >>> group_advantage(np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]), eps=0.0)
    array([[ 1.5, -0.5, -0.5, -0.5],
           [ 0. ,  0. ,  0. ,  0. ]])
    """
    g = rewards.shape[1]
    centred = rewards - rewards.sum(axis=1, keepdims=True) / g
    var = (centred * centred).sum(axis=1, keepdims=True) / (g - 1)
    same = var == 0  # all rewards equal (0/1 rewards: exact): no signal in this group
    return np.where(same, 0.0, centred / (np.sqrt(np.where(same, 1.0, var)) + eps))


def _with_kl(grad, probs, logp, base_logp, beta):
    """grad − beta·∇KL (skipped when beta = 0: the simulator's inner loop is hot)."""
    return grad - beta * kl_gradient(probs, logp, base_logp) if beta else grad


def expected_direction(logp, base_logp, correct, cfg: SimConfig, rng=None, counts=None) -> np.ndarray:
    """Ascent direction on the logits: [PG1] for r + shaping, minus beta·∇KL. (P, N) -> (P, N)."""
    probs = np.exp(logp)
    score = correct + SHAPING[cfg.method](logp, base_logp, correct, cfg)
    return _with_kl(policy_gradient(probs, score), probs, logp, base_logp, cfg.beta)


def sampled_direction(logp, base_logp, correct, cfg: SimConfig, rng=None, counts=None) -> np.ndarray:
    """GRPO estimate (1/G)·Σ_i A_i·∇log pi(y_i), with ∇_z log pi(y_i) = e_{y_i} − pi. (P, N).

    A_i is the group advantage [GRPO1] plus the method's shaping of the sampled y_i ([DS3] for
    DS): a trajectory that is never sampled gets no direct credit (selection bias).
    ``counts`` (P·N,) ints, if given, is incremented by how often each trajectory was sampled.
    """
    n_prompts, n = logp.shape
    probs = np.exp(logp)
    rows = np.arange(n_prompts)[:, None]
    idx = sample_groups(probs, cfg.group_size, rng)  # (P, G)
    adv = group_advantage(correct[rows, idx].astype(float), cfg.eps)  # (P, G)
    if cfg.method != "grpo":
        adv = adv + SHAPING[cfg.method](
            logp[rows, idx], base_logp[rows, idx], correct[rows, idx], cfg
        )  # only the sampled y_i need their shaping
    flat = (rows * n + idx).ravel()  # (P·G,) index into the flattened (P, N) table
    hits = np.bincount(flat, weights=adv.ravel(), minlength=n_prompts * n)
    if counts is not None:
        counts += np.bincount(flat, minlength=n_prompts * n)
    grad = (hits.reshape(n_prompts, n) - probs * adv.sum(axis=1, keepdims=True)) / cfg.group_size
    return _with_kl(grad, probs, logp, base_logp, cfg.beta)


DIRECTIONS = {"expected": expected_direction, "sampled": sampled_direction}
