"""Field checks the configs share: the right type, a finite number, inside its range.

``TrainConfig``, ``LossConfig`` and ``PolicyConfig`` call these in ``__post_init__``, so a bad
value fails at once, naming the field, the value and the reason, before any model loads. The
two traps they close: ``nan`` passes every comparison-based range check (``nan < 0`` and
``nan > 0`` are both False), and a string such as ``"30"`` for 30 fails only deep inside a
library. Integers and reals from numpy are accepted and stored as plain Python numbers (so
config.json stays plain JSON). No torch here.
"""

from __future__ import annotations

import math
import numbers


def _kind(value) -> str:
    return f"{value!r} (a {type(value).__name__})"


def need_int(obj, name: str, lo: int | None = None, hi: int | None = None, why: str = "") -> int:
    """``obj.name`` must be an integer in [lo, hi] (bool is not an integer here). Returns it.

    >>> class C: steps = "30"
    >>> need_int(C(), "steps", lo=1)
    Traceback (most recent call last):
    ValueError: steps must be an integer, got '30' (a str): write steps=30, not steps='30'
    """
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = f": write {name}={value}, not {name}={value!r}" if isinstance(value, str) else ""
        raise ValueError(f"{name} must be an integer, got {_kind(value)}{hint}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise ValueError(f"{name} must be {bounds} (got {value})" + (f": {why}" if why else ""))
    setattr(obj, name, value)
    return value


def need_number(
    obj,
    name: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    why: str = "",
) -> float:
    """``obj.name`` must be a finite real number in the range (open ends where asked). Returns it.

    >>> class C: lr = float("nan")
    >>> need_number(C(), "lr", lo=0, lo_open=True)
    Traceback (most recent call last):
    ValueError: lr must be a finite number, got nan
    """
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = f": write {name}={value}, not {name}={value!r}" if isinstance(value, str) else ""
        raise ValueError(f"{name} must be a number, got {_kind(value)}{hint}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    value = int(value) if isinstance(value, numbers.Integral) else float(value)
    low_bad = lo is not None and (value <= lo if lo_open else value < lo)
    high_bad = hi is not None and (value >= hi if hi_open else value > hi)
    if low_bad or high_bad:
        left = "" if lo is None else ("(" if lo_open else "[") + f"{lo:g}"
        right = "" if hi is None else f"{hi:g}" + (")" if hi_open else "]")
        if lo is not None and hi is not None:
            bounds = f"in {left}, {right}"
        elif lo is not None:
            bounds = f"{'>' if lo_open else '>='} {lo:g}"
        else:
            bounds = f"{'<' if hi_open else '<='} {hi:g}"
        raise ValueError(f"{name} must be {bounds} (got {value})" + (f": {why}" if why else ""))
    setattr(obj, name, value)
    return value


def need_bool(obj, name: str) -> bool:
    """``obj.name`` must be True or False (not "False", which is truthy)."""
    value = getattr(obj, name)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {_kind(value)}")
    return value


def need_str(obj, name: str, allowed=None, why: str = "", empty: bool = False) -> str:
    """``obj.name`` must be a string (non-empty unless ``empty``), one of ``allowed`` if given."""
    value = getattr(obj, name)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {_kind(value)}")
    if not empty and not value:
        raise ValueError(f"{name} must not be empty" + (f": {why}" if why else ""))
    if allowed is not None and value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {tuple(allowed)}" + (f": {why}" if why else ""))
    return value
