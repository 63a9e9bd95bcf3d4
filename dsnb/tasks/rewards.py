"""Reward functions with TRL's contract: ``fn(prompts, completions, **columns) -> list[float]``.

TRL's ``GRPOTrainer`` (and dsnb's own trainers) call each reward function with the batch of
prompts, the batch of completions, and every other dataset column as a keyword argument
holding a list aligned with the completions. A completion is a string (standard format) or
a list of message dicts (conversational format, ``[{"role": "assistant", "content": ...}]``).
TRL logs each function under its ``__name__`` (``rewards/countdown_reward/mean``).
"""

from __future__ import annotations

from dsnb.tasks import countdown
from dsnb.tasks.math import extract_gsm8k_reference, grade

__all__ = [
    "completion_text",
    "countdown_reward",
    "countdown_reward_tinyzero",
    "countdown_correct",
    "gsm8k_correct",
]


def completion_text(completion) -> str:
    """The text of a completion: a string as is, or the assistant contents of a message list.

    >>> completion_text([{"role": "assistant", "content": "<answer>1+2</answer>"}])
    '<answer>1+2</answer>'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, (list, tuple)):
        return ""
    messages = [m for m in completion if isinstance(m, dict)]
    if any(m.get("role") == "assistant" for m in messages):
        messages = [m for m in messages if m.get("role") == "assistant"]
    return "\n".join(_content(m.get("content")) for m in messages)


def _content(content) -> str:
    """The text of a message's content; anything that is not text (None, a number, an image
    part) contributes nothing, so a malformed message is a wrong answer, never an exception."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):  # multimodal parts: [{"type": "text", "text": ...}]
        parts = [p.get("text") if isinstance(p, dict) else p for p in content]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def _aligned(completions, **columns) -> None:
    for name, values in columns.items():
        if len(values) != len(completions):
            raise ValueError(
                f"column {name!r} has {len(values)} values for {len(completions)} "
                "completions; TRL repeats each column once per completion"
            )


def countdown_reward(prompts, completions, nums, target, tinyzero_compat: bool = False, **kw) -> list[float]:
    """[CD1] per completion: 0 (no answer tag), 0.1 (format) or 1.0 (correct).

    dsnb's strict rule; ``tinyzero_compat=True`` scores as TinyZero does (``dsnb.tasks.countdown``
    explains both). For TRL, pass :func:`countdown_reward_tinyzero` rather than a ``partial``:
    TRL logs a reward function under its ``__name__``.

    >>> countdown_reward(["p", "p"], ["<answer>3*7+12</answer>", "<answer>3+7</answer>"],
    ...                  nums=[[3, 7, 12]] * 2, target=[33, 33])
    [1.0, 0.1]
    """
    _aligned(completions, nums=nums, target=target)
    return [
        countdown.score(completion_text(c), n, t, tinyzero_compat)
        for c, n, t in zip(completions, nums, target)
    ]


def countdown_reward_tinyzero(prompts, completions, nums, target, **kw) -> list[float]:
    """[CD1] as TinyZero's ``countdown.py`` scores it (last line only, digit runs as numbers).

    >>> countdown_reward_tinyzero(["p"], ["<answer>5*8.6</answer>"], nums=[[6, 5, 8]], target=[43])
    [1.0]
    """
    return countdown_reward(prompts, completions, nums, target, tinyzero_compat=True)


def countdown_correct(prompts, completions, nums, target, tinyzero_compat: bool = False, **kw) -> list[float]:
    """The binary part of [CD1]: 1.0 when the answer reaches the target, else 0.0."""
    _aligned(completions, nums=nums, target=target)
    return [
        float(countdown.is_correct(completion_text(c), n, t, tinyzero_compat))
        for c, n, t in zip(completions, nums, target)
    ]


def gsm8k_correct(prompts, completions, answer, **kw) -> list[float]:
    """1.0 when the final answer equals the GSM8K reference, else 0.0.

    ``answer`` may hold full GSM8K solutions (ending in ``#### N``) or bare references.

    >>> gsm8k_correct(["q"], [[{"role": "assistant", "content": "\\\\boxed{18}"}]], answer=["... #### 18"])
    [1.0]
    """
    _aligned(completions, answer=answer)
    refs = [extract_gsm8k_reference(str(a)) if "####" in str(a) else str(a) for a in answer]
    return [float(grade(completion_text(c), r)) for c, r in zip(completions, refs)]
