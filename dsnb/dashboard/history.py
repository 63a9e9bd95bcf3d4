"""What the dashboard keeps in a run directory besides the trainer's logs, and how it reads a run
back, so that a dashboard opened on an existing run (finished, stopped or crashed) shows itself.

    RUN/evaluations.jsonl   one row per mini-evaluation of this run: step, n, problems, pass@k
                            curve [PK1]; plus one row of the base model (model = "base")
    RUN/groups.jsonl        the first group of every step: prompt, G texts, rewards, correct, keys

Both are append-only, one JSON row with a "step" each (like metrics.jsonl), so resuming a run
trims them to the resumed step like every other log. Reading back keeps only rows at or before
the trainer's step, and the *last* row of a step wins (a run continued after a crash appends the
redone step after the discarded one). Runs without groups.jsonl (``dsnb demo``, older runs) fall
back to the few completions of samples.jsonl. No widgets here; used by ``dsnb.dashboard.run``.
"""

from __future__ import annotations

from dataclasses import dataclass

EVALS, GROUPS = "evaluations", "groups"


@dataclass
class Group:
    """One group of completions for the sample viewer (G entries each, or fewer when read from
    samples.jsonl, which logs only a few completions per step)."""

    step: int
    """The finished step that sampled it (the metrics row of the same number)."""
    prompt: str
    """The prompt, as text."""
    texts: list[str]
    """The completions."""
    rewards: list[float]
    """Their task rewards."""
    correct: list[bool]
    """Their binary correctness."""
    keys: list
    """Canonical solution per correct completion (None when wrong or unknown)."""
    of: int = 0
    """Group size G when only part of the group is known (0: the whole group)."""

    def to_row(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "of"}


def group_of(batch, group_size: int, step: int) -> Group:
    """The first group of a trainer's batch (``Trainer.last_batch``): completions 0..G-1."""
    prompt = batch.problems[0].prompt
    G = group_size
    return Group(
        step=step,
        prompt=prompt if isinstance(prompt, str) else str(prompt[-1]["content"]),
        texts=list(batch.rollout.texts[:G]),
        rewards=[float(r) for r in batch.grades.rewards[:G]],
        correct=[bool(c) for c in batch.grades.correct[:G]],
        keys=list(batch.grades.keys[:G]),
    )


def last_at_or_before(rows: list[dict], step: int) -> dict | None:
    """The row of the highest step <= `step` (of several rows of that step, the last in the file).

    >>> last_at_or_before([{"step": 1}, {"step": 3, "a": 1}, {"step": 2}, {"step": 3, "a": 2}], 3)
    {'step': 3, 'a': 2}
    >>> last_at_or_before([{"step": 5}], 4) is None
    True
    """
    best = None
    for row in rows:
        if row.get("step", 0) <= step and (best is None or row["step"] >= best["step"]):
            best = row
    return best


def eval_row(step: int, curve: list[float], n: int, problems: int, model: str = "policy") -> dict:
    """One row of evaluations.jsonl."""
    return {"step": step, "model": model, "n": n, "problems": problems, "pass@k": [float(x) for x in curve]}


def read_evals(run, step: int, n: int, problems: int) -> tuple[tuple[int, list] | None, list | None]:
    """((step, curve) of the last mini-evaluation at or before `step`, base curve) from a run
    directory, only rows made with the same n and number of problems (another setting draws
    another curve: it must not be mixed in)."""
    rows = [r for r in run.read(EVALS) if r.get("n") == n and r.get("problems") == problems]
    last = last_at_or_before([r for r in rows if r.get("model") == "policy"], step)
    base = next((r["pass@k"] for r in rows if r.get("model") == "base"), None)
    return ((last["step"], last["pass@k"]) if last else None), base


def read_group(run, step: int, group_size: int) -> Group | None:
    """The last logged group at or before `step`: from groups.jsonl, else the completions that
    samples.jsonl logged for that step (part of the group: ``of`` says how big it is)."""
    row = last_at_or_before(run.read(GROUPS), step)
    if row is not None:
        return Group(**row)
    samples = run.read("samples")
    last = last_at_or_before(samples, step)
    if last is None:
        return None
    part = [r for r in samples if r["step"] == last["step"] and r["prompt"] == last["prompt"]]
    part = part[-group_size:]  # a redone step was appended after the discarded one
    return Group(
        step=last["step"],
        prompt=str(last["prompt"]),
        texts=[r["completion"] for r in part],
        rewards=[float(r["reward"]) for r in part],
        correct=[bool(r["correct"]) for r in part],
        keys=[None] * len(part),
        of=group_size,
    )
