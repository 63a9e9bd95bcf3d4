"""The shipped problem files, the one place Countdown and GSM8K problems are read from disk.

``dsnb/data/problems/countdown{3,4}.jsonl``: every row is ``{"split": "train" | "eval", "nums",
"target", "solutions"}``, where ``solutions`` is the exact solver's set of distinct correct
solutions (canonical forms), so every problem carries its *solution multiplicity*.
:func:`build_countdown_problems` enumerates them (deterministic: it rewrites the shipped files
bit for bit); :func:`is_heldout` fixes which instances are held out, for pretraining and RL alike.
``dsnb/data/gsm8k/test.jsonl``: the first 200 GSM8K test problems (MIT licence).

Rows load with ``datasets.load_dataset("json", data_files=...)`` as well; ``dsnb.tasks.registry``
turns them into prompts. stdlib only: no torch.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from fractions import Fraction
from functools import cache
from pathlib import Path

from dsnb import data as shipped
from dsnb.tasks.arith import render
from dsnb.tasks.math import extract_gsm8k_reference
from dsnb.tasks.solver import by_value, has_identity

SPLITS = ("train", "eval", "val")
"""What a loader accepts. "val" is carved from the *end* of the file's eval rows (the last n, in
reverse order), so the first eval rows, the ones every report uses, never change: a study picks
its settings on "val" and reports on "eval", disjoint while n_val + n_eval <= the eval rows."""


def read_jsonl(path) -> list[dict]:
    """The rows of a JSONL file, naming the file and line when one is not valid JSON."""
    rows = []
    with Path(path).open(encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}, line {i}: not valid JSON ({err.msg})") from err
    return rows


def write_jsonl(path, rows) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def is_heldout(nums, target) -> bool:
    """A fixed ~10% of all instances is reserved for evaluation: never pretrained or RL-trained on.

    >>> is_heldout([3, 7, 12], 33) == is_heldout([12, 3, 7], 33)   # the order of numbers does not matter
    True
    """
    key = f"{sorted(nums)}:{target}".encode()
    return int(hashlib.sha256(key).hexdigest(), 16) % 10 == 0


# ----------------------------------------------------------------------------- Countdown
WORLDS: dict[str, dict] = {
    # every solvable 3-number instance: few solutions each (the low-multiplicity contrast)
    "countdown3": dict(num_count=3),
    # 4 distinct numbers from 2..15 with >= 2 solutions (many solutions, a weak base model)
    "countdown4": dict(num_count=4),
    # the flagship multiplicity world: 4 distinct numbers from 2..10, targets 1..25, every
    # instance without identity variants, 1 solution or many; both splits ordered by how often a
    # random expression over the numbers hits the target (TinyZero draws targets that way), so the
    # first rows are the typical instances; all of them are kept.
    "countdown4m": dict(
        num_count=4,
        hi=10,
        max_target=25,
        min_solutions=1,
        identity_free=True,
        order="expression",
        n_train=10**6,
        n_eval=10**6,
    ),
}
"""How each Countdown problem file is built: :func:`build_countdown_problems` arguments."""


def problems_path(name: str) -> Path:
    """The shipped problem file of a Countdown world ("countdown3", "countdown4m", ...)."""
    if name not in WORLDS:
        raise ValueError(f"unknown Countdown world {name!r}; choose one of {sorted(WORLDS)}")
    return shipped.path("problems", f"{name}.jsonl")


def _random_steps(state: tuple[Fraction, ...]):
    """Every (pair, operation) a random expression can take next: (new state, probability)."""
    pairs = list(itertools.combinations(range(len(state)), 2))
    for i, j in pairs:
        a, b = state[i], state[j]
        rest = [state[k] for k in range(len(state)) if k not in (i, j)]
        for v in (a + b, a * b, a - b, b - a, a / b if b else None, b / a if a else None):
            if v is not None:
                yield tuple(sorted([*rest, v])), 1 / (6 * len(pairs))


@cache
def _value_distribution(state: tuple[Fraction, ...]) -> dict:
    if len(state) == 1:
        return {state[0]: 1.0}
    out: dict = {}
    for nxt, p in _random_steps(state):
        for v, q in _value_distribution(nxt).items():
            out[v] = out.get(v, 0.0) + p * q
    return out


def expression_weight(nums, target) -> float:
    """P(a random expression over `nums` equals `target`): combine a uniformly random pair with
    one of + * − (either way) ÷ (either way), until one number is left; TinyZero's generator
    draws targets this way, so targets reachable in many ways are the typical ones.

    >>> round(expression_weight([2, 3], 5), 4)        # 2+3 of 6 operations
    0.1667
    """
    state = tuple(sorted(Fraction(n) for n in nums))
    return _value_distribution(state).get(Fraction(target), 0.0)


def enumerate_instances(
    num_count: int,
    lo: int = 2,
    hi: int = 15,
    max_target: int = 100,
    min_solutions: int = 1,
    identity_free: bool = False,
):
    """Yield (sorted nums, target, [solver Expr, ...]) for EVERY instance: numbers from lo..hi
    (3 numbers: repeats allowed but the target may not equal one of them, which rules out
    identity variants such as 10*4/4 = 10; 4 numbers: distinct), an integer target 1..max_target
    and >= min_solutions distinct solutions. ``identity_free`` drops every instance that has an
    identity variant (``solver.has_identity``: x*(3-2), 15/(3-8/4)), "cheap" extra solutions."""
    pick = itertools.combinations_with_replacement if num_count == 3 else itertools.combinations
    for ms in pick(range(lo, hi + 1), num_count):
        for value, exprs in by_value(ms).items():
            if (
                value.denominator == 1
                and 1 <= value <= max_target
                and len(exprs) >= min_solutions
                and (num_count != 3 or int(value) not in ms)
                and not (identity_free and any(has_identity(e.text) for e in exprs))
            ):
                yield ms, int(value), exprs


def build_countdown_problems(
    num_count: int,
    n_train: int = 3000,
    n_eval: int = 500,
    min_solutions: int | None = None,
    lo: int = 2,
    hi: int = 15,
    max_target: int = 100,
    seed: int = 0,
    identity_free: bool = False,
    order: str = "shuffle",
) -> tuple[list[dict], list[dict]]:
    """Enumerate EVERY instance (:func:`enumerate_instances`), split by :func:`is_heldout`, order
    each split (seeded) and keep the first n_train and n_eval rows. ``order``: "shuffle"
    (uniform) or "expression" (weighted sampling without replacement by :func:`expression_weight`,
    which each row then carries as "weight")."""
    if order not in ("shuffle", "expression"):
        raise ValueError(f"order={order!r}: choose 'shuffle' or 'expression'")
    # 3-number instances with >= 2 solutions are rare (~400 in all), so countdown3 keeps every
    # solvable instance (few solutions each: the low-multiplicity regime); countdown4 keeps those
    # with >= 2 (the high-multiplicity regime).
    min_solutions = min_solutions or (1 if num_count == 3 else 2)
    rows: dict[str, list[dict]] = {"train": [], "eval": []}
    for ms, t, exprs in enumerate_instances(num_count, lo, hi, max_target, min_solutions, identity_free):
        row = {"nums": list(ms), "target": t, "solutions": sorted({render(e.form) for e in exprs})}
        if order == "expression":
            row["weight"] = round(expression_weight(ms, t), 8)
        rows["eval" if is_heldout(ms, t) else "train"].append(row)
    rng = random.Random(seed)
    for split in rows.values():
        if order == "shuffle":
            rng.shuffle(split)
        else:  # Efraimidis-Spirakis: key u^(1/w), largest first, is weighted sampling w/o replacement
            keys = {id(r): rng.random() ** (1 / r["weight"]) for r in split}
            split.sort(key=lambda r: keys[id(r)], reverse=True)
        for r in split:
            rng.shuffle(r["nums"])  # the order of numbers carries no hint
    return rows["train"][:n_train], rows["eval"][:n_eval]


def write_countdown_problems(name: str, **kw) -> Path:
    """(Re)write a world's shipped problem file from its recipe in :data:`WORLDS` (train and eval
    rows); keyword arguments override the recipe."""
    train, evl = build_countdown_problems(**{**WORLDS[name], **kw})
    rows = [{"split": split, **r} for split, part in (("train", train), ("eval", evl)) for r in part]
    return write_jsonl(problems_path(name), rows)


def countdown_rows(split: str, n: int | None, name: str = "countdown3") -> list[dict]:
    """The first `n` rows (None: all) of a split of a world's problem file (the same for every
    run); for "val", the last `n` eval rows, last first (see :data:`SPLITS`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    path = problems_path(name)
    if not path.exists():
        write_countdown_problems(name)
    rows = [r for r in read_jsonl(path) if r["split"] == ("eval" if split == "val" else split)]
    if n is not None and n > len(rows):
        raise ValueError(f"asked for {n} {split} problems but {path.name} has {len(rows)} {split} rows")
    rows = rows[::-1] if split == "val" else rows
    return rows if n is None else rows[:n]


# ----------------------------------------------------------------------------- GSM8K
def load_gsm8k(path=None, n: int | None = None) -> list[dict]:
    """GSM8K problems as dicts with question, answer (full solution) and reference (``#### N``).

    Defaults to the shipped 200-problem slice of the test split.
    """
    path = Path(path) if path else shipped.path("gsm8k", "test.jsonl")
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (it ships inside the dsnb package)")
    rows = read_jsonl(path)[:n]
    return [
        {"question": r["question"], "answer": r["answer"], "reference": extract_gsm8k_reference(r["answer"])}
        for r in rows
    ]
