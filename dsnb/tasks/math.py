"""GSM8K-style grading: pull a final number out of text and compare it with the reference.

GSM8K references end with ``#### N``; models write ``\\boxed{N}``, ``#### N`` or just end
with the number. This module extracts the answer (boxed first, then ``####``, then the last
number), normalises it (commas, ``$``, units, ``\\frac``/``\\dfrac``, ``\\text{}``,
``\\left( \\right)``, percentages, trailing ``.0``) to an exact ``Fraction`` and compares.
Used by ``dsnb.tasks.rewards.gsm8k_correct`` and the GPU notebooks. As in the Unsloth GSM8K
notebooks, binary correctness is scored separately from any shaped format reward.
"""

from __future__ import annotations

import re
from fractions import Fraction

_SIGN = r"(?:(?<![\w)])[-+])?"  # a sign, unless it is a binary minus as in 10-4
_NUMBER = rf"{_SIGN}(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?|{_SIGN}\.\d+"
_LAST_NUMBER = re.compile(rf"(?:{_NUMBER})(?:\s*/\s*(?:\d+(?:\.\d+)?))?", re.ASCII)
_VALUE = re.compile(r"([-+]?)(\d+(?:\.\d*)?|\.\d+)(?:/(\d+(?:\.\d*)?|\.\d+))?", re.ASCII)
_LATEX_DROP = (
    r"\left",
    r"\right",
    r"\!",
    r"\,",
    r"\;",
    r"\:",
    r"\ ",
    r"\$",
    "$",
    r"\displaystyle",
    "^\\circ",
    "^{\\circ}",
    r"\%",
    "%",
    "\u2212",
)
_WRAPPED = re.compile(r"\\(?:text|mbox|mathrm|textbf|mathbf)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}|\\[dt]?frac\s*(\d)\s*(\d)")


def extract_gsm8k_reference(answer_text: str) -> str:
    """The reference answer of a GSM8K solution: the text after the last ``####``.

    Commas are removed (``2,125`` becomes ``2125``); other text is kept as written.

    >>> extract_gsm8k_reference("She makes 9 * 2 = $18.\\n#### 18")
    '18'
    """
    tail = answer_text.rsplit("####", 1)[-1].strip()
    return tail.replace(",", "")


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (nested braces allowed), or None.

    >>> extract_boxed(r"so \\boxed{1} then \\boxed{\\frac{3}{4}}")
    '\\\\frac{3}{4}'
    """
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = start + len("\\boxed")
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":  # "\boxed 5": the next token
        m = re.match(r"\s*(\S+)", text[i:])
        return m.group(1).rstrip(".$") if m else None
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j].strip()
    return None  # unbalanced


def _hash_answer(text: str) -> str | None:
    if "####" not in text:
        return None
    tail = text.rsplit("####", 1)[-1].strip()
    return tail.splitlines()[0].strip() if tail else None


def extract_model_answer(completion: str) -> str | None:
    """The model's final answer text: the last ``\\boxed{}``, else ``#### N``, else the last number.

    >>> extract_model_answer("3 + 4 = 7, so the answer is 7.")
    '7'
    >>> extract_model_answer("#### 1,000 dollars")
    '1,000 dollars'
    """
    if not isinstance(completion, str):
        return None
    for found in (extract_boxed(completion), _hash_answer(completion)):
        if found:
            return found
    numbers = _LAST_NUMBER.findall(completion)
    return numbers[-1] if numbers else None


def _strip_latex(s: str) -> str:
    for _ in range(3):  # \text{\textbf{5}} needs more than one pass
        s = _WRAPPED.sub(r"\1", s)
    s = _FRAC.sub(lambda m: f"({m.group(1) or m.group(3)})/({m.group(2) or m.group(4)})", s)
    for token in _LATEX_DROP:
        s = s.replace(token, "-" if token == "\u2212" else "")
    return s


def to_fraction(text: str) -> Fraction | None:
    """Exact value of a final-answer string, or None if it is not a single number.

    Accepts ``1,000``, ``$18``, ``18 dollars``, ``18.0``, ``-3``, ``3/4``, ``\\frac{3}{4}``,
    ``\\dfrac34``, ``50\\%``, ``\\text{18}``, ``x = 5``. A percentage is its number (50% is 50).
    A zero denominator (``5/0``, ``\\frac{1}{0}``) is no number: None, like any other non-answer.

    >>> to_fraction("$1,000.00"), to_fraction(r"\\dfrac{3}{4}"), to_fraction("12 eggs")
    (Fraction(1000, 1), Fraction(3, 4), Fraction(12, 1))
    """
    if not isinstance(text, str) or len(text) > 200:
        return None
    s = _strip_latex(text.strip())
    s = re.sub(r"^[A-Za-z]\s*=", "", s.strip())  # "x = 5"
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # thousands separators
    s = s.replace(" ", "").replace("{", "").replace("}", "")
    s = re.sub(r"\(([-+]?\d+(?:\.\d*)?)\)", r"\1", s)  # (3)/(4) from \frac, (18)
    s = re.sub(r"^\(([^()]*)\)$", r"\1", s)  # (3/4)
    m = _VALUE.match(s)
    if m is None or not re.fullmatch(r"[A-Za-z.]*", s[m.end() :]):  # allow units after
        return None
    sign, num, den = m.groups()
    divisor = Fraction(den) if den else Fraction(1)
    if divisor == 0:  # "5/0", \frac{1}{0}, "0/0": not a number, so a wrong answer (never an exception)
        return None
    value = Fraction(num) / divisor
    return -value if sign == "-" else value


def normalize_number(text: str) -> str | None:
    """Canonical string of a numeric answer ("18", "-3", "3/4"), or None.

    >>> normalize_number("18.0"), normalize_number("0.75"), normalize_number("lots")
    ('18', '3/4', None)
    """
    value = to_fraction(text) if text is not None else None
    return None if value is None else str(value)


def grade(completion: str, reference: str) -> bool:
    """True when the completion's final answer equals the reference exactly (as numbers).

    ``reference`` is the short answer (``extract_gsm8k_reference``); a full GSM8K solution
    with ``####`` also works. Non-numeric answers fall back to exact string comparison.

    >>> grade("so the total is \\\\boxed{2,125}", "2125"), grade("#### 19", "18")
    (True, False)
    """
    if not isinstance(reference, str) or not isinstance(completion, str):
        return False
    if "####" in reference:
        reference = extract_gsm8k_reference(reference)
    predicted = extract_model_answer(completion)
    if predicted is None:
        return False
    want, got = to_fraction(reference), to_fraction(predicted)
    if want is None or got is None:
        return predicted.strip() == reference.strip()
    return want == got
