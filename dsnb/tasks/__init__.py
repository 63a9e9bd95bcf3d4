"""Tasks and rewards: Countdown (the paper's synthetic task) and GSM8K grading.

Pure Python (stdlib only), so ``import dsnb.tasks`` is instant and never touches torch.

- ``dsnb.tasks.arith``: a safe whitelist evaluator and the canonical form of an expression.
- ``dsnb.tasks.countdown``: instances, generator, prompt templates, the [CD1] score.
- ``dsnb.tasks.solver``: every distinct solution of an instance (its multiplicity).
- ``dsnb.tasks.math``: GSM8K answer extraction and grading.
- ``dsnb.tasks.rewards``: TRL-style reward functions ``fn(prompts, completions, **columns)``.
- ``dsnb.tasks.data``: the shipped problem files (Countdown with solution sets, a GSM8K slice).
- ``dsnb.tasks.registry``: ``Task``, ``Problem``, ``grade`` and the registry ``get_task(name)``.
"""

from dsnb.tasks import arith, countdown, data, math, registry, rewards, solver

__all__ = ["arith", "countdown", "data", "math", "registry", "rewards", "solver"]
