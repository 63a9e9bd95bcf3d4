"""The dashboard's mini-evaluation: pass@k [PK1] on a small fixed held-out set, in chunks, so
that a Stop is heard between two chunks instead of after the whole evaluation.

Every chunk i samples with seed ``EVAL_SEED + i`` whichever model it evaluates (base, GRPO, DS):
common random numbers, so two curves differ by the models, not by luck. The chunking is fixed by
the settings (``LiveConfig.eval_chunk``), never by timing, so a curve is reproducible. A Stop
inside a chunk interrupts its sampling at the next token (``dsnb.dashboard.stopping``).
Used by ``dsnb.dashboard.run``.
"""

from __future__ import annotations

import contextlib

from dsnb.dashboard.stopping import StepInterrupted, interruptible
from dsnb.rl.evaluate import EvalResult, sample_and_grade

EVAL_SEED = 1234


def evals_left(step: int, total: int, every: int) -> int:
    """Mini-evaluations still to come after `step`: at every multiple of `every` up to `total`,
    and one at the end when `total` is not a multiple.

    >>> evals_left(0, 150, 25), evals_left(140, 150, 25), evals_left(10, 60, 25), evals_left(60, 60, 25)
    (6, 1, 3, 0)
    """
    if not every or step >= total:
        return 0
    return total // every - step // every + (total % every != 0)


def merge_results(parts: list[EvalResult]) -> EvalResult:
    """The chunks of one evaluation as one result, problems in order."""
    return EvalResult(
        parts[0].n,
        [x for p in parts for x in p.c],
        [x for p in parts for x in p.distinct],
        [x for p in parts for x in p.coverage],
        [x for p in parts for x in p.answer_entropy],
    )


def chunks(n_problems: int, n: int, chunk: int) -> list[slice]:
    """Problem slices of about `chunk` completions each (n samples per problem, >= 1 problem).

    >>> chunks(20, 16, 128)
    [slice(0, 8, None), slice(8, 16, None), slice(16, 20, None)]
    """
    per = max(1, chunk // n)
    return [slice(s, min(s + per, n_problems)) for s in range(0, n_problems, per)]


class MiniEval:
    """The held-out problems of a run and the sampling settings of its trainer."""

    def __init__(self, trainer, n_problems: int, n: int, chunk: int):
        self.task, self.cfg = trainer.task, trainer.cfg
        self.n, self.n_problems, self.chunk = n, n_problems, chunk
        self._problems = None  # loaded on first use (the thread, not the constructor)

    @property
    def problems(self):
        if self._problems is None:
            template = self.cfg.template or self.task.default_template
            self._problems = self.task.load("eval", self.n_problems, 0, template)
        return self._problems

    def curve(self, policy, adapter: bool = True, stopped=lambda: False, lock=None) -> list[float] | None:
        """pass@k for k = 1..n of `policy` (``adapter=False``: the base model), or None as soon
        as ``stopped()`` is true: checked between chunks and at every forward pass inside one
        (``dsnb.dashboard.stopping``). ``lock`` is held while the model works."""
        parts = []
        for i, part in enumerate(chunks(len(self.problems), self.n, self.chunk)):
            if stopped():
                return None
            try:
                with lock or contextlib.nullcontext(), interruptible(policy, stopped):
                    res = sample_and_grade(
                        policy,
                        self.task,
                        self.problems[part],
                        self.n,
                        self.cfg.temperature,
                        self.cfg.max_new_tokens,
                        EVAL_SEED + i,
                        adapter=adapter,
                        chunk=self.chunk + self.n,  # never split again inside
                    )
            except StepInterrupted:
                return None
            parts.append(res)
        return merge_results(parts).summary()["pass@k"]
