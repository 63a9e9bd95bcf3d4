"""Show the real source of a dsnb function in a notebook, instead of pasting it into a cell.

Notebooks call ``show_source(dsnb.theory.kl_optimum)``: the reader sees exactly the code that
runs, with its file and line, and the notebook never drifts from the library.
"""

from __future__ import annotations

import inspect
import pathlib


def source_text(obj) -> str:
    """The source of a function, class or module, headed by a comment with its file and line.

    >>> from dsnb.theory import correctness
    >>> source_text(correctness).splitlines()[0].startswith("# dsnb/theory/metrics.py, line ")
    True
    """
    try:
        lines, start = inspect.getsourcelines(obj)
        path = pathlib.Path(inspect.getsourcefile(obj)).resolve()
    except (TypeError, OSError) as err:
        raise ValueError(
            f"no Python source for {obj!r}: show_source works on functions, "
            "classes and modules defined in .py files (not builtins or lambdas "
            "typed into a notebook)"
        ) from err
    parts = path.parts
    rel = "/".join(parts[len(parts) - 1 - parts[::-1].index("dsnb") :]) if "dsnb" in parts else path.name
    return f"# {rel}, line {max(start, 1)}\n" + "".join(lines)


def show_source(obj):
    """Render the source of ``obj`` with syntax highlighting (an IPython ``Code`` object).

    Return it as the last expression of a cell (or ``display`` it); in a terminal its text
    prints as plain code.
    """
    from IPython.display import Code  # IPython comes with ipywidgets; imported only when used

    return Code(source_text(obj), language="python")
