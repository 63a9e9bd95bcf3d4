"""Every distinct solution of a Countdown instance, by exact search over expression trees.

Two answers are the same solution when they share a canonical form (``dsnb.tasks.arith``:
equal up to commutativity, associativity and signs). The number of distinct solutions of an
instance is its *multiplicity*: the most diversity a perfect policy could show on it
(docs/method.md section 7). ``dsnb.tasks.countdown`` re-exports ``solve`` and
``solution_multiplicity``; the generator uses them to filter instances.

How it works: for a multiset of numbers, split it into two non-empty parts in every way,
combine every expression of one part with every expression of the other by + - * / (both
orders for - and /), and keep one representative per canonical form. Sub-results are
cached per sorted multiset, and at the top level only pairs that can hit the target are
built (for x + y = t, look up y = t - x), so a 4-number instance takes a few milliseconds.
Arithmetic is exact (``Fraction``), so solutions like ``6/(1-3/4)`` are found.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from dsnb.tasks.arith import c_add, c_mul, c_num, render


class Expr:
    """An expression with its signed normal form, a readable text and a ranking key."""

    __slots__ = ("form", "text", "prec", "neg", "value")

    def __init__(self, form, text: str, prec: int, neg: int):
        self.form, self.text, self.prec, self.neg = form, text, prec, neg  # prec: 3 literal, 2 * /, 1 + -
        self.value = form[0] * form[1].value

    @property
    def key(self) -> tuple[int, str]:
        return self.form[0], self.form[1].key

    @property
    def rank(self) -> tuple:
        """Friendliest first: fewest negative intermediate values, then shortest, then text."""
        return self.neg, len(self.text), self.text

    def __repr__(self) -> str:
        return f"Expr({self.text!r} = {self.value})"


def leaf(n: int) -> Expr:
    return Expr(c_num(n), str(n), 3, 0)


def _par(e: Expr, prec: int) -> str:
    return f"({e.text})" if e.prec <= prec else e.text


def combine(x: Expr, y: Expr, op: str) -> Expr | None:
    """x op y with minimal parentheses, or None for division by zero.

    >>> combine(leaf(6), combine(leaf(1), combine(leaf(3), leaf(4), "/"), "-"), "/")
    Expr('6/(1-3/4)' = 24)
    """
    if op == "+":
        form, text, prec = c_add(x.form, y.form, 1), f"{x.text}+{y.text}", 1
    elif op == "-":
        form, text, prec = c_add(x.form, y.form, -1), f"{x.text}-{_par(y, 1)}", 1
    elif op == "*":
        form, text, prec = c_mul(x.form, y.form, 1), f"{_par(x, 1)}*{_par(y, 1)}", 2
    elif y.value == 0:
        return None
    else:
        form, text, prec = c_mul(x.form, y.form, -1), f"{_par(x, 1)}/{_par(y, 2)}", 2
    neg = x.neg + y.neg + (form[0] * form[1].value < 0)
    return Expr(form, text, prec, neg)


def _all_ops(x: Expr, y: Expr):
    for a, b, op in ((x, y, "+"), (x, y, "*"), (x, y, "-"), (y, x, "-"), (x, y, "/"), (y, x, "/")):
        e = combine(a, b, op)
        if e is not None:
            yield e


def _keep(best: dict, e: Expr) -> None:
    old = best.get(e.key)
    if old is None or e.rank < old.rank:
        best[e.key] = e


def splits(ms: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Unordered splits of a sorted multiset into two non-empty sorted parts.

    >>> splits((2, 3, 3))
    [((2,), (3, 3)), ((2, 3), (3,))]
    """
    n, out = len(ms), set()
    for mask in range(1, 2**n - 1):
        a = tuple(ms[i] for i in range(n) if mask >> i & 1)
        b = tuple(ms[i] for i in range(n) if not mask >> i & 1)
        out.add((min(a, b), max(a, b)))
    return sorted(out)


@lru_cache(maxsize=8192)
def expressions(ms: tuple[int, ...]) -> dict[tuple[int, str], Expr]:
    """All distinct expressions using each number of the sorted multiset ``ms`` exactly once."""
    if len(ms) == 1:
        e = leaf(ms[0])
        return {e.key: e}
    best: dict = {}
    for a, b in splits(ms):
        ys = list(expressions(b).values())
        for x in expressions(a).values():
            for y in ys:
                for e in _all_ops(x, y):
                    _keep(best, e)
    return best


@lru_cache(maxsize=8192)
def by_value(ms: tuple[int, ...]) -> dict[Fraction, list[Expr]]:
    """``expressions(ms)`` grouped by exact value."""
    out: dict = {}
    for e in expressions(ms).values():
        out.setdefault(e.value, []).append(e)
    return out


def _needed(x: Fraction, t: Fraction):
    """(y value, left, op) such that left-op-right = t, where left/right are x/y as flagged."""
    yield t - x, "x", "+"
    yield x - t, "x", "-"
    yield t + x, "y", "-"
    if x != 0:
        yield t / x, "x", "*"
        yield t * x, "y", "/"
    if t != 0:
        yield x / t, "x", "/"


def solution_forms(nums, target) -> dict[tuple[int, str], Expr]:
    """Canonical key -> friendliest expression, for every solution of (nums, target)."""
    ms, t = tuple(sorted(int(n) for n in nums)), Fraction(target)
    if len(ms) == 1:
        e = leaf(ms[0])
        return {e.key: e} if e.value == t else {}
    best: dict = {}
    for a, b in splits(ms):
        if len(expressions(a)) > len(expressions(b)):  # loop over the smaller side
            a, b = b, a
        ys = by_value(b)
        for x in expressions(a).values():
            if x.value == 0 or t == 0:  # rare degenerate cases: try everything
                cands = (e for y in expressions(b).values() for e in _all_ops(x, y))
            else:
                cands = (
                    combine(x, y, op) if side == "x" else combine(y, x, op)
                    for need, side, op in _needed(x.value, t)
                    for y in ys.get(need, ())
                )
            for e in cands:
                if e is not None and e.value == t:
                    _keep(best, e)
    return best


def solve(nums, target) -> list[str]:
    """Every distinct correct expression for (nums, target), one per canonical form.

    Each uses every number exactly once, has minimal parentheses and no spaces; the list is
    ordered friendliest first (fewest negative intermediates, shortest, then text). The
    thing to know: variants that differ by an identity (``x*1``, ``x*4/4``, ``x+4-4``,
    ``x*(3-2)``) count as distinct, because the canonical form does not simplify. The
    generator avoids the number 1 for that reason; repeated or consecutive numbers still
    produce a few such "cheap" extra solutions.

    >>> solve([3, 7, 12], 33)  # 12 + 21
    ['12+3*7']
    >>> solve([1, 3, 4, 6], 24)
    ['6/(1-3/4)']
    """
    forms = solution_forms(nums, target)
    return [e.text for e in sorted(forms.values(), key=lambda e: e.rank)]


def solution_multiplicity(nums, target) -> int:
    """Number of distinct solutions (up to commutativity, associativity and signs).

    >>> solution_multiplicity([2, 2, 4], 8)  # 2+2+4 and 2*2+4
    2
    """
    return len(solution_forms(nums, target))


def canonical_solutions(nums, target) -> set[str]:
    """The canonical strings of all solutions (compare with ``arith.canonical(answer)``)."""
    return {render(e.form) for e in solution_forms(nums, target).values()}
