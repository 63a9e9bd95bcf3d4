"""The correctness/diversity frontier at a KL budget kappa, for vanilla RL, entropy and DS.

Notebook 02's main plot. Equations: docs/method.md sections 3 and 4; [RL1], [ENT1], [DS2], [THM1].

Each family is a set of policies of one shape: pi ∝ pi_base^a·e^b on the correct set and
pi ∝ pi_base^c on the incorrect set. Entropy [ENT1]: a = c = e > 0, b >= 0. DS [DS2]: a <= 1
(gamma_p >= 0), c >= 1 (gamma_n >= 0), b = 1/beta >= 0. Vanilla [RL1]: a = c = 1. Diversity H_c
depends only on a; for fixed (a, c) the KL is a convex function of C (the three-part split of
``dsnb.theory.theorem``), so the most correct policy within the budget is one bisection away.
Sweeping a (and c) then traces each family's frontier exactly, in O(N) per grid point.
DS's a is swept over [0, 1]: a < 0 (gamma_p > beta) reverses pi_base's order on the correct set;
in a random check (300 spaces, 629 feasible points) it was never more correct at equal H_c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsnb.theory.space import as_space, check_positive, log_softmax

DIVERGENCES = ("reverse", "forward")


def _set_stats(logp_set: np.ndarray, exps: np.ndarray):
    """For pi_base restricted to one set, tempered by each exponent: (logZ, H, KL_rev, KL_fwd).

    logp_set (n,) global log pi_base of the set's members; exps (M,). logZ = log Σ pi_base^a.
    """
    w = exps[:, None] * logp_set[None, :]  # (M, n)
    top = w.max(axis=1, keepdims=True)
    e_w = np.exp(w - top)
    logz = top[:, 0] + np.log(e_w.sum(axis=1))  # (M,)
    logq = w - logz[:, None]  # tempered distribution on the set
    q = e_w / e_w.sum(axis=1, keepdims=True)
    logp = log_softmax(logp_set)  # pi_base renormalised on the set
    p = np.exp(logp)
    return (
        logz,
        -np.sum(q * logq, axis=1),
        np.sum(q * (logq - logp), axis=1),
        np.sum(p * (logp - logq), axis=1),
    )


def _bern_kl(x, y):
    """KL(Bernoulli(x) ‖ Bernoulli(y)), with 0·log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(x > 0, x * np.log(x / y), 0.0)
        t2 = np.where(x < 1, (1 - x) * np.log((1 - x) / (1 - y)), 0.0)
    return t1 + t2


def max_correctness(c_base, c_floor, k_corr, k_inc, kappa, divergence="reverse", iters=60):
    """Largest C >= c_floor with KL(C) <= kappa; KL = between + within-correct + within-incorrect.

    Reverse: KL(C) = kl(C‖C_base) + C·k_corr + (1 − C)·k_inc. Forward: kl(C_base‖C) + const.
    All arguments broadcast; returns nan where no C is feasible. Convex in C, so: check the
    constrained minimiser, then bisect to the right of it.
    """
    rev = divergence == "reverse"

    def kl(c):
        if rev:
            return _bern_kl(c, c_base) + c * k_corr + (1 - c) * k_inc
        return _bern_kl(c_base, c) + c_base * k_corr + (1 - c_base) * k_inc

    logit = np.log(c_base / (1 - c_base))
    c_min = 1 / (1 + np.exp(-(logit + k_inc - k_corr))) if rev else c_base
    lo = np.maximum(c_min, c_floor) + 0 * (k_corr + k_inc)  # broadcast to the full shape
    feasible = kl(lo) <= kappa
    hi = np.ones_like(lo)
    at_one = kl(np.ones_like(lo)) <= kappa  # reverse KL stays finite at C = 1
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        ok = kl(mid) <= kappa
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.where(feasible, np.where(at_one, 1.0, lo), np.nan)


@dataclass
class Frontier:
    """Best correctness reachable at each diversity level within KL <= kappa, per family."""

    kappa: float
    """The KL budget."""
    divergence: str
    """"reverse" KL(pi ‖ pi_base) [KL1] or "forward" KL(pi_base ‖ pi) [KL2]."""
    base: tuple
    """(H_c, C) of pi_base."""
    vanilla: tuple
    """(H_c, C) of the most correct vanilla policy [RL1] (= the entropy family at e = 1)."""
    ent_exponent: np.ndarray
    """(M,) exponent e of the entropy family (e < 1 bonus, e > 1 penalty)."""
    ent_H: np.ndarray
    """(M,) H_c of each entropy policy [DIV1]."""
    ent_C: np.ndarray
    """(M,) its best correctness within the budget (nan: no policy of that shape fits)."""
    ds_exponent: np.ndarray
    """(K,) exponent a = 1 − gamma_p/beta of the DS family on the correct set, in [0, 1]."""
    ds_H: np.ndarray
    """(K,) H_c of each DS shape."""
    ds_C: np.ndarray
    """(K,) its best correctness within the budget, maximised over the incorrect exponent c."""
    ds_dominates: np.ndarray
    """(M,) True where some DS policy within the budget has H_c and C >= the entropy point's
    (vacuously True where the entropy shape is infeasible)."""


def frontier(
    base_logp,
    correct,
    kappa: float,
    divergence: str = "reverse",
    n_grid: int = 201,
    max_exponent: float = 3.0,
    ds_incorrect=(1.0, 1.25, 1.5, 2.0, 3.0),
) -> Frontier:
    """[THM1] (frontier form) max C subject to KL <= kappa, per diversity level, per family.

    One prompt: base_logp, correct (N,). The grid has n_grid exponents in [0, 1] (shared by
    both families, so DS and entropy points with equal H_c line up exactly) plus entropy
    penalties up to ``max_exponent``. ``ds_incorrect`` are the values c = 1 + gamma_n/beta swept.
    What a learner gets wrong: DS cannot lower C below its b = 0 value on a flat correct set,
    so near the maximal diversity log K a strong entropy bonus can reach points DS cannot.

    >>> f = frontier(np.log([0.5, 0.3, 0.1, 0.1]), [1, 1, 0, 0], kappa=0.2, n_grid=11)
    >>> bool(f.vanilla[1] >= np.nanmax(f.ent_C) - 1e-9)  # vanilla is the most correct policy
    True
    """
    space = as_space(base_logp, correct)
    check_positive("kappa", kappa, "it is a KL budget; kappa = 0 allows only pi_base itself")
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence={divergence!r}: use one of {DIVERGENCES}")
    if not space.single or space.correct.all():
        raise ValueError(
            "the frontier is per prompt, with at least one incorrect trajectory: pass base_logp of shape (N,)"
        )
    logp, c = space.base_logp[0], space.correct[0]
    c_base = float(np.exp(logp[c]).sum())
    low = np.linspace(0.0, 1.0, n_grid)
    exps = np.concatenate([low, np.linspace(1.0, max_exponent, n_grid // 2 + 1)[1:]])
    z_c, h_c, kr_c, kf_c = _set_stats(logp[c], exps)
    z_i, _, kr_i, kf_i = _set_stats(logp[~c], exps)
    k_c, k_i = (kr_c, kr_i) if divergence == "reverse" else (kf_c, kf_i)
    floor = 1 / (1 + np.exp(z_i - z_c))  # C at boost b = 0: the family's least correct policy
    ent_c = max_correctness(c_base, floor, k_c, k_i, kappa, divergence)

    ds_c = _ds_best(logp[~c], c_base, z_c[:n_grid], k_c[:n_grid], ds_incorrect, kappa, divergence)
    ds_h = h_c[:n_grid]
    return Frontier(
        kappa,
        divergence,
        (float(ds_h[-1]), c_base),
        (float(ds_h[-1]), float(ent_c[n_grid - 1])),
        exps,
        h_c,
        ent_c,
        low,
        ds_h,
        ds_c,
        _dominates(h_c, ent_c, ds_h, ds_c),
    )


def _ds_best(logp_inc, c_base, z_c, k_c, c_grid, kappa, divergence):
    """(K,) DS's best C for each correct-set exponent a, maximised over incorrect exponents c.

    (c = 1, gamma_n = 0, always wins at a fixed budget: sharpening the incorrect set only adds
    KL. The sweep is kept so the frontier is "the best over the family", not an assumption.)
    """
    c_grid = np.asarray(c_grid, dtype=float)
    z_i, _, kr_i, kf_i = _set_stats(logp_inc, c_grid)
    k_i = kr_i if divergence == "reverse" else kf_i
    floor = 1 / (1 + np.exp(z_i[None, :] - z_c[:, None]))  # (K, len(c_grid)): C at b = 0
    best = max_correctness(c_base, floor, k_c[:, None], k_i[None, :], kappa, divergence)
    best = np.max(np.nan_to_num(best, nan=-np.inf), axis=1)
    return np.where(np.isfinite(best), best, np.nan)


def _dominates(ent_h, ent_c, ds_h, ds_c):
    """(M,) is some DS point at least as diverse (H_c >=) and as correct (C >=) as each entropy
    point? ds_h falls as a rises, so the best C among a' <= a is a running max."""
    best = np.fmax.accumulate(ds_c)  # (K,) best DS C among shapes at least this diverse
    k = np.searchsorted(-np.minimum.accumulate(ds_h), -ent_h + 1e-12, side="right") - 1
    ds_best = np.where(k >= 0, best[np.maximum(k, 0)], np.nan)
    return ~np.isfinite(ent_c) | (np.nan_to_num(ds_best, nan=-np.inf) >= ent_c - 1e-9)
