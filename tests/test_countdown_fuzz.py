"""The [CD1] scorer on random and hostile text: it never raises and never hangs.

A signal.alarm guard turns a hang into a failure instead of a stuck CI job; no timing is
asserted otherwise.
"""

import random
import re
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


# ----- the two scorers: strict (default) and TinyZero's, on 10,000 random completions ----------

NUMS, TARGET = [6, 5, 8], 43  # 5*8.6 = 43: the decimal-point hack exists for this instance
PIECES = (
    [
        "<answer>",
        "</answer>",
        "\n",
        "<think>",
        "</think>",
        " ",
        "  ",
        "\t",
        ".",
        "..",
        "x",
        "e",
        "_",
        "\u0663",
    ]
    + list("+-*/()")
    + ["**", "//", "0", "1", "8.6", "6.8", ".5", "5.", "43"]
    + [str(n) for n in NUMS] * 4
)


def random_completion(rng: random.Random) -> str:
    """A random completion built from Countdown-ish pieces; a third are near-solutions."""
    if rng.random() < 0.33:
        a, b, c = rng.sample(["5", "8", "6", "8.6", "(8+6)", "6*8"], 3)
        expr = f"{a}{rng.choice('+-*/')}{b}{rng.choice('+-*/')}{c}"
        body = rng.choice([expr, "5*8.6", "6*8-5", "(8*6)-5", "5*8+6/2", f"({expr})", f" {expr} "])
        tail = rng.choice(["", "", "\n", " done", "\n<answer>5*8.6</answer>", "</answer>"])
        return rng.choice(["", "<think>..</think>", "line one\n"]) + f"<answer>{body}</answer>" + tail
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))


def tinyzero_reference(completion: str, numbers, target) -> float:
    """TinyZero's compute_score (verl/utils/reward_score/countdown.py), transcribed, for the
    completion of its own prompt (so its "Assistant:" split is already done). Its eval is kept,
    guarded: only strings its character class admits reach it, and none with '**' (no hang)."""
    last = completion.split("\n")[-1]
    matches = list(re.finditer(r"<answer>(.*?)</answer>", last))
    if not matches:
        return 0.0
    equation = matches[-1].group(1).strip()
    try:
        if sorted(int(n) for n in re.findall(r"\d+", equation)) != sorted(numbers):
            return 0.1
    except ValueError:
        return 0.1
    if not re.match(r"^[\d+\-*/().\s]+$", equation) or "**" in equation:
        return 0.1
    try:
        result = eval(equation, {"__builtins__": None}, {})  # noqa: S307 (guarded, see above)
        return 1.0 if abs(result - target) < 1e-5 else 0.1
    except Exception:
        return 0.1


def _unary_plus_or_floor(expr: str) -> bool:
    """The documented arithmetic differences: '//' and a unary '+' are not in dsnb's grammar."""
    return "//" in expr or re.search(r"(^|[(+\-*/])\s*\+", expr.strip()) is not None


def test_tinyzero_compat_is_tinyzero_on_10000_random_completions(alarm):
    rng = random.Random(7)
    outcomes, differ = {0.0: 0, 0.1: 0, 1.0: 0}, []
    for _ in range(10_000):
        c = random_completion(rng)
        ours, ref = score(c, NUMS, TARGET, tinyzero_compat=True), tinyzero_reference(c, NUMS, TARGET)
        outcomes[ours] += 1
        if ours != ref:
            differ.append(c)
    assert all(v > 200 for v in outcomes.values()), outcomes  # every outcome is well exercised
    from dsnb.tasks.countdown import tinyzero_extract

    unexplained = [c for c in differ if not _unary_plus_or_floor(tinyzero_extract(c) or "")]
    assert not unexplained, unexplained[:5]
    assert len(differ) < 200  # '//' and unary '+' answers are rare


def test_strict_rule_never_pays_a_decimal_literal_on_10000_random_completions(alarm):
    """Strict (default): 1.0 exactly when the answer's number tokens are the given integers, no
    token has a decimal point, and the value is the target; checked against a token-free rule."""
    rng = random.Random(8)
    paid, hack_paid_by_tinyzero = 0, 0
    for _ in range(10_000):
        c = random_completion(rng)
        s = score(c, NUMS, TARGET)
        assert s in (0.0, 0.1, 1.0)
        answer = extract_answer(c)
        assert (s == 0.0) == (answer is None)
        if s == 1.0:
            paid += 1
            assert "." not in answer and sorted(int(d) for d in re.findall(r"[0-9]+", answer)) == [5, 6, 8]
            assert abs(safe_eval(answer) - TARGET) < 1e-5
        elif answer is not None and "." in answer and score(c, NUMS, TARGET, tinyzero_compat=True) == 1.0:
            hack_paid_by_tinyzero += 1
    assert paid > 50 and hack_paid_by_tinyzero > 50  # both branches really ran


def test_the_decimal_hack_pays_only_under_tinyzero_compat():
    for c in (
        "<answer>5*8.6</answer>",
        "<answer>8.6*5</answer>",
        "<think>5*8.6</think>\n<answer> 5 * 8.6 </answer>",
    ):
        assert score(c, NUMS, TARGET) == 0.1
        assert score(c, NUMS, TARGET, tinyzero_compat=True) == 1.0
    for c in ("<answer>.5*8*6+.5*... </answer>", "<answer>5.*8+6</answer>", "<answer>5*8+6.0</answer>"):
        assert score(c, NUMS, TARGET) == 0.1  # a decimal point next to a given number: not a use of it
    assert score("<answer>5*8+6/2</answer>", NUMS, TARGET) == 0.1  # 43, but 2 is not given
    assert score("<answer>(8-6)*5</answer>", NUMS, 10) == 1.0


def test_tinyzero_compat_reads_only_the_last_line():
    good = "<answer>5*8+6/2</answer>"
    c = "<think>\n5*8 = 40\n</think>\n<answer>(8-6)*5</answer>"
    assert score(c, NUMS, 10) == score(c, NUMS, 10, tinyzero_compat=True) == 1.0
    assert score(c + "\n", NUMS, 10, tinyzero_compat=True) == 0.0  # a trailing newline: nothing
    assert score(c + "\n", NUMS, 10) == 1.0
    assert score("<answer>(8-6)*5</answer>\n" + good, NUMS, 10, tinyzero_compat=True) == 0.1
    # TinyZero's non-greedy match starts at the FIRST <answer> of a match
    assert score("<answer>1<answer>(8-6)*5</answer>", NUMS, 10) == 1.0
    assert score("<answer>1<answer>(8-6)*5</answer>", NUMS, 10, tinyzero_compat=True) == 0.1


def test_shipped_train_problems_hackable_only_under_tinyzero_compat():
    """The benchmark's enumeration on the first 300 shipped 3-number train problems."""
    import importlib.util
    from pathlib import Path

    from dsnb.tasks.data import countdown_rows

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "countdown_decimal_hack.py"
    spec = importlib.util.spec_from_file_location("hack", path)
    hack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hack)
    tz = strict = 0
    for r in countdown_rows("train", 300):
        found = hack.hacks(r["nums"], r["target"], joins_only=True)
        tz += any(score(f"<answer>{h}</answer>", r["nums"], r["target"], True) == 1.0 for h in found)
        strict += any(score(f"<answer>{h}</answer>", r["nums"], r["target"]) == 1.0 for h in found)
    assert tz >= 1 and strict == 0
