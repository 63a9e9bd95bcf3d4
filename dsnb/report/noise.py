"""The noise rule of every report: 95% Student-t intervals, and when a difference counts.

A difference is called "better" or "worse" only when its 95% interval excludes zero; otherwise
it is "within noise". The study (``dsnb.study.stats``) applies it to paired differences on the
same problems, once over problems and once over seeds, and takes the wider interval; the theory
report applies it over seeds. Pure Python (no numpy, no torch), so every layer can use it.
"""

from __future__ import annotations

import math

# 97.5% quantiles of Student's t (two-sided 95% intervals), df = 1..30.
T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)
Z975 = 1.959964


def t95_series(df: int) -> float:
    """Cornish-Fisher expansion of the t quantile around the normal one (good for df >= 20).

    >>> round(t95_series(1000), 3)
    1.962
    """
    z = Z975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def t95(df: int) -> float:
    """97.5% quantile of Student's t with `df` degrees of freedom (table to 30, then a series).

    >>> t95(2), round(t95(149), 3)
    (4.303, 1.976)
    """
    if df < 1:
        raise ValueError("a t-interval needs at least two values (df >= 1)")
    return T95[df - 1] if df <= len(T95) else t95_series(df)


def interval(values) -> tuple[float, float]:
    """Mean and 95% t-interval half-width t95(m − 1)·sd/√m over m values (inf when m = 1:
    one value says nothing about its own spread).

    >>> mean, half = interval([1.0, 2.0, 3.0]); (mean, round(half, 4))   # 4.303 · 1/√3
    (2.0, 2.4843)
    >>> interval([0.5])
    (0.5, inf)
    """
    v = [float(x) for x in values]
    m = len(v)
    if m == 0:
        raise ValueError("interval of no values")
    mean = sum(v) / m
    if m < 2:
        return mean, math.inf
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (m - 1))
    return mean, t95(m - 1) * sd / math.sqrt(m)


def verdict(diff: float, half: float) -> str:
    """'better' / 'worse' when diff ± half excludes zero, else 'within noise'.

    >>> verdict(0.05, 0.02), verdict(-0.05, 0.02), verdict(0.05, 0.08), verdict(0.05, math.inf)
    ('better', 'worse', 'within noise', 'within noise')
    """
    if diff - half > 0:
        return "better"
    if diff + half < 0:
        return "worse"
    return "within noise"


def seed_words(n_seeds: int) -> str:
    """How a report says at what noise level a verdict was reached.

    >>> seed_words(1), seed_words(2), seed_words(3)
    ('1 seed (its spread is unknown)', '2 seeds', '3 seeds')
    """
    return "1 seed (its spread is unknown)" if n_seeds == 1 else f"{n_seeds} seeds"
