"""Shared strategies across prompts: the pass@k crossover of notebook 01, and DS against it.

One prompt alone cannot show the crossover: its pass@k = 1 − (1 − C)^k [PK0] only grows with C.
Across prompts it can. Here every prompt is solved by a few *strategies* (think: "set up an
equation", "work backwards", "guess and check"), the policy's logit for a strategy is shared by
all prompts, and whether a strategy works depends on the prompt. GRPO pushes up the strategy
that works most often, and the prompts only a rarer strategy solves are gradually forgotten:
pass@1 rises while pass@k at large k falls below the base model's.
Equations: docs/method.md section 2 (consequence) and [PK0]; the runs use ``simulate(strategies=)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsnb.theory.metrics import exact_pass_at_k
from dsnb.theory.simulate import simulate
from dsnb.theory.space import log_softmax


@dataclass
class SharedSpace:
    """P prompts, each with one trajectory per strategy; the strategy logits are shared."""

    base_logp: np.ndarray
    """(P, S) log pi_base(strategy s | prompt x)."""
    correct: np.ndarray
    """(P, S) True where strategy s solves prompt x."""
    strategies: np.ndarray
    """(P, S) the strategy id of each trajectory (here simply s), for ``simulate``."""


def shared_strategy_space(
    n_prompts: int = 64,
    competence=(0.8, 0.5, 0.5, 0.5, 0.5, 0.5),
    n_wrong: int = 10,
    prior_decay: float = 0.5,
    noise: float = 0.5,
    seed: int = 0,
) -> SharedSpace:
    """A random shared-strategy world. Strategy s solves each prompt with probability
    competence[s]; the base prefers low s (log prior −prior_decay·s) with per-prompt noise.
    ``n_wrong`` more strategies never work (a long tail of errors, each as likely as the rarest
    working strategy): they are where an entropy bonus puts mass and DS does not.

    Prompts no strategy solves are redrawn (they carry no signal). The default makes strategy 0
    both the base model's favourite and the most often right: exactly the one GRPO sharpens onto.

    >>> w = shared_strategy_space(n_prompts=5, seed=1)
    >>> w.base_logp.shape, bool(w.correct.any(axis=1).all()), bool(w.correct[:, 6:].any())
    ((5, 16), True, False)
    """
    comp = np.asarray(competence, dtype=float)
    if comp.ndim != 1 or comp.size < 2 or np.any((comp <= 0) | (comp > 1)):
        raise ValueError("competence needs one probability in (0, 1] per strategy, at least two")
    rng = np.random.default_rng(seed)
    if n_wrong < 0:
        raise ValueError(f"n_wrong = {n_wrong} must be >= 0")
    comp = np.concatenate([comp, np.zeros(n_wrong)])
    n_strat = comp.size
    correct = rng.random((n_prompts, n_strat)) < comp
    while not correct.any(axis=1).all():
        bad = ~correct.any(axis=1)
        correct[bad] = rng.random((int(bad.sum()), n_strat)) < comp
    prior = -prior_decay * np.minimum(np.arange(n_strat), comp.size - n_wrong - 1)
    logits = prior + noise * rng.normal(size=(n_prompts, n_strat))
    strategies = np.broadcast_to(np.arange(n_strat), (n_prompts, n_strat)).copy()
    return SharedSpace(log_softmax(logits), correct, strategies)


@dataclass
class CrossoverResult:
    """pass@k curves of the base model and of each trained method, over several seeds."""

    ks: np.ndarray
    """(K,) the k values."""
    base: np.ndarray
    """(K,) pass@k of pi_base [PK0]."""
    curves: dict
    """label -> (n_seeds, K) pass@k of the trained policy, one row per seed."""
    final_C: dict
    """label -> (n_seeds,) mean correctness after training."""

    def mean(self, label: str) -> np.ndarray:
        """(K,) mean over seeds."""
        return self.curves[label].mean(axis=0)

    def spread(self, label: str) -> np.ndarray:
        """(K,) standard deviation over seeds."""
        return self.curves[label].std(axis=0)

    def gap(self, label: str, k: int) -> float:
        """Mean pass@k minus the base model's at one k (negative: below base)."""
        i = int(np.flatnonzero(self.ks == k)[0])
        return float(self.mean(label)[i] - self.base[i])


def crossover_experiment(
    world: SharedSpace,
    runs: dict,
    steps: int,
    group_size: int,
    lr: float,
    seeds=(0, 1, 2),
    ks=(1, 2, 4, 8, 16, 32, 64, 128, 256),
) -> CrossoverResult:
    """Train each run with the same budget (steps, G, lr) and seeds; pass@k [PK0] per seed.

    runs: label -> dict(method=..., **coefs), e.g. {"grpo": {"method": "grpo"},
    "ds γp=0.5": {"method": "ds", "gamma_p": 0.5}}. Sampled mode, shared strategies.

    >>> w = shared_strategy_space(n_prompts=8, seed=0)
    >>> r = crossover_experiment(w, {"grpo": {"method": "grpo"}}, steps=5, group_size=4, lr=0.5,
    ...                          seeds=(0, 1), ks=(1, 64))
    >>> r.curves["grpo"].shape
    (2, 2)
    """
    ks = np.asarray(ks)
    curves, final_c = {}, {}
    for label, spec in runs.items():
        spec = dict(spec)
        method = spec.pop("method")
        hists = [
            simulate(
                world.base_logp,
                world.correct,
                method,
                steps,
                group_size,
                lr,
                seed,
                strategies=world.strategies,
                record_every=max(steps, 1),
                **spec,
            )
            for seed in seeds
        ]
        curves[label] = np.stack([h.pass_at_k(ks) for h in hists])
        final_c[label] = np.array([h.C[-1] for h in hists])
    base = exact_pass_at_k(np.exp(world.base_logp), world.correct, ks)
    return CrossoverResult(ks, base, curves, final_c)
