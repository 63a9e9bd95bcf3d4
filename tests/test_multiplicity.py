"""The multiplicity dial: every evaluation is also reported per bucket of problems with 1, 2-3
or 4+ distinct solutions, and paired comparisons work per bucket unchanged."""

import math

import pytest

from dsnb.metrics import multiplicity_bucket
from dsnb.rl.evaluate import EvalResult, sample_and_grade
from dsnb.study.stats import in_bucket, paired, value


def test_summary_per_bucket_equals_the_hand_computed_means():
    res = EvalResult(
        n=2,
        c=[2, 0, 1, 1],
        distinct=[1, 0, 1, 2],
        coverage=[1.0, 0.0, 0.2, 0.4],
        answer_entropy=[0.0, 0.0, 0.0, 0.69],
        top_share=[1.0, math.nan, 1.0, 0.5],
        multiplicity=[1, 5, 3, 4],
    )
    s = res.summary()
    assert set(s["by_multiplicity"]) == {"1", "2-3", "4+"}
    four = s["by_multiplicity"]["4+"]
    assert four["problems"] == 2 and four["pass@1"] == pytest.approx((0 + 0.5) / 2)
    assert four["distinct_correct"] == pytest.approx(1.0) and four["top_share"] == pytest.approx(0.5)
    assert s["by_multiplicity"]["1"]["pass@2"] == 1.0
    assert s["pass@1"] == pytest.approx((1 + 0 + 0.5 + 0.5) / 4)  # the overall numbers stay


def test_problems_of_unknown_multiplicity_get_no_bucket():
    assert multiplicity_bucket(0) is None
    res = EvalResult(
        n=1, c=[1], distinct=[1], coverage=[math.nan], answer_entropy=[0.0], top_share=[1.0], multiplicity=[0]
    )
    assert "by_multiplicity" not in res.summary()


def rows(seed_values):
    """Two settings on the same 4 problems (multiplicities 1, 1, 4, 6): b beats a on the 4+ only."""

    def mk(s, name, c):
        return {
            "setting": name,
            "seed": s,
            "eval_n": 4,
            "eval_set": "E",
            "c": c,
            "distinct": [1, 1, 2, 2],
            "multiplicity": [1, 1, 4, 6],
        }

    a = [mk(s, "a", [2, 2, 0, 0]) for s in seed_values]
    b = [mk(s, "b", [2, 2, 3 + (s % 2), 3]) for s in seed_values]
    return a, b


def test_paired_comparisons_per_bucket():
    a, b = rows([0, 1, 2])
    four_a = [in_bucket(r, "4+") for r in a]
    four_b = [in_bucket(r, "4+") for r in b]
    p = paired(four_b, four_a, "pass@1")
    assert p.problems == 2 and p.diff == pytest.approx(
        (10 / 12 + 3 / 4) / 2
    )  # seeds 0-2: c = 3, 4, 3 and 3, 3, 3
    one = paired([in_bucket(r, "1") for r in b], [in_bucket(r, "1") for r in a], "pass@1")
    assert one.diff == 0.0 and one.verdict == "within noise"
    assert value(four_a[0], "pass@1") == 0.0
    with pytest.raises(ValueError, match="multiplicities"):
        in_bucket({"c": [1]}, "1")


def test_sampling_records_each_problems_solution_count(tiny_model_dir):
    from dsnb.rl.policy import Policy, PolicyConfig
    from dsnb.tasks.registry import get_task

    task = get_task("countdown4")
    problems = task.load("eval", 3)
    policy = Policy(PolicyConfig(model=tiny_model_dir, lora_r=4, lora_alpha=8))
    res = sample_and_grade(policy, task, problems, n=4, temperature=1.0, max_new_tokens=8, seed=0)
    assert res.multiplicity == [len(p.solutions) for p in problems] and min(res.multiplicity) >= 2
    assert len(res.top_share) == 3


def test_results_recorded_before_the_dial_get_multiplicities_only_when_their_problems_match(tmp_path):
    """fill_multiplicity: a first-edition row learns its problems' solution counts from the
    shipped problem file when its eval_set fingerprint proves the problems; otherwise nothing."""
    import json

    from dsnb.study.report import world_buckets
    from dsnb.study.stats import load_results, worlds
    from dsnb.tasks.registry import eval_set_id, get_task

    problems = get_task("countdown3").load("eval", 5, 0, "nano")
    good = {"kind": "base", "seed": None, "task": "countdown3", "model": "nano", "eval_n": 4, "c": [1] * 5}
    good |= {"eval_set": eval_set_id(problems), "distinct": [1] * 5, "template": "nano"}
    bad = {**good, "kind": "run", "setting": "x", "seed": 0, "eval_set": "not-these-problems"}
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in (good, bad)))
    base, run = load_results(tmp_path)
    assert base["multiplicity"] == [len(p.solutions) for p in problems]
    assert "multiplicity" not in run
    [world] = worlds([base, run]).values()
    assert "no per-problem multiplicities" in world_buckets(world)[0]  # said, not raised
