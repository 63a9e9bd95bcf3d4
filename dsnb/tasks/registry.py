"""The task registry: what a training run or an evaluation is *about*, and how it is graded.

A :class:`Task` bundles where its problems come from, the reward function (TRL contract
``fn(prompts, completions, **columns) -> list[float]``) and how to name a correct completion's
*solution* (so that distinct solutions can be counted). :func:`grade` turns N = B·G completions
into :class:`Grades`. Used by the trainer (``dsnb.rl.trainer``), the evaluator
(``dsnb.rl.evaluate``), the demo, the study and the TRL script. Held-out evaluation problems
never appear in training (``dsnb.tasks.data.is_heldout``). stdlib only: no torch.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from dsnb.tasks import countdown
from dsnb.tasks.data import countdown_rows, load_gsm8k
from dsnb.tasks.math import extract_model_answer
from dsnb.tasks.rewards import countdown_reward, countdown_reward_tinyzero, gsm8k_correct


@dataclass(frozen=True)
class Problem:
    """One prompt with the columns its reward function needs."""

    prompt: str | list[dict]
    """A string, or a list of chat messages (rendered by the model's chat template)."""
    columns: dict
    """The reward function's keyword columns, e.g. {"nums": [...], "target": 24} or {"answer": "18"}."""
    solutions: frozenset = field(default_factory=frozenset)
    """Canonical correct solutions, when an exact solver knows them (Countdown): its multiplicity."""


@dataclass
class Grades:
    """What grading N completions gives, one entry per completion (group by group)."""

    rewards: list[float]
    """The task reward (Countdown: 0, 0.1 format score, or 1)."""
    correct: list[bool]
    """Binary correctness (reward == 1): pass@k and DS use this, not the 0.1 format score."""
    keys: list[str | None]
    """The canonical solution of each correct completion (None when wrong)."""


@dataclass
class Task:
    name: str
    """Registry name ("countdown3", ...)."""
    load: Callable[..., list[Problem]]
    """load(split, n, seed, template) -> problems."""
    reward_fn: Callable
    """TRL contract: fn(prompts, completions, **columns) -> list[float]."""
    key_fn: Callable
    """key_fn(completion, columns) -> canonical solution or None."""
    default_template: str
    """Prompt template when a run names none ("nano" for Countdown, "chat" for GSM8K)."""
    templates: tuple[str, ...] = ()
    """Templates this task accepts (checked before any model loads)."""


def eval_set_id(problems: list[Problem]) -> str:
    """A fingerprint of a list of problems (their prompts, in order): paired comparisons check that
    both sides share it, and a figure that recovers per-problem facts checks it too."""
    text = json.dumps([p.prompt for p in problems], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def grade(task: Task, problems: list[Problem], completions: list[str], group_size: int) -> Grades:
    """Rewards, binary correctness and solution keys for N = B·G completions (group by group).

    An exception inside the reward function is re-raised with the offending completion, so a
    bad grader never fails silently or anonymously.
    """
    rep = [p for p in problems for _ in range(group_size)]  # (N,) problem per completion
    cols = {k: [p.columns[k] for p in rep] for k in rep[0].columns}
    prompts = [p.prompt for p in rep]
    try:
        rewards = [float(r) for r in task.reward_fn(prompts, completions, **cols)]
    except Exception as err:
        for i, c in enumerate(completions):  # find the culprit
            try:
                task.reward_fn(prompts[i : i + 1], [c], **{k: v[i : i + 1] for k, v in cols.items()})
            except Exception:
                raise RuntimeError(
                    f"reward function {getattr(task.reward_fn, '__name__', '?')} "
                    f"failed on completion {c!r}: {err!r}"
                ) from err
        raise
    correct = [r == 1.0 for r in rewards]
    keys = [task.key_fn(c, p.columns) if ok else None for c, p, ok in zip(completions, rep, correct)]
    return Grades(rewards, correct, keys)


# ----------------------------------------------------------------------------- Countdown
def countdown_problems(
    split: str, n: int, seed: int = 0, template: str = "nano", num_count: int = 3
) -> list[Problem]:
    """The first `n` problems of a split of the shipped file (train order is reshuffled by the
    trainer's own seeded RNG; eval problems are the same for every run and method)."""
    out = []
    for r in countdown_rows(split, n, num_count):
        inst = countdown.Instance(tuple(r["nums"]), r["target"])
        out.append(
            Problem(
                countdown.render_prompt(inst, template),
                {"nums": list(inst.nums), "target": inst.target},
                frozenset(r["solutions"]),
            )
        )
    return out


def _countdown_key(completion, columns):
    return countdown.solution_key(completion, columns["nums"], columns["target"])


def _countdown_key_tinyzero(completion, columns):
    return countdown.solution_key(completion, columns["nums"], columns["target"], tinyzero_compat=True)


def countdown_task(num_count: int, tinyzero_compat: bool = False) -> Task:
    """A Countdown task; ``tinyzero_compat`` grades with TinyZero's rule instead of dsnb's strict one."""

    def load(split, n, seed=0, template="nano"):
        return countdown_problems(split, n, seed, template, num_count)

    reward, key = (
        (countdown_reward_tinyzero, _countdown_key_tinyzero)
        if tinyzero_compat
        else (countdown_reward, _countdown_key)
    )
    return Task(f"countdown{num_count}", load, reward, key, "nano", tuple(countdown.TEMPLATES))


# ----------------------------------------------------------------------------- GSM8K
GSM8K_TEMPLATES = ("chat", "plain")


def gsm8k_problems(split: str, n: int, seed: int = 0, template: str = "chat") -> list[Problem]:
    """GSM8K problems from the shipped slice (its test split; 'train' and 'eval' are two
    disjoint halves of it; no 'val'). The prompt asks for the answer in \\boxed{}."""
    if split not in ("train", "eval"):
        raise ValueError(
            f"split={split!r}: the 200-problem GSM8K slice has only 'train' and 'eval' halves "
            "(a validation split would shrink the eval half that results were reported on)"
        )
    rows = load_gsm8k()
    half = len(rows) // 2
    rows = rows[:half] if split == "train" else rows[half:]
    random.Random(seed).shuffle(rows)

    def prompt(q):
        text = f"{q}\nLet's think step by step and output the final answer within \\boxed{{}}."
        return [{"role": "user", "content": text}] if template == "chat" else text

    return [Problem(prompt(r["question"]), {"answer": r["reference"]}) for r in rows[:n]]


def _gsm8k_key(completion, columns):
    return extract_model_answer(completion)


TASKS: dict[str, Callable[..., Task]] = {
    "countdown3": lambda **kw: countdown_task(3, **kw),
    "countdown4": lambda **kw: countdown_task(4, **kw),
    "gsm8k": lambda: Task("gsm8k", gsm8k_problems, gsm8k_correct, _gsm8k_key, "chat", GSM8K_TEMPLATES),
}


def get_task(name: str, tinyzero_compat: bool = False) -> Task:
    """The task called `name`; ``tinyzero_compat`` switches Countdown to TinyZero's scorer."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    if not tinyzero_compat:
        return TASKS[name]()
    if not name.startswith("countdown"):
        raise ValueError(f"tinyzero_compat is a Countdown switch (TinyZero's scorer); task {name!r} has none")
    return TASKS[name](tinyzero_compat=True)
