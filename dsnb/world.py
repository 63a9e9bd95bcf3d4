"""Problem sets and grading for training and evaluation: Countdown (3 or 4 numbers) and GSM8K.

A :class:`Task` bundles where problems come from, the reward function (TRL contract
``fn(prompts, completions, **columns) -> list[float]``) and how to name a correct completion's
*solution* (so that distinct solutions can be counted). Used by ``dsnb.trainer``,
``dsnb.evaluate`` and the demo. Held-out evaluation problems never appear in training.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
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
def countdown_problems(split: str, n: int, seed: int = 0, template: str = "nano",
                       num_count: int = 3, min_solutions: int = 2, lo: int = 2, hi: int = 15):
    """`n` Countdown problems from the train or the held-out eval split (see nano.is_heldout)."""
    from dsnb.nano import is_heldout
    from dsnb.tasks import countdown
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    out, tries = [], 0
    want_heldout = split == "eval"
    while len(out) < n:
        batch = countdown.generate(max(64, 12 * (n - len(out))), num_count=num_count, lo=lo, hi=hi,
                                   seed=seed * 1000 + tries, min_solutions=min_solutions)
        seen = {(p.columns["target"], tuple(p.columns["nums"])) for p in out}
        for inst in batch:
            if is_heldout(inst.nums, inst.target) == want_heldout and (inst.target, tuple(inst.nums)) not in seen:
                sols = frozenset(countdown.canonical(s) for s in countdown.solve(inst.nums, inst.target))
                out.append(Problem(countdown.render_prompt(inst, template),
                                   {"nums": list(inst.nums), "target": inst.target}, sols))
                seen.add((inst.target, tuple(inst.nums)))
        tries += 1
        if tries > 50:
            raise RuntimeError(f"could not draw {n} {split} problems with >= {min_solutions} solutions")
    return out[:n]


def _countdown_key(completion, columns):
    from dsnb.tasks import countdown
    return countdown.solution_key(completion, columns["nums"], columns["target"])


def _countdown_reward(prompts, completions, **cols):
    from dsnb.tasks.rewards import countdown_reward
    return countdown_reward(prompts, completions, **cols)


def countdown_task(num_count: int, min_solutions: int = 2) -> Task:
    def load(split, n, seed=0, template="nano"):
        return countdown_problems(split, n, seed, template, num_count, min_solutions)
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
