"""Problem sets and grading for training and evaluation: Countdown (3 or 4 numbers) and GSM8K.

A :class:`Task` bundles where problems come from, the reward function (TRL contract
``fn(prompts, completions, **columns) -> list[float]``) and how to name a correct completion's
*solution* (so that distinct solutions can be counted). Used by ``dsnb.trainer``,
``dsnb.evaluate`` and the demo. Held-out evaluation problems never appear in training.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Problem:
    """One prompt with the columns its reward function needs."""
    prompt: object                       # a string, or a list of chat messages
    columns: dict                        # e.g. {"nums": [...], "target": 24} or {"answer": "18"}
    solutions: frozenset = field(default_factory=frozenset)  # canonical correct solutions, if known


@dataclass
class Task:
    name: str
    load: Callable[..., list[Problem]]   # load(split, n, seed, template) -> problems
    reward_fn: Callable                  # TRL contract
    key_fn: Callable                     # key_fn(completion, columns) -> canonical solution or None
    default_template: str


def grade(task: Task, problems: list[Problem], completions: list[str], group_size: int):
    """Rewards, binary correctness and solution keys for N = B*G completions (group by group).

    An exception inside the reward function is re-raised with the offending completion, so a
    bad grader never fails silently or anonymously.
    """
    rep = [p for p in problems for _ in range(group_size)]         # (N,) problem per completion
    cols = {k: [p.columns[k] for p in rep] for k in rep[0].columns}
    prompts = [p.prompt for p in rep]
    try:
        rewards = [float(r) for r in task.reward_fn(prompts, completions, **cols)]
    except Exception as err:
        for i, c in enumerate(completions):                           # find the culprit
            try:
                task.reward_fn(prompts[i:i + 1], [c], **{k: v[i:i + 1] for k, v in cols.items()})
            except Exception:
                raise RuntimeError(f"reward function {getattr(task.reward_fn, '__name__', '?')} "
                                   f"failed on completion {c!r}: {err!r}") from err
        raise
    correct = [r == 1.0 for r in rewards]
    keys = [task.key_fn(c, p.columns) if ok else None for c, p, ok in zip(completions, rep, correct)]
    return rewards, correct, keys


# ----------------------------------------------------------------------------- Countdown
def problems_path(num_count: int) -> Path:
    from dsnb.nano import data_dir
    return data_dir() / "problems" / f"countdown{num_count}.jsonl"


def build_countdown_problems(num_count: int, n_train: int = 3000, n_eval: int = 500,
                             min_solutions: int | None = None, lo: int = 2, hi: int = 15, max_target: int = 100,
                             seed: int = 0):
    """Enumerate EVERY instance (numbers from lo..hi, integer target 1..max_target) with
    >= min_solutions distinct solutions, split by nano.is_heldout, shuffle (seeded) and keep
    n_train + n_eval rows. Identity variants ("cheap" extra solutions such as x*4/4 or
    x*(3-2)) would inflate the diversity metrics, hence the rules on numbers and targets below."""
    import itertools
    from dsnb.nano import is_heldout
    from dsnb.tasks.arith import render
    from dsnb.tasks.solver import by_value
    # 3-number instances with >= 2 solutions are rare (~400 in all), so countdown3 keeps every
    # solvable instance (few solutions each: the low-multiplicity regime); countdown4 keeps those
    # with >= 2 (the high-multiplicity regime).
    min_solutions = min_solutions or (1 if num_count == 3 else 2)
    rows = {"train": [], "eval": []}
    # 3 numbers: repeats allowed but the target may not equal one of them (that alone rules out
    # identity variants such as 10*4/4 or 10*(3-2) = 10). 4 numbers: distinct numbers.
    pick = itertools.combinations_with_replacement if num_count == 3 else itertools.combinations
    for ms in pick(range(lo, hi + 1), num_count):
        for value, exprs in by_value(ms).items():
            if (value.denominator == 1 and 1 <= value <= max_target and len(exprs) >= min_solutions
                    and (num_count != 3 or int(value) not in ms)):
                t = int(value)
                rows["eval" if is_heldout(ms, t) else "train"].append(
                    {"nums": list(ms), "target": t, "solutions": sorted({render(e.form) for e in exprs})})
    rng = random.Random(seed)
    for split in rows:
        rng.shuffle(rows[split])
        for r in rows[split]:
            rng.shuffle(r["nums"])                     # the order of numbers carries no hint
    return rows["train"][:n_train], rows["eval"][:n_eval]


def write_countdown_problems(num_count: int, **kw):
    """Write data/nano/problems/countdown{3,4}.jsonl (train and eval rows, tagged by split)."""
    import json
    train, evl = build_countdown_problems(num_count, **kw)
    path = problems_path(num_count)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for split, rows in (("train", train), ("eval", evl)):
            for r in rows:
                f.write(json.dumps({"split": split, **r}) + "\n")
    return path


def countdown_problems(split: str, n: int, seed: int = 0, template: str = "nano", num_count: int = 3):
    """The first `n` problems of a split from the shipped file (train order is reshuffled by
    the trainer's own seeded RNG; eval problems are the same for every run and method)."""
    import json
    from dsnb.tasks import countdown
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    path = problems_path(num_count)
    if not path.exists():
        write_countdown_problems(num_count)
    rows = [r for r in map(json.loads, path.read_text().splitlines()) if r["split"] == split]
    if n > len(rows):
        raise ValueError(f"asked for {n} {split} problems but {path.name} has {len(rows)}")
    out = []
    for r in rows[:n]:
        inst = countdown.Instance(tuple(r["nums"]), r["target"])
        out.append(Problem(countdown.render_prompt(inst, template),
                           {"nums": list(inst.nums), "target": inst.target}, frozenset(r["solutions"])))
    return out


def _countdown_key(completion, columns):
    from dsnb.tasks import countdown
    return countdown.solution_key(completion, columns["nums"], columns["target"])


def _countdown_reward(prompts, completions, **cols):
    from dsnb.tasks.rewards import countdown_reward
    return countdown_reward(prompts, completions, **cols)


def countdown_task(num_count: int) -> Task:
    def load(split, n, seed=0, template="nano"):
        return countdown_problems(split, n, seed, template, num_count)
    return Task(f"countdown{num_count}", load, _countdown_reward, _countdown_key, "nano")


# ----------------------------------------------------------------------------- GSM8K
def gsm8k_problems(split: str, n: int, seed: int = 0, template: str = "chat"):
    """GSM8K problems from the slice shipped in data/gsm8k (its test split; 'train' and 'eval'
    are two disjoint halves of it). Chat template asks for the answer in \\boxed{}."""
    from dsnb.tasks.data import load_gsm8k
    rows = load_gsm8k()
    half = len(rows) // 2
    rows = rows[:half] if split == "train" else rows[half:]
    random.Random(seed).shuffle(rows)
    def prompt(q):
        text = f"{q}\nLet's think step by step and output the final answer within \\boxed{{}}."
        return [{"role": "user", "content": text}] if template == "chat" else text
    return [Problem(prompt(r["question"]), {"answer": r["reference"]}) for r in rows[:n]]


def _gsm8k_reward(prompts, completions, **cols):
    from dsnb.tasks.rewards import gsm8k_correct
    return gsm8k_correct(prompts, completions, **cols)


def _gsm8k_key(completion, columns):
    from dsnb.tasks.math import extract_model_answer
    return extract_model_answer(completion)


TASKS: dict[str, Callable[[], Task]] = {
    "countdown3": lambda: countdown_task(3),
    "countdown4": lambda: countdown_task(4),
    "gsm8k": lambda: Task("gsm8k", gsm8k_problems, _gsm8k_reward, _gsm8k_key, "chat"),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name]()
