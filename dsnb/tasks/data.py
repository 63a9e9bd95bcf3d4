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
from pathlib import Path

from dsnb import data as shipped
from dsnb.tasks.arith import render
from dsnb.tasks.math import extract_gsm8k_reference
from dsnb.tasks.solver import by_value

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
def problems_path(num_count: int) -> Path:
    return shipped.path("problems", f"countdown{num_count}.jsonl")


def build_countdown_problems(
    num_count: int,
    n_train: int = 3000,
    n_eval: int = 500,
    min_solutions: int | None = None,
    lo: int = 2,
    hi: int = 15,
    max_target: int = 100,
    seed: int = 0,
) -> tuple[list[dict], list[dict]]:
    """Enumerate EVERY instance (numbers from lo..hi, integer target 1..max_target) with
    >= min_solutions distinct solutions, split by :func:`is_heldout`, shuffle (seeded) and keep
    n_train + n_eval rows. Identity variants ("cheap" extra solutions such as x*4/4 or
    x*(3-2)) would inflate the diversity metrics, hence the rules on numbers and targets below."""
    # 3-number instances with >= 2 solutions are rare (~400 in all), so countdown3 keeps every
    # solvable instance (few solutions each: the low-multiplicity regime); countdown4 keeps those
    # with >= 2 (the high-multiplicity regime).
    min_solutions = min_solutions or (1 if num_count == 3 else 2)
    rows: dict[str, list[dict]] = {"train": [], "eval": []}
    # 3 numbers: repeats allowed but the target may not equal one of them (that alone rules out
    # identity variants such as 10*4/4 or 10*(3-2) = 10). 4 numbers: distinct numbers.
    pick = itertools.combinations_with_replacement if num_count == 3 else itertools.combinations
    for ms in pick(range(lo, hi + 1), num_count):
        for value, exprs in by_value(ms).items():
            if (
                value.denominator == 1
                and 1 <= value <= max_target
                and len(exprs) >= min_solutions
                and (num_count != 3 or int(value) not in ms)
            ):
                t = int(value)
                rows["eval" if is_heldout(ms, t) else "train"].append(
                    {"nums": list(ms), "target": t, "solutions": sorted({render(e.form) for e in exprs})}
                )
    rng = random.Random(seed)
    for split in rows.values():
        rng.shuffle(split)
        for r in split:
            rng.shuffle(r["nums"])  # the order of numbers carries no hint
    return rows["train"][:n_train], rows["eval"][:n_eval]


def write_countdown_problems(num_count: int, **kw) -> Path:
    """(Re)write the shipped problem file of `num_count` numbers (train and eval rows)."""
    train, evl = build_countdown_problems(num_count, **kw)
    rows = [{"split": split, **r} for split, part in (("train", train), ("eval", evl)) for r in part]
    return write_jsonl(problems_path(num_count), rows)


def countdown_rows(split: str, n: int, num_count: int = 3) -> list[dict]:
    """The first `n` rows of a split of the shipped problem file (the same for every run); for
    "val", the last `n` eval rows, last first (see :data:`SPLITS`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    path = problems_path(num_count)
    if not path.exists():
        write_countdown_problems(num_count)
    rows = [r for r in read_jsonl(path) if r["split"] == ("eval" if split == "val" else split)]
    if n > len(rows):
        raise ValueError(f"asked for {n} {split} problems but {path.name} has {len(rows)} {split} rows")
    return rows[::-1][:n] if split == "val" else rows[:n]


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
