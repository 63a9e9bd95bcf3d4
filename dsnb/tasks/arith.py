"""Safe arithmetic for Countdown answers: tokenize, parse, evaluate, and a canonical form.

Model output is hostile text, so it is never handed to Python's ``eval``. A hand-written
tokenizer and recursive-descent parser accept only non-negative integer or decimal literals
(ASCII digits), ``+ - * /``, unary minus and parentheses, under hard size limits; evaluation
is exact (``fractions.Fraction``) with a bound on every intermediate value. The canonical
form says when two correct answers are "the same solution" (docs/method.md section 7: distinct
correct solutions up to commutativity and associativity are the diversity measure).
Used by ``dsnb.tasks.countdown`` (scoring, the solver) and the notebooks on diversity.

Grammar::

    expr  := term (('+' | '-') term)*
    term  := unary (('*' | '/') unary)*
    unary := '-' unary | atom
    atom  := NUMBER | '(' expr ')'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_LEN = 200  # characters in an expression
MAX_TOKENS = 100  # tokens after tokenizing
MAX_DEPTH = 32  # nesting of parentheses and unary minus
MAX_ABS = 10**12  # bound on |literal| and |every intermediate value|

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*|\.\d+)|([-+*/()]))", re.ASCII)
_SPACE = re.compile(r"\s*", re.ASCII)


class ArithError(ValueError):
    """The text is not a valid, bounded arithmetic expression."""


def tokenize(expr: str) -> list[str]:
    """Split ``expr`` into number and operator tokens, or raise ArithError.

    >>> tokenize("(7*12) + 3.5")
    ['(', '7', '*', '12', ')', '+', '3.5']
    """
    if not isinstance(expr, str):
        raise ArithError(f"expected a string, got {type(expr).__name__}")
    if len(expr) > MAX_LEN:
        raise ArithError(f"expression longer than {MAX_LEN} characters")
    tokens, pos = [], 0
    end = len(expr) - len(expr.rstrip(" \t\n\r\f\v"))
    stop = len(expr) - end
    while pos < stop:
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ArithError(f"unexpected character {expr[_SPACE.match(expr, pos).end()]!r}")
        tokens.append(m.group(1) or m.group(2))
        pos = m.end()
        if len(tokens) > MAX_TOKENS:
            raise ArithError(f"more than {MAX_TOKENS} tokens")
    return tokens


def _literal(tok: str) -> tuple:
    if "." not in tok and len(tok) > 1 and tok[0] == "0" and tok.strip("0"):
        raise ArithError(f"leading zero in {tok!r} (Python would reject it too)")
    value = Fraction(tok)
    if value > MAX_ABS:
        raise ArithError(f"literal {tok!r} exceeds {MAX_ABS:g}")
    return ("num", value)


class _Parser:
    """Recursive descent over a token list; ``depth`` counts parentheses and unary minus."""

    def __init__(self, tokens: list[str]):
        self.toks, self.i = tokens, 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self):
        tok = self.peek()
        if tok is None:
            raise ArithError("expression ends too early")
        self.i += 1
        return tok

    def expr(self, depth: int) -> tuple:
        node = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.take()
            node = (op, node, self.term(depth))
        return node

    def term(self, depth: int) -> tuple:
        node = self.unary(depth)
        while self.peek() in ("*", "/"):
            op = self.take()
            node = (op, node, self.unary(depth))
        return node

    def unary(self, depth: int) -> tuple:
        if depth > MAX_DEPTH:
            raise ArithError(f"nested deeper than {MAX_DEPTH}")
        if self.peek() == "-":
            self.take()
            return ("neg", self.unary(depth + 1))
        tok = self.take()
        if tok == "(":
            node = self.expr(depth + 1)
            if self.take() != ")":
                raise ArithError("missing ')'")
            return node
        if tok[0] in "0123456789.":
            return _literal(tok)
        raise ArithError(f"unexpected token {tok!r}")


def parse(expr: str) -> tuple:
    """Parse ``expr`` into a tree of tuples; raise ArithError if it is not allowed.

    Nodes: ``("num", Fraction)``, ``("neg", x)``, ``(op, left, right)`` with op in ``+-*/``.

    >>> parse("-(1+2)*3")
    ('*', ('neg', ('+', ('num', Fraction(1, 1)), ('num', Fraction(2, 1)))), ('num', Fraction(3, 1)))
    """
    tokens = tokenize(expr)
    if not tokens:
        raise ArithError("empty expression")
    parser = _Parser(tokens)
    tree = parser.expr(0)
    if parser.peek() is not None:
        raise ArithError(f"unexpected token {parser.peek()!r}")
    return tree


def _check(value: Fraction) -> Fraction:
    if abs(value) > MAX_ABS:
        raise ArithError(f"intermediate value exceeds {MAX_ABS:g}")
    return value


def evaluate(tree: tuple) -> Fraction:
    """Exact value of a parsed tree; raise ArithError on division by zero or overflow."""
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "neg":
        return -evaluate(tree[1])
    a, b = evaluate(tree[1]), evaluate(tree[2])
    if kind == "/":
        if b == 0:
            raise ArithError("division by zero")
        return _check(a / b)
    return _check(a + b if kind == "+" else a - b if kind == "-" else a * b)


def safe_eval(expr: str) -> float | None:
    """Value of ``expr`` as a float, or None if it is invalid; never raises, never hangs.

    The thing to remember: this is a whitelist, not a sandbox. ``**``, ``//``, names,
    exponent notation (``1e5``) and unicode digits are simply not in the language.

    >>> safe_eval("6/(1-3/4)")
    24.0
    >>> safe_eval("2**3") is None, safe_eval("1/0") is None, safe_eval("__import__('os')") is None
    (True, True, True)
    """
    try:
        return float(evaluate(parse(expr)))
    except (ArithError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


# ----- canonical form ---------------------------------------------------------------------


@dataclass(frozen=True)
class Canon:
    """A node of the normal form; a signed expression is the pair ``(sign, Canon)``.

    kind "n": a literal; "+": signed terms (each "n" or "*"); "*": factors with exponent
    +1/-1 (each "n" or "+"). Every node has value >= 0: signs live outside, in the pair.
    """

    kind: str
    items: tuple  # (sign_or_exp, Canon) pairs; () for a literal
    key: str  # the deterministic rendering; equal keys <=> equal normal forms
    value: Fraction


def _fmt(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    whole, rest = divmod(value.numerator, value.denominator)
    digits = []
    for _ in range(40):  # literals are finite decimals, so this ends
        if not rest:
            break
        rest *= 10
        digits.append(str(rest // value.denominator))
        rest %= value.denominator
    return f"{whole}." + "".join(digits)


def c_num(value) -> tuple[int, Canon]:
    """The signed normal form of a literal (value >= 0)."""
    value = Fraction(value)
    return 1, Canon("n", (), _fmt(value), value)


def c_neg(x: tuple[int, Canon]) -> tuple[int, Canon]:
    return -x[0], x[1]


def _wrap(node: Canon) -> str:
    return f"({node.key})" if node.kind == "+" else node.key


def _sum_key(pos: list[str], neg: list[str]) -> str:
    return "+".join(sorted(pos)) + "".join("-" + k for k in sorted(neg))


def c_add(x: tuple[int, Canon], y: tuple[int, Canon], sign: int = 1) -> tuple[int, Canon]:
    """Normal form of x + sign*y: flatten both into one signed multiset of terms."""

    def terms(s, n):
        return [(s * t, m) for t, m in n.items] if n.kind == "+" else [(s, n)]

    items = terms(*x) + terms(sign * y[0], y[1])
    value = x[0] * x[1].value + sign * y[0] * y[1].value
    if len(items) == 1:
        return items[0]
    pos = [m.key for s, m in items if s > 0]
    neg = [m.key for s, m in items if s < 0]
    # orient the sum so its value is >= 0 (sign pulled out); a zero sum breaks ties by text
    flip = value < 0 or (value == 0 and _sum_key(neg, pos) < _sum_key(pos, neg))
    if flip:
        items, pos, neg = [(-s, m) for s, m in items], neg, pos
    items = tuple(sorted(items, key=lambda it: (-it[0], it[1].key)))
    return (-1 if flip else 1), Canon("+", items, _sum_key(pos, neg), abs(value))


def c_mul(x: tuple[int, Canon], y: tuple[int, Canon], exp: int = 1) -> tuple[int, Canon]:
    """Normal form of x * y**exp (exp = +1 or -1): flatten into a multiset of factors."""
    if exp < 0 and y[1].value == 0:
        raise ArithError("division by zero")

    def factors(n, e=1):
        return [(e * f, m) for f, m in n.items] if n.kind == "*" else [(e, n)]

    items = factors(x[1]) + factors(y[1], exp)
    value = x[1].value * y[1].value if exp > 0 else x[1].value / y[1].value
    items = tuple(sorted(items, key=lambda it: (-it[0], _wrap(it[1]))))
    num = [_wrap(m) for e, m in items if e > 0]
    den = [_wrap(m) for e, m in items if e < 0]
    key = "*".join(num or ["1"]) + "".join("/" + k for k in den)
    return x[0] * y[0], Canon("*", items, key, value)


def render(x: tuple[int, Canon]) -> str:
    """The canonical string of a signed normal form (itself a valid expression)."""
    sign, node = x
    if sign > 0:
        return node.key
    if node.kind == "+":
        return _sum_key([m.key for s, m in node.items if s < 0], [m.key for s, m in node.items if s > 0])
    return "-" + node.key


def canon_tree(tree: tuple) -> tuple[int, Canon]:
    """Fold a parsed tree into its signed normal form."""
    kind = tree[0]
    if kind == "num":
        return c_num(tree[1])
    if kind == "neg":
        return c_neg(canon_tree(tree[1]))
    a, b = canon_tree(tree[1]), canon_tree(tree[2])
    if kind in "+-":
        return c_add(a, b, 1 if kind == "+" else -1)
    return c_mul(a, b, 1 if kind == "*" else -1)


def canonical(expr: str) -> str | None:
    """Normal form of ``expr`` up to commutativity and associativity, or None if invalid.

    Sums and differences flatten into a signed multiset of terms, products and quotients into
    a multiset of factors with exponent +1 or -1; children are sorted and rendered with
    minimal parentheses. Signs are pulled out of factors and every inner sum is oriented to
    be non-negative, so ``a-(b-c) == a+c-b`` and ``(2-7)*(3-5) == (7-2)*(5-3)``.

    What it does NOT identify (they count as different solutions): distributivity
    (``2*(a+b)`` vs ``2*a+2*b``), identities and cancellation (``x*1`` vs ``x``, ``x+0``,
    ``x-x`` vs ``0``, ``x/x`` vs ``1``, ``a*b/b`` vs ``a``), constant folding (``2+3``
    vs ``5``), and the sign of zero (``-0`` vs ``0``). Decimal literals are compared by
    value (``3.50`` is ``3.5``).

    >>> canonical("3+7*12") == canonical("12*7+3") == canonical("(7*12)+3")
    True
    >>> canonical("10-(4-3)"), canonical("2*(3+4)") == canonical("2*3+2*4")
    ('10+3-4', False)
    """
    try:
        tree = parse(expr)
        evaluate(tree)  # rejects division by zero and overflow before any normalising
        return render(canon_tree(tree))
    except (ArithError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
