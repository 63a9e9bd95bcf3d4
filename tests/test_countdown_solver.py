"""dsnb.tasks.solver: every distinct solution, checked against a slow independent enumerator."""

import itertools
import random
from fractions import Fraction

import pytest

from dsnb.tasks.arith import canonical
from dsnb.tasks.countdown import score, solution_multiplicity, solve


def brute_force(nums):
    """value -> set of canonical forms, over EVERY expression tree (fully parenthesised).

    Repeatedly pick an ordered pair of the remaining items and an operator, exactly as one
    would by hand; no caching, no pruning, no canonical form until the very end.
    """
    found: dict = {}

    def go(items):
        if len(items) == 1:
            value, text = items[0]
            found.setdefault(value, set()).add(text)
            return
        for i, j in itertools.permutations(range(len(items)), 2):
            (a, sa), (b, sb) = items[i], items[j]
            rest = [it for k, it in enumerate(items) if k not in (i, j)]
            for op in "+-*/":
                if op == "/" and b == 0:
                    continue
                value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0}[op]
                go(rest + [(value, f"({sa}{op}{sb})")])

    go([(Fraction(n), str(n)) for n in nums])
    return found


def canonical_classes(texts):
    return {canonical(t) for t in texts}


@pytest.mark.parametrize("nums", [(3, 7, 12), (2, 2, 4), (5, 5, 5), (2, 3, 14), (4, 9, 13)])
def test_solver_matches_brute_force_for_every_target_with_3_numbers(nums):
    found = brute_force(nums)
    for target in range(0, 200):
        expected = canonical_classes(found.get(Fraction(target), ()))
        got = solve(nums, target)
        assert {canonical(s) for s in got} == expected, (nums, target)
        assert len(got) == len(expected)  # one representative per class


@pytest.mark.parametrize("nums", [(2, 3, 5, 7), (1, 3, 4, 6), (4, 4, 10, 2), (3, 8, 8, 11)])
def test_solver_matches_brute_force_with_4_numbers(nums):
    found = brute_force(nums)
    targets = [t for t in range(1, 101) if Fraction(t) in found] + [0, 997]
    for target in targets:
        expected = canonical_classes(found.get(Fraction(target), ()))
        assert {canonical(s) for s in solve(nums, target)} == expected, (nums, target)
        assert solution_multiplicity(nums, target) == len(expected)


def test_every_solution_scores_one_and_uses_each_number_once():
    rng = random.Random(0)
    for _ in range(40):
        nums = [rng.randint(2, 15) for _ in range(rng.choice((3, 4)))]
        target = rng.randint(1, 60)
        sols = solve(nums, target)
        assert len(set(sols)) == len(sols)
        for s in sols:
            assert " " not in s
            assert score(f"<answer>{s}</answer>", nums, target) == 1.0


def test_hand_known_cases():
    assert solve([1, 3, 4, 6], 24) == ["6/(1-3/4)"]  # the classic: 6 / (1/4)
    # 2*2+4 and 2+2+4 are different solutions (2*2 and 2+2 are different expressions)
    assert {canonical(s) for s in solve([2, 2, 4], 8)} == {canonical("2*2+4"), canonical("2+2+4")}
    assert solve([2, 3], 7) == []
    assert solve([5], 5) == ["5"]


def test_order_of_numbers_does_not_matter():
    assert solve([12, 3, 7], 33) == solve([3, 7, 12], 33)


def test_representatives_avoid_negative_intermediates_when_possible():
    # (2-7)*(3-5) and (7-2)*(5-3) are one solution; the friendly one is shown
    sols = solve([2, 3, 5, 7], 10)
    assert "(7-2)*(5-3)" in sols and "(2-7)*(3-5)" not in sols
