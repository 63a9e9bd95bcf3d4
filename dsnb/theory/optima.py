"""Closed-form optima of the KL-regularised objectives: vanilla RL, entropy-regularised, DS.

Notebook 02 compares them; notebook 01 uses the vanilla one to show reinforcement bias.
Equations: docs/method.md sections 1, 3 and 4; NOTATION.md tags [RL1], [ENT1], [DS1], [DS2], [REI1].

All three have the same shape: the optimum of E_pi[s] + g·H(pi) − beta·KL(pi ‖ pi_base) for a
per-trajectory score s is pi ∝ exp((beta·log pi_base + s) / (beta + g)). The methods differ only
in s (the reward r, or the DS reward) and g (the entropy coefficient).
"""

from __future__ import annotations

import numpy as np

from dsnb.theory.space import as_space, check_nonnegative, check_positive, log_softmax

METHODS = ("vanilla", "entropy", "ds")


def ds_reward(base_logp, correct, gamma_p: float = 0.0, gamma_n: float = 0.0) -> np.ndarray:
    """[DS1] r_DS(y) = r − gamma_p·log pi_base(y) if correct; r + gamma_n·log pi_base(y) if not.

    Shapes: (N,) or (P, N) in and out. Since log pi_base < 0, a correct trajectory earns *more*
    the rarer it is (smoothing the correct set), and a wrong one loses more the rarer it is
    (sharpening the incorrect set). What a learner gets wrong: both terms touch only their own
    set, so correctness is not traded for diversity the way an entropy bonus trades it.

    >>> ds_reward(np.log([0.5, 0.25, 0.25]), [True, True, False], gamma_p=1.0, gamma_n=1.0).round(3)
    array([ 1.693,  2.386, -1.386])
    """
    space = as_space(base_logp, correct)
    check_nonnegative(
        "gamma_p", gamma_p, "a negative gamma_p sharpens the correct set, the opposite of smoothing"
    )
    check_nonnegative(
        "gamma_n", gamma_n, "a negative gamma_n flattens the incorrect set, moving mass onto errors"
    )
    return space.unbatch(ds_score(space.base_logp, space.correct, gamma_p, gamma_n))


def ds_score(logp_ref: np.ndarray, correct: np.ndarray, gamma_p: float, gamma_n: float):
    """The unchecked core of [DS1], with any reference log-prob (pi_base in theory, pi_old in
    practice). Shapes broadcast; no validation (callers validate once)."""
    return np.where(correct, 1.0 - gamma_p * logp_ref, gamma_n * logp_ref)


def _check_method_coefs(method: str, gamma_p: float, gamma_n: float, entropy_coef: float):
    """Refuse coefficients the chosen method would silently ignore."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {METHODS}")
    unused = {
        "vanilla": ("gamma_p", "gamma_n", "entropy_coef"),
        "entropy": ("gamma_p", "gamma_n"),
        "ds": ("entropy_coef",),
    }[method]
    given = {"gamma_p": gamma_p, "gamma_n": gamma_n, "entropy_coef": entropy_coef}
    for name in unused:
        if given[name] != 0:
            raise ValueError(
                f"method={method!r} ignores {name}={given[name]}: use "
                f"method={'ds' if name.startswith('gamma') else 'entropy'!r}"
            )


def kl_optimum(
    base_logp,
    correct,
    beta: float,
    method: str = "vanilla",
    gamma_p: float = 0.0,
    gamma_n: float = 0.0,
    entropy_coef: float = 0.0,
) -> np.ndarray:
    """[RL1] [ENT1] [DS2] the maximiser of E_pi[r_method] + g·H(pi) − beta·KL(pi ‖ pi_base).

    - "vanilla" [RL1]: pi ∝ pi_base · exp(r/beta).
    - "entropy" [ENT1]: pi ∝ pi_base^(beta/(beta+g)) · exp(r/(beta+g)), g = entropy_coef
      (g > 0 bonus, −beta < g < 0 penalty): the *same* power on correct and incorrect trajectories.
    - "ds" [DS2]: correct pi ∝ e^(1/beta)·pi_base^(1 − gamma_p/beta); incorrect pi ∝
      pi_base^(1 + gamma_n/beta): a different power on each set.

    Shapes: base_logp and correct (N,) or (P, N); returns probabilities of the same shape, each
    row summing to 1. What a learner gets wrong: vanilla RL keeps the *shape* of pi_base inside
    the correct set (it multiplies every correct trajectory by the same e^(1/beta)); the
    sharpening comes from the dynamics and from sampling, not from this optimum.

    >>> kl_optimum(np.log([0.5, 0.5]), [True, False], beta=1 / np.log(3)).round(3)
    array([0.75, 0.25])
    """
    space = as_space(base_logp, correct)
    check_positive(
        "beta",
        beta,
        "with no KL anchor (beta = 0) the optimum is any policy on the "
        "correct set, not a unique one; take beta small instead",
    )
    _check_method_coefs(method, gamma_p, gamma_n, entropy_coef)
    if not np.isfinite(entropy_coef) or beta + entropy_coef <= 0:
        raise ValueError(
            f"entropy_coef = {entropy_coef} must be > -beta = {-beta}: a penalty at "
            "least as strong as the KL makes the objective non-concave, and its "
            "maximiser is a single trajectory, not this formula"
        )
    ds_reward(space, None, gamma_p, gamma_n)  # validates the gammas
    logp = space.base_logp
    score = ds_score(logp, space.correct, gamma_p, gamma_n)  # r itself when both gammas are 0
    logits = (beta * logp + score) / (beta + entropy_coef)  # (P, N)
    return space.unbatch(np.exp(log_softmax(logits)))


def reinforcement_gain(base_logp, correct, beta: float) -> np.ndarray:
    """[REI1] pi*(y) − pi_base(y) = pi_base(y)·(e^(1/beta)/Z − 1) on the correct set.

    Z = C_base·e^(1/beta) + 1 − C_base normalises [RL1]. Every correct trajectory gets the same
    reward, yet its probability gain is *proportional to its base probability*: reinforcement
    bias. Shapes: (N,) or (P, N) in and out; incorrect entries hold their (negative) gain
    −pi_base(y)·(1 − 1/Z).

    >>> reinforcement_gain(np.log([0.5, 0.25, 0.25]), [True, True, False], beta=1.0).round(4)
    array([ 0.0938,  0.0469, -0.1408])
    """
    space = as_space(base_logp, correct)
    check_positive("beta", beta, "the gain is measured at the KL optimum, which needs beta > 0")
    base = space.base_probs
    c_base = np.sum(np.where(space.correct, base, 0.0), axis=1, keepdims=True)  # (P, 1)
    z = c_base * np.exp(1.0 / beta) + 1.0 - c_base
    gain = base * (np.where(space.correct, np.exp(1.0 / beta), 1.0) / z - 1.0)
    return space.unbatch(gain)
