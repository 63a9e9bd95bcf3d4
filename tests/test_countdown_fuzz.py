"""The [CD1] scorer on random and hostile text: it never raises and never hangs.

A signal.alarm guard turns a hang into a failure instead of a stuck CI job; no timing is
asserted otherwise.
"""

import random
import signal

import pytest

from dsnb.tasks.arith import canonical, safe_eval
from dsnb.tasks.countdown import extract_answer, score, solution_key

HOSTILE = [
    "9" + "*9" * 99,  # 9**9**9 written as products
    "9**9**9",
    "__import__('os').system('echo pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "(" * 100_000 + "1" + ")" * 100_000,
    "1" * 100_000,
    "1" * 5_000 + "+2",  # past Python's int-string limit
    "1e308*1e308",
    "(" * 1000,
    ")" * 1000,
    "-" * 10_000 + "1",
    "\u0663+\u0667*\u0661\u0662",  # Arabic-Indic digits
    "\uff13+\uff17*\uff11\uff12",  # full-width digits
    "3\u00a0+7*12",  # no-break space
    "3+7*12\x00",
    "lambda: 1",
    "[1]*10**9",
    "1/" * 60 + "1",
    "0.0000000000001/0.0000000000001",
    "",
    " ",
    "\n",
]
ALPHABET = list("0123456789+-*/().  e^%,_x") + ["**", "//", "<answer>", "</answer>", "\u0663"]


@pytest.fixture
def alarm():
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def fail(*_):
        raise TimeoutError("the scorer hung")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _check(expr, nums=(3, 7, 12), target=33):
    for completion in (f"<answer>{expr}</answer>", expr, f"<think>{expr}</think><answer>{expr}"):
        assert score(completion, nums, target) in (0.0, 0.1, 1.0)
        assert solution_key(completion, nums, target) in (None,) or isinstance(
            solution_key(completion, nums, target), str
        )
    value = safe_eval(expr)
    assert value is None or isinstance(value, float)
    assert canonical(expr) is None or isinstance(canonical(expr), str)


def test_hostile_strings_never_raise(alarm):
    for expr in HOSTILE:
        _check(expr)
    assert safe_eval("9" + "*9" * 99) is None and safe_eval("1e308*1e308") is None
    assert score("<answer>__import__('os')</answer>", [3, 7, 12], 33) == 0.1


def test_2000_random_strings_never_raise(alarm):
    rng = random.Random(0)
    scored = set()
    for _ in range(2000):
        expr = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60)))
        _check(expr)
        scored.add(score(f"<answer>{expr}</answer>", [3, 7, 12], 33))
    assert 0.1 in scored  # the fuzz reached the evaluator


def test_random_valid_answers_score_like_exact_arithmetic(alarm):
    """Random expressions over 3, 7, 12: the score is 1.0 exactly when the value is 33."""
    rng = random.Random(1)
    hits = 0
    for _ in range(2000):
        a, b, c = rng.sample(["3", "7", "12"], 3)
        o1, o2 = rng.choice("+-*/"), rng.choice("+-*/")
        expr = rng.choice([f"{a}{o1}{b}{o2}{c}", f"({a}{o1}{b}){o2}{c}", f"{a}{o1}({b}{o2}{c})"])
        value = _fraction_value(a, o1, b, o2, c, expr)
        expected = 1.0 if value == 33 else 0.1
        hits += expected == 1.0
        assert score(f"<answer>{expr}</answer>", [3, 7, 12], 33) == expected, expr
    assert hits > 0


def _fraction_value(a, o1, b, o2, c, expr):
    """Exact value by hand-coded precedence (independent of the parser); None if x/0."""
    from fractions import Fraction as F

    ops = {
        "+": lambda x, y: x + y,
        "-": lambda x, y: x - y,
        "*": lambda x, y: x * y,
        "/": lambda x, y: None if y == 0 else x / y,
    }
    x, y, z = F(a), F(b), F(c)
    if expr.startswith("("):
        left = ops[o1](x, y)
        return None if left is None else ops[o2](left, z)
    if "(" in expr:
        right = ops[o2](y, z)
        return None if right is None else ops[o1](x, right)
    if o2 in "*/" and o1 in "+-":
        right = ops[o2](y, z)
        return None if right is None else ops[o1](x, right)
    left = ops[o1](x, y)
    return None if left is None else ops[o2](left, z)


def test_extract_answer_is_linear_on_many_tags(alarm):
    text = "<answer>" * 50_000 + "3*7+12" + "</answer>" * 50_000
    assert extract_answer(text) == "3*7+12"
