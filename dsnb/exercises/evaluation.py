"""Checkers for notebook 05 (evaluate: pass@k and diversity), against ``dsnb.metrics``."""

from __future__ import annotations

import math

import numpy as np

from dsnb.exercises.core import as_array, call, close, dict_answer, exercise, right, sign_of, true_sign, wrong

_PK_MISTAKES = {
    "biased": "that is 1 − (1 − c/n)^k, which draws the k samples *with* replacement and is biased "
    "low. Draw k of your n samples *without* replacement: how many of the k-subsets hold no correct one?",
    "complement": "C(n − c, k)/C(n, k) is the chance that all k drawn samples are *wrong*: take 1 minus it.",
    "linear": "k·c/n is the rare-answer approximation, and it can exceed 1.",
}


def _pk_mistakes(n: int, c: int, k: int) -> dict[str, float]:
    return {
        "biased": 1 - (1 - c / n) ** k,
        "complement": math.comb(n - c, k) / math.comb(n, k),
        "linear": k * c / n,
    }


@exercise("05.1", "[PK1] the unbiased pass@k estimator", "function")
def _check_pass_at_k(student, rng):
    from dsnb.metrics import pass_at_k

    cases = [(4, 1, 2), (4, 3, 2), (10, 0, 5), (10, 10, 1), (64, 5, 8), (64, 62, 3)]
    for _ in range(6):
        n = int(rng.integers(1, 100))
        cases.append((n, int(rng.integers(0, n + 1)), int(rng.integers(1, n + 1))))
    for n, c, k in cases:
        expected = pass_at_k(n, c, k)
        out = as_array(call(student, n, c, k), ())
        if not close(out, expected, rtol=1e-9, atol=1e-12):
            guesses = _pk_mistakes(n, c, k)
            hint = next((_PK_MISTAKES[m] for m, g in guesses.items() if close(out, g, 1e-9, 1e-12)), "")
            wrong(
                f"pass@{k} with n = {n}, c = {c}: your function gave {float(out):.6g}, which is not right.",
                hint
                or "pass@k is the chance that k of the n samples, drawn without replacement, "
                "contain at least one correct one.",
            )
    right(f"matches dsnb.metrics.pass_at_k on all {len(cases)} cases, edge cases included.")


@exercise("05.2", "[PK1] a pass@k curve over many problems", "function")
def _check_pass_at_k_curve(student, rng):
    from dsnb.metrics import pass_at_k, pass_at_k_curve

    # half the problems always solved, half never: pass@1 = 0.5 but pass@k stays 0.5 for every k
    cases = [(np.full(4, 8), np.array([8, 8, 0, 0]), [1, 2, 8])]
    for _ in range(3):
        n = np.full(int(rng.integers(2, 12)), int(rng.integers(8, 65)))
        c = rng.binomial(n, rng.beta(0.4, 0.6, size=n.size))
        cases.append((n, c, sorted({1, *rng.integers(1, n[0] + 1, size=4).tolist()})))
    for n, c, ks in cases:
        expected = pass_at_k_curve(n, c, ks)
        out = as_array(call(student, n.copy(), c.copy(), list(ks)), expected.shape)
        if not close(out, expected, rtol=1e-9, atol=1e-12):
            p1 = np.mean(c / n)
            pooled = np.array([1 - (1 - p1) ** k for k in ks])
            median = np.array([np.median(pass_at_k(n, c, k)) for k in ks])
            hint = (
                "you turned the *average* pass@1 into pass@k as if every problem had it. A problem "
                "solved always and one solved never average to pass@1 = 0.5, but pass@k stays 0.5: "
                "compute pass@k per problem, then average."
                if close(out, pooled, 1e-6, 1e-9)
                else "the median is not the mean: average pass@k over problems."
                if close(out, median, 1e-9, 1e-12)
                else "for each k: pass@k [PK1] of every problem, then the mean over problems."
            )
            wrong(
                f"on n = {n.tolist()}, c = {c.tolist()}, ks = {list(ks)} "
                f"your curve is {out.round(4).tolist()}.",
                hint,
            )
    right(f"matches dsnb.metrics.pass_at_k_curve on all {len(cases)} cases.")


def _expected_estimate(estimator, n: int, p: float, k: int) -> float:
    """E over c ~ Binomial(n, p) of an estimator(n, c, k): exact, by summing the pmf."""
    return sum(math.comb(n, c) * p**c * (1 - p) ** (n - c) * estimator(n, c, k) for c in range(n + 1))


@exercise("05.3", "predict: double the number of samples n", "value")
def _check_more_samples(answer, rng):
    from dsnb.metrics import pass_at_k

    answer = dict_answer(answer, ("unbiased", "biased"))

    def biased(n, c, k):
        return 1 - (1 - c / n) ** k

    p, k = 0.1, 8  # one problem whose true pass@1 is 0.1
    truth = {
        name: true_sign(_expected_estimate(est, 32, p, k) - _expected_estimate(est, 16, p, k))
        for name, est in (("unbiased", pass_at_k), ("biased", biased))
    }
    bad = [key for key in truth if sign_of(answer[key], key) != truth[key]]
    if bad:
        wrong(
            f"not right for: {', '.join(bad)}.",
            "'unbiased' means: averaged over many draws of the n samples, the estimate equals the "
            "true pass@k. Is 1 − (1 − c/n)^k unbiased (section 'pass@k without bias')? If not, "
            "on which side is it, and does its error depend on n?",
        )
    right("the unbiased estimate is on target at every n; the biased one creeps up towards it.")
