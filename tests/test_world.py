"""Problem sets: held-out problems never leak into training; shipped files match their recipe."""

import json

from dsnb.tasks import countdown
from dsnb.tasks.data import WORLDS, build_countdown_problems, is_heldout, problems_path
from dsnb.tasks.registry import get_task


def test_train_and_eval_problems_are_disjoint_and_respect_the_heldout_rule():
    for name in ("countdown3", "countdown4"):
        task = get_task(name)
        train = task.load("train", 300)
        evl = task.load("eval", 100)

        def key(p):
            return tuple(sorted(p.columns["nums"])), p.columns["target"]

        assert not {key(p) for p in train} & {key(p) for p in evl}
        assert all(is_heldout(*key(p)) for p in evl)
        assert not any(is_heldout(*key(p)) for p in train)


def test_every_listed_solution_is_correct_and_the_list_is_complete():
    """Second method: the shipped solution sets equal what the solver finds for each problem."""
    for p in get_task("countdown4").load("eval", 25):
        nums, target = p.columns["nums"], p.columns["target"]
        found = {
            countdown.solution_key(f"<answer>{s}</answer>", nums, target)
            for s in countdown.solve(nums, target)
        }
        assert found == set(p.solutions) and len(found) >= 2


def test_shipped_problem_files_are_reproduced_by_their_recipe():
    for k in (3,):  # 4 numbers: same code, ~1-2 minutes of enumeration; the 3-number case suffices
        train, evl = build_countdown_problems(**WORLDS[f"countdown{k}"])
        rows = [json.loads(x) for x in problems_path(f"countdown{k}").read_text().splitlines()]
        assert [r for r in rows if r["split"] == "train"] == [{"split": "train", **r} for r in train]
        assert [r for r in rows if r["split"] == "eval"] == [{"split": "eval", **r} for r in evl]


def test_three_number_problems_exclude_identity_variants():
    for p in get_task("countdown3").load("train", 500):
        assert p.columns["target"] not in p.columns["nums"]
