"""pass@k ([PK1]) against brute-force enumeration and exact binomials; diversity and group metrics."""

import itertools
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from dsnb.metrics import (
    GLOSSARY,
    answer_entropy,
    coverage,
    describe,
    distinct_answers,
    distinct_correct,
    distinct_correct_per_group,
    diversity_summary,
    frac_zero_std,
    pass_at_k,
    pass_at_k_curve,
    pass_at_k_summary,
)


def test_metrics_module_does_not_import_torch():
    code = "import sys, dsnb.metrics; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- pass@k


def test_pass_at_k_hand_cases():
    assert pass_at_k(2, 1, 1) == 0.5
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # C(3,2)/C(4,2)
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 3, 3) == 1.0  # n − c = 2 < k: every 3-subset holds a correct sample
    assert pass_at_k(8, 2, 1) == pytest.approx(2 / 8)  # pass@1 = c/n


def test_pass_at_k_equals_brute_force_over_k_subsets():
    for n in range(1, 8):
        for c in range(n + 1):
            samples = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(samples, k))
                brute = sum(any(s) for s in subsets) / len(subsets)
                assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12), (n, c, k)


def test_pass_at_k_is_stable_for_large_n():
    for n, c, k in [(1000, 5, 500), (1024, 1, 1), (1024, 100, 256), (200, 3, 190)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)


def test_pass_at_k_is_vectorised_and_broadcasts():
    n, c = np.array([4, 8, 16]), np.array([1, 0, 16])
    out = pass_at_k(n, c, 2)
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert np.allclose(out, [pass_at_k(4, 1, 2), 0.0, 1.0])
    assert np.allclose(pass_at_k(8, np.arange(9), 3), [pass_at_k(8, int(ci), 3) for ci in range(9)])
    assert isinstance(pass_at_k(4, 1, 2), float)


@pytest.mark.parametrize(
    "n, c, k, message",
    [(8, 2, 9, "fewer than 9"), (4, 5, 1, "0 <= c <= n"), (4, 1, 0, "1 <= k"), (4, -1, 1, "0 <= c")],
)
def test_pass_at_k_rejects_impossible_counts(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)


def test_pass_at_k_curve_ends_and_monotone():
    n, c = np.array([8, 8, 8, 8]), np.array([0, 1, 4, 8])
    curve = pass_at_k_curve(n, c)
    assert curve.shape == (8,)
    assert curve[0] == pytest.approx(np.mean(c / n))  # k = 1: mean accuracy
    assert curve[-1] == pytest.approx(np.mean(c > 0))  # k = n: any correct sample
    assert np.all(np.diff(curve) >= 0)
    assert np.allclose(pass_at_k_curve(n, c, ks=[2, 8]), curve[[1, 7]])


def test_pass_at_k_summary_keys_are_in_the_glossary():
    summary = pass_at_k_summary([16, 16], [1, 0])
    assert list(summary) == ["pass@k/1", "pass@k/2", "pass@k/4", "pass@k/8", "pass@k/16"]
    assert summary["pass@k/16"] == 0.5
    for key in summary:
        assert describe(key) == GLOSSARY["pass@k/<k>"]


# ----------------------------------------------------------------------------- diversity


def test_distinct_correct_counts_canonical_correct_solutions_only():
    sols = ["1+2", "1+2", "2*3", None, "9-1", "2*3"]
    ok = [True, True, True, True, False, True]
    assert distinct_correct(sols, ok) == 2
    assert distinct_correct(sols, [False] * 6) == 0
    with pytest.raises(ValueError, match="one entry per sample"):
        distinct_correct(sols, ok[:3])


def test_answers_histogram_metrics_by_hand():
    answers = ["5", "5", "7", "9", None, None]
    assert distinct_answers(answers) == 3
    # p = (1/2, 1/4, 1/4): H = 1.5 log 2
    assert answer_entropy(["5", "5", "7", "9"]) == pytest.approx(1.5 * math.log(2))
    assert answer_entropy(answers) == pytest.approx(1.5 * math.log(2))  # None ignored
    assert answer_entropy(["a"] * 5) == 0.0 and answer_entropy([None, None]) == 0.0
    assert answer_entropy(list("abcdef")) == pytest.approx(math.log(6))


def test_coverage_by_hand():
    assert coverage(["a", "b", "b", "z", None], {"a", "b", "c", "d"}) == 0.5
    assert coverage([], {"a"}) == 0.0
    assert math.isnan(coverage(["a"], set()))


def record(solutions, correct, answers=None, solution_set=None):
    return {"solutions": solutions, "correct": correct, "answers": answers, "solution_set": solution_set}


def test_diversity_summary_means_over_prompts():
    recs = [
        record(["a", "b", "c"], [True, True, False], ["1", "2", "3"], {"a", "b", "x", "y"}),
        record(["a", "a", None], [True, True, False], ["1", "1", None], set()),
    ]
    out = diversity_summary(recs)
    assert out["div/distinct_correct"] == pytest.approx((2 + 1) / 2)
    assert out["div/distinct_answers"] == pytest.approx((3 + 1) / 2)
    assert out["div/answer_entropy"] == pytest.approx((math.log(3) + 0) / 2)
    assert out["div/coverage"] == pytest.approx(0.5)  # second prompt has no known solution
    for key in out:
        describe(key)


def test_diversity_summary_reports_change_against_the_base_model():
    trained = [record(["a", "b"], [True, True]), record(["a", "a"], [True, True])]
    base = [record(["a", "a"], [True, True]), record([None, "b"], [False, True])]
    out = diversity_summary(trained, base)
    assert out["div/distinct_correct"] == 1.5 and out["div/distinct_correct/base"] == 1.0
    assert out["div/distinct_correct/delta"] == 0.5 and out["div/distinct_correct/ratio"] == 1.5
    zero = diversity_summary(trained, [record(["a"], [False]), record(["a"], [False])])
    assert math.isnan(zero["div/distinct_correct/ratio"])
    for key in out:
        describe(key)
    with pytest.raises(ValueError, match="same prompts"):
        diversity_summary(trained, base[:1])


# ----------------------------------------------------------------------------- training groups


def test_frac_zero_std_by_hand():
    # groups: (1, 1) no variance, (0, 1) signal, (0.1, 0.1) format-only: no variance
    assert frac_zero_std([1, 1, 0, 1, 0.1, 0.1], group_size=2) == pytest.approx(2 / 3)
    assert frac_zero_std(np.zeros(8), group_size=4) == 1.0
    assert describe("reward/frac_zero_std")
    with pytest.raises(ValueError, match="groups of 4"):
        frac_zero_std([1, 0, 1], group_size=4)


def test_distinct_correct_per_group_by_hand():
    sols = ["a", "b", "a", "a", None, "c"]
    ok = [True, True, True, False, True, True]
    assert distinct_correct_per_group(sols, ok, 2).tolist() == [2, 1, 1]
    assert distinct_correct_per_group(sols, ok, 3).tolist() == [2, 1]


def test_describe_rejects_undefined_keys():
    with pytest.raises(KeyError, match="GLOSSARY"):
        describe("div/made_up_metric")
