"""Every exercise checker both ways: the teacher's solution (solutions/) passes, the blank template
and plausible wrong answers do not, and nothing a student hands in makes ``check`` raise.

Also: the notebooks' exercise cells, run with their blanks, all say "not yet"; every exercise is
in exactly one notebook and in docs/course.md; the worked example of notebook 03 is right.
"""

import ast
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dsnb import theory
from dsnb.exercises import REGISTRY, Result, catalog, check

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2, None)  # fixed random cases, and fresh ones


def _load(chapter: int):
    spec = importlib.util.spec_from_file_location(
        f"solutions_ch0{chapter}", ROOT / "solutions" / f"ch0{chapter}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOLUTIONS = {k: v for ch in range(1, 6) for k, v in _load(ch).SOLUTIONS.items()}


@pytest.fixture(scope="module")
def cross():
    """A small pass@k crossover run, like notebook 01's section 7 (its GRPO curve crosses the base)."""
    world = theory.shared_strategy_space(n_prompts=16, seed=0)
    ks = np.unique(np.geomspace(1, 1024, 21).astype(int))
    runs = {"grpo": {"method": "grpo"}}
    return theory.crossover_experiment(world, runs, steps=30, group_size=8, lr=0.5, seeds=(0, 1), ks=ks)


def answer_for(exercise_id, solution, cross):
    context = {"cross": cross} if REGISTRY[exercise_id].needs else {}
    return (solution(**context) if context else solution), context


# ---- the wrong answers a student plausibly writes, with (part of) the hint each must get ----------


def _grouped(r, g):
    return r.view(-1, g)


def _pop_std(r, g):
    x = _grouped(r, g)
    return ((x - x.mean(1, keepdim=True)) / (x.std(1, correction=0, keepdim=True) + 1e-4)).reshape(-1)


def _no_eps(r, g):
    x = _grouped(r, g)
    return ((x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)).reshape(-1)


def _grpo(r, g):
    x = _grouped(r, g)
    return ((x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-4)).reshape(-1)


def _ds(r, lp, g, gp, gn, sp=-1, sn=1, ok=None, detach=True):
    ok = (r == 1) if ok is None else ok
    lp = lp.detach() if detach else lp
    return _grpo(r, g) + torch.where(ok, sp * gp * lp, sn * gn * lp)


def _seq(lp, m, how, nan_safe=True, per_t=False):
    x = torch.where(m.bool(), lp, torch.zeros_like(lp)) if nan_safe else lp * m
    total = x.sum(-1)
    return total if how == "sum" else total / (lp.shape[-1] if per_t else m.sum(-1))


def _ppo(lp, old, a, lo, hi, sign=-1, pick=torch.minimum, detach=True, symmetric=False):
    ratio = torch.exp(lp - (old.detach() if detach else old))
    a = a.unsqueeze(1)
    return sign * pick(ratio * a, torch.clamp(ratio, 1 - lo, 1 + (lo if symmetric else hi)) * a)


def _normalise(x):
    w = np.exp(x - x.max())
    return w / w.sum()


WRONG = {
    "01.1": [
        ({"correct": "down", "incorrect": "up"}, "correct, incorrect"),
        ({"correct": "up", "incorrect": "up"}, "incorrect"),
        ({"correct": "same", "incorrect": "down"}, "correct"),
    ],
    "01.2": [
        (lambda p, c, i, j, lr: lr * (1 - np.sum(p * c)) * (p[i] - p[j]), "only when both are correct"),
        (lambda p, c, i, j, lr: lr * (p[i] * c[i] - p[j] * c[j]), "baseline J"),
        (lambda p, c, i, j, lr: np.log(p[i] / p[j]), None),  # the log-ratio itself, not its change
    ],
    "01.3": [
        (lambda p, g: g * p, "approximation"),
        (lambda p, g: (1 - p) ** g, "never"),
        (lambda p, g: 1 - p**g, "at least one"),
    ],
    "01.4": [(1, "further to the right"), (1024, "further to the left"), ("never", "does go below")],
    "02.1": [
        (lambda lp, c, b, g: np.exp((b * lp + c) / (b + g)), "normalise"),
        (lambda lp, c, b, g: _normalise((b + g) / b * lp + c / (b + g)), "upside down"),
        (lambda lp, c, b, g: _normalise(b / (b + g) * lp + c / b), "divided by beta + g"),
        (lambda lp, c, b, g: _normalise(lp + c / b), "vanilla"),
    ],
    "02.2": [
        (
            lambda lp, c, b, gp, gn: _normalise(np.where(c, 1 / b + (1 - gp / b) * lp, (1 - gn / b) * lp)),
            "incorrect set",
        ),
        (
            lambda lp, c, b, gp, gn: _normalise(np.where(c, (1 - gp / b) * lp, (1 + gn / b) * lp)),
            "e^(1/beta)",
        ),
        (
            lambda lp, c, b, gp, gn: _normalise(np.where(c, 1 / b + (1 - gn / b) * lp, (1 + gp / b) * lp)),
            "swapped",
        ),
    ],  # fmt: skip
    "02.3": [({"C": "up", "H_c": "up"}, "H_c"), ({"C": "down", "H_c": "same"}, "C")],
    "02.4": [({"C": "down", "H_c": "down"}, "C"), ({"C": "up", "H_c": "up"}, "H_c")],
    "03.1": [
        (_pop_std, "population std"),
        (lambda r, g: (_grouped(r, g) - _grouped(r, g).mean(1, keepdim=True)).reshape(-1), "Dr.GRPO"),
        (lambda r, g: (r - r.mean()) / (r.std() + 1e-4), "whole batch"),
        (_no_eps, "0/0 = nan"),
        (lambda r, g: -_grpo(r, g), "mean 0"),
    ],
    "03.2": [
        (lambda *a: _ds(*a, sp=1), "bonus"),
        (lambda *a: _ds(*a, sn=-1), "penalty"),
        (lambda r, *a: _ds(r, *a, ok=r > 0), "0.1"),
        (lambda *a: _ds(*a, detach=False), "detach"),
        (lambda r, lp, g, gp, gn: _grpo(r + torch.where(r == 1, -gp * lp, gn * lp), g), "after"),
        (lambda r, lp, g, gp, gn: _grpo(r, g) - gp * lp.detach(), "correct completions only"),
    ],
    "03.3": [({"DS3": [3], "DS4": [3]}, "DS3"), ({"DS3": [0, 1, 2, 3], "DS4": [0, 1, 2, 3]}, "DS4")],
    "03.4": [
        ({"direction": "up", "hardest": "rare"}, "direction"),
        ({"direction": "down", "hardest": 1}, "hardest"),
    ],
    "04.1": [
        (lambda lp, m, how: _seq(lp, m, how, nan_safe=False), "torch.where"),
        (lambda lp, m, how: _seq(lp, m, how, per_t=True), "real"),
        (lambda lp, m, how: _seq(lp, m, "sum"), "read `how`"),
    ],
    "04.2": [({"sum": "short", "mean": "short"}, "sum"), ({"sum": "long", "mean": "long"}, "mean")],
    "04.3": [
        (lambda *a: _ppo(*a, sign=1), "sign"),
        (lambda *a: _ppo(*a, pick=torch.maximum), "max instead of min"),
        (lambda *a: _ppo(*a, detach=False), "detach"),
        (lambda *a: _ppo(*a, symmetric=True), "eps_high"),
        (
            lambda lp, old, a, lo, hi: (
                -torch.clamp(torch.exp(lp - old.detach()), 1 - lo, 1 + hi) * a[:, None]
            ),
            "min",
        ),
    ],
    "05.1": [
        (lambda n, c, k: 1 - (1 - c / n) ** k, "biased"),
        (lambda n, c, k: math.comb(n - c, k) / math.comb(n, k), "1 minus"),
        (lambda n, c, k: 1 - math.comb(n - c + 1, k) / math.comb(n, k), None),
    ],
    "05.2": [
        (lambda n, c, ks: np.array([1 - (1 - np.mean(c / n)) ** k for k in ks]), "per problem, then average"),
        (
            lambda n, c, ks: np.array(
                [np.median([SOLUTIONS["05.1"](a, b, k) for a, b in zip(n, c)]) for k in ks]
            ),
            "median",
        ),
    ],  # fmt: skip
    "05.3": [
        ({"unbiased": "up", "biased": "up"}, "unbiased"),
        ({"unbiased": "same", "biased": "same"}, "biased"),
        ({"unbiased": "same", "biased": "down"}, "biased"),
    ],
}


def test_every_exercise_has_a_solution_and_wrong_answers():
    assert set(SOLUTIONS) == set(REGISTRY) == set(WRONG)
    assert all(len(w) >= 2 for w in WRONG.values())
    for notebook in ("01", "02", "03", "04", "05"):
        assert 2 <= sum(k.startswith(notebook) for k in REGISTRY) <= 4


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
@pytest.mark.parametrize("seed", SEEDS)
def test_the_solution_is_right(exercise_id, seed, cross):
    answer, context = answer_for(exercise_id, SOLUTIONS[exercise_id], cross)
    result = check(exercise_id, answer, seed=seed, **context)
    assert result.status == "right", str(result)
    assert result.right and not result.hint


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_the_blank_template_is_not_yet(exercise_id, cross):
    context = {"cross": cross} if REGISTRY[exercise_id].needs else {}
    for blank in (..., None):
        assert check(exercise_id, blank, **context).status == "not yet"
    if REGISTRY[exercise_id].kind == "function":

        def template(*args, **kwargs):
            """The notebook's template: a docstring and `...`."""
            ...

        def unwritten(*args, **kwargs):
            raise NotImplementedError

        assert check(exercise_id, template).status == "not yet"
        assert check(exercise_id, unwritten).status == "not yet"
    else:
        first = REGISTRY[exercise_id]
        if isinstance(SOLUTIONS[exercise_id], dict):  # a dict with one blank left is not yet
            half = dict(SOLUTIONS[exercise_id])
            half[next(iter(half))] = ...
            assert check(exercise_id, half, **context).status == "not yet", first.id


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
@pytest.mark.parametrize("seed", SEEDS)
def test_plausible_wrong_answers_are_wrong_with_a_pointed_hint(exercise_id, seed, cross):
    for answer, hint in WRONG[exercise_id]:
        context = {"cross": cross} if REGISTRY[exercise_id].needs else {}
        result = check(exercise_id, answer, seed=seed, **context)
        assert result.status == "wrong", f"{exercise_id}: accepted a wrong answer\n{result}"
        assert result.hint, f"{exercise_id}: a wrong answer got no hint"
        if hint is not None:
            assert hint in result.message + result.hint, (
                f"{exercise_id}: expected a hint about {hint!r}\n{result}"
            )


def test_a_wrong_answer_is_shown_with_its_input_and_output_but_not_the_expected_value():
    result = check("05.1", lambda n, c, k: 1 - (1 - c / n) ** k)  # first case: n = 4, c = 1, k = 2
    assert "n = 4, c = 1" in result.message and "0.4375" in result.message
    assert "0.5" not in result.message + result.hint  # the right pass@2 is 0.5
    ga = check("03.1", _pop_std)  # first case [1, 0, 0, 0 | 1, 1, 1, 1]: right A_0 = 1.5
    assert "1.5" not in ga.message and "1.732" in ga.message  # shows theirs (sqrt 3), not ours


HOSTILE = [
    lambda *a, **k: "a string",
    lambda *a, **k: {"a": 1},
    lambda *a, **k: 1 / 0,
    lambda *a, **k: np.zeros(3),
    lambda *a, **k: torch.zeros(2, 2, 2),
    lambda: 0,  # wrong arity
    lambda *a, **k: float("nan"),
    lambda *a, **k: (np.zeros(2), np.zeros(2)),  # like the library's (loss, clipped)
    lambda *a, **k: [[1.0], [2.0, 3.0]],  # ragged
    42,
    "up",
    {"correct": "sideways", "incorrect": "down"},
    {"C": 1},
    [1, 2, 3],
    {"DS3": "all", "DS4": None},
    {"direction": object(), "hardest": "rare"},
]


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_nothing_a_student_hands_in_makes_check_raise(exercise_id, cross):
    context = {"cross": cross} if REGISTRY[exercise_id].needs else {}
    for answer in HOSTILE:
        result = check(exercise_id, answer, seed=0, **context)
        assert isinstance(result, Result) and result.status in ("wrong", "not yet"), (answer, str(result))


def test_common_slips_get_a_specific_message():
    numpy_on_grad = check("03.2", lambda r, lp, g, gp, gn: torch.tensor(lp.numpy()))
    assert numpy_on_grad.status == "wrong" and ".detach()" in numpy_on_grad.hint
    assert "a single number" in check("05.1", lambda n, c, k: [0.5]).hint
    assert "tuple of 2" in check("04.3", lambda *a: (a[0], a[0])).message
    assert "(2, 4)" in check("03.1", lambda r, g: r.view(-1, g)).message


def test_reading_exercise_without_its_context_says_how_to_call_it():
    result = check("01.4", 8)
    assert result.status == "not yet" and "cross=cross" in result.message


def test_an_unknown_exercise_id_raises_with_the_list_of_ids():
    with pytest.raises(ValueError, match="03.1"):
        check("3.1", lambda r, g: r)


def test_results_render_as_a_coloured_box_in_a_notebook_and_as_text_elsewhere():
    good = check("05.1", SOLUTIONS["05.1"])
    bad = check("05.1", lambda n, c, k: 1 - (1 - c / n) ** k)
    blank = check("05.1", ...)
    boxes = [r._repr_html_() for r in (good, bad, blank)]
    assert "#2e7d32" in boxes[0] and "#c62828" in boxes[1] and "#8d6e00" in boxes[2]
    assert "Hint:" in boxes[1] and "Hint:" not in boxes[0]
    assert "...</code>" in boxes[2] and "<code style=" in boxes[2]  # backticks become code spans
    assert str(good).startswith("[05.1] ✓ RIGHT") and "Hint:" in str(bad) and "NOT YET" in str(blank)
    hostile = Result("05.1", "t", "wrong", "<script>alert(1)</script>", "a < b")
    assert "<script>" not in hostile._repr_html_() and "&lt;script&gt;" in hostile._repr_html_()


def test_import_dsnb_exercises_stays_light():
    code = "import sys, dsnb.exercises; print('torch' in sys.modules, 'plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# ---- the notebooks and the course page -----------------------------------------------------------

NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[1-5]_*.ipynb"))


def exercise_cells(path: Path) -> list[str]:
    """The code cells after the notebook's "## Exercises" heading."""
    cells = json.loads(path.read_text())["cells"]
    start = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Exercises"))
    return ["".join(c["source"]) for c in cells[start:] if c["cell_type"] == "code"]


def run_cell(source: str, namespace: dict):
    """exec a cell; return the value of its last expression, as IPython would display it."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_notebook_exercises_run_with_their_blanks_and_say_not_yet(path):
    namespace = {"cross": None}  # notebook 01's reading exercise reads the run of section 7
    results = [r for src in exercise_cells(path) if isinstance(r := run_cell(src, namespace), Result)]
    ids = sorted(r.exercise for r in results)
    assert ids == sorted(k for k in REGISTRY if k.startswith(path.name[:2]))
    assert all(r.status == "not yet" for r in results), [str(r) for r in results]


def test_every_exercise_is_in_the_course_page():
    page = (ROOT / "docs" / "course.md").read_text()
    missing = [k for k in catalog() if f"`{k}`" not in page]
    assert not missing, f"docs/course.md does not mention {missing}"


def test_the_worked_example_of_notebook_03_is_right():
    from dsnb.rl.advantages import ds_advantages, ds_score_advantages, group_advantages

    cells = json.loads((ROOT / "notebooks" / "03_live_ds_grpo_nano.ipynb").read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    r, lp = torch.tensor([1.0, 1.0, 1.0, 0.0]), torch.tensor([-1.0, -1.0, -4.0, -2.0])
    by_hand = {  # what the markdown computes by hand, and the library
        "(0.5, 0.5, 0.5, −1.5)": group_advantages(r, 4, eps=0.0),
        "(1.0, 1.0, 2.5, −2.0)": ds_advantages(r, lp, 4, 0.5, 0.25, eps=0.0),
        "(0.125, 0.125, 1.625, −1.875)": ds_score_advantages(r, lp, 4, 0.5, 0.25),
    }
    for written, computed in by_hand.items():
        assert written in text
        numbers = [float(x.replace("−", "-")) for x in written.strip("()").split(", ")]
        assert torch.allclose(computed, torch.tensor(numbers))
