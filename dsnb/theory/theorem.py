"""The verified form of the paper's Theorem 3.4: DS matches an entropy-regularised policy's
correctness and diversity at no more KL, when a non-negative correct-set boost does it.

Notebook 02 shows the construction and its counter-examples. Equations: docs/method.md section 4;
NOTATION.md tags [THM1], [ENT1], [DS2].

Why it works. Any policy's KL to pi_base splits into three parts: between the sets
(a Bernoulli KL of C against C_base), inside the correct set (weighted by C) and inside the
incorrect set (weighted by 1 − C); the forward KL splits the same way. Copy the entropy policy's
correctness and its shape on the correct set, and leave the incorrect set as pi_base has it:
two parts are equal and the third drops to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsnb.theory import metrics
from dsnb.theory.optima import kl_optimum
from dsnb.theory.space import as_space, check_positive, log_softmax


def _logsumexp(x: np.ndarray) -> float:
    m = x.max()
    return float(m + np.log(np.exp(x - m).sum()))


@dataclass
class TheoremCheck:
    """The [THM1] construction for one entropy policy, and how the two policies compare."""

    construction: str
    """"bonus" (g >= 0: same exponent e on the correct set, gamma_n = 0) or "penalty"
    (g < 0: exponent 1 on the correct set, e on the incorrect set, gamma_p = 0)."""
    exponent: float
    """e = beta/(beta + g), the entropy policy's power of pi_base on both sets [ENT1]."""
    boost: float
    """b, the DS correct-set log-boost (= 1/beta_ds) that matches the entropy policy's C."""
    holds: bool
    """b >= 0: the DS policy exists (beta_ds = 1/b > 0). The dominance needs it."""
    beta_ds: float
    """1/b (inf when b = 0, nan when the construction fails)."""
    gamma_p: float
    """beta_ds·(1 − e) for a bonus, 0 for a penalty."""
    gamma_n: float
    """0 for a bonus, beta_ds·(e − 1) for a penalty."""
    entropy_policy: np.ndarray
    """(N,) the [ENT1] optimum."""
    ds_policy: np.ndarray
    """(N,) the constructed DS policy, of the [DS2] form."""
    C: tuple
    """(entropy, DS) correctness [C1]."""
    H_c: tuple
    """(entropy, DS) entropy on the correct set [DIV1]."""
    kl: tuple
    """(entropy, DS) KL(pi ‖ pi_base) [KL1]."""
    kl_fwd: tuple
    """(entropy, DS) KL(pi_base ‖ pi) [KL2]."""


def theorem_construction(base_logp, correct, beta: float, entropy_coef: float) -> TheoremCheck:
    """[THM1] DS with exponent e = beta/(beta+g) on the correct set, gamma_n = 0, boost b matching
    C_ent, has KL ≤ KL_ent (both directions) and the same correctness and diversity.

    For a penalty (g < 0) copying the correct-set exponent would need gamma_p < 0, so the
    construction keeps pi_base's shape on the correct set (more diverse than the penalty's) and
    copies e on the incorrect set instead. In both cases b = logit(C_ent) − log Σ_correct w + log
    Σ_incorrect w (w the powered base), and the DS policy is valid only when b >= 0. What a
    learner gets wrong: this is not "DS always wins": a bonus g ≳ beta needs b < 0 and fails.

    >>> t = theorem_construction(np.log([0.4, 0.1, 0.3, 0.2]), [1, 1, 0, 0], beta=1.0,
    ...                          entropy_coef=0.5)
    >>> t.holds, abs(round(t.C[0] - t.C[1], 12)), bool(t.kl[1] < t.kl[0])
    (True, 0.0, True)
    """
    space = as_space(base_logp, correct)
    if not space.single:
        raise ValueError("the theorem is about one prompt: pass base_logp of shape (N,)")
    if space.correct.all():
        raise ValueError(
            "every trajectory is correct, so every policy has C = 1 and the "
            "comparison is empty; include at least one incorrect trajectory"
        )
    check_positive("beta", beta, "the theorem compares KL-regularised optima")
    ent = kl_optimum(space, None, beta, "entropy", entropy_coef=entropy_coef)  # (N,)
    logp, c = space.base_logp[0], space.correct[0]
    e = beta / (beta + entropy_coef)
    bonus = entropy_coef >= 0
    a_c, a_i = (e, 1.0) if bonus else (1.0, e)  # exponents on the correct / incorrect sets
    c_ent = float(metrics.correctness(ent, c))
    b = np.log(c_ent / (1.0 - c_ent)) - _logsumexp(a_c * logp[c]) + _logsumexp(a_i * logp[~c])
    ds = np.exp(log_softmax(np.where(c, a_c * logp + b, a_i * logp)))
    holds = bool(b >= 0)
    beta_ds = (np.inf if b == 0 else 1.0 / b) if holds else np.nan
    base = space.base_probs[0]

    def gamma(power_gap):  # gamma/beta_ds = |1 - exponent|; exactly 0 when the power is 1
        return 0.0 if power_gap == 0 else beta_ds * power_gap

    def both(fn, ref):
        return float(fn(ent, ref)), float(fn(ds, ref))

    return TheoremCheck(
        "bonus" if bonus else "penalty",
        e,
        float(b),
        holds,
        beta_ds,
        gamma(1.0 - a_c),
        gamma(a_i - 1.0),
        ent,
        ds,
        both(metrics.correctness, c),
        both(metrics.correct_entropy, c),
        both(metrics.kl_reverse, base),
        both(metrics.kl_forward, base),
    )
