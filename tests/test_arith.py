"""dsnb.tasks.arith: the whitelist evaluator and the canonical form of an expression."""

import random
from fractions import Fraction

import pytest

from dsnb.tasks import arith
from dsnb.tasks.arith import canonical, parse, safe_eval

# ----- evaluation, hand-computed ----------------------------------------------------------


@pytest.mark.parametrize(
    "expr, value",
    [
        ("3+7*12", 87.0),  # precedence: 3 + 84
        ("(3+7)*12", 120.0),
        ("10-4-3", 3.0),  # left associative: (10-4)-3
        ("10-(4-3)", 9.0),
        ("8/4/2", 1.0),  # (8/4)/2
        ("8/(4/2)", 4.0),
        ("6/(1-3/4)", 24.0),  # 6 / (1/4)
        ("-3+5", 2.0),
        ("--3", 3.0),
        ("2*-3", -6.0),
        (" 1.5 * 2 ", 3.0),
        (".5+.5", 1.0),
        ("3.", 3.0),
        ("\t(1)\n", 1.0),
    ],
)
def test_safe_eval_matches_hand_computed_values(expr, value):
    assert safe_eval(expr) == value


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "   ",
        "1/0",
        "1/(2-2)",
        "2**3",
        "9//2",
        "5%3",
        "1e5",
        "+3",
        "3 4",
        "(1+2",
        "1+2)",
        "()",
        "abs(3)",
        "x+1",
        "__import__('os')",
        "\u0663+\u0667",
        "1,000",
        "3.4.5",
        "07",
        "1" * 13,
        "999999*999999*999999",
        "10**12",
        "(" * 40 + "1" + ")" * 40,
        "-" * 40 + "1",
        "1+" * 60 + "1",
        "1" + " " * 300,
        12,
        None,
        b"1+2",
    ],
)
def test_safe_eval_rejects_anything_outside_the_whitelist(expr):
    assert safe_eval(expr) is None


def test_limits_are_enforced_exactly_at_the_boundary():
    deep_ok = "(" * arith.MAX_DEPTH + "1" + ")" * arith.MAX_DEPTH
    assert safe_eval(deep_ok) == 1.0
    assert safe_eval("(" + deep_ok + ")") is None
    assert safe_eval(str(arith.MAX_ABS)) == float(arith.MAX_ABS)
    assert safe_eval(str(arith.MAX_ABS + 1)) is None
    assert safe_eval(f"{arith.MAX_ABS}+1") is None  # intermediates are bounded too
    assert safe_eval("1" + "+1" * 49) == 50.0  # 99 tokens
    assert safe_eval("1" + "+1" * 50) is None  # 101 tokens


def test_parse_raises_a_value_error_with_a_reason():
    with pytest.raises(ValueError, match="unexpected character"):
        parse("2 ** x")
    with pytest.raises(ValueError, match="ends too early"):
        parse("2*")


def test_exact_arithmetic_agrees_with_fraction_on_random_expressions():
    rng = random.Random(0)
    for _ in range(300):
        text, value = _random_expression(rng, depth=4)
        if value is None:
            assert safe_eval(text) is None
        else:
            assert safe_eval(text) == pytest.approx(float(value), rel=1e-12, abs=1e-12)


# ----- canonical form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("3+7*12", "12*7+3"),
        ("3+7*12", "(7*12)+3"),
        ("10-(4-3)", "10+3-4"),  # a-(b-c) = a+c-b
        ("2*3*4", "4*(3*2)"),
        ("(2+3)+4", "4+(3+2)"),
        ("8/(4/2)", "8*2/4"),
        ("8/4/2", "8/(4*2)"),
        ("(2-7)*(3-5)", "(7-2)*(5-3)"),  # signs pulled out of factors
        ("-(2*3)", "(-2)*3"),
        ("3-7", "-(7-3)"),
        (" 4 + 3 ", "3+4"),
        ("3.50+1", "1+3.5"),
    ],
)
def test_canonical_identifies_commutative_and_associative_variants(a, b):
    assert canonical(a) is not None and canonical(a) == canonical(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("2*(3+4)", "2*3+2*4"),  # distributivity is not identified
        ("5*1", "5"),
        ("5+0", "5"),
        ("2+3", "5"),
        ("4/4", "1"),
        ("8/4/2", "8/(4/2)"),
        ("10-4-3", "10-(4-3)"),
        ("3-7", "7-3"),
        ("6/3", "3/6"),
        ("3+7*12", "(3+7)*12"),
    ],
)
def test_canonical_keeps_genuinely_different_expressions_apart(a, b):
    assert canonical(a) is not None and canonical(b) is not None
    assert canonical(a) != canonical(b)


def test_canonical_of_invalid_text_is_none():
    assert canonical("1/0") is None and canonical("2**3") is None and canonical("") is None


def test_canonical_is_idempotent_and_keeps_the_value():
    rng = random.Random(1)
    for _ in range(300):
        text, value = _random_expression(rng, depth=4)
        c = canonical(text)
        if value is None:
            continue
        assert c is not None and canonical(c) == c
        assert Fraction(arith.evaluate(parse(c))) == value


def test_canonical_is_invariant_under_random_commutation():
    rng = random.Random(2)
    for _ in range(300):
        tree = _random_tree(rng, depth=4)
        assert canonical(_show(tree)) == canonical(_show(_shuffle(tree, rng)))


# ----- helpers: an independent random-expression generator --------------------------------


def _random_tree(rng, depth):
    if depth == 0 or rng.random() < 0.3:
        return str(rng.randint(0, 9))
    op = rng.choice("+-*/")
    return (op, _random_tree(rng, depth - 1), _random_tree(rng, depth - 1))


def _show(tree):
    """Fully parenthesised text of a tree."""
    if isinstance(tree, str):
        return tree
    return f"({_show(tree[1])}{tree[0]}{_show(tree[2])})"


def _value(tree):
    if isinstance(tree, str):
        return Fraction(tree)
    a, b = _value(tree[1]), _value(tree[2])
    if a is None or b is None or (tree[0] == "/" and b == 0):
        return None
    value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[tree[0]]
    return value if abs(value) <= 10**12 else None  # the documented bound on intermediates


def _shuffle(tree, rng):
    """Swap the children of + and * at random (commutativity), recursively."""
    if isinstance(tree, str):
        return tree
    op, a, b = tree[0], _shuffle(tree[1], rng), _shuffle(tree[2], rng)
    if op in "+*" and rng.random() < 0.5:
        a, b = b, a
    return (op, a, b)


def _random_expression(rng, depth):
    tree = _random_tree(rng, depth)
    return _show(tree), _value(tree)
