"""Countdown, the paper's synthetic task, with TinyZero's prompt and reward conventions.

An instance is a few integers ``nums`` and a ``target``; an answer is an arithmetic expression
that uses every number exactly once, inside ``<answer>...</answer>``. This module holds the
instance type, a seeded generator, the prompt templates, answer extraction and the [CD1]
score (docs/method.md section 7; TinyZero's ``verl/utils/reward_score/countdown.py``).
Distinct solutions come from ``dsnb.tasks.solver``. Used by the nano world, the trainers and
the diversity notebooks.

Two scorers, one switch (``tinyzero_compat``, on :func:`score` and everything built on it):

- **dsnb's strict rule (default).** The numbers used are the number *tokens* of the answer, and
  each must be one of the given integers written as a plain integer. A decimal literal is never
  a use of a given number: for [6, 5, 8] and target 43, ``5*8.6`` joins 8 and 6 with a decimal
  point and scores 0.1 (TinyZero's digit-run rule counts 5, 8, 6 and gives it 1.0: a reward
  hack RL can find). The whole completion is searched for the last ``<answer>`` block.
- **TinyZero's rule** (``tinyzero_compat=True``, for comparing with TinyZero runs): its
  ``compute_score`` exactly, given the completion: only the LAST LINE of the completion is read
  (anything after the answer line, even a newline, scores 0), its last non-greedy
  ``<answer>(.*?)</answer>`` match is the answer, the numbers used are its digit runs
  (``\\d+``), and the answer must match its character class ``^[\\d+\\-*/().\\s]+$``.

Both evaluate with the whitelist parser of ``dsnb.tasks.arith``, never ``eval``: so ``**``,
``//`` and a unary ``+`` (which TinyZero's ``eval`` computes) fail to evaluate (0.1) in both.
TinyZero's "Assistant:" split is not needed: dsnb is given the completion, not prompt +
completion (TRL passes them separately).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

from dsnb.tasks.arith import ArithError, canonical, safe_eval, tokenize
from dsnb.tasks.solver import combine, leaf, solution_multiplicity, solve

__all__ = [
    "Instance",
    "generate",
    "random_expression",
    "solve",
    "solution_multiplicity",
    "TEMPLATES",
    "render_prompt",
    "extract_answer",
    "score",
    "is_correct",
    "solution_key",
    "score_expression",
    "numbers_used",
    "tinyzero_extract",
]

FORMAT_SCORE = 0.1  # well-formed answer that is not a correct solution
CORRECT_SCORE = 1.0
TOLERANCE = 1e-5  # |value - target| below this counts as equal (TinyZero)
_TZ_DIGITS = re.compile(r"\d+")  # TinyZero's number rule: digit runs (str pattern: any Unicode digit)
_TZ_ANSWER = re.compile(r"<answer>(.*?)</answer>")  # TinyZero's answer pattern, non-greedy
_TZ_ALLOWED = re.compile(r"^[\d+\-*/().\s]+$")  # TinyZero's character check before its eval


@dataclass(frozen=True)
class Instance:
    """One Countdown puzzle: reach ``target`` using each of ``nums`` exactly once."""

    nums: tuple[int, ...]
    """The numbers, in the order shown in the prompt."""
    target: int
    """The value the expression must reach."""

    def __post_init__(self):
        object.__setattr__(self, "nums", tuple(int(n) for n in self.nums))
        object.__setattr__(self, "target", int(self.target))
        if not self.nums:
            raise ValueError("a Countdown instance needs at least one number")

    def to_dict(self) -> dict:
        return {"nums": list(self.nums), "target": self.target}

    @classmethod
    def from_dict(cls, row: dict) -> Instance:
        return cls(tuple(row["nums"]), row["target"])

    @property
    def key(self) -> tuple:
        """Identity for de-duplication: the multiset of numbers and the target."""
        return tuple(sorted(self.nums)), self.target


# ----- prompts -----------------------------------------------------------------------------

_TASK = (
    "Using the numbers {numbers}, create an equation that equals {target}. You can use "
    "basic arithmetic operations (+, -, *, /) and each number can only be used once. "
    "Show your work in <think> </think> tags. And return the final answer in "
    "<answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>."
)
_PLAIN = (
    "A conversation between User and Assistant. The user asks a question, and the "
    "Assistant solves it. The assistant first thinks about the reasoning process in the "
    "mind and then provides the user with the answer.\nUser: "
    + _TASK
    + "\nAssistant: Let me solve this step by step.\n<think>"
)
_SYSTEM = (
    "You are a helpful assistant. You first think about the reasoning process in your "
    "mind and then provide the user with the answer."
)


def _plain(inst: Instance) -> str:
    """TinyZero's ``base`` template, verbatim (numbers shown as a Python list)."""
    return _PLAIN.format(numbers=list(inst.nums), target=inst.target)


def _chat(inst: Instance) -> list[dict]:
    """A system and a user message, for instruct models and ``apply_chat_template``."""
    user = _TASK.format(numbers=list(inst.nums), target=inst.target)
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def _nano(inst: Instance) -> str:
    """One compact line for the character-level nano model, e.g. ``3 7 12=33:``."""
    return f"{' '.join(map(str, inst.nums))}={inst.target}:"


TEMPLATES = {"plain": _plain, "chat": _chat, "nano": _nano}


def render_prompt(inst: Instance, template: str = "plain"):
    """The prompt for ``inst``: a string ("plain", "nano") or chat messages ("chat").

    >>> render_prompt(Instance((3, 7, 12), 33), "nano")
    '3 7 12=33:'
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; choose one of {sorted(TEMPLATES)}")
    return TEMPLATES[template](inst)


# ----- scoring -----------------------------------------------------------------------------


def extract_answer(completion: str) -> str | None:
    """Content of the LAST complete ``<answer>...</answer>`` block, stripped, or None.

    The block opens at the last ``<answer>`` that is followed by a ``</answer>`` and closes
    at the first ``</answer>`` after it, so it never contains a tag: in
    ``<answer>1<answer>2</answer>`` and in ``<answer><answer>2</answer></answer>`` the
    answer is ``2``, and a trailing unclosed ``<answer>`` is ignored.

    >>> extract_answer("<think>..</think><answer> 1+2 </answer> or <answer>3*1</answer>")
    '3*1'
    """
    if not isinstance(completion, str):
        return None
    last_close = completion.rfind("</answer>")
    start = completion.rfind("<answer>", 0, max(last_close, 0))
    if last_close < 0 or start < 0:
        return None
    end = completion.find("</answer>", start)
    return completion[start + len("<answer>") : end].strip()


def numbers_used(expr: str) -> list[int] | None:
    """The given-number uses of an answer (strict rule): its integer tokens, sorted; None when it
    holds a decimal literal or does not tokenize.

    A decimal point never joins or decorates a given number: ``8.6`` is not a use of 8 and 6,
    and ``.5`` or ``5.0`` is not a use of 5 (TinyZero's digit-run rule counts all of them).

    >>> numbers_used("(12 - 7) * 3"), numbers_used("5*8.6"), numbers_used("x+1")
    ([3, 7, 12], None, None)
    """
    try:
        tokens = tokenize(expr)
    except ArithError:
        return None
    literals = [t for t in tokens if t[0] in "0123456789."]
    if any("." in t for t in literals):
        return None
    return sorted(int(t) for t in literals)


def _tinyzero_numbers(expr: str) -> list[int] | None:
    """TinyZero's ``validate_equation`` numbers: every digit run, sorted (None where int() fails)."""
    try:
        return sorted(int(d) for d in _TZ_DIGITS.findall(expr))
    except ValueError:  # a digit run longer than Python's int-string limit: TinyZero's except
        return None


def score_expression(expr: str, nums, target, tinyzero_compat: bool = False) -> float:
    """[CD1] for a bare expression: 0.1 (wrong numbers, invalid or wrong value) or 1.0.

    >>> score_expression("5*8.6", [6, 5, 8], 43), score_expression("5*8.6", [6, 5, 8], 43, True)
    (0.1, 1.0)
    """
    if not isinstance(expr, str):
        return FORMAT_SCORE
    used = _tinyzero_numbers(expr) if tinyzero_compat else numbers_used(expr)
    if used is None or used != sorted(int(n) for n in nums):
        return FORMAT_SCORE
    if tinyzero_compat and not _TZ_ALLOWED.match(expr):
        return FORMAT_SCORE
    value = safe_eval(expr)
    if value is None:
        return FORMAT_SCORE
    return CORRECT_SCORE if abs(value - float(target)) < TOLERANCE else FORMAT_SCORE


def tinyzero_extract(completion: str) -> str | None:
    """TinyZero's ``extract_solution`` on a completion: the last ``<answer>(.*?)</answer>`` match
    of the completion's LAST LINE, stripped, or None.

    >>> tinyzero_extract("<answer>3*7+12</answer>"), tinyzero_extract("<answer>3*7+12</answer>\\n")
    ('3*7+12', None)
    """
    if not isinstance(completion, str):
        return None
    matches = list(_TZ_ANSWER.finditer(completion.split("\n")[-1]))
    return matches[-1].group(1).strip() if matches else None


def score(completion: str, nums, target, tinyzero_compat: bool = False) -> float:
    """[CD1] 0 without an answer tag; 0.1 for wrong numbers, no value or a wrong one; 1.0 if value = target.

    "Numbers used" are the number tokens of the answer (:func:`numbers_used`), compared as a
    sorted list with ``sorted(nums)``: each number exactly once, no extra ones, and no decimal
    literal. The thing a learner gets wrong: 0.1 is *not* partial credit for being close; it
    only rewards the format, and pass@k uses the binary part (``is_correct``). Pass the
    completion, not prompt + completion: the "plain" prompt itself contains an example
    ``<answer>`` block. ``tinyzero_compat=True`` scores exactly as TinyZero's ``countdown.py``
    (the module docstring lists the two differences).

    >>> score("<answer>3*7+12</answer>", [3, 7, 12], 33), score("<answer>3+7+12</answer>", [3, 7, 12], 33)
    (1.0, 0.1)
    >>> score("no tags: 3*7+12", [3, 7, 12], 33), score("<answer>3*7</answer>", [3, 7, 12], 33)
    (0.0, 0.1)
    >>> score("<answer>5*8.6</answer>", [6, 5, 8], 43)  # 8.6 is not a use of 8 and 6
    0.1
    >>> score("<answer>3*7+12</answer>\\n", [3, 7, 12], 33, tinyzero_compat=True)  # not the last line
    0.0
    """
    return _memo(_score, completion, nums, target, tinyzero_compat)


def _memo(fn, completion, nums, target, tinyzero_compat):
    """``fn`` through its cache when the arguments hash (a trained model repeats itself: most
    of a batch's completions were graded before), else directly. Pure functions: same result."""
    try:
        key = (completion, tuple(nums), target, bool(tinyzero_compat))
        hash(key)
    except TypeError:
        return fn.__wrapped__(completion, nums, target, tinyzero_compat)
    return fn(*key)


@lru_cache(maxsize=1 << 16)
def _score(completion, nums, target, tinyzero_compat):
    answer = tinyzero_extract(completion) if tinyzero_compat else extract_answer(completion)
    if answer is None:
        return 0.0
    return score_expression(answer, nums, target, tinyzero_compat)


def is_correct(completion: str, nums, target, tinyzero_compat: bool = False) -> bool:
    """The binary part of [CD1]: the answer uses the numbers once each and equals the target."""
    return score(completion, nums, target, tinyzero_compat) == CORRECT_SCORE


def solution_key(completion: str, nums, target, tinyzero_compat: bool = False) -> str | None:
    """Canonical form of a correct answer (same key = same solution), else None.

    >>> a = solution_key("<answer>12+7*3</answer>", [3, 7, 12], 33)
    >>> a == solution_key("<answer>(3*7)+12</answer>", [3, 7, 12], 33)
    True
    """
    return _memo(_solution_key, completion, nums, target, tinyzero_compat)


@lru_cache(maxsize=1 << 16)
def _solution_key(completion, nums, target, tinyzero_compat):
    if not is_correct(completion, nums, target, tinyzero_compat):
        return None
    return canonical(tinyzero_extract(completion) if tinyzero_compat else extract_answer(completion))


# ----- generation --------------------------------------------------------------------------


def random_expression(nums, rng: random.Random):
    """A random expression using every number once (random tree, random ops), or None.

    Returns the solver's ``Expr`` (``.text``, ``.value`` as a Fraction); None when the
    random tree divides by zero.
    """
    items = [leaf(int(n)) for n in nums]
    while len(items) > 1:
        i, j = rng.sample(range(len(items)), 2)
        e = combine(items[i], items[j], rng.choice("+-*/"))
        if e is None:
            return None
        items = [it for k, it in enumerate(items) if k not in (i, j)] + [e]
    return items[0]


def _draw_target(nums, rng: random.Random, max_target, tries: int = 30):
    for _ in range(tries):
        e = random_expression(nums, rng)
        if e is None or e.value.denominator != 1 or e.value < 1:
            continue
        if max_target is None or e.value <= max_target:
            return int(e.value)
    return None


STALL = 20_000
"""generate() gives up after this many draws in a row without a new instance (a clear error in
seconds, instead of 1000 x n draws when asked for more instances than the settings hold)."""


def generate(
    n: int,
    num_count: int = 3,
    lo: int = 2,
    hi: int = 15,
    seed: int = 0,
    min_solutions: int = 1,
    max_target: int | None = 100,
    exclude=(),
) -> list[Instance]:
    """``n`` distinct, seeded, solvable Countdown instances.

    Numbers are drawn uniformly from ``lo..hi`` with repetition (``lo = 2`` by default:
    the number 1 lets ``x*1`` and ``x/1`` fake extra solutions). The target is the value of
    a random expression over all the numbers, kept when it is a positive integer
    ``<= max_target`` (None: no cap; the default 100 keeps targets small enough for the
    nano model). Targets reachable in many ways are drawn more often, as in any
    "random expression" generator. Instances with fewer than ``min_solutions`` distinct
    solutions, duplicates (same multiset and target) and anything in ``exclude`` (e.g. an
    eval split) are skipped. Same arguments, same list.
    """
    if n < 0 or num_count < 2:
        raise ValueError("need n >= 0 and num_count >= 2 (one number is not a puzzle)")
    if not 1 <= lo <= hi:
        raise ValueError(f"need 1 <= lo <= hi, got lo={lo}, hi={hi}")
    if min_solutions < 1 or (max_target is not None and max_target < 1):
        raise ValueError("min_solutions and max_target must be >= 1 (targets are positive)")
    rng = random.Random(seed)
    seen = {inst.key for inst in exclude}
    out: list[Instance] = []
    misses = 0  # draws in a row that found nothing new: the space is exhausted
    for _ in range(1000 * n + 1000):
        if len(out) == n or misses == STALL:
            break
        misses += 1
        nums = tuple(rng.randint(lo, hi) for _ in range(num_count))
        target = _draw_target(nums, rng, max_target)
        inst = target and Instance(nums, target)
        if not inst or inst.key in seen:
            continue
        if min_solutions > 1 and solution_multiplicity(nums, target) < min_solutions:
            continue
        seen.add(inst.key)
        out.append(inst)
        misses = 0
    if len(out) < n:
        raise ValueError(
            f"found only {len(out)} of {n} instances (these settings seem to hold no more); "
            "widen lo..hi, raise max_target or lower min_solutions"
        )
    return out
