"""Checkers for notebooks 01 (why RL sharpens) and 02 (entropy bonus vs penalty vs DS).

Each compares the student's answer with ``dsnb.theory`` (imported inside the checker, so
``import dsnb.exercises`` stays instant) on fixed and random toy spaces.
"""

from __future__ import annotations

import numpy as np

from dsnb.exercises.core import (
    WORD,
    as_array,
    call,
    close,
    diagnose,
    dict_answer,
    exercise,
    not_yet,
    right,
    sign_of,
    true_sign,
    wrong,
)


def _random_policy(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(probs (N,), correct (N,) bool with at least one correct and one incorrect)."""
    probs = rng.dirichlet(np.full(n, 0.5))
    correct = rng.random(n) < 0.4
    correct[0], correct[-1] = True, False
    return probs, correct


def _short(x) -> str:
    """An input or output as a student reads it: 3 decimals, long arrays elided."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = float(x)
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=3, threshold=10, edgeitems=3, separator=", ")
    return f"{x:.3g}" if isinstance(x, float) else repr(x)


def _compare(student, reference, cases, mistakes, generic: str, rtol=1e-6, atol=1e-9):
    """Run the student's function on every case (a tuple of arguments) against the reference."""
    for args in cases:
        expected = np.asarray(reference(*args), dtype=float)
        copies = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
        out = as_array(call(student, *copies), expected.shape)
        if not close(out, expected, rtol, atol):
            shown = ", ".join(_short(a) for a in args)
            found = _short(out)
            hint = diagnose(out, mistakes, *args) or generic
            wrong(f"on the input ({shown}) your function gave {found}, which is not right.", hint)
    right(f"matches the library on all {len(cases)} cases, random ones included.")


# ---- notebook 01 -----------------------------------------------------------------------------


SH1_PROBS = np.array([0.3, 0.1, 0.3, 0.1, 0.2])
SH1_CORRECT = np.array([True, True, False, False, False])


@exercise("01.1", "[SH1] predict the sign: which log-ratio grows", "value")
def _check_sharpening_sign(answer, rng):
    from dsnb.theory import sharpening_rate

    answer = dict_answer(answer, ("correct", "incorrect"))
    truth = {
        "correct": true_sign(sharpening_rate(SH1_PROBS, SH1_CORRECT, 0, 1, lr=0.5)),
        "incorrect": true_sign(sharpening_rate(SH1_PROBS, SH1_CORRECT, 2, 3, lr=0.5)),
    }
    bad = [k for k in truth if sign_of(answer[k], k) != truth[k]]
    if bad:
        wrong(
            f"not right for: {', '.join(bad)}.",
            "[SH1]: each logit moves by lr·pi(y)·(r(y) − J). Here J = 0.4; for each pair, "
            "compare the two moves (the likelier one moves by three times as much).",
        )
    right("the correct set sharpens, the incorrect set flattens.")


@exercise("01.2", "[SH1] the change of a log-ratio after one step", "function")
def _check_log_ratio_change(student, rng):
    from dsnb.theory import sharpening_rate

    probs, correct = np.array([0.4, 0.2, 0.4]), np.array([True, True, False])
    cases = [(probs, correct, i, j, 1.0) for i, j in ((0, 1), (0, 2), (2, 0))]
    for _ in range(4):
        probs, correct = _random_policy(rng, int(rng.integers(4, 30)))
        i, j = rng.choice(probs.size, size=2, replace=False)
        cases.append((probs, correct, int(i), int(j), float(rng.uniform(0.05, 2.0))))

    def j_of(p, c):
        return float(np.sum(p * c))

    mistakes = [
        (
            lambda p, c, i, j, lr: lr * (1 - j_of(p, c)) * (p[i] - p[j]),
            "lr·(1 − J)(pi_i − pi_j) holds only when both are correct. In general: from [PG1] each "
            "logit moves by lr·pi(y)·(r(y) − J), and log(pi_i/pi_j) = z_i − z_j.",
        ),
        (
            lambda p, c, i, j, lr: -lr * j_of(p, c) * (p[i] - p[j]),
            "−lr·J(pi_i − pi_j) holds only when both are incorrect. In general: from [PG1] each "
            "logit moves by lr·pi(y)·(r(y) − J), and log(pi_i/pi_j) = z_i − z_j.",
        ),
        (lambda p, c, i, j, lr: lr * (p[i] * c[i] - p[j] * c[j]), "the baseline J is missing from r(y) − J."),
        (
            lambda p, c, i, j, lr: lr * (p[j] * (c[j] - j_of(p, c)) - p[i] * (c[i] - j_of(p, c))),
            "i and j are swapped: the log-ratio is log(pi_i/pi_j) = z_i − z_j.",
        ),
    ]
    generic = "one step moves each logit by lr·∂J/∂z_y [PG1]; the log-ratio changes by Δz_i − Δz_j."
    _compare(student, sharpening_rate, cases, mistakes, generic)


@exercise("01.3", "[SEL1] the chance that a trajectory is credited", "function")
def _check_credit(student, rng):
    from dsnb.theory import credit_probability

    cases = [(np.array([0.5, 0.01, 0.9]), 4)]
    cases += [(rng.dirichlet(np.full(8, 0.3)), int(g)) for g in rng.integers(2, 65, size=3)]
    mistakes = [
        (
            lambda p, g: g * p,
            "G·pi is the rare-answer approximation; it exceeds 1 once pi > 1/G. Count the chance "
            "of *no* hit in G independent draws, then take the complement.",
        ),
        (lambda p, g: (1 - p) ** g, "that is the chance y is *never* sampled: take its complement."),
        (lambda p, g: p**g, "p^G is the chance that *all* G samples are y; you want at least one."),
        (lambda p, g: 1 - p**g, "1 − p^G is 'not all G are y'; you want 'at least one is y'."),
    ]
    generic = "it is a probability: between 0 and 1, rising with both pi and G."
    _compare(student, credit_probability, cases, mistakes, generic)


@exercise("01.4", "read the pass@k crossover off the plot", "value", needs=("cross",))
def _check_crossover(answer, rng, cross):
    if "grpo" not in getattr(cross, "curves", {}):
        not_yet(
            "pass the crossover experiment of section 7 (`cross`), run as the notebook has it (with 'grpo')."
        )
    ks, base, grpo = np.asarray(cross.ks), np.asarray(cross.base), cross.mean("grpo")
    below = np.flatnonzero(grpo < base - 1e-9)
    if below.size == 0:
        if str(answer).strip().lower() == "never":
            right("in this run GRPO never falls below the base model.")
        wrong(
            "GRPO is above the base model at the k you gave.", "does the GRPO curve ever go under the base?"
        )
    k_hi = int(ks[below[0]])
    k_lo = int(ks[below[0] - 1]) if below[0] > 0 else 1
    if str(answer).strip().lower() == "never":
        wrong("the GRPO curve does go below the base curve somewhere.", "look at large k.")
    try:
        k = float(answer)
    except (TypeError, ValueError):
        wrong(f"{answer!r} is not a number.", "answer with the k where GRPO first drops below the base.")
    if k_lo <= k <= k_hi:
        right(f"GRPO drops below the base model between k = {k_lo} and k = {k_hi}.")
    side = "still at or above" if k < k_lo else "already below"
    where = "right" if k < k_lo else "left"
    wrong(
        f"at k = {k:g} GRPO is {side} the base model.",
        f"look further to the {where} on the (log-scale) k axis, where the two lines cross.",
    )


# ---- notebook 02 -----------------------------------------------------------------------------


def _random_space(rng, n: int):
    """(base_logp normalised (N,), correct (N,) bool)."""
    probs, correct = _random_policy(rng, n)
    probs = np.clip(probs, 1e-6, None)
    return np.log(probs / probs.sum()), correct


def _normalised(logits: np.ndarray) -> np.ndarray:
    w = np.exp(logits - logits.max())
    return w / w.sum()


@exercise("02.1", "[ENT1] the entropy-regularised optimum", "function")
def _check_entropy_optimum(student, rng):
    from dsnb.theory import kl_optimum

    def reference(logp, correct, beta, g):
        return kl_optimum(logp, correct, beta, "entropy", entropy_coef=g)

    logp = np.log([0.30, 0.10, 0.05, 0.25, 0.20, 0.10])
    correct = np.array([True, True, True, False, False, False])
    cases = [(logp, correct, 1.0, 0.5), (logp, correct, 1.0, -0.5)]
    for _ in range(4):
        beta = float(rng.uniform(0.2, 2.0))
        g = float(rng.uniform(-0.8, 2.0) * beta)
        cases.append((*_random_space(rng, int(rng.integers(3, 30))), beta, g))

    def r(c):
        return c.astype(float)

    mistakes = [
        (
            lambda lp, c, b, g: np.exp(b / (b + g) * lp + r(c) / (b + g)),
            "your probabilities do not sum to 1: normalise (divide by the sum).",
        ),
        (
            lambda lp, c, b, g: _normalised((b + g) / b * lp + r(c) / (b + g)),
            "the power on pi_base is upside down: a bonus (g > 0) must *flatten*, power < 1.",
        ),
        (
            lambda lp, c, b, g: _normalised(b / (b + g) * lp + r(c) / b),
            "the reward's term is divided by beta + g as well, not by beta alone.",
        ),
        (
            lambda lp, c, b, g: _normalised(b / (b - g) * lp + r(c) / (b - g)),
            "the sign of g: the objective is E[r] + g·H − beta·KL, so g adds to beta.",
        ),
        (lambda lp, c, b, g: _normalised(lp + r(c) / b), "this is the vanilla optimum [RL1]: g is ignored."),
    ]
    generic = (
        "check term by term against [ENT1] (section 1): the power on pi_base, what the reward is "
        "divided by, and the normalisation."
    )
    _compare(student, reference, cases, mistakes, generic)


@exercise("02.2", "[DS2] the differential-smoothing optimum", "function")
def _check_ds_optimum(student, rng):
    from dsnb.theory import kl_optimum

    def reference(logp, correct, beta, gamma_p, gamma_n):
        return kl_optimum(logp, correct, beta, "ds", gamma_p=gamma_p, gamma_n=gamma_n)

    logp = np.log([0.30, 0.10, 0.05, 0.25, 0.20, 0.10])
    correct = np.array([True, True, True, False, False, False])
    cases = [(logp, correct, 1.0, 0.5, 0.5), (logp, correct, 1.0, 0.3, 0.0)]
    for _ in range(4):
        beta = float(rng.uniform(0.3, 2.0))
        gp, gn = rng.uniform(0.05, 0.9, size=2) * beta
        cases.append((*_random_space(rng, int(rng.integers(3, 30))), beta, float(gp), float(gn)))

    def ds(lp, c, b, gp, gn, sp=-1.0, sn=1.0, boost=True):
        logits = np.where(c, (1 + sp * gp / b) * lp + (1 / b if boost else 0.0), (1 + sn * gn / b) * lp)
        return _normalised(logits)

    mistakes = [
        (lambda *a: ds(*a, sn=-1.0), "the sign on the incorrect set: it is pi_base^(1 + gamma_n/beta)."),
        (lambda *a: ds(*a, sp=1.0), "the sign on the correct set: it is pi_base^(1 − gamma_p/beta)."),
        (lambda *a: ds(*a, boost=False), "the correct set also gets the reward's factor e^(1/beta)."),
        (
            lambda lp, c, b, gp, gn: ds(lp, c, b, gn, gp),
            "gamma_p and gamma_n are swapped: gamma_p acts on the correct set.",
        ),
    ]
    generic = (
        "check each set against [DS2] (section 1): the power of pi_base on the correct and on the "
        "incorrect set, the factor e^(1/beta), and one normalisation over both sets together."
    )
    _compare(student, reference, cases, mistakes, generic)


def _app_optimum(method: str, **coefs):
    """(C, H_c) of a closed form on the space of notebook 02's slider app (its defaults)."""
    from dsnb.theory import correct_entropy, correctness, kl_optimum, zipf_space

    logp, correct = zipf_space(1000, 20, 1.0)
    p = kl_optimum(logp, correct, 0.5, method, **coefs)
    return float(correctness(p, correct)), float(correct_entropy(p, correct))


def _check_two_signs(answer, before, after, hint: str):
    answer = dict_answer(answer, ("C", "H_c"))
    truth = {key: true_sign(b - a) for key, a, b in zip(("C", "H_c"), before, after)}
    bad = [k for k in truth if sign_of(answer[k], k) != truth[k]]
    if bad:
        wrong(f"not right for: {', '.join(bad)}.", hint)
    said = ", ".join(f"{k} {WORD[v]}" for k, v in truth.items())
    right(f"{said}. Now move the slider and watch the status line confirm it.")


@exercise("02.3", "predict: raise gamma_n in the app", "value")
def _check_gamma_n_sign(answer, rng):
    before = _app_optimum("ds", gamma_p=0.2, gamma_n=0.0)
    after = _app_optimum("ds", gamma_p=0.2, gamma_n=0.5)
    hint = (
        "[DS2]: which set's power does gamma_n change? H_c looks only at the shape of pi "
        "*inside* the correct set."
    )
    _check_two_signs(answer, before, after, hint)


@exercise("02.4", "predict: turn the entropy bonus into a penalty", "value")
def _check_bonus_to_penalty(answer, rng):
    before = _app_optimum("entropy", entropy_coef=0.2)
    after = _app_optimum("entropy", entropy_coef=-0.2)
    hint = (
        "[ENT1]: the power beta/(beta + g) on pi_base goes from below 1 to above 1, and the "
        "boost e^(r/(beta + g)) of correct answers changes as well."
    )
    _check_two_signs(answer, before, after, hint)
