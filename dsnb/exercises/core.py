"""The machinery of the exercises: the registry, ``check``, the verdict a student sees.

A checker is a small function registered with :func:`exercise`. It receives the student's
answer (a function or a value) and a random generator, compares the answer with the library's
own implementation on fixed and random cases, and ends by calling :func:`right`, :func:`wrong`
or :func:`not_yet` (they raise a private exception that :func:`check` turns into a
:class:`Result`). Whatever the student's code does (returns None, raises, returns the wrong
shape), ``check`` answers with a Result and never raises; only an unknown exercise id raises,
since that is a typo in the notebook, not in the answer.

Never reveal the solution: messages name the failing *input*, what the student's answer gave,
and a hint about the idea, not the expected output.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

STATUSES = ("right", "wrong", "not yet")
_STYLE = {  # status -> (symbol, accent colour, background): readable on light and dark themes
    "right": ("✓", "#2e7d32", "#e8f5e9"),
    "wrong": ("✗", "#c62828", "#ffebee"),
    "not yet": ("…", "#8d6e00", "#fff8e1"),
}


@dataclass
class Result:
    """What ``check`` says about one answer: shown as a coloured box in a notebook, text elsewhere."""

    exercise: str
    """The exercise id, e.g. "03.1"."""
    title: str
    """What the exercise is about, with its NOTATION.md tag."""
    status: str
    """"right", "wrong" or "not yet" (the blank is still there)."""
    message: str
    """What was found, in a sentence or two (never the expected answer)."""
    hint: str = ""
    """Where to look next (empty when right)."""

    @property
    def right(self) -> bool:
        """True when the answer passed every case."""
        return self.status == "right"

    def __str__(self) -> str:
        symbol = _STYLE[self.status][0]
        text = f"[{self.exercise}] {symbol} {self.status.upper()} · {self.title}\n  {self.message}"
        return text + (f"\n  Hint: {self.hint}" if self.hint else "")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        symbol, accent, background = _STYLE[self.status]
        head = f"{symbol} Exercise {self.exercise}: {self.status}"
        hint = f'<div style="margin-top:6px"><b>Hint:</b> {_html(self.hint)}</div>' if self.hint else ""
        return (
            f'<div style="border-left:6px solid {accent};background:{background};color:#1a1a1a;'
            "padding:8px 12px;margin:6px 0;border-radius:4px;font-family:system-ui,sans-serif;"
            'font-size:14px;line-height:1.45;max-width:860px">'
            f'<div><b style="color:{accent}">{_html(head)}</b>'
            f' <span style="color:#555">· {_html(self.title)}</span></div>'
            f'<div style="margin-top:4px">{_html(self.message)}</div>{hint}</div>'
        )


def _html(text: str) -> str:
    """Escape; render `code` as <code> and *word* as <em> (messages are plain text)."""
    parts = html.escape(text).split("`")
    out = "".join(
        f"{_CODE}{p}</code>" if i % 2 else _EMPHASIS.sub(r"<em>\1</em>", p) for i, p in enumerate(parts)
    )
    return out.replace("\n", "<br>")


_CODE = '<code style="background:#0000000f;color:#1a1a1a;padding:0 3px;border-radius:3px">'  # any theme
_EMPHASIS = re.compile(r"\*([^*\s][^*]*?)\*")  # *word* in a message: emphasis


class _Verdict(Exception):
    """Raised by right / wrong / not_yet inside a checker; check() turns it into a Result."""

    def __init__(self, status: str, message: str, hint: str = ""):
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


def right(message: str = "every case matches the library."):
    """End a checker: the answer is right."""
    raise _Verdict("right", message)


def wrong(message: str, hint: str = ""):
    """End a checker: the answer is wrong; say what was found and where to look."""
    raise _Verdict("wrong", message, hint)


def not_yet(message: str, hint: str = ""):
    """End a checker: the blank is still there (or the answer is incomplete)."""
    raise _Verdict("not yet", message, hint)


@dataclass
class Exercise:
    """One registered exercise."""

    id: str
    """"NN.k": notebook NN, exercise k."""
    title: str
    """A few words and the NOTATION.md tag."""
    kind: str
    """"function" (the student writes a function) or "value" (a number, a sign, a dict of them)."""
    checker: Callable
    """checker(answer, rng, **context) -> ends with right() / wrong() / not_yet()."""
    needs: tuple = field(default_factory=tuple)
    """Names of notebook objects the checker needs passed as keywords, e.g. ("cross",)."""


REGISTRY: dict[str, Exercise] = {}


def exercise(id: str, title: str, kind: str, needs: tuple = ()):
    """Register the decorated checker as exercise ``id``."""
    if kind not in ("function", "value"):
        raise ValueError(f"kind={kind!r}: use 'function' or 'value'")

    def register(checker):
        if id in REGISTRY:
            raise ValueError(f"exercise {id} is registered twice")
        REGISTRY[id] = Exercise(id, title, kind, checker, tuple(needs))
        return checker

    return register


def is_blank(answer) -> bool:
    """The template's placeholder: ``...`` or None."""
    return answer is None or answer is Ellipsis


def check(exercise_id: str, answer, seed: int | None = None, **context) -> Result:
    """Check ``answer`` for exercise ``exercise_id``: right, wrong (with a hint) or not yet.

    ``answer`` is the function or value the exercise asks for; ``context`` the notebook objects
    a reading exercise needs (``cross=cross``). ``seed`` fixes the random cases (default: new
    ones every call). Never raises for anything the answer does.

    >>> check("05.1", ...).status
    'not yet'
    """
    if exercise_id not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"no exercise {exercise_id!r}; the exercises are {known}")
    ex = REGISTRY[exercise_id]
    try:
        if is_blank(answer):
            what = "write the function body" if ex.kind == "function" else "put your answer"
            not_yet(f"the blank is still there: {what} in place of the `...`, then run the cell again.")
        if ex.kind == "function" and not callable(answer):
            wrong(
                f"this exercise wants a function, got {type(answer).__name__}.",
                "pass the function itself (its name, no parentheses).",
            )
        missing = [name for name in ex.needs if context.get(name) is None]
        if missing:
            names = ", ".join(f"{n}={n}" for n in missing)
            not_yet(f"this exercise reads from the notebook: call check({exercise_id!r}, answer, {names}).")
        ex.checker(answer, np.random.default_rng(seed), **{n: context[n] for n in ex.needs})
    except _Verdict as v:
        return Result(ex.id, ex.title, v.status, v.message, v.hint)
    except Exception as err:  # an answer no checker foresaw: say so instead of crashing the cell
        return Result(
            ex.id,
            ex.title,
            "wrong",
            f"the checker could not use your answer ({type(err).__name__}: {err}).",
            "compare what your answer returns with what the exercise asks for (type and shape).",
        )
    raise AssertionError(f"the checker of {exercise_id} ended without a verdict")  # a bug in dsnb


# ---- helpers for checkers -------------------------------------------------------------------


def call(fn, *args, **kwargs):
    """Run the student's function; a blank body is "not yet", an exception is "wrong"."""
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        not_yet("your function still raises NotImplementedError: write its body.")
    except Exception as err:  # the student's bug: report it, do not crash the notebook
        hint = "run it by hand on a small input first."
        if "requires grad" in str(err):
            hint = "an input carries a gradient, as in training: `.detach()` it before `.numpy()`."
        wrong(f"your function raised {type(err).__name__}: {err}", hint)
    if out is None or out is Ellipsis:
        not_yet(
            "your function returns None: its body is still the `...` blank, or it has no `return` "
            "line yet. Write the body and end it with `return` and your result."
        )
    return out


def as_array(out, shape=None, what: str = "your function") -> np.ndarray:
    """The student's output as a float numpy array (from numpy, torch or a list), shape-checked."""
    if isinstance(out, tuple):
        wrong(
            f"{what} returned a tuple of {len(out)} items.", "return one result only (an array or a tensor)."
        )
    if hasattr(out, "detach"):  # a torch tensor; no torch import needed to recognise it
        out = out.detach().cpu().numpy()
    try:
        arr = np.asarray(out, dtype=float)
    except (TypeError, ValueError, RuntimeError):
        wrong(f"{what} returned {type(out).__name__}, not numbers.", "return an array (or a tensor).")
    if shape is not None and arr.shape != tuple(shape):
        hint = (
            "return a single number (a float)."
            if tuple(shape) == ()
            else "check the reshape at the end: the result has one value per row of the input."
        )
        wrong(f"{what} returned shape {arr.shape}, expected {tuple(shape)}.", hint)
    return arr


def close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """a ≈ b elementwise, where NaN never matches."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=False))


def diagnose(out: np.ndarray, mistakes, *args, **kwargs) -> str:
    """The hint of the first known mistake that reproduces ``out`` on these inputs, else ""."""
    for mistake, hint in mistakes:
        with np.errstate(all="ignore"):
            try:
                guess = as_array(mistake(*args, **kwargs))
            except Exception:  # a mistake that cannot even run on this input explains nothing
                continue
        if close(out, guess):
            return hint
    return ""


_SIGNS = {
    1: ("up", "↑", "+", "+1", "1", "increase", "increases", "rise", "rises", "higher", "more", "grows"),
    -1: (
        "down",
        "↓",
        "-",
        "-1",
        "decrease",
        "decreases",
        "fall",
        "falls",
        "lower",
        "less",
        "drops",
        "shrinks",
    ),
    0: ("same", "=", "0", "no change", "unchanged", "stays", "equal", "none", "stay"),
}


def sign_of(answer, key: str = "answer") -> int:
    """A student's sign as -1, 0 or +1: accepts "up"/"down"/"same", "+"/"-"/"0" or numbers."""
    if isinstance(answer, (int, float, np.integer, np.floating)) and not isinstance(answer, bool):
        return int(np.sign(answer))
    text = str(answer).strip().lower()
    for sign, words in _SIGNS.items():
        if text in words:
            return sign
    wrong(f"{key} = {answer!r} is not a direction.", "answer with 'up', 'down' or 'same'.")


def true_sign(delta: float, tol: float = 1e-9) -> int:
    """The sign of a change computed by the library, with exact-zero tolerance."""
    return 0 if abs(delta) <= tol else int(np.sign(delta))


WORD = {1: "up", -1: "down", 0: "same"}


def dict_answer(answer, keys) -> dict:
    """A dict answer with exactly ``keys``; blanks inside are "not yet"."""
    if not isinstance(answer, dict):
        wrong(f"this exercise wants a dict with keys {list(keys)}, got {type(answer).__name__}.")
    missing = [k for k in keys if k not in answer]
    if missing:
        wrong(f"your dict lacks the key(s) {missing}; it needs exactly {list(keys)}.")
    blank = [k for k in keys if is_blank(answer[k])]
    if blank:
        not_yet(f"fill in {' and '.join(map(str, blank))}: still `...`.")
    return answer
