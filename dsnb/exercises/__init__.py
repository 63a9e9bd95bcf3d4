"""Exercises with checked answers for notebooks 01-05: ``check("03.1", my_function)``.

Each notebook ends with a few exercises: write the key piece (the group advantage [GRPO1], the DS
shaping term [DS3], the unbiased pass@k [PK1], an optimum [ENT1] [DS2], ...), or predict the sign
of a change before moving a slider, or read a number off a plot. One call checks it:

    from dsnb.exercises import check
    check("03.1", group_advantage)        # right / wrong + a hint / not yet

The checkers compare the answer with dsnb's own implementation on fixed and random cases and
never print the solution; the teacher's solutions live outside the package, in ``solutions/``
at the repository root. ``docs/course.md`` is the two-lecture plan that uses them.

- core: ``check``, ``Result`` (a coloured box in a notebook, text elsewhere), the registry
- theory: notebooks 01-02 (numpy, ``dsnb.theory``)
- training: notebooks 03-04 (``dsnb.rl.advantages``, ``dsnb.rl.loss``; torch imported inside)
- evaluation: notebook 05 (``dsnb.metrics``)

Importing this package is instant: numpy only (each checker imports what it checks).
"""

from dsnb.exercises import evaluation, theory, training  # noqa: F401  (they register the checkers)
from dsnb.exercises.core import REGISTRY, Result, check


def catalog() -> dict[str, str]:
    """{exercise id: title}, in order.

    >>> catalog()["03.2"]
    '[DS3] the DS-GRPO advantage'
    """
    return {k: REGISTRY[k].title for k in sorted(REGISTRY)}


__all__ = ["Result", "catalog", "check"]
