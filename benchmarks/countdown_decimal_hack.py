"""How many shipped Countdown training problems can be "solved" by a decimal-point reward hack?

A hack answer writes a given number with a decimal point (``.5``, ``.05``) or joins two of
them into one decimal literal (``8.6`` from 8 and 6), then reaches the target. TinyZero's scorer
counts digit runs, so it sees every given number used once and pays 1.0; dsnb's strict rule
(the default) counts number tokens and pays 0.1. This script enumerates every such expression
for each 3-number problem (2 or 3 leaves, + - * /, every bracketing), keeps those within the
scorer's tolerance of the target, and scores them with ``dsnb.tasks.countdown.score`` under both rules.

    python benchmarks/countdown_decimal_hack.py               # 3-number train problems
    python benchmarks/countdown_decimal_hack.py --split eval --limit 100

Prints counts (no assertions); the test suite checks a slice of the same enumeration.
"""

from __future__ import annotations

import argparse
import itertools

from dsnb.tasks import countdown
from dsnb.tasks.data import countdown_rows


def single_forms(n: int) -> list[tuple[str, float, bool]]:
    """(text, value, is_decimal) for one given number: n, .n, .0n (``n.`` keeps the value: no hack)."""
    s = str(n)
    return [(s, float(n), False)] + [("." + "0" * z + s, n / 10 ** (len(s) + z), True) for z in range(2)]


def joined_forms(a: int, b: int) -> list[tuple[str, float, bool]]:
    """a.b and a.0b: two given numbers in one decimal literal."""
    return [(f"{a}.{'0' * z}{b}", float(f"{a}.{'0' * z}{b}"), True) for z in range(2)]


def _pair(x, y):
    """Every (text, value) of x op y and y op x."""
    (xt, xv), (yt, yv) = x, y
    out = [(f"({xt}+{yt})", xv + yv), (f"({xt}*{yt})", xv * yv)]
    out += [(f"({xt}-{yt})", xv - yv), (f"({yt}-{xt})", yv - xv)]
    if yv:
        out.append((f"({xt}/{yt})", xv / yv))
    if xv:
        out.append((f"({yt}/{xt})", yv / xv))
    return out


def trees(leaves):
    """Every (text, value) over 2 or 3 leaves (each used once), all ops and bracketings."""
    if len(leaves) == 2:
        return _pair(*leaves)
    out = []
    for i in range(3):
        rest = [leaves[j] for j in range(3) if j != i]
        for sub in _pair(*rest):
            out += _pair(leaves[i], sub)
    return out


def hacks(nums, target, joins_only: bool = False, tol: float = 1e-5):
    """Decimal-hack expressions within the scorer's tolerance of `target` (3 numbers)."""
    found = []
    layouts = []
    if not joins_only:
        for leaves in itertools.product(*[single_forms(n) for n in nums]):
            if any(d for _, _, d in leaves):
                layouts.append([(t, v) for t, v, _ in leaves])
    for i, j in itertools.permutations(range(len(nums)), 2):
        (k,) = [k for k in range(len(nums)) if k not in (i, j)]
        thirds = single_forms(nums[k]) if not joins_only else single_forms(nums[k])[:1]
        for jt, jv, _ in joined_forms(nums[i], nums[j]):
            for t, v, _ in thirds:
                layouts.append([(jt, jv), (t, v)])
    for leaves in layouts:
        found += [text for text, value in trees(leaves) if abs(value - target) < tol]
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train")
    ap.add_argument("--limit", type=int, default=None, help="only the first N problems")
    a = ap.parse_args()
    rows = countdown_rows(a.split, a.limit or (3000 if a.split == "train" else 500), 3)
    for joins_only in (True, False):
        counts = {"digit-run rule (old dsnb, TinyZero)": 0, "tinyzero_compat=True": 0, "strict (default)": 0}
        example = None
        for r in rows:
            found = sorted(hacks(r["nums"], r["target"], joins_only))
            wins_old = [
                h for h in found if countdown.score_expression(h, r["nums"], r["target"], True) == 1.0
            ]
            wins_tz = [
                h
                for h in found
                if countdown.score(f"<answer>{h}</answer>", r["nums"], r["target"], True) == 1.0
            ]
            wins_strict = [
                h for h in found if countdown.score(f"<answer>{h}</answer>", r["nums"], r["target"]) == 1.0
            ]
            counts["digit-run rule (old dsnb, TinyZero)"] += bool(wins_old)
            counts["tinyzero_compat=True"] += bool(wins_tz)
            counts["strict (default)"] += bool(wins_strict)
            if wins_tz and example is None:
                example = (r["nums"], r["target"], wins_tz[0])
        kind = (
            "two numbers joined by a decimal point" if joins_only else "any decimal form (.n, .0n, a.b, a.0b)"
        )
        print(f"3-number {a.split} problems: {len(rows)}; hacks = {kind}")
        for rule, c in counts.items():
            print(f"  solvable by the hack under {rule:<38} {c:5d}  ({c / len(rows):.1%})")
        if example:
            print(f"  e.g. nums {example[0]}, target {example[1]}: <answer>{example[2]}</answer>")


if __name__ == "__main__":
    main()
