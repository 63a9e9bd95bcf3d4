"""Evaluation and training metrics: unbiased pass@k, per-prompt diversity, group diagnostics.

numpy only (no torch), so notebooks can analyse saved samples without the training stack.
Used by the evaluator, the trainer's logging and notebooks 03-05. Formulas: docs/method.md section 8
and [PK1] (Chen et al. 2021). Every logged key is defined once, in :data:`GLOSSARY`.

A *record* is one prompt's samples, a dict with
    "correct":      list of bool, one per sample (reward == 1, not the 0.1 format score);
    "solutions":    list of canonical solution strings or None (e.g. a normalised expression);
    "answers":      optional list of final answers (str or None) for the answer histogram;
    "solution_set": optional set of all canonical correct solutions (from an exact solver).
Solutions must already be canonical (dsnb.tasks does this for Countdown), so that "a+b" and
"b+a" count once.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

GLOSSARY = {
    "pass@k/<k>": "[PK1] unbiased pass@k from n samples with c correct, mean over prompts",
    "div/distinct_correct": "distinct canonical correct solutions among one prompt's samples (a "
    "training group of G, or the n evaluation samples), mean over prompts",
    "div/distinct_answers": "distinct final answers (None excluded) among one prompt's samples, "
    "mean over prompts",
    "div/answer_entropy": "entropy (nats) of one prompt's final-answer histogram (None excluded), "
    "mean over prompts",
    "div/coverage": "fraction of the solver's set of correct solutions that one prompt's samples "
    "found, mean over prompts with a non-empty set",
    "div/<name>/base": "the same metric for the base model on the same prompts",
    "div/<name>/delta": "metric minus the base model's (> 0: more diverse than the base)",
    "div/<name>/ratio": "metric divided by the base model's (nan if the base is 0)",
    "reward/frac_zero_std": "fraction of training groups whose G rewards are all equal (zero "
    "advantage, no GRPO signal)",
    "loss/policy": "[PPO1] clipped surrogate aggregated with [AGG1]",
    "loss/kl": "[KL3] k3 aggregated with [AGG1] (before multiplying by beta); only when beta > 0",
    "loss/total": "the loss that is backpropagated: policy + beta·kl − entropy_coef·entropy; "
    "near zero by construction (advantages are centred): NOT a progress signal",
    "kl": "[KL3] masked token mean of k3 to the reference (whenever reference log-probs exist)",
    "entropy/token_mean": "[ENT2] masked token mean of the policy's token entropy (nats)",
    "clip/frac": "fraction of completion tokens whose ratio was clipped (no gradient from them)",
    "clipcov/frac": "[COV1] fraction of completion tokens Clip-Cov muted (no loss, no gradient from them)",
    # written by the trainer (dsnb.rl.trainer) for every step
    "step": "number of finished optimizer steps (the row describes the step that just ran)",
    "reward/mean": "mean task reward over the N = B*G completions of the step",
    "reward/std": "std of the task reward over the step's completions",
    "correct/mean": "fraction of completions that are correct (binary reward == 1): pass@1 on train prompts",
    "adv/mean_abs": "mean |advantage| after DS shaping",
    "completion/len_mean": "mean completion length in tokens (eos included)",
    "ds/gamma_p": "gamma_p in force at this step",
    "ds/gamma_n": "gamma_n in force at this step",
    "entropy_coef": "entropy coefficient in force",
    "lr": "learning rate in force",
    "time/step_s": "wall-clock seconds for the step",
    "skipped": "1 when no update was made: a non-finite loss, or fp16 gradients that overflowed",
    "amp/loss_scale": "fp16 runs only: the GradScaler's loss scale used this step (halves on overflow)",
}


MULTIPLICITY_BUCKETS = (("1", 1, 1), ("2-3", 2, 3), ("4+", 4, math.inf))
"""(name, fewest, most) distinct solutions a problem has, by the exact solver: the multiplicity dial."""


def multiplicity_bucket(m: int) -> str | None:
    """The bucket of a problem with `m` distinct solutions (None when unknown, m = 0).

    >>> [multiplicity_bucket(m) for m in (0, 1, 2, 3, 4, 17)]
    [None, '1', '2-3', '2-3', '4+', '4+']
    """
    for name, lo, hi in MULTIPLICITY_BUCKETS:
        if lo <= m <= hi:
            return name
    return None


def describe(key: str) -> str:
    """The GLOSSARY entry for a concrete key: "pass@k/8" -> the "pass@k/<k>" line.

    >>> describe("div/coverage/delta")
    "metric minus the base model's (> 0: more diverse than the base)"
    """
    for pattern, text in GLOSSARY.items():
        regex = re.escape(pattern).replace("<k>", r"\d+").replace("<name>", r"[a-z_]+")
        if re.fullmatch(regex, key):
            return text
    raise KeyError(f"{key!r} is not defined in dsnb.metrics.GLOSSARY; add it there once")


def _check_counts(n: np.ndarray, c: np.ndarray, k: int) -> None:
    if np.any(c < 0) or np.any(c > n):
        raise ValueError("need 0 <= c <= n: c counts the correct ones among n samples")
    if k < 1 or np.any(k > n):
        raise ValueError(
            f"pass@{k} needs 1 <= k <= n for every prompt (you cannot estimate "
            f"pass@{k} from fewer than {k} samples); smallest n is {n.min()}"
        )


def pass_at_k(n, c, k: int):
    """[PK1] pass@k = 1 − C(n − c, k)/C(n, k) = 1 − Π_{i=n−c+1}^{n} (1 − k/i).

    Shapes: n, c scalars or arrays of per-prompt sample and correct counts (broadcast) ->
    float for scalars, else an array of the same shape. k is an int, 1 <= k <= n.

    What a learner gets wrong: 1 − (1 − c/n)^k is *biased* (it samples with replacement);
    this estimator draws k of the n samples without replacement. The product form never builds
    huge binomials; it is exactly 1 when n − c < k (every k-subset holds a correct sample).

    >>> pass_at_k(4, 1, 2), pass_at_k(4, 3, 2), pass_at_k(np.array([8, 8]), np.array([0, 8]), 3)
    (0.5, 1.0, array([0., 1.]))
    """
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    if n_arr.size == 0:
        return np.zeros(n_arr.shape)
    _check_counts(n_arr, c_arr, k)
    i = np.arange(1, n_arr.max() + 1)  # (M,) candidate factor indices
    n_, c_ = n_arr.reshape(-1, 1), c_arr.reshape(-1, 1)  # (P, 1), P prompts
    in_range = (i > n_ - c_) & (i <= n_)  # (P, M): i runs over n − c + 1 .. n
    factors = np.where(in_range & (i > k), 1.0 - k / i, 1.0)  # i <= k only when n − c < k
    p = 1.0 - factors.prod(axis=1)  # (P,)
    p = np.where((n_ - c_).ravel() < k, 1.0, p).reshape(n_arr.shape)
    return float(p) if p.ndim == 0 else p


def pass_at_k_curve(n, c, ks=None) -> np.ndarray:
    """[PK1] averaged over prompts, for each k in ks (default 1..min(n)).

    Shapes: n, c (P,) or scalars -> (len(ks),). Compare curves against the base model's: RL
    usually lifts k = 1 and can drop below the base at large k (sharpening).

    >>> pass_at_k_curve([2, 2], [1, 0])
    array([0.25, 0.5 ])
    """
    n_arr = np.atleast_1d(np.asarray(n))
    ks = range(1, int(n_arr.min()) + 1) if ks is None else ks
    return np.array([np.mean(pass_at_k(n, c, int(k))) for k in ks])


def pass_at_k_summary(n, c, ks=(1, 2, 4, 8, 16)) -> dict[str, float]:
    """{"pass@k/<k>": mean [PK1]} for the ks that the smallest n allows.

    >>> pass_at_k_summary([4, 4], [1, 4], ks=(1, 2, 8))
    {'pass@k/1': 0.625, 'pass@k/2': 0.75}
    """
    n_min = int(np.min(n))
    return {f"pass@k/{k}": float(np.mean(pass_at_k(n, c, k))) for k in ks if k <= n_min}


def distinct_correct(solutions, correct) -> int:
    """Number of distinct canonical solutions among the correct samples (None ignored).

    What a learner gets wrong: count distinct *canonical* forms, or "2+3" and "3+2" look like
    two solutions.

    >>> distinct_correct(["a", "a", "b", None, "c"], [True, True, True, True, False])
    2
    """
    if len(solutions) != len(correct):
        raise ValueError("solutions and correct need one entry per sample")
    return len({s for s, ok in zip(solutions, correct) if ok and s is not None})


def distinct_answers(answers) -> int:
    """Number of distinct final answers, right or wrong (None = no answer, ignored).

    >>> distinct_answers(["5", "5", "7", None])
    2
    """
    return len({a for a in answers if a is not None})


def answer_entropy(answers) -> float:
    """H = −Σ_a p_a log p_a (nats) of the answer histogram, None ignored; 0 if no answers.

    log(#distinct) is its maximum (all answers different); 0 means one answer only.

    >>> round(answer_entropy(["5", "5", "7", "7"]), 4)  # two equally likely answers: log 2
    0.6931
    """
    counts = np.array(list(Counter(a for a in answers if a is not None).values()), dtype=float)
    if counts.sum() == 0:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def coverage(found, solution_set) -> float:
    """|found ∩ S| / |S|: the fraction of the known correct solutions S that were found.

    nan when S is empty (a prompt with no known solution has nothing to cover).

    >>> coverage(["a", "b", "x", None], {"a", "b", "c", "d"})
    0.5
    """
    if not solution_set:
        return math.nan
    return len({s for s in found if s is not None} & set(solution_set)) / len(solution_set)


def _per_prompt(record: dict) -> dict[str, float]:
    out = {"div/distinct_correct": distinct_correct(record["solutions"], record["correct"])}
    if record.get("answers") is not None:
        out["div/distinct_answers"] = distinct_answers(record["answers"])
        out["div/answer_entropy"] = answer_entropy(record["answers"])
    if record.get("solution_set") is not None:
        found = [s for s, ok in zip(record["solutions"], record["correct"]) if ok]
        out["div/coverage"] = coverage(found, record["solution_set"])
    return out


def _mean_over_prompts(records) -> dict[str, float]:
    rows = [_per_prompt(r) for r in records]
    keys = [k for k in rows[0] if all(k in row for row in rows)] if rows else []
    return {k: float(np.nanmean([row[k] for row in rows])) for k in keys}


def diversity_summary(records, base_records=None) -> dict[str, float]:
    """Means over prompts of distinct_correct, distinct_answers, answer_entropy and coverage.

    records: list of per-prompt dicts (see the module docstring). With ``base_records`` (the
    base model's samples on the *same prompts*) each metric also gets "/base", "/delta"
    (trained − base) and "/ratio" (trained / base): diversity change against the base model is
    what to report, not absolute numbers, which depend on the task's solution multiplicity.

    >>> rec = [{"solutions": ["a", "b", "b"], "correct": [True, True, False]}]
    >>> base = [{"solutions": ["a", "a", "a"], "correct": [True, True, True]}]
    >>> out = diversity_summary(rec, base)
    >>> out["div/distinct_correct"], out["div/distinct_correct/delta"], out["div/distinct_correct/ratio"]
    (2.0, 1.0, 2.0)
    """
    out = _mean_over_prompts(records)
    if base_records is None:
        return out
    if len(base_records) != len(records):
        raise ValueError(
            "base_records must hold the base model's samples on the same prompts, "
            f"in the same order: got {len(base_records)} vs {len(records)}"
        )
    base = _mean_over_prompts(base_records)
    summary = {}
    for key, value in out.items():
        summary[key] = value
        if key in base:
            b = base[key]
            summary.update(
                {
                    f"{key}/base": b,
                    f"{key}/delta": value - b,
                    f"{key}/ratio": value / b if b != 0 else math.nan,
                }
            )
    return summary


def _groups(x, group_size: int) -> np.ndarray:
    x = np.asarray(x)
    if group_size < 1 or x.size % group_size:
        raise ValueError(
            f"{x.size} samples do not split into groups of {group_size}: N must be "
            "B·G with each prompt's G completions stored contiguously"
        )
    return x.reshape(-1, group_size)  # (N,) -> (B, G)


def frac_zero_std(rewards, group_size: int) -> float:
    """Fraction of groups whose G rewards are all equal, so [GRPO1] gives them zero advantage.

    Shapes: rewards (N,) flat, groups contiguous -> float. TRL logs it as
    ``frac_reward_zero_std``; near 1 means the batch is too easy or too hard to learn from.

    >>> frac_zero_std([1, 1, 0, 1, 0.1, 0.1], group_size=2)
    0.6666666666666666
    """
    r = _groups(np.asarray(rewards, dtype=float), group_size)  # (B, G)
    return float(np.mean(np.all(r == r[:, :1], axis=1)))


def distinct_correct_per_group(solutions, correct, group_size: int) -> np.ndarray:
    """distinct_correct for each training group of G completions. (N,), (N,) -> (B,) ints.

    Its mean over groups is the training value of "div/distinct_correct".

    >>> distinct_correct_per_group(["a", "b", "a", "a"], [True, True, True, False], 2)
    array([2, 1])
    """
    if len(solutions) != len(correct):
        raise ValueError("solutions and correct need one entry per sample")
    sol = _groups(np.array(solutions, dtype=object), group_size)  # (B, G)
    ok = _groups(np.asarray(correct, dtype=bool), group_size)  # (B, G)
    return np.array([distinct_correct(list(s), list(c)) for s, c in zip(sol, ok)], dtype=int)
